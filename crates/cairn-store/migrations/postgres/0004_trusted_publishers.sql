-- Trusted publishing: which OIDC identities may publish to which repository,
-- and the token ids (jti) already exchanged, so a token works only once.
CREATE TABLE trusted_publishers (
    id          TEXT PRIMARY KEY,
    repository  TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    audience    TEXT NOT NULL,
    claims      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX trusted_publishers_repository ON trusted_publishers (repository);

CREATE TABLE oidc_seen_jti (
    issuer      TEXT NOT NULL,
    jti         TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);
