//! The proxy-cache aggregate: what proxy repositories have cached from their
//! upstreams. The bytes are blobs in the shared content-addressed store;
//! this records, per repository and cache key, which blob holds the object,
//! when it arrived and was last confirmed, and the upstream's validators.

use crate::error::StoreError;
use async_trait::async_trait;
use cairn_core::Digest;

/// One cached object of a proxy repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedEntry {
    /// `FORMAT/REPOSITORY` of the proxy repository.
    pub repository: String,
    /// What the object is, in the adapter's words (`packument/left-pad`,
    /// `file/demo/demo-1.0.tar.gz`).
    pub key: String,
    /// 200: `digest` holds the object; 404: the upstream said it does not
    /// exist (a negative entry, trusted only briefly).
    pub status: u16,
    pub digest: Option<Digest>,
    pub size: u64,
    pub content_type: String,
    /// The upstream's `ETag` and `Last-Modified`, for a conditional request.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// When these bytes first arrived (seconds since the epoch): the
    /// first-seen time where an upstream gives none.
    pub fetched_at: i64,
    /// When the upstream last confirmed them (a fetch or a 304).
    pub checked_at: i64,
}

/// The package version a proxy repository's cached file belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedVersion {
    /// The package format (`npm`, `pypi`, …).
    pub format: String,
    /// The proxy repository's name (as hosted repositories are named).
    pub repository: String,
    /// The package key, as the format's store names it.
    pub package: String,
    pub version: String,
}

/// The proxy cache's records.
#[async_trait]
pub trait ProxyStore: Send + Sync + 'static {
    /// The entry under `key`, if any.
    async fn cached(&self, repository: &str, key: &str) -> Result<Option<CachedEntry>, StoreError>;

    /// Records `entry`, replacing what was under its key. When the digest is
    /// unchanged, the stored `fetched_at` (first seen) is kept.
    async fn put_cached(&self, entry: &CachedEntry) -> Result<(), StoreError>;

    /// The upstream confirmed the entry (a 304): its check time and
    /// validators are refreshed. False if there is no such entry.
    async fn revalidated(
        &self,
        repository: &str,
        key: &str,
        checked_at: i64,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Forgets one entry (its blob stays for the collector). False if absent.
    async fn drop_cached(&self, repository: &str, key: &str) -> Result<bool, StoreError>;

    /// Records that the entry was served now (written at most once an hour
    /// per entry and replica: [`crate::UseNotes`]).
    async fn note_cached_use(&self, repository: &str, key: &str) -> Result<(), StoreError>;

    /// Records that the cached file `key` of `repository` is `version` of a
    /// package (what findings reports list while the entry exists; the
    /// record is forgotten with it). Idempotent.
    async fn note_proxied_version(
        &self,
        repository: &str,
        key: &str,
        version: &ProxiedVersion,
    ) -> Result<(), StoreError>;

    /// Keys of entries last served (or else fetched) before `before`, at
    /// most `limit`, oldest first: what an evicting proxy drops.
    async fn idle_cached(
        &self,
        repository: &str,
        before: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;

    /// Entries of a repository in key order, after `after` (exclusive),
    /// whose key starts with `prefix`; at most `limit`.
    async fn list_cached(
        &self,
        repository: &str,
        prefix: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<CachedEntry>, StoreError>;

    /// Whether other processes (replicas) share this store, so that fills
    /// need a lease to be one at a time across them. (An embedded store has
    /// one process; a fill twice would only repeat work, never store wrong
    /// bytes, so the lease is a saving, not a safeguard.)
    fn shared_by_replicas(&self) -> bool;

    /// Takes the fill lease of `key` for `owner` until `expires_at_ms`:
    /// granted when nobody holds it, when its holder's lease has expired
    /// (before `now_ms`), or when `owner` holds it already (a renewal).
    async fn lease_fill(
        &self,
        repository: &str,
        key: &str,
        owner: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Who holds the fill lease of `key` at `now_ms`, if anyone.
    async fn fill_holder(
        &self,
        repository: &str,
        key: &str,
        now_ms: i64,
    ) -> Result<Option<String>, StoreError>;

    /// Gives the lease up (only `owner`'s).
    async fn release_fill(
        &self,
        repository: &str,
        key: &str,
        owner: &str,
    ) -> Result<(), StoreError>;

    /// How many objects a repository has cached, and their bytes (each
    /// entry counted; a blob shared with other repositories counts here too).
    async fn cached_usage(&self, repository: &str) -> Result<(u64, u64), StoreError>;

    /// When each of `versions` of the object `key` (a module, an artifact)
    /// was first seen by `repository`, recording the ones not seen before:
    /// at `now`, or at 0 when nothing of `key` was ever recorded (the first
    /// listing is the baseline: those versions predate cairn's watch).
    /// Returned in the order of `versions`.
    async fn versions_seen(
        &self,
        repository: &str,
        key: &str,
        versions: &[String],
        now: i64,
    ) -> Result<Vec<i64>, StoreError>;
}
