//! The virtual-repository aggregate: owners' exceptions to name ownership
//! (external versions of an owned name allowed), changed with an audit
//! entry in the same transaction; and cache-warming jobs' progress.

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

/// What deciding one name's ownership needs, read in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnershipFacts {
    /// The package's revision in each hosted member that has it, in the
    /// order of the members asked about.
    pub revisions: Vec<(String, i64)>,
    /// An owner's exception for the name, if any.
    pub exception: Option<ExternalAllowance>,
    /// The versions owners exempted from the cooldown (`""`: every version).
    pub exempt: Vec<String>,
}

/// An owner's exemption from the cooldown: `package` (`version` empty: every
/// version) served from proxy members however young.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Exemption {
    pub repository: String,
    pub package: String,
    pub version: String,
    pub allowed_by: String,
    pub allowed_at: i64,
    pub reason: Option<String>,
}

/// A cache-warming job (`POST /api/v1/warm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarmJob {
    pub id: String,
    pub created_by: String,
    /// `FORMAT/NAME` of the repository fetched through.
    pub repository: String,
    /// `running` or `done`.
    pub state: String,
    pub total: u64,
    pub done: u64,
    /// The job's report as JSON (counts, items not warmed).
    pub report: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[async_trait]
pub trait VirtualStore: Send + Sync + 'static {
    /// Exempts `package` (`version` empty: every version) from the
    /// cooldown, audited as `virtual.exempt`.
    async fn exempt(&self, actor: &Actor, e: &Exemption) -> Result<(), StoreError>;

    /// Ends an exemption, audited as `virtual.unexempt`; false if there was none.
    async fn unexempt(
        &self,
        actor: &Actor,
        repository: &str,
        package: &str,
        version: &str,
    ) -> Result<bool, StoreError>;

    /// A virtual repository's exemptions.
    async fn exemptions(&self, repository: &str) -> Result<Vec<Exemption>, StoreError>;

    /// Records a new job, audited as `warm.start` by `actor`.
    async fn create_warm_job(&self, actor: &Actor, job: &WarmJob) -> Result<(), StoreError>;

    /// A job's progress: its state, how many items are done, its report.
    async fn update_warm_job(
        &self,
        id: &str,
        state: &str,
        done: u64,
        report: &str,
        updated_at: i64,
    ) -> Result<(), StoreError>;

    async fn warm_job(&self, id: &str) -> Result<Option<WarmJob>, StoreError>;

    /// Which of the hosted repositories `members` (of `format`) have the
    /// package `package`, at which revision, and the exception the virtual
    /// repository `repository` has for it: one query, on every metadata
    /// request and download through a virtual repository.
    async fn ownership_facts(
        &self,
        format: &str,
        members: &[&str],
        repository: &str,
        package: &str,
    ) -> Result<OwnershipFacts, StoreError>;

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
