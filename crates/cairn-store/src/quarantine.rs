//! Bytes held back: a publish carrying a secret into a repository that
//! quarantines (rather than refuses) is stored, and its file's digest is
//! recorded here; every path that serves a package file asks before serving
//! it, until an administrator releases it.

use crate::{Actor, StoreError};
use async_trait::async_trait;
use cairn_core::Digest;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuarantineRecord {
    pub digest: String,
    pub repository: String,
    /// The file, as the publish named it.
    pub what: String,
    /// The findings (file, line, rule; never the secret).
    pub findings: String,
    pub actor: String,
    pub created_at: i64,
}

#[async_trait]
pub trait QuarantineStore: Send + Sync + 'static {
    /// Holds `record.digest` back (audited as `secret.quarantine`).
    async fn quarantine(&self, record: &QuarantineRecord, actor: &Actor) -> Result<(), StoreError>;
    async fn is_quarantined(&self, digest: &Digest) -> Result<bool, StoreError>;
    async fn quarantined(&self) -> Result<Vec<QuarantineRecord>, StoreError>;
    /// Serves the bytes again (audited as `secret.release`); whether they were held.
    async fn release(&self, digest: &str, actor: &Actor) -> Result<bool, StoreError>;
}
