//! The garbage collector and the consistency check (`fsck`).
//!
//! A run works on what changed, not on what is stored: it finishes
//! deletions a previous run left half-done, records the references of
//! manifests stored before the collector existed, expires idle uploads,
//! and decides the candidates that events marked (see [`crate::gc`] for the
//! protocol that makes this safe beside writers on any replica). One object
//! that cannot be deleted or read is counted and reported; it never stops
//! the run. Any number of collectors may run at once (on every replica):
//! each decision is one transaction, and deleting an object twice is
//! harmless.

use crate::blob::BlobStore;
use crate::gc::{BlobState, DanglingReference, Verdict};
use crate::{Actor, AuditRecord, MetaStore, StoreError};
use cairn_core::Digest;
use futures::{StreamExt, TryStreamExt};
use std::collections::HashSet;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// How a run treats what is not referenced yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcSettings {
    /// A blob nothing references is kept this long after it was uploaded
    /// or last marked: the time a client has between uploading a layer and
    /// pushing the manifest that uses it. (Correctness does not depend on
    /// it: a manifest that names a collected blob is refused and the client
    /// uploads again.)
    pub grace_secs: u64,
    /// An upload session that received nothing for this long is cancelled.
    pub upload_ttl_secs: u64,
}

impl Default for GcSettings {
    fn default() -> Self {
        GcSettings {
            grace_secs: 3600,
            upload_ttl_secs: 24 * 3600,
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GcReport {
    /// Manifests whose references were recorded for the first time.
    pub manifests_indexed: u64,
    /// Upload sessions and staged uploads cancelled for being idle.
    pub uploads_expired: u64,
    /// Candidates decided.
    pub candidates: u64,
    /// Of those, still referenced (live again).
    pub kept: u64,
    /// Blobs deleted, and their bytes.
    pub deleted: u64,
    pub deleted_bytes: u64,
    /// Objects that could not be deleted or read (logged; retried next run).
    pub errors: u64,
    /// Whether the run stopped early because it was cancelled.
    pub cancelled: bool,
}

impl GcReport {
    /// Whether the run changed anything worth an audit entry.
    pub fn changed(&self) -> bool {
        self.deleted + self.uploads_expired + self.manifests_indexed > 0
    }

    pub fn summary(&self) -> String {
        format!(
            "deleted {} blobs ({} bytes), kept {} of {} candidates, expired {} uploads, indexed {} manifests, {} errors{}",
            self.deleted,
            self.deleted_bytes,
            self.kept,
            self.candidates,
            self.uploads_expired,
            self.manifests_indexed,
            self.errors,
            if self.cancelled { ", cancelled" } else { "" }
        )
    }
}

/// Rows handled per query.
const BATCH: u32 = 500;

pub struct Collector {
    meta: Arc<dyn MetaStore>,
    store: Arc<dyn BlobStore>,
    settings: GcSettings,
}

impl Collector {
    pub fn new(meta: Arc<dyn MetaStore>, store: Arc<dyn BlobStore>, settings: GcSettings) -> Self {
        Collector {
            meta,
            store,
            settings,
        }
    }

    /// One run. `progress` is called after each step with the counts so far.
    pub async fn run(
        &self,
        cancel: &CancellationToken,
        progress: &(dyn Fn(&str, &GcReport) + Send + Sync),
    ) -> Result<GcReport, StoreError> {
        let mut report = GcReport::default();
        self.finish_deletions(&mut report, cancel).await?;
        progress("finished earlier deletions", &report);
        let indexed = self.index_manifests(&mut report, cancel).await?;
        progress("indexed manifests", &report);
        self.expire_uploads(&mut report, cancel).await?;
        progress("expired uploads", &report);
        if indexed && !cancel.is_cancelled() {
            self.meta.assign_horizons().await?;
            self.decide_candidates(&mut report, cancel).await?;
            progress("decided candidates", &report);
        }
        report.cancelled = cancel.is_cancelled();
        if report.changed() {
            let entry = AuditRecord {
                detail: Some(report.summary()),
                ..AuditRecord::by(&Actor::local("system"), "gc.run", None, None, "ok")
            };
            self.meta.append_audit(&entry).await?;
        }
        metrics::counter!("cairn_gc_runs_total").increment(1);
        metrics::counter!("cairn_gc_deleted_blobs_total").increment(report.deleted);
        metrics::counter!("cairn_gc_deleted_bytes_total").increment(report.deleted_bytes);
        metrics::counter!("cairn_gc_errors_total").increment(report.errors);
        metrics::counter!("cairn_uploads_expired_total").increment(report.uploads_expired);
        Ok(report)
    }

    /// Deletes the object of every blob marked deleting, then its row. A
    /// run killed between marking and deleting leaves such rows; writers
    /// refuse them meanwhile.
    async fn finish_deletions(
        &self,
        report: &mut GcReport,
        cancel: &CancellationToken,
    ) -> Result<(), StoreError> {
        let mut failed: HashSet<Digest> = HashSet::new();
        loop {
            let batch = self.meta.deleting_blobs(BATCH).await?;
            let todo: Vec<Digest> = batch.into_iter().filter(|d| !failed.contains(d)).collect();
            if todo.is_empty() || cancel.is_cancelled() {
                return Ok(());
            }
            for d in todo {
                if !self.delete_object(&d, report).await? {
                    failed.insert(d);
                }
            }
        }
    }

    /// Deletes one condemned blob's object and row. Returns false (and
    /// counts an error) if the object store refused.
    async fn delete_object(&self, d: &Digest, report: &mut GcReport) -> Result<bool, StoreError> {
        match self.store.delete(d).await {
            Ok(()) => {
                self.meta.forget_blob(d).await?;
                tracing::debug!(digest = %d, "blob deleted");
                Ok(true)
            }
            Err(e) => {
                report.errors += 1;
                tracing::warn!(digest = %d, error = %e, "cannot delete a collected blob; the next run retries");
                Ok(false)
            }
        }
    }

    /// Only the indexing step (before a backup: its holds must cover the
    /// layers of manifests stored before the collector existed). Returns
    /// whether every manifest is indexed.
    pub async fn index_only(&self) -> Result<bool, StoreError> {
        let mut report = GcReport::default();
        self.index_manifests(&mut report, &CancellationToken::new())
            .await
    }

    /// Records the references of manifests stored before the collector
    /// existed. Returns whether every manifest is indexed: until then no
    /// candidate is decided, since an unindexed manifest's layers would
    /// look unreferenced.
    async fn index_manifests(
        &self,
        report: &mut GcReport,
        cancel: &CancellationToken,
    ) -> Result<bool, StoreError> {
        let mut unreadable: HashSet<(String, Digest)> = HashSet::new();
        loop {
            let batch = self.meta.unindexed_manifests(BATCH).await?;
            let todo: Vec<_> = batch
                .into_iter()
                .filter(|m| !unreadable.contains(&(m.repository.clone(), m.digest.clone())))
                .collect();
            if todo.is_empty() {
                return Ok(unreadable.is_empty());
            }
            if cancel.is_cancelled() {
                return Ok(false);
            }
            for m in todo {
                match self.read_references(&m.digest, &m.media_type).await {
                    Ok(refs) => {
                        self.meta
                            .index_manifest(&m.repository, &m.digest, &refs)
                            .await?;
                        report.manifests_indexed += 1;
                    }
                    Err(why) => {
                        report.errors += 1;
                        tracing::warn!(repository = %m.repository, digest = %m.digest, %why,
                            "cannot read a manifest's references; no blob is collected until it can be");
                        unreadable.insert((m.repository, m.digest));
                    }
                }
            }
        }
    }

    async fn read_references(&self, d: &Digest, media_type: &str) -> Result<Vec<Digest>, String> {
        let stream = self
            .store
            .read(d, None)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("its bytes are missing from the blob store")?;
        let chunks: Vec<bytes::Bytes> = stream.try_collect().await.map_err(|e| e.to_string())?;
        let parsed = cairn_core::manifest::parse_manifest(Some(media_type), &chunks.concat())
            .map_err(|e| e.to_string())?;
        Ok(parsed.references())
    }

    /// Cancels upload sessions and staged uploads idle longer than the TTL.
    async fn expire_uploads(
        &self,
        report: &mut GcReport,
        cancel: &CancellationToken,
    ) -> Result<(), StoreError> {
        let cutoff = crate::now() - self.settings.upload_ttl_secs as i64;
        let mut ids: HashSet<String> = self
            .store
            .stale_uploads(cutoff)
            .await
            .map_err(|e| StoreError::Database(Box::new(e)))?
            .into_iter()
            .collect();
        ids.extend(self.meta.idle_uploads(cutoff, 10 * BATCH).await?);
        for id in ids {
            if cancel.is_cancelled() {
                break;
            }
            match self.store.abort_upload(&id).await {
                Ok(()) => {
                    self.meta.delete_upload(&id).await?;
                    report.uploads_expired += 1;
                    tracing::info!(upload = %id, "idle upload expired");
                }
                Err(e) => {
                    report.errors += 1;
                    tracing::warn!(upload = %id, error = %e, "cannot remove an idle upload");
                }
            }
        }
        Ok(())
    }

    /// Decides every candidate that is past its grace period and horizon.
    async fn decide_candidates(
        &self,
        report: &mut GcReport,
        cancel: &CancellationToken,
    ) -> Result<(), StoreError> {
        let cutoff = crate::now() - self.settings.grace_secs as i64;
        let mut failed: HashSet<Digest> = HashSet::new();
        loop {
            let batch = self.meta.due_candidates(cutoff, BATCH).await?;
            let todo: Vec<Digest> = batch.into_iter().filter(|d| !failed.contains(d)).collect();
            if todo.is_empty() || cancel.is_cancelled() {
                return Ok(());
            }
            for d in todo {
                if cancel.is_cancelled() {
                    return Ok(());
                }
                report.candidates += 1;
                match self.meta.condemn(&d).await? {
                    Verdict::Kept => report.kept += 1,
                    Verdict::Skipped => {}
                    Verdict::Paused => {
                        tracing::info!("a backup is running: candidates are decided after it");
                        report.candidates -= 1;
                        return Ok(());
                    }
                    Verdict::Condemned { size } => {
                        if self.delete_object(&d, report).await? {
                            report.deleted += 1;
                            report.deleted_bytes += size;
                        } else {
                            failed.insert(d);
                        }
                    }
                }
            }
        }
    }
}

/// What `fsck` found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FsckReport {
    /// Blob rows checked against the blob store.
    pub rows: u64,
    /// Objects listed in the blob store.
    pub objects: u64,
    /// Live rows whose object is missing.
    pub missing: Vec<String>,
    /// Objects whose bytes do not hash to their digest (with `rehash`).
    pub corrupt: Vec<String>,
    /// Rows whose object has another size than recorded.
    pub wrong_size: Vec<String>,
    /// References to blobs with no row, or one being deleted.
    pub dangling: Vec<String>,
    /// Objects no row accounts for.
    pub orphans: Vec<String>,
    /// Orphans given a row as candidates (with `repair`), for the collector.
    pub adopted: u64,
    /// Stopped before the end (its findings are those of the part checked).
    pub cancelled: bool,
}

impl FsckReport {
    pub fn clean(&self) -> bool {
        self.missing.is_empty()
            && self.corrupt.is_empty()
            && self.wrong_size.is_empty()
            && self.dangling.is_empty()
            && (self.orphans.is_empty() || self.adopted == self.orphans.len() as u64)
            && !self.cancelled
    }
}

/// At most this many findings of each kind are listed.
const FINDINGS: usize = 1000;

/// Checks both directions: metadata naming blobs that are missing, and
/// blobs nothing accounts for; with `rehash`, every blob's bytes against
/// its digest; with `repair`, orphans become candidates the collector then
/// decides (nothing referenced is ever deleted by fsck). `cancel` stops it
/// between batches (a report so marked covers what was checked).
pub async fn fsck(
    meta: &dyn MetaStore,
    store: &dyn BlobStore,
    rehash: bool,
    repair: bool,
    cancel: &CancellationToken,
    progress: &(dyn Fn(&FsckReport) + Send + Sync),
) -> Result<FsckReport, StoreError> {
    let io = |e: std::io::Error| StoreError::Database(Box::new(e));
    let mut report = FsckReport::default();
    let mut known: HashSet<Digest> = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        if cancel.is_cancelled() {
            report.cancelled = true;
            return Ok(report);
        }
        let rows = meta.blob_rows(after.as_deref(), BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.0.to_string());
        for (d, size, state) in rows {
            report.rows += 1;
            known.insert(d.clone());
            if state != BlobState::Live {
                // A candidate's bytes may still be on their way (its row is
                // written first); one being deleted is the collector's.
                continue;
            }
            match store.stat(&d).await.map_err(io)? {
                None => push(&mut report.missing, format!("{d} ({})", state.as_str())),
                Some(n) if size.is_some_and(|s| s != n) => push(
                    &mut report.wrong_size,
                    format!(
                        "{d}: recorded {} bytes, stored {n}",
                        size.unwrap_or_default()
                    ),
                ),
                Some(_) if rehash => {
                    if !hashes_to(store, &d).await.map_err(io)? {
                        push(&mut report.corrupt, d.to_string());
                    }
                }
                Some(_) => {}
            }
        }
        progress(&report);
    }
    for DanglingReference {
        kind,
        holder,
        digest,
    } in meta.dangling_references(FINDINGS as u32).await?
    {
        push(&mut report.dangling, format!("{kind} {holder} -> {digest}"));
    }
    let mut objects = store.list_blobs().await.map_err(io)?;
    while let Some((d, size)) = objects.next().await.transpose().map_err(io)? {
        report.objects += 1;
        if known.contains(&d) {
            continue;
        }
        // Published after the rows were read? Then it has a row by now.
        if meta.blob_state(&d).await?.is_some() {
            continue;
        }
        push(&mut report.orphans, d.to_string());
        if repair && meta.adopt_blob(&d, size).await? {
            report.adopted += 1;
        }
    }
    progress(&report);
    Ok(report)
}

fn push(list: &mut Vec<String>, item: String) {
    if list.len() < FINDINGS {
        list.push(item);
    }
}

pub(crate) async fn hashes_to(store: &dyn BlobStore, d: &Digest) -> std::io::Result<bool> {
    let Some(mut stream) = store.read(d, None).await? else {
        return Ok(false);
    };
    let mut h = d.algorithm().hasher();
    while let Some(chunk) = stream.next().await {
        h.update(&chunk?);
    }
    Ok(&h.finish() == d)
}
