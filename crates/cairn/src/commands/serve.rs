//! `cairn serve`: run the registry until SIGTERM or Ctrl-C, then drain.

use super::{load_config, CommonArgs};
use anyhow::Context;
use cairn_server::{auth, App};
use clap::Args;

#[derive(Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on [env: CAIRN_LISTEN] [default: 127.0.0.1:5000]
    #[arg(long)]
    listen: Option<String>,
}

pub(crate) fn init_logging(format: &str) {
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

pub(crate) async fn shutdown_signal() {
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

pub(crate) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
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
