//! SemVer 2.0 as node-semver, the `semver` crate and Go's `x/mod/semver`
//! order it.
//!
//! Key: major, minor and patch as numbers; then, for a prerelease, tag 0x01
//! and each identifier (numeric: 0x01 and the number; alphanumeric: 0x02 and
//! the text) ended by 0x00, so numeric identifiers sort below alphanumeric
//! ones and a shorter list of equal identifiers sorts first; a release ends
//! with 0x02, above every prerelease of it. Build metadata is not part of the
//! key: all three ignore it when ordering.

use super::KeyWriter;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavour {
    /// A leading `v` is allowed (node-semver's strict parser accepts it).
    Npm,
    /// No `v`.
    Cargo,
    /// A `v` is required; `v1` and `v1.2` stand for `v1.0.0` and `v1.2.0`
    /// (without a prerelease or build).
    Go,
}

pub(super) fn write(key: &mut KeyWriter, version: &str, flavour: Flavour) -> Result<(), String> {
    let rest = match flavour {
        Flavour::Npm => version.strip_prefix('v').unwrap_or(version),
        Flavour::Cargo => version,
        Flavour::Go => version
            .strip_prefix('v')
            .ok_or("a Go version starts with v")?,
    };
    let (rest, build) = match rest.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (rest, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let shorthand = parts.len() < 3;
    if parts.len() > 3
        || (shorthand && (flavour != Flavour::Go || pre.is_some() || build.is_some()))
    {
        return Err("expected MAJOR.MINOR.PATCH".into());
    }
    for part in &parts {
        numeric(part)?;
        // node-semver refuses numbers above JavaScript's MAX_SAFE_INTEGER,
        // the semver crate above u64.
        let limit = match flavour {
            Flavour::Npm => Some(9_007_199_254_740_991u64),
            Flavour::Cargo => Some(u64::MAX),
            Flavour::Go => None,
        };
        if limit.is_some_and(|max| part.parse::<u64>().map_or(true, |n| n > max)) {
            return Err(format!("{part} is too large"));
        }
        key.number(part)?;
    }
    for _ in parts.len()..3 {
        key.number("0")?;
    }
    if let Some(build) = build {
        identifiers(build, false)?;
    }
    match pre {
        None => key.tag(0x02),
        Some(pre) => {
            key.tag(0x01);
            for id in identifiers(pre, true)? {
                if id.bytes().all(|b| b.is_ascii_digit()) {
                    key.tag(0x01);
                    key.number(id)?;
                } else {
                    key.tag(0x02);
                    key.text(id)?;
                }
            }
            key.tag(0x00);
        }
    }
    Ok(())
}

/// A numeric part: digits, no leading zero.
fn numeric(part: &str) -> Result<(), String> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{part:?} is not a number"));
    }
    if part.len() > 1 && part.starts_with('0') {
        return Err(format!("{part:?} has a leading zero"));
    }
    Ok(())
}

/// Dot-separated identifiers of `[0-9A-Za-z-]`; in a prerelease a numeric
/// identifier has no leading zero.
fn identifiers(text: &str, prerelease: bool) -> Result<Vec<&str>, String> {
    let ids: Vec<&str> = text.split('.').collect();
    for id in &ids {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(format!("{id:?} is not a valid identifier"));
        }
        if prerelease && id.bytes().all(|b| b.is_ascii_digit()) {
            numeric(id)?;
        }
    }
    Ok(ids)
}
