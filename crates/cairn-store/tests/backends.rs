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

/// A local file becomes a blob: linked without a copy when it is an
/// unlinked O_TMPFILE on the store's filesystem (a proxy's spool), copied
/// otherwise; named by the SHA-256 given, or by reading it.
#[tokio::test]
async fn a_local_file_becomes_a_blob() {
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FsBlobStore::open(dir.path().join("blobs")).await.unwrap());
    let blobs = cairn_store::Blobs::new(
        store.clone(),
        cairn_store::testing::sqlite_ledger(dir.path()).await,
    );
    let read = |d: cairn_core::Digest| {
        let store = store.clone();
        async move {
            use cairn_store::blob::BlobStore;
            use futures::TryStreamExt;
            let s = store.read(&d, None).await.unwrap().expect("stored");
            let parts: Vec<bytes::Bytes> = s.try_collect().await.unwrap();
            parts.concat()
        }
    };
    let spool_dir = dir.path().join("blobs").join("spool");
    std::fs::create_dir_all(&spool_dir).unwrap();
    for (i, named) in [(0u8, true), (1, false)] {
        let data: Vec<u8> = (0..300_000u32).map(|n| (n as u8) ^ i).collect();
        let mut f = tempfile::tempfile_in(&spool_dir).unwrap();
        f.write_all(&data).unwrap();
        let f = Arc::new(f);
        let given = named.then(|| cairn_core::Digest::sha256_of(&data));
        let d = blobs
            .put_file(f.clone(), data.len() as u64, given)
            .await
            .unwrap();
        assert_eq!(d, cairn_core::Digest::sha256_of(&data));
        assert_eq!(read(d).await, data);
        assert_eq!(
            f.metadata().unwrap().nlink(),
            1,
            "the spool is the blob now: linked, not copied"
        );
    }
    // A file on another path that cannot be linked (a named file removed
    // after opening is not an O_TMPFILE) is copied.
    let path = dir.path().join("plain");
    std::fs::write(&path, b"plain bytes").unwrap();
    let f = Arc::new(std::fs::File::open(&path).unwrap());
    std::fs::remove_file(&path).unwrap();
    let d = blobs.put_file(f, 11, None).await.unwrap();
    assert_eq!(read(d).await, b"plain bytes");
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
