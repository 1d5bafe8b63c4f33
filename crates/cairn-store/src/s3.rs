//! The S3-compatible blob store, through the `object_store` crate.
//!
//! Keys under the configured prefix: `blobs/<alg>/<xx>/<hex>` for published
//! blobs; `uploads/<id>/start` marks an upload, and each appended chunk is its
//! own object `uploads/<id>/<offset, 20 digits>`, written with a multipart
//! upload so that a chunk streams through in bounded memory and appears whole
//! or not at all. Because uploads live in the bucket, any replica can
//! continue or finish an upload another began.
//!
//! Publishing copies the chunks into the blob's key through cairn, hashing
//! them on the way, and completes the write only if they hash to the digest:
//! two replicas racing on one upload can never publish bytes under a digest
//! they do not have, and a store that ignores `If-None-Match` (Garage) cannot
//! break that either.

use crate::blob::{check_upload_id, unix_secs, BlobStore, ByteList, ByteStream};
use crate::config::S3Config;
use async_trait::async_trait;
use cairn_core::Digest;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::signer::Signer;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    WriteMultipart,
};
use std::io::{self, ErrorKind};
use std::sync::Arc;
use std::time::Duration;

/// Chunks of at most this size are written with one PUT; larger ones stream
/// as multipart uploads of parts this size.
const PART: usize = 8 * 1024 * 1024;
/// Parts in flight at once per upload.
const PARTS_IN_FLIGHT: usize = 2;

pub struct S3BlobStore {
    /// The bucket seen through the configured key prefix.
    store: Arc<dyn ObjectStore>,
    /// For presigned download URLs: the raw client, the prefix, their lifetime.
    signer: Option<(Arc<AmazonS3>, Option<String>, Duration)>,
}

fn io_err(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(ErrorKind::NotFound, e.to_string()),
        other => io::Error::other(other.to_string()),
    }
}

fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

impl S3BlobStore {
    /// Connects to the bucket described by `config`.
    pub fn from_config(config: &S3Config) -> anyhow::Result<Self> {
        let client = Arc::new(config.client()?);
        let prefix = config.prefix.clone().filter(|p| !p.is_empty());
        let store: Arc<dyn ObjectStore> = match &prefix {
            Some(p) => Arc::new(PrefixStore::new(client.clone(), p.as_str())),
            None => client.clone(),
        };
        let signer = config.redirect_downloads.then(|| {
            (
                client,
                prefix,
                Duration::from_secs(config.redirect_ttl_secs),
            )
        });
        Ok(S3BlobStore { store, signer })
    }

    fn blob_path(d: &Digest) -> Path {
        Path::from(format!(
            "blobs/{}/{}/{}",
            d.algorithm().as_str(),
            &d.hex()[..2],
            d.hex()
        ))
    }

    fn upload_dir(id: &str) -> io::Result<Path> {
        check_upload_id(id)?;
        Ok(Path::from(format!("uploads/{id}")))
    }

    /// The chunk objects of an upload, in offset order, with their sizes;
    /// `None` if the upload does not exist.
    async fn chunks(&self, id: &str) -> io::Result<Option<Vec<(Path, u64)>>> {
        let dir = Self::upload_dir(id)?;
        let mut listed: Vec<_> = self
            .store
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(io_err)?;
        if listed.is_empty() {
            return Ok(None);
        }
        // Offsets are zero-padded, so key order is offset order; "start" sorts after digits.
        listed.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(Some(
            listed
                .into_iter()
                .filter(|m| {
                    m.location
                        .filename()
                        .is_some_and(|f| f.bytes().all(|b| b.is_ascii_digit()))
                })
                .map(|m| (m.location, m.size))
                .collect(),
        ))
    }

