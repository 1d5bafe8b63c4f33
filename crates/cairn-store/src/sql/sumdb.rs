//! The SQL of the Go checksum database's log (see [`crate::sumdb`]).

use super::{now, SqlMetaStore};
use crate::sumdb::SumdbStore;
use crate::StoreError;
use async_trait::async_trait;

/// Attempts at appending before giving up (each lost race is another
/// replica's append, so the log moved on).
const ATTEMPTS: usize = 20;

#[async_trait]
impl SumdbStore for SqlMetaStore {
    async fn sumdb_record(
        &self,
        repository: &str,
        module: &str,
        version: &str,
        data: &str,
    ) -> Result<i64, StoreError> {
        for _ in 0..ATTEMPTS {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM sumdb_records WHERE repository = $1 AND module = $2 AND version = $3",
            )
            .bind(repository)
            .bind(module)
            .bind(version)
            .fetch_optional(&self.writer)
            .await?;
            if let Some(id) = found {
                return Ok(id);
            }
            // The next id is the log's size; a concurrent append taking it
            // (or this module version) violates a key, and we look again.
            let inserted = sqlx::query(
                "INSERT INTO sumdb_records (repository, id, module, version, data, created_at)
                 SELECT $1, COALESCE(MAX(id) + 1, 0), $2, $3, $4, $5
                 FROM sumdb_records WHERE repository = $1",
            )
            .bind(repository)
            .bind(module)
            .bind(version)
            .bind(data)
            .bind(now())
            .execute(&self.writer)
            .await;
            match inserted {
                Ok(_) => continue,
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict(format!(
            "could not append {module}@{version} to the checksum database of {repository}"
        )))
    }

    async fn sumdb_size(&self, repository: &str) -> Result<i64, StoreError> {
        let n: Option<i64> =
            sqlx::query_scalar("SELECT MAX(id) + 1 FROM sumdb_records WHERE repository = $1")
                .bind(repository)
                .fetch_one(&self.reader)
                .await?;
        Ok(n.unwrap_or(0))
    }

    async fn sumdb_records(
        &self,
        repository: &str,
        start: i64,
        count: i64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT data FROM sumdb_records WHERE repository = $1 AND id >= $2 AND id < $3 ORDER BY id",
        )
        .bind(repository)
        .bind(start)
        .bind(start + count)
        .fetch_all(&self.reader)
        .await?)
    }
}
