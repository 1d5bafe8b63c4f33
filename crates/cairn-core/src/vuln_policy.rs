//! Blocking downloads and pulls of artifacts with vulnerability findings.
//!
//! A policy covers repositories by pattern (`FORMAT/REPOSITORY` for
//! packages, e.g. `npm/*`; the repository name for images, e.g. `prod/**`);
//! the first policy covering a repository decides. It refuses an artifact
//! with a finding at or above its severity, unless the advisory is excepted
//! (an exception names an advisory and a repository pattern, and expires).
//! When the vulnerability data is older than the policy allows, it says
//! which way to fail: refuse everything (`on_stale = "block"`) or serve
//! (`"allow"`). A caller who may publish to the repository is never refused
//! (a pusher reads back what it pushed; CI is not blocked by its own
//! artifact): it is served with a warning. Pure: the findings, the
//! exceptions and the data's age are given.

use globset::{GlobBuilder, GlobMatcher};

/// A repository pattern: `*` stays within a segment, `**` crosses them.
pub(crate) fn pattern(p: &str) -> Result<GlobMatcher, globset::Error> {
    Ok(GlobBuilder::new(p)
        .literal_separator(true)
        .build()?
        .compile_matcher())
}

use crate::advisory::Severity;

#[derive(Debug, Clone, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VulnPolicyConfig {
    pub name: String,
    /// Repository patterns (`*` within a segment, `**` across).
    pub repositories: Vec<String>,
    /// Refuse findings at or above this severity.
    pub block: String,
    /// Vulnerability data older than this many days is stale.
    #[serde(default)]
    pub max_data_age_days: Option<u32>,
    /// With stale (or no) data: `block` (fail closed) or `allow` (fail open).
    #[serde(default = "default_on_stale")]
    pub on_stale: String,
}

fn default_on_stale() -> String {
    "allow".into()
}

#[derive(Debug, Clone)]
pub struct VulnPolicy {
    pub name: String,
    patterns: Vec<GlobMatcher>,
    pub block: Severity,
    pub max_data_age_secs: Option<i64>,
    pub fail_closed: bool,
}

impl VulnPolicy {
    pub fn compile(c: &VulnPolicyConfig) -> Result<VulnPolicy, String> {
        let block = Severity::parse(&c.block)
            .filter(|s| *s != Severity::Unknown)
            .ok_or_else(|| {
                format!(
                    "policy {}: block = {:?} is not low, medium, high or critical",
                    c.name, c.block
                )
            })?;
        let fail_closed = match c.on_stale.as_str() {
            "block" => true,
            "allow" => false,
            other => {
                return Err(format!(
                    "policy {}: on_stale = {other:?} is not block or allow",
                    c.name
                ))
            }
        };
        let patterns = c
            .repositories
            .iter()
            .map(|p| pattern(p).map_err(|e| format!("policy {}: {e}", c.name)))
            .collect::<Result<_, _>>()?;
        Ok(VulnPolicy {
            name: c.name.clone(),
            patterns,
            block,
            max_data_age_secs: c.max_data_age_days.map(|d| i64::from(d) * 86400),
            fail_closed,
        })
    }

    pub fn covers(&self, repository: &str) -> bool {
        self.patterns.iter().any(|p| p.is_match(repository))
    }
}

/// The first policy covering `repository`.
pub fn policy_for<'a>(policies: &'a [VulnPolicy], repository: &str) -> Option<&'a VulnPolicy> {
    policies.iter().find(|p| p.covers(repository))
}

/// An accepted advisory: not a reason to refuse, where its pattern covers
/// the repository, until it expires.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Exception {
    pub advisory: String,
    pub repositories: String,
    pub expires_at: i64,
    pub reason: String,
}

impl Exception {
    fn excuses(&self, advisory: &str, repository: &str, now: i64) -> bool {
        self.advisory == advisory
            && now < self.expires_at
            && pattern(&self.repositories).is_ok_and(|g| g.is_match(repository))
    }
}

/// What a policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Serve,
    /// Served, but the policy would refuse it to someone else.
    ServeWithWarning(String),
    Refuse(String),
}

/// One finding as the decision sees it.
pub struct Found<'a> {
    pub advisory: &'a str,
    pub severity: Severity,
    /// What carries it (`lodash 4.17.20`).
    pub what: String,
}

