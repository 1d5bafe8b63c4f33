//! A publish whose stored file the collector took before the publish
//! claimed it stores the file again instead of failing.

use cairn_core::Format;
use cairn_packages::{Packages, PackagesConfig};
use cairn_store::blob::BlobStore;
use cairn_store::collector::{Collector, GcSettings};
use cairn_store::fs::FsBlobStore;
use cairn_store::sql::SqlMetaStore;
use cairn_store::{Actor, Blobs, MetaStore, NewVersion, PublishMode};
use std::sync::Arc;

#[tokio::test]
async fn a_file_collected_before_its_publish_is_stored_again() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let meta: Arc<dyn MetaStore> = Arc::new(SqlMetaStore::open(&url).await.unwrap());
    let store = Arc::new(FsBlobStore::open(dir.path().join("blobs")).await.unwrap());
    let blobs = Arc::new(Blobs::new(store.clone(), meta.clone()));
    let packages = Packages::new(blobs.clone(), meta.clone(), PackagesConfig::default());

    let stored = packages
        .store(bytes::Bytes::from_static(b"the tarball's bytes"))
        .await
        .unwrap();
    let digest = stored.digests.sha256.clone();
    // The collector, with no grace period, takes the blob nothing
    // references yet (runs until it has: a candidate waits for the
    // transactions that could have missed its mark).
    let collector = Collector::new(
        meta.clone(),
        store.clone(),
        GcSettings {
            grace_secs: 0,
            upload_ttl_secs: 3600,
        },
    );
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut deleted = 0;
    for _ in 0..100 {
        deleted += collector.run(&cancel, &|_, _| {}).await.unwrap().deleted;
        if deleted > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(deleted, 1, "the collector took the unreferenced file");
    assert!(store.stat(&digest).await.unwrap().is_none());

    let new = NewVersion {
        format: Format::Npm,
        repository: "npm".into(),
        package: "pkg".into(),
        name: "pkg".into(),
        version: "1.0.0".into(),
        metadata: "{}".into(),
        dependencies: vec![],
        files: vec![stored.record("pkg-1.0.0.tgz", "1.0.0", serde_json::json!({}))],
        tags: vec![],
        owner: None,
    };
    let who = Actor::local("test");
    // The store alone refuses: the blob is gone.
    let refused = meta.publish(&new, PublishMode::NewVersion, &who).await;
    assert!(
        matches!(refused, Err(cairn_store::StoreError::BlobUnknown(ref d)) if *d == digest.to_string()),
        "{refused:?}"
    );
    // The publish with the bytes in hand stores them again and succeeds.
    packages
        .publish(&new, &[&stored], PublishMode::NewVersion, &who)
        .await
        .unwrap();
    assert_eq!(store.stat(&digest).await.unwrap(), Some(19));
    let versions = meta
        .package_versions(cairn_core::PackageRef::new(Format::Npm, "npm", "pkg"))
        .await
        .unwrap()
        .unwrap();
    assert!(versions.version("1.0.0").is_some());
}
