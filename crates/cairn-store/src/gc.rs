//! The garbage-collection aggregate: one row per blob in the blob store, the
//! state that writers and the collector serialise on, and what the
//! collector asks of the metadata.
//!
//! The protocol (see the migration `0016_gc.sql` for the states):
//! - [`GcStore::intend_blob`] runs before bytes are published, so a blob's
//!   row exists, and is not being deleted, before its object does.
//! - Every write that makes a blob referenced (a manifest, a package file, a
//!   proxy cache entry) or linked (an OCI repository's link) checks the
//!   blob's row *in its own transaction, after its own rows are written*:
//!   a live row is not touched; a candidate is set live (or, for a link,
//!   renewed); a row being deleted, or gone, refuses the write with
//!   [`StoreError::BlobUnknown`], so the client uploads again.
//! - Events that may leave a blob unreferenced (a manifest or a link
//!   deleted, a proxy entry replaced) mark it a candidate.
//! - The collector decides a candidate ([`GcStore::condemn`]) under the
//!   row's lock and with a fresh view of every reference, and only after
//!   every transaction that could have missed the mark has ended (the
//!   horizon). Nothing here depends on how long anything takes.

use crate::error::StoreError;
use async_trait::async_trait;
use cairn_core::Digest;

/// A blob row's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobState {
    Live,
    Candidate,
    Deleting,
}

impl BlobState {
    pub fn as_str(self) -> &'static str {
        match self {
            BlobState::Live => "live",
            BlobState::Candidate => "candidate",
            BlobState::Deleting => "deleting",
        }
    }

    pub fn parse(s: &str) -> Option<BlobState> {
        Some(match s {
            "live" => BlobState::Live,
            "candidate" => BlobState::Candidate,
            "deleting" => BlobState::Deleting,
            _ => return None,
        })
    }
}

/// What the collector decided about one candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Something references it: it is live again.
    Kept,
    /// Nothing references it: marked deleting, its links removed. The
    /// object is to be deleted, then [`GcStore::forget_blob`].
    Condemned { size: u64 },
    /// No longer a candidate (a writer rescued it, or another collector
    /// decided it first).
    Skipped,
    /// A backup is running: nothing is decided until it is done (its
    /// snapshot may reference the blob).
    Paused,
}

/// A manifest whose references are not recorded yet (stored before the
/// collector existed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnindexedManifest {
    pub repository: String,
    pub digest: Digest,
    pub media_type: String,
}

/// A reference whose blob row is missing or being deleted (what `fsck`
/// reports as dangling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DanglingReference {
    /// `manifest`, `manifest-ref`, `package-file`, `proxy-cache` or `link`.
    pub kind: &'static str,
    /// Where: repository (and package or key) and what.
    pub holder: String,
    pub digest: Digest,
}

/// Counts for the gauges: rows by state, and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlobCounts {
    pub live: u64,
    pub live_bytes: u64,
    pub candidates: u64,
    pub candidate_bytes: u64,
    pub deleting: u64,
    pub deleting_bytes: u64,
    /// Open uploads, and the bytes they have staged.
    pub uploads: u64,
    pub upload_bytes: u64,
}

#[async_trait]
pub trait GcStore: Send + Sync + 'static {
    /// Before publishing the bytes of `digest`: creates its row as a
    /// candidate (it is referenced by nothing yet), renews a candidate, or
    /// leaves a live row alone. Returns the state found, so that a caller
    /// that meets [`BlobState::Deleting`] waits for the collector to finish
    /// instead of publishing bytes that are about to be deleted.
    async fn intend_blob(
        &self,
        digest: &Digest,
        size: u64,
    ) -> Result<Option<BlobState>, StoreError>;

    /// The state of one blob's row (`None`: no row).
    async fn blob_state(&self, digest: &Digest) -> Result<Option<BlobState>, StoreError>;

    /// Gives every candidate without one a horizon; returns how many.
    async fn assign_horizons(&self) -> Result<u64, StoreError>;

    /// Candidates marked at or before `cutoff` whose horizon has passed,
    /// at most `limit`.
    async fn due_candidates(&self, cutoff: i64, limit: u32) -> Result<Vec<Digest>, StoreError>;

    /// Decides one candidate, in one transaction (see [`Verdict`]).
    async fn condemn(&self, digest: &Digest) -> Result<Verdict, StoreError>;

    /// Blobs marked deleting (by this run, or a run that died), at most `limit`.
    async fn deleting_blobs(&self, limit: u32) -> Result<Vec<Digest>, StoreError>;

    /// Removes the row of a blob whose object is deleted.
    async fn forget_blob(&self, digest: &Digest) -> Result<(), StoreError>;

    /// OCI upload sessions not touched since `cutoff`, at most `limit`.
    async fn idle_uploads(&self, cutoff: i64, limit: u32) -> Result<Vec<String>, StoreError>;

    /// Records that an upload session received bytes.
    async fn touch_upload(&self, id: &str, staged: u64) -> Result<(), StoreError>;

    /// Manifests whose references are not recorded yet, at most `limit`.
    async fn unindexed_manifests(&self, limit: u32) -> Result<Vec<UnindexedManifest>, StoreError>;

    /// Records a stored manifest's references (see [`Self::unindexed_manifests`]).
    async fn index_manifest(
        &self,
        repository: &str,
        digest: &Digest,
        references: &[Digest],
    ) -> Result<(), StoreError>;

    /// Blob rows in digest order after `after`, with size (`None`: not
    /// known, a row from before sizes were kept) and state (fsck).
    async fn blob_rows(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(Digest, Option<u64>, BlobState)>, StoreError>;

    /// References whose blob has no row or is being deleted, at most `limit`.
    async fn dangling_references(&self, limit: u32) -> Result<Vec<DanglingReference>, StoreError>;

    /// Rows by state, for the gauges.
    async fn blob_counts(&self) -> Result<BlobCounts, StoreError>;

    /// Adds a row for a blob found in the blob store without one (fsck's
    /// repair), as a candidate, so the collector decides it.
    async fn adopt_blob(&self, digest: &Digest, size: u64) -> Result<bool, StoreError>;
}
