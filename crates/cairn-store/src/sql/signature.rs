//! The SQL of signature verdicts (see [`crate::signature`]).

use super::{now, SqlMetaStore};
use crate::signature::SignatureStore;
use crate::StoreError;
use async_trait::async_trait;
use cairn_core::trust::Verdict;
use sqlx::{AnyConnection, Row};

/// Forgets a signature artifact and its verdicts, in the transaction that
/// deletes its manifest.
pub(super) async fn forget_signature(
    tx: &mut AnyConnection,
    repository: &str,
    manifest: &str,
) -> Result<(), StoreError> {
    for table in [
        "DELETE FROM signature_verdicts WHERE repository = $1 AND signature = $2",
        "DELETE FROM signature_evaluations WHERE repository = $1 AND digest = $2",
        "DELETE FROM signature_artifacts WHERE repository = $1 AND digest = $2",
    ] {
        sqlx::query(table)
            .bind(repository)
            .bind(manifest)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl SignatureStore for SqlMetaStore {
    async fn record_signature(
        &self,
        repository: &str,
        signature: &str,
        trust_version: &str,
        verdicts: &[Verdict],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        // The manifest's row, locked: a concurrent delete of the artifact
        // either ran first (then nothing is recorded) or waits for this.
        let stored =
            sqlx::query("UPDATE manifests SET size = size WHERE repository = $1 AND digest = $2")
                .bind(repository)
                .bind(signature)
                .execute(&mut *tx)
                .await?;
        if stored.rows_affected() == 0 {
            return Ok(());
        }
        let at = now();
        sqlx::query(
            "INSERT INTO signature_artifacts (repository, digest, created_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(repository)
        .bind(signature)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM signature_verdicts WHERE trust_version = $1 AND repository = $2 AND signature = $3",
        )
        .bind(trust_version)
        .bind(repository)
        .bind(signature)
        .execute(&mut *tx)
        .await?;
        insert_verdicts(&mut tx, trust_version, repository, verdicts).await?;
        sqlx::query(
            "INSERT INTO signature_evaluations (trust_version, repository, digest, evaluated_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(trust_version)
        .bind(repository)
        .bind(signature)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn verdicts(
        &self,
        repository: &str,
        digest: &str,
        trust_version: &str,
    ) -> Result<Vec<Verdict>, StoreError> {
        let rows = sqlx::query(
            "SELECT subject, signer, predicate_type, signature FROM signature_verdicts
             WHERE trust_version = $1 AND repository = $2 AND (subject = $3 OR subject IN
                 (SELECT manifest FROM manifest_blobs WHERE digest = $3 AND repository = $2))
             ORDER BY subject, signer, predicate_type, signature",
        )
        .bind(trust_version)
        .bind(repository)
        .bind(digest)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Verdict {
                    subject: r.try_get("subject")?,
                    signer: r.try_get("signer")?,
                    predicate_type: r.try_get("predicate_type")?,
                    signature: r.try_get("signature")?,
                })
            })
            .collect()
    }

    async fn unevaluated_signatures(
        &self,
        trust_version: &str,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.repository, a.digest FROM signature_artifacts a
             WHERE NOT EXISTS (SELECT 1 FROM signature_evaluations e
                 WHERE e.trust_version = $1 AND e.repository = a.repository AND e.digest = a.digest)
             ORDER BY a.repository, a.digest LIMIT $2",
        )
        .bind(trust_version)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("repository")?, r.try_get("digest")?)))
            .collect()
    }

    async fn indexes_listing(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT manifest FROM manifest_blobs WHERE digest = $1 AND repository = $2 ORDER BY manifest",
        )
        .bind(digest)
        .bind(repository)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn tags_naming(
        &self,
        repository: &str,
        digests: &[String],
    ) -> Result<Vec<String>, StoreError> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT tag FROM tags WHERE repository = $1 AND digest IN ({}) ORDER BY tag",
            super::gc::placeholders(2, digests.len())
        );
        let mut q = sqlx::query_scalar(&sql).bind(repository);
        for d in digests {
            q = q.bind(d);
        }
        Ok(q.fetch_all(&self.reader).await?)
    }

    async fn record_proxied_verdicts(
        &self,
        repository: &str,
        subject: &str,
        trust_version: &str,
        verdicts: &[Verdict],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        insert_verdicts(&mut tx, trust_version, repository, verdicts).await?;
        sqlx::query(
            "INSERT INTO proxied_signature_checks (trust_version, repository, subject, checked_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (trust_version, repository, subject) DO UPDATE SET checked_at = excluded.checked_at",
        )
        .bind(trust_version)
        .bind(repository)
        .bind(subject)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn proxied_signatures_checked(
        &self,
        repository: &str,
        subject: &str,
        trust_version: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT checked_at FROM proxied_signature_checks
             WHERE trust_version = $1 AND repository = $2 AND subject = $3",
        )
        .bind(trust_version)
        .bind(repository)
        .bind(subject)
        .fetch_optional(&self.reader)
        .await?)
    }
}

/// Adds verdicts under `trust_version` (one already there is kept).
async fn insert_verdicts(
    conn: &mut AnyConnection,
    trust_version: &str,
    repository: &str,
    verdicts: &[Verdict],
) -> Result<(), StoreError> {
    for v in verdicts {
        sqlx::query(
            "INSERT INTO signature_verdicts
               (trust_version, repository, subject, signer, predicate_type, signature)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(trust_version)
        .bind(repository)
        .bind(&v.subject)
        .bind(&v.signer)
        .bind(&v.predicate_type)
        .bind(&v.signature)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
