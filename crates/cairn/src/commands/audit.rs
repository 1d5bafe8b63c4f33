//! `cairn audit`: read the append-only audit log.

use super::{open_meta, CommonArgs};
use clap::Args;

#[derive(Args)]
pub(crate) struct AuditArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[arg(long)]
    actor: Option<String>,
    #[arg(long)]
    repository: Option<String>,
    /// e.g. manifest.put, tag.move, tag.delete, blob.delete, token.create, auth.failed
    #[arg(long)]
    action: Option<String>,
    /// Only entries about this artifact: a digest, or PACKAGE@VERSION.
    #[arg(long)]
    artifact: Option<String>,
    /// Only entries older than this id (to page backwards).
    #[arg(long)]
    before: Option<i64>,
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let filter = cairn_store::AuditFilter {
        actor: args.actor,
        repository: args.repository,
        action: args.action,
        artifact: args.artifact,
        before_id: args.before,
        limit: args.limit,
    };
    print_audit(
        &*open_meta(&args.common).await?,
        &filter,
        super::json_output(args.json),
    )
    .await
}

async fn print_audit(
    meta: &dyn cairn_store::MetaStore,
    filter: &cairn_store::AuditFilter,
    json: bool,
) -> anyhow::Result<()> {
    for e in meta.audit_log(filter).await? {
        if json {
            println!("{}", serde_json::to_string(&e)?);
        } else {
            println!(
                "{:>6} {} {:<14} {:<16} {:<18} {:<20} {} {}{}",
                e.id,
                e.at,
                e.actor,
                e.source.as_deref().unwrap_or("-"),
                e.action,
                e.repository.as_deref().unwrap_or("-"),
                e.artifact.as_deref().unwrap_or("-"),
                e.outcome,
                e.detail.map(|d| format!(" ({d})")).unwrap_or_default(),
            );
        }
    }
    Ok(())
}
