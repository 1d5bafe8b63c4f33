-- Version 22: long maintenance jobs (garbage collection, retention, fsck,
-- backup) started through the admin API. The replica running one writes its
-- progress here about once a second, so any replica can answer for it, and
-- reads cancel_requested, which a cancel from any replica sets.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    actor TEXT NOT NULL,
    params TEXT NOT NULL,
    progress TEXT,
    result TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX jobs_started ON jobs (started_at);
