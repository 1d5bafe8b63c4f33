//! Language-package formats and their naming rules.
//!
//! Each ecosystem decides which names are "the same package": PyPI ignores
//! case and runs of `-`, `_`, `.` (PEP 503); Cargo ignores case and treats
//! `-` and `_` alike; npm names are lower-case; Go module paths and Maven
//! coordinates are case-sensitive and kept as written (Go's proxy protocol
//! escapes capitals so that they survive case-insensitive file systems).
//! [`package_key`] turns a name
//! into the key the store files it under, so two spellings of one package
//! can never be two packages.

use std::fmt;

/// One package of one repository, by its normalised key: what most package
/// operations name. Cheap to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PackageRef<'a> {
    pub format: Format,
    pub repository: &'a str,
    /// The normalised key ([`package_key`]).
    pub package: &'a str,
}

impl<'a> PackageRef<'a> {
    pub fn new(format: Format, repository: &'a str, package: &'a str) -> PackageRef<'a> {
        PackageRef {
            format,
            repository,
            package,
        }
    }
}

/// A language-package format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Npm,
    Pypi,
    Cargo,
    Go,
    Maven,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Npm,
        Format::Pypi,
        Format::Cargo,
        Format::Go,
        Format::Maven,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Npm => "npm",
            Format::Pypi => "pypi",
            Format::Cargo => "cargo",
            Format::Go => "go",
            Format::Maven => "maven",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The resource name access rights and audit entries use for a
    /// repository of this format: `npm/<repo>`, `pypi/<repo>`, `cargo/<repo>`.
    pub fn resource(self, repository: &str) -> String {
        format!("{}/{repository}", self.as_str())
    }

    /// The access-control resource of one package (by its normalised key)
    /// in a repository: `npm/<repo>/<key>`. A grant on the repository
    /// covers its packages; a grant on this resource covers only the package.
    pub fn package_resource(self, repository: &str, key: &str) -> String {
        format!("{}/{repository}/{key}", self.as_str())
    }

    /// The format and repository of a resource written by [`Format::resource`].
    pub fn of_resource(resource: &str) -> Option<(Format, &str)> {
        let (format, repository) = resource.split_once('/')?;
        Some((Format::parse(format)?, repository))
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {format} package name {name:?}: {reason}")]
pub struct PackageNameError {
    pub format: Format,
    pub name: String,
    pub reason: &'static str,
}

/// Validates `name` under `format`'s rules and returns its canonical key.
pub fn package_key(format: Format, name: &str) -> Result<String, PackageNameError> {
    let err = |reason| PackageNameError {
        format,
        name: name.to_string(),
        reason,
    };
    match format {
        Format::Npm => {
            if name.is_empty() || name.len() > 214 {
                return Err(err("must be 1 to 214 characters"));
            }
            let bare = match name.strip_prefix('@') {
                Some(scoped) => {
                    let (scope, bare) = scoped
                        .split_once('/')
                        .ok_or(err("a scoped name is @scope/name"))?;
                    check_npm_part(scope).map_err(err)?;
                    bare
                }
                None => name,
            };
            check_npm_part(bare).map_err(err)?;
            Ok(name.to_string())
        }
        Format::Pypi => {
            let b = name.as_bytes();
            let ok_inner = |c: &u8| c.is_ascii_alphanumeric() || b"._-".contains(c);
            if b.is_empty()
                || b.len() > 200
                || !b[0].is_ascii_alphanumeric()
                || !b[b.len() - 1].is_ascii_alphanumeric()
                || !b.iter().all(ok_inner)
            {
                return Err(err(
                    "letters, digits, '.', '_' and '-', starting and ending with a letter or digit",
                ));
            }
            Ok(pep503_normalize(name))
        }
        Format::Cargo => {
            let b = name.as_bytes();
            if b.is_empty()
                || b.len() > 64
                || !b[0].is_ascii_alphabetic()
                || !b
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
            {
                return Err(err(
                    "1 to 64 letters, digits, '-' and '_', starting with a letter",
                ));
            }
            Ok(name.to_ascii_lowercase().replace('_', "-"))
        }
        Format::Go => {
            check_go_module_path(name).map_err(err)?;
            Ok(name.to_string())
        }
        Format::Maven => {
            let (group, artifact) = name
                .split_once(':')
                .ok_or(err("Maven coordinates are groupId:artifactId"))?;
            let part_ok = |p: &str| {
                !p.is_empty()
                    && !p.starts_with('.')
                    && !p.ends_with('.')
                    && !p.contains("..")
                    && p.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
            };
            if name.len() > 255 || !part_ok(group) || !part_ok(artifact) {
                return Err(err(
                    "groupId and artifactId are letters, digits, '.', '_' and '-', without empty or dot-only parts",
                ));
            }
            Ok(name.to_string())
        }
    }
}

/// Go's module path rules (golang.org/x/mod/module.CheckPath): `/`-separated
/// elements of letters, digits and `-._~`, none empty, all dots, or starting
/// or ending with a dot; the first (a domain) lower-case with a dot in it.
fn check_go_module_path(path: &str) -> Result<(), &'static str> {
    const RULE: &str = "a module path is '/'-separated elements of letters, digits and '-._~', the first a lower-case domain name with a dot";
    if path.is_empty() || path.len() > 512 {
        return Err(RULE);
    }
    let mut elems = path.split('/');
    let first = elems.next().unwrap_or_default();
    if !first.contains('.')
        || first.starts_with('-')
        || !first
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
    {
        return Err(RULE);
    }
    for elem in path.split('/') {
        let bad = elem.is_empty()
            || elem.starts_with('.')
            || elem.ends_with('.')
            || !elem
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-._~".contains(&c));
        if bad {
            return Err(RULE);
        }
    }
    Ok(())
}

