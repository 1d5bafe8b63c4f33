//! [`Proxy`]: one proxy repository's cache, with the two rules of the
//! crate (immutable files fetched once; documents revalidated after their
//! time to live, and served stale when the upstream fails).

use crate::fill::{self, Expect, Fill};
use crate::upstream::Answer;
use crate::{ProxyError, ProxySettings, RemovedUpstream, Upstream};
use bytes::Bytes;
use cairn_core::Digest;
use cairn_store::{Blobs, ByteCache, ByteStream, CachedEntry, ProxyStore};
use futures::StreamExt;
use reqwest::Url;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// How a document or file was served, for the `x-cairn-cache` header, the
/// log and the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheStatus {
    /// From the cache, within its time to live (or immutable).
    Hit,
    /// Fetched from the upstream now.
    Miss,
    /// The upstream confirmed the cached copy (304).
    Revalidated,
    /// From the cache past its time to live, because the upstream failed.
    Stale(String),
    /// From the cache; the repository never calls its upstream.
    Offline,
}

impl CacheStatus {
    /// The `x-cairn-cache` header's value.
    pub fn header(&self) -> String {
        match self {
            CacheStatus::Hit => "hit".into(),
            CacheStatus::Miss => "miss".into(),
            CacheStatus::Revalidated => "revalidated".into(),
            CacheStatus::Stale(reason) => {
                let reason: String = reason
                    .chars()
                    .map(|c| if c == '"' || c.is_control() { '\'' } else { c })
                    .collect();
                format!("stale; reason=\"{reason}\"")
            }
            CacheStatus::Offline => "offline".into(),
        }
    }

    fn metric(&self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
            CacheStatus::Revalidated => "revalidated",
            CacheStatus::Stale(_) => "stale",
            CacheStatus::Offline => "offline",
        }
    }
}

/// A metadata document as the upstream last gave it.
#[derive(Debug, Clone)]
pub struct Document {
    pub bytes: Bytes,
    pub digest: Digest,
    pub content_type: String,
    /// When these bytes first arrived, and when the upstream last confirmed them.
    pub fetched_at: i64,
    pub checked_at: i64,
    /// The upstream's `Last-Modified`, when it sent one.
    pub last_modified: Option<String>,
    pub status: CacheStatus,
}

/// When a cached document is asked of the upstream again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Past `revalidate_after_secs`: revalidated, waiting for the answer at
    /// most `revalidate_wait_ms` (then the cached copy); past `ttl_secs`,
    /// waiting for it.
    IfExpired,
    /// The caller looked for something the cached copy lacks, or the
    /// client asked for a fresh copy: past `revalidate_after_secs`,
    /// revalidated and waited for.
    Missing,
}

/// How a cached document is revalidated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// A conditional GET (`If-None-Match` / `If-Modified-Since`).
    Conditional,
    /// A HEAD whose `Docker-Content-Digest` is compared with the cached
    /// one (OCI tags: Docker Hub does not count HEADs against its pull
    /// limit); a GET only when it differs. The document's bytes must hash
    /// to the digest the upstream states.
    DigestHead,
}

/// The header in which registries state a manifest's digest.
const CONTENT_DIGEST: &str = "docker-content-digest";

impl Refresh {
    /// What a client's `Cache-Control` asks for: `no-cache` or `max-age=0`
    /// (npm never sends them; pip does for every index page) ask for a
    /// revalidation, at most once per `revalidate_after_secs` per document.
    pub fn from_cache_control(value: Option<&str>) -> Refresh {
        let fresh = value.is_some_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|d| d.eq_ignore_ascii_case("no-cache") || d == "max-age=0")
        });
        if fresh {
            Refresh::Missing
        } else {
            Refresh::IfExpired
        }
    }
}

/// What a cached entry allows without the upstream.
enum Due {
    /// Serve it.
    Fresh(Document),
    /// Revalidate, but serve it if the upstream is slow to answer.
    Soon(CachedEntry),
    /// Revalidate and wait.
    Now,
}

