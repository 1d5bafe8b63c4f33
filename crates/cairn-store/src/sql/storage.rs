//! The storage numbers' SQL (see [`crate::storage`]).

use super::SqlMetaStore;
use crate::storage::{ScopeUsage, StorageStore};
use crate::StoreError;
use async_trait::async_trait;
use sqlx::Row;

/// Every (repository, blob) reference with the blob's size: manifests, what
/// they reference, package files and their companions, proxy cache entries.
/// Blobs being deleted, or not stored (a sparse manifest's layers), are
/// left out; an unknown size counts 0.
const SIZED: &str = "WITH refs AS (
        SELECT repository AS scope, digest FROM manifests
        UNION SELECT repository, digest FROM manifest_blobs
        UNION SELECT format || '/' || repository, digest FROM package_files
        UNION SELECT format || '/' || repository, companion FROM package_files WHERE companion IS NOT NULL
        UNION SELECT repository, digest FROM proxy_cache WHERE digest IS NOT NULL
    ),
    sized AS (
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

#[async_trait]
impl StorageStore for SqlMetaStore {
    async fn usage_by_repository(&self, prefix: &str) -> Result<Vec<ScopeUsage>, StoreError> {
        let sql = format!(
            "{SIZED},
            spread AS (SELECT digest, COUNT(*) AS scopes FROM sized GROUP BY digest)
            SELECT s.scope AS scope,
                   CAST(SUM(s.size) AS BIGINT) AS logical,
                   CAST(SUM(CASE WHEN p.scopes = 1 AND s.held = 0 THEN s.size ELSE 0 END) AS BIGINT) AS exclusive,
                   COUNT(*) AS blobs
            FROM sized s JOIN spread p ON p.digest = s.digest
            WHERE s.scope LIKE $1 ESCAPE '\\'
            GROUP BY s.scope ORDER BY logical DESC, scope"
        );
        let rows = sqlx::query(&sql)
            .bind(like(prefix))
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                let logical = number(r, "logical")?;
                Ok(ScopeUsage {
                    scope: r.try_get("scope")?,
                    logical,
                    // Within one repository each blob is counted once.
                    unique: logical,
                    exclusive: number(r, "exclusive")?,
                    blobs: number(r, "blobs")?,
                })
            })
            .collect()
    }

    async fn usage_of_prefix(&self, prefix: &str) -> Result<ScopeUsage, StoreError> {
        let sql = format!(
            "{SIZED},
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
