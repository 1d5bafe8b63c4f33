//! The SQL of publish attestations (see [`crate::attestation`]).

use super::SqlMetaStore;
use crate::attestation::{AttestationStore, PublishAttestation};
use crate::StoreError;
use async_trait::async_trait;

#[async_trait]
impl AttestationStore for SqlMetaStore {
    async fn record_publish_attestation(&self, a: &PublishAttestation) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO publish_attestations
               (format, repository, package, version, filename, digest, bundle, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (format, repository, package, version, filename) DO NOTHING",
        )
        .bind(&a.format)
        .bind(&a.repository)
        .bind(&a.package)
        .bind(&a.version)
        .bind(&a.filename)
        .bind(&a.digest)
        .bind(&a.bundle)
        .bind(a.created_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn publish_attestations(
        &self,
        format: &str,
        repository: &str,
        package: &str,
        version: &str,
    ) -> Result<Vec<PublishAttestation>, StoreError> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT filename, digest, bundle, created_at FROM publish_attestations
             WHERE format = $1 AND repository = $2 AND package = $3 AND version = $4
             ORDER BY filename",
        )
        .bind(format)
        .bind(repository)
        .bind(package)
        .bind(version)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(filename, digest, bundle, created_at)| PublishAttestation {
                    format: format.to_string(),
                    repository: repository.to_string(),
                    package: package.to_string(),
                    version: version.to_string(),
                    filename,
                    digest,
                    bundle,
                    created_at,
                },
            )
            .collect())
    }
}
