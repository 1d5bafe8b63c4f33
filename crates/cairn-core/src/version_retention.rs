//! Retention policies for language packages: which versions of a package
//! (and which Maven snapshot builds) a policy would delete, and why. The
//! same `[[retention]]` language as for images (`keep_last`, `keep_days`,
//! patterns, keep wins), decided purely over one package's versions so
//! that a preview and its execution on an unchanged repository agree.
//!
//! Deleting a version unpublishes it: its number is never reused, every
//! metadata document stops listing it in the same transaction, and the
//! collector frees its bytes.
//!
//! - A version a dist-tag points at (npm `latest`, …) is kept.
//! - A release (a version that is not a pre-release in its ecosystem's
//!   terms) is protected unless the policy names versions explicitly
//!   (`versions = '…'`): only then are matching releases deletable.
//! - Maven snapshots: `snapshots = { keep_last, keep_days, remove_released }`
//!   keeps the newest builds of each `-SNAPSHOT` version (by count and by
//!   age) and deletes the rest; with `remove_released`, a snapshot whose
//!   release exists goes whole.

use crate::lifecycle::VersionState;
use crate::package::Format;
use crate::policy::RepositoryPatterns;
use crate::retention::{Action, RetentionConfig};
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `snapshots = { … }` of a Maven policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotConfig {
    /// The newest builds of each snapshot version kept (at least one is
    /// always kept while the snapshot stays).
    #[serde(default)]
    pub keep_last: Option<usize>,
    /// Builds deployed within this many days kept.
    #[serde(default)]
    pub keep_days: Option<u64>,
    /// A snapshot version goes whole once its release is published.
    #[serde(default)]
    pub remove_released: bool,
}

/// A compiled policy over the versions of one package format.
#[derive(Debug, Clone)]
pub struct VersionPolicy {
    pub name: String,
    pub format: Format,
    repositories: RepositoryPatterns,
    packages: Option<Regex>,
    versions: Option<Regex>,
    keep_versions: Option<Regex>,
    keep_last: Option<usize>,
    keep_days: Option<u64>,
    snapshots: Option<SnapshotConfig>,
}

impl VersionPolicy {
    /// Compiles a `[[retention]]` entry whose `format` is a package format.
    pub fn compile(cfg: &RetentionConfig, format: Format) -> Result<VersionPolicy, String> {
        let at = |what: &str, e: String| format!("retention {:?}: {what}: {e}", cfg.name);
        for (field, set) in [
            ("tags", cfg.tags.is_some()),
            ("keep_tags", cfg.keep_tags.is_some()),
            ("untagged", cfg.untagged.is_some()),
            (
                "untagged_min_age_hours",
                cfg.untagged_min_age_hours.is_some(),
            ),
        ] {
            if set {
                return Err(at(
                    field,
                    "is for container images (format = \"oci\")".into(),
                ));
            }
        }
        if cfg.snapshots.is_some() && format != Format::Maven {
            return Err(at("snapshots", "is for Maven repositories".into()));
        }
        if cfg.repositories.is_empty() {
            return Err(at("repositories", "name at least one pattern".into()));
        }
        let regex = |what: &str, r: &Option<String>| {
            r.as_deref()
                .map(Regex::new)
                .transpose()
                .map_err(|e| at(what, e.to_string()))
        };
        Ok(VersionPolicy {
            name: cfg.name.clone(),
            format,
            repositories: RepositoryPatterns::compile(&cfg.repositories)
                .map_err(|e| at("repositories", e))?,
            packages: regex("packages", &cfg.packages)?,
            versions: regex("versions", &cfg.versions)?,
            keep_versions: regex("keep_versions", &cfg.keep_versions)?,
            keep_last: cfg.keep_last,
            keep_days: cfg.keep_days,
            snapshots: cfg.snapshots.clone(),
        })
    }

    /// Whether the policy decides `repository` (a repository of its format).
    pub fn covers(&self, format: Format, repository: &str) -> bool {
        self.format == format && self.repositories.matches(repository)
    }
}

/// A package's versions as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageFacts {
    /// The package key.
    pub package: String,
    /// The name as published (`group:artifact` for Maven).
    pub name: String,
    pub versions: Vec<VersionFact>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionFact {
    pub version: String,
    pub state: VersionState,
    pub published_at: i64,
    /// When one of its files was last downloaded (hosted downloads,
    /// recorded at most once an hour).
    pub downloaded_at: Option<i64>,
    /// The dist-tags pointing at it.
    pub tags: Vec<String>,
    /// Its files that still hold bytes: (filename, when deployed).
    pub files: Vec<(String, i64)>,
}

