//! `cairn storage` and `cairn quota`: where the bytes are — logical, unique
//! and exclusive bytes per repository, per namespace or for a prefix — and
//! the quotas on scopes' unique bytes (docs/gc.md, "Storage numbers" and
//! "Quotas").

use super::{cli_actor, open_meta, CommonArgs};
use cairn_core::quota::{check_scope, human, parse_size};
use clap::{Args, Subcommand};

#[derive(Args)]
pub(crate) struct StorageArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Only repositories whose name starts with this (a namespace: `team/`).
    #[arg(long, default_value = "")]
    prefix: String,
    /// One line per repository instead of the prefix's total.
    #[arg(long, conflicts_with = "by_namespace")]
    by_repository: bool,
    /// One line per namespace (`team/`, `team/app/`, `npm/`): the cost report.
    #[arg(long)]
    by_namespace: bool,
    /// Rebuild the numbers kept as writes happen from the references first
    /// (writes wait meanwhile); prints nothing else if they already agreed.
    #[arg(long)]
    recount: bool,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn storage(args: StorageArgs) -> anyhow::Result<()> {
    let meta = open_meta(&args.common).await?;
    if args.recount {
        let before = meta.usage_of_prefix("").await?;
        meta.recount_usage().await?;
        let after = meta.usage_of_prefix("").await?;
        if before != after {
            eprintln!("recounted: the kept numbers were {before:?}, the references say {after:?}");
        }
    }
    let rows = if args.by_repository {
        meta.usage_by_repository(&args.prefix).await?
    } else if args.by_namespace {
        meta.usage_by_namespace(&args.prefix).await?
    } else {
        vec![meta.usage_of_prefix(&args.prefix).await?]
    };
    if super::json_output(args.json) {
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(());
    }
    println!(
        "{:<40} {:>14} {:>14} {:>14} {:>8}",
        "scope", "logical", "unique", "exclusive", "blobs"
    );
    for u in rows {
        println!(
            "{:<40} {:>14} {:>14} {:>14} {:>8}",
            scope_label(&u.scope),
            u.logical,
            u.unique,
            u.exclusive,
            u.blobs
        );
    }
    Ok(())
}

fn scope_label(scope: &str) -> String {
    if scope.is_empty() {
        "(everything)".to_string()
    } else {
        scope.to_string()
    }
}

#[derive(Subcommand)]
pub(crate) enum QuotaCommand {
    /// Every quota, with its scope's unique bytes now.
    List {
        #[command(flatten)]
        common: CommonArgs,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Limit a scope's unique bytes: a namespace (`team/`, `npm/`), a
    /// repository (`team/app`, `npm/main`), or `""` for the registry.
    Set {
        #[command(flatten)]
        common: CommonArgs,
        scope: String,
        /// Bytes, or a size such as `10GiB` or `"500 MB"`.
        size: String,
    },
    /// Remove a scope's quota.
    Remove {
        #[command(flatten)]
        common: CommonArgs,
        scope: String,
    },
}

pub(crate) async fn quota_command(cmd: QuotaCommand) -> anyhow::Result<()> {
    match cmd {
        QuotaCommand::List { common, json } => {
            let json = super::json_output(json);
            let quotas = open_meta(&common).await?.quotas().await?;
            if json {
                println!("{}", serde_json::to_string(&quotas)?);
                return Ok(());
            }
            println!(
                "{:<40} {:>14} {:>14} {:>6}",
                "scope", "limit", "unique", "used"
            );
            for q in quotas {
                let percent = q.unique as f64 * 100.0 / q.max_unique_bytes.max(1) as f64;
                println!(
                    "{:<40} {:>14} {:>14} {:>5.1}%",
                    scope_label(&q.scope),
                    human(q.max_unique_bytes),
                    human(q.unique),
                    percent
                );
            }
        }
        QuotaCommand::Set {
            common,
            scope,
            size,
        } => {
            check_scope(&scope).map_err(anyhow::Error::msg)?;
            let limit = parse_size(&size).map_err(anyhow::Error::msg)?;
            let meta = open_meta(&common).await?;
            meta.set_quota(&scope, limit, &cli_actor()).await?;
            let used = meta.usage_of_prefix(&scope).await?.unique;
            println!(
                "quota on {}: {} ({} used)",
                scope_label(&scope),
                human(limit),
                human(used)
            );
        }
        QuotaCommand::Remove { common, scope } => {
            if !open_meta(&common)
                .await?
                .remove_quota(&scope, &cli_actor())
                .await?
            {
                anyhow::bail!("no quota on {scope:?}");
            }
            println!("quota on {} removed", scope_label(&scope));
        }
    }
    Ok(())
}
