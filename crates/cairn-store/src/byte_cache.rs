//! Bytes of small blobs kept in memory by digest, bounded by their total
//! size. A digest always names the same bytes, so an entry never goes
//! stale: whether a repository or package still holds the blob is always
//! asked of the metadata store before the cache is.

use bytes::Bytes;
use cairn_core::Digest;

#[derive(Clone)]
struct ByteWeight;

impl quick_cache::Weighter<Digest, Bytes> for ByteWeight {
    fn weight(&self, _key: &Digest, value: &Bytes) -> u64 {
        value.len() as u64 + 64
    }
}

/// A size-bounded cache of blob bytes.
pub struct ByteCache(quick_cache::sync::Cache<Digest, Bytes, ByteWeight>);

impl ByteCache {
    /// A cache holding at most `capacity` bytes (entries included).
    pub fn new(capacity: u64) -> ByteCache {
        let items = (capacity / 4096).clamp(16, 1 << 20) as usize;
        ByteCache(quick_cache::sync::Cache::with_weighter(
            items, capacity, ByteWeight,
        ))
    }

    pub fn get(&self, digest: &Digest) -> Option<Bytes> {
        self.0.get(digest)
    }

    pub fn insert(&self, digest: Digest, bytes: Bytes) {
        self.0.insert(digest, bytes);
    }
}
