-- cairn metadata for PostgreSQL, version 1: the same shape as the SQLite
-- schema, with repository names and tags in the "C" collation so they sort
-- byte-wise as on SQLite and pagination agrees across backends.
-- OCI repositories, manifests, tags, blob links,
-- upload sessions, users and settings. Digests are stored as 'alg:hex' text.
CREATE TABLE repositories (
    name        TEXT COLLATE "C" PRIMARY KEY,
    created_at  BIGINT NOT NULL
);

CREATE TABLE blob_links (
    repository  TEXT NOT NULL,
    digest      TEXT NOT NULL,
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (repository, digest)
);
CREATE INDEX blob_links_digest ON blob_links (digest);

CREATE TABLE manifests (
    repository    TEXT NOT NULL,
    digest        TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          BIGINT NOT NULL,
    subject       TEXT,
    artifact_type TEXT,
    annotations   TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (repository, digest)
);
CREATE INDEX manifests_subject ON manifests (repository, subject);

CREATE TABLE tags (
    repository  TEXT NOT NULL,
    tag         TEXT COLLATE "C" NOT NULL,
    digest      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (repository, tag)
);
CREATE INDEX tags_digest ON tags (repository, digest);

CREATE TABLE uploads (
    id          TEXT PRIMARY KEY,
    repository  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    name        TEXT COLLATE "C" PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