/// One part of an npm name (the scope, or the bare name).
fn check_npm_part(part: &str) -> Result<(), &'static str> {
    if part.is_empty() {
        return Err("empty name or scope");
    }
    if part.starts_with('.') || part.starts_with('_') {
        return Err("may not start with '.' or '_'");
    }
    if !part.bytes().all(|c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.' | b'_' | b'~')
    }) {
        return Err("only lower-case letters, digits, '-', '.', '_' and '~'");
    }
    Ok(())
}

/// PEP 503: lower-case, and every run of `-`, `_`, `.` becomes one `-`.
pub fn pep503_normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.push(c.to_ascii_lowercase());
            in_sep = false;
        }
    }
    out
}

/// A version string as every format accepts it: 1 to 128 printable ASCII
/// characters without `/`, `\`, spaces or a leading `.` (it becomes part of
/// file names and URLs). Each format checks its own syntax on top.
pub fn check_version(version: &str) -> Result<(), &'static str> {
    if version.is_empty()
        || version.len() > 128
        || version.starts_with('.')
        || !version
            .bytes()
            .all(|c| c.is_ascii_graphic() && !matches!(c, b'/' | b'\\' | b'%' | b'?' | b'#'))
    {
        return Err("a version is 1 to 128 printable characters without '/', '\\', '%', '?', '#'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys() {
        assert_eq!(
            package_key(Format::Pypi, "Foo.Bar__baz").unwrap(),
            "foo-bar-baz"
        );
        assert_eq!(
            package_key(Format::Cargo, "Serde_JSON").unwrap(),
            "serde-json"
        );
        assert_eq!(
            package_key(Format::Npm, "@scope/pkg").unwrap(),
            "@scope/pkg"
        );
        assert!(package_key(Format::Npm, "Upper").is_err());
        assert!(package_key(Format::Npm, "@scope").is_err());
        assert!(package_key(Format::Npm, "../etc").is_err());
        assert!(package_key(Format::Npm, "a/b").is_err());
        assert!(package_key(Format::Pypi, "-x").is_err());
        assert!(package_key(Format::Pypi, "a/../b").is_err());
        assert!(package_key(Format::Cargo, "1abc").is_err());
        assert_eq!(
            package_key(Format::Go, "example.com/Foo/v2").unwrap(),
            "example.com/Foo/v2"
        );
        assert!(package_key(Format::Go, "example/foo").is_err());
        assert!(package_key(Format::Go, "example.com/../foo").is_err());
        assert!(package_key(Format::Go, "example.com//foo").is_err());
        assert!(package_key(Format::Go, "Example.com/foo").is_err());
        assert!(package_key(Format::Maven, "org.example:demo-lib").is_ok());
        assert!(package_key(Format::Maven, "org.example").is_err());
        assert!(package_key(Format::Maven, "org/example:demo").is_err());
        assert!(package_key(Format::Maven, "..:demo").is_err());
        assert!(check_version("1.0.0").is_ok());
        assert!(check_version("../1").is_err());
        assert!(check_version("1 0").is_err());
    }

    proptest! {
        /// Keys are idempotent, and never hold an empty, `.` or `..` segment or
        /// a slash (except npm's single scope slash).
        #[test]
        fn keys_are_safe(name in "[@a-zA-Z0-9._~/:-]{1,40}") {
            for f in Format::ALL {
                if let Ok(k) = package_key(f, &name) {
                    prop_assert!(k.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != ".."));
                    if f != Format::Go {
                        prop_assert!(k.matches('/').count() <= usize::from(f == Format::Npm));
                    }
                    if f != Format::Npm {
                        prop_assert_eq!(package_key(f, &k).ok(), Some(k.clone()));
                    }
                }
            }
        }

        /// PEP 503 spellings that differ only in case and separators share a key.
        #[test]
        fn pep503_spellings_agree(parts in proptest::collection::vec("[a-z0-9]{1,5}", 1..4), seps in proptest::collection::vec("[-_.]{1,3}", 3)) {
            let plain = parts.join("-");
            let mut fancy = String::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 { fancy.push_str(&seps[i - 1]); }
                fancy.push_str(&p.to_uppercase());
            }
            prop_assert_eq!(package_key(Format::Pypi, &plain).unwrap(), package_key(Format::Pypi, &fancy).unwrap());
        }
    }
}
