-- Version 32: cairn's own publish attestations. Each file a publish
-- stored gets an in-toto statement (who published it, with which
-- credential, when) signed with the registry's key, kept as a Sigstore
-- bundle. Written after the publish commits; never changed; kept with the
-- version's tombstone (what was once published stays attested).
CREATE TABLE publish_attestations (
    format      TEXT NOT NULL,
    repository  TEXT NOT NULL,
    package     TEXT NOT NULL,
    version     TEXT NOT NULL,
    filename    TEXT NOT NULL,
    digest      TEXT NOT NULL,
    bundle      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (format, repository, package, version, filename)
);
CREATE INDEX publish_attestations_digest ON publish_attestations (digest);
