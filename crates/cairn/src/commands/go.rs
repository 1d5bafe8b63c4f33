//! `cairn go`: store a Go module version from a git tag or a module zip;
//! print a hosted repository's checksum database key.

use super::{cli_actor, load_config, open_meta, open_packages, CommonArgs};
use clap::{Args, Subcommand};

#[derive(Args)]
pub(crate) struct GoVersionArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The repository (the <repo> of /go/<repo>/)
    #[arg(long)]
    repository: String,
    /// The module path, e.g. example.com/lib
    #[arg(long)]
    module: String,
    /// The version, e.g. v1.2.3
    #[arg(long)]
    version: String,
}

#[derive(Subcommand)]
pub(crate) enum GoCommand {
    /// Store MODULE@VERSION from the tag VERSION (or --tag) of a git repository
    /// (any URL git fetches: https://, ssh://, file://). A stored version never changes.
    Publish {
        #[command(flatten)]
        version: GoVersionArgs,
        #[arg(long)]
        git: String,
        /// The tag (default: the version, or DIR/VERSION with --dir)
        #[arg(long)]
        tag: Option<String>,
        /// The module's directory in the repository (default: the root)
        #[arg(long)]
        dir: Option<String>,
    },
    /// Store MODULE@VERSION from a module zip (files under MODULE@VERSION/).
    Upload {
        #[command(flatten)]
        version: GoVersionArgs,
        zip: std::path::PathBuf,
    },
    /// Print the GOSUMDB value of a hosted repository's checksum database
    /// (its name and verifier key): with GOPROXY=<cairn>/go/<repo>, the go
    /// command then checks every module it fetches there against it.
    SumdbKey {
        #[command(flatten)]
        common: CommonArgs,
        /// The repository (the <repo> of /go/<repo>/)
        #[arg(long)]
        repository: String,
    },
}

pub(crate) async fn go_command(cmd: GoCommand) -> anyhow::Result<()> {
    let (args, published) = match cmd {
        GoCommand::SumdbKey { common, repository } => {
            let config = load_config(&common, None)?;
            let meta = open_meta(&common).await?;
            let db = config.go_sumdb(meta.as_ref()).await?;
            println!("{}", db.signer(&repository).verifier_key());
            return Ok(());
        }
        GoCommand::Publish {
            version,
            git,
            tag,
            dir,
        } => {
            let packages = open_packages(&version.common).await?;
            let published = cairn_go::publish_from_git(
                &packages,
                &cli_actor(),
                &version.repository,
                &version.module,
                &version.version,
                &cairn_go::GitSource { git, tag, dir },
                &cairn_packages::GitSources::operator(),
            )
            .await;
            (version, published)
        }
        GoCommand::Upload { version, zip } => {
            let packages = open_packages(&version.common).await?;
            let bytes = std::fs::read(&zip)?;
            let files = cairn_go::modzip::read(&version.module, &version.version, &bytes)?;
            let published = cairn_go::publish_files(
                &packages,
                &cli_actor(),
                &version.repository,
                &version.module,
                &version.version,
                files,
                serde_json::json!({"upload": true}),
            )
            .await;
            (version, published)
        }
    };
    let (what, h1, go_mod_h1) = match published.map_err(|e| anyhow::anyhow!("{e}"))? {
        cairn_go::Published::New { h1, go_mod_h1 } => ("stored", h1, go_mod_h1),
        cairn_go::Published::Identical { h1, go_mod_h1 } => ("already stored", h1, go_mod_h1),
    };
    println!(
        "go/{}: {}@{} {what}\n{} {} {h1}\n{} {}/go.mod {go_mod_h1}",
        args.repository,
        args.module,
        args.version,
        args.module,
        args.version,
        args.module,
        args.version
    );
    Ok(())
}
