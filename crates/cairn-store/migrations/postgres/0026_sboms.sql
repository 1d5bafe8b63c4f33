-- Version 26: SBOMs and the component index. One row per SBOM attached to
-- a subject (an OCI manifest by digest, or a package version); one row per
-- distinct component it names, keyed by (ecosystem, name, vkey) so that a
-- name with a version range is one index range scan. vkey is 0x01 and the
-- version's order-preserving key, 0x02 and the text of a version the
-- ecosystem cannot order, or 0x00 for no version.
CREATE TABLE sboms (
    id            BIGSERIAL PRIMARY KEY,
    format        TEXT NOT NULL,
    repository    TEXT NOT NULL,
    subject       TEXT COLLATE "C" NOT NULL,
    version       TEXT COLLATE "C" NOT NULL DEFAULT '',
    source        TEXT NOT NULL,
    digest        TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    sbom_format   TEXT NOT NULL,
    spec_version  TEXT NOT NULL,
    components    BIGINT NOT NULL,
    skipped       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (format, repository, source, subject, version)
);
CREATE INDEX sboms_subject ON sboms (format, repository, subject, version);
CREATE INDEX sboms_digest ON sboms (digest);

CREATE TABLE sbom_components (
    sbom_id    BIGINT NOT NULL REFERENCES sboms (id) ON DELETE CASCADE,
    ecosystem  TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    vkey       BYTEA NOT NULL,
    version    TEXT,
    purl       TEXT NOT NULL,
    PRIMARY KEY (ecosystem, name, vkey, sbom_id)
);
CREATE INDEX sbom_components_sbom ON sbom_components (sbom_id);
