//! The identity aggregate: users, groups and their grants, API tokens,
//! trusted publishers and the OIDC tokens they have used.

use crate::audit::Actor;
use crate::error::StoreError;
use async_trait::async_trait;

/// A user's stored credential: only a hash of the secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub name: String,
    pub secret_hash: String,
    /// The user's own grants, `PATTERN:ACTIONS` strings.
    pub grants: Vec<String>,
    /// Where the user signs in: [`LOCAL_USERS`] (a password kept here), or
    /// the identity provider that vouches for them (`oidc:<issuer>`, `ldap`).
    pub source: String,
}

/// The source of users whose password cairn keeps.
pub const LOCAL_USERS: &str = "local";

/// An API token. Only a hash of its secret is kept (and never serialised).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenRecord {
    pub id: String,
    pub user: String,
    pub description: String,
    #[serde(skip)]
    pub secret_hash: String,
    /// `PATTERN:ACTIONS` strings; the token never exceeds its user's rights.
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Created by a sign-in (`npm login`, `cairn login`) on a person's
    /// behalf: changes made with it count as the person's, and need a
    /// second factor where the policy asks. Other tokens are automation.
    #[serde(default)]
    pub session: bool,
    /// A session whose sign-in took a second factor (a web or `cairn
    /// login` session): changes made with it count as verified for its
    /// lifetime. Always false for automation and for `npm login`, after
    /// which npm sends a one-time password with each change.
    #[serde(default)]
    pub second_factor: bool,
}

/// A user's TOTP enrolment: pending until a first code confirms it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRecord {
    /// The shared secret, base32 (the form authenticator apps take).
    pub secret: String,
    pub created_at: i64,
    pub enabled_at: Option<i64>,
}

/// A trusted publisher: an OIDC identity (issuer, audience, and claims that
/// must match exactly) allowed to publish to one repository, or to one
/// package of a package repository.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PublisherRecord {
    pub id: String,
    pub repository: String,
    /// The package's normalised key, when the publisher is limited to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    pub issuer: String,
    pub audience: String,
    /// Claim name → required value, e.g. `repository` → `org/app`.
    pub claims: std::collections::BTreeMap<String, String>,
}

impl PublisherRecord {
    /// Whether the publisher is registered for a repository of `format`.
    pub fn is_for(&self, format: cairn_core::Format) -> bool {
        cairn_core::Format::of_resource(&self.repository).is_some_and(|(f, _)| f == format)
    }

    /// Whether the publisher may publish `package` (a normalised key; `None`
    /// when the exchange names no package): one limited to a package covers
    /// only that one.
    pub fn covers(&self, package: Option<&str>) -> bool {
        match (&self.package, package) {
            (Some(only), Some(asked)) => only == asked,
            _ => true,
        }
    }
}

/// Identity records. Every change appends its audit entry in its transaction.
#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Creates a user or replaces its credential hash (keeping its grants).
    async fn put_user(
        &self,
        name: &str,
        secret_hash: &str,
        actor: &Actor,
    ) -> Result<(), StoreError>;
    /// Replaces a user's own grants. Returns whether the user exists.
    async fn set_user_grants(
        &self,
        name: &str,
        grants: &[String],
        actor: &Actor,
    ) -> Result<bool, StoreError>;
    /// Creates a group or replaces its grants.
    async fn put_group(
        &self,
        name: &str,
        grants: &[String],
        actor: &Actor,
    ) -> Result<(), StoreError>;
    async fn add_group_member(
        &self,
        group: &str,
        user: &str,
        actor: &Actor,
    ) -> Result<(), StoreError>;
    /// The grants of every group the user belongs to.
    async fn group_grants_of(&self, user: &str) -> Result<Vec<String>, StoreError>;
    /// A person an identity provider vouched for, as `source`
    /// (`oidc:<issuer>`, `ldap`): made on their first sign-in (with no
    /// password here), refused with [`StoreError::Conflict`] when a user of
    /// that name signs in elsewhere (a local user is never taken over). The
    /// memberships the provider gives become exactly `groups`; memberships
    /// an administrator added stay. Audited as `user.sign_in` when it makes
    /// the user or changes their groups; otherwise nothing is written.
    async fn sign_in_external(
        &self,
        name: &str,
        source: &str,
        groups: &[String],
        actor: &Actor,
    ) -> Result<(), StoreError>;

    async fn create_token(&self, token: &TokenRecord, actor: &Actor) -> Result<(), StoreError>;
    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// One token by its id (revoked and expired ones included).
    async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// Tokens, newest first; all users' when `user` is `None`.
    async fn list_tokens(&self, user: Option<&str>) -> Result<Vec<TokenRecord>, StoreError>;
    /// Marks a token revoked at `at`. Returns whether it existed and was live.
    async fn revoke_token(&self, id: &str, at: i64, actor: &Actor) -> Result<bool, StoreError>;

    async fn add_publisher(
        &self,
        publisher: &PublisherRecord,
        actor: &Actor,
    ) -> Result<(), StoreError>;
    /// The trusted publishers of one repository.
    async fn publishers(&self, repository: &str) -> Result<Vec<PublisherRecord>, StoreError>;
    /// Every trusted publisher (a short list: one per repository or package
    /// that publishes from CI).
    async fn all_publishers(&self) -> Result<Vec<PublisherRecord>, StoreError>;
    /// Records that the OIDC token `jti` from `issuer` was used. Returns
    /// false if it had been used before (a replay).
    async fn claim_jti(&self, issuer: &str, jti: &str, expires_at: i64)
        -> Result<bool, StoreError>;

    /// A user's TOTP enrolment, pending or enabled.
    async fn totp(&self, user: &str) -> Result<Option<TotpRecord>, StoreError>;
    /// Starts an enrolment with `secret`, replacing a pending one. Returns
    /// false (and changes nothing) when an enabled one exists.
    async fn start_totp(&self, user: &str, secret: &str, actor: &Actor)
        -> Result<bool, StoreError>;
    /// Enables the pending enrolment, with these recovery codes (hashes)
    /// replacing any earlier ones. Returns false when nothing was pending.
    async fn enable_totp(
        &self,
        user: &str,
        recovery_hashes: &[String],
        actor: &Actor,
    ) -> Result<bool, StoreError>;
    /// Removes the enrolment and the recovery codes. Returns whether there was one.
    async fn disable_totp(&self, user: &str, actor: &Actor) -> Result<bool, StoreError>;
    /// Replaces the recovery codes of an enabled enrolment.
    async fn replace_recovery_codes(
        &self,
        user: &str,
        recovery_hashes: &[String],
        actor: &Actor,
    ) -> Result<bool, StoreError>;
    /// Uses one recovery code: true when it is the user's and unused, or
    /// was first used at or after `used_since` (one command's several
    /// requests); it counts as used from its first use, on every replica.
    async fn use_recovery_code(
        &self,
        user: &str,
        code_hash: &str,
        used_since: i64,
    ) -> Result<bool, StoreError>;
    /// How many unused recovery codes the user has.
    async fn recovery_codes_left(&self, user: &str) -> Result<u64, StoreError>;
    /// Records that a sign-in used TOTP time step `step`: true when no
    /// sign-in had used it or a later one (so a code signs in once).
    async fn claim_totp_step(&self, user: &str, step: i64) -> Result<bool, StoreError>;
}
