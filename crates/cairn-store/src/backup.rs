//! Backups: a consistent snapshot of the metadata, taken while serving, and
//! the restore horizon — every blob a retained backup references is kept by
//! the collector until the backup is released.
//!
//! A backup directory holds `backup.json` (what, when, which engine),
//! `blobs.txt` (the digests and sizes the snapshot references, one per
//! line) and the snapshot itself: `cairn.db` (SQLite) or `cairn.pgdump`
//! (PostgreSQL, `pg_dump`'s custom format). The blobs are not copied: they
//! stay in the blob store, held (see the migration `0017_backups.sql`).

use crate::error::StoreError;
use async_trait::async_trait;
use cairn_core::Digest;
use std::path::{Path, PathBuf};

/// A backup the database knows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupRecord {
    pub id: String,
    /// `running`, `done` or `failed`.
    pub state: String,
    /// Where its files were written.
    pub location: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// Blobs it holds, and their bytes.
    pub blobs: u64,
    pub bytes: u64,
}

/// The external programs a PostgreSQL backup or restore runs.
#[derive(Debug, Clone)]
pub struct PgTools {
    pub pg_dump: PathBuf,
    pub pg_restore: PathBuf,
}

impl Default for PgTools {
    fn default() -> Self {
        PgTools {
            pg_dump: "pg_dump".into(),
            pg_restore: "pg_restore".into(),
        }
    }
}

/// What a snapshot is, as `backup.json` says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupManifest {
    pub id: String,
    pub created_at: i64,
    /// `sqlite` or `postgres`.
    pub engine: String,
    /// The snapshot's file name in the directory.
    pub snapshot: String,
    pub blobs: u64,
    pub bytes: u64,
}

#[async_trait]
pub trait BackupStore: Send + Sync + 'static {
    /// Records a backup as running: from now until it is done or failed,
    /// the collector decides nothing.
    async fn begin_backup(&self, id: &str, location: &str) -> Result<(), StoreError>;

    /// Writes a consistent snapshot of the database into `dir`, and returns
    /// its file name, its engine and the blobs it references (non-deleting
    /// blobs that a manifest, a package file or a proxy entry names).
    async fn snapshot(
        &self,
        dir: &Path,
        tools: &PgTools,
    ) -> Result<(String, &'static str, Vec<(Digest, u64)>), StoreError>;

    /// Holds `blobs` for backup `id` and marks it done.
    async fn finish_backup(&self, id: &str, blobs: &[(Digest, u64)]) -> Result<(), StoreError>;

    /// Marks a running backup failed: it holds nothing.
    async fn fail_backup(&self, id: &str) -> Result<(), StoreError>;

    /// Every backup, newest first.
    async fn backups(&self) -> Result<Vec<BackupRecord>, StoreError>;

    /// Forgets a backup: its holds go, and the blobs it held become
    /// candidates for the collector to decide again. Returns whether it existed.
    async fn release_backup(&self, id: &str) -> Result<bool, StoreError>;

    /// What a DR drill fetches through a registry restored from a backup:
    /// the `per_kind` most recently moved tags, and for each package format
    /// the `per_kind` most recently published versions that serve files.
    async fn drill_sample(&self, per_kind: u32) -> Result<Vec<DrillSample>, StoreError>;
}

/// One thing a DR drill fetches, with what its bytes must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrillSample {
    /// A tag of an OCI repository (its manifests carry their digests).
    Image { repository: String, tag: String },
    /// A package version and its files' digests.
    Version {
        format: cairn_core::Format,
        repository: String,
        /// The name as published (`group:artifact` for Maven, the module
        /// path for Go).
        name: String,
        version: String,
        files: Vec<(String, Digest)>,
    },
}

/// Reads a backup directory's `backup.json`.
pub fn read_manifest(dir: &Path) -> anyhow::Result<BackupManifest> {
    let path = dir.join("backup.json");
    let text =
        std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// Reads a backup directory's `blobs.txt`.
pub fn read_blob_list(dir: &Path) -> anyhow::Result<Vec<(Digest, u64)>> {
    let path = dir.join("blobs.txt");
    let text =
        std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (d, n) = l
                .split_once(' ')
                .ok_or_else(|| anyhow::anyhow!("{}: bad line {l:?}", path.display()))?;
            Ok((d.parse()?, n.parse()?))
        })
        .collect()
}

/// Writes `backup.json` and `blobs.txt` into a backup directory.
pub fn write_manifest(
    dir: &Path,
    manifest: &BackupManifest,
    blobs: &[(Digest, u64)],
) -> anyhow::Result<()> {
    let mut list = String::with_capacity(blobs.len() * 80);
    for (d, n) in blobs {
        list.push_str(&format!("{d} {n}\n"));
    }
    std::fs::write(dir.join("blobs.txt"), list)?;
    std::fs::write(
        dir.join("backup.json"),
        serde_json::to_string_pretty(manifest)? + "\n",
    )?;
    Ok(())
}

