//! `cairn vuln`: vulnerability data, offline. `import` reads OSV advisories
//! (an ecosystem's `all.zip` from osv.dev, a directory of OSV JSON files, or
//! single files) into the configured stores; `affected` and `findings` ask
//! a running cairn which artifacts an advisory affects and what affects an
//! artifact or a repository (`GET /api/v1/advisories/{id}`,
//! `GET /api/v1/findings`).

use super::client::ServerArgs;
use super::{open_meta, CommonArgs};
use anyhow::{bail, Context};
use cairn_core::advisory::{parse_osv, Advisory};
use cairn_store::advisory::AdvisorySource;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum VulnCommand {
    /// Import OSV advisories: zip archives (osv.dev's per-ecosystem all.zip),
    /// directories of OSV JSON files, or files. Advisories already stored
    /// with the same `modified` time are left as they are.
    Import(ImportArgs),
    /// Which artifacts an advisory (or one of its aliases' ids) affects.
    Affected(AffectedArgs),
    /// What affects an image, a package version or a whole repository.
    Findings(FindingsArgs),
    /// Accepted advisories: an advisory that is no reason to refuse in the
    /// repositories a pattern covers, until it expires.
    #[command(subcommand)]
    Exception(ExceptionCommand),
}

#[derive(clap::Subcommand)]
pub enum ExceptionCommand {
    /// Every exception, with its pattern, reason and expiry.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Accept ADVISORY in REPOSITORIES (a pattern: `npm/*`, `prod/**`)
    /// until --expires (RFC 3339; every exception expires). Audited.
    Set {
        advisory: String,
        repositories: String,
        #[arg(long)]
        reason: String,
        /// e.g. 2027-03-31T00:00:00Z.
        #[arg(long)]
        expires: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Remove the exception of ADVISORY for REPOSITORIES.
    Remove {
        advisory: String,
        repositories: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// Zip archives, directories or JSON files in the OSV schema.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Where the data came from (kept with each advisory); default: the path.
    #[arg(long)]
    source: Option<String>,
    /// The data's licence and attribution (kept with each advisory); by
    /// default it is worked out from the advisory's id prefix (GHSA, PYSEC,
    /// RUSTSEC, GO).
    #[arg(long)]
    licence: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(clap::Args)]
pub struct AffectedArgs {
    /// The advisory id, e.g. GHSA-jfh8-c2jp-5v3q.
    id: String,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(clap::Args)]
pub struct FindingsArgs {
    /// `oci` or a package format.
    format: String,
    repository: String,
    /// A manifest digest (oci) or a package name; none: the whole repository.
    subject: Option<String>,
    /// The package version.
    version: Option<String>,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

pub async fn vuln_command(cmd: VulnCommand) -> anyhow::Result<()> {
    match cmd {
        VulnCommand::Import(args) => import(args).await,
        VulnCommand::Affected(args) => affected(args).await,
        VulnCommand::Findings(args) => findings(args).await,
        VulnCommand::Exception(cmd) => exception(cmd).await,
    }
}

async fn exception(cmd: ExceptionCommand) -> anyhow::Result<()> {
    use reqwest::Method;
    use serde_json::json;
    match cmd {
        ExceptionCommand::List { json, server } => {
            let answer = server
                .call(Method::GET, &["vuln-exceptions"], &[], None)
                .await?;
            super::client::print_answer(&answer, json, |a| {
                let listed: Vec<Value> = super::client::rows(a, "exceptions")
                    .iter()
                    .map(|e| {
                        let mut e = e.clone();
                        e["expires"] = super::client::when(&e["expires_at"]).into();
                        e
                    })
                    .collect();
                super::client::print_table(
                    &listed,
                    &[
                        ("ADVISORY", "/advisory"),
                        ("REPOSITORIES", "/repositories"),
                        ("EXPIRES", "/expires"),
                        ("REASON", "/reason"),
                    ],
                )
            });
        }
        ExceptionCommand::Set {
            advisory,
            repositories,
            reason,
            expires,
            server,
        } => {
            let answer = server
                .call(
                    Method::PUT,
                    &["vuln-exceptions"],
                    &[("advisory", &advisory), ("repositories", &repositories)],
                    Some(json!({ "reason": reason, "expires": expires })),
                )
                .await?;
            super::report(answer, || {
                format!("{advisory} accepted in {repositories} until {expires}")
            });
        }
        ExceptionCommand::Remove {
            advisory,
            repositories,
            server,
        } => {
            server
                .call(
                    Method::DELETE,
                    &["vuln-exceptions"],
                    &[("advisory", &advisory), ("repositories", &repositories)],
                    None,
                )
                .await?;
            super::report(
                json!({ "advisory": advisory, "repositories": repositories, "removed": true }),
                || format!("removed the exception of {advisory} for {repositories}"),
            );
        }
    }
    Ok(())
}

/// The licence of an advisory database, from its id prefix.
fn licence_of(id: &str) -> &'static str {
    match id.split('-').next().unwrap_or_default() {
        "GHSA" => "CC-BY-4.0 (GitHub Advisory Database)",
        "PYSEC" => "CC-BY-4.0 (PyPA Advisory Database)",
        "RUSTSEC" => "CC0-1.0 (RustSec Advisory Database)",
        "GO" => "CC-BY-4.0 (Go Vulnerability Database)",
        _ => "unknown (see the source)",
    }
}

/// The largest OSV document read (an archive's entries are checked by
/// their declared and their actual size).
const MAX_DOCUMENT: u64 = 16 << 20;

/// Every OSV document under `path`, as (name, bytes).
fn documents(path: &Path, out: &mut Vec<(String, Vec<u8>)>) -> anyhow::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for entry in entries {
            if entry.is_dir() || entry.extension().is_some_and(|e| e == "json" || e == "zip") {
                documents(&entry, out)?;
            }
        }
    } else if path.extension().is_some_and(|e| e == "zip") {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut archive =
            zip::ZipArchive::new(file).with_context(|| format!("reading {}", path.display()))?;
        for i in 0..archive.len() {
            let entry = archive.by_index(i)?;
            if !entry.name().ends_with(".json") {
                continue;
            }
            if entry.size() > MAX_DOCUMENT {
                bail!(
                    "{}: {} is larger than {MAX_DOCUMENT} bytes",
                    path.display(),
                    entry.name()
                );
            }
            let name = format!("{}:{}", path.display(), entry.name());
            let mut bytes = Vec::new();
            entry.take(MAX_DOCUMENT + 1).read_to_end(&mut bytes)?;
            if bytes.len() as u64 > MAX_DOCUMENT {
                bail!("{name} inflates past {MAX_DOCUMENT} bytes");
            }
            out.push((name, bytes));
        }
    } else {
        let meta =
            std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        if meta.len() > MAX_DOCUMENT {
            bail!("{} is larger than {MAX_DOCUMENT} bytes", path.display());
        }
        out.push((path.display().to_string(), std::fs::read(path)?));
    }
    Ok(())
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let meta = open_meta(&args.common).await?;
    let (mut added, mut updated, mut unchanged, mut refused) = (0, 0, 0, 0u64);
    for path in &args.paths {
        let mut docs = Vec::new();
        documents(path, &mut docs)?;
        let source = args
            .source
            .clone()
            .unwrap_or_else(|| format!("osv:{}", path.display()));
        // One batch per licence, so each advisory keeps its own.
        let mut batches: BTreeMap<String, Vec<Advisory>> = BTreeMap::new();
        for (name, bytes) in &docs {
            match parse_osv(bytes) {
                Ok(a) => {
                    let licence = args
                        .licence
                        .clone()
                        .unwrap_or_else(|| licence_of(&a.id).to_string());
                    batches.entry(licence).or_default().push(a);
                }
                Err(e) => {
                    refused += 1;
                    if refused <= 5 {
                        eprintln!("vuln import: {name}: {e}");
                    }
                }
            }
        }
        let bar = super::progress_bar(
            batches.values().map(|a| a.len() as u64).sum(),
            "vuln import",
        );
        for (licence, advisories) in batches {
            let from = AdvisorySource {
                source: source.clone(),
                licence,
            };
            for chunk in advisories.chunks(500) {
                let c = meta.import_advisories(chunk, &from).await?;
                added += c.added;
                updated += c.updated;
                unchanged += c.unchanged;
                bar.inc(chunk.len() as u64);
                if bar.is_hidden() {
                    eprintln!(
                        "vuln import: {}: {} advisories read",
                        path.display(),
                        added + updated + unchanged
                    );
                }
            }
        }
        bar.finish_and_clear();
    }
    println!("{added} added, {updated} updated, {unchanged} unchanged, {refused} not readable");
    if refused > 0 && added + updated + unchanged == 0 {
        bail!("nothing readable was found");
    }
    Ok(())
}

