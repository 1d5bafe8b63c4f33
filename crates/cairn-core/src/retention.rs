//! Retention policies for container repositories: which tags and manifests
//! a policy would delete, and why. A pure decision over one repository's
//! inventory, so that a preview and its execution on an unchanged
//! repository are the same plan.
//!
//! The traps users of other registries report are decided here:
//! - an index's children and a manifest's referrers (signatures, SBOMs,
//!   attestations) follow their parent: they are never "untagged garbage"
//!   while it is kept, and go with it;
//! - age is the time since a tag was last pushed (re-tagging resets it) or
//!   its manifest last pulled (by tag or by digest);
//! - keep always wins over delete, and a tag an immutability rule covers is
//!   never deleted.

use crate::policy::RepositoryPatterns;
use regex::Regex;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// A policy as configured:
///
/// ```toml
/// [[retention]]
/// name = "ci-builds"
/// repositories = ["team/**"]
/// tags = '^ci-'            # the tags it may delete (default: all)
/// keep_tags = '^release-'  # never deleted
/// keep_last = 10           # the most recently pushed or pulled tags kept
/// keep_days = 30           # tags pushed or pulled within this many days kept
/// untagged = "delete"      # manifests with no tag (and no parent): "keep" (default) or "delete"
/// untagged_min_age_hours = 24
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    pub name: String,
    pub repositories: Vec<String>,
    #[serde(default)]
    pub tags: Option<String>,
    #[serde(default)]
    pub keep_tags: Option<String>,
    #[serde(default)]
    pub keep_last: Option<usize>,
    #[serde(default)]
    pub keep_days: Option<u64>,
    #[serde(default)]
    pub untagged: Option<String>,
    #[serde(default)]
    pub untagged_min_age_hours: Option<u64>,
    /// `oci` (the default: container repositories) or a package format
    /// (`npm`, `pypi`, `cargo`, `go`, `maven`): see
    /// [`crate::version_retention`].
    #[serde(default)]
    pub format: Option<String>,
    /// Packages: the package names it decides (a regular expression).
    #[serde(default)]
    pub packages: Option<String>,
    /// Packages: the versions it may delete; naming versions this way also
    /// makes matching releases deletable.
    #[serde(default)]
    pub versions: Option<String>,
    /// Packages: versions never deleted by it.
    #[serde(default)]
    pub keep_versions: Option<String>,
    /// Maven: snapshot builds kept, and snapshots removed once released.
    #[serde(default)]
    pub snapshots: Option<crate::version_retention::SnapshotConfig>,
}

/// Every configured policy, compiled, in order: the container ones and
/// the package ones.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    pub images: Vec<RetentionPolicy>,
    pub versions: Vec<crate::version_retention::VersionPolicy>,
}

impl Policies {
    pub fn compile(configs: &[RetentionConfig]) -> Result<Policies, String> {
        let mut out = Policies::default();
        for c in configs {
            match c.format.as_deref() {
                None | Some("oci") => out.images.push(RetentionPolicy::compile(c)?),
                Some(f) => {
                    let format = crate::Format::parse(f).ok_or_else(|| {
                        format!(
                            "retention {:?}: format {f:?}: use oci, npm, pypi, cargo, go or maven",
                            c.name
                        )
                    })?;
                    out.versions
                        .push(crate::version_retention::VersionPolicy::compile(c, format)?);
                }
            }
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty() && self.versions.is_empty()
    }
}

/// A compiled policy.
#[derive(Debug, Clone)]
pub struct RetentionPolicy {
    pub name: String,
    repositories: RepositoryPatterns,
    tags: Option<Regex>,
    keep_tags: Option<Regex>,
    keep_last: Option<usize>,
    keep_days: Option<u64>,
    delete_untagged: bool,
    untagged_min_age_secs: i64,
}

impl RetentionPolicy {
    pub fn compile(cfg: &RetentionConfig) -> Result<RetentionPolicy, String> {
        let at = |what: &str, e: String| format!("retention {:?}: {what}: {e}", cfg.name);
        let regex = |what: &str, r: &Option<String>| {
            r.as_deref()
                .map(Regex::new)
                .transpose()
                .map_err(|e| at(what, e.to_string()))
        };
        let delete_untagged = match cfg.untagged.as_deref() {
            None | Some("keep") => false,
            Some("delete") => true,
            Some(other) => return Err(at("untagged", format!("{other:?}: use keep or delete"))),
        };
        if cfg.repositories.is_empty() {
            return Err(at("repositories", "name at least one pattern".into()));
        }
        for (field, set) in [
            ("packages", cfg.packages.is_some()),
            ("versions", cfg.versions.is_some()),
            ("keep_versions", cfg.keep_versions.is_some()),
            ("snapshots", cfg.snapshots.is_some()),
        ] {
            if set {
                return Err(at(field, "is for package formats (set format)".into()));
            }
        }
        Ok(RetentionPolicy {
            name: cfg.name.clone(),
            repositories: RepositoryPatterns::compile(&cfg.repositories)
                .map_err(|e| at("repositories", e))?,
            tags: regex("tags", &cfg.tags)?,
            keep_tags: regex("keep_tags", &cfg.keep_tags)?,
            keep_last: cfg.keep_last,
            keep_days: cfg.keep_days,
            delete_untagged,
            untagged_min_age_secs: cfg.untagged_min_age_hours.unwrap_or(24) as i64 * 3600,
        })
    }

