//! Storage numbers that add up: for every repository (its *scope*: an OCI
//! repository `team/app`, a package repository `npm/main`, a proxy
//! repository `npm/npmjs` or `hub`) and for any prefix of them (a namespace,
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
//! Computed on demand, in one query over the reference tables.

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

    /// The repositories whose name starts with `prefix`, together.
    async fn usage_of_prefix(&self, prefix: &str) -> Result<ScopeUsage, StoreError>;
}
