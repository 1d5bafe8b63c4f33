//! The audit aggregate: who did what, when, from where, with which
//! credential. Append-only.

use crate::error::StoreError;
use async_trait::async_trait;

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
    /// Only entries about this artifact (a digest, `package@version`).
    pub artifact: Option<String>,
    /// Only entries older than this id (for paging backwards).
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// The audit log. Changes append their entries in their own transactions;
/// this trait is for entries that stand alone, and for reading.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends an entry on its own: a refused request or a failed login,
    /// which changed nothing to be transactional with.
    async fn append_audit(&self, entry: &AuditRecord) -> Result<(), StoreError>;
    /// Audit entries matching `filter`, newest first. There is no way to
    /// change or remove one: the tables refuse it.
    async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError>;
}
