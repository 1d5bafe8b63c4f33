//! `cairn storage`: where the bytes are — logical, unique and exclusive
//! bytes per repository or for a prefix (docs/gc.md, "Storage numbers").

use super::{open_meta, CommonArgs};
use clap::Args;

#[derive(Args)]
pub(crate) struct StorageArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Only repositories whose name starts with this (a namespace: `team/`).
    #[arg(long, default_value = "")]
    prefix: String,
    /// One line per repository instead of the prefix's total.
    #[arg(long)]
    by_repository: bool,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn storage(args: StorageArgs) -> anyhow::Result<()> {
    let meta = open_meta(&args.common).await?;
    let rows = if args.by_repository {
        meta.usage_by_repository(&args.prefix).await?
    } else {
        vec![meta.usage_of_prefix(&args.prefix).await?]
    };
    if args.json {
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(());
    }
    println!(
        "{:<40} {:>14} {:>14} {:>14} {:>8}",
        "scope", "logical", "unique", "exclusive", "blobs"
    );
    for u in rows {
        let scope = if u.scope.is_empty() {
            "(everything)".to_string()
        } else {
            u.scope
        };
        println!(
            "{:<40} {:>14} {:>14} {:>14} {:>8}",
            scope, u.logical, u.unique, u.exclusive, u.blobs
        );
    }
    Ok(())
}
