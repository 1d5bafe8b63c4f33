//! `cairn sbom`: ask a running cairn which artifacts contain a package
//! (`query`, over `GET /api/v1/components`), list a subject's SBOMs
//! (`list`) and attach an SBOM to a package version (`attach`, over
//! `PUT /api/v1/sboms`). Images get theirs as referrers (oras attach,
//! cosign attach sbom), indexed on push.

use super::client::ServerArgs;
use anyhow::Context;
use serde_json::Value;

#[derive(clap::Subcommand)]
pub enum SbomCommand {
    /// Every artifact whose SBOM names a matching component, e.g.
    /// `cairn sbom query pkg:maven/org.apache.logging.log4j/log4j-core --range 'vers:maven/>=2.0.0|<2.17.1'`.
    Query(QueryArgs),
    /// The SBOMs indexed for an image (`oci REPOSITORY DIGEST`) or a package
    /// version (`FORMAT REPOSITORY PACKAGE VERSION`).
    List(ListArgs),
    /// Attach an SPDX or CycloneDX JSON file to a package version.
    Attach(AttachArgs),
    /// Fetch an SBOM document as it was attached, for an image
    /// (`oci REPOSITORY DIGEST`) or a package version (`FORMAT REPOSITORY
    /// PACKAGE VERSION`); `--digest` picks one when there are several.
    Get(GetArgs),
    /// Remove an SBOM attached to a package version (`--digest`, as `cairn
    /// sbom list` shows it); an image's SBOM goes with its referrer.
    Remove(RemoveArgs),
}

#[derive(clap::Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    subject: ListArgs,
    /// The document's digest (as `cairn sbom list` shows it).
    #[arg(long)]
    digest: String,
}

#[derive(clap::Args)]
pub struct GetArgs {
    #[command(flatten)]
    subject: ListArgs,
    /// The document's digest (as `cairn sbom list` shows it).
    #[arg(long)]
    digest: Option<String>,
    /// Write it here instead of to standard output.
    #[arg(long = "out", short = 'o')]
    out: Option<std::path::PathBuf>,
}

#[derive(clap::Args)]
pub struct QueryArgs {
    /// `pkg:TYPE/NAME` (a version after `@` asks for that one), or with
    /// --prefix the purl type alone (`maven`).
    purl: String,
    /// Versions to match, in vers notation (`vers:npm/>=1.0.0|<1.2.3`).
    #[arg(long)]
    range: Option<String>,
    /// Every name starting with this (with a purl type as the first argument).
    #[arg(long)]
    prefix: Option<String>,
    /// Answers per request (the command follows every page).
    #[arg(long, default_value_t = 500)]
    page_size: u32,
    /// Print the server's JSON answers, one per page.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// `oci` or a package format.
    format: String,
    repository: String,
    /// The manifest digest (oci) or the package name.
    subject: String,
    /// The package version.
    version: Option<String>,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(clap::Args)]
pub struct AttachArgs {
    /// The SBOM document (SPDX 2.x or CycloneDX 1.x JSON).
    file: std::path::PathBuf,
    /// npm, pypi, cargo, go or maven.
    #[arg(long)]
    format: String,
    #[arg(long)]
    repository: String,
    #[arg(long)]
    package: String,
    #[arg(long)]
    version: String,
    #[command(flatten)]
    server: ServerArgs,
}

pub async fn sbom_command(cmd: SbomCommand) -> anyhow::Result<()> {
    match cmd {
        SbomCommand::Query(args) => query(args).await,
        SbomCommand::List(args) => list(args).await,
        SbomCommand::Attach(args) => attach(args).await,
        SbomCommand::Get(args) => get(args).await,
        SbomCommand::Remove(args) => remove(args).await,
    }
}

async fn remove(args: RemoveArgs) -> anyhow::Result<()> {
    let mut url = subject_url(&args.subject, "sboms")?;
    url.query_pairs_mut().append_pair("digest", &args.digest);
    args.subject
        .server
        .send(reqwest::Client::new().delete(url))
        .await?;
    super::report(
        serde_json::json!({ "removed": true, "digest": args.digest }),
        || {
            format!(
                "removed the SBOM {} of {} {} {}",
                args.digest, args.subject.format, args.subject.repository, args.subject.subject
            )
        },
    );
    Ok(())
}

