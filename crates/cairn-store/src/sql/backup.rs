//! The backup aggregate's SQL: the snapshot (SQLite's `VACUUM INTO`, or
//! `pg_dump` inside an exported snapshot that the held blobs are read in
//! too), and the holds the collector keeps.

use super::gc::mark_candidates;
use super::{digest, now, SqlMetaStore};
use crate::backup::{BackupRecord, BackupStore, DrillSample, PgTools};
use crate::StoreError;
use async_trait::async_trait;
use cairn_core::Digest;
use sqlx::{AnyConnection, Connection, Executor, Row};
use std::path::Path;

/// The blobs a snapshot references: every non-deleting blob that a
/// manifest, a manifest's reference, a package file or a proxy entry names.
const HELD: &str = "SELECT b.digest AS digest, b.size AS size FROM blobs b
    WHERE b.state <> 'deleting' AND b.digest IN (
        SELECT digest FROM manifests
        UNION SELECT digest FROM manifest_blobs
        UNION SELECT digest FROM package_files WHERE gone_at IS NULL
        UNION SELECT companion FROM package_files WHERE companion IS NOT NULL AND gone_at IS NULL
        UNION SELECT digest FROM proxy_cache WHERE digest IS NOT NULL)
    ORDER BY b.digest";

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(e.to_string().into())
}

async fn held(conn: &mut AnyConnection) -> Result<Vec<(Digest, u64)>, StoreError> {
    let rows = sqlx::query(HELD).fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok((
                digest(r.try_get("digest")?)?,
                r.try_get::<i64, _>("size")?.max(0) as u64,
            ))
        })
        .collect()
}

#[async_trait]
impl BackupStore for SqlMetaStore {
    async fn begin_backup(&self, id: &str, location: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO backups (id, state, location, created_at) VALUES ($1, 'running', $2, $3)",
        )
        .bind(id)
        .bind(location)
        .bind(now())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn snapshot(
        &self,
        dir: &Path,
        tools: &PgTools,
    ) -> Result<(String, &'static str, Vec<(Digest, u64)>), StoreError> {
        if !self.shared_pool {
            let file = "cairn.db";
            let dest = dir.join(file);
            // A consistent copy of the whole database, taken in one read
            // transaction beside the writer.
            sqlx::query("VACUUM INTO $1")
                .bind(dest.display().to_string())
                .execute(&self.reader)
                .await?;
            let url = format!("sqlite://{}?mode=ro", dest.display());
            let mut copy = AnyConnection::connect(&url).await?;
            let blobs = held(&mut copy).await?;
            copy.close().await?;
            return Ok((file.to_string(), "sqlite", blobs));
        }
        let file = "cairn.pgdump";
        // One REPEATABLE READ transaction: its snapshot is exported to
        // pg_dump, and the held blobs are read in it, so both agree.
        let mut conn = AnyConnection::connect(&self.url).await?;
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut conn)
            .await?;
        let blobs = held(&mut conn).await?;
        let out = tokio::process::Command::new(&tools.pg_dump)
            .arg("--format=custom")
            .arg(format!("--snapshot={snapshot}"))
            .arg("--file")
            .arg(dir.join(file))
            .arg("--dbname")
            .arg(&self.url)
            .output()
            .await
            .map_err(|e| io(format!("running {}: {e}", tools.pg_dump.display())))?;
        conn.execute("COMMIT").await?;
        if !out.status.success() {
            return Err(io(format!(
                "pg_dump failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok((file.to_string(), "postgres", blobs))
    }

    async fn finish_backup(&self, id: &str, blobs: &[(Digest, u64)]) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for (d, _) in blobs {
            sqlx::query(
                "INSERT INTO backup_blobs (backup_id, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(d.to_string())
            .execute(&mut *tx)
            .await?;
        }
        let bytes: u64 = blobs.iter().map(|(_, n)| n).sum();
        sqlx::query(
            "UPDATE backups SET state = 'done', finished_at = $2, blobs = $3, bytes = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(now())
        .bind(blobs.len() as i64)
        .bind(bytes as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn fail_backup(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE backups SET state = 'failed', finished_at = $2 WHERE id = $1 AND state = 'running'",
        )
        .bind(id)
        .bind(now())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn backups(&self) -> Result<Vec<BackupRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM backups ORDER BY created_at DESC, id DESC")
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(BackupRecord {
                    id: r.try_get("id")?,
                    state: r.try_get("state")?,
                    location: r.try_get("location")?,
                    created_at: r.try_get("created_at")?,
                    finished_at: r.try_get("finished_at")?,
                    blobs: r.try_get::<i64, _>("blobs")?.max(0) as u64,
                    bytes: r.try_get::<i64, _>("bytes")?.max(0) as u64,
                })
            })
            .collect()
    }

    async fn release_backup(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let held: Vec<String> =
            sqlx::query_scalar("SELECT digest FROM backup_blobs WHERE backup_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM backup_blobs WHERE backup_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM backups WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        mark_candidates(&mut tx, &held).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn drill_sample(&self, per_kind: u32) -> Result<Vec<DrillSample>, StoreError> {
        let limit = i64::from(per_kind);
        let mut out = Vec::new();
        let tags = sqlx::query(
            "SELECT repository, tag FROM tags ORDER BY updated_at DESC, repository, tag LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        for row in tags {
            out.push(DrillSample::Image {
                repository: row.try_get("repository")?,
                tag: row.try_get("tag")?,
            });
        }
        for format in cairn_core::Format::ALL {
            let versions = sqlx::query(
                "SELECT v.repository AS repository, v.package AS package, p.name AS name,
                        v.version AS version
                 FROM package_versions v
                 JOIN packages p ON p.format = v.format AND p.repository = v.repository
                                AND p.package = v.package
                 WHERE v.format = $1 AND v.state <> 'unpublished'
                   AND EXISTS (SELECT 1 FROM package_files f WHERE f.format = v.format
                               AND f.repository = v.repository AND f.package = v.package
                               AND f.version = v.version)
                 ORDER BY v.published_at DESC, v.repository, v.package, v.version LIMIT $2",
            )
            .bind(format.as_str())
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
            for v in versions {
                let (repository, package, version): (String, String, String) = (
                    v.try_get("repository")?,
                    v.try_get("package")?,
                    v.try_get("version")?,
                );
                let files = sqlx::query(
                    "SELECT filename, digest FROM package_files
                     WHERE format = $1 AND repository = $2 AND package = $3 AND version = $4
                     ORDER BY filename",
                )
                .bind(format.as_str())
                .bind(&repository)
                .bind(&package)
                .bind(&version)
                .fetch_all(&self.reader)
                .await?
                .iter()
                .map(|f| Ok((f.try_get("filename")?, digest(f.try_get("digest")?)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
                out.push(DrillSample::Version {
                    format,
                    repository,
                    name: v.try_get("name")?,
                    version,
                    files,
                });
            }
        }
        Ok(out)
    }
}
