//! `cairn repository`, `cairn proxy`, `cairn virtual`: the repositories a
//! running cairn serves (`GET /api/v1/repositories`), what a proxy holds
//! (`/api/v1/proxies/…/cache`) and an owner's exceptions in a virtual
//! repository (`/api/v1/virtuals/…/external`, `…/cooldown-exempt`).

use super::client::{format_and_name, print_answer, print_table, rows, ServerArgs};
use reqwest::Method;
use serde_json::json;

#[derive(clap::Subcommand)]
pub enum RepositoryCommand {
    /// Every repository you may read: hosted, proxy (with its upstream) and
    /// virtual (with its members).
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// What a hosted repository holds: an image repository's tags (newest
    /// first, with their digests), a package repository's packages.
    Show {
        /// FORMAT/NAME: oci/team/app, npm/main.
        repository: String,
        /// Only tags or packages starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
        #[arg(long, default_value_t = 500)]
        limit: u32,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(clap::Subcommand)]
pub enum ProxyCommand {
    /// What a proxy repository holds, in key order: each entry's status,
    /// size and when it was fetched and last checked; the upstream and
    /// whether its circuit breaker is open.
    Cache {
        /// The proxy: FORMAT/NAME (oci/NAME for an image proxy).
        repository: String,
        /// Only keys starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Keys after this one (the previous page's `next`).
        #[arg(long, default_value = "")]
        after: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Drop one cached entry: the next request for it fetches it again.
    Drop {
        /// The proxy: FORMAT/NAME.
        repository: String,
        /// The entry's key, as `cairn proxy cache` lists it.
        key: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(clap::Subcommand)]
pub enum VirtualCommand {
    /// Owners' exceptions to name ownership: packages whose versions the
    /// virtual repository's proxy members may still serve.
    External {
        #[command(subcommand)]
        change: Exception,
    },
    /// Exemptions from the cooldown (an urgent fix): a package's version, or
    /// every version, served before the cooldown ends.
    Exempt {
        #[command(subcommand)]
        change: Exception,
    },
}

#[derive(clap::Subcommand)]
pub enum Exception {
    /// The exceptions of a virtual repository.
    List {
        /// The virtual repository: FORMAT/NAME, e.g. npm/all.
        repository: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Add one (audited, with the reason).
    Add {
        repository: String,
        package: String,
        /// Only this version (exemptions from the cooldown only).
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Remove one.
    Remove {
        repository: String,
        package: String,
        /// Only this version's exemption.
        #[arg(long)]
        version: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub async fn repository_command(cmd: RepositoryCommand) -> anyhow::Result<()> {
    let (json, server) = match cmd {
        RepositoryCommand::List { json, server } => (json, server),
        RepositoryCommand::Show {
            repository,
            prefix,
            limit,
            json,
            server,
        } => {
            let (format, name) = format_and_name(&repository)?;
            let limit = limit.to_string();
            let answer = server
                .call(
                    Method::GET,
                    &["repository"],
                    &[
                        ("format", format),
                        ("name", name),
                        ("prefix", &prefix),
                        ("limit", &limit),
                    ],
                    None,
                )
                .await?;
            print_answer(&answer, json, |a| {
                if a["format"] == "oci" {
                    println!("{repository}: {} manifests", a["manifests"]);
                    let tags: Vec<serde_json::Value> = rows(a, "tags")
                        .iter()
                        .map(|t| {
                            let mut t = t.clone();
                            t["set"] = super::client::when(&t["updated_at"]).into();
                            t
                        })
                        .collect();
                    print_table(
                        &tags,
                        &[("TAG", "/tag"), ("DIGEST", "/digest"), ("SET", "/set")],
                    );
                } else {
                    for p in rows(a, "packages") {
                        println!("{}", p.as_str().unwrap_or_default());
                    }
                }
                if a["more"] == true {
                    println!("(more: narrow with --prefix or raise --limit)");
                }
            });
            return Ok(());
        }
    };
    let answer = server
        .call(Method::GET, &["repositories"], &[], None)
        .await?;
    print_answer(&answer, json, |a| {
        print_table(
            rows(a, "repositories"),
            &[
                ("FORMAT", "/format"),
                ("NAME", "/name"),
                ("KIND", "/kind"),
                ("UPSTREAM", "/upstream"),
                ("MEMBERS", "/members"),
            ],
        )
    });
    Ok(())
}

pub async fn proxy_command(cmd: ProxyCommand) -> anyhow::Result<()> {
    match cmd {
        ProxyCommand::Cache {
            repository,
            prefix,
            after,
            limit,
            json,
            server,
        } => {
            let (format, name) = format_and_name(&repository)?;
            let limit = limit.to_string();
            let answer = server
                .call(
                    Method::GET,
                    &["proxies", format, name, "cache"],
                    &[("prefix", &prefix), ("after", &after), ("limit", &limit)],
                    None,
                )
                .await?;
            print_answer(&answer, json, |a| {
                println!(
                    "{} ← {}: {} objects, {} bytes{}",
                    a["repository"].as_str().unwrap_or_default(),
                    a["upstream"].as_str().unwrap_or_default(),
                    a["cached_objects"],
                    a["cached_bytes"],
                    if a["circuit_open"] == true {
                        " (upstream failing: circuit open)"
                    } else {
                        ""
                    }
                );
                print_table(
                    rows(a, "entries"),
                    &[
                        ("KEY", "/key"),
                        ("STATUS", "/status"),
                        ("SIZE", "/size"),
                        ("FETCHED", "/fetched_at"),
                        ("CHECKED", "/checked_at"),
                    ],
                );
                if let Some(next) = a["next_after"].as_str() {
                    println!("more: --after '{next}'");
                }
            });
            Ok(())
        }
        ProxyCommand::Drop {
            repository,
            key,
            server,
        } => {
            let (format, name) = format_and_name(&repository)?;
            server
                .call(
                    Method::DELETE,
                    &["proxies", format, name, "cache", &key],
                    &[],
                    None,
                )
                .await?;
            super::report(json!({ "repository": repository, "dropped": key }), || {
                format!("dropped {key} from {repository}: the next request fetches it again")
            });
            Ok(())
        }
    }
}

pub async fn virtual_command(cmd: VirtualCommand) -> anyhow::Result<()> {
    let (segment, list_key, change) = match cmd {
        VirtualCommand::External { change } => ("external", "external", change),
        VirtualCommand::Exempt { change } => ("cooldown-exempt", "exempt", change),
    };
    match change {
        Exception::List {
            repository,
            json,
            server,
        } => {
            let (format, name) = format_and_name(&repository)?;
            let answer = server
                .call(Method::GET, &["virtuals", format, name, segment], &[], None)
                .await?;
            print_answer(&answer, json, |a| {
                print_table(
                    rows(a, list_key),
                    &[
                        ("PACKAGE", "/package"),
                        ("VERSION", "/version"),
                        ("BY", "/allowed_by"),
                        ("REASON", "/reason"),
                    ],
                )
            });
        }
        Exception::Add {
            repository,
            package,
            version,
            reason,
            server,
        } => {
            let (format, name) = format_and_name(&repository)?;
            if version.is_some() && segment == "external" {
                anyhow::bail!(
                    "an exception to name ownership is for every version: drop --version"
                );
            }
            let query: Vec<(&str, &str)> =
                version.iter().map(|v| ("version", v.as_str())).collect();
            let answer = server
                .call(
                    Method::PUT,
                    &["virtuals", format, name, segment, &package],
                    &query,
                    Some(json!({ "reason": reason })),
                )
                .await?;
            super::report(answer, || {
                format!("{repository}: {segment} {package} added")
            });
        }
        Exception::Remove {
            repository,
            package,
            version,
            server,
        } => {
            let (format, name) = format_and_name(&repository)?;
            let query: Vec<(&str, &str)> =
                version.iter().map(|v| ("version", v.as_str())).collect();
            server
                .call(
                    Method::DELETE,
                    &["virtuals", format, name, segment, &package],
                    &query,
                    None,
                )
                .await?;
            super::report(
                json!({ "repository": repository, "package": package, "removed": true }),
                || format!("{repository}: {segment} {package} removed"),
            );
        }
    }
    Ok(())
}
