//! The version keys sort as each ecosystem's reference implementation sorts.
//!
//! `tests/version-order/generate.sh` writes the corpus: candidate versions
//! (`<scheme>.in`) and, for each, the ones the reference implementation
//! accepts in its order (`<scheme>.txt`: `<` before a version greater than
//! the one above it, `=` before one equal to it). The committed copy is read
//! unless `CAIRN_VERSION_ORDER` names a freshly generated one (the test
//! script's). Cargo's reference, the `semver` crate, is asked here.

use std::collections::HashSet;
use std::path::PathBuf;

use cairn_core::version_key::Scheme;

fn corpus() -> PathBuf {
    std::env::var_os("CAIRN_VERSION_ORDER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/version_order"))
}

fn read(name: &str) -> String {
    let path = corpus().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Checks `scheme` against `<file>.txt` and the acceptance of `<file>.in`.
fn check(scheme: Scheme, file: &str) {
    let sorted = read(&format!("{file}.txt"));
    let mut previous: Option<(String, cairn_core::version_key::VersionKey)> = None;
    let mut accepted = HashSet::new();
    let mut failures = Vec::new();
    for line in sorted.lines() {
        let (mark, version) = line.split_once('\t').expect("mark TAB version");
        accepted.insert(version.to_string());
        let key = match scheme.key(version) {
            Ok(k) => k,
            Err(e) => {
                failures.push(format!("no key: {e}"));
                continue;
            }
        };
        if let Some((before, before_key)) = &previous {
            let ok = match mark {
                "=" => *before_key == key,
                "<" => *before_key < key,
                other => panic!("unknown mark {other:?}"),
            };
            if !ok {
                failures.push(format!(
                    "{before} {mark} {version}: keys {before_key:?} {key:?}"
                ));
            }
        }
        previous = Some((version.to_string(), key));
    }
    for candidate in read(&format!("{file}.in")).lines() {
        if !accepted.contains(candidate) && scheme.key(candidate).is_ok() {
            failures.push(format!(
                "{candidate:?} is refused by the reference but has a key"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{scheme}: {} disagreements with the reference order, first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(accepted.len() > 400, "{file}: the corpus is too small");
}

#[test]
fn npm_keys_sort_like_node_semver() {
    check(Scheme::Npm, "npm");
}

#[test]
fn pypi_keys_sort_like_packaging() {
    check(Scheme::Pep440, "pypi");
}

#[test]
fn go_keys_sort_like_x_mod_semver() {
    check(Scheme::Go, "go");
}

#[test]
fn maven_keys_sort_like_comparable_version() {
    check(Scheme::Maven, "maven");
}

#[test]
fn cargo_keys_sort_like_the_semver_crate() {
    let mut parsed: Vec<(semver::Version, String)> = Vec::new();
    let mut failures = Vec::new();
    for candidate in read("cargo.in").lines() {
        match (
            semver::Version::parse(candidate),
            Scheme::Cargo.key(candidate),
        ) {
            (Ok(v), Ok(_)) => parsed.push((v, candidate.to_string())),
            (Err(_), Err(_)) => {}
            (Ok(_), Err(e)) => failures.push(format!("no key: {e}")),
            (Err(_), Ok(_)) => {
                failures.push(format!("{candidate:?} is refused by semver but has a key"))
            }
        }
    }
    parsed.sort_by(|a, b| a.0.cmp_precedence(&b.0));
    for pair in parsed.windows(2) {
        let (a, b) = (
            Scheme::Cargo.key(&pair[0].1).unwrap(),
            Scheme::Cargo.key(&pair[1].1).unwrap(),
        );
        let want = pair[0].0.cmp_precedence(&pair[1].0);
        if a.cmp(&b) != want {
            failures.push(format!("{} vs {}: want {want:?}", pair[0].1, pair[1].1));
        }
    }
    assert!(
        failures.is_empty(),
        "cargo: {}",
        failures[..failures.len().min(20)].join("\n")
    );
    assert!(parsed.len() > 400);
}
