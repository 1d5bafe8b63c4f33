//! Storage numbers that add up: for every repository (its *scope*: an OCI
//! repository `team/app`, a package repository `npm/main`, a proxy
//! repository `npm/npmjs` or `oci/hub`) and for any prefix of them (a namespace,
//! `team/`; everything, ``):
//!
//! - **logical**: what its repositories reference, each blob counted once
//!   per repository (a layer shared by two repositories counts twice);
//! - **unique**: the distinct blobs they reference, each counted once;
//! - **exclusive**: the blobs only they reference (and no retained backup
//!   holds): what deleting them would free;
//!
//! so that exclusive ≤ unique ≤ logical for every scope, and the exclusive
//! bytes of disjoint scopes add up to at most the registry's unique bytes.
//! Registry-wide, **pending** counts the blobs nothing references yet or any
//! more (candidates of the collector and deletions in progress) and the
//! bytes staged by open uploads are not in any of these.
//!
//! Logical and unique bytes are kept as writes happen for the registry, every
//! namespace (a prefix ending in `/`) and every repository, so they answer at
//! once however large the scope; exclusive bytes are worked out when asked,
//! from those same rows. A prefix that is not a namespace (`team/ap`) is
//! computed from the references. Quotas limit a scope's unique bytes
//! ([`cairn_core::quota`]); the write that would pass one is refused in its
//! transaction with [`StoreError::Quota`].

use crate::error::StoreError;
use async_trait::async_trait;

/// One scope's numbers, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScopeUsage {
    /// The repository, or the prefix asked for.
    pub scope: String,
    pub logical: u64,
    pub unique: u64,
    pub exclusive: u64,
    /// Blobs in the scope (distinct).
    pub blobs: u64,
}

#[async_trait]
pub trait StorageStore: Send + Sync + 'static {
    /// Every repository whose name starts with `prefix`, with its numbers,
    /// largest unique first.
    async fn usage_by_repository(&self, prefix: &str) -> Result<Vec<ScopeUsage>, StoreError>;

    /// Every namespace (a prefix ending in `/`) that starts with `prefix`
    /// and holds anything, with its numbers, largest unique first: the cost
    /// report by namespace.
    async fn usage_by_namespace(&self, prefix: &str) -> Result<Vec<ScopeUsage>, StoreError>;

    /// The repositories whose name starts with `prefix`, together.
    async fn usage_of_prefix(&self, prefix: &str) -> Result<ScopeUsage, StoreError>;

    /// [`StorageStore::usage_of_prefix`] worked out from the references
    /// alone, not from the kept sums: what those sums must equal (fsck and
    /// the tests compare them).
    async fn computed_usage_of_prefix(&self, prefix: &str) -> Result<ScopeUsage, StoreError>;

    /// Rebuilds the kept sums from the references (`cairn storage
    /// --recount`); writes wait meanwhile.
    async fn recount_usage(&self) -> Result<(), StoreError>;

    /// Every quota with its scope's unique bytes now.
    async fn quotas(&self) -> Result<Vec<Quota>, StoreError>;

    /// Sets (or changes) a scope's quota, audited as `quota.set`. A quota
    /// below what the scope uses refuses only writes that add to it.
    async fn set_quota(
        &self,
        scope: &str,
        max_unique_bytes: u64,
        actor: &crate::Actor,
    ) -> Result<(), StoreError>;

    /// Removes a scope's quota (audited as `quota.remove`); false if it had none.
    async fn remove_quota(&self, scope: &str, actor: &crate::Actor) -> Result<bool, StoreError>;
}

/// A quota and where its scope stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Quota {
    pub scope: String,
    pub max_unique_bytes: u64,
    /// The scope's unique bytes now.
    pub unique: u64,
}
