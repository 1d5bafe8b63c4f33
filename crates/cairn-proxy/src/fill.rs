//! Single-flight fills: one upstream request for an uncached file however
//! many clients ask for it at once, streamed to all of them as it arrives.
//!
//! The first request starts a fill: a task of its own (so no client's
//! disconnect stops it) that writes the upstream's bytes to an unlinked
//! spool file and publishes its progress on a watch channel. Every client,
//! the first included, reads the spool file behind that progress. The last
//! byte is held back until the whole body has been verified against what
//! the upstream's metadata promised, so a client never receives a complete
//! body that fails verification: a mismatch ends every stream with an error
//! and nothing is cached.

use crate::cache::{not_upstream, Shared};
use crate::upstream::{error_chain, Answer};
use crate::ProxyError;
use base64::Engine;
use bytes::Bytes;
use cairn_core::Digest;
use cairn_store::{ByteStream, CachedEntry};
use futures::StreamExt;
use sha1::Digest as _;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use tokio::sync::watch;

/// What a file's bytes must hash to, as the upstream's metadata says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Hex SHA-256 (PyPI's `#sha256=`, OCI digests, Cargo's `cksum`).
    Sha256(String),
    /// Raw SHA-512 (npm's `integrity`).
    Sha512(Vec<u8>),
    /// Hex SHA-1 (npm's `shasum`, Maven's `.sha1`).
    Sha1(String),
    /// The upstream promises nothing; the bytes are stored as they came.
    Nothing,
}

impl Expect {
    /// A Subresource Integrity value (`sha512-<base64>`), as npm gives it.
    pub fn from_sri(sri: &str) -> Option<Expect> {
        let (alg, b64) = sri.split_whitespace().next()?.split_once('-')?;
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        match alg {
            "sha512" if raw.len() == 64 => Some(Expect::Sha512(raw)),
            "sha256" if raw.len() == 32 => Some(Expect::Sha256(hex::encode(raw))),
            "sha1" if raw.len() == 20 => Some(Expect::Sha1(hex::encode(raw))),
            _ => None,
        }
    }
}

/// Hashes a fill's bytes as they arrive: what the expectation needs, and no
/// more (the client's last byte waits for it). The blob's name, a SHA-256,
/// is worked out while it is stored when the expectation is another hash.
struct Hashes {
    sha256: Option<sha2::Sha256>,
    sha512: Option<sha2::Sha512>,
    sha1: Option<sha1::Sha1>,
}

impl Hashes {
    fn new(expect: &Expect) -> Hashes {
        Hashes {
            sha256: matches!(expect, Expect::Sha256(_)).then(sha2::Sha256::new),
            sha512: matches!(expect, Expect::Sha512(_)).then(sha2::Sha512::new),
            sha1: matches!(expect, Expect::Sha1(_)).then(sha1::Sha1::new),
        }
    }

    fn update(&mut self, b: &[u8]) {
        if let Some(h) = &mut self.sha256 {
            h.update(b);
        }
        if let Some(h) = &mut self.sha512 {
            h.update(b);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(b);
        }
    }

    /// Whether the bytes are what `expect` promised; with a SHA-256
    /// promised, the blob's digest.
    fn verify(self, expect: &Expect, what: &str) -> Result<Option<Digest>, ProxyError> {
        let sha256 = self.sha256.map(|h| hex::encode(h.finalize()));
        let ok = match expect {
            Expect::Sha256(hex) => sha256
                .as_deref()
                .is_some_and(|s| hex.eq_ignore_ascii_case(s)),
            Expect::Sha512(raw) => self.sha512.is_some_and(|h| h.finalize().as_slice() == raw),
            Expect::Sha1(hex) => self
                .sha1
                .is_some_and(|h| hex.eq_ignore_ascii_case(&hex::encode(h.finalize()))),
            Expect::Nothing => true,
        };
        if !ok {
            return Err(ProxyError::Integrity(format!(
                "{what}: the upstream's bytes do not match the hash its metadata gives; nothing was cached"
            )));
        }
        Ok(sha256.map(|s| format!("sha256:{s}").parse().expect("a sha256 digest")))
    }
}

/// A fill's progress, as every reader sees it.
#[derive(Clone)]
pub(crate) enum Progress {
    Starting,
    /// The upstream answered; `written` bytes are in the spool.
    Streaming {
        size: Option<u64>,
        content_type: String,
        written: u64,
    },
    /// All bytes are in the spool and verified.
    Verified {
        written: u64,
        content_type: String,
    },
    /// The object was already cached when the fill began.
    Cached,
    Failed(Failure),
}

/// Why a fill failed, for every reader (errors are not `Clone`).
#[derive(Clone)]
pub(crate) enum Failure {
    NotFound(String),
    Unavailable { upstream: String, reason: String },
    Integrity(String),
    TooLarge(u64),
    Internal(String),
}

