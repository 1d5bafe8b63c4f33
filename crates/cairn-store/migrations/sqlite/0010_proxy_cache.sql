-- What proxy repositories have cached from their upstreams: one row per
-- cached object (a metadata document or a file), naming its bytes by digest
-- in the shared content-addressed blob store, with the validators that
-- revalidate it conditionally. A row with status 404 is a negative entry:
-- the upstream said the object does not exist (never written for failures).
CREATE TABLE proxy_cache (
    repository TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    status BIGINT NOT NULL,
    digest TEXT,
    size BIGINT NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL DEFAULT '',
    etag TEXT,
    last_modified TEXT,
    fetched_at BIGINT NOT NULL,
    checked_at BIGINT NOT NULL,
    PRIMARY KEY (repository, cache_key)
);
CREATE INDEX proxy_cache_digest ON proxy_cache (digest);
