//! Runs the storage conformance suites against the embedded backends.

use cairn_store::fs::FsBlobStore;
use cairn_store::sql::SqlMetaStore;
use cairn_store::testing::{blob_store_suite, meta_store_suite};
use std::sync::Arc;

#[tokio::test]
async fn filesystem_blob_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
    let ledger = cairn_store::testing::sqlite_ledger(dir.path()).await;
    blob_store_suite(Arc::new(store), ledger).await;
}

#[tokio::test]
async fn sqlite_meta_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let meta = SqlMetaStore::open(&url).await.unwrap();
    meta_store_suite(Arc::new(meta)).await;
    // The audit log refuses changes even to someone with the database file.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    for sql in [
        "UPDATE audit_log SET outcome = 'ok'",
        "DELETE FROM audit_log",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn collector_on_sqlite_and_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let meta = SqlMetaStore::open(&url).await.unwrap();
    let store = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
    cairn_store::testing::collector_suite(Arc::new(meta), Arc::new(store)).await;
}

#[tokio::test]
async fn backup_on_sqlite_and_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let meta = SqlMetaStore::open(&url).await.unwrap();
    let store = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
    let restore = format!("sqlite://{}", dir.path().join("restored/m.db").display());
    cairn_store::testing::backup_suite(Arc::new(meta), Arc::new(store), &restore).await;
}

#[tokio::test]
async fn quotas_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let meta = SqlMetaStore::open(&url).await.unwrap();
    let store = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
    cairn_store::testing::quota_suite(Arc::new(meta), Arc::new(store)).await;
}

#[tokio::test]
async fn storage_numbers_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let meta = SqlMetaStore::open(&url).await.unwrap();
    let store = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
    cairn_store::testing::storage_suite(Arc::new(meta), Arc::new(store)).await;
}

#[tokio::test]
async fn version_retention_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let meta = SqlMetaStore::open(&url).await.unwrap();
    let store = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
    cairn_store::testing::version_retention_suite(Arc::new(meta), Arc::new(store)).await;
}

#[tokio::test]
async fn sboms_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let meta = SqlMetaStore::open(&url).await.unwrap();
    cairn_store::testing::sbom_suite(Arc::new(meta)).await;
}

#[tokio::test]
async fn sumdb_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let meta = SqlMetaStore::open(&url).await.unwrap();
    cairn_store::testing::sumdb_suite(Arc::new(meta)).await;
}

#[tokio::test]
async fn signatures_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let meta = SqlMetaStore::open(&url).await.unwrap();
    cairn_store::testing::signature_suite(Arc::new(meta)).await;
}

#[tokio::test]
async fn attestations_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let meta = SqlMetaStore::open(&url).await.unwrap();
    cairn_store::testing::attestation_suite(Arc::new(meta)).await;
}

#[tokio::test]
async fn advisories_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let meta = SqlMetaStore::open(&url).await.unwrap();
    cairn_store::testing::advisory_suite(Arc::new(meta)).await;
}
