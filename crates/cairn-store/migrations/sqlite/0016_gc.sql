-- Garbage collection, version 16. `blobs` has one row per blob in the blob
-- store: the row that a write making the blob referenced and the
-- collector's delete of it serialise on.
--   live       referenced, or believed to be: writers do not touch it
--   candidate  maybe unreferenced since `candidate_at` (an event said so, or
--              it was just uploaded); a writer that references it sets it
--              live again, a writer that links it renews `candidate_at`
--   deleting   the collector found it unreferenced and is removing the
--              object; writers meet this and tell the client to upload again
-- `horizon` (PostgreSQL): the transaction id after which every writer sees
-- the candidate mark; the collector decides a candidate only once every
-- older transaction has ended.
CREATE TABLE blobs (
    digest TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    state TEXT NOT NULL,
    candidate_at BIGINT,
    horizon BIGINT
);
CREATE INDEX blobs_state ON blobs (state, candidate_at);

INSERT INTO blobs (digest, size, state)
SELECT digest, MAX(size), 'live' FROM (
    SELECT digest, size FROM blob_links
    UNION ALL SELECT digest, size FROM manifests
    UNION ALL SELECT digest, size FROM package_files
    UNION ALL SELECT digest, size FROM proxy_cache WHERE digest IS NOT NULL
) refs GROUP BY digest;

-- What each manifest refers to (config, layers, an index's children), so
-- that the collector can tell whether a blob is still used. Manifests
-- stored before this version are indexed by the collector's first run
-- (refs_indexed = 0 until then).
CREATE TABLE manifest_blobs (
    repository TEXT NOT NULL,
    manifest TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (repository, manifest, digest)
);
CREATE INDEX manifest_blobs_digest ON manifest_blobs (digest);
-- The collector asks "does anything still use this digest?" of each table.
CREATE INDEX manifests_digest ON manifests (digest);
CREATE INDEX package_files_digest ON package_files (digest);
ALTER TABLE manifests ADD COLUMN refs_indexed BIGINT NOT NULL DEFAULT 0;

-- When an upload session last received bytes, for upload expiry.
ALTER TABLE uploads ADD COLUMN touched_at BIGINT NOT NULL DEFAULT 0;
UPDATE uploads SET touched_at = created_at;