impl From<ProxyError> for Failure {
    fn from(e: ProxyError) -> Failure {
        match e {
            ProxyError::NotFound(m) => Failure::NotFound(m),
            ProxyError::Unavailable { upstream, reason } => {
                Failure::Unavailable { upstream, reason }
            }
            ProxyError::Integrity(m) => Failure::Integrity(m),
            ProxyError::TooLarge { limit } => Failure::TooLarge(limit),
            e => Failure::Internal(error_chain(&e)),
        }
    }
}

impl From<Failure> for ProxyError {
    fn from(f: Failure) -> ProxyError {
        match f {
            Failure::NotFound(m) => ProxyError::NotFound(m),
            Failure::Unavailable { upstream, reason } => {
                ProxyError::Unavailable { upstream, reason }
            }
            Failure::Integrity(m) => ProxyError::Integrity(m),
            Failure::TooLarge(limit) => ProxyError::TooLarge { limit },
            Failure::Internal(m) => ProxyError::Io(std::io::Error::other(m)),
        }
    }
}

/// One fill in progress.
pub(crate) struct Fill {
    spool: Arc<std::fs::File>,
    pub(crate) progress: watch::Receiver<Progress>,
}

/// What to fetch and how to check it.
pub(crate) struct Request {
    pub key: String,
    pub url: reqwest::Url,
    /// The `Accept` header sent (OCI registries answer a manifest only in
    /// a type the client accepts).
    pub accept: String,
    pub expect: Expect,
    pub content_type: String,
}

/// Joins the fill of `req.key`, starting it if none is running; the flag
/// says whether another request had started it.
pub(crate) fn join(shared: &Arc<Shared>, req: Request) -> Result<(Arc<Fill>, bool), ProxyError> {
    let mut fills = shared.fills.lock().expect("fills");
    if let Some(f) = fills.get(&req.key) {
        return Ok((f.clone(), true));
    }
    let spool = Arc::new(tempfile::tempfile_in(&shared.spool_dir)?);
    let (tx, rx) = watch::channel(Progress::Starting);
    let fill = Arc::new(Fill {
        spool: spool.clone(),
        progress: rx,
    });
    fills.insert(req.key.clone(), fill.clone());
    let shared = shared.clone();
    tokio::spawn(async move {
        let key = req.key.clone();
        let outcome = run(&shared, req, &spool, &tx).await;
        match outcome {
            Ok(p) => tx.send_replace(p),
            Err(e) => {
                tracing::warn!(repository = %shared.upstream.label, key, error = %error_chain(&e),
                    "proxy fill failed");
                tx.send_replace(Progress::Failed(e.into()))
            }
        };
        shared.fills.lock().expect("fills").remove(&key);
    });
    Ok((fill, false))
}

/// The fill itself: the lease, then fetch, spool, verify, store and record.
async fn run(
    shared: &Shared,
    req: Request,
    spool: &Arc<std::fs::File>,
    tx: &watch::Sender<Progress>,
) -> Result<Progress, ProxyError> {
    if !shared.meta.shared_by_replicas() {
        // One process: the fills map already makes this the only fill.
        if let Some(done) = finished(shared, &req.key).await? {
            return Ok(done);
        }
        return fetch(shared, &req, spool, tx).await;
    }
    // Across replicas, one fill at a time: the lease in the database says
    // whose. Without it, stream the holder's fill from it (peers), or wait
    // for the holder's result, or its lease to lapse.
    if let Some(done) = lease(shared, &req, spool, tx).await? {
        return Ok(done);
    }
    let heartbeat = Heartbeat::start(shared, &req.key);
    let result = fetch(shared, &req, spool, tx).await;
    heartbeat.stop().await;
    let _ = shared
        .meta
        .release_fill(&shared.repository, &req.key, &shared.owner)
        .await;
    result
}

/// The outcome of a fill that finished (here or elsewhere) since the caller
/// looked: cached, or remembered as not upstream.
async fn finished(shared: &Shared, key: &str) -> Result<Option<Progress>, ProxyError> {
    match shared.meta.cached(&shared.repository, key).await? {
        Some(e) if e.status == 200 => Ok(Some(Progress::Cached)),
        Some(e) if shared.believed_absent(&e) => Err(not_upstream(key)),
        _ => Ok(None),
    }
}

