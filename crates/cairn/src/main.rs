//! The cairn binary: `cairn serve` runs the registry; the other subcommands
//! manage it on its stores. One file per subcommand under `commands/`.

mod commands;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    commands::Cli::parse().run().await
}
