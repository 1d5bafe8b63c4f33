//! Version ranges in the `vers` notation of the purl project
//! (`vers:maven/>=2.0.0|<2.17.1`), turned into intervals of version keys so
//! that each interval is one index range scan.
//!
//! Constraints are sorted by version; a `>`/`>=` opens an interval that the
//! next `<`/`<=` closes, a leading `<`/`<=` closes one open from below, a
//! trailing `>`/`>=` leaves one open above; `=` adds a single version and
//! `!=` takes one out; `*` is every version. Two bounds in a row on the same
//! side are refused, as the specification says.

use crate::version_key::{Scheme, VersionKey};

/// One bound of an interval: the key, and whether it is included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub key: VersionKey,
    pub inclusive: bool,
}

/// Versions between two bounds (`None`: unbounded on that side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
}

impl Interval {
    pub fn contains(&self, key: &VersionKey) -> bool {
        let above = self.lower.as_ref().is_none_or(|b| {
            if b.inclusive {
                key >= &b.key
            } else {
                key > &b.key
            }
        });
        let below = self.upper.as_ref().is_none_or(|b| {
            if b.inclusive {
                key <= &b.key
            } else {
                key < &b.key
            }
        });
        above && below
    }
}

/// A parsed range: the union of `intervals`, less `excluded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersRange {
    pub scheme: Scheme,
    pub intervals: Vec<Interval>,
    pub excluded: Vec<VersionKey>,
}

impl VersRange {
    pub fn contains(&self, key: &VersionKey) -> bool {
        !self.excluded.contains(key) && self.intervals.iter().any(|i| i.contains(key))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersError {
    #[error("a range starts with vers:<scheme>/, like vers:npm/>=1.0.0|<2.0.0")]
    Syntax,
    #[error("the range's scheme {found} does not match the package's ecosystem {expected}")]
    Scheme { found: String, expected: String },
    #[error("versions of {0} have no order cairn knows, so ranges cannot be asked of them")]
    Unordered(String),
    #[error(transparent)]
    Version(#[from] crate::version_key::VersionKeyError),
    #[error("invalid range {0:?}: {1}")]
    Invalid(String, &'static str),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Parses `text` for packages of `ecosystem` (a purl type).
pub fn parse(text: &str, ecosystem: &str) -> Result<VersRange, VersError> {
    let rest = text.strip_prefix("vers:").ok_or(VersError::Syntax)?;
    let (scheme_name, constraints) = rest.split_once('/').ok_or(VersError::Syntax)?;
    let scheme_name = scheme_name.to_ascii_lowercase();
    if scheme_name != ecosystem {
        return Err(VersError::Scheme {
            found: scheme_name,
            expected: ecosystem.to_string(),
        });
    }
    let scheme = Scheme::for_purl_type(ecosystem)
        .ok_or_else(|| VersError::Unordered(ecosystem.to_string()))?;
    let constraints = constraints.trim();
    if constraints == "*" {
        return Ok(VersRange {
            scheme,
            intervals: vec![Interval {
                lower: None,
                upper: None,
            }],
            excluded: Vec::new(),
        });
    }
    let mut parsed = Vec::new();
    for c in constraints.split('|') {
        let c = c.trim();
        let (op, version) = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
            ("=", Op::Eq),
        ]
        .iter()
        .find_map(|(p, op)| c.strip_prefix(p).map(|v| (*op, v)))
        .unwrap_or((Op::Eq, c));
        let version = percent_encoding::percent_decode_str(version.trim())
            .decode_utf8()
            .map_err(|_| VersError::Invalid(c.to_string(), "not UTF-8"))?;
        if version.is_empty() {
            return Err(VersError::Invalid(
                c.to_string(),
                "a constraint without a version",
            ));
        }
        parsed.push((op, scheme.key(&version)?));
    }
    parsed.sort_by(|a, b| a.1.cmp(&b.1));
    let mut intervals = Vec::new();
    let mut excluded = Vec::new();
    let mut open: Option<Option<Bound>> = None; // Some(lower) while an interval is open
    let mut first_bound = true;
    for (op, key) in parsed {
        match op {
            Op::Eq => intervals.push(Interval {
                lower: Some(Bound {
                    key: key.clone(),
                    inclusive: true,
                }),
                upper: Some(Bound {
                    key,
                    inclusive: true,
                }),
            }),
            Op::Ne => excluded.push(key),
            Op::Gt | Op::Ge => {
                if open.is_some() {
                    return Err(VersError::Invalid(
                        text.to_string(),
                        "two lower bounds in a row",
                    ));
                }
                open = Some(Some(Bound {
                    key,
                    inclusive: op == Op::Ge,
                }));
                first_bound = false;
            }
            Op::Lt | Op::Le => {
                let lower = match open.take() {
                    Some(lower) => lower,
                    None if first_bound => None,
                    None => {
                        return Err(VersError::Invalid(
                            text.to_string(),
                            "two upper bounds in a row",
                        ))
                    }
                };
                intervals.push(Interval {
                    lower,
                    upper: Some(Bound {
                        key,
                        inclusive: op == Op::Le,
                    }),
                });
                first_bound = false;
            }
        }
    }
    if let Some(lower) = open {
        intervals.push(Interval { lower, upper: None });
    }
    if intervals.is_empty() && !excluded.is_empty() {
        intervals.push(Interval {
            lower: None,
            upper: None,
        });
    }
    Ok(VersRange {
        scheme,
        intervals,
        excluded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(range: &VersRange, version: &str) -> bool {
        range.contains(&range.scheme.key(version).unwrap())
    }

    #[test]
    fn a_maven_range_is_its_interval() {
        let r = parse("vers:maven/>=2.0.0|<2.17.1", "maven").unwrap();
        assert_eq!(r.intervals.len(), 1);
        for v in ["2.0", "2.0.0", "2.14.1", "2.17.0", "2.17.1-rc1"] {
            assert!(has(&r, v), "{v}");
        }
        for v in ["1.2.17", "2.0-beta9", "2.17.1", "2.17.2", "2.20.0"] {
            assert!(!has(&r, v), "{v}");
        }
    }

    #[test]
    fn several_intervals_points_and_exclusions() {
        let r = parse("vers:npm/<1.0.0|>=2.0.0|<3.0.0|!=2.5.0|=4.1.0", "npm").unwrap();
        assert_eq!(r.intervals.len(), 3);
        for v in ["0.9.0", "2.0.0", "2.9.9", "4.1.0"] {
            assert!(has(&r, v), "{v}");
        }
        for v in ["1.0.0", "2.5.0", "3.0.0", "4.0.0"] {
            assert!(!has(&r, v), "{v}");
        }
        assert!(has(&parse("vers:pypi/>1.0", "pypi").unwrap(), "1.0.post1"));
        assert!(has(
            &parse("vers:golang/*", "golang").unwrap(),
            "v0.0.0-20191109021931-daa7c04131f5"
        ));
    }

    #[test]
    fn bad_ranges_are_refused() {
        assert!(matches!(parse(">=1.0", "npm"), Err(VersError::Syntax)));
        assert!(matches!(
            parse("vers:pypi/>=1.0", "npm"),
            Err(VersError::Scheme { .. })
        ));
        assert!(matches!(
            parse("vers:npm/>=1.0.0|>=2.0.0", "npm"),
            Err(VersError::Invalid(..))
        ));
        assert!(matches!(
            parse("vers:npm/>=banana", "npm"),
            Err(VersError::Version(_))
        ));
        assert!(matches!(
            parse("vers:deb/>=1.0", "deb"),
            Err(VersError::Unordered(_))
        ));
    }
}
