//! The virtual-repository aggregate: owners' exceptions to name ownership
//! (external versions of an owned name allowed), changed with an audit
//! entry in the same transaction.

use crate::audit::Actor;
use crate::error::StoreError;
use async_trait::async_trait;

/// An owner's exception: `package` in the virtual repository `repository`
/// takes versions from proxy members too.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExternalAllowance {
    /// `FORMAT/NAME` of the virtual repository.
    pub repository: String,
    /// The package's key.
    pub package: String,
    pub allowed_by: String,
    pub allowed_at: i64,
    pub reason: Option<String>,
}

#[async_trait]
pub trait VirtualStore: Send + Sync + 'static {
    /// The exception for `package`, if an owner made one.
    async fn external_allowance(
        &self,
        repository: &str,
        package: &str,
    ) -> Result<Option<ExternalAllowance>, StoreError>;

    /// Makes (or replaces) the exception, audited as `virtual.allow_external`.
    async fn allow_external(
        &self,
        actor: &Actor,
        repository: &str,
        package: &str,
        reason: Option<&str>,
    ) -> Result<ExternalAllowance, StoreError>;

    /// Removes it, audited as `virtual.disallow_external`; false if there was none.
    async fn disallow_external(
        &self,
        actor: &Actor,
        repository: &str,
        package: &str,
    ) -> Result<bool, StoreError>;

    /// A virtual repository's exceptions, by package.
    async fn external_allowances(
        &self,
        repository: &str,
    ) -> Result<Vec<ExternalAllowance>, StoreError>;
}