    /// Writes a stream to `path`: one conditional PUT when it is small, a
    /// multipart upload otherwise. Nothing is visible unless it all arrives.
    async fn write_stream(&self, path: &Path, mut data: ByteStream) -> io::Result<u64> {
        let mut first = Vec::new();
        let mut len = 0u64;
        // Buffer up to one part; most chunks and blobs end here.
        while let Some(chunk) = data.next().await {
            let chunk = chunk?;
            len += chunk.len() as u64;
            first.push(chunk);
            if len as usize > PART {
                break;
            }
        }
        if len as usize <= PART {
            let payload: PutPayload = first.into_iter().collect();
            let opts = PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            };
            return match self.store.put_opts(path, payload, opts).await {
                Ok(_) => Ok(len),
                Err(object_store::Error::AlreadyExists { .. }) => Err(io::Error::new(
                    ErrorKind::InvalidInput,
                    "chunk already written",
                )),
                Err(e) => Err(io_err(e)),
            };
        }
        let upload = self.store.put_multipart(path).await.map_err(io_err)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        for chunk in first {
            writer.put(chunk);
        }
        let result: io::Result<()> = async {
            while let Some(chunk) = data.next().await {
                let chunk = chunk?;
                len += chunk.len() as u64;
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(io_err)?;
                writer.put(chunk);
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                writer.finish().await.map_err(io_err)?;
                Ok(len)
            }
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    /// The staged bytes of an upload, chunk after chunk.
    fn concat(&self, chunks: Vec<(Path, u64)>) -> ByteStream {
        let store = self.store.clone();
        futures::stream::iter(chunks)
            .then(move |(path, _)| {
                let store = store.clone();
                async move {
                    store
                        .get(&path)
                        .await
                        .map(|r| r.into_stream())
                        .map_err(io_err)
                }
            })
            .map_ok(|s| s.map_err(io_err))
            .try_flatten()
            .boxed()
    }
}

/// Passes a stream through, hashing it, and fails it at its end unless it
/// hashed to `digest`; a write fed by it is then abandoned, never completed.
fn verify_stream(stream: ByteStream, digest: Digest) -> ByteStream {
    let hasher = Some(digest.algorithm().hasher());
    futures::stream::unfold(
        (stream, hasher, digest),
        |(mut stream, mut hasher, digest)| async move {
            let running = hasher.as_mut()?;
            match stream.next().await {
                Some(Ok(chunk)) => {
                    running.update(&chunk);
                    Some((Ok(chunk), (stream, hasher, digest)))
                }
                Some(Err(e)) => Some((Err(e), (stream, None, digest))),
                None => {
                    let actual = hasher.take().expect("running").finish();
                    if actual == digest {
                        None
                    } else {
                        let e = io::Error::new(
                            ErrorKind::InvalidData,
                            format!("staged bytes hash to {actual}, not {digest}"),
                        );
                        Some((Err(e), (stream, None, digest)))
                    }
                }
            }
        },
    )
    .boxed()
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn stat(&self, digest: &Digest) -> io::Result<Option<u64>> {
        match self.store.head(&Self::blob_path(digest)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    async fn read(
        &self,
        digest: &Digest,
        range: Option<(u64, u64)>,
    ) -> io::Result<Option<ByteStream>> {
        if range.is_some_and(|(s, e)| s >= e) {
            return Ok(Some(futures::stream::empty().boxed()));
        }
        let opts = GetOptions {
            range: range.map(|(s, e)| GetRange::Bounded(s..e)),
            ..GetOptions::default()
        };
        match self.store.get_opts(&Self::blob_path(digest), opts).await {
            Ok(r) => Ok(Some(r.into_stream().map_err(io_err).boxed())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    async fn delete(&self, digest: &Digest) -> io::Result<()> {
        match self.store.delete(&Self::blob_path(digest)).await {
            Err(e) if !is_not_found(&e) => Err(io_err(e)),
            _ => Ok(()),
        }
    }

    async fn create_upload(&self, id: &str) -> io::Result<()> {
        let marker = Self::upload_dir(id)?.join("start");
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        self.store
            .put_opts(&marker, PutPayload::default(), opts)
            .await
            .map_err(io_err)?;
        Ok(())
    }

    async fn upload_size(&self, id: &str) -> io::Result<Option<u64>> {
        Ok(self
            .chunks(id)
            .await?
            .map(|c| c.iter().map(|(_, n)| n).sum()))
    }

    async fn append_upload(&self, id: &str, offset: u64, data: ByteStream) -> io::Result<u64> {
        let size = self
            .upload_size(id)
            .await?
            .ok_or_else(|| io::Error::new(ErrorKind::NotFound, "no such upload"))?;
        if size != offset {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("upload is at {size}, not {offset}"),
            ));
        }
        let path = Self::upload_dir(id)?.join(format!("{offset:020}"));
        let written = self.write_stream(&path, data).await?;
        Ok(offset + written)
    }

    async fn read_upload(&self, id: &str) -> io::Result<ByteStream> {
        let chunks = self
            .chunks(id)
            .await?
            .ok_or_else(|| io::Error::new(ErrorKind::NotFound, "no such upload"))?;
        Ok(self.concat(chunks))
    }

    async fn commit_upload(&self, id: &str, digest: &Digest) -> io::Result<()> {
        let chunks = self
            .chunks(id)
            .await?
            .ok_or_else(|| io::Error::new(ErrorKind::NotFound, "no such upload"))?;
        if self.stat(digest).await?.is_none() {
            let verified = verify_stream(self.concat(chunks), digest.clone());
            match self.write_stream(&Self::blob_path(digest), verified).await {
                Ok(_) => {}
                // Published meanwhile by another writer: same digest, same bytes.
                Err(e) if e.kind() == ErrorKind::InvalidInput => {}
                Err(e) => return Err(e),
            }
        }
        self.abort_upload(id).await
    }

    async fn abort_upload(&self, id: &str) -> io::Result<()> {
        let dir = Self::upload_dir(id)?;
        let listed: Vec<_> = self
            .store
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(io_err)?;
        for meta in listed {
            match self.store.delete(&meta.location).await {
                Err(e) if !is_not_found(&e) => return Err(io_err(e)),
                _ => {}
            }
        }
        Ok(())
    }

    async fn download_url(&self, digest: &Digest) -> io::Result<Option<String>> {
        let Some((client, prefix, ttl)) = &self.signer else {
            return Ok(None);
        };
        let key = Self::blob_path(digest);
        let key = match prefix {
            Some(p) => Path::from(format!("{p}/{key}")),
            None => key,
        };
        let url = client
            .signed_url(object_store::signer::Method::GET, &key, *ttl)
            .await
            .map_err(io_err)?;
        Ok(Some(url.to_string()))
    }

    async fn stale_uploads(&self, before: i64) -> io::Result<Vec<String>> {
        // An upload's last write is its newest object (the start marker or a chunk).
        let mut newest: std::collections::HashMap<String, i64> = Default::default();
        let mut listed = self.store.list(Some(&Path::from("uploads")));
        while let Some(meta) = listed.try_next().await.map_err(io_err)? {
            let mut parts = meta.location.parts();
            let (Some(_), Some(id)) = (parts.next(), parts.next()) else {
                continue;
            };
            let at = unix_secs(meta.last_modified.into());
            let e = newest.entry(id.as_ref().to_string()).or_insert(at);
            *e = (*e).max(at);
        }
        Ok(newest
            .into_iter()
            .filter(|(id, at)| *at < before && check_upload_id(id).is_ok())
            .map(|(id, _)| id)
            .collect())
    }

    async fn list_blobs(&self) -> io::Result<ByteList> {
        let listed = self.store.list(Some(&Path::from("blobs")));
        Ok(listed
            .map_err(io_err)
            .try_filter_map(|meta| async move {
                // blobs/<alg>/<xx>/<hex>
                let parts: Vec<String> = meta
                    .location
                    .parts()
                    .map(|p| p.as_ref().to_string())
                    .collect();
                let digest = match parts.as_slice() {
                    [_, alg, _, hex] => format!("{alg}:{hex}").parse::<Digest>().ok(),
                    _ => None,
                };
                Ok(digest.map(|d| (d, meta.size)))
            })
            .boxed())
    }

    async fn ping(&self) -> io::Result<()> {
        match self.store.head(&Path::from("cairn-readiness-probe")).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(io_err(e)),
        }
    }
}
