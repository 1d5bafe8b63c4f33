//! The proxy-cache part of the metadata suite: entries, first-seen times
//! kept across refetches of the same bytes, revalidation, listing, dropping.

use super::seed_cached;
use crate::proxy::CachedEntry;
use crate::MetaStore;
use cairn_core::Digest;
use std::sync::Arc;

fn entry(key: &str, bytes: &[u8], at: i64) -> CachedEntry {
    CachedEntry {
        repository: "npm/npmjs".into(),
        key: key.into(),
        status: 200,
        digest: Some(Digest::sha256_of(bytes)),
        size: bytes.len() as u64,
        content_type: "application/json".into(),
        etag: Some("\"e1\"".into()),
        last_modified: None,
        fetched_at: at,
        checked_at: at,
    }
}

pub async fn proxy_store_suite(meta: Arc<dyn MetaStore>) {
    let repo = "npm/npmjs";
    assert_eq!(meta.cached(repo, "packument/a").await.unwrap(), None);
    let first = entry("packument/a", b"v1", 100);
    seed_cached(&meta, &first).await.unwrap();
    assert_eq!(
        meta.cached(repo, "packument/a").await.unwrap(),
        Some(first.clone())
    );
    // Other repositories and formats do not see it.
    assert_eq!(
        meta.cached("pypi/npmjs", "packument/a").await.unwrap(),
        None
    );

    // The same bytes fetched again keep their first-seen time.
    seed_cached(&meta, &entry("packument/a", b"v1", 200))
        .await
        .unwrap();
    let again = meta.cached(repo, "packument/a").await.unwrap().unwrap();
    assert_eq!((again.fetched_at, again.checked_at), (100, 200));
    // New bytes are first seen now.
    seed_cached(&meta, &entry("packument/a", b"v2", 300))
        .await
        .unwrap();
    let changed = meta.cached(repo, "packument/a").await.unwrap().unwrap();
    assert_eq!((changed.fetched_at, changed.checked_at), (300, 300));
    assert_eq!(changed.digest, Some(Digest::sha256_of(b"v2")));

    // A 304 refreshes the check time and any validator sent.
    assert!(meta
        .revalidated(
            repo,
            "packument/a",
            400,
            Some("\"e2\""),
            Some("Mon, 30 Nov 2026 10:00:00 GMT")
        )
        .await
        .unwrap());
    let checked = meta.cached(repo, "packument/a").await.unwrap().unwrap();
    assert_eq!(checked.checked_at, 400);
    assert_eq!(checked.etag.as_deref(), Some("\"e2\""));
    assert!(checked.last_modified.is_some());
    assert!(meta
        .revalidated(repo, "packument/a", 500, None, None)
        .await
        .unwrap());
    let kept = meta.cached(repo, "packument/a").await.unwrap().unwrap();
    assert_eq!(
        kept.etag.as_deref(),
        Some("\"e2\""),
        "validators kept when not resent"
    );
    assert!(!meta
        .revalidated(repo, "nothing", 1, None, None)
        .await
        .unwrap());

    // A negative entry has no digest.
    let negative = CachedEntry {
        status: 404,
        digest: None,
        size: 0,
        etag: None,
        ..entry("packument/missing", b"", 10)
    };
    seed_cached(&meta, &negative).await.unwrap();
    assert_eq!(
        meta.cached(repo, "packument/missing").await.unwrap(),
        Some(negative)
    );

    // Listing by prefix, in pages; '%' and '_' are not patterns.
    for k in ["file/a/1", "file/a/2", "file/b/1", "file/a%/1"] {
        seed_cached(&meta, &entry(k, k.as_bytes(), 1))
            .await
            .unwrap();
    }
    let keys = |v: Vec<CachedEntry>| v.into_iter().map(|e| e.key).collect::<Vec<_>>();
    assert_eq!(
        keys(meta.list_cached(repo, "file/a/", "", 10).await.unwrap()),
        ["file/a/1", "file/a/2"]
    );
    assert_eq!(
        keys(
            meta.list_cached(repo, "file/a/", "file/a/1", 10)
                .await
                .unwrap()
        ),
        ["file/a/2"]
    );
    assert_eq!(meta.list_cached(repo, "", "", 100).await.unwrap().len(), 6);
    assert_eq!(meta.list_cached(repo, "", "", 2).await.unwrap().len(), 2);

    // Fill leases: one holder at a time; renewals by the holder; taken
    // over once expired; released only by their owner.
    let lease = |owner: &'static str, now: i64| {
        let meta = meta.clone();
        async move {
            meta.lease_fill(repo, "file/x", owner, now, now + 1000)
                .await
                .unwrap()
        }
    };
    assert!(lease("a", 0).await);
    assert!(!lease("b", 500).await, "held by a until 1000");
    assert!(lease("a", 900).await, "a renews, until 1900");
    assert!(!lease("b", 1500).await);
    assert_eq!(
        meta.fill_holder(repo, "file/x", 1500).await.unwrap(),
        Some("a".to_string())
    );
    assert_eq!(
        meta.fill_holder(repo, "file/x", 1950).await.unwrap(),
        None,
        "an expired lease has no holder"
    );
    assert!(lease("b", 2000).await, "expired: b takes over");
    assert!(!lease("a", 2100).await);
    meta.release_fill(repo, "file/x", "a").await.unwrap();
    assert!(!lease("a", 2200).await, "a cannot release b's lease");
    meta.release_fill(repo, "file/x", "b").await.unwrap();
    assert!(lease("a", 2300).await);
    assert!(meta
        .lease_fill("pypi/other", "file/x", "b", 2300, 3300)
        .await
        .unwrap());

    // packument/a (2 bytes) and the four files; the negative entry does not count.
    let files: u64 = ["file/a/1", "file/a/2", "file/b/1", "file/a%/1"]
        .iter()
        .map(|k| k.len() as u64)
        .sum();
    assert_eq!(meta.cached_usage(repo).await.unwrap(), (5, 2 + files));
    assert_eq!(meta.cached_usage("npm/none").await.unwrap(), (0, 0));

    assert!(meta.drop_cached(repo, "file/b/1").await.unwrap());
    assert!(!meta.drop_cached(repo, "file/b/1").await.unwrap());
    assert_eq!(meta.cached(repo, "file/b/1").await.unwrap(), None);

    // First-seen times: the first listing is the baseline (0), later
    // versions are seen when they appear, and a time once recorded stays.
    let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let seen = |versions: Vec<String>, now| {
        let meta = meta.clone();
        async move {
            meta.versions_seen("go/goproxy", "example.com/m", &versions, now)
                .await
                .unwrap()
        }
    };
    assert_eq!(seen(v(&["v1.0.0", "v1.1.0"]), 1000).await, vec![0, 0]);
    assert_eq!(
        seen(v(&["v1.0.0", "v1.1.0", "v1.2.0"]), 2000).await,
        vec![0, 0, 2000]
    );
    assert_eq!(seen(v(&["v1.2.0", "v1.3.0"]), 3000).await, vec![2000, 3000]);
    assert_eq!(
        meta.versions_seen("go/other", "example.com/m", &v(&["v1.2.0"]), 4000)
            .await
            .unwrap(),
        vec![0]
    );
}
