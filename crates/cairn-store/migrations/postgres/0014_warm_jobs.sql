-- Cache-warming jobs started through the admin API: their progress, kept
-- in the database so that any replica can report it. `report` is the
-- job's own JSON (counts and the items not warmed).
CREATE TABLE warm_jobs (
    id TEXT PRIMARY KEY,
    created_by TEXT NOT NULL,
    repository TEXT NOT NULL,
    state TEXT NOT NULL,
    total BIGINT NOT NULL,
    done BIGINT NOT NULL,
    report TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
