//! The proxy cache against a real HTTP upstream on loopback (an axum app
//! that counts requests and misbehaves on demand): single-flight fills,
//! verification, revalidation, stale answers, Retry-After.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cairn_proxy::{CacheStatus, Expect, FileSource, Proxy, ProxyError, ProxySettings, Refresh};
use cairn_store::{Blobs, CachedEntry, MetaStore, ProxyStore, StoreError};
use futures::StreamExt;
use sha2::Digest as _;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Default)]
struct Upstream {
    file_requests: AtomicU32,
    doc_requests: AtomicU32,
    conditional: AtomicU32,
    /// 0: normal; 1: 503; 2: 429 with Retry-After: 30; 3: tampered file.
    mode: AtomicU32,
    doc_version: AtomicU64,
    /// What `ratelimit-remaining` says.
    budget: AtomicU64,
}

const FILE_LEN: usize = 3 << 20;

fn file_bytes() -> Vec<u8> {
    (0..FILE_LEN).map(|i| (i % 251) as u8).collect()
}

async fn file(State(u): State<Arc<Upstream>>) -> Response {
    u.file_requests.fetch_add(1, Ordering::SeqCst);
    let mut bytes = file_bytes();
    match u.mode.load(Ordering::SeqCst) {
        1 => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        3 => bytes[FILE_LEN - 1] ^= 1,
        _ => {}
    }
    // Slowly, in pieces, so that every waiter joins while it streams.
    let chunks: Vec<Vec<u8>> = bytes.chunks(256 * 1024).map(|c| c.to_vec()).collect();
    let stream = futures::stream::iter(chunks).then(|c| async move {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Ok::<_, std::io::Error>(c)
    });
    (
        [(header::CONTENT_LENGTH, FILE_LEN.to_string())],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}

async fn doc(State(u): State<Arc<Upstream>>, headers: HeaderMap) -> Response {
    u.doc_requests.fetch_add(1, Ordering::SeqCst);
    match u.mode.load(Ordering::SeqCst) {
        1 => return StatusCode::BAD_GATEWAY.into_response(),
        2 => return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "30")]).into_response(),
        _ => {}
    }
    let v = u.doc_version.load(Ordering::SeqCst);
    let etag = format!("\"v{v}\"");
    // Docker Hub's budget header, on every answer (304s included).
    let budget = (
        header::HeaderName::from_static("ratelimit-remaining"),
        format!("{};w=21600", u.budget.load(Ordering::SeqCst)),
    );
    let revalidating = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|h| h.to_str().ok());
    if revalidating == Some(&etag) {
        u.conditional.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), budget]).into_response();
    }
    (
        [(header::ETAG, etag), budget],
        format!("{{\"version\":{v}}}"),
    )
        .into_response()
}