/// A file, to be served.
pub enum FileSource {
    /// In the blob store.
    Cached {
        digest: Digest,
        size: u64,
        content_type: String,
        /// The upstream's `Last-Modified` when the file was fetched (a
        /// Maven artifact's publish time).
        last_modified: Option<String>,
    },
    /// Arriving from the upstream now (this request's fill or another's).
    Streaming {
        body: ByteStream,
        size: Option<u64>,
        content_type: String,
        coalesced: bool,
    },
}

/// What the fills and the documents share; fills run in tasks of their own.
pub(crate) struct Shared {
    pub(crate) repository: String,
    pub(crate) settings: ProxySettings,
    pub(crate) upstream: Upstream,
    pub(crate) meta: Arc<dyn ProxyStore>,
    pub(crate) blobs: Arc<Blobs>,
    pub(crate) spool_dir: PathBuf,
    pub(crate) fills: Mutex<HashMap<String, Arc<Fill>>>,
    /// Who this process is in fill leases (with its address, when peers
    /// are configured).
    pub(crate) owner: String,
    /// The other replicas, to stream their fills in progress from.
    pub(crate) peers: Option<Arc<crate::peers::Peers>>,
    documents: ByteCache,
    /// Documents' entries as last read from the store, answered without
    /// asking it again while they are inside `revalidate_after_secs` of the
    /// upstream's last confirmation (the store would say "fresh" too; a
    /// newer copy another replica fetched meanwhile is seen once the
    /// window ends, as it would be from the store).
    fresh: quick_cache::sync::Cache<String, CachedEntry>,
    /// One revalidation per document at a time in this process.
    revalidating: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The entries this replica recorded as served lately, for eviction.
    uses: cairn_store::UseNotes,
}

impl Shared {
    /// Records that the entry `key` was served (for `evict_after_days`).
    fn note_use(&self, key: &str) {
        if self.settings.evict_after_days.is_none() {
            return;
        }
        let (meta, repository, k) = (self.meta.clone(), self.repository.clone(), key.to_string());
        self.uses.note(
            format!("{repository}\0{key}"),
            "a proxy cache hit",
            async move { meta.note_cached_use(&repository, &k).await },
        );
    }

    /// What the cached entry allows without asking the upstream.
    async fn due(&self, entry: Option<CachedEntry>, refresh: Refresh) -> Result<Due, ProxyError> {
        if self.settings.offline {
            return match entry {
                Some(e) if e.status == 200 => {
                    Ok(Due::Fresh(self.load(&e, CacheStatus::Offline).await?))
                }
                _ => Err(ProxyError::NotFound(format!(
                    "not cached, and {} is offline",
                    self.repository
                ))),
            };
        }
        let Some(e) = entry else { return Ok(Due::Now) };
        if self.believed_absent(&e) {
            self.count("negative");
            return Err(not_upstream(&e.key));
        }
        if e.status != 200 {
            return Ok(Due::Now);
        }
        let age = crate::now() - e.checked_at;
        let within = |secs: u64| age < secs as i64;
        let s = &self.settings;
        Ok(match refresh {
            _ if within(s.revalidate_after_secs.min(s.ttl_secs)) => {
                Due::Fresh(self.load(&e, CacheStatus::Hit).await?)
            }
            // Near the upstream's pull budget, what can wait does.
            Refresh::IfExpired if within(s.ttl_secs) && self.upstream.near_limit() => {
                Due::Fresh(self.load(&e, CacheStatus::Hit).await?)
            }
            Refresh::IfExpired if within(s.ttl_secs) => Due::Soon(e),
            _ => Due::Now,
        })
    }

    /// Revalidates `key` unless another request did since this one read
    /// the entry (its check time was `seen`): one revalidation at a time per
    /// document in this process, and whoever waited re-reads the entry.
    async fn revalidate_once(
        &self,
        key: &str,
        url: &Url,
        accept: &str,
        seen: Option<i64>,
        validation: Validation,
    ) -> Result<Document, ProxyError> {
        let lock = {
            let mut map = self.revalidating.lock().expect("revalidating");
            map.entry(key.to_string()).or_default().clone()
        };
        let outcome = {
            let _guard = lock.lock().await;
            let entry = self.meta.cached(&self.repository, key).await?;
            let checked = entry.as_ref().map(|e| e.checked_at);
            match entry {
                // Another request revalidated it while this one waited.
                Some(e) if checked != seen => {
                    self.count("coalesced");
                    if e.status == 200 {
                        self.load(&e, CacheStatus::Revalidated).await
                    } else {
                        Err(not_upstream(key))
                    }
                }
                entry => self.revalidate(key, url, accept, entry, validation).await,
            }
        };
        let mut map = self.revalidating.lock().expect("revalidating");
        if map.get(key).is_some_and(|l| Arc::strong_count(l) <= 2) {
            map.remove(key);
        }
        outcome
    }

