//! Versions as byte keys that sort the way each ecosystem sorts.
//!
//! A component index answers "log4j-core >= 2.0.0, < 2.17.1" with one index
//! range scan only if the stored key of a version compares, byte by byte
//! (`memcmp`, which is how SQLite compares BLOBs and PostgreSQL `bytea`), the
//! way the ecosystem's own tools compare the versions. Each [`Scheme`] parses a
//! version with that ecosystem's rules and writes a key with these properties:
//!
//! - `a < b` in the ecosystem's order if and only if `key(a) < key(b)`;
//! - versions the ecosystem calls equal (`1.0` and `1.0.0` in PEP 440 and
//!   Maven, build metadata in semver) get the same key.
//!
//! The encodings are built from three pieces: a one-byte tag that orders the
//! kinds of item at a position (and the end of a sequence against them),
//! numbers as their digit count then their digits (leading zeros dropped, so
//! any length compares numerically), and text followed by a 0x00 byte (so a
//! prefix sorts before what extends it). Each scheme's module says how its
//! rules map onto tags. The comparators are checked against a corpus each
//! reference implementation sorted (`tests/version_order.rs`).

mod maven;
mod pep440;
mod semver;

use std::fmt;

/// A version's sort key: compare keys as bytes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionKey(Vec<u8>);

impl VersionKey {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
    pub fn from_bytes(bytes: Vec<u8>) -> VersionKey {
        VersionKey(bytes)
    }
}

impl fmt::Debug for VersionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VersionKey({})", hex::encode(&self.0))
    }
}

/// How one ecosystem orders its versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// node-semver (`semver.compare`): SemVer 2.0, a leading `v` allowed,
    /// build metadata ignored.
    Npm,
    /// The `semver` crate as Cargo uses it: SemVer 2.0 without a `v`; build
    /// metadata is ignored here (crates.io refuses two versions that differ
    /// only by it).
    Cargo,
    /// `golang.org/x/mod/semver`: a `v` required, `v1` and `v1.2` shorthands,
    /// pseudo-versions are prereleases, `+incompatible` is build metadata.
    Go,
    /// PEP 440 as the `packaging` library orders it.
    Pep440,
    /// Maven's `ComparableVersion` (maven-artifact 3.9).
    Maven,
    /// Plain byte order: OCI tags, and ecosystems without an ordering of
    /// their own.
    Lexical,
}

/// A version the scheme cannot parse; it has no key (it is still found by
/// exact and any-version queries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{version:?} is not a valid {scheme} version: {reason}")]
pub struct VersionKeyError {
    pub scheme: &'static str,
    pub version: String,
    pub reason: String,
}

