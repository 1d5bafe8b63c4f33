//! Storage for cairn: a content-addressed [`BlobStore`] and a transactional
//! [`MetaStore`], each a trait with interchangeable backends.
//!
//! The rule of this layer: all file and SQL access lives here, and nothing
//! here knows about HTTP. Blob first, metadata second: a blob becomes visible
//! only after its digest is verified ([`Blobs`]), and metadata that refers to
//! a blob is written only after the blob is durable.
//!
//! The metadata store is split by aggregate ([`OciStore`], [`PackageStore`],
//! [`IdentityStore`], [`AuditStore`], [`ProxyStore`], [`VirtualStore`], [`SettingsStore`]; [`MetaStore`] is all
//! of them). Each trait has a conformance suite in `testing` (the `testing`
//! feature, for tests only) that every backend runs.

pub mod advisory;
pub mod attestation;
pub mod audit;
pub mod backup;
pub mod blob;
pub mod blobs;
mod byte_cache;
pub mod collector;
pub mod config;
pub mod error;
pub mod fs;
pub mod gc;
pub mod identity;
pub mod jobs;
pub mod meta;
pub mod oci;
pub mod packages;
pub mod proxy;
pub mod quarantine;
pub mod retention;
pub mod s3;
pub mod sbom;
pub mod search;
pub mod signature;
pub mod sql;
pub mod storage;
pub mod sumdb;
#[cfg(feature = "testing")]
pub mod testing;
mod use_notes;
pub mod virtuals;
pub mod web_login;

pub use audit::{Actor, AuditFilter, AuditRecord, AuditStore};
pub use backup::{BackupRecord, BackupStore};
pub use blob::{BlobStore, ByteStream};
pub use blobs::{Blobs, UploadError};
pub use byte_cache::ByteCache;
pub use error::StoreError;
pub use gc::{BlobCounts, BlobState, DanglingReference, GcStore, UnindexedManifest, Verdict};
pub use identity::{
    IdentityStore, PublisherRecord, TokenRecord, TotpRecord, UserRecord, LOCAL_USERS,
};
pub use meta::{MetaStore, PoolState, SettingsStore, Usage};
pub use oci::{ManifestRecord, OciStore, TagChange};
pub use packages::{
    FileRecord, NewVersion, PackageRecord, PackageStore, PublishMode, StagingRecord, StagingState,
    VersionIndex, VersionRecord,
};
pub use proxy::{CachedEntry, ProxiedVersion, ProxyStore};
pub use sbom::SbomStore;
pub use storage::{ScopeUsage, StorageStore};
pub use use_notes::UseNotes;
pub use virtuals::{Exemption, ExternalAllowance, OwnershipFacts, VirtualStore, WarmJob};

use std::sync::Arc;

/// Opens the stores: blobs on the configured backend (by default the
/// filesystem under `data_dir/blobs`), and metadata at `database_url`
/// (`sqlite://...` or `postgres://...`), by default SQLite at `data_dir/cairn.db`.
pub async fn open(
    data_dir: &std::path::Path,
    storage: &config::StorageConfig,
    database_url: Option<&str>,
) -> anyhow::Result<(Arc<dyn BlobStore>, Arc<dyn MetaStore>)> {
    std::fs::create_dir_all(data_dir)?;
    let blobs: Arc<dyn BlobStore> = match storage.backend {
        config::BlobBackend::Filesystem => {
            Arc::new(fs::FsBlobStore::open(data_dir.join("blobs")).await?)
        }
        config::BlobBackend::S3 => {
            let store = s3::S3BlobStore::from_config(&storage.s3)?;
            store.ping().await?;
            Arc::new(store)
        }
    };
    let url = self::database_url(data_dir, database_url);
    let meta = sql::SqlMetaStore::open(&url).await?;
    Ok((blobs, Arc::new(meta)))
}

/// The metadata database's URL: `database_url`, or by default SQLite at
/// `data_dir/cairn.db`.
pub fn database_url(data_dir: &std::path::Path, database_url: Option<&str>) -> String {
    match database_url {
        Some(u) => u.to_string(),
        None => format!("sqlite://{}", data_dir.join("cairn.db").display()),
    }
}

/// Seconds since the Unix epoch, for created/updated columns.
pub(crate) fn now() -> i64 {
    cairn_core::unix_now()
}