    async fn revalidate(
        &self,
        key: &str,
        url: &Url,
        accept: &str,
        entry: Option<CachedEntry>,
        validation: Validation,
    ) -> Result<Document, ProxyError> {
        let s = self;
        let cached = entry.filter(|e| e.status == 200 && e.digest.is_some());
        let answer = match (&cached, validation) {
            (Some(e), Validation::DigestHead) => match s.upstream.head(url, accept).await {
                Ok(Answer::Body(head)) => {
                    let stated = head
                        .headers()
                        .get(CONTENT_DIGEST)
                        .and_then(|v| v.to_str().ok());
                    if stated.is_some() && stated == e.etag.as_deref() {
                        Ok(Answer::NotModified(reqwest::header::HeaderMap::new()))
                    } else {
                        s.upstream.get(url, accept, None).await
                    }
                }
                other => other,
            },
            _ => {
                let validators = cached
                    .as_ref()
                    .map(|e| (e.etag.as_deref(), e.last_modified.as_deref()));
                s.upstream.get(url, accept, validators).await
            }
        };
        let now = crate::now();
        match answer {
            Ok(Answer::NotModified(h)) => {
                let Some(mut e) = cached else {
                    return Err(s.unavailable("answered 304 to an unconditional request"));
                };
                let header = |n| {
                    h.get(n)
                        .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                };
                let etag = header(reqwest::header::ETAG);
                let modified = header(reqwest::header::LAST_MODIFIED);
                s.meta
                    .revalidated(&s.repository, key, now, etag, modified)
                    .await?;
                e.checked_at = now;
                s.fresh.insert(key.to_string(), e.clone());
                s.load(&e, CacheStatus::Revalidated).await
            }
            Ok(Answer::Body(response)) => {
                s.store_document(key, response, cached, now, validation)
                    .await
            }
            Ok(Answer::NotFound) => match cached {
                Some(mut e) if s.settings.removed_upstream == RemovedUpstream::Keep => {
                    tracing::warn!(repository = %s.repository, key,
                        "the upstream no longer has this; serving the cached copy (removed_upstream = keep)");
                    s.meta
                        .revalidated(&s.repository, key, now, None, None)
                        .await?;
                    e.checked_at = now;
                    s.fresh.insert(key.to_string(), e.clone());
                    s.load(&e, CacheStatus::Revalidated).await
                }
                _ => {
                    s.count("miss");
                    Err(s.negative(key).await)
                }
            },
            Err(ProxyError::Unavailable { upstream, reason }) => match cached {
                Some(e)
                    if now - e.checked_at
                        <= (s.settings.ttl_secs + s.settings.max_stale_secs) as i64 =>
                {
                    tracing::warn!(repository = %s.repository, key, %reason,
                        age_secs = now - e.checked_at, "upstream failed; serving the cached copy");
                    s.load(&e, CacheStatus::Stale(reason)).await
                }
                _ => Err(ProxyError::Unavailable { upstream, reason }),
            },
            Err(e) => Err(e),
        }
    }

