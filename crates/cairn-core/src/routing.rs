//! Where a name may come from through a virtual repository: the
//! dependency-confusion defence (name ownership) and the cooldown on fresh
//! upstream versions. Pure decisions; the package service asks them for
//! every listing and every download, so both paths decide alike.

use crate::package::{pep503_normalize, Format};
use globset::{GlobBuilder, GlobMatcher};
use std::fmt;

/// Package-name patterns as configuration writes them: `@acme/*`, `acme-*`,
/// `com.acme:*`, `github.com/acme/*` (`*` matches any run of characters,
/// separators included). Matching ignores case, and for PyPI the pattern and
/// the name are both normalised (PEP 503), so names that differ only by case
/// or separator match alike.
#[derive(Debug, Clone, Default)]
pub struct NamePatterns {
    /// How names are normalised before matching (`None`: not at all).
    format: Option<Format>,
    patterns: Vec<(String, GlobMatcher)>,
}

impl NamePatterns {
    pub fn compile(format: Format, patterns: &[String]) -> Result<NamePatterns, String> {
        let patterns = patterns
            .iter()
            .map(|p| {
                let normalised = normalise(format, p);
                GlobBuilder::new(&normalised)
                    .case_insensitive(true)
                    .literal_separator(false)
                    .backslash_escape(false)
                    .build()
                    .map(|g| (p.clone(), g.compile_matcher()))
                    .map_err(|e| format!("name pattern {p:?}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(NamePatterns {
            format: Some(format),
            patterns,
        })
    }

    /// Patterns over names compared as they are, ignoring case (container
    /// repository names).
    pub fn compile_plain(patterns: &[String]) -> Result<NamePatterns, String> {
        let mut compiled = NamePatterns::compile(Format::Npm, patterns)?;
        compiled.format = None;
        Ok(compiled)
    }

    /// The first pattern that matches `name`, as configured.
    pub fn matching(&self, name: &str) -> Option<&str> {
        let name = match self.format {
            Some(format) => normalise(format, name),
            None => name.to_string(),
        };
        self.patterns
            .iter()
            .find(|(_, g)| g.is_match(&name))
            .map(|(p, _)| p.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

/// A name (or pattern) as it is compared: PEP 503 for PyPI (`*` kept).
fn normalise(format: Format, s: &str) -> String {
    match format {
        Format::Pypi => s
            .split('*')
            .map(pep503_normalize)
            .collect::<Vec<_>>()
            .join("*"),
        Format::Cargo => s.replace('_', "-"),
        _ => s.to_string(),
    }
}

/// Which members a name is served from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sources {
    /// Hosted members only: the name is owned here.
    HostedOnly(Owner),
    /// Every member whose filter lets the name through.
    All,
    /// Every member, although the name is owned: an owner allowed external
    /// versions of it (`exception` says how: a configured pattern, or who
    /// made the exception at run time).
    AllowedExternal { owner: Owner, exception: String },
}

/// Why a name belongs to the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A hosted member has a package of that name.
    Hosted { member: String },
    /// The virtual repository claims the namespace.
    Claimed { pattern: String },
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Hosted { member } => write!(f, "the hosted repository {member} has it"),
            Owner::Claimed { pattern } => write!(f, "the namespace {pattern:?} is claimed"),
        }
    }
}

/// The name-ownership rule of one virtual repository.
#[derive(Debug, Clone, Default)]
pub struct Ownership {
    /// Namespaces that resolve from hosted members only, hosted or not yet.
    pub claims: NamePatterns,
    /// Owned names whose external versions are allowed (an owner's override).
    pub allow_external: NamePatterns,
}

impl Ownership {
    /// Where `name` may come from, given the first hosted member that has
    /// it (`None`: no hosted member has it) and an exception an owner made
    /// for it at run time, if any.
    pub fn sources(
        &self,
        name: &str,
        hosted_member: Option<&str>,
        exception: Option<String>,
    ) -> Sources {
        let owner = match hosted_member {
            Some(member) => Owner::Hosted {
                member: member.to_string(),
            },
            None => match self.claims.matching(name) {
                Some(pattern) => Owner::Claimed {
                    pattern: pattern.to_string(),
                },
                None => return Sources::All,
            },
        };
        let configured = self
            .allow_external
            .matching(name)
            .map(|p| format!("allow_external {p:?}"));
        match configured.or(exception) {
            Some(exception) => Sources::AllowedExternal { owner, exception },
            None => Sources::HostedOnly(owner),
        }
    }
}

/// What to do with an upstream version whose publish time is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownAge {
    /// Leave it out, like a version too young.
    #[default]
    Hold,
    /// Serve it.
    Allow,
}

/// The minimum release age of versions that come from proxy members.
#[derive(Debug, Clone, Default)]
pub struct Cooldown {
    /// The age required, in seconds (0: no cooldown).
    pub min_age_secs: i64,
    /// Longer or shorter ages for some names: the first matching rule wins.
    pub rules: Vec<(NamePatterns, i64)>,
    /// Names (`left-pad`) or versions (`left-pad@1.3.1`) served whatever
    /// their age.
    pub exempt: NamePatterns,
    pub unknown: UnknownAge,
}

/// Why a version is held back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// Published less than `min_age_secs` ago; served from `until`.
    Young {
        published: i64,
        min_age_secs: i64,
        until: i64,
    },
    /// The upstream does not say when it was published.
    UnknownAge,
}