/// How long a fill lease lasts unless renewed, and how often it is renewed.
fn lease_length(shared: &Shared) -> std::time::Duration {
    std::time::Duration::from_secs(shared.settings.fill_lease_secs.max(1))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// How often a replica waiting on another's fill looks again.
const LEASE_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Takes the fill lease of `req.key`, waiting while another replica holds
/// it — meanwhile streaming that replica's fill from it, when peers are
/// configured (each holder is asked once). `Some` when the object turned up
/// meanwhile (cached, not upstream, or received whole from the holder).
async fn lease(
    shared: &Shared,
    req: &Request,
    spool: &Arc<std::fs::File>,
    tx: &watch::Sender<Progress>,
) -> Result<Option<Progress>, ProxyError> {
    let ttl = lease_length(shared).as_millis() as i64;
    let key = req.key.as_str();
    let mut asked: Option<String> = None;
    loop {
        if let Some(done) = finished(shared, key).await? {
            return Ok(Some(done));
        }
        let now = now_ms();
        if shared
            .meta
            .lease_fill(&shared.repository, key, &shared.owner, now, now + ttl)
            .await?
        {
            return Ok(None);
        }
        if let Some(peers) = &shared.peers {
            let holder = shared
                .meta
                .fill_holder(&shared.repository, key, now)
                .await?;
            if let Some(holder) = holder.filter(|h| asked.as_ref() != Some(h)) {
                asked = Some(holder.clone());
                if let Some(request) = peers.request(&holder, &shared.repository, key) {
                    match from_peer(shared, req, request, spool, tx).await {
                        Ok(done) => return Ok(Some(done)),
                        Err(e) => {
                            // The holder finished, failed or went away:
                            // what it left decides, or the lease lapses
                            // and this replica fills from the start (its
                            // readers wait until it is past where they are).
                            tracing::info!(repository = %shared.upstream.label, key, holder, error = %error_chain(&e),
                                "streaming a fill from the replica holding it did not finish");
                            tx.send_replace(Progress::Starting);
                        }
                    }
                }
            }
        }
        tokio::time::sleep(LEASE_POLL).await;
    }
}

/// Streams the fill in progress on the replica holding its lease, spooled
/// and verified like the upstream's bytes; the holder stores it.
async fn from_peer(
    shared: &Shared,
    req: &Request,
    request: reqwest::RequestBuilder,
    spool: &Arc<std::fs::File>,
    tx: &watch::Sender<Progress>,
) -> Result<Progress, ProxyError> {
    let response = request.send().await.map_err(|e| {
        shared.unavailable(format!("the replica holding the fill: {}", error_chain(&e)))
    })?;
    if !response.status().is_success() {
        return Err(shared.unavailable(format!(
            "the replica holding the fill answered {}",
            response.status()
        )));
    }
    let (_, written, content_type, _) = spool_body(shared, req, response, spool, tx).await?;
    tracing::info!(repository = %shared.upstream.label, key = req.key, bytes = written,
        "streamed from the replica filling it");
    Ok(Progress::Verified {
        written,
        content_type,
    })
}

/// Renews a fill lease while the fill runs.
struct Heartbeat(
    Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
);

impl Heartbeat {
    fn start(shared: &Shared, key: &str) -> Heartbeat {
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let (meta, repository, owner, key) = (
            shared.meta.clone(),
            shared.repository.clone(),
            shared.owner.clone(),
            key.to_string(),
        );
        let ttl = lease_length(shared);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tokio::time::sleep(ttl / 3) => {}
                }
                let now = now_ms();
                let expires = now + ttl.as_millis() as i64;
                if let Err(e) = meta
                    .lease_fill(&repository, &key, &owner, now, expires)
                    .await
                {
                    tracing::warn!(%repository, key, error = %e, "renewing a fill lease failed");
                }
            }
        });
        Heartbeat(Some((stop, task)))
    }

    async fn stop(mut self) {
        if let Some((stop, task)) = self.0.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}

/// The upstream request, spooled, verified, stored.
async fn fetch(
    shared: &Shared,
    req: &Request,
    spool: &Arc<std::fs::File>,
    tx: &watch::Sender<Progress>,
) -> Result<Progress, ProxyError> {
    let response = match shared.upstream.get(&req.url, &req.accept, None).await? {
        Answer::Body(r) => r,
        Answer::NotFound => return Err(shared.negative(&req.key).await),
        Answer::NotModified(_) => {
            return Err(shared.unavailable("answered 304 to an unconditional request"))
        }
    };
    let (digest, written, content_type, last_modified) =
        spool_body(shared, req, response, spool, tx).await?;
    let verified = Progress::Verified {
        written,
        content_type: content_type.clone(),
    };
    // The spool becomes the blob (linked, not copied, where the store can).
    let digest = shared
        .blobs
        .put_file(spool.clone(), written, digest)
        .await?;
    let at = crate::now();
    shared
        .meta
        .put_cached(&CachedEntry {
            repository: shared.repository.clone(),
            key: req.key.clone(),
            status: 200,
            digest: Some(digest),
            size: written,
            content_type,
            etag: None,
            last_modified,
            fetched_at: at,
            checked_at: at,
        })
        .await?;
    tracing::info!(repository = %shared.upstream.label, key = req.key, bytes = written,
        "cached from the upstream");
    Ok(verified)
}