/// Replaces the database at `database_url` with the snapshot in `dir`.
/// SQLite: the file is copied over the database (every server on it must
/// be stopped). PostgreSQL: `pg_restore --clean` into the database.
pub async fn restore_snapshot(
    dir: &Path,
    database_url: &str,
    tools: &PgTools,
) -> anyhow::Result<BackupManifest> {
    let manifest = read_manifest(dir)?;
    let snapshot = dir.join(&manifest.snapshot);
    match manifest.engine.as_str() {
        "sqlite" => {
            let Some(path) = database_url
                .strip_prefix("sqlite://")
                .or_else(|| database_url.strip_prefix("sqlite:"))
            else {
                anyhow::bail!(
                    "a SQLite backup restores into a sqlite:// database, not {database_url}"
                );
            };
            let path = path.split('?').next().unwrap_or(path);
            if let Some(parent) = Path::new(path).parent() {
                std::fs::create_dir_all(parent)?;
            }
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
            let tmp = format!("{path}.restoring");
            std::fs::copy(&snapshot, &tmp)?;
            std::fs::rename(&tmp, path)?;
        }
        "postgres" => {
            if !database_url.starts_with("postgres") {
                anyhow::bail!(
                    "a PostgreSQL backup restores into a postgres:// database, not a SQLite file"
                );
            }
            let out = tokio::process::Command::new(&tools.pg_restore)
                .arg("--clean")
                .arg("--if-exists")
                .arg("--no-owner")
                .arg("--single-transaction")
                .arg("--dbname")
                .arg(database_url)
                .arg(&snapshot)
                .output()
                .await
                .map_err(|e| anyhow::anyhow!("running {}: {e}", tools.pg_restore.display()))?;
            if !out.status.success() {
                anyhow::bail!(
                    "pg_restore failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
        other => anyhow::bail!("unknown backup engine {other:?}"),
    }
    Ok(manifest)
}

/// A new backup under `root` (in `root/<id>/`): the references of old
/// manifests indexed first, the backup recorded as running, the snapshot
/// written, then its blobs held. On failure the backup holds nothing and
/// the collector goes on.
pub async fn create_backup(
    meta: std::sync::Arc<dyn crate::MetaStore>,
    store: std::sync::Arc<dyn crate::BlobStore>,
    root: &Path,
    tools: &PgTools,
) -> anyhow::Result<(PathBuf, BackupManifest)> {
    let collector = crate::collector::Collector::new(meta.clone(), store, Default::default());
    if !collector.index_only().await? {
        anyhow::bail!(
            "some manifests' references cannot be read (see the log); `cairn fsck` says which"
        );
    }
    let created_at = crate::now();
    let id = format!("{created_at}-{}", &crate::blobs::uuid_v4()[..8]);
    let dir = root.join(&id);
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    meta.begin_backup(&id, &dir.display().to_string()).await?;
    let result = async {
        let (snapshot, engine, blobs) = meta.snapshot(&dir, tools).await?;
        let manifest = BackupManifest {
            id: id.clone(),
            created_at,
            engine: engine.to_string(),
            snapshot,
            blobs: blobs.len() as u64,
            bytes: blobs.iter().map(|(_, n)| n).sum(),
        };
        write_manifest(&dir, &manifest, &blobs)?;
        meta.finish_backup(&id, &blobs).await?;
        anyhow::Ok(manifest)
    }
    .await;
    match result {
        Ok(manifest) => Ok((dir, manifest)),
        Err(e) => {
            meta.fail_backup(&id).await?;
            Err(e)
        }
    }
}

/// Checks that every blob a backup references is in the blob store (and,
/// with `rehash`, hashes to its digest). Returns the problems found.
pub async fn verify_backup(
    dir: &Path,
    store: &dyn crate::BlobStore,
    rehash: bool,
) -> anyhow::Result<(BackupManifest, Vec<String>)> {
    let manifest = read_manifest(dir)?;
    if !dir.join(&manifest.snapshot).is_file() {
        anyhow::bail!(
            "{}: the snapshot {} is missing",
            dir.display(),
            manifest.snapshot
        );
    }
    let mut problems = Vec::new();
    for (d, size) in read_blob_list(dir)? {
        match store.stat(&d).await? {
            None => problems.push(format!("{d}: missing from the blob store")),
            Some(n) if n != size => {
                problems.push(format!("{d}: {n} bytes, the backup says {size}"))
            }
            Some(_) if rehash && !crate::collector::hashes_to(store, &d).await? => {
                problems.push(format!("{d}: its bytes do not hash to it"))
            }
            Some(_) => {}
        }
    }
    Ok((manifest, problems))
}

/// After a restore: the backup the database was restored from holds its
/// blobs again (its row in the snapshot said "running"), so the registry
/// can be restored from it once more.
pub async fn after_restore(
    meta: &dyn crate::MetaStore,
    dir: &Path,
    manifest: &BackupManifest,
) -> anyhow::Result<()> {
    let blobs = read_blob_list(dir)?;
    meta.finish_backup(&manifest.id, &blobs).await?;
    Ok(())
}

/// Whether the database at `url` already holds a registry (a restore over
/// it must be asked for explicitly).
pub async fn holds_registry(url: &str) -> anyhow::Result<bool> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        return Ok(Path::new(path.split('?').next().unwrap_or(path)).exists());
    }
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await?;
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'manifests'",
    )
    .fetch_one(&mut conn)
    .await?;
    Ok(n > 0)
}
