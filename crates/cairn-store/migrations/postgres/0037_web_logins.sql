-- Web sign-in for command-line clients (npm login's auth-type=web,
-- cairn login --web): a client starts one and polls for its token; a person
-- signed in to the web UI approves it. `secret_hash` is the SHA-256 of the
-- poll secret only the client holds. An approved login is taken once: the
-- token is made when the client collects it (consumed_at), never stored.
CREATE TABLE web_logins (
    id             TEXT PRIMARY KEY,
    secret_hash    TEXT NOT NULL,
    client         TEXT NOT NULL,
    source         TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    approved_by    TEXT,
    -- 1 when the approving session's sign-in took a second factor.
    second_factor  BIGINT NOT NULL DEFAULT 0,
    approved_at    BIGINT,
    consumed_at    BIGINT
);
