//! PEP 440 as the `packaging` library orders it (its `_cmpkey`), parsed by
//! `pep440_rs`.
//!
//! Key: epoch; the release with trailing zeros dropped (each number after
//! 0x01, ended by 0x00, so `1.0 == 1` and `1 < 1.0.1`); the prerelease slot
//! (0x00 for a dev release of no pre or post release, which sorts below
//! every prerelease; 0x01, the kind and its number for `a`/`b`/`rc`; 0x02
//! for none); the post slot (0x00 none, 0x01 and its number); the dev slot
//! (0x01 and its number, 0x02 none); the local part (strings after 0x01
//! below numbers after 0x02, ended by 0x00, so no local part sorts first).

use std::str::FromStr;

use pep440_rs::{LocalSegment, PrereleaseKind, Version};

use super::KeyWriter;

pub(super) fn write(key: &mut KeyWriter, version: &str) -> Result<(), String> {
    let v = Version::from_str(version.trim()).map_err(|e| e.to_string())?;
    key.number(&v.epoch().to_string())?;
    let release = v.release();
    let significant = release.iter().rposition(|n| *n != 0).map_or(0, |i| i + 1);
    for n in &release[..significant] {
        key.tag(0x01);
        key.number(&n.to_string())?;
    }
    key.tag(0x00);
    match (v.pre(), v.post(), v.dev()) {
        (None, None, Some(_)) => key.tag(0x00),
        (Some(pre), _, _) => {
            key.tag(0x01);
            key.tag(match pre.kind {
                PrereleaseKind::Alpha => 0,
                PrereleaseKind::Beta => 1,
                PrereleaseKind::Rc => 2,
            });
            key.number(&pre.number.to_string())?;
        }
        (None, _, _) => key.tag(0x02),
    }
    match v.post() {
        None => key.tag(0x00),
        Some(n) => {
            key.tag(0x01);
            key.number(&n.to_string())?;
        }
    }
    match v.dev() {
        Some(n) => {
            key.tag(0x01);
            key.number(&n.to_string())?;
        }
        None => key.tag(0x02),
    }
    for segment in v.local() {
        match segment {
            LocalSegment::String(s) => {
                key.tag(0x01);
                key.text(&s.to_ascii_lowercase())?;
            }
            LocalSegment::Number(n) => {
                key.tag(0x02);
                key.number(&n.to_string())?;
            }
        }
    }
    key.tag(0x00);
    Ok(())
}
