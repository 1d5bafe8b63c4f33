//! The cairn binary: `cairn serve` runs the registry; `cairn admin` manages it.

use anyhow::Context;
use cairn_server::{auth, App, Config};
use clap::{Args, Parser, Subcommand};
use std::io::Read;
use std::path::PathBuf;

/// cairn: one registry for container images and language packages.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry server (blobs on disk and SQLite metadata under the data directory by default).
    Serve(ServeArgs),
    /// Administrative tasks that work directly on the configured stores.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Args)]
struct CommonArgs {
    /// TOML configuration file. Every option can also be set with CAIRN_* environment variables.
    #[arg(long, short, env = "CAIRN_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory for blobs and the embedded database [env: CAIRN_DATA_DIR] [default: ./cairn-data]
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on [env: CAIRN_LISTEN] [default: 127.0.0.1:5000]
    #[arg(long)]
    listen: Option<String>,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Replace the admin credential with a new random secret (printed once), or with one read from stdin.
    ResetPassword {
        #[command(flatten)]
        common: CommonArgs,
        /// Read the new secret from standard input instead of generating one (at least 16 characters).
        #[arg(long)]
        password_stdin: bool,
    },
}

fn load_config(common: &CommonArgs, listen: Option<&String>) -> anyhow::Result<Config> {
    // Flags win over the environment, which wins over the file.
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    if let Some(dir) = &common.data_dir {
        env.push((
            "CAIRN_DATA_DIR".into(),
            toml_string(&dir.display().to_string()),
        ));
    }
    if let Some(listen) = listen {
        env.push(("CAIRN_LISTEN".into(), toml_string(listen)));
    }
    Config::load(common.config.as_deref(), env)
}

/// Quotes a value so it is read as a TOML string whatever it contains
/// (Rust's debug quoting is a valid TOML basic string for these values).
fn toml_string(s: &str) -> String {
    format!("{s:?}")
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(&args.common, args.listen.as_ref())?;
    init_logging(&config.log_format);
    let listen = config.listen.clone();
    let data_dir = config.data_dir.clone();
    let app = App::build(config).await?;
    if let Some(secret) = &app.new_admin_secret {
        println!(
            "cairn: created the admin credential (shown only this once)\n  user: {}\n  password: {secret}\n\
             To replace it: cairn admin reset-password --data-dir {} (see docs/auth.md)",
            auth::ADMIN_USER,
            data_dir.display()
        );
    }
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, data_dir = %data_dir.display(), "cairn listening");
    cairn_server::run(listener, app, shutdown_signal()).await
}

async fn reset_password(common: CommonArgs, password_stdin: bool) -> anyhow::Result<()> {
    let config = load_config(&common, None)?;
    let (_, meta) = cairn_store::open(
        &config.data_dir,
        &config.storage,
        config.database_url.as_deref(),
    )
    .await?;
    let secret = if password_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        let s = s.trim_end_matches(['\n', '\r']).to_string();
        anyhow::ensure!(
            s.chars().count() >= 16,
            "the secret must have at least 16 characters"
        );
        s
    } else {
        auth::generate_secret()
    };
    meta.put_user(auth::ADMIN_USER, &auth::hash_secret(&secret))
        .await?;
    if password_stdin {
        println!("cairn: admin credential replaced");
    } else {
        println!(
            "cairn: new admin credential (shown only this once)\n  user: {}\n  password: {secret}",
            auth::ADMIN_USER
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
        Command::Admin(AdminCommand::ResetPassword {
            common,
            password_stdin,
        }) => reset_password(common, password_stdin).await,
    }
}
