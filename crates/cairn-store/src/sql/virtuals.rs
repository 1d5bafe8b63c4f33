//! The virtual-repository aggregate's SQL.

use super::{insert_audit, SqlMetaStore};
use crate::audit::{Actor, AuditRecord};
use crate::now;
use crate::virtuals::{ExternalAllowance, VirtualStore};
use crate::StoreError;
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

fn from_row(row: &AnyRow) -> Result<ExternalAllowance, StoreError> {
    Ok(ExternalAllowance {
        repository: row.try_get("repository")?,
        package: row.try_get("package")?,
        allowed_by: row.try_get("allowed_by")?,
        allowed_at: row.try_get("allowed_at")?,
        reason: row.try_get("reason")?,
    })
}

#[async_trait]
impl VirtualStore for SqlMetaStore {
    async fn external_allowance(
        &self,
        repository: &str,
        package: &str,
    ) -> Result<Option<ExternalAllowance>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM virtual_external WHERE repository = $1 AND package = $2")
                .bind(repository)
                .bind(package)
                .fetch_optional(&self.reader)
                .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn allow_external(
        &self,
        actor: &Actor,
        repository: &str,
        package: &str,
        reason: Option<&str>,
    ) -> Result<ExternalAllowance, StoreError> {
        let at = now();
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO virtual_external (repository, package, allowed_by, allowed_at, reason)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (repository, package) DO UPDATE SET
                 allowed_by = excluded.allowed_by, allowed_at = excluded.allowed_at,
                 reason = excluded.reason",
        )
        .bind(repository)
        .bind(package)
        .bind(&actor.name)
        .bind(at)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        let mut entry = AuditRecord::by(
            actor,
            "virtual.allow_external",
            Some(repository),
            Some(package),
            "ok",
        );
        entry.detail = reason.map(str::to_string);
        insert_audit(&mut *tx, &entry).await?;
        tx.commit().await?;
        Ok(ExternalAllowance {
            repository: repository.to_string(),
            package: package.to_string(),
            allowed_by: actor.name.clone(),
            allowed_at: at,
            reason: reason.map(str::to_string),
        })
    }

    async fn disallow_external(
        &self,
        actor: &Actor,
        repository: &str,
        package: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done =
            sqlx::query("DELETE FROM virtual_external WHERE repository = $1 AND package = $2")
                .bind(repository)
                .bind(package)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let entry = AuditRecord::by(
            actor,
            "virtual.disallow_external",
            Some(repository),
            Some(package),
            "ok",
        );
        insert_audit(&mut *tx, &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn external_allowances(
        &self,
        repository: &str,
    ) -> Result<Vec<ExternalAllowance>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM virtual_external WHERE repository = $1 ORDER BY package")
                .bind(repository)
                .fetch_all(&self.reader)
                .await?;
        rows.iter().map(from_row).collect()
    }
}