    async fn store_document(
        &self,
        key: &str,
        response: reqwest::Response,
        cached: Option<CachedEntry>,
        now: i64,
        validation: Validation,
    ) -> Result<Document, ProxyError> {
        let s = self;
        let limit = s.settings.max_document_bytes;
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(ProxyError::TooLarge { limit });
        }
        let header = |n| {
            response
                .headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let stated = header(reqwest::header::HeaderName::from_static(CONTENT_DIGEST));
        let etag = match validation {
            Validation::DigestHead => stated.clone(),
            Validation::Conditional => header(reqwest::header::ETAG),
        };
        let last_modified = header(reqwest::header::LAST_MODIFIED);
        let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                s.unavailable(format!(
                    "reading the body: {}",
                    crate::upstream::error_chain(&e)
                ))
            })?;
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(ProxyError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        let bytes = Bytes::from(body);
        let digest = Digest::sha256_of(&bytes);
        if validation == Validation::DigestHead {
            if let Some(stated) = stated.filter(|d| d.starts_with("sha256:")) {
                if stated != digest.to_string() {
                    return Err(ProxyError::Integrity(format!(
                        "{key}: the upstream's bytes hash to {digest}, not the {stated} it states; nothing was cached"
                    )));
                }
            }
        }
        if cached.as_ref().and_then(|e| e.digest.as_ref()) != Some(&digest) {
            s.blobs.put_bytes(&digest, bytes.clone()).await?;
        }
        let entry = CachedEntry {
            repository: s.repository.clone(),
            key: key.to_string(),
            status: 200,
            digest: Some(digest.clone()),
            size: bytes.len() as u64,
            content_type: content_type.clone(),
            etag,
            last_modified,
            fetched_at: now,
            checked_at: now,
        };
        s.meta.put_cached(&entry).await?;
        s.documents.insert(digest.clone(), bytes.clone());
        s.count("miss");
        let fetched_at = match cached {
            Some(e) if e.digest.as_ref() == Some(&digest) => e.fetched_at,
            _ => now,
        };
        s.fresh.insert(
            key.to_string(),
            CachedEntry {
                fetched_at,
                ..entry.clone()
            },
        );
        Ok(Document {
            bytes,
            digest,
            content_type,
            fetched_at,
            checked_at: now,
            last_modified: entry.last_modified,
            status: CacheStatus::Miss,
        })
    }

    /// A cached document's bytes.
    async fn load(&self, e: &CachedEntry, status: CacheStatus) -> Result<Document, ProxyError> {
        let s = self;
        let digest = e
            .digest
            .clone()
            .ok_or_else(|| ProxyError::NotFound(format!("{} is not cached", e.key)))?;
        let bytes = match s.documents.get(&digest) {
            Some(b) => b,
            None => {
                let b = s.read_blob(&digest).await?;
                s.documents.insert(digest.clone(), b.clone());
                b
            }
        };
        s.count(status.metric());
        s.note_use(&e.key);
        Ok(Document {
            bytes,
            digest,
            content_type: e.content_type.clone(),
            fetched_at: e.fetched_at,
            checked_at: e.checked_at,
            last_modified: e.last_modified.clone(),
            status,
        })
    }

    async fn read_blob(&self, digest: &Digest) -> Result<Bytes, ProxyError> {
        let Some(stream) = self.blobs.store().read(digest, None).await? else {
            return Err(ProxyError::Io(std::io::Error::other(format!(
                "cached blob {digest} is missing"
            ))));
        };
        collect(stream).await
    }

    pub(crate) fn unavailable(&self, reason: impl Into<String>) -> ProxyError {
        ProxyError::Unavailable {
            upstream: self.upstream.base().to_string(),
            reason: reason.into(),
        }
    }

    /// Whether `e` is the upstream's "not found", still believed
    /// (`negative_ttl_secs`).
    pub(crate) fn believed_absent(&self, e: &CachedEntry) -> bool {
        e.status != 200 && crate::now() - e.checked_at < self.settings.negative_ttl_secs as i64
    }

    /// Records the upstream's "not found" for `key`, and answers it.
    pub(crate) async fn negative(&self, key: &str) -> ProxyError {
        let at = crate::now();
        self.fresh.remove(key);
        let recorded = self
            .meta
            .put_cached(&CachedEntry {
                repository: self.repository.clone(),
                key: key.to_string(),
                status: 404,
                digest: None,
                size: 0,
                content_type: String::new(),
                etag: None,
                last_modified: None,
                fetched_at: at,
                checked_at: at,
            })
            .await;
        match recorded {
            Ok(()) => not_upstream(key),
            Err(e) => e.into(),
        }
    }

    fn count(&self, what: &'static str) {
        metrics::counter!("cairn_proxy_requests_total",
            "repository" => self.repository.clone(), "result" => what)
        .increment(1);
    }
}

