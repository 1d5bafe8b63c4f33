//! Module paths and versions as the GOPROXY protocol spells them.

use std::cmp::Ordering;

/// Undoes the proxy protocol's case-encoding: `!x` stands for `X`, so that
/// paths survive case-insensitive file systems. Refuses upper-case letters
/// and a `!` not followed by a lower-case letter, as the go command does.
pub fn unescape(escaped: &str) -> Option<String> {
    let mut out = String::with_capacity(escaped.len());
    let mut bang = false;
    for c in escaped.chars() {
        if bang {
            if !c.is_ascii_lowercase() {
                return None;
            }
            out.push(c.to_ascii_uppercase());
            bang = false;
        } else if c == '!' {
            bang = true;
        } else if c.is_ascii_uppercase() {
            return None;
        } else {
            out.push(c);
        }
    }
    (!bang).then_some(out)
}

/// The proxy protocol's case-encoding of a path or version.
pub fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A canonical Go module version: `v` + semver without build metadata
/// (except `+incompatible`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub text: String,
    semver: semver::Version,
}

impl Version {
    pub fn parse(text: &str) -> Result<Version, String> {
        let bad = || {
            format!("{text:?} is not a canonical module version (vMAJOR.MINOR.PATCH[-pre][+incompatible])")
        };
        let rest = text.strip_prefix('v').ok_or_else(bad)?;
        let semver = semver::Version::parse(rest).map_err(|_| bad())?;
        if !semver.build.is_empty() && semver.build.as_str() != "incompatible" {
            return Err(bad());
        }
        Ok(Version {
            text: text.to_string(),
            semver,
        })
    }

    pub fn major(&self) -> u64 {
        self.semver.major
    }

    pub fn is_prerelease(&self) -> bool {
        !self.semver.pre.is_empty()
    }

    pub fn incompatible(&self) -> bool {
        self.semver.build.as_str() == "incompatible"
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    /// Semantic-version precedence (build metadata ignored, as Go does).
    fn cmp(&self, other: &Self) -> Ordering {
        self.semver
            .cmp_precedence(&other.semver)
            .then_with(|| self.text.cmp(&other.text))
    }
}

/// Checks that `version` may be a version of `module`: a `/vN` suffix
/// (N ≥ 2) demands major version N; without one the major version is 0 or 1,
/// or the version is `+incompatible`.
pub fn check_major(module: &str, version: &Version) -> Result<(), String> {
    let suffix = module
        .rsplit_once('/')
        .and_then(|(_, last)| last.strip_prefix('v'))
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|n| *n >= 2);
    match suffix {
        Some(n) if version.major() != n || version.incompatible() => Err(format!(
            "{module} is major version {n}: its versions are v{n}.x.y, not {}",
            version.text
        )),
        None if version.major() >= 2 && !version.incompatible() => Err(format!(
            "version {} of {module} needs the module path to end in /v{}",
            version.text,
            version.major()
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn versions() {
        assert!(Version::parse("v1.2.3").is_ok());
        assert!(Version::parse("v2.0.0+incompatible")
            .unwrap()
            .incompatible());
        assert!(Version::parse("1.2.3").is_err());
        assert!(Version::parse("v1.2").is_err());
        assert!(Version::parse("v1.2.3+meta").is_err());
        let v = |s| Version::parse(s).unwrap();
        assert!(v("v1.0.0-rc.1") < v("v1.0.0"));
        assert!(v("v1.10.0") > v("v1.9.0"));
        assert!(check_major("example.com/m", &v("v1.5.0")).is_ok());
        assert!(check_major("example.com/m", &v("v2.0.0")).is_err());
        assert!(check_major("example.com/m/v2", &v("v2.0.0")).is_ok());
        assert!(check_major("example.com/m/v2", &v("v1.0.0")).is_err());
    }

    #[test]
    fn escaping() {
        assert_eq!(escape("github.com/Azure/SDK"), "github.com/!azure/!s!d!k");
        assert_eq!(
            unescape("github.com/!azure/!s!d!k").unwrap(),
            "github.com/Azure/SDK"
        );
        assert_eq!(unescape("github.com/Azure"), None);
        assert_eq!(unescape("a!"), None);
        assert_eq!(unescape("a!1"), None);
    }

    proptest! {
        #[test]
        fn escape_round_trips(path in "[a-zA-Z0-9./~_-]{0,40}") {
            prop_assert_eq!(unescape(&escape(&path)), Some(path));
        }
    }
}
