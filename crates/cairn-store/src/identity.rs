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
}

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
}
