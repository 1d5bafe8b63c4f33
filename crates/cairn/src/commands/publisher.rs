//! `cairn publisher`: trusted publishers (OIDC identities allowed to publish).

use super::{cli_actor, open_meta, CommonArgs};
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum PublisherCommand {
    /// Register a trusted publisher for a repository (e.g. team/app, or
    /// npm/default for a package repository).
    Add {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long)]
        repository: String,
        /// Limit the publisher to one package of a package repository.
        #[arg(long)]
        package: Option<String>,
        /// The OIDC issuer, e.g. https://token.actions.githubusercontent.com
        #[arg(long)]
        issuer: String,
        /// The audience the CI job requests its token for.
        #[arg(long)]
        audience: String,
        /// A claim the token must carry exactly, NAME=VALUE (e.g. repository=org/app,
        /// job_workflow_ref=org/app/.github/workflows/release.yml@refs/heads/main). Repeatable.
        #[arg(long = "claim")]
        claims: Vec<String>,
    },
    /// List a repository's trusted publishers.
    List {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long)]
        repository: String,
    },
    /// In a CI job: exchange the job's OIDC token for a short-lived cairn
    /// token that may publish to REPOSITORY (printed on stdout), e.g.
    /// `export CAIRN_TOKEN=$(cairn publisher exchange npm/main --oidc-token-env ID_TOKEN --url …)`.
    Exchange {
        /// The repository to publish to (team/app, or npm/main).
        repository: String,
        /// Only this package of a package repository.
        #[arg(long)]
        package: Option<String>,
        /// The environment variable holding the CI job's OIDC token.
        #[arg(long)]
        oidc_token_env: String,
        #[command(flatten)]
        server: super::client::ServerArgs,
    },
}

pub(crate) async fn publisher_command(cmd: PublisherCommand) -> anyhow::Result<()> {
    match cmd {
        PublisherCommand::Exchange {
            repository,
            package,
            oidc_token_env,
            server,
        } => {
            use anyhow::Context;
            let token = std::env::var(&oidc_token_env)
                .with_context(|| format!("${oidc_token_env} is not set"))?;
            let answer = server
                .call(
                    reqwest::Method::POST,
                    &["oidc", "exchange"],
                    &[],
                    Some(serde_json::json!({ "token": token, "repository": repository, "package": package })),
                )
                .await?;
            super::client::print_answer(&answer, false, |a| {
                println!("{}", a["token"].as_str().unwrap_or_default());
                eprintln!(
                    "cairn: a token for {repository}, valid {} s",
                    a["expires_in"]
                );
            });
        }
        PublisherCommand::Add {
            common,
            repository,
            package,
            issuer,
            audience,
            claims,
        } => {
            let claims = claims
                .iter()
                .map(|c| {
                    c.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                })
                .collect::<Option<std::collections::BTreeMap<_, _>>>()
                .ok_or_else(|| anyhow::anyhow!("a claim is NAME=VALUE"))?;
            let record =
                cairn_server::oidc::new_publisher(repository, package, issuer, audience, claims)
                    .map_err(anyhow::Error::msg)?;
            open_meta(&common)
                .await?
                .add_publisher(&record, &cli_actor())
                .await?;
            if super::json_output(false) {
                println!("{}", serde_json::to_string(&record)?);
            } else {
                println!(
                    "cairn: trusted publisher {} for {}",
                    record.id, record.repository
                );
            }
        }
        PublisherCommand::List { common, repository } => {
            for p in open_meta(&common).await?.publishers(&repository).await? {
                if super::json_output(false) {
                    println!("{}", serde_json::to_string(&p)?);
                    continue;
                }
                println!(
                    "{} {} package={} aud={} {}",
                    p.id,
                    p.issuer,
                    p.package.as_deref().unwrap_or("*"),
                    p.audience,
                    serde_json::to_string(&p.claims)?
                );
            }
        }
    }
    Ok(())
}