fn print_findings(findings: &Value) {
    for f in findings.as_array().into_iter().flatten() {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let a = &f["artifact"];
        let what = if s(&a["format"]) == "oci" {
            format!("oci {}@{}", s(&a["repository"]), s(&a["subject"]))
        } else {
            format!(
                "{} {} {}@{}",
                s(&a["format"]),
                s(&a["repository"]),
                s(&a["subject"]),
                s(&a["version"])
            )
        };
        let via = match f["sbom"].as_str() {
            Some(sbom) => format!("{} in SBOM {sbom}", s(&f["purl"])),
            None => "the package itself".into(),
        };
        println!(
            "{}\t{}\t{what}\t{} {}\t({via}; {})",
            s(&f["advisory"]["id"]),
            s(&f["advisory"]["severity"]),
            s(&f["name"]),
            s(&f["version"]),
            s(&f["advisory"]["licence"])
        );
    }
}

async fn affected(args: AffectedArgs) -> anyhow::Result<()> {
    let url = reqwest::Url::parse(&format!(
        "{}/api/v1/advisories/{}",
        args.server.base(),
        args.id
    ))?;
    let answer = args
        .server
        .send_json(reqwest::Client::new().get(url))
        .await?;
    if super::json_output(args.json) {
        println!("{answer}");
        return Ok(());
    }
    let a = &answer["advisory"];
    println!(
        "{} ({}): {}",
        a["id"].as_str().unwrap_or_default(),
        a["severity"].as_str().unwrap_or_default(),
        a["summary"].as_str().unwrap_or_default()
    );
    print_findings(&answer["findings"]);
    Ok(())
}

async fn findings(args: FindingsArgs) -> anyhow::Result<()> {
    let mut url = reqwest::Url::parse(&format!("{}/api/v1/findings", args.server.base()))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("format", &args.format)
            .append_pair("repository", &args.repository);
        match (&args.subject, args.format.as_str()) {
            (Some(s), "oci") => {
                q.append_pair("subject", s);
            }
            (Some(p), _) => {
                q.append_pair("package", p);
                q.append_pair(
                    "version",
                    args.version
                        .as_deref()
                        .context("a package version is needed")?,
                );
            }
            (None, _) => {}
        }
    }
    let answer = args
        .server
        .send_json(reqwest::Client::new().get(url))
        .await?;
    if super::json_output(args.json) {
        println!("{answer}");
    } else {
        print_findings(&answer["findings"]);
    }
    Ok(())
}