    pub fn covers(&self, repository: &str) -> bool {
        self.repositories.matches(repository)
    }
}

/// A tag as stored: what it points to and when it was last pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFact {
    pub tag: String,
    pub digest: String,
    pub updated_at: i64,
}

/// A manifest as stored: when it was pushed and last pulled, its subject
/// (a referrer's), and the manifests it names (an index's children).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFact {
    pub digest: String,
    pub created_at: i64,
    pub pulled_at: Option<i64>,
    pub subject: Option<String>,
    pub children: Vec<String>,
}

/// One repository's tags and manifests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub tags: Vec<TagFact>,
    pub manifests: Vec<ManifestFact>,
}

/// What a policy would do, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    DeleteTag {
        tag: String,
        digest: String,
        why: String,
    },
    DeleteManifest {
        digest: String,
        why: String,
    },
    /// A package version, unpublished (its number is never reused).
    DeleteVersion {
        package: String,
        version: String,
        why: String,
    },
    /// Files of a version (a Maven snapshot's older builds).
    DeleteFiles {
        package: String,
        version: String,
        files: Vec<String>,
        why: String,
    },
}

fn days(secs: i64) -> String {
    format!("{:.1} days", secs.max(0) as f64 / 86400.0)
}

/// The plan of `policy` for one repository at `now`. `protected(tag)` says
/// whether an immutability rule covers the tag.
pub fn plan(
    policy: &RetentionPolicy,
    inventory: &Inventory,
    now: i64,
    protected: &dyn Fn(&str) -> bool,
) -> Vec<Action> {
    let manifests: BTreeMap<&str, &ManifestFact> = inventory
        .manifests
        .iter()
        .map(|m| (m.digest.as_str(), m))
        .collect();
    let pulled = |digest: &str| manifests.get(digest).and_then(|m| m.pulled_at);
    let last_used = |t: &TagFact| t.updated_at.max(pulled(&t.digest).unwrap_or(0));
    let recent = |at: i64| {
        policy
            .keep_days
            .is_some_and(|d| now - at < d as i64 * 86400)
    };

    // Tags: the policy's own, newest use first; keep wins.
    let mut mine: Vec<&TagFact> = inventory
        .tags
        .iter()
        .filter(|t| policy.tags.as_ref().is_none_or(|r| r.is_match(&t.tag)))
        .collect();
    mine.sort_by(|a, b| last_used(b).cmp(&last_used(a)).then(a.tag.cmp(&b.tag)));
    let mut actions = Vec::new();
    let mut deleted_tags: BTreeSet<&str> = BTreeSet::new();
    let judges_tags = policy.keep_last.is_some() || policy.keep_days.is_some();
    for (rank, t) in mine.iter().enumerate() {
        let kept = !judges_tags
            || policy
                .keep_tags
                .as_ref()
                .is_some_and(|r| r.is_match(&t.tag))
            || protected(&t.tag)
            || policy.keep_last.is_some_and(|n| rank < n)
            || recent(last_used(t));
        if kept {
            continue;
        }
        let mut why = format!("last pushed or pulled {} ago", days(now - last_used(t)));
        if let Some(n) = policy.keep_last {
            why.push_str(&format!(", not among the {n} most recent"));
        }
        if let Some(d) = policy.keep_days {
            why.push_str(&format!(", older than {d} days"));
        }
        deleted_tags.insert(t.tag.as_str());
        actions.push(Action::DeleteTag {
            tag: t.tag.clone(),
            digest: t.digest.clone(),
            why: format!("policy {:?}: {why}", policy.name),
        });
    }

    // Manifests: what is still tagged is kept, and so is everything it
    // names (children) or that refers to it (referrers), transitively.
    let tagged_after: BTreeSet<&str> = inventory
        .tags
        .iter()
        .filter(|t| !deleted_tags.contains(t.tag.as_str()))
        .map(|t| t.digest.as_str())
        .collect();
    let untagged_by_plan: BTreeSet<&str> = inventory
        .tags
        .iter()
        .filter(|t| deleted_tags.contains(t.tag.as_str()))
        .map(|t| t.digest.as_str())
        .filter(|d| !tagged_after.contains(d))
        .collect();
    let was_tagged: BTreeSet<&str> = inventory.tags.iter().map(|t| t.digest.as_str()).collect();
    // A manifest with a parent here (an index naming it, or its subject)
    // follows the parent; the others stand on their own.
    let mut has_parent: BTreeSet<&str> = BTreeSet::new();
    for m in &inventory.manifests {
        for c in &m.children {
            if manifests.contains_key(c.as_str()) {
                has_parent.insert(c.as_str());
            }
        }
        if m.subject
            .as_deref()
            .is_some_and(|s| manifests.contains_key(s))
        {
            has_parent.insert(m.digest.as_str());
        }
    }
    let mut live: BTreeSet<&str> = BTreeSet::new();
    let mut why_gone: BTreeMap<&str, String> = BTreeMap::new();
    for m in &inventory.manifests {
        let d = m.digest.as_str();
        if tagged_after.contains(d) {
            live.insert(d);
        } else if has_parent.contains(d) {
            // decided by its parents below
        } else if untagged_by_plan.contains(d) {
            why_gone.insert(d, "its tags are all deleted by this plan".into());
        } else if was_tagged.contains(d) {
            live.insert(d);
        } else {
            let used = m.created_at.max(m.pulled_at.unwrap_or(0));
            let old = now - used >= policy.untagged_min_age_secs;
            if policy.delete_untagged && old && !recent(used) {
                why_gone.insert(
                    d,
                    format!("untagged, last pushed or pulled {} ago", days(now - used)),
                );
            } else {
                live.insert(d);
            }
        }
    }
    // Children of live manifests and referrers of live manifests live too.
    loop {
        let mut grew = false;
        for m in &inventory.manifests {
            let d = m.digest.as_str();
            if live.contains(d) {
                for c in &m.children {
                    if manifests.contains_key(c.as_str()) && live.insert(c.as_str()) {
                        grew = true;
                    }
                }
            } else if m.subject.as_deref().is_some_and(|s| live.contains(s)) {
                live.insert(d);
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    for m in &inventory.manifests {
        let d = m.digest.as_str();
        if live.contains(d) {
            continue;
        }
        let why = why_gone
            .get(d)
            .cloned()
            .unwrap_or_else(|| match &m.subject {
                Some(s) if manifests.contains_key(s.as_str()) => {
                    format!("its subject {s} goes")
                }
                _ => "every index naming it goes".into(),
            });
        actions.push(Action::DeleteManifest {
            digest: d.to_string(),
            why: format!("policy {:?}: {why}", policy.name),
        });
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86400;
    const NOW: i64 = 1000 * DAY;

    fn policy(extra: &str) -> RetentionPolicy {
        let text = format!("name = \"p\"\nrepositories = [\"team/**\"]\n{extra}");
        RetentionPolicy::compile(&toml::from_str(&text).unwrap()).unwrap()
    }

    fn tag(tag: &str, digest: &str, age_days: i64) -> TagFact {
        TagFact {
            tag: tag.into(),
            digest: digest.into(),
            updated_at: NOW - age_days * DAY,
        }
    }

    fn manifest(digest: &str, age_days: i64) -> ManifestFact {
        ManifestFact {
            digest: digest.into(),
            created_at: NOW - age_days * DAY,
            pulled_at: None,
            subject: None,
            children: vec![],
        }
    }

    fn deleted(actions: &[Action]) -> (Vec<String>, Vec<String>) {
        let mut tags = vec![];
        let mut manifests = vec![];
        for a in actions {
            match a {
                Action::DeleteTag { tag, .. } => tags.push(tag.clone()),
                Action::DeleteManifest { digest, .. } => manifests.push(digest.clone()),
                other => panic!("an image policy planned {other:?}"),
            }
        }
        tags.sort();
        manifests.sort();
        (tags, manifests)
    }

    #[test]
    fn keep_last_and_keep_days_and_keep_wins() {
        let p = policy("keep_last = 2\nkeep_days = 10\nkeep_tags = '^release-'");
        let inv = Inventory {
            tags: vec![
                tag("a", "m1", 50),
                tag("b", "m2", 40),
                tag("c", "m3", 30),
                tag("d", "m4", 20),
                tag("e", "m5", 5),
                tag("release-1", "m6", 400),
            ],
            manifests: ["m1", "m2", "m3", "m4", "m5", "m6"]
                .iter()
                .map(|d| manifest(d, 400))
                .collect(),
        };
        // e (5 days) is recent; d and e are the two most recent; release-1 is kept by name.
        let (tags, manifests) = deleted(&plan(&p, &inv, NOW, &|_| false));
        assert_eq!(tags, ["a", "b", "c"]);
        assert_eq!(manifests, ["m1", "m2", "m3"]);
        // An immutable tag is never deleted.
        let (tags, _) = deleted(&plan(&p, &inv, NOW, &|t| t == "a"));
        assert_eq!(tags, ["b", "c"]);
    }

    #[test]
    fn a_pull_by_digest_and_a_retag_count_as_use() {
        let p = policy("keep_days = 10");
        let mut inv = Inventory {
            tags: vec![tag("old", "m1", 50), tag("retagged", "m2", 1)],
            manifests: vec![manifest("m1", 50), manifest("m2", 50)],
        };
        assert_eq!(deleted(&plan(&p, &inv, NOW, &|_| false)).0, ["old"]);
        inv.manifests[0].pulled_at = Some(NOW - 2 * DAY);
        assert!(plan(&p, &inv, NOW, &|_| false).is_empty());
    }

    #[test]
    fn an_index_its_children_signatures_and_sbom_go_together_or_stay() {
        // A multi-platform index (two children), a signature and an SBOM on
        // the index, an attestation on a child; all untagged but the index.
        let mut index = manifest("idx", 100);
        index.children = vec!["amd64".into(), "arm64".into()];
        let mut sig = manifest("sig", 100);
        sig.subject = Some("idx".into());
        let mut sbom = manifest("sbom", 100);
        sbom.subject = Some("idx".into());
        let mut att = manifest("att", 100);
        att.subject = Some("amd64".into());
        let lone = manifest("lone", 100);
        let inv = Inventory {
            tags: vec![tag("v1", "idx", 100)],
            manifests: vec![
                index,
                manifest("amd64", 100),
                manifest("arm64", 100),
                sig,
                sbom,
                att,
                lone,
            ],
        };
        // Untagged deletion never takes what follows a kept index.
        let p = policy("untagged = \"delete\"");
        assert_eq!(
            deleted(&plan(&p, &inv, NOW, &|_| false)),
            (vec![], vec!["lone".to_string()])
        );
        // When the index's tag goes, everything that follows it goes too.
        let p = policy("keep_days = 30");
        let (tags, manifests) = deleted(&plan(&p, &inv, NOW, &|_| false));
        assert_eq!(tags, ["v1"]);
        assert_eq!(manifests, ["amd64", "arm64", "att", "idx", "sbom", "sig"]);
        // Without an untagged rule, the lone untagged manifest stays.
        assert!(!manifests.contains(&"lone".to_string()));
    }

    #[test]
    fn untagged_needs_its_minimum_age() {
        let p = policy("untagged = \"delete\"\nuntagged_min_age_hours = 48");
        let inv = Inventory {
            tags: vec![],
            manifests: vec![manifest("new", 1), manifest("old", 3)],
        };
        assert_eq!(deleted(&plan(&p, &inv, NOW, &|_| false)).1, ["old"]);
    }

    #[test]
    fn bad_policies_are_refused() {
        let bad = |extra: &str| {
            let text = format!("name = \"p\"\nrepositories = [\"team/**\"]\n{extra}");
            RetentionPolicy::compile(&toml::from_str(&text).unwrap()).unwrap_err()
        };
        assert!(bad("untagged = \"sometimes\"").contains("untagged"));
        assert!(bad("tags = '('").contains("tags"));
    }
}
