//! `cairn retention`: what the configured retention policies would delete,
//! and why (preview), or deleting it now (apply). docs/retention.md.

use super::{load_config, CommonArgs};
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum RetentionCommand {
    /// List every tag and manifest the policies would delete now, and why.
    /// Nothing is changed; `apply` on an unchanged registry does exactly this.
    Preview {
        #[command(flatten)]
        common: CommonArgs,
        /// One JSON object per repository.
        #[arg(long)]
        json: bool,
    },
    /// Delete what the policies name now (the collector frees the bytes).
    Apply {
        #[command(flatten)]
        common: CommonArgs,
        /// At most this many deletions [default: gc.retention_max_deletions]
        #[arg(long)]
        max: Option<u64>,
    },
}

pub(crate) async fn retention_command(cmd: RetentionCommand) -> anyhow::Result<()> {
    let (common, apply, json, max) = match cmd {
        RetentionCommand::Preview { common, json } => {
            (common, false, super::json_output(json), None)
        }
        RetentionCommand::Apply { common, max } => (common, true, super::json_output(false), max),
    };
    let config = load_config(&common, None)?;
    let policies = config.retention_policies()?;
    if policies.is_empty() {
        anyhow::bail!("no [[retention]] policy is configured");
    }
    let rules = config.tag_rules()?;
    let meta = super::open_meta(&common).await?;
    let now = cairn_packages::now();
    let plans = if apply {
        let max = max.unwrap_or(config.gc.retention_max_deletions);
        let (plans, report) = cairn_store::retention::apply(
            &*meta,
            &policies,
            &rules,
            now,
            max,
            &super::gc::cancel_on_interrupt(),
        )
        .await?;
        println!(
            "deleted {} tags, {} manifests, {} package versions and {} snapshot files; {} planned deletions skipped (changed since, or refused){}",
            report.tags_deleted,
            report.manifests_deleted,
            report.versions_deleted,
            report.files_deleted,
            report.skipped,
            if report.capped {
                "; some repositories wait: their plans pass the per-run cap"
            } else {
                ""
            }
        );
        plans
    } else {
        cairn_store::retention::preview(&*meta, &policies, &rules, now).await?
    };
    if apply {
        return Ok(());
    }
    for p in &plans {
        if json {
            println!("{}", serde_json::to_string(p)?);
            continue;
        }
        println!("{} (policy {}):", p.repository, p.policy);
        for a in &p.actions {
            match a {
                cairn_core::retention::Action::DeleteTag { tag, digest, why } => {
                    println!("  delete tag {tag} -> {digest}: {why}")
                }
                cairn_core::retention::Action::DeleteManifest { digest, why } => {
                    println!("  delete manifest {digest}: {why}")
                }
                cairn_core::retention::Action::DeleteVersion {
                    package,
                    version,
                    why,
                } => println!("  delete version {package} {version}: {why}"),
                cairn_core::retention::Action::DeleteFiles {
                    package,
                    version,
                    files,
                    why,
                } => println!(
                    "  delete {} files of {package} {version} ({}): {why}",
                    files.len(),
                    files.join(", ")
                ),
            }
        }
    }
    if plans.is_empty() && !json {
        println!("nothing to delete");
    }
    Ok(())
}
