//! `cairn warm`: fetches everything lockfiles name through a proxy or
//! virtual repository of a running cairn (`cairn-warm` does the work),
//! printing progress on stderr and what was not warmed on stdout.

use anyhow::Context;
use cairn_warm::{Kind, Outcome, Warmer};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(clap::Args)]
pub struct WarmArgs {
    /// Lockfiles or lists to warm from: package-lock.json, npm-shrinkwrap.json,
    /// requirements*.txt (with --hash), uv.lock, Cargo.lock, go.sum; with
    /// --format, a Maven coordinates list or an image list.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The repository to fetch through (a proxy or virtual repository of the
    /// file's format; for OCI, its prefix).
    #[arg(long, short)]
    repository: String,
    /// The format of the files, when their names do not say it.
    #[arg(long, value_parser = parse_kind)]
    format: Option<Kind>,
    #[command(flatten)]
    server: super::client::ServerArgs,
    /// How many items are fetched at once.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
}

pub async fn warm(args: WarmArgs) -> anyhow::Result<()> {
    let auth = args.server.authorization()?;
    let mut items = Vec::new();
    for file in &args.files {
        let name = file.display().to_string();
        let kind = args
            .format
            .or_else(|| Kind::of_file(&name))
            .with_context(|| format!("{name}: say its format with --format"))?;
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {name}"))?;
        let read = cairn_warm::read(kind, &name, &text)?;
        eprintln!("{name}: {} {} item(s)", read.len(), kind.as_str());
        items.extend(read);
    }
    let warmer = Warmer::new(&args.server.base(), &args.repository, auth)?;
    let total = items.len();
    let done = AtomicUsize::new(0);
    // A bar on a terminal (what was not warmed printed above it); else a line each.
    let bar = super::progress_bar(total as u64, "warm");
    let results = warmer
        .run(items, args.jobs, |item, outcome| {
            let n = done.fetch_add(1, Ordering::SeqCst) + 1;
            if bar.is_hidden() {
                eprintln!("[{n}/{total}] {} {}", item.label(), outcome.word());
            } else {
                if !matches!(outcome, Outcome::Ok) {
                    bar.println(format!("{} {}", item.label(), outcome.word()));
                }
                bar.inc(1);
            }
        })
        .await;
    bar.finish_and_clear();
    let count = |w: &str| results.iter().filter(|(_, o)| o.word() == w).count();
    println!(
        "warmed {} of {total}: {} missing, {} refused, {} mismatched, {} failed",
        count("ok"),
        count("missing"),
        count("refused"),
        count("mismatch"),
        count("failed")
    );
    let mut problems: Vec<&(String, Outcome)> = results
        .iter()
        .filter(|(_, o)| !matches!(o, Outcome::Ok))
        .collect();
    problems.sort_by(|a, b| a.0.cmp(&b.0));
    for (label, outcome) in &problems {
        if let Some(why) = outcome.message() {
            println!("{} {label}: {why}", outcome.word());
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{} of {total} item(s) not warmed", problems.len())
    }
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s).ok_or_else(|| format!("{s:?}: use npm, pypi, cargo, go, maven or oci"))
}
