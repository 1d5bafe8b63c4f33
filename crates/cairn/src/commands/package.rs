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
    /// A package on a running cairn: its versions newest first with their
    /// state and message, when each was published and by whom, its files
    /// with their digests, and its dist-tags.
    Show {
        /// npm, pypi, cargo, go or maven
        #[arg(long)]
        format: String,
        #[arg(long)]
        repository: String,
        package: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: super::client::ServerArgs,
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
        PackageAction::Show {
            format,
            repository,
            package,
            json,
            server,
        } => return show(&format, &repository, &package, json, &server).await,
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

async fn show(
    format: &str,
    repository: &str,
    package: &str,
    json: bool,
    server: &super::client::ServerArgs,
) -> anyhow::Result<()> {
    use super::client::{print_answer, print_table, rows, when};
    let answer = server
        .call(
            reqwest::Method::GET,
            &["packages", format, repository, package],
            &[],
            None,
        )
        .await?;
    print_answer(&answer, json, |a| {
        println!(
            "{} {} in {}",
            a["format"].as_str().unwrap_or_default(),
            a["name"].as_str().unwrap_or_default(),
            a["repository"].as_str().unwrap_or_default()
        );
        if let Some(tags) = a["tags"].as_object().filter(|t| !t.is_empty()) {
            let tags: Vec<String> = tags
                .iter()
                .map(|(t, v)| format!("{t} → {}", super::client::cell(v)))
                .collect();
            println!("dist-tags: {}", tags.join(", "));
        }
        let versions: Vec<serde_json::Value> = rows(a, "versions")
            .iter()
            .map(|v| {
                let mut v = v.clone();
                v["published"] = when(&v["published_at"]).into();
                v["files"] = v["files"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| {
                        format!(
                            "{} ({} bytes)",
                            super::client::cell(&f["filename"]),
                            f["size"]
                        )
                        .into()
                    })
                    .collect::<Vec<serde_json::Value>>()
                    .into();
                v
            })
            .collect();
        print_table(
            &versions,
            &[
                ("VERSION", "/version"),
                ("STATE", "/state"),
                ("MESSAGE", "/message"),
                ("PUBLISHED", "/published"),
                ("BY", "/publisher/user"),
                ("FILES", "/files"),
            ],
        );
    });
    Ok(())
}
