//! The vulnerability gate every download and pull passes: the first
//! `[[vulnerability_policy]]` covering the repository decides, from the
//! artifact's findings (its SBOMs' components and, for a package version,
//! the package itself), the accepted advisories and the data's age
//! (`cairn_core::vuln_policy::decide`). One gate for every format: the
//! package service asks it for each file it serves, the OCI adapter for
//! each manifest it serves, by tag or by digest, on GET and HEAD.

use crate::Resource;
use cairn_core::access::{authorize_any, AccessPolicy};
use cairn_core::vuln_policy::{decide, policy_for, Found, Verdict, VulnPolicy};
use cairn_core::{Action, Principal};
use cairn_store::advisory::FindingScope;
use cairn_store::sbom::SbomSubject;
use cairn_store::{MetaStore, StoreError};
use std::sync::Arc;

/// Findings looked at per decision (the most severe come first).
const FINDINGS: u32 = 200;

pub struct VulnGate {
    policies: Vec<VulnPolicy>,
    meta: Option<Arc<dyn MetaStore>>,
    access: AccessPolicy,
}

impl VulnGate {
    pub fn new(
        policies: Vec<VulnPolicy>,
        meta: Arc<dyn MetaStore>,
        access: AccessPolicy,
    ) -> VulnGate {
        VulnGate {
            policies,
            meta: Some(meta),
            access,
        }
    }

    /// A gate without policies: everything is served.
    pub fn open() -> VulnGate {
        VulnGate {
            policies: Vec::new(),
            meta: None,
            access: AccessPolicy::default(),
        }
    }

    /// Whether no policy is configured (nothing to ask: callers skip even
    /// building the question).
    pub fn is_open(&self) -> bool {
        self.policies.is_empty()
    }

    /// Whether a policy covers `repository` (a proxy repository then looks
    /// for the upstream's SBOMs of what it serves).
    pub fn covers(&self, repository: &str) -> bool {
        policy_for(&self.policies, repository).is_some()
    }

    /// Decides serving `subject` (of `resource`'s repository) to `principal`.
    pub async fn check(
        &self,
        principal: &Principal,
        resource: &Resource,
        subject: SbomSubject,
    ) -> Result<Verdict, StoreError> {
        let (Some(policy), Some(meta)) =
            (policy_for(&self.policies, &resource.repository), &self.meta)
        else {
            return Ok(Verdict::Serve);
        };
        let findings = meta
            .findings(&FindingScope::Artifact(subject), FINDINGS)
            .await?;
        let mut ids: Vec<String> = findings.iter().map(|f| f.advisory.id.clone()).collect();
        ids.sort();
        ids.dedup();
        let exceptions = if ids.is_empty() {
            Vec::new()
        } else {
            meta.exceptions(&ids).await?
        };
        let (_, imported_at) = meta.advisory_data().await?;
        let found: Vec<Found<'_>> = findings
            .iter()
            .map(|f| Found {
                advisory: &f.advisory.id,
                severity: f.advisory.severity,
                what: format!("{} {}", f.name, f.version.as_deref().unwrap_or(""))
                    .trim()
                    .to_string(),
            })
            .collect();
        let publisher =
            authorize_any(&self.access, principal, &resource.names(), Action::Publish).is_ok();
        let now = cairn_core::unix_now();
        let verdict = decide(
            policy,
            &resource.repository,
            &found,
            &exceptions,
            imported_at,
            now,
            publisher,
        );
        match &verdict {
            Verdict::Refuse(why) => {
                metrics::counter!("cairn_vuln_refusals_total", "policy" => policy.name.clone())
                    .increment(1);
                tracing::info!(repository = %resource.repository, who = %principal.name(), reason = %why, "refused by a vulnerability policy");
            }
            Verdict::ServeWithWarning(why) => {
                tracing::info!(repository = %resource.repository, who = %principal.name(), reason = %why, "served to a publisher despite a vulnerability policy");
            }
            Verdict::Serve => {}
        }
        Ok(verdict)
    }
}

/// The header a served-with-warning answer carries.
pub const WARNING_HEADER: &str = "x-cairn-vulnerability-warning";
