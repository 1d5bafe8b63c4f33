//! The few facts cairn reads from a go.mod: the module path, the `go`
//! version (it changes which files the module zip holds) and the `retract`
//! directives. A bounded line parser: the file is at most 16 MiB (the zip
//! rules) and at most [`MAX_RETRACTIONS`] retractions are kept.

use crate::module::Version;
use serde::{Deserialize, Serialize};

pub const MAX_RETRACTIONS: usize = 10_000;

/// One `retract` entry: a single version (`low == high`) or a closed range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retraction {
    pub low: String,
    pub high: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rationale: String,
}

impl Retraction {
    /// Whether `version` falls in this retraction.
    pub fn covers(&self, version: &Version) -> bool {
        match (Version::parse(&self.low), Version::parse(&self.high)) {
            (Ok(low), Ok(high)) => low <= *version && *version <= high,
            _ => false,
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GoMod {
    pub module: Option<String>,
    /// The `go` directive, e.g. `1.24` or `1.22.3`.
    pub go: Option<String>,
    pub retract: Vec<Retraction>,
}

/// Parses what cairn needs of a go.mod. Lines it does not understand are
/// skipped (the go command is the judge of the rest); a malformed
/// `retract` is an error, since it would change what `@latest` means.
pub fn parse(text: &str) -> Result<GoMod, String> {
    let mut out = GoMod::default();
    let mut block: Option<String> = None;
    let mut pending: Vec<String> = vec![];
    for (n, line) in text.lines().enumerate() {
        let (code, comment) = match line.find("//") {
            Some(i) => (&line[..i], line[i + 2..].trim()),
            None => (line, ""),
        };
        let tokens: Vec<&str> = code.split_whitespace().collect();
        if tokens.is_empty() {
            if comment.is_empty() {
                pending.clear();
            } else {
                pending.push(comment.to_string());
            }
            continue;
        }
        let rationale = if comment.is_empty() {
            pending.join("\n")
        } else {
            comment.to_string()
        };
        pending.clear();
        let (verb, args) = match &block {
            Some(_) if tokens == [")"] => {
                block = None;
                continue;
            }
            Some(verb) => (verb.clone(), &tokens[..]),
            None if tokens.len() == 2 && tokens[1] == "(" => {
                block = Some(tokens[0].to_string());
                continue;
            }
            None => (tokens[0].to_string(), &tokens[1..]),
        };
        let at = |why: &str| format!("go.mod line {}: {why}", n + 1);
        match verb.as_str() {
            "module" if block.is_none() => {
                let path = args.first().ok_or_else(|| at("module needs a path"))?;
                out.module = Some(path.trim_matches('"').to_string());
            }
            "go" if block.is_none() => out.go = args.first().map(|v| v.to_string()),
            "retract" => {
                if out.retract.len() >= MAX_RETRACTIONS {
                    return Err(at("too many retractions"));
                }
                out.retract
                    .push(retraction(&args.join(" "), rationale).map_err(|e| at(&e))?);
            }
            _ => {}
        }
    }
    Ok(out)
}

fn retraction(spec: &str, rationale: String) -> Result<Retraction, String> {
    let check = |v: &str| Version::parse(v).map(|v| v.text);
    if let Some(range) = spec.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        let (low, high) = range
            .split_once(',')
            .ok_or_else(|| format!("retract range {spec:?} is [low, high]"))?;
        let (low, high) = (check(low.trim())?, check(high.trim())?);
        if Version::parse(&low)? > Version::parse(&high)? {
            return Err(format!("retract range {spec:?} is backwards"));
        }
        Ok(Retraction {
            low,
            high,
            rationale,
        })
    } else {
        let v = check(spec.trim())?;
        Ok(Retraction {
            low: v.clone(),
            high: v,
            rationale,
        })
    }
}

/// Whether the `go` directive is at least `1.minor`.
pub fn go_at_least(go: Option<&str>, minor: u64) -> bool {
    let Some(go) = go else { return false };
    let mut parts = go.split('.');
    let major: u64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let m: u64 = parts
        .next()
        .map(|p| p.trim_end_matches(|c: char| !c.is_ascii_digit()))
        .and_then(|p| {
            let digits: String = p.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse().ok()
        })
        .unwrap_or(0);
    major > 1 || (major == 1 && m >= minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_module_go_and_retractions() {
        let m = parse(
            "module example.com/m // the module\n\ngo 1.24\n\nrequire example.com/dep v1.0.0\n\n// Published by mistake.\nretract v1.0.1\nretract [v1.1.0, v1.1.3] // broken build\nretract (\n\tv0.9.0 // old\n\t[v0.5.0, v0.6.0]\n)\n",
        )
        .unwrap();
        assert_eq!(m.module.as_deref(), Some("example.com/m"));
        assert_eq!(m.go.as_deref(), Some("1.24"));
        assert_eq!(m.retract.len(), 4);
        assert_eq!(m.retract[0].rationale, "Published by mistake.");
        assert_eq!(m.retract[1].low, "v1.1.0");
        assert_eq!(m.retract[1].rationale, "broken build");
        let v = |s| Version::parse(s).unwrap();
        assert!(m.retract[1].covers(&v("v1.1.2")));
        assert!(!m.retract[1].covers(&v("v1.1.4")));
        assert!(m.retract[3].covers(&v("v0.5.5")));
        assert!(parse("retract [v1.2.0, v1.0.0]").is_err());
        assert!(parse("retract banana").is_err());
        assert!(go_at_least(Some("1.24"), 24));
        assert!(go_at_least(Some("1.25.1"), 24));
        assert!(!go_at_least(Some("1.23"), 24));
        assert!(!go_at_least(None, 24));
    }
}
