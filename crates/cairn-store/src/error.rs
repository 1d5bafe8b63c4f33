//! The one error type of the stores.

use cairn_core::policy::PolicyError;

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
    /// A write named a blob that is not stored, or that the garbage
    /// collector is deleting: the client must upload it again.
    #[error("blob {0} is not stored (it may just have been garbage-collected): upload it again")]
    BlobUnknown(String),
    /// The write would take a scope past its quota; nothing of it was kept.
    #[error(transparent)]
    Quota(#[from] cairn_core::quota::QuotaExceeded),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database failed; the cause is kept for the logs.
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}