/// A response's body written to the spool, its progress published, and
/// verified against what `req` expects (the last byte is released to
/// readers only then): the blob's digest (when a SHA-256 was expected), the
/// size, the content type and `Last-Modified`.
async fn spool_body(
    shared: &Shared,
    req: &Request,
    response: reqwest::Response,
    spool: &Arc<std::fs::File>,
    tx: &watch::Sender<Progress>,
) -> Result<(Option<Digest>, u64, String, Option<String>), ProxyError> {
    let limit = shared.settings.max_file_bytes;
    let size = response.content_length();
    if size.is_some_and(|s| s > limit) {
        return Err(ProxyError::TooLarge { limit });
    }
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type =
        header(reqwest::header::CONTENT_TYPE).unwrap_or_else(|| req.content_type.clone());
    let last_modified = header(reqwest::header::LAST_MODIFIED);
    tx.send_replace(Progress::Streaming {
        size,
        content_type: content_type.clone(),
        written: 0,
    });
    let mut hashes = Hashes::new(&req.expect);
    let mut written = 0u64;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|e| shared.unavailable(format!("reading the body: {}", error_chain(&e))))?;
        if written + chunk.len() as u64 > limit {
            return Err(ProxyError::TooLarge { limit });
        }
        // The spool is read by the other streams at their own offsets;
        // positional writes to the page cache do not wait on the disk.
        spool.write_all_at(&chunk, written)?;
        written += chunk.len() as u64;
        // Readers are told first: they send these bytes (on other threads)
        // while this one hashes them. The last byte waits for the hash.
        tx.send_modify(|p| {
            if let Progress::Streaming { written: w, .. } = p {
                *w = written;
            }
        });
        hashes.update(&chunk);
    }
    if size.is_some_and(|s| s != written) {
        return Err(shared.unavailable(format!(
            "the body ended after {written} of {} bytes",
            size.unwrap_or_default()
        )));
    }
    let digest = hashes.verify(&req.expect, &req.key)?;
    tx.send_replace(Progress::Verified {
        written,
        content_type: content_type.clone(),
    });
    Ok((digest, written, content_type, last_modified))
}

const READ_CHUNK: u64 = 256 * 1024;

fn read_at(file: &std::fs::File, offset: u64, n: u64) -> std::io::Result<Bytes> {
    let mut buf = vec![0u8; n as usize];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf.into())
}

impl Fill {
    /// The head of the fill once the upstream has answered: its size and
    /// content type, or why there is nothing to stream. `Ok(None)` when the
    /// object turned out to be cached already.
    pub(crate) async fn head(&self) -> Result<Option<(Option<u64>, String)>, ProxyError> {
        let mut rx = self.progress.clone();
        loop {
            match &*rx.borrow_and_update() {
                Progress::Starting => {}
                Progress::Streaming {
                    size, content_type, ..
                } => return Ok(Some((*size, content_type.clone()))),
                Progress::Verified {
                    written,
                    content_type,
                } => return Ok(Some((Some(*written), content_type.clone()))),
                Progress::Cached => return Ok(None),
                Progress::Failed(f) => return Err(f.clone().into()),
            }
            if rx.changed().await.is_err() {
                return Err(ProxyError::Io(std::io::Error::other(
                    "the fill ended without an outcome",
                )));
            }
        }
    }

    /// The fill's bytes from the start, as they arrive.
    pub(crate) fn stream(self: Arc<Self>) -> ByteStream {
        let rx = self.progress.clone();
        futures::stream::unfold(Some((self, 0u64, rx)), |state| async move {
            let (fill, offset, mut rx) = state?;
            loop {
                let (readable, done) = match &*rx.borrow_and_update() {
                    Progress::Starting | Progress::Cached => (0, false),
                    // The last byte waits for verification.
                    Progress::Streaming { written, .. } => (written.saturating_sub(1), false),
                    Progress::Verified { written, .. } => (*written, true),
                    Progress::Failed(f) => {
                        let e = std::io::Error::other(ProxyError::from(f.clone()).to_string());
                        return Some((Err(e), None));
                    }
                };
                if offset < readable {
                    let n = READ_CHUNK.min(readable - offset);
                    return Some(match read_at(&fill.spool, offset, n) {
                        Ok(b) => (Ok(b), Some((fill, offset + n, rx))),
                        Err(e) => (Err(e), None),
                    });
                }
                if done {
                    return None;
                }
                if rx.changed().await.is_err() {
                    let e = std::io::Error::other("the upstream fill ended early");
                    return Some((Err(e), None));
                }
            }
        })
        .boxed()
    }
}
