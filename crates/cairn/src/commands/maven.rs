//! `cairn maven`: Maven staging repositories.

use super::{cli_actor, open_packages, CommonArgs};
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum MavenCommand {
    /// Staging repositories of a Maven repository (deployed to /maven/<repo>/-/staging/<id>/).
    Staging {
        #[command(flatten)]
        common: CommonArgs,
        /// The repository the staging repository releases into
        #[arg(long)]
        repository: String,
        /// list, close, release or drop
        action: String,
        /// The staging id (not for list)
        id: Option<String>,
    },
}

pub(crate) async fn maven_command(cmd: MavenCommand) -> anyhow::Result<()> {
    let MavenCommand::Staging {
        common,
        repository,
        action,
        id,
    } = cmd;
    let packages = open_packages(&common).await?;
    let actor = cli_actor();
    use cairn_maven::staging;
    let id = || {
        id.clone()
            .ok_or_else(|| anyhow::anyhow!("{action} needs a staging id"))
    };
    let done = match action.as_str() {
        "list" => {
            for s in staging::list(&packages, &repository).await? {
                println!("{}", staging::to_json(&s));
            }
            return Ok(());
        }
        "close" => staging::close(&packages, &actor, &repository, &id()?).await,
        "release" => staging::release(&packages, &actor, &repository, &id()?).await,
        "drop" => staging::drop(&packages, &actor, &repository, &id()?).await,
        other => anyhow::bail!("unknown action {other:?}: list, close, release or drop"),
    };
    let done = done.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", staging::to_json(&done));
    Ok(())
}
