-- The audit log: one row per mutation (and per refused one), written in the
-- same transaction as the change. Append-only: updates and deletes raise.
CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
