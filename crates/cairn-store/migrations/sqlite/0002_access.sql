-- Access control, version 2: grants on users and groups, and API tokens.
-- Grants are a JSON array of "PATTERN:ACTION[,ACTION...]" strings.
ALTER TABLE users ADD COLUMN grants TEXT NOT NULL DEFAULT '[]';
UPDATE users SET grants = '["**:read,publish,yank,delete,admin"]' WHERE name = 'admin';

CREATE TABLE groups (
    name        TEXT PRIMARY KEY,
    grants      TEXT NOT NULL DEFAULT '[]',
    created_at  BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_name  TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    PRIMARY KEY (group_name, user_name)
);
CREATE INDEX group_members_user ON group_members (user_name);

-- Only a hash of each token's secret is kept; the token is shown once.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL,
    description  TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_name);
