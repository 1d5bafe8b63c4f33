-- When cairn first saw each version of a proxied module or artifact whose
-- upstream gives no publish time (Go, Maven): what a virtual repository's
-- cooldown measures age from. The versions of the first listing cairn saw
-- are recorded at 0 (already published before cairn watched): only versions
-- that appear later are young.
CREATE TABLE proxy_versions_seen (
    repository TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    version TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (repository, cache_key, version)
);
