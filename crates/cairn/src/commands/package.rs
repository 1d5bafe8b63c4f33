//! `cairn package`: pull back or restore a package version.

use super::{cli_actor, load_config, open_meta, CommonArgs};
use cairn_core::PackageRef;
use clap::{Args, Subcommand};

#[derive(Args)]
pub(crate) struct VersionArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// npm, pypi, cargo, go or maven
    #[arg(long)]
    format: String,
    /// The repository (the <repo> of /npm/<repo>/, /pypi/<repo>/, /cargo/<repo>/, /go/<repo>/, /maven/<repo>/)
    #[arg(long)]
    repository: String,
    package: String,
    version: String,
}

#[derive(Subcommand)]
pub(crate) enum PackageAction {
    /// Not chosen by resolvers for new dependencies; still downloadable by exact pin.
    Yank {
        #[command(flatten)]
        version: VersionArgs,
        #[arg(long)]
        reason: Option<String>,
    },
    Unyank {
        #[command(flatten)]
        version: VersionArgs,
    },
    /// Still installable; clients show the message.
    Deprecate {
        #[command(flatten)]
        version: VersionArgs,
        #[arg(long)]
        message: String,
    },
    Undeprecate {
        #[command(flatten)]
        version: VersionArgs,
    },
    /// Stop serving the bytes; the version can never be published again.
    Unpublish {
        #[command(flatten)]
        version: VersionArgs,
        /// Override the policy (window, dependents, disabled). Audited as an override.
        #[arg(long)]
        force: bool,
    },
}

pub(crate) async fn package_command(action: PackageAction) -> anyhow::Result<()> {
    use cairn_core::Transition as T;
    let (transition, args, force) = match action {
        PackageAction::Yank { version, reason } => (T::Yank { reason }, version, false),
        PackageAction::Unyank { version } => (T::Unyank, version, false),
        PackageAction::Deprecate { version, message } => (T::Deprecate { message }, version, false),
        PackageAction::Undeprecate { version } => (T::Undeprecate, version, false),
        PackageAction::Unpublish { version, force } => (T::Unpublish, version, force),
    };
    let format = cairn_core::Format::parse(&args.format).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown format {:?}: npm, pypi, cargo, go or maven",
            args.format
        )
    })?;
    let key = cairn_core::package_key(format, &args.package)?;
    let config = load_config(&args.common, None)?;
    let policy = config
        .packages
        .compile(Default::default())?
        .policy(format, &args.repository);
    let meta = open_meta(&args.common).await?;
    let state = meta
        .change_version(
            PackageRef::new(format, &args.repository, &key),
            &args.version,
            &transition,
            &policy,
            force,
            &cli_actor(),
        )
        .await?;
    super::report(
        serde_json::json!({
            "format": format.as_str(),
            "repository": args.repository,
            "package": key,
            "version": args.version,
            "state": state.as_str(),
        }),
        || {
            format!(
                "{format}/{} {key}@{}: {state}",
                args.repository, args.version
            )
        },
    );
    Ok(())
}
