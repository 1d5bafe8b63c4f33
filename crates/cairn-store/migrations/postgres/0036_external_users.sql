-- Where a user signs in: 'local' (a password kept here), or an identity
-- provider ('oidc:<issuer>', 'ldap'), whose users are made on their first
-- sign-in and have no password here. Group memberships a provider gave are
-- marked with it, so that the next sign-in can take back the ones the
-- provider no longer gives without touching memberships an administrator made.
ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
ALTER TABLE group_members ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