/// The answer for what the upstream does not have.
pub(crate) fn not_upstream(key: &str) -> ProxyError {
    ProxyError::NotFound(format!("{key} is not in the upstream"))
}

/// A stream's bytes, whole (small objects only).
async fn collect(mut stream: ByteStream) -> Result<Bytes, ProxyError> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out.into())
}

/// One proxy repository. Cheap to share behind an `Arc`.
pub struct Proxy {
    shared: Arc<Shared>,
}

/// Documents' entries kept in memory while fresh, per proxy repository.
const FRESH_ENTRIES: usize = 64 * 1024;

/// Bytes of documents kept in memory, per proxy repository.
const DOCUMENT_CACHE_BYTES: u64 = 32 << 20;

impl Proxy {
    /// `repository` is `FORMAT/NAME`; `spool_dir` holds fills in progress
    /// (unlinked files: nothing is left behind by a crash).
    pub fn new(
        repository: String,
        settings: ProxySettings,
        meta: Arc<dyn ProxyStore>,
        blobs: Arc<Blobs>,
        spool_dir: PathBuf,
    ) -> Result<Proxy, String> {
        let upstream = Upstream::new(&settings, repository.clone())?;
        std::fs::create_dir_all(&spool_dir)
            .map_err(|e| format!("proxy {repository}: spool {}: {e}", spool_dir.display()))?;
        Ok(Proxy {
            shared: Arc::new(Shared {
                repository,
                settings,
                upstream,
                meta,
                blobs,
                spool_dir,
                fills: Mutex::new(HashMap::new()),
                owner: cairn_store::blobs::uuid_v4(),
                peers: None,
                documents: ByteCache::new(DOCUMENT_CACHE_BYTES),
                fresh: quick_cache::sync::Cache::new(FRESH_ENTRIES),
                revalidating: Mutex::new(HashMap::new()),
                uses: Default::default(),
            }),
        })
    }

    /// Streams fills from, and to, the other replicas (see
    /// [`crate::peers`]); before the proxy is shared.
    pub fn with_peers(mut self, peers: Arc<crate::peers::Peers>) -> Proxy {
        if let Some(s) = Arc::get_mut(&mut self.shared) {
            s.owner = peers.owner(&s.owner);
            s.peers = Some(peers);
        }
        self
    }

    /// The fill of `key` in progress in this process, if any: its size (if
    /// known), content type and bytes as they arrive (what another replica
    /// streams from [`crate::peers::FILL_PATH`]). `None` when there is none,
    /// or it finished before answering.
    pub async fn fill_in_progress(
        &self,
        key: &str,
    ) -> Result<Option<(Option<u64>, String, ByteStream)>, ProxyError> {
        let fill = self.shared.fills.lock().expect("fills").get(key).cloned();
        let Some(fill) = fill else {
            return Ok(None);
        };
        Ok(fill
            .head()
            .await?
            .map(|(size, content_type)| (size, content_type, fill.stream())))
    }

    pub fn upstream(&self) -> &Upstream {
        &self.shared.upstream
    }

    pub fn settings(&self) -> &ProxySettings {
        &self.shared.settings
    }

    /// `FORMAT/NAME`.
    pub fn repository(&self) -> &str {
        &self.shared.repository
    }

    /// The document under `key`, which the upstream has at `url`: from the
    /// cache while young; revalidated when older (one conditional request
    /// at a time per document in this process, run in a task of its own so
    /// a client leaving does not stop it); served from the cache when the
    /// upstream fails, up to `max_stale_secs` past its time to live.
    pub async fn document(
        &self,
        key: &str,
        url: &Url,
        accept: &str,
        refresh: Refresh,
    ) -> Result<Document, ProxyError> {
        self.document_with(key, url, accept, refresh, Validation::Conditional)
            .await
    }