/// Whether `version` is a pre-release in its ecosystem's terms: semver's
/// `-pre` (npm, Cargo, Go, pseudo-versions included), PEP 440's a/b/rc/dev
/// (PyPI), Maven's SNAPSHOT and alpha/beta/milestone/rc qualifiers.
pub fn is_prerelease(format: Format, version: &str) -> bool {
    let v = version.to_ascii_lowercase();
    match format {
        Format::Npm | Format::Cargo | Format::Go => {
            v.split('+').next().is_some_and(|core| core.contains('-'))
        }
        Format::Pypi => Regex::new(r"(a|b|c|rc|alpha|beta|pre|preview|dev)[._-]?\d*($|[.+_-])")
            .expect("a valid pattern")
            .is_match(&v),
        Format::Maven => Regex::new(r"(snapshot|alpha|beta|milestone|\brc|\bcr|[.-]m)\d*")
            .expect("a valid pattern")
            .is_match(&v),
    }
}

fn days(secs: i64) -> String {
    format!("{:.1} days", secs.max(0) as f64 / 86400.0)
}

/// The plan of `policy` for one package at `now`: versions to delete
/// (unpublish) and Maven snapshot builds to delete.
pub fn plan_versions(policy: &VersionPolicy, facts: &PackageFacts, now: i64) -> Vec<Action> {
    let mut actions = Vec::new();
    if policy
        .packages
        .as_ref()
        .is_some_and(|r| !r.is_match(&facts.name))
    {
        return actions;
    }
    let live: Vec<&VersionFact> = facts
        .versions
        .iter()
        .filter(|v| v.state != VersionState::Unpublished)
        .collect();
    let named = |v: &str| policy.versions.as_ref().is_some_and(|r| r.is_match(v));
    let recent =
        |at: i64, keep_days: Option<u64>| keep_days.is_some_and(|d| now - at < d as i64 * 86400);
    let snapshot =
        |v: &VersionFact| policy.format == Format::Maven && v.version.ends_with("-SNAPSHOT");

    // Whole versions, most recently used (published or downloaded) first;
    // keep wins.
    let used = |v: &VersionFact| v.published_at.max(v.downloaded_at.unwrap_or(0));
    let mut mine: Vec<&&VersionFact> = live
        .iter()
        .filter(|v| policy.versions.is_none() || named(&v.version))
        .filter(|v| !(policy.snapshots.is_some() && snapshot(v)))
        .collect();
    mine.sort_by(|a, b| used(b).cmp(&used(a)).then(b.version.cmp(&a.version)));
    let judges = policy.keep_last.is_some() || policy.keep_days.is_some();
    for (rank, v) in mine.iter().enumerate() {
        let protected_release = !is_prerelease(policy.format, &v.version) && !named(&v.version);
        let kept = !judges
            || protected_release
            || !v.tags.is_empty()
            || policy
                .keep_versions
                .as_ref()
                .is_some_and(|r| r.is_match(&v.version))
            || policy.keep_last.is_some_and(|n| rank < n)
            || recent(used(v), policy.keep_days);
        if kept {
            continue;
        }
        let mut why = match v.downloaded_at {
            Some(d) if d > v.published_at => format!("last downloaded {} ago", days(now - d)),
            _ => format!("published {} ago", days(now - v.published_at)),
        };
        if let Some(n) = policy.keep_last {
            why.push_str(&format!(", not among the {n} most recent"));
        }
        if let Some(d) = policy.keep_days {
            why.push_str(&format!(", older than {d} days"));
        }
        actions.push(Action::DeleteVersion {
            package: facts.name.clone(),
            version: v.version.clone(),
            why: format!("policy {:?}: {why}", policy.name),
        });
    }

    // Maven snapshots: whole once released, else their older builds.
    let Some(rule) = &policy.snapshots else {
        return actions;
    };
    let artifact = facts.name.rsplit(':').next().unwrap_or(&facts.name);
    for v in live.iter().filter(|v| snapshot(v)) {
        let base = v.version.trim_end_matches("-SNAPSHOT");
        if rule.remove_released && live.iter().any(|r| r.version == base) {
            if v.tags.is_empty() {
                actions.push(Action::DeleteVersion {
                    package: facts.name.clone(),
                    version: v.version.clone(),
                    why: format!("policy {:?}: released as {base}", policy.name),
                });
            }
            continue;
        }
        if rule.keep_last.is_none() && rule.keep_days.is_none() {
            continue;
        }
        // Builds by number, newest first: (build, newest deploy, files).
        let mut builds: BTreeMap<u64, (i64, Vec<String>)> = BTreeMap::new();
        for (file, at) in &v.files {
            if let Some(build) = snapshot_build(artifact, base, file) {
                let b = builds.entry(build).or_default();
                b.0 = b.0.max(*at);
                b.1.push(file.clone());
            }
        }
        for (rank, (build, (at, files))) in builds.iter().rev().enumerate() {
            let kept = rank == 0
                || rule.keep_last.is_some_and(|n| rank < n)
                || recent(*at, rule.keep_days);
            if kept {
                continue;
            }
            let mut why = format!("snapshot build {build} deployed {} ago", days(now - at));
            if let Some(n) = rule.keep_last {
                why.push_str(&format!(", not among the {n} newest builds"));
            }
            if let Some(d) = rule.keep_days {
                why.push_str(&format!(", older than {d} days"));
            }
            actions.push(Action::DeleteFiles {
                package: facts.name.clone(),
                version: v.version.clone(),
                files: files.clone(),
                why: format!("policy {:?}: {why}", policy.name),
            });
        }
    }
    actions
}

