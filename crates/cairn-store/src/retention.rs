//! Running retention policies over the stored repositories: the plan of
//! each repository (`cairn_core::retention::plan`, the one decision), shown
//! as a preview or carried out. Carrying it out deletes only what the plan
//! named as it was planned: a tag moved since, or a manifest tagged since,
//! stays. The blobs freed are the garbage collector's.

use crate::{Actor, MetaStore, StoreError};
use async_trait::async_trait;
use cairn_core::policy::TagRule;
use cairn_core::retention::{plan, Action, Policies};
use cairn_core::version_retention::{plan_versions, PackageFacts};
use cairn_core::{Digest, Format, PackageRef};
use std::str::FromStr;

/// What retention needs of the package aggregate: its repositories, each
/// package's versions with their tags and files, and the two deletions,
/// each re-checked in its transaction.
#[async_trait]
pub trait VersionRetentionStore: Send + Sync + 'static {
    /// Every (format, repository) holding packages, in order.
    async fn package_repositories(&self) -> Result<Vec<(Format, String)>, StoreError>;

    /// Every package of a repository, with its versions, their dist-tags
    /// and the files that still hold bytes.
    async fn retention_facts(
        &self,
        format: Format,
        repository: &str,
    ) -> Result<Vec<PackageFacts>, StoreError>;

    /// Unpublishes a version for a retention policy (`why` is kept as its
    /// message and in the audit entry `version.retention`), letting go of
    /// its files' bytes, in one transaction that also changes every
    /// metadata document listing it. False if it changed since the plan
    /// (already unpublished, or a dist-tag now points at it).
    async fn prune_version(
        &self,
        pkg: PackageRef<'_>,
        version: &str,
        why: &str,
        actor: &Actor,
    ) -> Result<bool, StoreError>;

    /// Records that a version's file was downloaded now (written at most
    /// once an hour per version and replica: [`crate::UseNotes`]).
    async fn note_download(&self, pkg: PackageRef<'_>, version: &str) -> Result<(), StoreError>;

    /// Lets go of some files of a version (a Maven snapshot's older
    /// builds); the version stays. The number of files let go.
    async fn prune_files(
        &self,
        pkg: PackageRef<'_>,
        version: &str,
        files: &[String],
        why: &str,
        actor: &Actor,
    ) -> Result<usize, StoreError>;
}

/// One repository's plan under the first policy that covers it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RepositoryPlan {
    /// An OCI repository (`team/app`), or a package repository as
    /// `<format>/<repository>` (`npm/main`).
    pub repository: String,
    pub policy: String,
    pub actions: Vec<Action>,
}

/// What carrying out the plans did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RetentionReport {
    pub tags_deleted: u64,
    pub manifests_deleted: u64,
    /// Package versions unpublished.
    pub versions_deleted: u64,
    /// Files let go of (Maven snapshot builds).
    pub files_deleted: u64,
    /// Planned deletions not done: changed since the plan, or refused.
    pub skipped: u64,
    /// Whether the per-run cap stopped the run before the plan's end (a
    /// repository's plan is carried out whole or not at all, so that no
    /// image is left half deleted).
    pub capped: bool,
    /// Stopped before the end, between two repositories.
    pub cancelled: bool,
}

impl RetentionReport {
    fn deleted(&self) -> u64 {
        self.tags_deleted + self.manifests_deleted + self.versions_deleted + self.files_deleted
    }
}

