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
