//! `cairn login` and `cairn logout`: a person's session with a running
//! cairn (`POST /api/v1/session`), kept for the commands that talk to it.
//!
//! The token is stored per server URL in `$CAIRN_CREDENTIALS`, else
//! `$XDG_CONFIG_HOME/cairn/credentials.json`, else
//! `~/.config/cairn/credentials.json`, readable by its owner only.

use anyhow::Context;
use serde_json::{json, Value};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct LoginArgs {
    /// cairn's URL.
    #[arg(long, default_value = "http://127.0.0.1:5000")]
    url: String,
    /// Your user name (not with --web).
    #[arg(long, required_unless_present = "web", conflicts_with = "web")]
    user: Option<String>,
    /// Sign in through the web UI instead of with a password: cairn prints
    /// an address to open in a browser, where you sign in (single sign-on
    /// too) and approve; this command then keeps the session.
    #[arg(long)]
    web: bool,
    /// The environment variable holding the password; without it the
    /// password is read from the terminal, not echoed.
    #[arg(long)]
    password_env: Option<String>,
    /// The one-time password, when the user has two-factor authentication
    /// on; asked for at the terminal when needed and not given.
    #[arg(long)]
    otp: Option<String>,
}

#[derive(clap::Args)]
pub struct LogoutArgs {
    /// cairn's URL.
    #[arg(long, default_value = "http://127.0.0.1:5000")]
    url: String,
}

/// Where the sessions are kept.
pub fn credentials_path() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("CAIRN_CREDENTIALS") {
        return Ok(PathBuf::from(p));
    }
    let config = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(
            std::env::var_os("HOME")
                .context("no HOME to keep the session in: set CAIRN_CREDENTIALS to a file path")?,
        )
        .join(".config"),
    };
    Ok(config.join("cairn").join("credentials.json"))
}

