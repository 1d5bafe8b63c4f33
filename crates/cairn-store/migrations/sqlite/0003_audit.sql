-- The audit log: one row per mutation (and per refused one), written in the
-- same transaction as the change. Append-only: updates and deletes abort.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    credential  TEXT,
    source      TEXT,
    action      TEXT NOT NULL,
    repository  TEXT,
    artifact    TEXT,
    outcome     TEXT NOT NULL,
    detail      TEXT
);
CREATE INDEX audit_log_repository ON audit_log (repository, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
