//! Proxy repositories: what every format's proxy kind shares.
//!
//! A proxy repository caches one upstream. Each adapter says what an
//! object is and where the upstream has it; this crate fetches, verifies,
//! stores and serves it, by two rules:
//!
//! - **Immutable objects** (tarballs, wheels, crates, module zips, blobs by
//!   digest) are fetched once ([`Proxy::file`]): one upstream request for
//!   any number of concurrent clients, streamed to all of them as it
//!   arrives, verified against the hash the upstream's metadata gives
//!   before it is stored; never revalidated.
//! - **Mutable documents** (packuments, simple pages, index files) have a
//!   time to live ([`Proxy::document`]); after it, one conditional request
//!   revalidates them, and when the upstream fails the cached copy is
//!   served (up to a maximum staleness) and said to be stale.
//!
//! The upstream's health is tracked per repository ([`Upstream`]): a circuit
//! breaker stops calling an upstream that keeps failing, and `429` with
//! `Retry-After` is honoured. Negative entries are written only for a real
//! `404`/`410`.
//!
//! The bytes live in the shared content-addressed blob store; which blob
//! holds which object, and the upstream's validators, in the metadata
//! store's `ProxyStore`. Nothing here knows HTTP servers: adapters turn
//! [`Document`] and [`FileSource`] into their protocol's responses.

mod breaker;
mod cache;
mod fill;
pub mod peers;
mod settings;
mod token;
mod upstream;

pub use cache::{CacheStatus, Document, FileSource, Proxy, Refresh, Validation};
pub use fill::Expect;
pub use peers::Peers;
pub use reqwest::Url;
pub use settings::{ProxySettings, RemovedUpstream};
pub use upstream::Upstream;

/// Why a proxied object could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The upstream says it does not exist (or the repository is offline
    /// and it is not cached).
    #[error("{0}")]
    NotFound(String),
    /// The upstream could not be asked or did not answer usefully, and
    /// nothing usable is cached.
    #[error("upstream {upstream} unavailable: {reason}")]
    Unavailable { upstream: String, reason: String },
    /// The upstream's bytes do not match what its metadata promised.
    #[error("{0}")]
    Integrity(String),
    /// The upstream's object is larger than the repository allows.
    #[error("the upstream object is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
    #[error(transparent)]
    Upload(#[from] cairn_store::UploadError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Seconds since the epoch as an HTTP date (`Last-Modified`).
pub fn http_date(secs: i64) -> String {
    httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64),
    )
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    cairn_core::unix_now()
}