/// The plans of every repository a policy covers (the first policy that
/// covers a repository decides it), with at least one action each:
/// container repositories first, then package repositories.
pub async fn preview(
    meta: &dyn MetaStore,
    policies: &Policies,
    rules: &[TagRule],
    now: i64,
) -> Result<Vec<RepositoryPlan>, StoreError> {
    let mut plans = Vec::new();
    if !policies.images.is_empty() {
        let mut last: Option<String> = None;
        loop {
            let page = meta.list_repositories(last.as_deref(), 1000).await?;
            let Some(end) = page.last().cloned() else {
                break;
            };
            for repository in page {
                let Some(policy) = policies.images.iter().find(|p| p.covers(&repository)) else {
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
    }
    if !policies.versions.is_empty() {
        for (format, repository) in meta.package_repositories().await? {
            let Some(policy) = policies
                .versions
                .iter()
                .find(|p| p.covers(format, &repository))
            else {
                continue;
            };
            let mut actions = Vec::new();
            for facts in meta.retention_facts(format, &repository).await? {
                actions.extend(plan_versions(policy, &facts, now));
            }
            if !actions.is_empty() {
                plans.push(RepositoryPlan {
                    repository: format!("{}/{repository}", format.as_str()),
                    policy: policy.name.clone(),
                    actions,
                });
            }
        }
    }
    Ok(plans)
}

/// Plans and carries out, deleting at most `max_deletions` tags,
/// manifests, versions and snapshot builds in this run. Each deletion is
/// audited as `retention/<policy>`. `cancel` stops it between
/// repositories (each is carried out whole or not at all).
pub async fn apply(
    meta: &dyn MetaStore,
    policies: &Policies,
    rules: &[TagRule],
    now: i64,
    max_deletions: u64,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(Vec<RepositoryPlan>, RetentionReport), StoreError> {
    let plans = preview(meta, policies, rules, now).await?;
    let mut report = RetentionReport::default();
    for p in &plans {
        if cancel.is_cancelled() {
            report.cancelled = true;
            break;
        }
        if report.deleted() + p.actions.len() as u64 > max_deletions {
            tracing::warn!(repository = %p.repository, policy = %p.policy, planned = p.actions.len(),
                max_deletions, "retention plan left for a later run: it would pass the per-run cap");
            report.capped = true;
            continue;
        }
        let actor = Actor::local(&format!("retention/{}", p.policy));
        for action in &p.actions {
            if !carry_out(meta, p, action, rules, &actor, &mut report).await? {
                report.skipped += 1;
            }
        }
    }
    Ok((plans, report))
}

/// One planned deletion; false if it was not done (changed since the plan).
async fn carry_out(
    meta: &dyn MetaStore,
    p: &RepositoryPlan,
    action: &Action,
    rules: &[TagRule],
    actor: &Actor,
    report: &mut RetentionReport,
) -> Result<bool, StoreError> {
    Ok(match action {
        Action::DeleteTag { tag, digest, .. } => {
            let d = parse(digest)?;
            match meta
                .delete_tag_at(&p.repository, tag, &d, rules, actor)
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
                .delete_untagged_manifest(&p.repository, &d, actor)
                .await?;
            report.manifests_deleted += u64::from(gone);
            gone
        }
        Action::DeleteVersion {
            package,
            version,
            why,
        } => {
            let planned = PlannedPackage::parse(&p.repository, package)?;
            let gone = meta
                .prune_version(planned.pkg(), version, why, actor)
                .await?;
            report.versions_deleted += u64::from(gone);
            gone
        }
        Action::DeleteFiles {
            package,
            version,
            files,
            why,
        } => {
            let planned = PlannedPackage::parse(&p.repository, package)?;
            let n = meta
                .prune_files(planned.pkg(), version, files, why, actor)
                .await?;
            report.files_deleted += n as u64;
            n > 0
        }
    })
}

/// A package a plan names, as the store names it: the format and the
/// repository from the plan's `<format>/<repository>`, the key from the name.
struct PlannedPackage {
    format: Format,
    repository: String,
    key: String,
}

impl PlannedPackage {
    fn parse(scope: &str, name: &str) -> Result<PlannedPackage, StoreError> {
        let (f, repository) = scope
            .split_once('/')
            .ok_or_else(|| StoreError::Corrupt(format!("package repository {scope:?}")))?;
        let format =
            Format::parse(f).ok_or_else(|| StoreError::Corrupt(format!("package format {f:?}")))?;
        let key = cairn_core::package_key(format, name)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(PlannedPackage {
            format,
            repository: repository.to_string(),
            key,
        })
    }

    fn pkg(&self) -> PackageRef<'_> {
        PackageRef {
            format: self.format,
            repository: &self.repository,
            package: &self.key,
        }
    }
}

fn parse(digest: &str) -> Result<Digest, StoreError> {
    Digest::from_str(digest).map_err(|e| StoreError::Corrupt(e.to_string()))
}
