//! The metadata store trait: everything about artifacts except their bytes.

use async_trait::async_trait;
use cairn_core::policy::{PolicyError, TagRule};
use cairn_core::Digest;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A lifecycle rule refused the change (a version reused, an unpublish
    /// outside the policy, ...).
    #[error(transparent)]
    Lifecycle(#[from] cairn_core::LifecycleError),
    /// The change lost to the stored state (e.g. a staging repository no
    /// longer in the state the change expects).
    #[error("{0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(String),
}

/// A manifest stored in a repository. Its bytes are the blob named by `digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    pub repository: String,
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    /// The manifest this one refers to (OCI 1.1 `subject`), for the referrers API.
    pub subject: Option<Digest>,
    pub artifact_type: Option<String>,
    /// The manifest's annotations as a JSON object, if it has any.
    pub annotations: Option<String>,
}

/// What happened to a tag when it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagChange {
    Created,
    Unchanged,
    Moved { from: Digest },
}

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

/// Who made a change, for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// User name (or `anonymous`, or `cli` / `system` for local administration).
    pub name: String,
    /// The API token used, if any.
    pub credential: Option<String>,
    /// The client's address, if known.
    pub source: Option<String>,
}

impl Actor {
    /// The caller of a request: its name and the API token it used, if any.
    pub fn of(principal: &cairn_core::Principal, source: Option<String>) -> Actor {
        let credential = match principal {
            cairn_core::Principal::Authenticated { credential, .. } => credential.clone(),
            cairn_core::Principal::Anonymous => None,
        };
        Actor {
            name: principal.name().to_string(),
            credential,
            source,
        }
    }

    /// A local actor: the CLI, or cairn itself.
    pub fn local(name: &str) -> Actor {
        Actor {
            name: name.to_string(),
            credential: None,
            source: Some("local".to_string()),
        }
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    pub id: i64,
    /// Seconds since the Unix epoch.
    pub at: i64,
    pub actor: String,
    pub credential: Option<String>,
    pub source: Option<String>,
    /// What was attempted, e.g. `manifest.put`, `tag.move`, `token.revoke`, `auth.failed`.
    pub action: String,
    pub repository: Option<String>,
    pub artifact: Option<String>,
    /// `ok`, or why it was refused.
    pub outcome: String,
    pub detail: Option<String>,
}

impl AuditRecord {
    /// An entry for something `actor` attempted; the store sets id and time.
    pub fn by(
        actor: &Actor,
        action: &str,
        repository: Option<&str>,
        artifact: Option<&str>,
        outcome: &str,
    ) -> AuditRecord {
        AuditRecord {
            actor: actor.name.clone(),
            credential: actor.credential.clone(),
            source: actor.source.clone(),
            action: action.to_string(),
            repository: repository.map(str::to_string),
            artifact: artifact.map(str::to_string),
            outcome: outcome.to_string(),
            ..AuditRecord::default()
        }
    }
}

/// Which audit entries to return: all filters must match; newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub repository: Option<String>,
    pub action: Option<String>,
    /// Only entries older than this id (for paging backwards).
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// Metadata operations. Each method is one transaction; rules that guard a
/// change (tag immutability) are checked inside that transaction, and every
/// change appends its audit entry (naming `actor`) in that transaction too.
#[async_trait]
pub trait MetaStore: crate::packages::PackageStore + Send + Sync + 'static {
    /// Records that `repository` holds the blob `digest`.
    async fn link_blob(
        &self,
        repository: &str,
        digest: &Digest,
        size: u64,
        actor: &Actor,
    ) -> Result<(), StoreError>;
    /// Size of `digest` if `repository` holds it.
    async fn linked_blob(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<Option<u64>, StoreError>;
    /// Repositories holding `digest`, with its size (for automatic mounts).
    async fn blob_holders(
        &self,
        digest: &Digest,
        limit: u32,
    ) -> Result<Vec<(String, u64)>, StoreError>;
    /// Removes a blob from a repository. Returns whether it was there.
    async fn unlink_blob(
        &self,
        repository: &str,
        digest: &Digest,
        actor: &Actor,
    ) -> Result<bool, StoreError>;

    /// Stores a manifest (idempotently) and points `tags` at it, checking
    /// `rules` for every tag that would move.
    async fn put_manifest(
        &self,
        record: &ManifestRecord,
        tags: &[String],
        rules: &[TagRule],
        actor: &Actor,
    ) -> Result<Vec<TagChange>, StoreError>;
    async fn manifest(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<Option<ManifestRecord>, StoreError>;
    async fn resolve_tag(&self, repository: &str, tag: &str) -> Result<Option<Digest>, StoreError>;
    /// The manifest a tag points to, in one lookup (the hot path of pulls).
    async fn tagged_manifest(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Option<ManifestRecord>, StoreError>;
    /// Deletes a manifest and the tags that point to it (refused if a rule
    /// protects one of them). Returns whether it existed.
    async fn delete_manifest(
        &self,
        repository: &str,
        digest: &Digest,
        rules: &[TagRule],
        actor: &Actor,
    ) -> Result<bool, StoreError>;
    /// Deletes one tag, leaving its manifest. Returns whether it existed.
    async fn delete_tag(
        &self,
        repository: &str,
        tag: &str,
        rules: &[TagRule],
        actor: &Actor,
    ) -> Result<bool, StoreError>;
    /// Tags in lexical order after `last`, at most `limit`.
    async fn list_tags(
        &self,
        repository: &str,
        last: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;
    /// Whether the repository has ever held anything.
    async fn repository_exists(&self, repository: &str) -> Result<bool, StoreError>;
    /// Repository names in lexical order after `last`, at most `limit`.
    async fn list_repositories(
        &self,
        last: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;
    /// Manifests in `repository` whose subject is `subject`.
    async fn referrers(
        &self,
        repository: &str,
        subject: &Digest,
    ) -> Result<Vec<ManifestRecord>, StoreError>;

    /// Records an upload session and the repository it belongs to.
    async fn create_upload(&self, id: &str, repository: &str) -> Result<(), StoreError>;
    async fn upload_repository(&self, id: &str) -> Result<Option<String>, StoreError>;
    async fn delete_upload(&self, id: &str) -> Result<(), StoreError>;

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

    /// Appends an entry on its own: a refused request or a failed login,
    /// which changed nothing to be transactional with.
    async fn append_audit(&self, entry: &AuditRecord) -> Result<(), StoreError>;
    /// Audit entries matching `filter`, newest first. There is no way to
    /// change or remove one: the tables refuse it.
    async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError>;

    /// Stores `value` under `key` unless a value exists; returns the stored
    /// value either way (so replicas agree on generated secrets).
    async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String, StoreError>;

    /// Whether the database can be reached (for readiness probes).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Seconds since the Unix epoch, for created/updated columns.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
