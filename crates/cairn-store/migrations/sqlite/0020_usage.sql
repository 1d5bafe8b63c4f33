-- Version 20: storage numbers kept as writes happen, and quotas.
--
-- scope_blobs says which blobs each scope references: every repository
-- (an OCI repository, `npm/main`, a proxy's name) and every namespace above
-- it (each prefix ending in '/', and '' for the registry). A row is added by
-- the write that first references the blob in the scope and removed by the
-- event that drops the scope's last reference, in their transactions.
-- scope_usage carries each scope's sums, changed with those rows: unique
-- bytes (its distinct blobs), logical bytes (each blob once per repository
-- under it) and its blob count. Rows are filled from the references the
-- first time a store opens on this version (the setting usage_built).
CREATE TABLE scope_blobs (
    scope TEXT NOT NULL,
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (scope, digest)
);
CREATE INDEX scope_blobs_digest ON scope_blobs (digest);
CREATE TABLE scope_usage (
    scope TEXT PRIMARY KEY,
    logical BIGINT NOT NULL DEFAULT 0,
    unique_bytes BIGINT NOT NULL DEFAULT 0,
    blobs BIGINT NOT NULL DEFAULT 0
);
-- A quota limits a scope's unique bytes; a write that would take a scope
-- past it is refused in its transaction.
CREATE TABLE quotas (
    scope TEXT PRIMARY KEY,
    max_unique_bytes BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
