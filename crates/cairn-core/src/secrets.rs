//! Secrets that must not be published: the rules a publish is scanned
//! with, and the scan of one file's bytes.
//!
//! The rules follow the formats of gitleaks' rule set (MIT licensed,
//! github.com/gitleaks/gitleaks, `config/gitleaks.toml`): only the
//! rules whose secrets have a fixed, recognisable shape (a vendor prefix, a
//! key header), which is what makes a refusal at publish time acceptable —
//! generic "high-entropy string" rules are left out. cairn's own API tokens
//! (`cairn_` and 43 URL-safe characters) are one of them: a live one found
//! in a publish is revoked. A finding names the file, the line and the
//! rule, never the secret.

use regex::bytes::{Regex, RegexSet};
use sha2::{Digest as _, Sha256};

/// Of each file, this many bytes are scanned (its head).
pub const SCAN_BYTES: u64 = 16 * 1024 * 1024;

/// cairn's own token rule's id.
pub const CAIRN_TOKEN: &str = "cairn-api-token";

/// (id, pattern). The secret is the whole match.
const RULES: &[(&str, &str)] = &[
    (CAIRN_TOKEN, r"\bcairn_[A-Za-z0-9_-]{43}"),
    (
        "aws-access-key-id",
        r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b",
    ),
    ("github-pat", r"\bghp_[0-9A-Za-z]{36}\b"),
    (
        "github-fine-grained-pat",
        r"\bgithub_pat_[0-9A-Za-z_]{82}\b",
    ),
    ("github-oauth", r"\bgho_[0-9A-Za-z]{36}\b"),
    ("github-app-token", r"\b(?:ghu|ghs)_[0-9A-Za-z]{36}\b"),
    ("github-refresh-token", r"\bghr_[0-9A-Za-z]{36}\b"),
    ("gitlab-pat", r"\bglpat-[0-9A-Za-z_-]{20}\b"),
    ("slack-token", r"\bxox[abposr]-[0-9A-Za-z-]{10,72}\b"),
    (
        "slack-webhook-url",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{40,60}",
    ),
    (
        "stripe-access-token",
        r"\b(?:sk|rk)_(?:test|live|prod)_[0-9A-Za-z]{10,99}\b",
    ),
    ("npm-access-token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    (
        "pypi-upload-token",
        r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}",
    ),
    (
        "private-key",
        r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----",
    ),
    ("gcp-api-key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    (
        "openai-api-key",
        r"\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b",
    ),
    ("sendgrid-api-token", r"\bSG\.[A-Za-z0-9=_.-]{66}\b"),
    ("shopify-access-token", r"\bshpat_[a-fA-F0-9]{32}\b"),
    ("dockerhub-pat", r"\bdckr_pat_[A-Za-z0-9_-]{27}\b"),
    ("hashicorp-vault-token", r"\bhvs\.[A-Za-z0-9_-]{90,120}\b"),
    ("databricks-api-token", r"\bdapi[a-f0-9]{32}(?:-\d)?\b"),
    (
        "age-secret-key",
        r"\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}\b",
    ),
];

/// The compiled rules.
pub struct Rules {
    set: RegexSet,
    each: Vec<Regex>,
}

/// The rules, compiled once.
pub fn rules() -> &'static Rules {
    static RULES: std::sync::OnceLock<Rules> = std::sync::OnceLock::new();
    RULES.get_or_init(Rules::default)
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            set: RegexSet::new(RULES.iter().map(|(_, p)| *p)).expect("valid rules"),
            each: RULES
                .iter()
                .map(|(_, p)| Regex::new(p).expect("valid rule"))
                .collect(),
        }
    }
}

/// One secret found. `secret` is for revoking it; it is never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Found {
    pub file: String,
    pub line: usize,
    pub rule: &'static str,
    pub secret: String,
}

impl std::fmt::Debug for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} ({})", self.file, self.line, self.rule)
    }
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} line {} matches the {} rule",
            self.file, self.line, self.rule
        )
    }
}

impl Rules {
    /// The secrets in the first [`SCAN_BYTES`] of one file's bytes.
    pub fn scan_head(&self, file: &str, bytes: &[u8], out: &mut Vec<Found>) {
        self.scan(file, &bytes[..bytes.len().min(SCAN_BYTES as usize)], out);
    }

    /// The secrets in one file's bytes (binary or text).
    pub fn scan(&self, file: &str, bytes: &[u8], out: &mut Vec<Found>) {
        for i in self.set.matches(bytes).iter() {
            for m in self.each[i].find_iter(bytes) {
                let line = 1 + bytes[..m.start()].iter().filter(|b| **b == b'\n').count();
                out.push(Found {
                    file: file.to_string(),
                    line,
                    rule: RULES[i].0,
                    secret: String::from_utf8_lossy(m.as_bytes()).into_owned(),
                });
            }
        }
    }
}

/// The stored form of an API token secret (what the token table keeps): the
/// one rule, used by the identity service and by revocation on publish.
pub fn token_hash(secret: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(secret.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Vec<Found> {
        let mut out = Vec::new();
        Rules::default().scan("src/config.js", text.as_bytes(), &mut out);
        out
    }

    #[test]
    fn recognisable_secrets_are_found_and_never_printed() {
        let aws = "AKIA".to_string() + "IOSFODNN7EXAMPLQ";
        let gh = "ghp_".to_string() + &"a1B2".repeat(9);
        let cairn = "cairn_".to_string() + &"x".repeat(43);
        let text = format!(
            "const a = 1;\nkey = \"{aws}\"\n// {gh}\n{cairn}\n-----BEGIN RSA PRIVATE KEY-----\n"
        );
        let found = scan(&text);
        let rules: Vec<&str> = found.iter().map(|f| f.rule).collect();
        assert_eq!(
            rules,
            [
                CAIRN_TOKEN,
                "aws-access-key-id",
                "github-pat",
                "private-key"
            ]
        );
        assert_eq!(found[1].line, 2);
        assert_eq!(found[0].secret, cairn);
        let shown = format!("{} {:?}", found[1], found[1]);
        assert!(!shown.contains(&aws), "{shown}");
        assert!(shown.contains("src/config.js line 2 matches the aws-access-key-id rule"));
    }

    #[test]
    fn ordinary_code_is_clean() {
        assert!(scan(
            "function main() { return process.env.AWS_ACCESS_KEY_ID; }\nghp_short\nAKIA\n"
        )
        .is_empty());
        assert_eq!(token_hash("abc").len(), 7 + 64);
    }
}
