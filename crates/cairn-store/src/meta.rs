//! The metadata store: every aggregate's trait in one, for the places that
//! open and wire the stores. Components take the narrowest trait they need
//! ([`OciStore`], [`PackageStore`], [`IdentityStore`], [`AuditStore`],
//! [`SettingsStore`]); an `Arc<dyn MetaStore>` coerces to any of them.

pub use crate::audit::AuditStore;
use crate::error::StoreError;
pub use crate::identity::IdentityStore;
pub use crate::oci::OciStore;
pub use crate::packages::PackageStore;
use async_trait::async_trait;

/// Settings shared by every replica, and the database's health.
#[async_trait]
pub trait SettingsStore: Send + Sync + 'static {
    /// Stores `value` under `key` unless a value exists; returns the stored
    /// value either way (so replicas agree on generated secrets).
    async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String, StoreError>;

    /// Whether the database can be reached (for readiness probes).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Everything about artifacts except their bytes.
pub trait MetaStore: OciStore + PackageStore + IdentityStore + AuditStore + SettingsStore {}

impl<T: OciStore + PackageStore + IdentityStore + AuditStore + SettingsStore> MetaStore for T {}
