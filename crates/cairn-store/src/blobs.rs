//! Verified blob writes: the one place where bytes become a visible blob.
//!
//! Every upload is hashed as it streams through. A blob is published under a
//! digest only if the staged bytes hash to exactly that digest. The running
//! hash of an upload is kept in this process between chunks; if another
//! replica (or a restart) continues the upload, the staged bytes are re-read
//! and hashed instead, so correctness never depends on that cache.

use crate::blob::{BlobStore, ByteStream};
use crate::gc::{BlobState, GcStore};
use crate::StoreError;
use bytes::Bytes;
use cairn_core::{Algorithm, Digest, Hasher};
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::io;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// Running hashes kept for at most this many uploads; beyond it the oldest
/// state is dropped and that upload is re-hashed when it finishes.
const MAX_CACHED_HASHERS: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("upload not found")]
    NotFound,
    #[error("chunk starts at {requested} but the upload holds {size} bytes")]
    OutOfOrder { size: u64, requested: u64 },
    #[error("body length does not match the declared length {expected}")]
    LengthMismatch { expected: u64 },
    #[error("content digest {actual} does not match {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    /// The garbage collector is deleting this very blob and has not
    /// finished within the wait: the client should try again.
    #[error("blob {0} is being garbage-collected; try the upload again")]
    Collecting(Digest),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// How long a write waits for the collector to finish deleting the very
/// blob it is publishing, before telling the client to try again.
const COLLECTING_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The verified-write service over a [`BlobStore`].
pub struct Blobs {
    store: Arc<dyn BlobStore>,
    /// The blob rows the garbage collector and writers serialise on.
    ledger: Arc<dyn GcStore>,
    /// upload id -> (bytes hashed, running sha256 over them)
    hashers: Mutex<HashMap<String, (u64, Hasher)>>,
    /// Uploads with an append in progress in this process: a second
    /// concurrent append to one upload is refused rather than interleaved.
    busy: Arc<Mutex<HashSet<String>>>,
}

/// Releases an upload's busy mark when its append ends, however it ends.
struct BusyGuard(Arc<Mutex<HashSet<String>>>, String);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.lock().expect("busy set").remove(&self.1);
    }
}

#[derive(Default)]
struct Progress {
    hasher: Option<Hasher>,
    count: u64,
    length_mismatch: bool,
}

/// Wraps a body stream: hashes and counts it, and fails it if it is longer or
/// shorter than declared, so that the backend rolls the append back.
struct Checked {
    inner: ByteStream,
    expected: Option<u64>,
    progress: Arc<Mutex<Progress>>,
    done: bool,
}

impl futures::Stream for Checked {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let polled = self.inner.poll_next_unpin(cx);
        let expected = self.expected;
        let mut p = self.progress.lock().expect("progress");
        let out = match polled {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Ok(b))) => {
                p.count += b.len() as u64;
                if expected.is_some_and(|e| p.count > e) {
                    p.length_mismatch = true;
                    Some(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "body too long",
                    )))
                } else {
                    if let Some(h) = p.hasher.as_mut() {
                        h.update(&b);
                    }
                    Some(Ok(b))
                }
            }
            Poll::Ready(Some(Err(e))) => Some(Err(e)),
            Poll::Ready(None) if expected.is_some_and(|e| p.count != e) => {
                p.length_mismatch = true;
                Some(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "body too short",
                )))
            }
            Poll::Ready(None) => None,
        };
        drop(p);
        if !matches!(out, Some(Ok(_))) {
            self.done = true;
        }
        Poll::Ready(out)
    }
}

impl Blobs {
    pub fn new(store: Arc<dyn BlobStore>, ledger: Arc<dyn GcStore>) -> Self {
        Blobs {
            store,
            ledger,
            hashers: Mutex::default(),
            busy: Arc::default(),
        }
    }

    /// The underlying store, for reads.
    pub fn store(&self) -> &Arc<dyn BlobStore> {
        &self.store
    }

    /// A stored blob read whole into memory (small ones only: manifests,
    /// signatures, extracted metadata); `None` when it is not stored.
    pub async fn read_whole(&self, digest: &Digest) -> io::Result<Option<Bytes>> {
        let Some(mut stream) = self.store.read(digest, None).await? else {
            return Ok(None);
        };
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(Some(out.into()))
    }

