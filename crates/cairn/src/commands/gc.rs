//! `cairn gc` and `cairn fsck`: the garbage collector and the consistency
//! check, run by hand on the configured stores (beside running servers:
//! both are safe while they serve).

use super::{load_config, CommonArgs};
use cairn_store::collector::{fsck, Collector};
use clap::Args;
use tokio_util::sync::CancellationToken;

#[derive(Args)]
pub(crate) struct GcArgs {
    /// Ask a running cairn instead of working on the stores.
    #[command(subcommand)]
    remote: Option<super::job::GcCommand>,
    #[command(flatten)]
    common: CommonArgs,
    /// Keep unreferenced blobs this long after their upload [default: gc.grace_secs]
    #[arg(long)]
    grace_secs: Option<u64>,
    /// Cancel uploads idle this long [default: gc.upload_ttl_secs]
    #[arg(long)]
    upload_ttl_secs: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct FsckArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Also read every blob and check its bytes against its digest.
    #[arg(long)]
    rehash: bool,
    /// Give blobs nothing accounts for a row as candidates, so that the
    /// collector removes them after the grace period. (Nothing referenced
    /// is ever deleted by fsck; missing or corrupt blobs are only reported.)
    #[arg(long)]
    repair: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// A token cancelled by Ctrl-C: long jobs stop at their next step.
pub(crate) fn cancel_on_interrupt() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: stopping at the next step");
            t.cancel();
        }
    });
    token
}

pub(crate) async fn gc(args: GcArgs) -> anyhow::Result<()> {
    if let Some(remote) = args.remote {
        return super::job::gc_command(remote).await;
    }
    let config = load_config(&args.common, None)?;
    let mut settings = config.gc.settings();
    if let Some(g) = args.grace_secs {
        settings.grace_secs = g;
    }
    if let Some(t) = args.upload_ttl_secs {
        settings.upload_ttl_secs = t;
    }
    let (blobs, meta) = cairn_store::open(
        &config.data_dir,
        &config.storage,
        config.database_url.as_deref(),
    )
    .await?;
    let collector = Collector::new(meta, blobs, settings);
    let report = collector
        .run(&cancel_on_interrupt(), &|step, r| {
            eprintln!("gc: {step}: {}", r.summary())
        })
        .await?;
    if super::json_output(args.json) {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", report.summary());
    }
    Ok(())
}

pub(crate) async fn fsck_command(args: FsckArgs) -> anyhow::Result<()> {
    let config = load_config(&args.common, None)?;
    let (blobs, meta) = cairn_store::open(
        &config.data_dir,
        &config.storage,
        config.database_url.as_deref(),
    )
    .await?;
    // A bar on a terminal (hidden otherwise): blob rows checked of all.
    let counts = meta.blob_counts().await?;
    let bar = super::progress_bar(counts.live + counts.candidates + counts.deleting, "fsck");
    let report = fsck(
        &*meta,
        &*blobs,
        args.rehash,
        args.repair,
        &cancel_on_interrupt(),
        &|r| {
            bar.set_position(r.rows);
            bar.set_message(format!("blob rows, {} objects listed", r.objects));
        },
    )
    .await?;
    bar.finish_and_clear();
    if super::json_output(args.json) {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{} blob rows, {} objects: {} missing, {} corrupt, {} wrong size, {} dangling references, {} orphans ({} adopted)",
            report.rows,
            report.objects,
            report.missing.len(),
            report.corrupt.len(),
            report.wrong_size.len(),
            report.dangling.len(),
            report.orphans.len(),
            report.adopted
        );
        for (what, list) in [
            ("missing", &report.missing),
            ("corrupt", &report.corrupt),
            ("wrong size", &report.wrong_size),
            ("dangling", &report.dangling),
            ("orphan", &report.orphans),
        ] {
            for item in list {
                println!("  {what}: {item}");
            }
        }
    }
    if !report.clean() {
        anyhow::bail!("fsck found problems");
    }
    Ok(())
}
