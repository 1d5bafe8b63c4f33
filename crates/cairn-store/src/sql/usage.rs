//! Storage numbers kept as writes happen, and the quota check (see
//! [`crate::storage`]).
//!
//! `scope_blobs` holds a row for every blob each scope references (a
//! repository, and every namespace above it: [`cairn_core::quota::scopes_of`]);
//! `scope_usage` holds each scope's sums. A referencing write adds the rows
//! its blobs lack, in its own transaction and after its claim
//! ([`count_added`]); an event that drops references removes the rows whose
//! scope no longer references the blob ([`count_removed`]).
//!
//! The two serialise on the `scope_blobs` row, as writes and the collector
//! do on the `blobs` row: a writer takes a shared lock on each row it finds
//! (PostgreSQL `FOR SHARE`, so writers never wait for each other), and a
//! remover takes it exclusively before it looks for other references with a
//! fresh statement. A writer that got its lock first has committed its
//! references by the time the remover looks; a writer that comes after a
//! removal finds no row and adds one. On SQLite writers are serialised
//! anyway. Rows are locked in (scope, digest) order everywhere, after blob
//! rows; `scope_usage` rows last, in scope order.

use super::gc::Sizes;
use super::{now, SqlMetaStore};
use crate::StoreError;
use cairn_core::quota::{self, QuotaExceeded};
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet};

/// Changes to one scope's sums.
#[derive(Debug, Default, Clone, Copy)]
struct Delta {
    logical: i64,
    unique: i64,
    blobs: i64,
}

/// Every (scope, blob) reference a repository makes: manifests, what they
/// reference, package files and their companions, proxy cache entries,
/// package SBOMs (an image's SBOM is a blob its artifact references). The
/// same references [`REFERENCED_IN`] asks about one blob.
pub(super) const SCOPE_REFS: &str = "
        SELECT repository AS scope, digest FROM manifests
        UNION SELECT repository, digest FROM manifest_blobs
        UNION SELECT format || '/' || repository, digest FROM package_files WHERE gone_at IS NULL
        UNION SELECT format || '/' || repository, companion FROM package_files
                WHERE companion IS NOT NULL AND gone_at IS NULL
        UNION SELECT repository, digest FROM proxy_cache WHERE digest IS NOT NULL
        UNION SELECT format || '/' || repository, digest FROM sboms WHERE format <> 'oci'";

/// Whether `digest` is still referenced inside a scope: by name for a
/// repository, by prefix for a namespace (`$3` = 1). The same references
/// the collector checks, less the backups' holds, which belong to no scope.
const REFERENCED_IN: &str = "SELECT CASE WHEN
       EXISTS (SELECT 1 FROM manifests WHERE digest = $1
               AND (repository = $2 OR ($3 = 1 AND substr(repository, 1, length($2)) = $2)))
    OR EXISTS (SELECT 1 FROM manifest_blobs WHERE digest = $1
               AND (repository = $2 OR ($3 = 1 AND substr(repository, 1, length($2)) = $2)))
    OR EXISTS (SELECT 1 FROM package_files WHERE (digest = $1 OR companion = $1) AND gone_at IS NULL
               AND (format || '/' || repository = $2
                    OR ($3 = 1 AND substr(format || '/' || repository, 1, length($2)) = $2)))
    OR EXISTS (SELECT 1 FROM proxy_cache WHERE digest = $1
               AND (repository = $2 OR ($3 = 1 AND substr(repository, 1, length($2)) = $2)))
    OR EXISTS (SELECT 1 FROM sboms WHERE digest = $1 AND format <> 'oci'
               AND (format || '/' || repository = $2
                    OR ($3 = 1 AND substr(format || '/' || repository, 1, length($2)) = $2)))
    THEN 1 ELSE 0 END";

