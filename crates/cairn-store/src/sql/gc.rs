//! The garbage-collection aggregate's SQL: the `blobs` rows, the claim every
//! referencing write makes in its own transaction, the candidate marks
//! events leave, and the collector's decision (see [`crate::gc`]).

use super::{digest, now, SqlMetaStore};
use crate::gc::{BlobCounts, BlobState, DanglingReference, GcStore, UnindexedManifest, Verdict};
use crate::StoreError;
use async_trait::async_trait;
use cairn_core::Digest;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeSet;

/// What a write does to the blobs it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Claim {
    /// Refers to them (a manifest, a package file, a proxy cache entry):
    /// a candidate becomes live.
    Reference,
    /// Links them into an OCI repository, which does not keep a blob by
    /// itself: a candidate stays one, with its grace period renewed.
    Link,
}

/// `$first, $first+1, …` for `n` values.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn state(s: &str) -> Result<BlobState, StoreError> {
    BlobState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("blob state {s:?}")))
}

/// The sizes of the blobs a write names (an unknown size counts 0), by
/// digest: what [`super::usage::count_added`] adds to the storage numbers.
pub(super) type Sizes = std::collections::BTreeMap<String, i64>;

/// The states and sizes of `digests` (absent ones are left out), read in `tx`.
async fn states(
    tx: &mut AnyConnection,
    digests: &[String],
) -> Result<Vec<(String, BlobState, i64)>, StoreError> {
    let mut out = Vec::with_capacity(digests.len());
    for chunk in digests.chunks(200) {
        let sql = format!(
            "SELECT digest, state, size FROM blobs WHERE digest IN ({})",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for d in chunk {
            q = q.bind(d);
        }
        for row in q.fetch_all(&mut *tx).await? {
            let s: String = row.try_get("state")?;
            let size: i64 = row.try_get("size")?;
            out.push((row.try_get("digest")?, state(&s)?, size.max(0)));
        }
    }
    Ok(out)
}

/// [`Sizes`] of the stored blobs among `digests`, read in `tx` (for a
/// write that names blobs without claiming them).
pub(super) async fn sizes_of(
    tx: &mut AnyConnection,
    digests: &[String],
) -> Result<Sizes, StoreError> {
    Ok(states(tx, digests)
        .await?
        .into_iter()
        .filter(|(_, s, _)| *s != BlobState::Deleting)
        .map(|(d, _, n)| (d, n))
        .collect())
}

/// Checks, in a writer's transaction and after the writer's own rows are
/// written, that every blob it names is still stored: a live row is left
/// alone, a candidate is claimed (taking its row lock, which the collector's
/// decision also takes), and a row being deleted or gone refuses the write.
///
/// On PostgreSQL the transaction first takes its transaction id, so that
/// the collector's horizon covers it if this read might miss a mark.
/// Returns the blobs' sizes.
pub(super) async fn claim(
    tx: &mut AnyConnection,
    postgres: bool,
    digests: &[String],
    how: Claim,
) -> Result<Sizes, StoreError> {
    let mut sizes = Sizes::new();
    if digests.is_empty() {
        return Ok(sizes);
    }
    if postgres {
        sqlx::query("SELECT CAST(pg_current_xact_id() AS TEXT)")
            .fetch_one(&mut *tx)
            .await?;
    }
    let wanted: BTreeSet<&String> = digests.iter().collect();
    let mut found = states(tx, digests).await?;
    // Row locks in one order everywhere, so two writers never deadlock.
    found.sort_by(|a, b| a.0.cmp(&b.0));
    for d in &wanted {
        if !found.iter().any(|(f, _, _)| f == *d) {
            return Err(StoreError::BlobUnknown(d.to_string()));
        }
    }
    for (d, s, size) in found {
        sizes.insert(d.clone(), size);
        match s {
            BlobState::Live => {}
            BlobState::Deleting => return Err(StoreError::BlobUnknown(d)),
            BlobState::Candidate => {
                let q = match how {
                    Claim::Reference => sqlx::query(
                        "UPDATE blobs SET state = 'live', candidate_at = NULL, horizon = NULL
                         WHERE digest = $1 AND state = 'candidate'",
                    )
                    .bind(&d),
                    Claim::Link => sqlx::query(
                        "UPDATE blobs SET candidate_at = $2, horizon = NULL
                         WHERE digest = $1 AND state = 'candidate'",
                    )
                    .bind(&d)
                    .bind(now()),
                };
                if q.execute(&mut *tx).await?.rows_affected() == 0 {
                    // Changed while this transaction waited for the row:
                    // rescued by another writer (fine), or condemned.
                    let now_state = states(tx, std::slice::from_ref(&d)).await?;
                    if !matches!(now_state.first(), Some((_, BlobState::Live, _))) {
                        return Err(StoreError::BlobUnknown(d));
                    }
                }
            }
        }
    }
    Ok(sizes)
}

/// Marks blobs that an event may have left unreferenced as candidates, in
/// the event's transaction. Rows already candidates or being deleted are
/// left as they are.
pub(super) async fn mark_candidates(
    tx: &mut AnyConnection,
    digests: &[String],
) -> Result<(), StoreError> {
    let at = now();
    // One row at a time, in digest order: row locks are taken in one order
    // everywhere, so two events on shared blobs never deadlock.
    let sorted: BTreeSet<&String> = digests.iter().collect();
    for d in sorted {
        sqlx::query(
            "UPDATE blobs SET state = 'candidate', candidate_at = $1, horizon = NULL
             WHERE state = 'live' AND digest = $2",
        )
        .bind(at)
        .bind(d)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Records what a manifest refers to, in the transaction that stores it.
pub(super) async fn record_manifest_refs(
    tx: &mut AnyConnection,
    repository: &str,
    manifest: &str,
    references: &[String],
) -> Result<(), StoreError> {
    for r in references {
        sqlx::query(
            "INSERT INTO manifest_blobs (repository, manifest, digest) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(repository)
        .bind(manifest)
        .bind(r)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE manifests SET refs_indexed = 1 WHERE repository = $1 AND digest = $2")
        .bind(repository)
        .bind(manifest)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Whether anything still refers to `digest`: a manifest's own bytes,
/// a manifest's reference, a package file, a proxy cache entry, a
/// retained backup's hold.
const REFERENCED: &str = "SELECT CASE WHEN
       EXISTS (SELECT 1 FROM manifests WHERE digest = $1)
    OR EXISTS (SELECT 1 FROM manifest_blobs WHERE digest = $1)
    OR EXISTS (SELECT 1 FROM package_files WHERE digest = $1 AND gone_at IS NULL)
    OR EXISTS (SELECT 1 FROM package_files WHERE companion = $1 AND gone_at IS NULL)
    OR EXISTS (SELECT 1 FROM proxy_cache WHERE digest = $1)
    OR EXISTS (SELECT 1 FROM backup_blobs WHERE digest = $1)
    OR EXISTS (SELECT 1 FROM sboms WHERE digest = $1)
    THEN 1 ELSE 0 END";

/// The dangling-reference queries of fsck: each table that names blobs,
/// joined to the blob rows.
const DANGLING: [(&str, &str); 7] = [
    (
        "manifest",
        "SELECT m.repository AS holder, m.digest AS digest FROM manifests m
         LEFT JOIN blobs b ON b.digest = m.digest
         WHERE b.digest IS NULL OR b.state = 'deleting' LIMIT $1",
    ),
    (
        "manifest-ref",
        "SELECT r.repository || ' ' || r.manifest AS holder, r.digest AS digest FROM manifest_blobs r
         LEFT JOIN blobs b ON b.digest = r.digest
         WHERE b.digest IS NULL OR b.state = 'deleting' LIMIT $1",
    ),
    (
        "package-file",
        "SELECT f.format || '/' || f.repository || ' ' || f.filename AS holder, f.digest AS digest
         FROM package_files f LEFT JOIN blobs b ON b.digest = f.digest
         WHERE f.gone_at IS NULL AND (b.digest IS NULL OR b.state = 'deleting') LIMIT $1",
    ),
    (
        "package-file-companion",
        "SELECT f.format || '/' || f.repository || ' ' || f.filename AS holder, f.companion AS digest
         FROM package_files f LEFT JOIN blobs b ON b.digest = f.companion
         WHERE f.companion IS NOT NULL AND f.gone_at IS NULL
           AND (b.digest IS NULL OR b.state = 'deleting') LIMIT $1",
    ),
    (
        "proxy-cache",
        "SELECT c.repository || ' ' || c.cache_key AS holder, c.digest AS digest
         FROM proxy_cache c LEFT JOIN blobs b ON b.digest = c.digest
         WHERE c.digest IS NOT NULL AND (b.digest IS NULL OR b.state = 'deleting') LIMIT $1",
    ),
    (
        "package-sbom",
        "SELECT s.format || '/' || s.repository || ' ' || s.subject || '@' || s.version AS holder,
                s.digest AS digest
         FROM sboms s LEFT JOIN blobs b ON b.digest = s.digest
         WHERE s.format <> 'oci' AND (b.digest IS NULL OR b.state = 'deleting') LIMIT $1",
    ),
    (
        "link",
        "SELECT l.repository AS holder, l.digest AS digest FROM blob_links l
         LEFT JOIN blobs b ON b.digest = l.digest
         WHERE b.digest IS NULL OR b.state = 'deleting' LIMIT $1",
    ),
];

#[async_trait]
impl GcStore for SqlMetaStore {
    async fn intend_blob(
        &self,
        digest: &Digest,
        size: u64,
    ) -> Result<Option<BlobState>, StoreError> {
        let d = digest.to_string();
        // The hot path: a blob that is live needs no write at all.
        if let Some(s) = self.blob_state(digest).await? {
            if s != BlobState::Candidate {
                return Ok(Some(s));
            }
        }
        let mut tx = self.writer.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO blobs (digest, size, state, candidate_at) VALUES ($1, $2, 'candidate', $3)
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(&d)
        .bind(size as i64)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            tx.commit().await?;
            return Ok(None);
        }
        sqlx::query(
            "UPDATE blobs SET candidate_at = $2, horizon = NULL WHERE digest = $1 AND state = 'candidate'",
        )
        .bind(&d)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let found = states(&mut tx, std::slice::from_ref(&d)).await?;
        tx.commit().await?;
        Ok(found.first().map(|(_, s, _)| *s))
    }

    async fn blob_state(&self, digest: &Digest) -> Result<Option<BlobState>, StoreError> {
        let s: Option<String> = sqlx::query_scalar("SELECT state FROM blobs WHERE digest = $1")
            .bind(digest.to_string())
            .fetch_optional(&self.reader)
            .await?;
        s.as_deref().map(state).transpose()
    }

    async fn assign_horizons(&self) -> Result<u64, StoreError> {
        // One statement: its snapshot decides which marks it sees, and the
        // transaction id it takes is assigned after that snapshot, so every
        // transaction with a later id reads the mark.
        // The rows are locked in digest order, as every writer locks them.
        let sql = if self.shared_pool {
            "UPDATE blobs SET horizon = CAST(CAST(pg_current_xact_id() AS TEXT) AS BIGINT)
             WHERE digest IN (SELECT digest FROM blobs WHERE state = 'candidate' AND horizon IS NULL
                              ORDER BY digest FOR UPDATE)"
        } else {
            // SQLite runs one writer at a time: no transaction can be
            // between reading a state and committing while this runs.
            "UPDATE blobs SET horizon = 0 WHERE state = 'candidate' AND horizon IS NULL"
        };
        Ok(sqlx::query(sql)
            .execute(&self.writer)
            .await?
            .rows_affected())
    }

    async fn due_candidates(&self, cutoff: i64, limit: u32) -> Result<Vec<Digest>, StoreError> {
        let sql = if self.shared_pool {
            // Every transaction up to the horizon has ended.
            "SELECT digest FROM blobs WHERE state = 'candidate' AND candidate_at <= $1
               AND horizon IS NOT NULL
               AND horizon < CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS TEXT) AS BIGINT)
             ORDER BY candidate_at LIMIT $2"
        } else {
            "SELECT digest FROM blobs WHERE state = 'candidate' AND candidate_at <= $1
               AND horizon IS NOT NULL ORDER BY candidate_at LIMIT $2"
        };
        let rows: Vec<String> = sqlx::query_scalar(sql)
            .bind(cutoff)
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await?;
        rows.iter().map(|d| digest(d)).collect()
    }

    async fn condemn(&self, digest: &Digest) -> Result<Verdict, StoreError> {
        let d = digest.to_string();
        let mut tx = self.writer.begin().await?;
        // The row lock first (a no-op update): a writer claiming this blob
        // holds it until it commits, so the check below, a new statement,
        // sees that writer's references.
        let locked =
            sqlx::query("UPDATE blobs SET state = state WHERE digest = $1 AND state = 'candidate'")
                .bind(&d)
                .execute(&mut *tx)
                .await?;
        if locked.rows_affected() == 0 {
            return Ok(Verdict::Skipped);
        }
        // A backup between its snapshot and its holds: decide nothing.
        let running: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM backups WHERE state = 'running'")
                .fetch_one(&mut *tx)
                .await?;
        if running > 0 {
            return Ok(Verdict::Paused);
        }
        let used: i64 = sqlx::query_scalar(REFERENCED)
            .bind(&d)
            .fetch_one(&mut *tx)
            .await?;
        if used != 0 {
            sqlx::query(
                "UPDATE blobs SET state = 'live', candidate_at = NULL, horizon = NULL WHERE digest = $1",
            )
            .bind(&d)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Verdict::Kept);
        }
        let size: i64 = sqlx::query_scalar("SELECT size FROM blobs WHERE digest = $1")
            .bind(&d)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM blob_links WHERE digest = $1")
            .bind(&d)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE blobs SET state = 'deleting' WHERE digest = $1")
            .bind(&d)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Verdict::Condemned {
            size: size.max(0) as u64,
        })
    }

    async fn deleting_blobs(&self, limit: u32) -> Result<Vec<Digest>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT digest FROM blobs WHERE state = 'deleting' ORDER BY digest LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await?;
        rows.iter().map(|d| digest(d)).collect()
    }

    async fn forget_blob(&self, digest: &Digest) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM blobs WHERE digest = $1 AND state = 'deleting'")
            .bind(digest.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn idle_uploads(&self, cutoff: i64, limit: u32) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM uploads WHERE touched_at < $1 ORDER BY touched_at LIMIT $2",
        )
        .bind(cutoff)
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await?)
    }

    async fn touch_upload(&self, id: &str, staged: u64) -> Result<(), StoreError> {
        sqlx::query("UPDATE uploads SET touched_at = $2, bytes = $3 WHERE id = $1")
            .bind(id)
            .bind(now())
            .bind(staged as i64)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn unindexed_manifests(&self, limit: u32) -> Result<Vec<UnindexedManifest>, StoreError> {
        let rows = sqlx::query(
            "SELECT repository, digest, media_type FROM manifests WHERE refs_indexed = 0 LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UnindexedManifest {
                    repository: r.try_get("repository")?,
                    digest: digest(r.try_get("digest")?)?,
                    media_type: r.try_get("media_type")?,
                })
            })
            .collect()
    }

    async fn index_manifest(
        &self,
        repository: &str,
        digest: &Digest,
        references: &[Digest],
    ) -> Result<(), StoreError> {
        let refs: Vec<String> = references.iter().map(Digest::to_string).collect();
        let mut tx = self.writer.begin().await?;
        record_manifest_refs(&mut tx, repository, &digest.to_string(), &refs).await?;
        let sizes = sizes_of(&mut tx, &refs).await?;
        super::usage::count_added(&mut tx, self.shared_pool, repository, &sizes, false).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn blob_rows(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(Digest, Option<u64>, BlobState)>, StoreError> {
        let rows = sqlx::query(
            "SELECT digest, size, state FROM blobs WHERE digest > $1 ORDER BY digest LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let s: String = r.try_get("state")?;
                let size = r.try_get::<i64, _>("size")?;
                Ok((
                    digest(r.try_get("digest")?)?,
                    u64::try_from(size).ok(),
                    state(&s)?,
                ))
            })
            .collect()
    }

    async fn dangling_references(&self, limit: u32) -> Result<Vec<DanglingReference>, StoreError> {
        let mut out = Vec::new();
        for (kind, sql) in DANGLING {
            for r in sqlx::query(sql)
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await?
            {
                out.push(DanglingReference {
                    kind,
                    holder: r.try_get("holder")?,
                    digest: digest(r.try_get("digest")?)?,
                });
            }
        }
        Ok(out)
    }

    async fn blob_counts(&self) -> Result<BlobCounts, StoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes
             FROM blobs GROUP BY state",
        )
        .fetch_all(&self.reader)
        .await?;
        let mut c = BlobCounts::default();
        for r in rows {
            let s: String = r.try_get("state")?;
            let n = r.try_get::<i64, _>("n")?.max(0) as u64;
            let bytes = r.try_get::<i64, _>("bytes")?.max(0) as u64;
            match state(&s)? {
                BlobState::Live => (c.live, c.live_bytes) = (n, bytes),
                BlobState::Candidate => (c.candidates, c.candidate_bytes) = (n, bytes),
                BlobState::Deleting => (c.deleting, c.deleting_bytes) = (n, bytes),
            }
        }
        let uploads = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(bytes), 0) AS BIGINT) AS bytes FROM uploads",
        )
        .fetch_one(&self.reader)
        .await?;
        c.uploads = uploads.try_get::<i64, _>("n")?.max(0) as u64;
        c.upload_bytes = uploads.try_get::<i64, _>("bytes")?.max(0) as u64;
        Ok(c)
    }

    async fn adopt_blob(&self, digest: &Digest, size: u64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO blobs (digest, size, state, candidate_at) VALUES ($1, $2, 'candidate', $3)
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(digest.to_string())
        .bind(size as i64)
        .bind(now())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
