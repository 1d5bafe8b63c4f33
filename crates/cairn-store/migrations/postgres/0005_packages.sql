-- Language packages, version 5: packages, versions (with their lifecycle
-- state), files, dependencies, dist-tags and owners, for every language
-- format. Rows of versions and files are never deleted: an unpublished
-- version keeps its row as the tombstone that stops its reuse.
CREATE TABLE packages (
    format      TEXT NOT NULL,
    repository  TEXT NOT NULL,
    package     TEXT COLLATE "C" NOT NULL,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (format, repository, package)
);

CREATE TABLE package_versions (
    format        TEXT NOT NULL,
    repository    TEXT NOT NULL,
    package       TEXT COLLATE "C" NOT NULL,
    version       TEXT COLLATE "C" NOT NULL,
    state         TEXT NOT NULL,
    message       TEXT,
    metadata      TEXT NOT NULL,
    published_at  BIGINT NOT NULL,
    changed_at    BIGINT NOT NULL,
    PRIMARY KEY (format, repository, package, version)
);

CREATE TABLE package_files (
    format      TEXT NOT NULL,
    repository  TEXT NOT NULL,
    package     TEXT COLLATE "C" NOT NULL,
    filename    TEXT COLLATE "C" NOT NULL,
    version     TEXT NOT NULL,
    digest      TEXT NOT NULL,
    size        BIGINT NOT NULL,
    metadata    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (format, repository, package, filename)
);
CREATE INDEX package_files_version ON package_files (format, repository, package, version);

CREATE TABLE package_dependencies (
    format      TEXT NOT NULL,
    repository  TEXT NOT NULL,
    package     TEXT COLLATE "C" NOT NULL,
    version     TEXT NOT NULL,
    dependency  TEXT NOT NULL,
    PRIMARY KEY (format, repository, package, version, dependency)
);
CREATE INDEX package_dependencies_dependency ON package_dependencies (format, dependency);

CREATE TABLE package_tags (
    format      TEXT NOT NULL,
    repository  TEXT NOT NULL,
    package     TEXT COLLATE "C" NOT NULL,
    tag         TEXT NOT NULL,
    version     TEXT NOT NULL,
    PRIMARY KEY (format, repository, package, tag)
);

CREATE TABLE package_owners (
    format      TEXT NOT NULL,
    repository  TEXT NOT NULL,
    package     TEXT COLLATE "C" NOT NULL,
    owner       TEXT NOT NULL,
    PRIMARY KEY (format, repository, package, owner)
);
