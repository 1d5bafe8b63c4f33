//! The SQL of quarantined bytes (see [`crate::quarantine`]).

use super::{audit, SqlMetaStore, OK};
use crate::quarantine::{QuarantineRecord, QuarantineStore};
use crate::{Actor, StoreError};
use async_trait::async_trait;
use cairn_core::Digest;
use sqlx::Row;

#[async_trait]
impl QuarantineStore for SqlMetaStore {
    async fn quarantine(&self, r: &QuarantineRecord, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO quarantined_blobs (digest, repository, what, findings, actor, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(&r.digest)
        .bind(&r.repository)
        .bind(&r.what)
        .bind(&r.findings)
        .bind(&r.actor)
        .bind(r.created_at)
        .execute(&mut *tx)
        .await?;
        let detail = format!("{}: {}", r.what, r.findings);
        audit(
            &mut tx,
            actor,
            "secret.quarantine",
            Some(&r.repository),
            Some(&r.digest),
            OK,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn is_quarantined(&self, digest: &Digest) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT created_at FROM quarantined_blobs WHERE digest = $1")
                .bind(digest.to_string())
                .fetch_optional(&self.reader)
                .await?;
        Ok(found.is_some())
    }

    async fn quarantined(&self) -> Result<Vec<QuarantineRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT digest, repository, what, findings, actor, created_at FROM quarantined_blobs ORDER BY created_at",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QuarantineRecord {
                    digest: r.try_get("digest")?,
                    repository: r.try_get("repository")?,
                    what: r.try_get("what")?,
                    findings: r.try_get("findings")?,
                    actor: r.try_get("actor")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn release(&self, digest: &str, actor: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("DELETE FROM quarantined_blobs WHERE digest = $1")
            .bind(digest)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            audit(
                &mut tx,
                actor,
                "secret.release",
                None,
                Some(digest),
                OK,
                None,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}
