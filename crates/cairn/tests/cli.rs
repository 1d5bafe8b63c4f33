//! The operator's command line on a real data directory.

use std::process::{Command, Output};

fn cairn(dir: &std::path::Path, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--data-dir", dir.to_str().unwrap()]);
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(&all)
        .env("CAIRN_LOG", "warn")
        .output()
        .expect("cairn runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The operator revokes any user's token through the identity service, as
/// the admin API and npm do; a token revoked twice is reported, not hidden.
#[test]
fn the_operator_creates_and_revokes_any_users_token() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&cairn(
        d,
        &["user", "create", "dev", "--grant", "team/**:read"],
    ));
    let created = stdout(&cairn(
        d,
        &[
            "token",
            "create",
            "--user",
            "dev",
            "--scope",
            "team/**:read",
        ],
    ));
    let id = created
        .split_whitespace()
        .nth(2)
        .expect("cairn: token ID for dev ...")
        .to_string();
    assert!(stdout(&cairn(d, &["token", "list", "--user", "dev"])).contains(&id));
    // A malformed scope and an unknown user are refused.
    assert!(
        !cairn(d, &["token", "create", "--user", "dev", "--scope", "x:fly"])
            .status
            .success()
    );
    assert!(!cairn(
        d,
        &["token", "create", "--user", "ghost", "--scope", "x:read"]
    )
    .status
    .success());
    stdout(&cairn(d, &["token", "revoke", &id]));
    let listed = stdout(&cairn(d, &["token", "list", "--user", "dev"]));
    assert!(listed
        .lines()
        .any(|l| l.starts_with(&id) && l.contains("revoked")));
    let again = cairn(d, &["token", "revoke", &id]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no live token"));
    // The audit log names the operator for both changes.
    let log = stdout(&cairn(d, &["audit", "--action", "token.revoke"]));
    assert!(log.contains("cli:"), "{log}");
}

/// `--output json` (anywhere on the line) makes commands print JSON a
/// script can read; the default stays text for people.
#[test]
fn output_json_is_machine_readable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let json = |args: &[&str]| -> Vec<serde_json::Value> {
        let mut all = vec!["--output", "json"];
        all.extend(args);
        stdout(&cairn(d, &all))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect()
    };
    let user = json(&["user", "create", "ops", "--grant", "team/**:read"]);
    assert_eq!(user[0]["name"], "ops");
    assert!(user[0]["password"].as_str().is_some_and(|p| !p.is_empty()));
    let token = json(&[
        "token",
        "create",
        "--user",
        "ops",
        "--scope",
        "team/**:read",
    ]);
    let id = token[0]["id"].as_str().unwrap().to_string();
    assert!(token[0]["token"].as_str().unwrap().starts_with("cairn_"));
    let listed = json(&["token", "list", "--user", "ops"]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(
        listed[0].get("secret_hash").is_none(),
        "no secret is printed"
    );
    // The flag after the subcommand works too.
    let out = stdout(&cairn(d, &["audit", "--limit", "2", "--output", "json"]));
    for line in out.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(entry["action"].is_string());
    }
    // And without it, text.
    let text = stdout(&cairn(d, &["token", "list", "--user", "ops"]));
    assert!(text.starts_with("id "), "{text}");
}
