//! The filesystem blob store: `blobs/<alg>/<xx>/<hex>` for published blobs and
//! `uploads/<id>` for staging. Publishing is a rename within one filesystem,
//! so a blob is either wholly visible or not at all; data and directory
//! entries are fsync'd before any call that acknowledges them returns.

use crate::blob::{check_upload_id, unix_secs, BlobStore, ByteList, ByteStream};
use async_trait::async_trait;
use bytes::Bytes;
use cairn_core::Digest;
use futures::StreamExt;
use std::io::{self, ErrorKind, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Size of the slices a read is streamed in.
const READ_CHUNK: usize = 4 * 1024 * 1024;

pub struct FsBlobStore {
    root: PathBuf,
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(ErrorKind::InvalidInput, msg.into())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl FsBlobStore {
    pub async fn open(root: PathBuf) -> io::Result<Self> {
        for sub in ["uploads", "blobs"] {
            tokio::fs::create_dir_all(root.join(sub)).await?;
        }
        Ok(FsBlobStore { root })
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        // The digest's hex is validated lower-case hex, so it is path-safe.
        self.root
            .join("blobs")
            .join(d.algorithm().as_str())
            .join(&d.hex()[..2])
            .join(d.hex())
    }

    fn upload_path(&self, id: &str) -> io::Result<PathBuf> {
        check_upload_id(id)?;
        Ok(self.root.join("uploads").join(id))
    }
}

/// Reads a file as a stream of slices of one memory map: the bytes go from
/// the page cache to the socket without being copied through a buffer, and
/// no read waits on the blocking pool. Safe for blobs because a published
/// blob is never modified or truncated in place (deleting it leaves the
/// mapping valid). Uploads, which can be truncated, are read with plain reads.
async fn read_blob_file(
    path: PathBuf,
    range: Option<(u64, u64)>,
) -> io::Result<Option<ByteStream>> {
    let mapped = tokio::task::spawn_blocking(move || -> io::Result<Option<Bytes>> {
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if file.metadata()?.len() == 0 {
            return Ok(Some(Bytes::new()));
        }
        // SAFETY: see above; the file is never written while mapped.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Some(Bytes::from_owner(map)))
    })
    .await??;
    let Some(all) = mapped else { return Ok(None) };
    let len = all.len() as u64;
    let (start, end) = range.unwrap_or((0, len));
    let (start, end) = (start.min(len) as usize, end.min(len) as usize);
    let bytes = all.slice(start..end.max(start));
    let chunks = (0..bytes.len())
        .step_by(READ_CHUNK)
        .map(move |at| Ok(bytes.slice(at..(at + READ_CHUNK).min(bytes.len()))));
    Ok(Some(
        futures::stream::iter(chunks.collect::<Vec<_>>()).boxed(),
    ))
}

enum Chunk {
    Data(Bytes),
    End,
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn stat(&self, digest: &Digest) -> io::Result<Option<u64>> {
        match tokio::fs::metadata(self.blob_path(digest)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn read(
        &self,
        digest: &Digest,
        range: Option<(u64, u64)>,
    ) -> io::Result<Option<ByteStream>> {
        read_blob_file(self.blob_path(digest), range).await
    }

    async fn delete(&self, digest: &Digest) -> io::Result<()> {
        match tokio::fs::remove_file(self.blob_path(digest)).await {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    async fn create_upload(&self, id: &str) -> io::Result<()> {
        let path = self.upload_path(id)?;
        tokio::task::spawn_blocking(move || {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)?
                .sync_all()?;
            sync_dir(path.parent().expect("uploads dir"))
        })
        .await?
    }

    async fn upload_size(&self, id: &str) -> io::Result<Option<u64>> {
        match tokio::fs::metadata(self.upload_path(id)?).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn append_upload(&self, id: &str, offset: u64, mut data: ByteStream) -> io::Result<u64> {
        let path = self.upload_path(id)?;

        // Writes happen on one blocking thread fed through a small channel, so
        // the request task only moves buffers and the body is never held whole.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(16);
        let writer = tokio::task::spawn_blocking(move || -> io::Result<u64> {
            let mut file = std::fs::OpenOptions::new().write(true).open(&path)?;
            let size = file.metadata()?.len();
            if size != offset {
                return Err(invalid(format!("upload is at {size}, not {offset}")));
            }
            file.seek(SeekFrom::Start(offset))?;
            let outcome = (|| {
                let mut written = 0u64;
                while let Some(chunk) = rx.blocking_recv() {
                    match chunk {
                        Chunk::Data(b) => {
                            file.write_all(&b)?;
                            written += b.len() as u64;
                        }
                        Chunk::End => {
                            file.sync_data()?;
                            return Ok(offset + written);
                        }
                    }
                }
                Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "upload body ended early",
                ))
            })();
            if outcome.is_err() {
                // All or nothing: roll back to where this append started.
                file.set_len(offset)?;
                file.sync_data()?;
            }
            outcome
        });
        let mut stream_error = None;
        while let Some(item) = data.next().await {
            match item {
                Ok(b) => {
                    if tx.send(Chunk::Data(b)).await.is_err() {
                        break; // the writer failed; its error is reported below
                    }
                }
                Err(e) => {
                    stream_error = Some(e);
                    break;
                }
            }
        }
        if stream_error.is_none() {
            let _ = tx.send(Chunk::End).await;
        }
        drop(tx);
        let result = writer.await?;
        match stream_error {
            Some(e) => Err(e),
            None => result,
        }
    }

    async fn read_upload(&self, id: &str) -> io::Result<ByteStream> {
        let file = tokio::fs::File::open(self.upload_path(id)?).await?;
        Ok(tokio_util::io::ReaderStream::with_capacity(file, READ_CHUNK).boxed())
    }

    async fn commit_upload(&self, id: &str, digest: &Digest) -> io::Result<()> {
        let from = self.upload_path(id)?;
        let to = self.blob_path(digest);
        tokio::task::spawn_blocking(move || {
            let dir = to.parent().expect("blob dir");
            if !dir.exists() {
                std::fs::create_dir_all(dir)?;
                sync_dir(dir.parent().expect("alg dir"))?;
            }
            std::fs::File::open(&from)?.sync_all()?;
            if to.exists() {
                std::fs::remove_file(&from)?;
            } else {
                std::fs::rename(&from, &to)?;
                sync_dir(dir)?;
            }
            sync_dir(from.parent().expect("uploads dir"))
        })
        .await?
    }

    async fn adopt_upload(
        &self,
        id: &str,
        file: std::sync::Arc<std::fs::File>,
    ) -> io::Result<bool> {
        let path = self.upload_path(id)?;
        tokio::task::spawn_blocking(move || {
            use std::os::unix::ffi::OsStrExt;
            use std::os::unix::io::AsRawFd;
            let from = std::ffi::CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))
                .map_err(io::Error::other)?;
            let to =
                std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
            // SAFETY: both paths are valid NUL-terminated strings that outlive
            // the call; linkat touches no memory of ours beyond them.
            let linked = unsafe {
                libc::linkat(
                    libc::AT_FDCWD,
                    from.as_ptr(),
                    libc::AT_FDCWD,
                    to.as_ptr(),
                    libc::AT_SYMLINK_FOLLOW,
                )
            };
            if linked != 0 {
                // Another filesystem, a file that was never linkable (not
                // O_TMPFILE), no /proc: the caller copies instead.
                let e = io::Error::last_os_error();
                tracing::debug!(error = %e, "a file could not be adopted as an upload; copying it");
                return Ok(false);
            }
            file.sync_all()?;
            sync_dir(path.parent().expect("uploads dir"))?;
            Ok(true)
        })
        .await?
    }

    async fn abort_upload(&self, id: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.upload_path(id)?).await {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    async fn stale_uploads(&self, before: i64) -> io::Result<Vec<String>> {
        let dir = self.root.join("uploads");
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let Ok(id) = entry.file_name().into_string() else {
                    continue;
                };
                if check_upload_id(&id).is_err() {
                    continue;
                }
                let modified = match entry.metadata().and_then(|m| m.modified()) {
                    Ok(m) => unix_secs(m),
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                if modified < before {
                    out.push(id);
                }
            }
            Ok(out)
        })
        .await?
    }

    async fn list_blobs(&self) -> io::Result<ByteList> {
        let root = self.root.join("blobs");
        // blobs/<alg>/<xx>/<hex>: three levels, read on the blocking pool.
        let found = tokio::task::spawn_blocking(move || -> io::Result<Vec<(Digest, u64)>> {
            let mut out = Vec::new();
            for alg in std::fs::read_dir(&root)? {
                let alg = alg?;
                for fan in std::fs::read_dir(alg.path())? {
                    for blob in std::fs::read_dir(fan?.path())? {
                        let blob = blob?;
                        let name = format!(
                            "{}:{}",
                            alg.file_name().to_string_lossy(),
                            blob.file_name().to_string_lossy()
                        );
                        // Anything else here (a temporary file) is not a blob.
                        if let Ok(d) = name.parse::<Digest>() {
                            out.push((d, blob.metadata()?.len()));
                        }
                    }
                }
            }
            Ok(out)
        })
        .await??;
        Ok(futures::stream::iter(found.into_iter().map(Ok)).boxed())
    }

    async fn ping(&self) -> io::Result<()> {
        tokio::fs::metadata(self.root.join("blobs"))
            .await
            .map(|_| ())
    }
}
