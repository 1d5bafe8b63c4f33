//! Runs the blob-store suite against an S3-compatible server. Needs one:
//! `S3_TEST_ENDPOINT` (scripts/test.sh starts moto's server with
//! scripts/start-moto.sh, which creates the bucket `cairn-test`). Each test
//! works under its own key prefix.

use cairn_store::config::S3Config;
use cairn_store::s3::S3BlobStore;
use cairn_store::testing::blob_store_suite;
use std::sync::Arc;

fn config(name: &str) -> S3Config {
    let endpoint = std::env::var("S3_TEST_ENDPOINT").expect(
        "S3_TEST_ENDPOINT is not set: start an S3 server with scripts/start-moto.sh DIR \
         and export the endpoint it prints (scripts/test.sh does this)",
    );
    S3Config {
        bucket: "cairn-test".into(),
        prefix: Some(format!("{name}-{}", std::process::id())),
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint),
        path_style: true,
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        ..S3Config::default()
    }
}

#[tokio::test]
async fn s3_blob_store() {
    let store = S3BlobStore::from_config(&config("suite")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ledger = cairn_store::testing::sqlite_ledger(dir.path()).await;
    blob_store_suite(Arc::new(store), ledger).await;
}

#[tokio::test]
async fn s3_large_blob_streams_through_multipart() {
    use cairn_core::Digest;
    use futures::StreamExt;
    let store: Arc<dyn cairn_store::BlobStore> =
        Arc::new(S3BlobStore::from_config(&config("large")).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let ledger = cairn_store::testing::sqlite_ledger(dir.path()).await;
    let blobs = cairn_store::Blobs::new(store.clone(), ledger);
    // 20 MiB in 1 MiB pieces: more than two parts, and a second chunk on top.
    let piece: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut all = Vec::new();
    for _ in 0..21 {
        all.extend_from_slice(&piece);
    }
    let digest = Digest::sha256_of(&all);
    let id = blobs.start().await.unwrap();
    let piece = bytes::Bytes::from(piece);
    let first = futures::stream::iter(
        vec![piece.clone(); 20]
            .into_iter()
            .map(Ok::<_, std::io::Error>),
    )
    .boxed();
    assert_eq!(
        blobs.append(&id, Some(0), None, first).await.unwrap(),
        20 * 1024 * 1024
    );
    let second = futures::stream::iter([Ok::<_, std::io::Error>(piece.clone())]).boxed();
    blobs.append(&id, None, None, second).await.unwrap();
    assert_eq!(blobs.finish(&id, &digest).await.unwrap(), all.len() as u64);
    let stream = store
        .read(&digest, Some((20 * 1024 * 1024 - 3, 20 * 1024 * 1024 + 3)))
        .await
        .unwrap()
        .unwrap();
    let got: Vec<bytes::Bytes> = futures::TryStreamExt::try_collect(stream).await.unwrap();
    assert_eq!(
        got.concat(),
        all[20 * 1024 * 1024 - 3..20 * 1024 * 1024 + 3].to_vec()
    );
}

#[tokio::test]
async fn collector_on_s3() {
    let store = S3BlobStore::from_config(&config("collector")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let meta = cairn_store::sql::SqlMetaStore::open(&url).await.unwrap();
    cairn_store::testing::collector_suite(Arc::new(meta), Arc::new(store)).await;
}
