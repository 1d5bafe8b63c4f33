//! `cairn token`: API tokens, through the identity service (as the operator).

use super::{cli_actor, open_identity, CommonArgs};
use cairn_server::identity::Manager;
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token for a user; it can never do more than the user.
    Create {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long)]
        user: String,
        /// A scope, PATTERN:ACTIONS. Repeatable; at least one.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Days until it expires (never, if omitted).
        #[arg(long)]
        expires_in_days: Option<u64>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by id.
    Revoke {
        #[command(flatten)]
        common: CommonArgs,
        id: String,
    },
}

pub(crate) async fn token_command(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create {
            common,
            user,
            scopes,
            expires_in_days,
            description,
        } => {
            let ttl = expires_in_days.map(|d| d * 86_400);
            let (record, token) = open_identity(&common)
                .await?
                .create_token(
                    Manager::Operator,
                    &cli_actor(),
                    Some(&user),
                    &description,
                    &scopes,
                    ttl,
                )
                .await?;
            if super::json_output(false) {
                let mut out = serde_json::to_value(&record)?;
                out["token"] = serde_json::json!(token);
                println!("{out}");
            } else {
                println!(
                    "cairn: token {} for {user} (shown only this once)\n  token: {token}",
                    record.id
                );
            }
        }
        TokenCommand::List { common, user } => {
            let tokens = open_identity(&common)
                .await?
                .list_tokens(Manager::Operator, user.as_deref())
                .await?;
            if super::json_output(false) {
                for t in &tokens {
                    println!("{}", serde_json::to_string(t)?);
                }
                return Ok(());
            }
            println!(
                "{:<18} {:<12} {:<8} {:<12} {:<12} scopes",
                "id", "user", "state", "created", "expires"
            );
            for t in tokens {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                let expires = t
                    .expires_at
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "never".into());
                println!(
                    "{:<18} {:<12} {:<8} {:<12} {:<12} {}",
                    t.id,
                    t.user,
                    state,
                    t.created_at,
                    expires,
                    t.scopes.join(" ")
                );
            }
        }
        TokenCommand::Revoke { common, id } => {
            open_identity(&common)
                .await?
                .revoke_token(Manager::Operator, &cli_actor(), &id)
                .await?;
            if super::json_output(false) {
                println!("{}", serde_json::json!({ "id": id, "revoked": true }));
            } else {
                println!("cairn: token {id} revoked");
            }
        }
    }
    Ok(())
}