    /// [`Proxy::document`], revalidated as `validation` says.
    pub async fn document_with(
        &self,
        key: &str,
        url: &Url,
        accept: &str,
        refresh: Refresh,
        validation: Validation,
    ) -> Result<Document, ProxyError> {
        let s = &self.shared;
        let window = s.settings.revalidate_after_secs.min(s.settings.ttl_secs) as i64;
        if !s.settings.offline {
            if let Some(e) = s.fresh.get(key) {
                if crate::now() - e.checked_at < window {
                    return s.load(&e, CacheStatus::Hit).await;
                }
            }
        }
        let entry = s.meta.cached(&s.repository, key).await?;
        if let Some(e) = entry.as_ref().filter(|e| e.status == 200) {
            s.fresh.insert(key.to_string(), e.clone());
        }
        let seen = entry.as_ref().map(|e| e.checked_at);
        let due = s.due(entry, refresh).await?;
        if let Due::Fresh(doc) = due {
            return Ok(doc);
        }
        let task = {
            let (shared, key, url, accept) =
                (s.clone(), key.to_string(), url.clone(), accept.to_string());
            tokio::spawn(async move {
                shared
                    .revalidate_once(&key, &url, &accept, seen, validation)
                    .await
            })
        };
        let joined = |r: Result<Result<Document, ProxyError>, tokio::task::JoinError>| {
            r.unwrap_or_else(|e| Err(ProxyError::Io(std::io::Error::other(e))))
        };
        match due {
            Due::Soon(entry) => {
                let wait = std::time::Duration::from_millis(s.settings.revalidate_wait_ms);
                match tokio::time::timeout(wait, task).await {
                    Ok(done) => match joined(done) {
                        // Within its time to live, a failed revalidation
                        // leaves the cached copy as good as it was.
                        Err(ProxyError::Unavailable { .. }) => {
                            s.load(&entry, CacheStatus::Hit).await
                        }
                        other => other,
                    },
                    Err(_) => s.load(&entry, CacheStatus::Hit).await,
                }
            }
            _ => joined(task.await),
        }
    }

    /// The immutable file under `key`, which the upstream has at `url` and
    /// whose bytes must match `expect`: from the blob store once cached,
    /// else from the one fill of it in progress (started here if none is).
    pub async fn file(
        &self,
        key: &str,
        url: &Url,
        expect: Expect,
        content_type: &str,
    ) -> Result<FileSource, ProxyError> {
        self.file_accepting(key, url, "", expect, content_type)
            .await
    }

    /// [`Proxy::file`], asking the upstream with this `Accept` header.
    pub async fn file_accepting(
        &self,
        key: &str,
        url: &Url,
        accept: &str,
        expect: Expect,
        content_type: &str,
    ) -> Result<FileSource, ProxyError> {
        let s = &self.shared;
        if let Some(served) = self.cached_file(key).await? {
            return Ok(served);
        }
        if s.settings.offline {
            return Err(ProxyError::NotFound(format!(
                "{key} is not cached, and {} is offline",
                s.repository
            )));
        }
        let (fill, coalesced) = fill::join(
            &self.shared,
            fill::Request {
                key: key.to_string(),
                url: url.clone(),
                accept: accept.to_string(),
                expect,
                content_type: content_type.to_string(),
            },
        )?;
        s.count(if coalesced { "coalesced" } else { "miss" });
        match fill.head().await? {
            Some((size, content_type)) => Ok(FileSource::Streaming {
                body: fill.stream(),
                size,
                content_type,
                coalesced,
            }),
            None => self
                .cached_file(key)
                .await?
                .ok_or_else(|| s.unavailable("the cached copy vanished")),
        }
    }

    /// The file under `key` if it is cached (a negative entry within its
    /// time to live is a "not found").
    pub async fn cached_file(&self, key: &str) -> Result<Option<FileSource>, ProxyError> {
        let s = &self.shared;
        match s.meta.cached(&s.repository, key).await? {
            Some(CachedEntry {
                status: 200,
                digest: Some(digest),
                size,
                content_type,
                last_modified,
                ..
            }) => {
                s.count("hit");
                s.note_use(key);
                Ok(Some(FileSource::Cached {
                    digest,
                    size,
                    content_type,
                    last_modified,
                }))
            }
            Some(e) if s.believed_absent(&e) => {
                s.count("negative");
                Err(not_upstream(key))
            }
            _ => Ok(None),
        }
    }

