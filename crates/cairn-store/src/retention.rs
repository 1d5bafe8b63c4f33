//! Running retention policies over the stored repositories: the plan of
//! each repository (`cairn_core::retention::plan`, the one decision), shown
//! as a preview or carried out. Carrying it out deletes only what the plan
//! named as it was planned: a tag moved since, or a manifest tagged since,
//! stays. The blobs freed are the garbage collector's.

use crate::{Actor, MetaStore, StoreError};
use cairn_core::policy::TagRule;
use cairn_core::retention::{plan, Action, RetentionPolicy};
use cairn_core::Digest;
use std::str::FromStr;

/// One repository's plan under the first policy that covers it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RepositoryPlan {
    pub repository: String,
    pub policy: String,
    pub actions: Vec<Action>,
}

/// What carrying out the plans did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RetentionReport {
    pub tags_deleted: u64,
    pub manifests_deleted: u64,
    /// Planned deletions not done: changed since the plan, or refused.
    pub skipped: u64,
    /// Whether the per-run cap stopped the run before the plan's end (a
    /// repository's plan is carried out whole or not at all, so that no
    /// image is left half deleted).
    pub capped: bool,
}

/// The plans of every repository a policy covers (the first policy that
/// covers a repository decides it), with at least one action each.
pub async fn preview(
    meta: &dyn MetaStore,
    policies: &[RetentionPolicy],
    rules: &[TagRule],
    now: i64,
) -> Result<Vec<RepositoryPlan>, StoreError> {
    let mut plans = Vec::new();
    if policies.is_empty() {
        return Ok(plans);
    }
    let mut last: Option<String> = None;
    loop {
        let page = meta.list_repositories(last.as_deref(), 1000).await?;
        let Some(end) = page.last().cloned() else {
            break;
        };
        for repository in page {
            let Some(policy) = policies.iter().find(|p| p.covers(&repository)) else {
                continue;
            };
            let inventory = meta.inventory(&repository).await?;
            let protected = |tag: &str| {
                cairn_core::policy::check_tag_change(rules, &repository, tag, Some("x"), None)
                    .is_err()
            };
            let actions = plan(policy, &inventory, now, &protected);
            if !actions.is_empty() {
                plans.push(RepositoryPlan {
                    repository,
                    policy: policy.name.clone(),
                    actions,
                });
            }
        }
        last = Some(end);
    }
    Ok(plans)
}

/// Plans and carries out, deleting at most `max_deletions` tags and
/// manifests in this run. Each deletion is audited as
/// `retention/<policy>`.
pub async fn apply(
    meta: &dyn MetaStore,
    policies: &[RetentionPolicy],
    rules: &[TagRule],
    now: i64,
    max_deletions: u64,
) -> Result<(Vec<RepositoryPlan>, RetentionReport), StoreError> {
    let plans = preview(meta, policies, rules, now).await?;
    let mut report = RetentionReport::default();
    for p in &plans {
        let done_so_far = report.tags_deleted + report.manifests_deleted;
        if done_so_far + p.actions.len() as u64 > max_deletions {
            tracing::warn!(repository = %p.repository, policy = %p.policy, planned = p.actions.len(),
                max_deletions, "retention plan left for a later run: it would pass the per-run cap");
            report.capped = true;
            continue;
        }
        let actor = Actor::local(&format!("retention/{}", p.policy));
        for action in &p.actions {
            let done = match action {
                Action::DeleteTag { tag, digest, .. } => {
                    let d = parse(digest)?;
                    match meta
                        .delete_tag_at(&p.repository, tag, &d, rules, &actor)
                        .await
                    {
                        Ok(true) => {
                            report.tags_deleted += 1;
                            true
                        }
                        Ok(false) | Err(StoreError::Policy(_)) => false,
                        Err(e) => return Err(e),
                    }
                }
                Action::DeleteManifest { digest, .. } => {
                    let d = parse(digest)?;
                    let gone = meta
                        .delete_untagged_manifest(&p.repository, &d, &actor)
                        .await?;
                    if gone {
                        report.manifests_deleted += 1;
                    }
                    gone
                }
            };
            if !done {
                report.skipped += 1;
            }
        }
    }
    Ok((plans, report))
}

fn parse(digest: &str) -> Result<Digest, StoreError> {
    Digest::from_str(digest).map_err(|e| StoreError::Corrupt(e.to_string()))
}
