//! Policy decisions as pure functions. The stores call these inside the same
//! transaction that applies a change, so the rule and the write cannot race.

use globset::{GlobBuilder, GlobMatcher};
use regex::Regex;
use serde::Deserialize;

/// A tag immutability rule from the configuration, for example:
///
/// ```toml
/// [[oci.immutable_tags]]
/// name = "prod-semver"
/// repositories = "prod/**"
/// tags = '^v?\d+\.\d+\.\d+$'
/// ```
#[derive(Debug, Clone, Deserialize)]
pub struct TagRuleConfig {
    /// Named in refusals so that a user knows which rule stopped them.
    pub name: String,
    /// A glob over repository names: `*` stays within one path segment, `**` spans several.
    pub repositories: String,
    /// A regular expression a tag must match (anchor it yourself).
    pub tags: String,
}

/// A compiled tag immutability rule.
#[derive(Debug, Clone)]
pub struct TagRule {
    pub name: String,
    repositories: GlobMatcher,
    tags: Regex,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("invalid rule {name:?}: {reason}")]
    InvalidRule { name: String, reason: String },
    #[error("tag {tag:?} in {repository:?} is immutable under rule {rule:?}: it cannot be moved or deleted; push a new tag instead")]
    ImmutableTag {
        repository: String,
        tag: String,
        rule: String,
    },
}

/// Repository name patterns (`prod/**`, `mirror/*`; `*` within a segment,
/// `**` across), as configuration names repositories.
#[derive(Debug, Clone, Default)]
pub struct RepositoryPatterns(Vec<GlobMatcher>);

impl RepositoryPatterns {
    pub fn compile(patterns: &[String]) -> Result<RepositoryPatterns, String> {
        patterns
            .iter()
            .map(|p| {
                GlobBuilder::new(p)
                    .literal_separator(true)
                    .build()
                    .map(|g| g.compile_matcher())
                    .map_err(|e| format!("repository pattern {p:?}: {e}"))
            })
            .collect::<Result<_, _>>()
            .map(RepositoryPatterns)
    }

    pub fn matches(&self, repository: &str) -> bool {
        self.0.iter().any(|g| g.is_match(repository))
    }

    /// Whether no pattern was given (nothing matches).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TagRule {
    pub fn compile(cfg: &TagRuleConfig) -> Result<Self, PolicyError> {
        let invalid = |reason: String| PolicyError::InvalidRule {
            name: cfg.name.clone(),
            reason,
        };
        let repositories = GlobBuilder::new(&cfg.repositories)
            .literal_separator(true)
            .build()
            .map_err(|e| invalid(e.to_string()))?
            .compile_matcher();
        let tags = Regex::new(&cfg.tags).map_err(|e| invalid(e.to_string()))?;
        Ok(TagRule {
            name: cfg.name.clone(),
            repositories,
            tags,
        })
    }

    fn covers(&self, repository: &str, tag: &str) -> bool {
        self.repositories.is_match(repository) && self.tags.is_match(tag)
    }
}

/// Decides whether `tag` in `repository` may be changed. `current` is the
/// digest the tag points to now (if it exists) and `new` the digest it would
/// point to (`None` for a delete). Creating a tag is always allowed; setting it
/// again to the same digest is a no-op and allowed; anything else on a tag
/// covered by a rule is refused, naming the rule.
pub fn check_tag_change(
    rules: &[TagRule],
    repository: &str,
    tag: &str,
    current: Option<&str>,
    new: Option<&str>,
) -> Result<(), PolicyError> {
    let Some(current) = current else {
        return Ok(());
    };
    if new == Some(current) {
        return Ok(());
    }
    match rules.iter().find(|r| r.covers(repository, tag)) {
        Some(rule) => Err(PolicyError::ImmutableTag {
            repository: repository.to_string(),
            tag: tag.to_string(),
            rule: rule.name.clone(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> TagRule {
        TagRule::compile(&TagRuleConfig {
            name: "prod-semver".into(),
            repositories: "prod/**".into(),
            tags: r"^v?\d+\.\d+\.\d+$".into(),
        })
        .unwrap()
    }

    #[test]
    fn immutable_tags() {
        let rules = [rule()];
        assert!(check_tag_change(&rules, "prod/api", "v1.2.3", None, Some("a")).is_ok());
        assert!(check_tag_change(&rules, "prod/api", "v1.2.3", Some("a"), Some("a")).is_ok());
        let err = check_tag_change(&rules, "prod/team/api", "1.2.3", Some("a"), Some("b"));
        assert!(
            matches!(err, Err(PolicyError::ImmutableTag { ref rule, .. }) if rule == "prod-semver")
        );
        assert!(check_tag_change(&rules, "prod/api", "v1.2.3", Some("a"), None).is_err());
        assert!(check_tag_change(&rules, "prod/api", "latest", Some("a"), Some("b")).is_ok());
        assert!(check_tag_change(&rules, "dev/api", "v1.2.3", Some("a"), Some("b")).is_ok());
        assert!(check_tag_change(&rules, "production", "v1.2.3", Some("a"), Some("b")).is_ok());
    }

    #[test]
    fn bad_rule_is_reported() {
        let bad = TagRuleConfig {
            name: "x".into(),
            repositories: "a/**".into(),
            tags: "(".into(),
        };
        assert!(matches!(
            TagRule::compile(&bad),
            Err(PolicyError::InvalidRule { .. })
        ));
    }
}
