//! The storage numbers' SQL (see [`crate::storage`]): read from the sums
//! kept by [`super::usage`], or worked out from the references.

use super::usage::SCOPE_REFS;
use super::{audit, now, SqlMetaStore, OK};
use crate::storage::{Quota, ScopeUsage, StorageStore};
use crate::{Actor, StoreError};
use async_trait::async_trait;
use cairn_core::quota;
use sqlx::Row;

/// Every (repository, blob) reference ([`super::usage::SCOPE_REFS`]) with
/// the blob's size. Blobs being deleted, or not stored (a sparse manifest's
/// layers), are left out; an unknown size counts 0. Follows `WITH refs AS
/// (SCOPE_REFS)`.
const SIZED: &str = "sized AS (
        SELECT r.scope AS scope, r.digest AS digest,
               CASE WHEN b.size < 0 THEN 0 ELSE b.size END AS size,
               CASE WHEN EXISTS (SELECT 1 FROM backup_blobs h WHERE h.digest = r.digest) THEN 1 ELSE 0 END AS held
        FROM refs r JOIN blobs b ON b.digest = r.digest AND b.state <> 'deleting'
    )";

fn number(row: &sqlx::any::AnyRow, column: &str) -> Result<u64, StoreError> {
    Ok(row.try_get::<i64, _>(column)?.max(0) as u64)
}