/// Counts the blobs of `sizes` (as the claim read them) as referenced by
/// `repository` (a scope name: `team/app`, `npm/main`), in the transaction
/// of the write that references them and after its claim. With `enforce`, a scope whose unique bytes this write
/// would take past its quota refuses the write
/// ([`StoreError::Quota`]; the caller's transaction is then dropped).
pub(super) async fn count_added(
    tx: &mut AnyConnection,
    postgres: bool,
    repository: &str,
    sizes: &Sizes,
    enforce: bool,
) -> Result<(), StoreError> {
    if sizes.is_empty() {
        return Ok(());
    }
    let scopes = quota::scopes_of(repository);
    // On PostgreSQL the rows present are locked (shared) in one statement,
    // in order. On SQLite, whose writers take turns, the insert below
    // tells the present ones from the new.
    let mut present: BTreeSet<(String, String)> = BTreeSet::new();
    if postgres {
        let sql = format!(
            "SELECT scope, digest FROM scope_blobs WHERE scope IN ({}) AND digest IN ({})
             ORDER BY scope, digest FOR SHARE",
            super::gc::placeholders(1, scopes.len()),
            super::gc::placeholders(1 + scopes.len(), sizes.len()),
        );
        let mut q = sqlx::query(&sql);
        for s in &scopes {
            q = q.bind(s);
        }
        for d in sizes.keys() {
            q = q.bind(d);
        }
        for row in q.fetch_all(&mut *tx).await? {
            present.insert((row.try_get("scope")?, row.try_get("digest")?));
        }
    }
    // The missing ones, added in one statement in the same order; a row
    // another writer added meanwhile is locked like the present ones.
    let missing: Vec<(&String, &String, i64)> = scopes
        .iter()
        .flat_map(|s| sizes.iter().map(move |(d, n)| (s, d, *n)))
        .filter(|(s, d, _)| !present.contains(&((*s).clone(), (*d).clone())))
        .collect();
    let mut added: BTreeSet<(String, String)> = BTreeSet::new();
    for chunk in missing.chunks(300) {
        let values = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO scope_blobs (scope, digest, size) VALUES {values}
             ON CONFLICT DO NOTHING RETURNING scope, digest"
        );
        let mut q = sqlx::query(&sql);
        for (s, d, n) in chunk {
            q = q.bind(*s).bind(*d).bind(*n);
        }
        for row in q.fetch_all(&mut *tx).await? {
            added.insert((row.try_get("scope")?, row.try_get("digest")?));
        }
    }
    let mut deltas: BTreeMap<String, Delta> = BTreeMap::new();
    for (scope, d, size) in missing {
        let new = added.contains(&(scope.clone(), d.clone()))
            || (postgres && add_row(tx, scope, d, size).await?);
        if !new {
            continue;
        }
        let delta = deltas.entry(scope.clone()).or_default();
        delta.unique += size;
        delta.blobs += 1;
        if scope == repository {
            for s in &scopes {
                deltas.entry(s.clone()).or_default().logical += size;
            }
        }
    }
    let totals = apply(tx, &deltas).await?;
    if enforce {
        check_quotas(&deltas, &totals)?;
    }
    Ok(())
}