impl Scheme {
    /// The scheme of a purl type (`npm`, `pypi`, `maven`, `golang`, `cargo`,
    /// `oci`/`docker`); `None` for types cairn does not order.
    pub fn for_purl_type(ty: &str) -> Option<Scheme> {
        Some(match ty {
            "npm" => Scheme::Npm,
            "cargo" => Scheme::Cargo,
            "golang" => Scheme::Go,
            "pypi" => Scheme::Pep440,
            "maven" => Scheme::Maven,
            "oci" | "docker" => Scheme::Lexical,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Scheme::Npm => "npm",
            Scheme::Cargo => "cargo",
            Scheme::Go => "golang",
            Scheme::Pep440 => "pypi",
            Scheme::Maven => "maven",
            Scheme::Lexical => "lexical",
        }
    }

    /// The key of `version` in this scheme.
    pub fn key(self, version: &str) -> Result<VersionKey, VersionKeyError> {
        if version.len() > MAX_VERSION_LEN {
            return Err(self.invalid(version, "longer than 1024 bytes"));
        }
        let mut key = KeyWriter::default();
        let result = match self {
            Scheme::Npm => semver::write(&mut key, version, semver::Flavour::Npm),
            Scheme::Cargo => semver::write(&mut key, version, semver::Flavour::Cargo),
            Scheme::Go => semver::write(&mut key, version, semver::Flavour::Go),
            Scheme::Pep440 => pep440::write(&mut key, version),
            Scheme::Maven => maven::write(&mut key, version),
            Scheme::Lexical => {
                key.0.extend_from_slice(version.as_bytes());
                Ok(())
            }
        };
        match result {
            Ok(()) => Ok(VersionKey(key.0)),
            Err(reason) => Err(self.invalid(version, &reason)),
        }
    }

    fn invalid(self, version: &str, reason: &str) -> VersionKeyError {
        VersionKeyError {
            scheme: self.name(),
            version: version.chars().take(200).collect(),
            reason: reason.to_string(),
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const MAX_VERSION_LEN: usize = 1024;

/// Writes the pieces every encoding is made of.
#[derive(Default)]
pub(crate) struct KeyWriter(Vec<u8>);

impl KeyWriter {
    pub(crate) fn tag(&mut self, tag: u8) {
        self.0.push(tag);
    }

    /// A non-negative integer written as decimal digits: its digit count
    /// (leading zeros dropped; zero has none) then the digits, so numbers of
    /// any size compare numerically.
    pub(crate) fn number(&mut self, digits: &str) -> Result<(), String> {
        debug_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        let significant = digits.trim_start_matches('0');
        if significant.len() > 200 {
            return Err("a number with more than 200 digits".into());
        }
        self.0.push(significant.len() as u8);
        self.0.extend_from_slice(significant.as_bytes());
        Ok(())
    }

    /// Text ended by 0x00, which sorts below every byte text may hold.
    pub(crate) fn text(&mut self, text: &str) -> Result<(), String> {
        if text.bytes().any(|b| b == 0) {
            return Err("a NUL byte".into());
        }
        self.0.extend_from_slice(text.as_bytes());
        self.0.push(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ordered(scheme: Scheme, versions: &[&str]) {
        for pair in versions.windows(2) {
            let (a, b) = (scheme.key(pair[0]).unwrap(), scheme.key(pair[1]).unwrap());
            assert!(
                a < b,
                "{scheme}: {} < {} ({a:?} vs {b:?})",
                pair[0],
                pair[1]
            );
        }
    }

    fn equal(scheme: Scheme, a: &str, b: &str) {
        assert_eq!(
            scheme.key(a).unwrap(),
            scheme.key(b).unwrap(),
            "{scheme}: {a} == {b}"
        );
    }

    #[test]
    fn semver_orders_prereleases_below_their_release() {
        ordered(
            Scheme::Npm,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "1.0.1",
                "1.10.0",
                "2.0.0",
                "10.0.0",
            ],
        );
        equal(Scheme::Npm, "1.0.0+build.1", "1.0.0");
        equal(Scheme::Npm, "v1.2.3", "1.2.3");
        assert!(Scheme::Cargo.key("v1.2.3").is_err());
        assert!(Scheme::Npm.key("1.02.3").is_err());
        assert!(Scheme::Npm.key("1.2").is_err());
    }

    #[test]
    fn go_orders_pseudo_versions_and_shorthands() {
        ordered(
            Scheme::Go,
            &[
                "v0.0.0-20191109021931-daa7c04131f5",
                "v0.0.0-20200101000000-aaaaaaaaaaaa",
                "v0.1.0",
                "v1.2.3",
                "v1.2.4-0.20191109021931-daa7c04131f5",
                "v1.2.4-pre",
                "v1.2.4",
                "v2.0.0+incompatible",
                "v2.0.1",
            ],
        );
        equal(Scheme::Go, "v1", "v1.0.0");
        equal(Scheme::Go, "v1.2", "v1.2.0");
        equal(Scheme::Go, "v2.0.0+incompatible", "v2.0.0");
        assert!(Scheme::Go.key("1.2.3").is_err());
        assert!(Scheme::Go.key("v1.2-pre").is_err());
    }

    #[test]
    fn pep440_follows_packaging() {
        ordered(
            Scheme::Pep440,
            &[
                "1.0.dev0",
                "1.0a1.dev1",
                "1.0a1",
                "1.0a2",
                "1.0b1",
                "1.0rc1",
                "1.0",
                "1.0+abc",
                "1.0+abc.5",
                "1.0+5",
                "1.0.post1.dev1",
                "1.0.post1",
                "1.0.1",
                "1.1",
                "1!0.1",
            ],
        );
        equal(Scheme::Pep440, "1.0", "1.0.0");
        equal(Scheme::Pep440, "1.0-1", "1.0.post1");
        equal(Scheme::Pep440, "1.0alpha1", "1.0a1");
        equal(Scheme::Pep440, "v1.01", "1.1");
        assert!(Scheme::Pep440.key("not a version").is_err());
    }

    #[test]
    fn maven_follows_comparable_version() {
        ordered(
            Scheme::Maven,
            &[
                "1-alpha-1",
                "1-alpha-2",
                "1-beta",
                "1-milestone-1",
                "1-rc-1",
                "1-SNAPSHOT",
                "1",
                "1-sp",
                "1-abc",
                "1-1",
                "1.0.1",
                "1.1",
                "1.1.1-SNAPSHOT",
                "1.2",
                "2.0",
            ],
        );
        equal(Scheme::Maven, "1.0", "1");
        equal(Scheme::Maven, "1.0.0-ga", "1");
        equal(Scheme::Maven, "1-final", "1");
        equal(Scheme::Maven, "1.0a1", "1-alpha-1");
        equal(Scheme::Maven, "1.0-CR1", "1.0-rc-1");
        ordered(
            Scheme::Maven,
            &["2.14.1", "2.16.0", "2.17.0", "2.17.1", "2.17.2"],
        );
    }
}
