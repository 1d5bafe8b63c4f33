//! The SQL metadata store, for SQLite (the embedded default) and PostgreSQL.
//!
//! All SQL lives in this module, one file per aggregate (`oci`, `packages`,
//! `identity`, `audit`, `proxy`; shared helpers and settings here), written once in the dialect both engines share
//! (`$N` placeholders, `ON CONFLICT`, `BIGINT`) and run through sqlx's `Any`
//! driver; only the schema migrations differ per engine
//! (`migrations/sqlite`, `migrations/postgres`).
//!
//! Rules that guard a write (tag immutability) are checked in the write's
//! transaction, and the write itself is a compare-and-swap on the value that
//! was checked: if a concurrent writer changed the row in between, the
//! statement touches nothing and the check runs again. That keeps the rule
//! race-free on PostgreSQL's READ COMMITTED as well as on SQLite, where a
//! single-connection writer pool serialises writers anyway.
//!

mod advisory;
mod attestation;
mod audit;
mod backup;
mod gc;
mod identity;
mod jobs;
mod oci;
mod packages;
mod proxy;
mod quarantine;
mod sbom;
mod search;
mod signature;
mod storage;
mod sumdb;
mod usage;
mod version_retention;
mod virtuals;
mod web_login;

use crate::meta::{PoolState, SettingsStore, Usage};
use crate::now;
use crate::{Actor, AuditRecord, StoreError};
use async_trait::async_trait;
use cairn_core::Digest;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool, Executor, Row};
use std::str::FromStr;
use std::time::Duration;

/// `($1, $2, …), ($k+1, …), …`: the VALUES of a multi-row INSERT of `rows`
/// rows of `columns` parameters each, numbered in bind order.
pub fn values_placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub struct SqlMetaStore {
    reader: AnyPool,
    writer: AnyPool,
    /// Package changes this process has committed ([`PackageStore::local_package_changes`]).
    package_changes: std::sync::atomic::AtomicU64,
    /// Whether `reader` and `writer` are one pool (PostgreSQL).
    shared_pool: bool,
    /// The database URL, for the tools a backup runs.
    url: String,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(Box::new(e))
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(Box::new(e))
    }
}

fn digest(s: &str) -> Result<Digest, StoreError> {
    Digest::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).expect("a list of strings")
}

fn json_list(text: String) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(&text)
        .map_err(|e| StoreError::Corrupt(format!("grant list {text:?}: {e}")))
}

/// The outcome of a change that was made.
const OK: &str = "ok";

/// Appends an audit entry inside the caller's transaction.
async fn audit(
    tx: &mut AnyConnection,
    actor: &Actor,
    action: &str,
    repository: Option<&str>,
    artifact: Option<&str>,
    outcome: &str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    let entry = AuditRecord {
        detail: detail.map(str::to_string),
        ..AuditRecord::by(actor, action, repository, artifact, outcome)
    };
    insert_audit(&mut *tx, &entry).await
}

async fn insert_audit<'e, E>(conn: E, e: &AuditRecord) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO audit_log (at, actor, credential, source, action, repository, artifact, outcome, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(if e.at > 0 { e.at } else { now() })
    .bind(&e.actor)
    .bind(&e.credential)
    .bind(&e.source)
    .bind(&e.action)
    .bind(&e.repository)
    .bind(&e.artifact)
    .bind(&e.outcome)
    .bind(&e.detail)
    .execute(conn)
    .await?;
    Ok(())
}

impl SqlMetaStore {
    /// Records a change the rules refused; nothing else of the request was kept.
    async fn audit_refusal(
        &self,
        actor: &Actor,
        action: &str,
        repository: &str,
        artifact: &str,
        why: &StoreError,
    ) -> Result<(), StoreError> {
        let outcome = format!("denied: {why}");
        let entry = AuditRecord::by(actor, action, Some(repository), Some(artifact), &outcome);
        insert_audit(&self.writer, &entry).await
    }
}

/// Adds a query parameter to a database URL.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

impl SqlMetaStore {
    /// Opens the database at `url` (`sqlite://PATH` or `postgres://...`),
    /// creating a SQLite file if needed, and applies the migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        if url.starts_with("sqlite:") {
            Self::open_sqlite(url).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::open_postgres(url).await
        } else {
            Err(StoreError::Database(
                format!("unsupported database URL {url:?}: use sqlite://PATH or postgres://...")
                    .into(),
            ))
        }
    }

    async fn open_sqlite(url: &str) -> Result<Self, StoreError> {
        let pragmas = |pool: AnyPoolOptions| {
            pool.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers run beside the writer; FULL puts a
                    // commit on disk before it is acknowledged.
                    conn.execute("PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL;")
                        .await
                        .map(|_| ())
                })
            })
        };
        let writer = pragmas(AnyPoolOptions::new().max_connections(1))
            .connect(&with_param(url, "mode=rwc"))
            .await?;
        writer.execute("PRAGMA journal_mode = WAL").await?;
        sqlx::migrate!("migrations/sqlite").run(&writer).await?;
        let reader = pragmas(AnyPoolOptions::new().max_connections(8))
            .connect(&with_param(url, "mode=ro"))
            .await?;
        let store = SqlMetaStore {
            reader,
            writer,
            package_changes: Default::default(),
            shared_pool: false,
            url: url.to_string(),
        };
        usage::rebuild(&store, false).await?;
        Ok(store)
    }

    async fn open_postgres(url: &str) -> Result<Self, StoreError> {
        // One direct connection first: its error says why (refused, auth,
        // unknown database) where a pool would only report a timeout.
        sqlx::Connection::close(<AnyConnection as sqlx::Connection>::connect(url).await?).await?;
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let store = SqlMetaStore {
            reader: pool.clone(),
            writer: pool,
            package_changes: Default::default(),
            shared_pool: true,
            url: url.to_string(),
        };
        usage::rebuild(&store, false).await?;
        Ok(store)
    }
}

#[async_trait]
impl SettingsStore for SqlMetaStore {
    async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String, StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await?;
        let stored: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn replace_setting(
        &self,
        key: &str,
        expected: &str,
        value: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE settings SET value = $1 WHERE key = $2 AND value = $3")
            .bind(value)
            .bind(key)
            .bind(expected)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn usage(&self) -> Result<Usage, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS blobs, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes FROM (
                 SELECT digest, MAX(size) AS size FROM (
                     SELECT digest, size FROM blob_links
                     UNION ALL SELECT digest, size FROM manifests
                     UNION ALL SELECT digest, size FROM package_files WHERE gone_at IS NULL
                     UNION ALL SELECT digest, size FROM proxy_cache WHERE digest IS NOT NULL
                 ) refs GROUP BY digest
             ) blobs",
        )
        .fetch_one(&self.reader)
        .await?;
        let uploads = sqlx::query("SELECT COUNT(*) AS n FROM uploads")
            .fetch_one(&self.reader)
            .await?;
        let count = |row: &sqlx::any::AnyRow, column: &str| -> Result<u64, StoreError> {
            Ok(row.try_get::<i64, _>(column)?.max(0) as u64)
        };
        Ok(Usage {
            blobs: count(&row, "blobs")?,
            bytes: count(&row, "bytes")?,
            open_uploads: count(&uploads, "n")?,
        })
    }

    fn pools(&self) -> Vec<PoolState> {
        let state = |name, pool: &AnyPool| PoolState {
            name,
            size: pool.size(),
            idle: pool.num_idle() as u32,
        };
        if self.shared_pool {
            vec![state("shared", &self.writer)]
        } else {
            vec![state("reader", &self.reader), state("writer", &self.writer)]
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }
}
