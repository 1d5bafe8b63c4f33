//! Vulnerability advisories in the OSV schema, turned into what the index
//! matches: per affected package, intervals of version keys.
//!
//! OSV names ecosystems its own way (`npm`, `PyPI`, `crates.io`, `Go`,
//! `Maven`); each becomes its purl type, and the package name is normalised
//! like a component's ([`crate::purl::normalise_name`]), so an advisory and
//! an SBOM meet on the same key. `SEMVER` and `ECOSYSTEM` ranges are read by
//! the OSV evaluation rules: events in version order, `introduced` opens an
//! affected interval (`0`: from the first version), `fixed` closes it
//! before that version, `last_affected` closes it at that version, `limit`
//! caps every interval; `GIT` ranges name commits and are not matched.
//! Listed `versions` are matched one by one. Severity comes from a CVSS v3
//! or v4 vector (scored by the `cvss` crate), else from the database's own
//! rating (GitHub's `LOW`…`CRITICAL`).

use std::str::FromStr;

use crate::vers::{Bound, Interval};
use crate::version_key::{Scheme, VersionKey};

/// How bad, in the order policies compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        Some(match text.to_ascii_lowercase().as_str() {
            "unknown" | "none" => Severity::Unknown,
            "low" => Severity::Low,
            "medium" | "moderate" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    /// CVSS's qualitative rating of a base score.
    fn of_score(score: f64) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Unknown,
        }
    }
}

/// One advisory, as the index keeps it.
#[derive(Debug, Clone)]
pub struct Advisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: String,
    /// Seconds since the epoch (OSV's RFC 3339 `modified`).
    pub modified: i64,
    pub published: Option<i64>,
    pub withdrawn: Option<i64>,
    pub severity: Severity,
    /// The CVSS base score, when a vector gave one.
    pub score: Option<f64>,
    pub affected: Vec<Affected>,
}

/// One affected package of an advisory.
#[derive(Debug, Clone)]
pub struct Affected {
    pub ecosystem: String,
    pub name: String,
    pub intervals: Vec<Interval>,
    /// Versions listed one by one (their keys; also text for unordered ones).
    pub versions: Vec<(String, Option<VersionKey>)>,
}

#[derive(Debug, thiserror::Error)]
#[error("{id}: {reason}")]
pub struct AdvisoryError {
    pub id: String,
    pub reason: String,
}

#[derive(serde::Deserialize)]
struct Osv {
    id: String,
    #[serde(default)]
    modified: String,
    published: Option<String>,
    withdrawn: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
    #[serde(default)]
    affected: Vec<OsvAffected>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(serde::Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(serde::Deserialize)]
struct OsvAffected {
    package: Option<OsvPackage>,
    #[serde(default)]
    ranges: Vec<OsvRange>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
    #[serde(default)]
    ecosystem_specific: Option<serde_json::Value>,
}

#[derive(serde::Deserialize)]
struct OsvPackage {
    ecosystem: String,
    name: String,
}

#[derive(serde::Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// The purl type of an OSV ecosystem (`Maven`, `PyPI`, …; a suffix like
/// `Debian:11` is the distribution's and not matched).
pub fn purl_type_of(osv_ecosystem: &str) -> Option<&'static str> {
    Some(match osv_ecosystem {
        "npm" => "npm",
        "PyPI" => "pypi",
        "crates.io" => "cargo",
        "Go" => "golang",
        "Maven" => "maven",
        _ => return None,
    })
}