async fn query(args: QueryArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let mut cursor: Option<String> = None;
    let mut count = 0;
    loop {
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/components", args.server.base()))?;
        {
            let mut q = url.query_pairs_mut();
            match &args.prefix {
                Some(prefix) => {
                    q.append_pair("type", &args.purl);
                    q.append_pair("prefix", prefix);
                }
                None => {
                    q.append_pair("purl", &args.purl);
                }
            }
            if let Some(r) = &args.range {
                q.append_pair("range", r);
            }
            q.append_pair("limit", &args.page_size.to_string());
            if let Some(c) = &cursor {
                q.append_pair("cursor", c);
            }
        }
        let page = args.server.send_json(client.get(url)).await?;
        if super::json_output(args.json) {
            println!("{page}");
        } else {
            for r in page["results"].as_array().into_iter().flatten() {
                count += 1;
                let a = &r["artifact"];
                let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
                let what = if s(&a["format"]) == "oci" {
                    let tags: Vec<String> =
                        a["tags"].as_array().into_iter().flatten().map(s).collect();
                    format!(
                        "oci {}@{} [{}]",
                        s(&a["repository"]),
                        s(&a["digest"]),
                        tags.join(", ")
                    )
                } else {
                    format!(
                        "{} {} {} {}",
                        s(&a["format"]),
                        s(&a["repository"]),
                        s(&a["package"]),
                        s(&a["version"])
                    )
                };
                println!(
                    "{}\t{what}\t(SBOM {})",
                    s(&r["component"]["purl"]),
                    s(&r["sbom"]["digest"])
                );
            }
        }
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    if !super::json_output(args.json) {
        eprintln!("{count} artifacts");
    }
    Ok(())
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let url = subject_url(&args, "sboms")?;
    let answer = args
        .server
        .send_json(reqwest::Client::new().get(url))
        .await?;
    super::client::print_answer(&answer, false, |a| {
        super::client::print_table(
            super::client::rows(a, "sboms"),
            &[
                ("DIGEST", "/digest"),
                ("FORMAT", "/sbom_format"),
                ("SPEC", "/spec_version"),
                ("COMPONENTS", "/components"),
                ("SOURCE", "/source"),
            ],
        )
    });
    Ok(())
}

async fn get(args: GetArgs) -> anyhow::Result<()> {
    let server = &args.subject.server;
    let digest = match args.digest {
        Some(d) => d,
        None => {
            let listed = server
                .send_json(reqwest::Client::new().get(subject_url(&args.subject, "sboms")?))
                .await?;
            let digests: Vec<String> = listed["sboms"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["digest"].as_str().map(str::to_string))
                .collect();
            match digests.as_slice() {
                [one] => one.clone(),
                [] => anyhow::bail!("no SBOM is indexed for it"),
                many => anyhow::bail!(
                    "it has {} SBOMs: name one with --digest ({})",
                    many.len(),
                    many.join(", ")
                ),
            }
        }
    };
    let mut url = subject_url(&args.subject, "sboms/document")?;
    url.query_pairs_mut().append_pair("digest", &digest);
    let bytes = server.send(reqwest::Client::new().get(url)).await?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "{digest}: {} bytes written to {}",
                bytes.len(),
                path.display()
            );
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(())
}

/// `/api/v1/PATH?format=&repository=&…` naming the subject of `args`.
fn subject_url(args: &ListArgs, path: &str) -> anyhow::Result<reqwest::Url> {
    let mut url = reqwest::Url::parse(&format!("{}/api/v1/{path}", args.server.base()))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("format", &args.format)
            .append_pair("repository", &args.repository);
        if args.format == "oci" {
            q.append_pair("subject", &args.subject);
        } else {
            q.append_pair("package", &args.subject);
            q.append_pair(
                "version",
                args.version
                    .as_deref()
                    .context("a package version is needed")?,
            );
        }
    }
    Ok(url)
}

async fn attach(args: AttachArgs) -> anyhow::Result<()> {
    let body =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let mut url = reqwest::Url::parse(&format!("{}/api/v1/sboms", args.server.base()))?;
    url.query_pairs_mut()
        .append_pair("format", &args.format)
        .append_pair("repository", &args.repository)
        .append_pair("package", &args.package)
        .append_pair("version", &args.version);
    let req = reqwest::Client::new()
        .put(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    let record = args.server.send_json(req).await?;
    println!(
        "attached {} {} ({} components, {} skipped) to {} {}@{}",
        record["sbom_format"].as_str().unwrap_or_default(),
        record["digest"].as_str().unwrap_or_default(),
        record["components"],
        record["skipped"],
        args.format,
        args.package,
        args.version
    );
    Ok(())
}
