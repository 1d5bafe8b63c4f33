//! `cairn search`: find artifacts across every format and repository the
//! caller may read (`GET /api/v1/search`): by name, digest prefix, purl,
//! version, or a label or annotation (`key=value`).

use super::client::{print_answer, print_table, ServerArgs};
use reqwest::Method;
use serde_json::Value;

#[derive(clap::Args)]
pub struct SearchArgs {
    /// A name, a digest (any prefix of it), a purl (pkg:npm/left-pad@1.3.0),
    /// a version, or key=value for a label or annotation.
    query: String,
    /// At most this many hits.
    #[arg(long, default_value_t = 50)]
    limit: u32,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

pub async fn search(args: SearchArgs) -> anyhow::Result<()> {
    let limit = args.limit.to_string();
    let answer = args
        .server
        .call(
            Method::GET,
            &["search"],
            &[("q", &args.query), ("limit", &limit)],
            None,
        )
        .await?;
    print_answer(&answer, args.json, |a| {
        let hits: Vec<Value> = a["hits"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| {
                let mut h = h.clone();
                // An image hit has no name; its repository names it.
                if h["name"].as_str().unwrap_or_default().is_empty() {
                    h["name"] = h["repository"].clone();
                }
                h
            })
            .collect();
        print_table(
            &hits,
            &[
                ("FORMAT", "/format"),
                ("REPOSITORY", "/repository"),
                ("NAME", "/name"),
                ("KIND", "/kind"),
                ("VERSIONS", "/versions"),
                ("DIGEST", "/digest"),
                ("TAGS", "/tags"),
                ("STATE", "/state"),
            ],
        );
        eprintln!(
            "{} hit(s), matched by {}",
            hits.len(),
            a["matched"].as_str().unwrap_or("?")
        );
    });
    Ok(())
}