/// `prefix` as a LIKE pattern that matches it literally.
fn like(prefix: &str) -> String {
    let mut p = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// A scope's numbers as the queries over the kept sums name them.
fn kept_row(r: &sqlx::any::AnyRow) -> Result<ScopeUsage, StoreError> {
    Ok(ScopeUsage {
        scope: r.try_get("scope")?,
        logical: number(r, "logical")?,
        unique: number(r, "uniq")?,
        exclusive: number(r, "exclusive")?,
        blobs: number(r, "blobs")?,
    })
}

/// A `scope_blobs` row of one repository (not of a namespace), as `o`.
const REPOSITORY_ROW: &str = "o.scope <> '' AND substr(o.scope, length(o.scope), 1) <> '/'";

#[async_trait]
impl StorageStore for SqlMetaStore {
    async fn usage_by_repository(&self, prefix: &str) -> Result<Vec<ScopeUsage>, StoreError> {
        let sql = format!(
            "SELECT o.scope AS scope, o.logical AS logical, o.unique_bytes AS uniq, o.blobs AS blobs,
               (SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM scope_blobs b
                WHERE b.scope = o.scope
                  AND NOT EXISTS (SELECT 1 FROM scope_blobs o WHERE o.digest = b.digest
                                  AND o.scope <> b.scope AND {REPOSITORY_ROW})
                  AND NOT EXISTS (SELECT 1 FROM backup_blobs h WHERE h.digest = b.digest)) AS exclusive
             FROM scope_usage o
             WHERE {REPOSITORY_ROW} AND o.blobs > 0 AND substr(o.scope, 1, length($1)) = $1
             ORDER BY o.logical DESC, o.scope"
        );
        let rows = sqlx::query(&sql)
            .bind(prefix)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(kept_row).collect()
    }

    async fn usage_by_namespace(&self, prefix: &str) -> Result<Vec<ScopeUsage>, StoreError> {
        let sql = format!(
            "SELECT n.scope AS scope, n.logical AS logical, n.unique_bytes AS uniq, n.blobs AS blobs,
               (SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM scope_blobs b
                WHERE b.scope = n.scope
                  AND NOT EXISTS (SELECT 1 FROM scope_blobs o WHERE o.digest = b.digest
                                  AND {REPOSITORY_ROW} AND substr(o.scope, 1, length(n.scope)) <> n.scope)
                  AND NOT EXISTS (SELECT 1 FROM backup_blobs h WHERE h.digest = b.digest)) AS exclusive
             FROM scope_usage n
             WHERE n.scope <> '' AND substr(n.scope, length(n.scope), 1) = '/' AND n.blobs > 0
               AND substr(n.scope, 1, length($1)) = $1
             ORDER BY n.unique_bytes DESC, n.scope"
        );
        let rows = sqlx::query(&sql)
            .bind(prefix)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(kept_row).collect()
    }

    async fn usage_of_prefix(&self, prefix: &str) -> Result<ScopeUsage, StoreError> {
        if !quota::is_namespace(prefix) {
            return self.computed_usage_of_prefix(prefix).await;
        }
        let sql = format!(
            "SELECT CAST($1 AS TEXT) AS scope,
               (SELECT COALESCE(MAX(logical), 0) FROM scope_usage WHERE scope = $1) AS logical,
               (SELECT COALESCE(MAX(unique_bytes), 0) FROM scope_usage WHERE scope = $1) AS uniq,
               (SELECT COALESCE(MAX(blobs), 0) FROM scope_usage WHERE scope = $1) AS blobs,
               (SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM scope_blobs b
                WHERE b.scope = $1
                  AND NOT EXISTS (SELECT 1 FROM scope_blobs o WHERE o.digest = b.digest
                                  AND {REPOSITORY_ROW} AND substr(o.scope, 1, length($1)) <> $1)
                  AND NOT EXISTS (SELECT 1 FROM backup_blobs h WHERE h.digest = b.digest)) AS exclusive"
        );
        let row = sqlx::query(&sql)
            .bind(prefix)
            .fetch_one(&self.reader)
            .await?;
        kept_row(&row)
    }

    async fn computed_usage_of_prefix(&self, prefix: &str) -> Result<ScopeUsage, StoreError> {
        self.computed_usage_of_prefix_sql(prefix).await
    }

    async fn recount_usage(&self) -> Result<(), StoreError> {
        super::usage::rebuild(self, true).await.map(|_| ())
    }

    async fn quotas(&self) -> Result<Vec<Quota>, StoreError> {
        let rows = sqlx::query(
            "SELECT q.scope AS scope, q.max_unique_bytes AS max_bytes,
                    COALESCE(u.unique_bytes, 0) AS uniq
             FROM quotas q LEFT JOIN scope_usage u ON u.scope = q.scope ORDER BY q.scope",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Quota {
                    scope: r.try_get("scope")?,
                    max_unique_bytes: number(r, "max_bytes")?,
                    unique: number(r, "uniq")?,
                })
            })
            .collect()
    }

    async fn set_quota(
        &self,
        scope: &str,
        max_unique_bytes: u64,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let limit = i64::try_from(max_unique_bytes).unwrap_or(i64::MAX);
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO quotas (scope, max_unique_bytes, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (scope) DO UPDATE SET max_unique_bytes = excluded.max_unique_bytes,
                 updated_at = excluded.updated_at",
        )
        .bind(scope)
        .bind(limit)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let detail = format!("max_unique_bytes {max_unique_bytes}");
        audit(
            &mut tx,
            actor,
            "quota.set",
            Some(scope),
            None,
            OK,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_quota(&self, scope: &str, actor: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("DELETE FROM quotas WHERE scope = $1")
            .bind(scope)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            audit(&mut tx, actor, "quota.remove", Some(scope), None, OK, None).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}

impl SqlMetaStore {
    /// One scope's numbers from the references, without the kept sums.
    async fn computed_usage_of_prefix_sql(&self, prefix: &str) -> Result<ScopeUsage, StoreError> {
        let sql = format!(
            "WITH refs AS ({SCOPE_REFS}), {SIZED},
            inside AS (SELECT * FROM sized WHERE scope LIKE $1 ESCAPE '\\'),
            per_blob AS (
                SELECT s.digest AS digest, MAX(s.size) AS size, MAX(s.held) AS held,
                       SUM(CASE WHEN s.scope LIKE $1 ESCAPE '\\' THEN 0 ELSE 1 END) AS outside,
                       SUM(CASE WHEN s.scope LIKE $1 ESCAPE '\\' THEN 1 ELSE 0 END) AS inside
                FROM sized s GROUP BY s.digest
            )
            SELECT
              (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM inside) AS logical,
              (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM per_blob WHERE inside > 0) AS uniq,
              (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM per_blob
                 WHERE inside > 0 AND outside = 0 AND held = 0) AS exclusive,
              (SELECT COUNT(*) FROM per_blob WHERE inside > 0) AS blobs"
        );
        let row = sqlx::query(&sql)
            .bind(like(prefix))
            .fetch_one(&self.reader)
            .await?;
        Ok(ScopeUsage {
            scope: prefix.to_string(),
            logical: number(&row, "logical")?,
            unique: number(&row, "uniq")?,
            exclusive: number(&row, "exclusive")?,
            blobs: number(&row, "blobs")?,
        })
    }
}