/// PostgreSQL: adds the row (scope, digest) that a concurrent writer's
/// insert hid from this one's; false if that writer's row is there (then
/// locked, shared, like the rows found present).
async fn add_row(
    tx: &mut AnyConnection,
    scope: &str,
    digest: &str,
    size: i64,
) -> Result<bool, StoreError> {
    loop {
        let added = sqlx::query(
            "INSERT INTO scope_blobs (scope, digest, size) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(scope)
        .bind(digest)
        .bind(size)
        .execute(&mut *tx)
        .await?;
        if added.rows_affected() == 1 {
            return Ok(true);
        }
        let found =
            sqlx::query("SELECT 1 FROM scope_blobs WHERE scope = $1 AND digest = $2 FOR SHARE")
                .bind(scope)
                .bind(digest)
                .fetch_optional(&mut *tx)
                .await?;
        if found.is_some() {
            return Ok(false);
        }
        // Removed between the insert and the read: insert again.
    }
}

/// Uncounts `digests` from `repository`'s scopes where nothing else in the
/// scope references them any more, in the transaction of the event that
/// dropped the references (after its own deletes and its marks).
pub(super) async fn count_removed(
    tx: &mut AnyConnection,
    postgres: bool,
    repository: &str,
    digests: &[String],
) -> Result<(), StoreError> {
    let wanted: BTreeSet<&String> = digests.iter().collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let scopes = quota::scopes_of(repository);
    let lock = if postgres { " FOR UPDATE" } else { "" };
    let mut deltas: BTreeMap<String, Delta> = BTreeMap::new();
    for scope in &scopes {
        let namespace = i64::from(quota::is_namespace(scope));
        for d in &wanted {
            let size: Option<i64> = sqlx::query_scalar(&format!(
                "SELECT size FROM scope_blobs WHERE scope = $1 AND digest = $2{lock}"
            ))
            .bind(scope)
            .bind(*d)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(size) = size else { continue };
            let referenced: i64 = sqlx::query_scalar(REFERENCED_IN)
                .bind(*d)
                .bind(scope)
                .bind(namespace)
                .fetch_one(&mut *tx)
                .await?;
            if referenced == 1 {
                continue;
            }
            sqlx::query("DELETE FROM scope_blobs WHERE scope = $1 AND digest = $2")
                .bind(scope)
                .bind(*d)
                .execute(&mut *tx)
                .await?;
            let delta = deltas.entry(scope.clone()).or_default();
            delta.unique -= size;
            delta.blobs -= 1;
            if scope == repository {
                for s in &scopes {
                    deltas.entry(s.clone()).or_default().logical -= size;
                }
            }
        }
    }
    apply(tx, &deltas).await?;
    Ok(())
}

/// Each changed scope's unique bytes after a write, and its quota if any.
type Totals = BTreeMap<String, (i64, Option<i64>)>;

/// Adds `deltas` to the scopes' sums, in one statement (rows in scope
/// order); the new unique bytes of each scope changed, with its quota.
async fn apply(
    tx: &mut AnyConnection,
    deltas: &BTreeMap<String, Delta>,
) -> Result<Totals, StoreError> {
    let mut totals = BTreeMap::new();
    let all: Vec<(&String, &Delta)> = deltas.iter().collect();
    for chunk in all.chunks(200) {
        let values = (0..chunk.len())
            .map(|i| {
                let b = 4 * i;
                format!("(${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO scope_usage (scope, logical, unique_bytes, blobs) VALUES {values}
             ON CONFLICT (scope) DO UPDATE SET
                 logical = scope_usage.logical + excluded.logical,
                 unique_bytes = scope_usage.unique_bytes + excluded.unique_bytes,
                 blobs = scope_usage.blobs + excluded.blobs
             RETURNING scope, unique_bytes,
                 (SELECT q.max_unique_bytes FROM quotas q WHERE q.scope = scope_usage.scope) AS max_bytes"
        );
        let mut q = sqlx::query(&sql);
        for (scope, d) in chunk {
            q = q.bind(*scope).bind(d.logical).bind(d.unique).bind(d.blobs);
        }
        for row in q.fetch_all(&mut *tx).await? {
            totals.insert(
                row.try_get("scope")?,
                (row.try_get("unique_bytes")?, row.try_get("max_bytes")?),
            );
        }
    }
    Ok(totals)
}

/// Refuses if a scope this write grew is past its quota. The scope's
/// `scope_usage` row is locked by [`apply`] (which read the quotas too), so
/// two writers into one scope check one after the other: the reservation
/// is atomic.
fn check_quotas(deltas: &BTreeMap<String, Delta>, totals: &Totals) -> Result<(), StoreError> {
    for (scope, (unique, limit)) in totals {
        let (Some(limit), Some(delta)) = (limit, deltas.get(scope)) else {
            continue;
        };
        let adding = delta.unique.max(0) as u64;
        let after = (*unique).max(0) as u64;
        quota::check(
            scope,
            (*limit).max(0) as u64,
            after.saturating_sub(adding),
            adding,
        )
        .inspect_err(note_refusal)?;
    }
    Ok(())
}

/// Whether `size` more unique bytes in `repository`'s scopes would pass a
/// quota, for a blob the repository does not reference yet: the early
/// refusal of an upload whose image could never be stored. Not a
/// reservation (the write that references the blob makes that), so it is
/// read outside the writer's transaction.
pub(super) async fn room_for(
    pool: &sqlx::AnyPool,
    repository: &str,
    digest: &str,
    size: u64,
) -> Result<(), QuotaExceeded> {
    let check = async {
        let scopes = quota::scopes_of(repository);
        let sql = format!(
            "SELECT q.scope AS scope, q.max_unique_bytes AS max_bytes,
                    COALESCE(u.unique_bytes, 0) AS used,
                    (SELECT COUNT(*) FROM scope_blobs b WHERE b.scope = q.scope AND b.digest = $1) AS has
             FROM quotas q LEFT JOIN scope_usage u ON u.scope = q.scope
             WHERE q.scope IN ({})",
            super::gc::placeholders(2, scopes.len())
        );
        let mut q = sqlx::query(&sql).bind(digest);
        for s in &scopes {
            q = q.bind(s);
        }
        let rows = q.fetch_all(pool).await?;
        let mut out = Vec::new();
        for row in rows {
            let has: i64 = row.try_get("has")?;
            if has == 0 {
                out.push((
                    row.try_get::<String, _>("scope")?,
                    row.try_get::<i64, _>("max_bytes")?.max(0) as u64,
                    row.try_get::<i64, _>("used")?.max(0) as u64,
                ));
            }
        }
        Ok::<_, StoreError>(out)
    };
    // A failure to read is not a refusal: the manifest's write checks again.
    for (scope, limit, used) in check.await.unwrap_or_default() {
        quota::check(&scope, limit, used, size).inspect_err(note_refusal)?;
    }
    Ok(())
}

/// Logs and counts a quota's refusal, where it is decided.
fn note_refusal(q: &QuotaExceeded) {
    tracing::info!(scope = %q.scope, limit = q.limit, used = q.used, adding = q.adding, "quota refused a write");
    metrics::counter!("cairn_quota_refusals_total", "scope" => q.scope.clone()).increment(1);
}

/// Rebuilds every scope's rows and sums from the references, if they were
/// never built (`force` rebuilds anyway: `cairn storage --recount`). On
/// PostgreSQL the table lock makes referencing writes wait: one that
/// committed before is in what this reads, one that goes on after finds the
/// new rows.
pub(super) async fn rebuild(store: &SqlMetaStore, force: bool) -> Result<bool, StoreError> {
    let built = "SELECT value FROM settings WHERE key = 'usage_built'";
    // Looked up first without the lock, so that a replica starting beside
    // running ones does not make their writes wait for nothing.
    if !force
        && sqlx::query_scalar::<_, String>(built)
            .fetch_optional(&store.writer)
            .await?
            .is_some()
    {
        return Ok(false);
    }
    let mut tx = store.writer.begin().await?;
    if store.shared_pool {
        sqlx::query("LOCK TABLE scope_blobs IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
    }
    let built: Option<String> = sqlx::query_scalar(built).fetch_optional(&mut *tx).await?;
    if built.is_some() && !force {
        return Ok(false);
    }
    sqlx::query("DELETE FROM scope_blobs")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM scope_usage")
        .execute(&mut *tx)
        .await?;
    let rows = sqlx::query(&format!(
        "WITH refs AS ({SCOPE_REFS})
             SELECT r.scope AS scope, r.digest AS digest, b.size AS size
             FROM refs r JOIN blobs b ON b.digest = r.digest AND b.state <> 'deleting'"
    ))
    .fetch_all(&mut *tx)
    .await?;
    let mut present: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut deltas: BTreeMap<String, Delta> = BTreeMap::new();
    for row in &rows {
        let repository: String = row.try_get("scope")?;
        let digest: String = row.try_get("digest")?;
        let size = row.try_get::<i64, _>("size")?.max(0);
        let scopes = quota::scopes_of(&repository);
        for s in &scopes {
            deltas.entry(s.clone()).or_default().logical += size;
            if present.insert((s.clone(), digest.clone()), size).is_none() {
                let d = deltas.entry(s.clone()).or_default();
                d.unique += size;
                d.blobs += 1;
            }
        }
    }
    let all: Vec<(&(String, String), &i64)> = present.iter().collect();
    for chunk in all.chunks(200) {
        let values = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("INSERT INTO scope_blobs (scope, digest, size) VALUES {values}");
        let mut q = sqlx::query(&sql);
        for ((scope, digest), size) in chunk {
            q = q.bind(scope).bind(digest).bind(**size);
        }
        q.execute(&mut *tx).await?;
    }
    apply(&mut tx, &deltas).await?;
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ('usage_built', $1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(now().to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}
