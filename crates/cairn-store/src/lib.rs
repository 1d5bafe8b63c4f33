//! Storage for cairn: a content-addressed [`BlobStore`] and a transactional
//! [`MetaStore`], each a trait with interchangeable backends.
//!
//! The rule of this layer: all file and SQL access lives here, and nothing
//! here knows about HTTP. Blob first, metadata second: a blob becomes visible
//! only after its digest is verified ([`Blobs`]), and metadata that refers to
//! a blob is written only after the blob is durable.
//!
//! Each trait has a conformance suite in [`testing`] that every backend runs.

pub mod blob;
pub mod blobs;
mod byte_cache;
pub mod config;
pub mod fs;
pub mod meta;
pub mod packages;
pub mod s3;
pub mod sql;
pub mod testing;

pub use blob::{BlobStore, ByteStream};
pub use blobs::{Blobs, UploadError};
pub use byte_cache::ByteCache;
pub use meta::{
    Actor, AuditFilter, AuditRecord, ManifestRecord, MetaStore, PublisherRecord, StoreError,
    TagChange, TokenRecord, UserRecord,
};
pub use packages::{
    FileRecord, NewVersion, PackageRecord, PackageStore, PublishMode, StagingRecord, StagingState,
    VersionIndex, VersionRecord,
};

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
    let url = match database_url {
        Some(u) => u.to_string(),
        None => format!("sqlite://{}", data_dir.join("cairn.db").display()),
    };
    let meta = sql::SqlMetaStore::open(&url).await?;
    Ok((blobs, Arc::new(meta)))
}