struct Setup {
    upstream: Arc<Upstream>,
    base: String,
    meta: Arc<dyn MetaStore>,
    blobs: Arc<Blobs>,
    dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let upstream = Arc::new(Upstream::default());
    let app = axum::Router::new()
        .route("/files/big.tgz", get(file))
        .route("/doc", get(doc))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .with_state(upstream.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let meta = cairn_store::sql::SqlMetaStore::open(&format!(
        "sqlite://{}",
        dir.path().join("meta.db").display()
    ))
    .await
    .unwrap();
    let store = cairn_store::fs::FsBlobStore::open(dir.path().join("blobs"))
        .await
        .unwrap();
    let meta = Arc::new(meta);
    Setup {
        upstream,
        base,
        blobs: Arc::new(Blobs::new(Arc::new(store), meta.clone())),
        meta,
        dir,
    }
}

fn proxy(s: &Setup, settings: ProxySettings) -> Proxy {
    Proxy::new(
        "npm/up".into(),
        ProxySettings {
            name: "up".into(),
            format: "npm".into(),
            upstream: s.base.clone(),
            ..settings
        },
        s.meta.clone(),
        s.blobs.clone(),
        s.dir.path().join("spool"),
    )
    .unwrap()
}

async fn body_of(source: FileSource, blobs: &Blobs) -> Result<Vec<u8>, std::io::Error> {
    let mut stream = match source {
        FileSource::Streaming { body, .. } => body,
        FileSource::Cached { digest, .. } => blobs.store().read(&digest, None).await?.unwrap(),
    };
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// Waits until the fill of `key` has recorded it (after its clients have
/// their bytes): true once cached, false if it never is.
async fn recorded(meta: &Arc<dyn MetaStore>, key: &str) -> bool {
    for _ in 0..300 {
        if meta.cached("npm/up", key).await.unwrap().is_some() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

fn sha256(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_cold_requests_make_one_upstream_request() {
    let s = setup().await;
    let p = Arc::new(proxy(&s, ProxySettings::default()));
    let url = reqwest::Url::parse(&format!("{}files/big.tgz", s.base)).unwrap();
    let expected = file_bytes();
    let want = Expect::Sha256(sha256(&expected));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (p, url, want, blobs) = (p.clone(), url.clone(), want.clone(), s.blobs.clone());
        tasks.push(tokio::spawn(async move {
            let source = p
                .file("file/big", &url, want, "application/octet-stream")
                .await?;
            if i % 10 == 9 {
                // Some clients go away after the first chunk.
                if let FileSource::Streaming { mut body, .. } = source {
                    let _ = body.next().await;
                }
                return Ok::<_, ProxyError>(None);
            }
            Ok(Some(body_of(source, &blobs).await?))
        }));
    }
    let mut full = 0;
    for t in tasks {
        if let Some(body) = t.await.unwrap().unwrap() {
            assert!(body == expected, "a waiter got different bytes");
            full += 1;
        }
    }
    assert_eq!(full, 45);
    assert_eq!(s.upstream.file_requests.load(Ordering::SeqCst), 1);
    // Now cached: served from the store, the upstream not asked again.
    assert!(recorded(&s.meta, "file/big").await);
    let again = p.file("file/big", &url, want, "x").await.unwrap();
    assert!(matches!(again, FileSource::Cached { .. }));
    assert_eq!(body_of(again, &s.blobs).await.unwrap(), expected);
    assert_eq!(s.upstream.file_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn idle_entries_are_evicted_and_fetched_again_when_asked() {
    let s = setup().await;
    let p = proxy(
        &s,
        ProxySettings {
            evict_after_days: Some(7),
            ..Default::default()
        },
    );
    let url = reqwest::Url::parse(&format!("{}files/big.tgz", s.base)).unwrap();
    let want = Expect::Sha256(sha256(&file_bytes()));
    let source = p.file("file/big", &url, want.clone(), "x").await.unwrap();
    body_of(source, &s.blobs).await.unwrap();
    assert!(recorded(&s.meta, "file/big").await);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(p.evict_idle(now, 100).await.unwrap(), 0, "fetched just now");
    assert_eq!(p.evict_idle(now + 8 * 86400, 100).await.unwrap(), 1);
    assert!(s.meta.cached("npm/up", "file/big").await.unwrap().is_none());
    // Fetched again: the upstream is asked again, once.
    let before = s.upstream.file_requests.load(Ordering::SeqCst);
    let source = p.file("file/big", &url, want, "x").await.unwrap();
    assert_eq!(body_of(source, &s.blobs).await.unwrap(), file_bytes());
    assert_eq!(s.upstream.file_requests.load(Ordering::SeqCst), before + 1);
    // A proxy without evict_after_days keeps everything.
    let keeper = proxy(&s, ProxySettings::default());
    assert_eq!(keeper.evict_idle(now + 800 * 86400, 100).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_body_fails_every_stream_and_is_not_cached() {
    let s = setup().await;
    let p = proxy(&s, ProxySettings::default());
    s.upstream.mode.store(3, Ordering::SeqCst);
    let url = reqwest::Url::parse(&format!("{}files/big.tgz", s.base)).unwrap();
    let want = Expect::Sha256(sha256(&file_bytes()));
    let source = p.file("file/big", &url, want.clone(), "x").await.unwrap();
    let err = body_of(source, &s.blobs).await.unwrap_err();
    assert!(err.to_string().contains("do not match"), "{err}");
    assert!(s.meta.cached("npm/up", "file/big").await.unwrap().is_none());
    // Honest bytes later are taken.
    s.upstream.mode.store(0, Ordering::SeqCst);
    let source = p.file("file/big", &url, want, "x").await.unwrap();
    assert_eq!(body_of(source, &s.blobs).await.unwrap(), file_bytes());
    assert!(
        recorded(&s.meta, "file/big").await,
        "the honest bytes were cached"
    );
}

#[tokio::test]
async fn documents_revalidate_conditionally_and_survive_the_upstream() {
    let s = setup().await;
    let p = proxy(
        &s,
        ProxySettings {
            ttl_secs: 0,
            failures_to_open: 100,
            ..Default::default()
        },
    );
    let url = reqwest::Url::parse(&format!("{}doc", s.base)).unwrap();
    let d = p
        .document("doc", &url, "", Refresh::IfExpired)
        .await
        .unwrap();
    assert_eq!(d.status, CacheStatus::Miss);
    assert_eq!(&d.bytes[..], b"{\"version\":0}");
    // Expired at once (ttl 0): a conditional request, answered 304.
    let d = p
        .document("doc", &url, "", Refresh::IfExpired)
        .await
        .unwrap();
    assert_eq!(d.status, CacheStatus::Revalidated);
    assert_eq!(s.upstream.conditional.load(Ordering::SeqCst), 1);
    // A change upstream is seen.
    s.upstream.doc_version.store(1, Ordering::SeqCst);
    let d = p
        .document("doc", &url, "", Refresh::IfExpired)
        .await
        .unwrap();
    assert_eq!(
        (&d.bytes[..], d.status),
        (&b"{\"version\":1}"[..], CacheStatus::Miss)
    );
    // The upstream fails: the cached copy, said to be stale.
    s.upstream.mode.store(1, Ordering::SeqCst);
    let d = p
        .document("doc", &url, "", Refresh::IfExpired)
        .await
        .unwrap();
    assert!(
        matches!(d.status, CacheStatus::Stale(ref r) if r.contains("502")),
        "{:?}",
        d.status
    );
    assert_eq!(&d.bytes[..], b"{\"version\":1}");
    // Nothing cached and the upstream failing: unavailable, no negative entry.
    let missing = reqwest::Url::parse(&format!("{}missing", s.base)).unwrap();
    s.upstream.mode.store(0, Ordering::SeqCst);
    let err = p
        .document("gone", &missing, "", Refresh::IfExpired)
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyError::NotFound(_)), "{err}");
    assert_eq!(
        s.meta
            .cached("npm/up", "gone")
            .await
            .unwrap()
            .unwrap()
            .status,
        404
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let s = setup().await;
    let p = proxy(
        &s,
        ProxySettings {
            ttl_secs: 0,
            ..Default::default()
        },
    );
    let url = reqwest::Url::parse(&format!("{}doc", s.base)).unwrap();
    p.document("doc", &url, "", Refresh::IfExpired)
        .await
        .unwrap();
    s.upstream.mode.store(2, Ordering::SeqCst);
    let before = s.upstream.doc_requests.load(Ordering::SeqCst);
    for _ in 0..10 {
        let d = p
            .document("doc", &url, "", Refresh::IfExpired)
            .await
            .unwrap();
        assert!(matches!(d.status, CacheStatus::Stale(_)));
    }
    // One request met the 429; none were sent while Retry-After ran.
    assert_eq!(s.upstream.doc_requests.load(Ordering::SeqCst), before + 1);
    assert!(p.circuit_open());
}

#[tokio::test]
async fn offline_serves_only_what_is_cached() {
    let s = setup().await;
    let url = reqwest::Url::parse(&format!("{}doc", s.base)).unwrap();
    proxy(&s, ProxySettings::default())
        .document("doc", &url, "", Refresh::IfExpired)
        .await
        .unwrap();
    let offline = proxy(
        &s,
        ProxySettings {
            offline: true,
            ttl_secs: 0,
            ..Default::default()
        },
    );
    let before = s.upstream.doc_requests.load(Ordering::SeqCst);
    let d = offline
        .document("doc", &url, "", Refresh::IfExpired)
        .await
        .unwrap();
    assert_eq!(d.status, CacheStatus::Offline);
    assert!(offline
        .document("other", &url, "", Refresh::IfExpired)
        .await
        .is_err());
    let file = reqwest::Url::parse(&format!("{}files/big.tgz", s.base)).unwrap();
    assert!(offline
        .file("file/big", &file, Expect::Nothing, "x")
        .await
        .is_err());
    assert_eq!(s.upstream.doc_requests.load(Ordering::SeqCst), before);
    assert_eq!(s.upstream.file_requests.load(Ordering::SeqCst), 0);
}

/// The SQLite store, presented as one that replicas share (as PostgreSQL
/// is), so that fills take leases.
struct Shared(Arc<dyn MetaStore>);

#[async_trait::async_trait]
impl ProxyStore for Shared {
    async fn cached(&self, r: &str, k: &str) -> Result<Option<CachedEntry>, StoreError> {
        self.0.cached(r, k).await
    }
    async fn put_cached(&self, e: &CachedEntry) -> Result<(), StoreError> {
        self.0.put_cached(e).await
    }
    async fn revalidated(
        &self,
        r: &str,
        k: &str,
        at: i64,
        etag: Option<&str>,
        modified: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.0.revalidated(r, k, at, etag, modified).await
    }
    async fn drop_cached(&self, r: &str, k: &str) -> Result<bool, StoreError> {
        self.0.drop_cached(r, k).await
    }
    async fn note_cached_use(&self, r: &str, k: &str) -> Result<(), StoreError> {
        self.0.note_cached_use(r, k).await
    }
    async fn fill_holder(
        &self,
        r: &str,
        k: &str,
        now_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        self.0.fill_holder(r, k, now_ms).await
    }
    async fn note_proxied_version(
        &self,
        r: &str,
        k: &str,
        v: &cairn_store::ProxiedVersion,
    ) -> Result<(), StoreError> {
        self.0.note_proxied_version(r, k, v).await
    }
    async fn idle_cached(
        &self,
        r: &str,
        before: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        self.0.idle_cached(r, before, limit).await
    }
    async fn list_cached(
        &self,
        r: &str,
        prefix: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<CachedEntry>, StoreError> {
        self.0.list_cached(r, prefix, after, limit).await
    }
    async fn cached_usage(&self, r: &str) -> Result<(u64, u64), StoreError> {
        self.0.cached_usage(r).await
    }
    fn shared_by_replicas(&self) -> bool {
        true
    }
    async fn lease_fill(
        &self,
        r: &str,
        k: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.0.lease_fill(r, k, owner, now, until).await
    }
    async fn release_fill(&self, r: &str, k: &str, owner: &str) -> Result<(), StoreError> {
        self.0.release_fill(r, k, owner).await
    }
    async fn versions_seen(
        &self,
        r: &str,
        k: &str,
        versions: &[String],
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        self.0.versions_seen(r, k, versions, now).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_make_one_upstream_request_and_take_over_a_dead_fill() {
    let s = setup().await;
    // Two proxies over one (shared) metadata store and one blob store: two replicas.
    let replica = || {
        let settings = ProxySettings {
            name: "up".into(),
            format: "npm".into(),
            upstream: s.base.clone(),
            // A lease that is never released would outlive the test.
            fill_lease_secs: 3600,
            ..Default::default()
        };
        let meta: Arc<dyn ProxyStore> = Arc::new(Shared(s.meta.clone()));
        let spool = s.dir.path().join("spool");
        Arc::new(Proxy::new("npm/up".into(), settings, meta, s.blobs.clone(), spool).unwrap())
    };
    let (a, b) = (replica(), replica());
    let url = reqwest::Url::parse(&format!("{}files/big.tgz", s.base)).unwrap();
    let want = Expect::Sha256(sha256(&file_bytes()));
    let mut tasks = Vec::new();
    for i in 0..10 {
        let p = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (url, want, blobs) = (url.clone(), want.clone(), s.blobs.clone());
        tasks.push(tokio::spawn(async move {
            let source = p.file("file/big", &url, want, "x").await?;
            Ok::<_, ProxyError>(body_of(source, &blobs).await?)
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap().unwrap() == file_bytes());
    }
    assert_eq!(
        s.upstream.file_requests.load(Ordering::SeqCst),
        1,
        "one fill across replicas"
    );

    // A replica that took the lease and died: the next fill waits for the
    // lease to lapse, then fetches.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(s
        .meta
        .lease_fill("npm/up", "file/other", "dead-replica", now, now + 1500)
        .await
        .unwrap());
    let source = a.file("file/other", &url, want, "x").await.unwrap();
    assert!(body_of(source, &s.blobs).await.unwrap() == file_bytes());
    assert_eq!(s.upstream.file_requests.load(Ordering::SeqCst), 2);
    // The fill gives its lease up once it has stored the file (after the
    // clients have their bytes); held, it would last an hour.
    let mut released = false;
    for _ in 0..300 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        if s.meta
            .lease_fill("npm/up", "file/other", "someone", now, now + 1000)
            .await
            .unwrap()
        {
            released = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(released, "the fill kept its lease");
}

#[tokio::test]
async fn near_the_upstreams_pull_budget_optional_refreshes_stop() {
    let s = setup().await;
    let p = proxy(
        &s,
        ProxySettings {
            revalidate_after_secs: 0,
            ttl_secs: 300,
            ..Default::default()
        },
    );
    let url = reqwest::Url::parse(&format!("{}doc", s.base)).unwrap();
    s.upstream.budget.store(100, Ordering::SeqCst);
    p.document("doc", &url, "", Refresh::IfExpired)
        .await
        .unwrap();
    // Plenty left: a request past revalidate_after revalidates.
    p.document("doc", &url, "", Refresh::IfExpired)
        .await
        .unwrap();
    assert_eq!(s.upstream.doc_requests.load(Ordering::SeqCst), 2);
    // The upstream says 5 are left (the floor is 10): inside its TTL the
    // document is served without asking.
    s.upstream.budget.store(5, Ordering::SeqCst);
    p.document("doc", &url, "", Refresh::IfExpired)
        .await
        .unwrap();
    let asked = s.upstream.doc_requests.load(Ordering::SeqCst);
    for _ in 0..5 {
        let d = p
            .document("doc", &url, "", Refresh::IfExpired)
            .await
            .unwrap();
        assert_eq!(d.status, CacheStatus::Hit);
    }
    assert_eq!(s.upstream.doc_requests.load(Ordering::SeqCst), asked);
}

#[tokio::test]
async fn a_fresh_document_is_answered_from_memory_until_dropped_here() {
    let s = setup().await;
    let settings = || ProxySettings {
        revalidate_after_secs: 3600,
        ttl_secs: 3600,
        ..ProxySettings::default()
    };
    let (a, b) = (proxy(&s, settings()), proxy(&s, settings()));
    let url = reqwest::Url::parse(&format!("{}doc", s.base)).unwrap();
    a.document("doc", &url, "", Refresh::IfExpired)
        .await
        .unwrap();
    let fetched = s.upstream.doc_requests.load(Ordering::SeqCst);
    // Another replica drops the entry: inside the window this replica still
    // answers from what it read (as the store would have said "fresh").
    assert!(b.drop_entry("doc").await.unwrap());
    let d = a
        .document("doc", &url, "", Refresh::IfExpired)
        .await
        .unwrap();
    assert_eq!(d.status, CacheStatus::Hit);
    assert_eq!(s.upstream.doc_requests.load(Ordering::SeqCst), fetched);
    // A drop on this replica takes effect here at once: the store is asked,
    // finds nothing, and the upstream is asked again.
    a.drop_entry("doc").await.unwrap();
    a.document("doc", &url, "", Refresh::IfExpired)
        .await
        .unwrap();
    assert_eq!(s.upstream.doc_requests.load(Ordering::SeqCst), fetched + 1);
}
