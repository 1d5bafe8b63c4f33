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

/// A file is scanned in pieces of this many bytes (memory stays bounded
/// however large it is)...
const CHUNK: usize = 1024 * 1024;

/// ...each piece after the first with this many bytes of the one before it
/// in front, so that a secret across two pieces is seen whole (every rule's
/// secret is shorter; a longer match is reported from its first piece).
const OVERLAP: usize = 4096;

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
    /// The secrets in one file's bytes (binary or text).
    pub fn scan(&self, file: &str, bytes: &[u8], out: &mut Vec<Found>) {
        self.scan_piece(file, bytes, 0, 1, out);
    }

    /// The secrets in one file read from `reader` to its end, in pieces
    /// (memory stays bounded whatever the file's size).
    pub fn scan_reader(
        &self,
        file: &str,
        mut reader: impl std::io::Read,
        out: &mut Vec<Found>,
    ) -> std::io::Result<()> {
        let mut buf: Vec<u8> = Vec::with_capacity(OVERLAP + CHUNK);
        // How many bytes at the front of `buf` were scanned before, and the
        // line the front starts on.
        let (mut carried, mut line) = (0usize, 1usize);
        loop {
            let before = buf.len();
            buf.resize(before + CHUNK, 0);
            let mut filled = before;
            while filled < buf.len() {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            buf.truncate(filled);
            let end = filled < before + CHUNK;
            self.scan_piece(file, &buf, carried, line, out);
            if end {
                return Ok(());
            }
            // Keep the piece's tail for the next one.
            let keep = buf.len().min(OVERLAP);
            let cut = buf.len() - keep;
            line += buf[..cut].iter().filter(|b| **b == b'\n').count();
            buf.drain(..cut);
            carried = keep;
        }
    }

    /// Scans `bytes`, whose first `carried` bytes were scanned as the end of
    /// the piece before and whose first line is `line`: a match ending there
    /// was reported then; one starting there and going on may have been
    /// reported cut short at the piece's end, and is replaced.
    fn scan_piece(
        &self,
        file: &str,
        bytes: &[u8],
        carried: usize,
        line: usize,
        out: &mut Vec<Found>,
    ) {
        for i in self.set.matches(bytes).iter() {
            for m in self.each[i].find_iter(bytes) {
                if m.end() <= carried {
                    continue;
                }
                let line = line + bytes[..m.start()].iter().filter(|b| **b == b'\n').count();
                let found = Found {
                    file: file.to_string(),
                    line,
                    rule: RULES[i].0,
                    secret: String::from_utf8_lossy(m.as_bytes()).into_owned(),
                };
                if m.start() < carried {
                    out.retain(|f| {
                        !(f.rule == found.rule
                            && f.line == found.line
                            && f.file == found.file
                            && found.secret.starts_with(&f.secret))
                    });
                }
                out.push(found);
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
    fn a_file_read_in_pieces_is_scanned_to_its_end() {
        let gh = "ghp_".to_string() + &"a1B2".repeat(9);
        let aws = "AKIA".to_string() + "IOSFODNN7EXAMPLQ";
        // One secret across the first two pieces, one far past them, one
        // in the very last bytes; lines counted across pieces.
        let mut text = "x".repeat(CHUNK - 10);
        text.push(' ');
        text.push_str(&gh);
        text.push('\n');
        text.push_str(&"y\n".repeat(3 * CHUNK / 2));
        text.push_str(&aws);
        text.push('\n');
        text.push_str(&"z".repeat(CHUNK));
        text.push(' ');
        text.push_str(&gh);
        let mut pieces = Vec::new();
        Rules::default()
            .scan_reader("big.txt", text.as_bytes(), &mut pieces)
            .unwrap();
        let whole = scan(&text);
        let seen = |f: &[Found]| -> Vec<(usize, &'static str)> {
            let mut v: Vec<_> = f.iter().map(|f| (f.line, f.rule)).collect();
            v.sort();
            v
        };
        assert_eq!(seen(&pieces), seen(&whole));
        let lines = 1 + 3 * CHUNK / 2;
        assert_eq!(
            seen(&pieces),
            [
                (1, "github-pat"),
                (lines + 1, "aws-access-key-id"),
                (lines + 2, "github-pat")
            ]
        );
    }

    #[test]
    fn a_match_cut_short_at_a_piece_end_is_reported_whole_once() {
        let token = "pypi-AgEIcHlwaS5vcmc".to_string() + &"A".repeat(280);
        let mut text = "x".repeat(CHUNK - 100);
        text.push(' ');
        text.push_str(&token);
        text.push('\n');
        let mut found = Vec::new();
        Rules::default()
            .scan_reader("setup.py", text.as_bytes(), &mut found)
            .unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].secret, token);
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