/// The build number of a timestamped snapshot file,
/// `artifact-base-yyyyMMdd.HHmmss-N[-classifier].ext`.
fn snapshot_build(artifact: &str, base: &str, file: &str) -> Option<u64> {
    let rest = file.strip_prefix(&format!("{artifact}-{base}-"))?;
    let (stamp, rest) = rest.split_at_checked(15)?;
    let ok = stamp.len() == 15
        && stamp.as_bytes()[8] == b'.'
        && stamp
            .bytes()
            .enumerate()
            .all(|(i, c)| i == 8 || c.is_ascii_digit());
    if !ok {
        return None;
    }
    let rest = rest.strip_prefix('-')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    rest[..digits].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86400;
    const NOW: i64 = 1000 * DAY;

    fn policy(format: Format, extra: &str) -> VersionPolicy {
        let text = format!("name = \"p\"\nrepositories = [\"*\"]\n{extra}");
        VersionPolicy::compile(&toml::from_str(&text).unwrap(), format).unwrap()
    }

    fn version(v: &str, age_days: i64, tags: &[&str]) -> VersionFact {
        VersionFact {
            version: v.into(),
            state: VersionState::Active,
            published_at: NOW - age_days * DAY,
            downloaded_at: None,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            files: vec![(format!("f-{v}"), NOW - age_days * DAY)],
        }
    }

    fn deleted(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .map(|a| match a {
                Action::DeleteVersion { version, .. } => version.clone(),
                Action::DeleteFiles { version, files, .. } => {
                    format!("{version}:{}", files.join(","))
                }
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn prereleases_go_past_keep_last_and_releases_and_tagged_versions_stay() {
        let facts = PackageFacts {
            package: "pkg".into(),
            name: "pkg".into(),
            versions: vec![
                version("1.0.0", 90, &[]),
                version("1.1.0-beta.1", 80, &[]),
                version("1.1.0-beta.2", 70, &["next"]),
                version("1.1.0-beta.3", 60, &[]),
                version("1.1.0-beta.4", 50, &[]),
                version("1.1.0", 40, &["latest"]),
            ],
        };
        let p = policy(Format::Npm, "keep_last = 1");
        // 1.1.0 is newest (kept by rank); beta.4 next (rank 1, deleted); the
        // releases are protected and beta.2 carries a dist-tag.
        assert_eq!(
            deleted(&plan_versions(&p, &facts, NOW)),
            ["1.1.0-beta.4", "1.1.0-beta.3", "1.1.0-beta.1"]
        );
        // Naming versions explicitly makes matching releases deletable.
        let p = policy(Format::Npm, "keep_days = 30\nversions = '^1\\.0\\.'");
        assert_eq!(deleted(&plan_versions(&p, &facts, NOW)), ["1.0.0"]);
        // keep_days keeps the recent ones; neither keep deletes nothing.
        let p = policy(Format::Npm, "keep_days = 65");
        assert_eq!(deleted(&plan_versions(&p, &facts, NOW)), ["1.1.0-beta.1"]);
        assert!(plan_versions(&policy(Format::Npm, ""), &facts, NOW).is_empty());
        // keep_versions wins, and another package's pattern leaves it alone.
        let p = policy(Format::Npm, "keep_last = 1\nkeep_versions = 'beta\\.[13]'");
        assert_eq!(deleted(&plan_versions(&p, &facts, NOW)), ["1.1.0-beta.4"]);
        let p = policy(Format::Npm, "keep_last = 1\npackages = '^other$'");
        assert!(plan_versions(&p, &facts, NOW).is_empty());
        // A download is use: beta.1, downloaded yesterday, is kept.
        let mut used = facts.clone();
        used.versions[1].downloaded_at = Some(NOW - DAY);
        let p = policy(Format::Npm, "keep_days = 65");
        assert!(plan_versions(&p, &used, NOW).is_empty());
    }

    #[test]
    fn prerelease_is_each_ecosystems_own() {
        assert!(is_prerelease(Format::Npm, "1.0.0-rc.1"));
        assert!(!is_prerelease(Format::Npm, "1.0.0+build-5"));
        assert!(is_prerelease(
            Format::Go,
            "v0.0.0-20240101120000-abcdef123456"
        ));
        assert!(is_prerelease(Format::Pypi, "1.0a1"));
        assert!(is_prerelease(Format::Pypi, "2.0.dev3"));
        assert!(is_prerelease(Format::Pypi, "1.0rc2"));
        assert!(!is_prerelease(Format::Pypi, "1.0.post1"));
        assert!(!is_prerelease(Format::Pypi, "2024.1"));
        assert!(is_prerelease(Format::Maven, "1.0-SNAPSHOT"));
        assert!(is_prerelease(Format::Maven, "2.0.0-M1"));
        assert!(is_prerelease(Format::Maven, "1.0-beta-2"));
        assert!(!is_prerelease(Format::Maven, "1.0.1"));
        assert!(!is_prerelease(Format::Maven, "3.9.6"));
    }

    #[test]
    fn maven_snapshots_keep_their_newest_builds_and_go_once_released() {
        let build = |n: u64, age: i64| {
            (
                format!("lib-1.0-20240101.12000{n}-{n}.jar"),
                NOW - age * DAY,
            )
        };
        let snap = VersionFact {
            version: "1.0-SNAPSHOT".into(),
            state: VersionState::Active,
            published_at: NOW - 30 * DAY,
            downloaded_at: None,
            tags: vec![],
            files: vec![
                build(1, 30),
                build(2, 20),
                build(3, 10),
                build(4, 1),
                ("lib-1.0-20240101.120004-4.pom".into(), NOW - DAY),
            ],
        };
        let facts = PackageFacts {
            package: "org.x:lib".into(),
            name: "org.x:lib".into(),
            versions: vec![snap.clone()],
        };
        let p = policy(Format::Maven, "snapshots = { keep_last = 2 }");
        assert_eq!(
            deleted(&plan_versions(&p, &facts, NOW)),
            [
                "1.0-SNAPSHOT:lib-1.0-20240101.120002-2.jar",
                "1.0-SNAPSHOT:lib-1.0-20240101.120001-1.jar"
            ]
        );
        let p = policy(Format::Maven, "snapshots = { keep_days = 15 }");
        assert_eq!(deleted(&plan_versions(&p, &facts, NOW)).len(), 2);
        // Even keep_last = 0 keeps the newest build while the snapshot stays.
        let p = policy(Format::Maven, "snapshots = { keep_last = 0 }");
        assert_eq!(deleted(&plan_versions(&p, &facts, NOW)).len(), 3);
        // Released: the snapshot goes whole; the release is protected.
        let released = PackageFacts {
            versions: vec![snap, version("1.0", 0, &[])],
            ..facts
        };
        let p = policy(
            Format::Maven,
            "keep_last = 0\nsnapshots = { remove_released = true }",
        );
        assert_eq!(
            deleted(&plan_versions(&p, &released, NOW)),
            ["1.0-SNAPSHOT"]
        );
        // Image-only settings are refused for packages, and the reverse.
        let bad: RetentionConfig =
            toml::from_str("name = \"p\"\nrepositories = [\"*\"]\ntags = 'x'").unwrap();
        assert!(VersionPolicy::compile(&bad, Format::Npm).is_err());
        let bad: RetentionConfig =
            toml::from_str("name = \"p\"\nrepositories = [\"*\"]\nsnapshots = {}").unwrap();
        assert!(VersionPolicy::compile(&bad, Format::Npm).is_err());
    }
}