/// Decides one download or pull of an artifact of `repository`.
/// `data_imported_at` is when the newest advisory was imported (`None`:
/// never); `publisher` whether the caller may publish there.
pub fn decide(
    policy: &VulnPolicy,
    repository: &str,
    findings: &[Found<'_>],
    exceptions: &[Exception],
    data_imported_at: Option<i64>,
    now: i64,
    publisher: bool,
) -> Verdict {
    let stale = match (policy.max_data_age_secs, data_imported_at) {
        (Some(max), Some(at)) => now - at > max,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let reason = if stale && policy.fail_closed {
        Some(format!(
            "refused by vulnerability policy {}: the vulnerability data is older than the policy allows, and it fails closed",
            policy.name
        ))
    } else {
        findings
            .iter()
            .filter(|f| f.severity >= policy.block)
            .filter(|f| {
                !exceptions
                    .iter()
                    .any(|e| e.excuses(f.advisory, repository, now))
            })
            .max_by_key(|f| f.severity)
            .map(|f| {
                format!(
                    "refused by vulnerability policy {}: {} ({}) affects {}",
                    policy.name,
                    f.advisory,
                    f.severity.as_str(),
                    f.what
                )
            })
    };
    match (reason, publisher) {
        (None, _) => Verdict::Serve,
        (Some(r), true) => Verdict::ServeWithWarning(r),
        (Some(r), false) => Verdict::Refuse(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(on_stale: &str) -> VulnPolicy {
        VulnPolicy::compile(&VulnPolicyConfig {
            name: "no-high".into(),
            repositories: vec!["npm/*".into(), "prod/**".into()],
            block: "high".into(),
            max_data_age_days: Some(7),
            on_stale: on_stale.into(),
        })
        .unwrap()
    }

    fn found(id: &str, severity: Severity) -> Found<'_> {
        Found {
            advisory: id,
            severity,
            what: "lodash 4.17.20".into(),
        }
    }

    #[test]
    fn findings_at_or_above_the_severity_refuse() {
        let p = policy("allow");
        assert!(p.covers("npm/main") && p.covers("prod/web/app") && !p.covers("dev/app"));
        assert!(!p.covers("npm/a/b"), "* stays within a segment");
        let now = 1_000_000;
        let fresh = Some(now - 3600);
        let medium = [found("GHSA-m", Severity::Medium)];
        assert_eq!(
            decide(&p, "npm/main", &medium, &[], fresh, now, false),
            Verdict::Serve
        );
        let both = [
            found("GHSA-m", Severity::Medium),
            found("GHSA-c", Severity::Critical),
        ];
        match decide(&p, "npm/main", &both, &[], fresh, now, false) {
            Verdict::Refuse(m) => assert!(
                m.contains("GHSA-c (critical) affects lodash 4.17.20"),
                "{m}"
            ),
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            decide(&p, "npm/main", &both, &[], fresh, now, true),
            Verdict::ServeWithWarning(_)
        ));
        let excepted = Exception {
            advisory: "GHSA-c".into(),
            repositories: "npm/*".into(),
            expires_at: now + 10,
            reason: "not reachable".into(),
        };
        assert_eq!(
            decide(
                &p,
                "npm/main",
                &both,
                std::slice::from_ref(&excepted),
                fresh,
                now,
                false
            ),
            Verdict::Serve
        );
        let expired = Exception {
            expires_at: now - 1,
            ..excepted.clone()
        };
        assert!(matches!(
            decide(&p, "npm/main", &both, &[expired], fresh, now, false),
            Verdict::Refuse(_)
        ));
        let elsewhere = Exception {
            repositories: "npm/other".into(),
            ..excepted
        };
        assert!(matches!(
            decide(&p, "npm/main", &both, &[elsewhere], fresh, now, false),
            Verdict::Refuse(_)
        ));
    }

    #[test]
    fn stale_data_fails_the_way_the_policy_says() {
        let now = 100 * 86400;
        let old = Some(now - 8 * 86400);
        assert_eq!(
            decide(&policy("allow"), "npm/main", &[], &[], old, now, false),
            Verdict::Serve
        );
        assert!(
            matches!(decide(&policy("block"), "npm/main", &[], &[], old, now, false), Verdict::Refuse(m) if m.contains("older"))
        );
        assert!(matches!(
            decide(&policy("block"), "npm/main", &[], &[], None, now, false),
            Verdict::Refuse(_)
        ));
        let bad = VulnPolicyConfig {
            block: "severe".into(),
            ..VulnPolicyConfig {
                name: "x".into(),
                repositories: vec![],
                block: String::new(),
                max_data_age_days: None,
                on_stale: "allow".into(),
            }
        };
        assert!(VulnPolicy::compile(&bad).is_err());
    }
}
