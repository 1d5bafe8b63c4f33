//! Package URLs (purls) as the component index keys them.
//!
//! A component is indexed under its ecosystem (the purl type) and its name,
//! normalised by the purl specification's rules for the type and by the
//! ecosystem's own notion of "the same package", so that a query finds every
//! spelling: npm names lowercased with the scope kept (`@babel/core`), PyPI
//! names normalised as PEP 503 says, crate names with `_` and `-` the same,
//! Maven `group/artifact` and Go module paths as the purl has them (the
//! purl as written is kept beside the key). The version keeps its text and,
//! when the ecosystem orders versions, a [`VersionKey`].

use std::str::FromStr;

use packageurl::PackageUrl;

use crate::version_key::{Scheme, VersionKey};

/// What the index keeps of one purl.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Purl {
    pub ecosystem: String,
    pub name: String,
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{purl:?} is not a valid package URL: {reason}")]
pub struct PurlError {
    pub purl: String,
    pub reason: String,
}

/// The longest purl taken (longer ones are refused, not truncated).
pub const MAX_PURL_LEN: usize = 2048;

impl Purl {
    pub fn parse(text: &str) -> Result<Purl, PurlError> {
        let invalid = |reason: String| PurlError {
            purl: text.chars().take(200).collect(),
            reason,
        };
        if text.len() > MAX_PURL_LEN {
            return Err(invalid(format!("longer than {MAX_PURL_LEN} bytes")));
        }
        let purl = PackageUrl::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let ecosystem = purl.ty().to_ascii_lowercase();
        let name = normalise_name(&ecosystem, purl.namespace(), purl.name());
        if name.is_empty() {
            return Err(invalid("no name".into()));
        }
        Ok(Purl {
            ecosystem,
            name,
            version: purl.version().map(str::to_string),
        })
    }

    /// The version's key, when the ecosystem orders versions and this one
    /// parses.
    pub fn version_key(&self) -> Option<VersionKey> {
        let scheme = Scheme::for_purl_type(&self.ecosystem)?;
        scheme.key(self.version.as_deref()?).ok()
    }
}

/// The indexed name of a package: `namespace/name` by the rules of its
/// ecosystem (see the module docs).
pub fn normalise_name(ecosystem: &str, namespace: Option<&str>, name: &str) -> String {
    let full = match namespace.filter(|n| !n.is_empty()) {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    };
    match ecosystem {
        "npm" => full.to_lowercase(),
        "pypi" => crate::package::pep503_normalize(&full),
        "cargo" => full.to_lowercase().replace('_', "-"),
        _ => full,
    }
}

/// A hosted package as a component: its ecosystem (purl type) and indexed
/// name, from its format and package key.
pub fn of_package(format: crate::Format, key: &str) -> (&'static str, String) {
    use crate::Format as F;
    match format {
        F::Npm => ("npm", normalise_name("npm", None, key)),
        F::Pypi => ("pypi", normalise_name("pypi", None, key)),
        F::Cargo => ("cargo", normalise_name("cargo", None, key)),
        F::Maven => ("maven", key.replacen(':', "/", 1)),
        F::Go => (
            "golang",
            match key.rsplit_once('/') {
                Some((ns, name)) => format!("{}/{name}", ns.to_lowercase()),
                None => key.to_string(),
            },
        ),
    }
}

/// The format and package key a hosted package of this ecosystem and
/// indexed name would have. A Go module path's namespace is indexed
/// lowercased, so its key is the name up to case: look it up without case,
/// and keep the paths whose [`of_package`] is the name.
pub fn package_of(ecosystem: &str, name: &str) -> Option<(crate::Format, String)> {
    use crate::Format as F;
    Some(match ecosystem {
        "npm" => (F::Npm, name.to_string()),
        "pypi" => (F::Pypi, name.to_string()),
        "cargo" => (F::Cargo, name.to_string()),
        "maven" => (F::Maven, name.replacen('/', ":", 1)),
        "golang" => (F::Go, name.to_string()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_per_ecosystem() {
        let p = Purl::parse("pkg:npm/%40Babel/Core@7.24.0").unwrap();
        assert_eq!(
            (p.ecosystem.as_str(), p.name.as_str()),
            ("npm", "@babel/core")
        );
        assert_eq!(
            Purl::parse("pkg:pypi/Django_REST.framework@3.0")
                .unwrap()
                .name,
            "django-rest-framework"
        );
        assert_eq!(
            Purl::parse("pkg:cargo/serde_json@1.0.0").unwrap().name,
            "serde-json"
        );
        let m =
            Purl::parse("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar").unwrap();
        assert_eq!(m.name, "org.apache.logging.log4j/log4j-core");
        assert_eq!(m.version.as_deref(), Some("2.14.1"));
        assert!(m.version_key().is_some());
        let g = Purl::parse("pkg:golang/github.com/sirupsen/logrus@v1.9.3").unwrap();
        assert_eq!(g.name, "github.com/sirupsen/logrus");
        assert!(Purl::parse("not a purl").is_err());
        assert!(Purl::parse(&format!("pkg:npm/{}", "a".repeat(3000))).is_err());
    }
}