    /// Starts a staging upload and returns its id.
    pub async fn start(&self) -> io::Result<String> {
        let id = uuid_v4();
        self.store.create_upload(&id).await?;
        Ok(id)
    }

    /// Bytes staged so far in an upload.
    pub async fn size(&self, id: &str) -> Result<u64, UploadError> {
        self.store
            .upload_size(id)
            .await?
            .ok_or(UploadError::NotFound)
    }

    /// Appends a chunk. `offset` (from a Content-Range) must equal the staged
    /// size; `expected_len` (from Content-Length or Content-Range) must equal
    /// the body's length. On any error nothing of this chunk is kept.
    pub async fn append(
        &self,
        id: &str,
        offset: Option<u64>,
        expected_len: Option<u64>,
        body: ByteStream,
    ) -> Result<u64, UploadError> {
        if !self.busy.lock().expect("busy set").insert(id.to_string()) {
            let size = self.size(id).await?;
            return Err(UploadError::OutOfOrder {
                size,
                requested: offset.unwrap_or(size),
            });
        }
        let _guard = BusyGuard(self.busy.clone(), id.to_string());
        let size = self.size(id).await?;
        if let Some(requested) = offset.filter(|o| *o != size) {
            return Err(UploadError::OutOfOrder { size, requested });
        }
        let hasher = if size == 0 {
            Some(Algorithm::Sha256.hasher())
        } else {
            self.cached_hasher(id, size)
        };
        let progress = Arc::new(Mutex::new(Progress {
            hasher,
            ..Progress::default()
        }));
        let checked = Checked {
            inner: body,
            expected: expected_len,
            progress: progress.clone(),
            done: false,
        };
        let result = self.store.append_upload(id, size, checked.boxed()).await;
        let p = std::mem::take(&mut *progress.lock().expect("progress"));
        match result {
            Ok(new_size) => {
                if let Some(h) = p.hasher {
                    self.cache_hasher(id, new_size, h);
                }
                Ok(new_size)
            }
            Err(_) if p.length_mismatch => Err(UploadError::LengthMismatch {
                expected: expected_len.unwrap_or_default(),
            }),
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                let size = self.size(id).await?;
                Err(UploadError::OutOfOrder {
                    size,
                    requested: offset.unwrap_or(size),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Verifies the staged bytes against `digest` and publishes them. On a
    /// mismatch the upload is discarded and nothing becomes visible.
    pub async fn finish(&self, id: &str, digest: &Digest) -> Result<u64, UploadError> {
        let size = self.size(id).await?;
        let actual = self.staged_digest(id, size, digest.algorithm()).await?;
        if &actual != digest {
            self.store.abort_upload(id).await?;
            return Err(UploadError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        self.intend(digest, size).await?;
        self.store.commit_upload(id, digest).await?;
        Ok(size)
    }

    /// The digest of what an upload staged: from the hasher its appends
    /// kept, or read again.
    async fn staged_digest(
        &self,
        id: &str,
        size: u64,
        algorithm: cairn_core::Algorithm,
    ) -> Result<Digest, UploadError> {
        Ok(match self.take_hasher(id, size) {
            Some(h) if h.algorithm() == algorithm => h.finish(),
            _ => {
                let mut h = algorithm.hasher();
                let mut staged = self.store.read_upload(id).await?;
                while let Some(chunk) = staged.next().await {
                    h.update(&chunk?);
                }
                h.finish()
            }
        })
    }

    /// Makes sure the blob's row exists and is not being deleted before its
    /// bytes are published: bytes published while the collector deletes
    /// the same digest could be deleted after this write. The write that
    /// then references the blob checks the row again in its transaction.
    async fn intend(&self, digest: &Digest, size: u64) -> Result<(), UploadError> {
        let deadline = std::time::Instant::now() + COLLECTING_WAIT;
        loop {
            match self.ledger.intend_blob(digest, size).await? {
                Some(BlobState::Deleting) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await
                }
                Some(BlobState::Deleting) => return Err(UploadError::Collecting(digest.clone())),
                _ => return Ok(()),
            }
        }
    }

    /// Discards an upload.
    pub async fn abort(&self, id: &str) -> io::Result<()> {
        self.hashers.lock().expect("hashers").remove(id);
        self.store.abort_upload(id).await
    }

    /// A whole blob in one call: stage, verify against `digest`, publish.
    pub async fn put(
        &self,
        digest: &Digest,
        expected_len: Option<u64>,
        body: ByteStream,
    ) -> Result<u64, UploadError> {
        let id = self.start().await?;
        let result = async {
            self.append(&id, Some(0), expected_len, body).await?;
            self.finish(&id, digest).await
        }
        .await;
        if result.is_err() {
            let _ = self.abort(&id).await;
        }
        result
    }

    /// A whole blob from a local file nobody writes any more (a proxy's
    /// spool), `len` bytes: adopted by the store without a copy when it can
    /// (the filesystem store links it), else streamed from the file.
    /// `digest` is the file's SHA-256 when the caller hashed the bytes as it
    /// wrote them; without it the file is read once to name it.
    pub async fn put_file(
        &self,
        file: Arc<std::fs::File>,
        len: u64,
        digest: Option<Digest>,
    ) -> Result<Digest, UploadError> {
        let digest = match digest {
            Some(d) => d,
            None => {
                let f = file.clone();
                tokio::task::spawn_blocking(move || -> io::Result<Digest> {
                    let mut h = Algorithm::Sha256.hasher();
                    let mut buf = vec![0u8; FILE_CHUNK as usize];
                    let mut offset = 0u64;
                    while offset < len {
                        let n = FILE_CHUNK.min(len - offset) as usize;
                        f.read_exact_at(&mut buf[..n], offset)?;
                        h.update(&buf[..n]);
                        offset += n as u64;
                    }
                    Ok(h.finish())
                })
                .await
                .map_err(io::Error::other)??
            }
        };
        let id = uuid_v4();
        if !self.store.adopt_upload(&id, file.clone()).await? {
            self.put(&digest, Some(len), file_stream(file, len)).await?;
            return Ok(digest);
        }
        let result = async {
            self.intend(&digest, len).await?;
            self.store.commit_upload(&id, &digest).await?;
            Ok(())
        }
        .await;
        if result.is_err() {
            let _ = self.abort(&id).await;
        }
        result.map(|()| digest)
    }

    /// [`Blobs::put`] for bytes already in memory (small documents such as manifests).
    pub async fn put_bytes(&self, digest: &Digest, bytes: Bytes) -> Result<u64, UploadError> {
        let len = bytes.len() as u64;
        self.put(
            digest,
            Some(len),
            futures::stream::once(async { Ok(bytes) }).boxed(),
        )
        .await
    }

    fn cached_hasher(&self, id: &str, size: u64) -> Option<Hasher> {
        let map = self.hashers.lock().expect("hashers");
        map.get(id)
            .filter(|(n, _)| *n == size)
            .map(|(_, h)| h.clone())
    }

    fn take_hasher(&self, id: &str, size: u64) -> Option<Hasher> {
        let mut map = self.hashers.lock().expect("hashers");
        map.remove(id).filter(|(n, _)| *n == size).map(|(_, h)| h)
    }

    fn cache_hasher(&self, id: &str, size: u64, h: Hasher) {
        let mut map = self.hashers.lock().expect("hashers");
        if map.len() >= MAX_CACHED_HASHERS && !map.contains_key(id) {
            if let Some(k) = map.keys().next().cloned() {
                map.remove(&k);
            }
        }
        map.insert(id.to_string(), (size, h));
    }
}

/// A random (v4) UUID, used for upload ids.
pub fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Pieces a local file is read in.
const FILE_CHUNK: u64 = 256 * 1024;

/// A local file's first `len` bytes as a stream (positional reads: the file
/// may be read by others at their own offsets meanwhile).
pub fn file_stream(file: Arc<std::fs::File>, len: u64) -> ByteStream {
    futures::stream::unfold(0u64, move |offset| {
        let file = file.clone();
        async move {
            if offset >= len {
                return None;
            }
            let n = FILE_CHUNK.min(len - offset);
            let mut buf = vec![0u8; n as usize];
            Some(match file.read_exact_at(&mut buf, offset) {
                Ok(()) => (Ok(Bytes::from(buf)), offset + n),
                Err(e) => (Err(e), len),
            })
        }
    })
    .boxed()
}
