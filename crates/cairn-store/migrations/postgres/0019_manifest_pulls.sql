-- Version 19: when a manifest was last pulled (by tag or by digest), for
-- retention policies ("pushed or pulled within N days"). Written at most
-- once an hour per manifest per replica.
ALTER TABLE manifests ADD COLUMN pulled_at BIGINT;
