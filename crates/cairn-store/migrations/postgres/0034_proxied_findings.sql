-- Version 34: what proxy repositories cached, for findings reports.
--
-- SBOMs of proxied images: a proxy repository under a vulnerability policy
-- indexes the upstream's SBOMs of a manifest it serves; such an SBOM hangs
-- on the proxy cache entry of that manifest (its repository and key)
-- instead of a stored manifest: it is found only while the entry exists
-- and forgotten with it. The time of that check is kept beside the
-- signature checks, in proxied_signature_checks under trust_version 'sbom'.
ALTER TABLE sboms ADD COLUMN cache_repository TEXT;
ALTER TABLE sboms ADD COLUMN cache_key TEXT;
CREATE INDEX sboms_cache_entry ON sboms (cache_repository, cache_key);

-- Package versions served from proxy repositories: one row per cached file
-- (a version can have several), listed by findings reports while the
-- file's cache entry exists, forgotten with it.
CREATE TABLE proxied_versions (
    cache_repository  TEXT NOT NULL,
    cache_key         TEXT NOT NULL,
    format            TEXT NOT NULL,
    repository        TEXT NOT NULL,
    package           TEXT NOT NULL,
    version           TEXT NOT NULL,
    PRIMARY KEY (cache_repository, cache_key)
);
CREATE INDEX proxied_versions_package ON proxied_versions (format, package);
CREATE INDEX proxied_versions_lower ON proxied_versions (format, lower(package));
CREATE INDEX proxied_versions_repository ON proxied_versions (format, repository);

-- Package SBOMs now count in the storage numbers: the kept sums are
-- rebuilt from the references when a store first opens on this version.
DELETE FROM settings WHERE key = 'usage_built';

-- A Go module's namespace is indexed lowercased in advisories and SBOMs:
-- hosted module paths are found from an advisory's name without case.
CREATE INDEX package_versions_lower ON package_versions (format, lower(package));
