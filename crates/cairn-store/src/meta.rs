//! The metadata store: every aggregate's trait in one, for the places that
//! open and wire the stores. Components take the narrowest trait they need
//! ([`OciStore`], [`PackageStore`], [`IdentityStore`], [`AuditStore`],
//! [`ProxyStore`], [`SettingsStore`]); an `Arc<dyn MetaStore>` coerces to any of them.

pub use crate::audit::AuditStore;
pub use crate::backup::BackupStore;
use crate::error::StoreError;
pub use crate::gc::GcStore;
pub use crate::identity::IdentityStore;
pub use crate::oci::OciStore;
pub use crate::packages::PackageStore;
pub use crate::proxy::ProxyStore;
pub use crate::storage::StorageStore;
pub use crate::virtuals::VirtualStore;
use async_trait::async_trait;

/// What the metadata says is stored, for the operator's gauges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Distinct blobs something refers to (OCI blobs and manifests, package files).
    pub blobs: u64,
    /// Their bytes, each blob counted once however many refer to it.
    pub bytes: u64,
    /// OCI upload sessions started and not yet finished or cancelled.
    pub open_uploads: u64,
}

/// A database connection pool's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// `reader` or `writer` (one pool is both on PostgreSQL).
    pub name: &'static str,
    /// Connections open.
    pub size: u32,
    /// Of those, idle.
    pub idle: u32,
}

/// Settings shared by every replica, the database's health and usage.
#[async_trait]
pub trait SettingsStore: Send + Sync + 'static {
    /// What is stored (one scan of the references: call it on a timer, not per request).
    async fn usage(&self) -> Result<Usage, StoreError>;

    /// The connection pools' state.
    fn pools(&self) -> Vec<PoolState>;

    /// Stores `value` under `key` unless a value exists; returns the stored
    /// value either way (so replicas agree on generated secrets).
    async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String, StoreError>;

    /// Replaces `key`'s value with `value` if it is still `expected`
    /// (compare and set); whether it was replaced.
    async fn replace_setting(
        &self,
        key: &str,
        expected: &str,
        value: &str,
    ) -> Result<bool, StoreError>;

    /// Whether the database can be reached (for readiness probes).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Everything about artifacts except their bytes.
pub trait MetaStore:
    OciStore
    + PackageStore
    + IdentityStore
    + AuditStore
    + ProxyStore
    + VirtualStore
    + SettingsStore
    + GcStore
    + BackupStore
    + StorageStore
    + crate::retention::VersionRetentionStore
    + crate::jobs::JobStore
    + crate::sbom::SbomStore
    + crate::advisory::AdvisoryStore
    + crate::quarantine::QuarantineStore
    + crate::signature::SignatureStore
    + crate::sumdb::SumdbStore
    + crate::attestation::AttestationStore
    + crate::search::SearchStore
    + crate::web_login::WebLoginStore
{
}

impl<T> MetaStore for T where
    T: OciStore
        + PackageStore
        + IdentityStore
        + AuditStore
        + ProxyStore
        + VirtualStore
        + SettingsStore
        + GcStore
        + BackupStore
        + StorageStore
        + crate::retention::VersionRetentionStore
        + crate::jobs::JobStore
        + crate::sbom::SbomStore
        + crate::advisory::AdvisoryStore
        + crate::quarantine::QuarantineStore
        + crate::signature::SignatureStore
        + crate::sumdb::SumdbStore
        + crate::attestation::AttestationStore
        + crate::search::SearchStore
        + crate::web_login::WebLoginStore
{
}