impl Cooldown {
    /// The age `name` must reach.
    pub fn min_age(&self, name: &str) -> i64 {
        self.rules
            .iter()
            .find(|(p, _)| p.matching(name).is_some())
            .map_or(self.min_age_secs, |(_, secs)| *secs)
    }

    /// Whether any name could be held.
    pub fn is_active(&self) -> bool {
        self.min_age_secs > 0 || self.rules.iter().any(|(_, s)| *s > 0)
    }

    /// Whether the version `name@version`, published at `published` (Unix
    /// seconds, `None` when unknown), may be served at `now`.
    pub fn decide(
        &self,
        name: &str,
        version: &str,
        published: Option<i64>,
        now: i64,
    ) -> Result<(), Held> {
        let min_age_secs = self.min_age(name);
        if min_age_secs <= 0
            || self.exempt.matching(name).is_some()
            || self.exempt.matching(&format!("{name}@{version}")).is_some()
        {
            return Ok(());
        }
        match published {
            None => match self.unknown {
                UnknownAge::Allow => Ok(()),
                UnknownAge::Hold => Err(Held::UnknownAge),
            },
            Some(published) => {
                let until = published.saturating_add(min_age_secs);
                if now >= until {
                    Ok(())
                } else {
                    Err(Held::Young {
                        published,
                        min_age_secs,
                        until,
                    })
                }
            }
        }
    }
}

/// Ages as people read them: `36h`, `2d 4h`, `90s`.
pub fn human_secs(secs: i64) -> String {
    let (d, h, m, s) = (
        secs / 86400,
        secs % 86400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(format: Format, p: &[&str]) -> NamePatterns {
        NamePatterns::compile(format, &p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn patterns_match_across_separators_and_case() {
        let npm = pats(Format::Npm, &["@acme/*", "acme-*"]);
        assert_eq!(npm.matching("@acme/utils"), Some("@acme/*"));
        assert_eq!(npm.matching("@ACME/Utils"), Some("@acme/*"));
        assert_eq!(npm.matching("acme-internal-utils"), Some("acme-*"));
        assert_eq!(npm.matching("left-pad"), None);
        assert_eq!(npm.matching("@acmex/utils"), None);
        let maven = pats(Format::Maven, &["com.acme:*", "com.acme.*"]);
        assert!(maven.matching("com.acme:lib").is_some());
        assert!(maven.matching("com.acme.tools:lib").is_some());
        assert!(maven.matching("com.acmex:lib").is_none());
        let go = pats(Format::Go, &["github.com/acme/*"]);
        assert!(go.matching("github.com/acme/a/v2").is_some());
        assert!(go.matching("github.com/acmex/a").is_none());
    }

    #[test]
    fn pypi_names_differing_by_separator_are_one_name() {
        let p = pats(Format::Pypi, &["acme_*"]);
        assert!(p.matching("Acme.Internal-Utils").is_some());
        assert!(p.matching("acme-x").is_some());
        assert!(p.matching("acmex").is_none());
        let c = pats(Format::Cargo, &["acme-*"]);
        assert!(c.matching("acme_core").is_some());
    }

    #[test]
    fn hosted_names_and_claims_resolve_from_hosted_members_only() {
        let o = Ownership {
            claims: pats(Format::Npm, &["@acme/*"]),
            allow_external: pats(Format::Npm, &["shared-*"]),
        };
        assert_eq!(o.sources("left-pad", None, None), Sources::All);
        assert_eq!(
            o.sources("left-pad", Some("npm/internal"), None),
            Sources::HostedOnly(Owner::Hosted {
                member: "npm/internal".into()
            })
        );
        assert_eq!(
            o.sources("@acme/x", None, None),
            Sources::HostedOnly(Owner::Claimed {
                pattern: "@acme/*".into()
            })
        );
        assert!(matches!(
            o.sources("shared-x", Some("npm/internal"), None),
            Sources::AllowedExternal { .. }
        ));
        assert!(matches!(
            o.sources("@acme/y", None, Some("allowed by owner".into())),
            Sources::AllowedExternal { .. }
        ));
        // An override never opens an unowned name any wider than it was.
        assert_eq!(o.sources("shared-x", None, None), Sources::All);
        assert_eq!(o.sources("left-pad", None, Some("x".into())), Sources::All);
    }

    #[test]
    fn cooldown_holds_young_and_unknown_versions_unless_exempt() {
        let c = Cooldown {
            min_age_secs: 3600,
            rules: vec![(pats(Format::Npm, &["slow-*"]), 7200)],
            exempt: pats(Format::Npm, &["urgent", "fix@1.0.1"]),
            unknown: UnknownAge::Hold,
        };
        let now = 1_000_000;
        assert_eq!(c.decide("a", "1.0.0", Some(now - 3600), now), Ok(()));
        assert_eq!(
            c.decide("a", "1.0.0", Some(now - 60), now),
            Err(Held::Young {
                published: now - 60,
                min_age_secs: 3600,
                until: now - 60 + 3600
            })
        );
        assert!(c.decide("slow-a", "1", Some(now - 3600), now).is_err());
        assert_eq!(c.decide("a", "1", None, now), Err(Held::UnknownAge));
        assert_eq!(c.decide("urgent", "9", Some(now), now), Ok(()));
        assert_eq!(c.decide("fix", "1.0.1", Some(now), now), Ok(()));
        assert!(c.decide("fix", "1.0.2", Some(now), now).is_err());
        let off = Cooldown::default();
        assert_eq!(off.decide("a", "1", None, now), Ok(()));
        assert_eq!(human_secs(90061), "1d 1h 1m 1s");
    }
}
