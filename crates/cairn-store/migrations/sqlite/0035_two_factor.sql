-- Two-factor authentication for people: a TOTP secret per user (pending
-- until a first code confirms it), single-use recovery codes (hashes only),
-- and which API tokens a sign-in created on a person's behalf (those are
-- the person's, and changes made with them need a one-time password where
-- auth.require_two_factor says so; other tokens are automation).
CREATE TABLE user_totp (
    user_name   TEXT PRIMARY KEY,
    secret      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    enabled_at  BIGINT,
    -- The last time step a sign-in used, so that a code signs in once.
    last_step   BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE user_recovery_codes (
    user_name   TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (user_name, code_hash)
);

-- 0: automation; 1: a person's session (npm login); 2: a session whose
-- sign-in took a second factor (the web, cairn login).
ALTER TABLE api_tokens ADD COLUMN session BIGINT NOT NULL DEFAULT 0;
