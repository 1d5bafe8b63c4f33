//! The content-addressed blob store trait.

use async_trait::async_trait;
use bytes::Bytes;
use cairn_core::Digest;
use futures::stream::BoxStream;

/// A stream of bytes flowing into or out of a store.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// One copy of each blob, keyed by digest, shared by every repository and
/// format; plus a staging area for uploads in progress.
///
/// Backends store bytes; they do not hash. [`crate::Blobs`] verifies digests
/// and is the only caller of [`BlobStore::commit_upload`].
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Size of a published blob, or `None` if absent.
    async fn stat(&self, digest: &Digest) -> std::io::Result<Option<u64>>;

    /// Reads a published blob, or the byte range `start..end` of it.
    /// Returns `None` if the blob does not exist.
    async fn read(
        &self,
        digest: &Digest,
        range: Option<(u64, u64)>,
    ) -> std::io::Result<Option<ByteStream>>;

    /// Removes a published blob. Absent blobs are not an error.
    async fn delete(&self, digest: &Digest) -> std::io::Result<()>;

    /// Creates an empty staging upload with this id (a validated UUID).
    async fn create_upload(&self, id: &str) -> std::io::Result<()>;

    /// Bytes staged so far, or `None` if there is no such upload.
    async fn upload_size(&self, id: &str) -> std::io::Result<Option<u64>>;

    /// Appends a stream at `offset`, which must equal the staged size
    /// (otherwise `ErrorKind::InvalidInput`). All or nothing: if the stream
    /// fails, the staged bytes are rolled back to `offset`. The appended data
    /// is durable when this returns. Returns the new size.
    async fn append_upload(&self, id: &str, offset: u64, data: ByteStream) -> std::io::Result<u64>;

    /// Reads back everything staged so far.
    async fn read_upload(&self, id: &str) -> std::io::Result<ByteStream>;

    /// Publishes the staged bytes as `digest`, atomically and durably, and
    /// removes the upload. If the blob already exists the staged copy is
    /// discarded (same digest, same bytes).
    async fn commit_upload(&self, id: &str, digest: &Digest) -> std::io::Result<()>;

    /// Discards an upload. Absent uploads are not an error.
    async fn abort_upload(&self, id: &str) -> std::io::Result<()>;

    /// A time-limited URL the client can download the blob from directly, if
    /// the backend offers one and redirects are enabled.
    async fn download_url(&self, _digest: &Digest) -> std::io::Result<Option<String>> {
        Ok(None)
    }

    /// Whether the backend can be reached (for readiness probes).
    async fn ping(&self) -> std::io::Result<()>;
}
