//! `cairn quarantine`: what secret scanning holds back on a running cairn
//! (`GET /api/v1/quarantine`) and releasing it after review
//! (`POST /api/v1/quarantine/{digest}/release`, audited).

use super::client::{print_answer, print_table, rows, ServerArgs};
use reqwest::Method;
use serde_json::json;

#[derive(clap::Subcommand)]
pub enum QuarantineCommand {
    /// Every quarantined blob: where it was published, by whom, and the
    /// findings (file, line, rule; never the secret).
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Release a quarantined blob after review: it is served again.
    Release {
        /// The blob's digest, as `cairn quarantine list` shows it.
        digest: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub async fn quarantine_command(cmd: QuarantineCommand) -> anyhow::Result<()> {
    match cmd {
        QuarantineCommand::List { json, server } => {
            let answer = server.call(Method::GET, &["quarantine"], &[], None).await?;
            print_answer(&answer, json, |a| {
                print_table(
                    rows(a, "quarantined"),
                    &[
                        ("DIGEST", "/digest"),
                        ("REPOSITORY", "/repository"),
                        ("WHAT", "/what"),
                        ("BY", "/actor"),
                        ("FINDINGS", "/findings"),
                    ],
                )
            });
        }
        QuarantineCommand::Release { digest, server } => {
            server
                .call(Method::POST, &["quarantine", &digest, "release"], &[], None)
                .await?;
            super::report(json!({ "digest": digest, "released": true }), || {
                format!("released {digest}: it is served again")
            });
        }
    }
    Ok(())
}
