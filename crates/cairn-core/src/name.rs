//! Repository names, tags and references, per the OCI distribution grammar.

use crate::digest::{Digest, DigestError};
use regex::Regex;
use std::fmt;
use std::sync::LazyLock;

/// Longest repository name cairn accepts, so that `host/name` stays within
/// the 255 characters many clients assume.
pub const MAX_NAME_LEN: usize = 255;

static NAME_RE: LazyLock<Regex> = LazyLock::new(|| {
    let component = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*";
    Regex::new(&format!("^{component}(?:/{component})*$")).expect("static regex")
});
static TAG_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$").expect("static regex"));

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("repository name {0:?} is invalid: lower-case alphanumeric components separated by '.', '_', '__' or '-', joined by '/', at most {MAX_NAME_LEN} characters")]
    InvalidName(String),
    #[error("tag {0:?} is invalid: [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}")]
    InvalidTag(String),
    #[error(transparent)]
    Digest(#[from] DigestError),
}

fn excerpt(s: &str) -> String {
    s.chars().take(300).collect()
}

/// A validated OCI repository name such as `library/alpine`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(String);

impl RepoName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.len() > MAX_NAME_LEN || !NAME_RE.is_match(s) {
            return Err(NameError::InvalidName(excerpt(s)));
        }
        Ok(RepoName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated tag such as `v1.2.3` or `latest`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if !TAG_RE.is_match(s) {
            return Err(NameError::InvalidTag(excerpt(s)));
        }
        Ok(Tag(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What follows `/manifests/`: a tag or a digest. A string with a ':' can
/// only be a digest, since tags cannot contain one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(Tag),
    Digest(Digest),
}

impl Reference {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.contains(':') {
            Ok(Reference::Digest(s.parse()?))
        } else {
            Ok(Reference::Tag(Tag::parse(s)?))
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => t.fmt(f),
            Reference::Digest(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names() {
        for ok in [
            "a",
            "library/alpine",
            "a-b/c__d/e.f",
            "a--b",
            "conformance/repo1",
            "0",
        ] {
            assert!(RepoName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "A", "a/", "/a", "a//b", "a/../b", "..", "a/.b", "a_", "a___b", "a.-b", "a:b",
            "a b", "a%2fb",
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(RepoName::parse(&"a".repeat(255)).is_ok());
        assert!(RepoName::parse(&"a".repeat(256)).is_err());
    }

    #[test]
    fn tags_and_references() {
        assert!(Tag::parse("v1.0.0-rc_1").is_ok());
        assert!(Tag::parse(".hidden").is_err());
        assert!(Tag::parse(&"a".repeat(129)).is_err());
        assert!(matches!(Reference::parse("latest"), Ok(Reference::Tag(_))));
        assert!(matches!(
            Reference::parse(
                "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            ),
            Ok(Reference::Digest(_))
        ));
        assert!(Reference::parse("sha256:zz").is_err());
    }

    proptest! {
        #[test]
        fn accepted_names_are_path_safe(s in "[a-z0-9./_-]{0,64}") {
            if let Ok(n) = RepoName::parse(&s) {
                let n = n.as_str();
                prop_assert!(!n.split('/').any(|c| c.is_empty() || c == "." || c == ".."));
                prop_assert!(!n.starts_with('.') && !n.contains("/."));
            }
        }

        #[test]
        fn valid_components_always_parse(parts in proptest::collection::vec("[a-z0-9]{1,8}((__|[._]|-{1,3})[a-z0-9]{1,8}){0,2}", 1..5)) {
            let name = parts.join("/");
            prop_assert!(RepoName::parse(&name).is_ok(), "{}", name);
        }

        #[test]
        fn reference_parse_never_panics(s in ".{0,300}") {
            let _ = Reference::parse(&s);
        }
    }
}
