//! `cairn backup` and `cairn restore`: consistent metadata snapshots taken
//! while serving, the blobs they reference held from the collector until
//! the backup is released, and a restore from one (docs/backup.md).

use super::{load_config, CommonArgs};
use cairn_store::backup::{after_restore, create_backup, restore_snapshot, verify_backup, PgTools};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct Tools {
    /// The pg_dump to run for a PostgreSQL database.
    #[arg(long, default_value = "pg_dump")]
    pg_dump: PathBuf,
    /// The pg_restore to run for a PostgreSQL database.
    #[arg(long, default_value = "pg_restore")]
    pg_restore: PathBuf,
}

impl Tools {
    pub(crate) fn pg(&self) -> PgTools {
        PgTools {
            pg_dump: self.pg_dump.clone(),
            pg_restore: self.pg_restore.clone(),
        }
    }
}

#[derive(Subcommand)]
pub(crate) enum BackupCommand {
    /// Take a backup into DIR/<id>/ while servers keep serving: a consistent
    /// snapshot of the metadata and the list of blobs it references, which
    /// the collector then keeps until the backup is released.
    Create {
        #[command(flatten)]
        common: CommonArgs,
        /// The directory backups are written under.
        #[arg(long)]
        to: PathBuf,
        #[command(flatten)]
        tools: Tools,
    },
    /// The backups this registry holds blobs for, newest first.
    List {
        #[command(flatten)]
        common: CommonArgs,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Check a backup: its snapshot is there, and every blob it references
    /// is in the blob store (--rehash: and hashes to its digest).
    Verify {
        #[command(flatten)]
        common: CommonArgs,
        /// A backup's directory (DIR/<id>).
        dir: PathBuf,
        #[arg(long)]
        rehash: bool,
    },
    /// Stop holding a backup's blobs (after deleting its files, or to let
    /// the collector have them): what nothing else references is collected.
    Release {
        #[command(flatten)]
        common: CommonArgs,
        id: String,
    },
}

#[derive(Args)]
pub(crate) struct RestoreArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// A backup's directory (DIR/<id>).
    dir: PathBuf,
    /// Replace a database that already has data.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    tools: Tools,
}

pub(crate) async fn backup_command(cmd: BackupCommand) -> anyhow::Result<()> {
    match cmd {
        BackupCommand::Create { common, to, tools } => {
            let config = load_config(&common, None)?;
            let (blobs, meta) = cairn_store::open(
                &config.data_dir,
                &config.storage,
                config.database_url.as_deref(),
            )
            .await?;
            let started = std::time::Instant::now();
            let (dir, made) = create_backup(meta, blobs, &to, &tools.pg()).await?;
            println!(
                "backup {} in {}: {} snapshot, {} blobs ({} bytes) held, {:.1} s",
                made.id,
                dir.display(),
                made.engine,
                made.blobs,
                made.bytes,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        BackupCommand::List { common, json } => {
            let json = super::json_output(json);
            let meta = super::open_meta(&common).await?;
            for b in meta.backups().await? {
                if json {
                    println!("{}", serde_json::to_string(&b)?);
                } else {
                    println!(
                        "{}  {:<8} {} blobs, {} bytes  {}",
                        b.id, b.state, b.blobs, b.bytes, b.location
                    );
                }
            }
            Ok(())
        }
        BackupCommand::Verify {
            common,
            dir,
            rehash,
        } => {
            let config = load_config(&common, None)?;
            let (blobs, _) = cairn_store::open(
                &config.data_dir,
                &config.storage,
                config.database_url.as_deref(),
            )
            .await?;
            let (manifest, problems) = verify_backup(&dir, &*blobs, rehash).await?;
            for p in &problems {
                println!("  {p}");
            }
            if !problems.is_empty() {
                anyhow::bail!("backup {}: {} problems", manifest.id, problems.len());
            }
            println!(
                "backup {}: the snapshot and all {} blobs are there{}",
                manifest.id,
                manifest.blobs,
                if rehash { ", intact" } else { "" }
            );
            Ok(())
        }
        BackupCommand::Release { common, id } => {
            let meta = super::open_meta(&common).await?;
            if !meta.release_backup(&id).await? {
                anyhow::bail!("no backup {id}");
            }
            println!("backup {id} released: the collector decides its blobs again");
            Ok(())
        }
    }
}

pub(crate) async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let config = load_config(&args.common, None)?;
    let url = cairn_store::database_url(&config.data_dir, config.database_url.as_deref());
    if cairn_store::backup::holds_registry(&url).await? && !args.force {
        anyhow::bail!(
            "the database already holds a registry; stop every server on it and pass --force to replace it"
        );
    }
    let started = std::time::Instant::now();
    let manifest = restore_snapshot(&args.dir, &url, &args.tools.pg()).await?;
    let (blobs, meta) = cairn_store::open(
        &config.data_dir,
        &config.storage,
        config.database_url.as_deref(),
    )
    .await?;
    after_restore(&*meta, &args.dir, &manifest).await?;
    // Blobs written after the backup are orphans now: hand them to the
    // collector, and report anything the backup references that is gone.
    let report = cairn_store::collector::fsck(
        &*meta,
        &*blobs,
        false,
        true,
        &tokio_util::sync::CancellationToken::new(),
        &|_| {},
    )
    .await?;
    println!(
        "restored backup {} ({} snapshot) in {:.1} s: {} blobs referenced, {} missing, {} newer blobs handed to the collector",
        manifest.id,
        manifest.engine,
        started.elapsed().as_secs_f64(),
        report.rows,
        report.missing.len(),
        report.adopted
    );
    for m in &report.missing {
        println!("  missing: {m}");
    }
    if !report.missing.is_empty() || !report.dangling.is_empty() {
        anyhow::bail!("the restored registry references blobs that are gone");
    }
    Ok(())
}
