//! `cairn npm rotate-key`: a new npm registry signing key. The old one stays
//! listed at `/-/npm/v1/keys` with its `expires`, so installs of versions
//! published before keep verifying; running servers sign with the new key
//! within a minute.

use super::{open_meta, CommonArgs};
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum NpmCommand {
    /// Replace the registry's signing key (the old one expires now and
    /// stays listed); prints the new key id.
    RotateKey {
        #[command(flatten)]
        common: CommonArgs,
    },
}

pub(crate) async fn npm_command(cmd: NpmCommand) -> anyhow::Result<()> {
    let NpmCommand::RotateKey { common } = cmd;
    let meta = open_meta(&common).await?;
    let (old, new) = cairn_server::rotate_npm_key(meta.as_ref()).await?;
    println!("npm registry key rotated: {new} signs from now on ({old} expires now)");
    Ok(())
}
