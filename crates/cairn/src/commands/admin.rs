//! `cairn admin`: recovery tasks on the configured stores.

use super::{cli_actor, load_config, CommonArgs};
use cairn_server::auth;
use clap::Subcommand;
use std::io::Read;

#[derive(Subcommand)]
pub(crate) enum AdminCommand {
    /// Replace the admin credential with a new random secret (printed once), or with one read from stdin.
    ResetPassword {
        #[command(flatten)]
        common: CommonArgs,
        /// Read the new secret from standard input instead of generating one (at least 16 characters).
        #[arg(long)]
        password_stdin: bool,
    },
}

pub(crate) async fn reset_password(common: CommonArgs, password_stdin: bool) -> anyhow::Result<()> {
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
    meta.put_user(auth::ADMIN_USER, &auth::hash_secret(&secret), &cli_actor())
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