    /// What is cached, in key order (the admin view).
    pub async fn entries(
        &self,
        prefix: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<CachedEntry>, ProxyError> {
        let s = &self.shared;
        Ok(s.meta
            .list_cached(&s.repository, prefix, after, limit)
            .await?)
    }

    /// Records that the immutable file under `key` is `doc`'s bytes (an OCI
    /// manifest fetched by tag is then cached by digest too).
    pub async fn remember_file(&self, key: &str, doc: &Document) -> Result<(), ProxyError> {
        let s = &self.shared;
        if s.meta
            .cached(&s.repository, key)
            .await?
            .is_some_and(|e| e.status == 200)
        {
            return Ok(());
        }
        s.meta
            .put_cached(&CachedEntry {
                repository: s.repository.clone(),
                key: key.to_string(),
                status: 200,
                digest: Some(doc.digest.clone()),
                size: doc.bytes.len() as u64,
                content_type: doc.content_type.clone(),
                etag: None,
                last_modified: None,
                fetched_at: doc.fetched_at,
                checked_at: doc.checked_at,
            })
            .await?;
        Ok(())
    }

    /// The rule for a file the upstream's current metadata no longer lists:
    /// served from the cache (`keep`), refused (`hide`), or refused and
    /// dropped from the cache (`purge`). Adapters ask this
    /// before serving a cached file whenever the rule is not `keep`.
    pub async fn unlisted(&self, key: &str) -> Result<(), ProxyError> {
        let s = &self.shared;
        match s.settings.removed_upstream {
            RemovedUpstream::Keep => Ok(()),
            rule => {
                s.fresh.remove(key);
                if rule == RemovedUpstream::Purge && s.meta.drop_cached(&s.repository, key).await? {
                    tracing::warn!(repository = %s.repository, key,
                        "the upstream no longer lists this: dropped from the cache (removed_upstream = purge)");
                }
                s.count("removed");
                Err(ProxyError::NotFound(format!(
                    "{key} is no longer listed by the upstream"
                )))
            }
        }
    }

    /// Whether cached files must be checked against the upstream's current
    /// metadata before they are served (`removed_upstream` is not `keep`).
    pub fn checks_listing(&self) -> bool {
        self.shared.settings.removed_upstream != RemovedUpstream::Keep
    }

    /// How many objects are cached, and their bytes.
    pub async fn usage(&self) -> Result<(u64, u64), ProxyError> {
        let s = &self.shared;
        Ok(s.meta.cached_usage(&s.repository).await?)
    }

    /// Forgets one cached entry; the next request fetches it again.
    pub async fn drop_entry(&self, key: &str) -> Result<bool, ProxyError> {
        let s = &self.shared;
        s.fresh.remove(key);
        Ok(s.meta.drop_cached(&s.repository, key).await?)
    }

    /// Drops every entry nobody fetched or was served for
    /// `evict_after_days` (none if unset), at most `max` of them; the
    /// collector then frees their bytes. The number dropped.
    pub async fn evict_idle(&self, now: i64, max: u32) -> Result<u64, ProxyError> {
        let s = &self.shared;
        let Some(days) = s.settings.evict_after_days else {
            return Ok(0);
        };
        let before = now - days as i64 * 86400;
        let mut dropped = 0;
        for key in s.meta.idle_cached(&s.repository, before, max).await? {
            if self.drop_entry(&key).await? {
                dropped += 1;
            }
        }
        if dropped > 0 {
            tracing::info!(repository = %s.repository, dropped, days, "evicted idle proxy cache entries");
        }
        Ok(dropped)
    }

    /// A (small) file's bytes, whichever way it is being served: for what
    /// cairn reads itself (an OCI manifest, a Maven `.sha1`).
    pub async fn read_all(&self, source: FileSource) -> Result<Bytes, ProxyError> {
        match source {
            FileSource::Cached { digest, .. } => self.shared.read_blob(&digest).await,
            FileSource::Streaming { body, .. } => collect(body).await,
        }
    }

    /// Whether the upstream's circuit breaker is open now.
    pub fn circuit_open(&self) -> bool {
        self.shared.upstream.circuit_open()
    }
}
