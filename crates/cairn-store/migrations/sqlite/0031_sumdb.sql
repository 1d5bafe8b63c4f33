-- Version 31: the checksum database of hosted Go modules. One log per Go
-- repository, append-only: record `id` is dense from 0 (the tree of size N
-- holds records 0..N-1), and a module version is recorded once, the first
-- time the go command asks for it. Nothing ever deletes a record.
CREATE TABLE sumdb_records (
    repository  TEXT NOT NULL,
    id          BIGINT NOT NULL,
    module      TEXT NOT NULL,
    version     TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (repository, id),
    UNIQUE (repository, module, version)
);