fn seconds(rfc3339: &str) -> Option<i64> {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

fn score_of(vector: &OsvSeverity) -> Option<f64> {
    match vector.kind.as_str() {
        "CVSS_V3" => cvss::v3::Vector::from_str(&vector.score)
            .ok()
            .map(|v| v.score().value()),
        "CVSS_V4" => cvss::v4::Vector::from_str(&vector.score)
            .ok()
            .map(|v| v.score().value()),
        _ => None,
    }
}

fn rated(value: &Option<serde_json::Value>) -> Option<Severity> {
    value
        .as_ref()?
        .get("severity")?
        .as_str()
        .and_then(Severity::parse)
}

/// The name an OSV package has in the index.
fn indexed_name(ecosystem: &str, osv_name: &str) -> String {
    match ecosystem {
        // OSV writes Maven packages group:artifact; purls group/artifact.
        "maven" => crate::purl::normalise_name(ecosystem, None, &osv_name.replacen(':', "/", 1)),
        "golang" => {
            // As packageurl normalises a golang purl: the namespace lowercased.
            match osv_name.rsplit_once('/') {
                Some((ns, name)) => format!("{}/{name}", ns.to_lowercase()),
                None => osv_name.to_string(),
            }
        }
        _ => crate::purl::normalise_name(ecosystem, None, osv_name),
    }
}

/// A version as the scheme wants it: Go's OSV ranges drop the `v`.
fn key_of(scheme: Scheme, version: &str) -> Option<VersionKey> {
    match scheme {
        Scheme::Go if !version.starts_with('v') => scheme.key(&format!("v{version}")).ok(),
        _ => scheme.key(version).ok(),
    }
}

/// Parses one OSV document.
pub fn parse_osv(json: &[u8]) -> Result<Advisory, AdvisoryError> {
    let osv: Osv = serde_json::from_slice(json).map_err(|e| AdvisoryError {
        id: "?".into(),
        reason: format!("not an OSV document: {e}"),
    })?;
    let invalid = |reason: String| AdvisoryError {
        id: osv.id.clone(),
        reason,
    };
    if osv.id.is_empty() || osv.id.len() > 200 {
        return Err(invalid("no usable id".into()));
    }
    let modified = seconds(&osv.modified)
        .ok_or_else(|| invalid(format!("modified {:?} is not RFC 3339", osv.modified)))?;
    let mut score = osv.severity.iter().find_map(score_of);
    let mut severity = score
        .map(Severity::of_score)
        .or_else(|| rated(&osv.database_specific));
    let mut affected = Vec::new();
    for a in &osv.affected {
        if severity.is_none() {
            score = score.or_else(|| a.severity.iter().find_map(score_of));
            severity = score
                .map(Severity::of_score)
                .or_else(|| rated(&a.database_specific))
                .or_else(|| rated(&a.ecosystem_specific));
        }
        let Some(package) = &a.package else { continue };
        let Some(ecosystem) = purl_type_of(&package.ecosystem) else {
            continue;
        };
        let scheme = Scheme::for_purl_type(ecosystem).expect("every OSV ecosystem read is ordered");
        let mut intervals = Vec::new();
        for range in a
            .ranges
            .iter()
            .filter(|r| r.kind == "SEMVER" || r.kind == "ECOSYSTEM")
        {
            intervals.extend(evaluate(scheme, &range.events).map_err(invalid)?);
        }
        let versions = a
            .versions
            .iter()
            .map(|v| (v.clone(), key_of(scheme, v)))
            .collect();
        affected.push(Affected {
            ecosystem: ecosystem.to_string(),
            name: indexed_name(ecosystem, &package.name),
            intervals,
            versions,
        });
    }
    let summary = osv
        .summary
        .or_else(|| {
            osv.details
                .map(|d| d.lines().next().unwrap_or_default().to_string())
        })
        .unwrap_or_default()
        .chars()
        .take(500)
        .collect();
    Ok(Advisory {
        id: osv.id.clone(),
        aliases: osv.aliases,
        summary,
        modified,
        published: osv.published.as_deref().and_then(seconds),
        withdrawn: osv.withdrawn.as_deref().and_then(seconds),
        severity: severity.unwrap_or(Severity::Unknown),
        score,
        affected,
    })
}

/// The affected intervals of one range's events (see the module docs).
fn evaluate(
    scheme: Scheme,
    events: &[serde_json::Map<String, serde_json::Value>],
) -> Result<Vec<Interval>, String> {
    // (key, kind): `None` for the "0" of introduced, which is before all.
    let mut points: Vec<(Option<VersionKey>, &str)> = Vec::new();
    let mut limits = Vec::new();
    for event in events {
        let (kind, value) = event.iter().next().ok_or("an empty event")?;
        let version = value.as_str().ok_or("an event version is not a string")?;
        let key = match (kind.as_str(), version) {
            ("introduced", "0") => None,
            _ => Some(
                key_of(scheme, version)
                    .ok_or_else(|| format!("{kind} {version:?} is not a {scheme} version"))?,
            ),
        };
        match kind.as_str() {
            "limit" => limits.extend(key),
            "introduced" | "fixed" | "last_affected" => points.push((key, kind.as_str())),
            _ => return Err(format!("unknown event {kind}")),
        }
    }
    points.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    let mut open: Option<Option<Bound>> = None;
    for (key, kind) in points {
        match kind {
            "introduced" if open.is_none() => {
                open = Some(key.map(|k| Bound {
                    key: k,
                    inclusive: true,
                }));
            }
            "fixed" | "last_affected" => {
                if let (Some(lower), Some(key)) = (open.take(), key) {
                    out.push(Interval {
                        lower,
                        upper: Some(Bound {
                            key,
                            inclusive: kind == "last_affected",
                        }),
                    });
                }
            }
            _ => {}
        }
    }
    if let Some(lower) = open {
        out.push(Interval { lower, upper: None });
    }
    if let Some(limit) = limits.into_iter().min() {
        for interval in &mut out {
            let capped = interval.upper.as_ref().is_none_or(|u| u.key > limit);
            if capped {
                interval.upper = Some(Bound {
                    key: limit.clone(),
                    inclusive: false,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(a: &Affected, version: &str) -> bool {
        let scheme = Scheme::for_purl_type(&a.ecosystem).unwrap();
        let key = key_of(scheme, version).unwrap();
        a.intervals.iter().any(|i| i.contains(&key))
            || a.versions.iter().any(|(_, k)| k.as_ref() == Some(&key))
    }

    #[test]
    fn osv_ranges_become_intervals() {
        let doc = br#"{"id":"GHSA-jfh8-c2jp-5v3q","modified":"2024-03-01T00:00:00Z","aliases":["CVE-2021-44228"],
          "summary":"Remote code injection in Log4j",
          "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"}],
          "affected":[{"package":{"ecosystem":"Maven","name":"org.apache.logging.log4j:log4j-core"},
            "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"2.13.0"},{"fixed":"2.15.0"},
                                                    {"introduced":"2.0-beta9"},{"fixed":"2.3.1"},
                                                    {"introduced":"2.4"},{"fixed":"2.12.2"}]}]},
            {"package":{"ecosystem":"Go","name":"github.com/Example/mod"},
             "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"last_affected":"1.2.3"}]}]},
            {"package":{"ecosystem":"Debian:11","name":"apache-log4j2"},"versions":["2.13.0-1"]}]}"#;
        let a = parse_osv(doc).unwrap();
        assert_eq!(a.severity, Severity::Critical);
        assert_eq!(a.score, Some(10.0));
        assert_eq!(a.affected.len(), 2, "Debian is not matched");
        let log4j = &a.affected[0];
        assert_eq!(log4j.name, "org.apache.logging.log4j/log4j-core");
        for v in ["2.0-beta9", "2.3", "2.11.1", "2.14.1"] {
            assert!(contains(log4j, v), "{v}");
        }
        for v in ["2.0-beta8", "2.3.1", "2.12.2", "2.15.0", "2.17.1"] {
            assert!(!contains(log4j, v), "{v}");
        }
        let go = &a.affected[1];
        assert_eq!(go.name, "github.com/example/mod");
        assert!(contains(go, "v1.2.3") && contains(go, "v0.1.0") && !contains(go, "v1.2.4"));
    }

    #[test]
    fn severity_from_the_database_and_limits() {
        let doc = br#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","database_specific":{"severity":"MODERATE"},
          "affected":[{"package":{"ecosystem":"PyPI","name":"Django_Thing"},"versions":["1.0"],
            "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"limit":"2.0"}]}]}]}"#;
        let a = parse_osv(doc).unwrap();
        assert_eq!(a.severity, Severity::Medium);
        let p = &a.affected[0];
        assert_eq!(p.name, "django-thing");
        assert!(contains(p, "1.5") && !contains(p, "2.0") && contains(p, "1.0.0"));
        assert!(parse_osv(b"{}").is_err());
        assert!(parse_osv(br#"{"id":"X","modified":"yesterday"}"#).is_err());
    }
}
