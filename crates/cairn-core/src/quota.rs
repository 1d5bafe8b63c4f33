//! Storage scopes and quotas.
//!
//! Every repository is a *scope* (an OCI repository `team/app`, a package
//! repository `npm/main`, a proxy repository `hub`), and so is every
//! *namespace* above it: each prefix of its name that ends in `/`, and the
//! registry itself, the empty prefix. `team/app/web` lies in `""`, `team/`,
//! `team/app/` and itself. Storage numbers are kept for every such scope,
//! and a quota may be set on any of them: it limits the scope's **unique**
//! bytes (the distinct blobs its repositories reference, each counted once),
//! so a layer shared by two repositories of a namespace counts once, and a
//! push that only references blobs the namespace already has costs nothing.

use serde::{Deserialize, Serialize};

/// The scopes a repository's blobs count in, outermost first: the registry
/// (`""`), each namespace prefix, and the repository itself. Sorted, since
/// each is a prefix of the next.
pub fn scopes_of(repository: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    for (i, c) in repository.char_indices() {
        if c == '/' && i + 1 < repository.len() {
            out.push(repository[..=i].to_string());
        }
    }
    if !repository.is_empty() {
        out.push(repository.to_string());
    }
    out
}

/// Whether `scope` is a namespace (the registry or a prefix ending in `/`)
/// rather than one repository.
pub fn is_namespace(scope: &str) -> bool {
    scope.is_empty() || scope.ends_with('/')
}

/// A quota as configured (`[[quota]]`): a scope and its limit on unique
/// bytes, a number of bytes or a size such as `"10 GiB"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaConfig {
    /// A namespace (`team/`, `npm/`, `""` for the whole registry) or one
    /// repository (`team/app`, `npm/main`).
    pub scope: String,
    pub max_unique_bytes: Size,
}

/// A number of bytes, written as an integer or as a size with a unit
/// (`"500 MB"`, `"10GiB"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            // JSON has one number type: 1048576.0 is the same size.
            Float(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Size(n)),
            Raw::Float(f) if f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64 => {
                Ok(Size(f as u64))
            }
            Raw::Float(f) => Err(serde::de::Error::custom(format!(
                "{f} is not a whole number of bytes"
            ))),
            Raw::Text(t) => parse_size(&t).map(Size).map_err(serde::de::Error::custom),
        }
    }
}

/// Parses `"10 GiB"`, `"500MB"`, `"1048576"`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("{text:?} is not a size (e.g. \"10 GiB\", \"500 MB\"): {e}"))
}

/// Bytes as people read them: `1.5 GiB`.
pub fn human(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().iec().to_string()
}

/// Checks a quota's scope as configured or sent to the admin API.
pub fn check_scope(scope: &str) -> Result<(), String> {
    if scope.starts_with('/') || scope.contains("//") || scope.chars().any(char::is_whitespace) {
        return Err(format!(
            "{scope:?} is not a scope: use a namespace such as \"team/\", a repository such as \"npm/main\", or \"\" for the registry"
        ));
    }
    Ok(())
}

/// A write refused because it would take a scope past its quota.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "quota exceeded for {}: {} of {} used, and this needs {} more; nothing was stored",
    scope_name(scope),
    human(*used),
    human(*limit),
    human(*adding)
)]
pub struct QuotaExceeded {
    pub scope: String,
    pub limit: u64,
    /// Unique bytes before this write.
    pub used: u64,
    /// What this write adds to the scope's unique bytes.
    pub adding: u64,
}

fn scope_name(scope: &str) -> String {
    match scope {
        "" => "the registry".to_string(),
        s if is_namespace(s) => format!("namespace {s}"),
        s => format!("repository {s}"),
    }
}

/// Whether adding `adding` unique bytes to a scope using `used` fits `limit`.
pub fn check(scope: &str, limit: u64, used: u64, adding: u64) -> Result<(), QuotaExceeded> {
    if adding > 0 && used.saturating_add(adding) > limit {
        return Err(QuotaExceeded {
            scope: scope.to_string(),
            limit,
            used,
            adding,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_counts_in_every_namespace_above_it() {
        assert_eq!(
            scopes_of("team/app/web"),
            ["", "team/", "team/app/", "team/app/web"]
        );
        assert_eq!(scopes_of("npm/main"), ["", "npm/", "npm/main"]);
        assert_eq!(scopes_of("hub"), ["", "hub"]);
        let s = scopes_of("a/b/c");
        let mut sorted = s.clone();
        sorted.sort();
        assert_eq!(s, sorted, "outermost first is also sorted order");
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(parse_size("1048576"), Ok(1048576));
        assert_eq!(parse_size("10 GiB"), Ok(10 << 30));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert!(parse_size("lots").is_err());
        let c: QuotaConfig =
            toml::from_str("scope = \"team/\"\nmax_unique_bytes = \"2 MiB\"").unwrap();
        assert_eq!(c.max_unique_bytes, Size(2 << 20));
        let c: QuotaConfig = toml::from_str("scope = \"\"\nmax_unique_bytes = 5").unwrap();
        assert_eq!(c.max_unique_bytes, Size(5));
    }

    #[test]
    fn only_growth_past_the_limit_is_refused() {
        assert!(check("team/", 100, 60, 40).is_ok());
        let e = check("team/", 100, 60, 41).unwrap_err();
        assert_eq!(
            e.to_string(),
            "quota exceeded for namespace team/: 60 B of 100 B used, and this needs 41 B more; nothing was stored"
        );
        // Over the limit already (lowered), a write that adds nothing passes.
        assert!(check("team/", 100, 500, 0).is_ok());
        assert!(check_scope("/abs").is_err());
        assert!(check_scope("team/").is_ok());
        assert!(check_scope("").is_ok());
    }
}