fn read_all() -> anyhow::Result<serde_json::Map<String, Value>> {
    let path = credentials_path()?;
    match std::fs::read(&path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            _ => anyhow::bail!("{} is not a JSON object; remove it", path.display()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_all(map: &serde_json::Map<String, Value>) -> anyhow::Result<()> {
    let path = credentials_path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(&serde_json::to_vec_pretty(map)?)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The stored session token for `base` (a URL without a trailing slash),
/// unless it has expired.
pub fn stored_token(base: &str) -> Option<String> {
    let map = read_all().ok()?;
    let entry = map.get(base)?;
    let expired = entry["expires_at"]
        .as_i64()
        .is_some_and(|at| at <= cairn_core::unix_now() as i64);
    if expired {
        return None;
    }
    entry["token"].as_str().map(str::to_string)
}

fn prompt(question: &str) -> anyhow::Result<String> {
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

/// Keeps a session for `base` and says so.
fn keep_session(base: &str, answer: &Value) -> anyhow::Result<()> {
    let mut map = read_all()?;
    map.insert(
        base.to_string(),
        json!({ "user": answer["user"], "token": answer["token"], "expires_at": answer["expires_at"] }),
    );
    write_all(&map)?;
    println!(
        "cairn: signed in to {base} as {}{}; the session is kept in {} until {}",
        answer["user"].as_str().unwrap_or("?"),
        if answer["two_factor"] == true {
            " (with a second factor)"
        } else {
            ""
        },
        credentials_path()?.display(),
        answer["expires_at"]
            .as_i64()
            .map(cairn_packages::rfc3339)
            .unwrap_or_else(|| "it is revoked".into())
    );
    Ok(())
}

/// `cairn login --web`: start a web sign-in, print where to approve it,
/// poll until it is approved (or expires), keep the session.
async fn login_web(base: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{base}/api/v1/session/web"))
        .send()
        .await
        .with_context(|| {
            format!("cannot reach cairn at {base}: is it running there? (--url names it)")
        })?;
    let status = resp.status();
    let started: Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        anyhow::bail!(
            "{status}: {}",
            started["error"].as_str().unwrap_or("refused")
        );
    }
    let (Some(login_url), Some(done_url)) =
        (started["login_url"].as_str(), started["done_url"].as_str())
    else {
        anyhow::bail!("the server's answer names no addresses: {started}");
    };
    eprintln!("cairn: open this address in a browser, sign in there and approve:\n\n    {login_url}\n\nwaiting for the approval (Ctrl-C stops)...");
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_secs(started["expires_in"].as_u64().unwrap_or(600));
    loop {
        let resp = http
            .get(done_url)
            .send()
            .await
            .with_context(|| format!("reaching {base}"))?;
        let status = resp.status();
        let wait = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1)
            .clamp(1, 30);
        let answer: Value = resp.json().await.unwrap_or_default();
        match status.as_u16() {
            200 => return keep_session(base, &answer),
            202 if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_secs(wait)).await
            }
            202 => {
                anyhow::bail!("nobody approved the sign-in in time: run cairn login --web again")
            }
            _ => anyhow::bail!(
                "{status}: {}",
                answer["error"].as_str().unwrap_or("the sign-in ended")
            ),
        }
    }
}

pub async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/').to_string();
    if args.web {
        return login_web(&base).await;
    }
    let user = args.user.clone().unwrap_or_default();
    let password = match &args.password_env {
        Some(var) => std::env::var(var).with_context(|| format!("${var} is not set"))?,
        None if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("password for {user} at {base}: "))?
        }
        None => anyhow::bail!(
            "no terminal to ask the password at: pass --password-env VAR naming a variable that holds it"
        ),
    };
    let http = reqwest::Client::new();
    let mut otp = args.otp.clone();
    loop {
        let body = json!({ "user": user, "password": password, "otp": otp, "token": true });
        let resp = http
            .post(format!("{base}/api/v1/session"))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("reaching {base}"))?;
        let status = resp.status();
        let answer: Value = resp.json().await.unwrap_or_default();
        if status.is_success() {
            return keep_session(&base, &answer);
        }
        let message = answer["error"].as_str().unwrap_or("refused");
        match (
            answer["otp_required"] == true && otp.is_none(),
            std::io::stdin().is_terminal(),
        ) {
            (true, true) => otp = Some(prompt("one-time password: ")?),
            (true, false) => anyhow::bail!("{status}: {message}: pass --otp CODE"),
            _ => anyhow::bail!("{status}: {message}"),
        }
    }
}

pub async fn logout(args: LogoutArgs) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/').to_string();
    let mut map = read_all()?;
    let Some(entry) = map.remove(&base) else {
        println!("cairn: no session kept for {base}");
        return Ok(());
    };
    if let Some(token) = entry["token"].as_str() {
        let ended = reqwest::Client::new()
            .delete(format!("{base}/api/v1/session"))
            .bearer_auth(token)
            .send()
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| Ok(r.error_for_status()?));
        // An expired or revoked session is gone already.
        if let Err(e) = ended {
            eprintln!("cairn: the server did not end the session ({e}); forgetting it here");
        }
    }
    write_all(&map)?;
    println!("cairn: signed out of {base}");
    Ok(())
}

#[derive(clap::Args)]
pub struct WhoamiArgs {
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: super::client::ServerArgs,
}

/// `cairn whoami`: who a running cairn takes the credential for
/// (`GET /api/v1/session`): the user, whether an administrator, and how
/// the second factor stands.
pub async fn whoami(args: WhoamiArgs) -> anyhow::Result<()> {
    let mut answer = args
        .server
        .call(reqwest::Method::GET, &["session"], &[], None)
        .await?;
    // The web UI's CSRF token means nothing here.
    if let Some(o) = answer.as_object_mut() {
        o.remove("csrf_token");
    }
    super::client::print_answer(&answer, args.json, |a| {
        println!(
            "{}{} (second factor: {})",
            a["user"].as_str().unwrap_or("anonymous"),
            if a["admin"] == true {
                ", administrator"
            } else {
                ""
            },
            a["two_factor"].as_str().unwrap_or("none")
        )
    });
    Ok(())
}
