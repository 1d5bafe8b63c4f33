-- Staging repositories (Maven): releases deployed aside under an id, then
-- closed (validated), released (promoted into the repository in one
-- transaction) or dropped. The staged files themselves are package rows
-- in a repository of their own.
CREATE TABLE staging_repositories (
    format      TEXT NOT NULL,
    repository  TEXT NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    state       TEXT NOT NULL,
    detail      TEXT,
    created_at  BIGINT NOT NULL,
    changed_at  BIGINT NOT NULL,
    PRIMARY KEY (format, repository, id)
);
