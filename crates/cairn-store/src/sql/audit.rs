//! The audit log's SQL: standalone entries and filtered reads.

use super::{insert_audit, SqlMetaStore};
use crate::{AuditFilter, AuditRecord, AuditStore, StoreError};
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

fn audit_from_row(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        credential: row.try_get("credential")?,
        source: row.try_get("source")?,
        action: row.try_get("action")?,
        repository: row.try_get("repository")?,
        artifact: row.try_get("artifact")?,
        outcome: row.try_get("outcome")?,
        detail: row.try_get("detail")?,
    })
}

#[async_trait]
impl AuditStore for SqlMetaStore {
    async fn append_audit(&self, e: &AuditRecord) -> Result<(), StoreError> {
        insert_audit(&self.writer, e).await
    }

    async fn audit_log(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        // Unset filters compare a column with itself, which keeps the SQL one
        // statement for both engines (NULL columns use COALESCE).
        let rows = sqlx::query(
            "SELECT * FROM audit_log
             WHERE ($1 IS NULL OR actor = $1)
               AND ($2 IS NULL OR repository = $2)
               AND ($3 IS NULL OR action = $3)
               AND ($6 IS NULL OR artifact = $6)
               AND id < $4
             ORDER BY id DESC LIMIT $5",
        )
        .bind(&f.actor)
        .bind(&f.repository)
        .bind(&f.action)
        .bind(f.before_id.unwrap_or(i64::MAX))
        .bind(i64::from(f.limit.max(1)))
        .bind(&f.artifact)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(audit_from_row).collect()
    }
}
