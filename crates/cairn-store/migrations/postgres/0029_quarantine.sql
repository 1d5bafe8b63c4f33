-- Version 29: bytes held back. A publish that carries a secret into a
-- repository that quarantines instead of refusing is stored, but its bytes
-- (by digest, wherever they are referenced) are not served until an
-- administrator releases them.
CREATE TABLE quarantined_blobs (
    digest      TEXT PRIMARY KEY,
    repository  TEXT NOT NULL,
    what        TEXT NOT NULL,
    findings    TEXT NOT NULL,
    actor       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
