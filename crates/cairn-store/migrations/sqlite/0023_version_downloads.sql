-- Version 23: when a package version's file was last downloaded, for
-- retention policies ("published or downloaded within N days"). Written at
-- most once an hour per version and replica.
ALTER TABLE package_versions ADD COLUMN downloaded_at BIGINT;
