//! `cairn explain`: where a name (and version) would come from through a
//! virtual repository, and why — the server's own answer
//! (`GET /api/v1/virtuals/{format}/{name}/resolve`), printed for people.

use super::client::ServerArgs;
use serde_json::Value;

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// The virtual repository: FORMAT/NAME, e.g. npm/all.
    repository: String,
    /// The package (npm name, PyPI project, crate, Go module, Maven group:artifact).
    package: String,
    /// A version to explain.
    version: Option<String>,
    /// Print the server's JSON as it is.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

pub async fn explain(args: ExplainArgs) -> anyhow::Result<()> {
    let (format, name) = super::client::format_and_name(&args.repository)?;
    let mut query = vec![("package", args.package.as_str())];
    if let Some(v) = &args.version {
        query.push(("version", v));
    }
    let r = args
        .server
        .call(
            reqwest::Method::GET,
            &["virtuals", format, name, "resolve"],
            &query,
            None,
        )
        .await?;
    if super::json_output(args.json) {
        println!("{r}");
        return Ok(());
    }
    let text = |v: &Value| v.as_str().map(str::to_string);
    println!(
        "{} {}",
        r["repository"].as_str().unwrap_or_default(),
        r["package"].as_str().unwrap_or_default()
    );
    match text(&r["owned"]) {
        Some(owner) => println!("  owned: {owner}"),
        None => println!("  not owned here: every member may serve it"),
    }
    if let Some(e) = text(&r["exception"]) {
        println!("  exception: {e}");
    }
    for m in r["members"].as_array().into_iter().flatten() {
        let member = m["member"].as_str().unwrap_or_default();
        let kind = m["kind"].as_str().unwrap_or_default();
        let state = match (m["asked"].as_bool(), text(&m["why"])) {
            (Some(true), _) => "asked".to_string(),
            (_, Some(why)) => format!("not asked: {why}"),
            _ => "not asked".to_string(),
        };
        let has = match m["has_version"].as_bool() {
            Some(true) => "; has the version",
            Some(false) => "; lacks the version",
            None => "",
        };
        let detail = text(&m["detail"])
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        println!("  {member} [{kind}]: {state}{has}{detail}");
    }
    if let Some(v) = text(&r["version"]) {
        match (text(&r["from"]), text(&r["refused"])) {
            (Some(from), _) => println!("  {v}: served from {from}"),
            (None, Some(why)) => println!("  {v}: refused: {why}"),
            (None, None) => println!("  {v}: no member has it"),
        }
    }
    Ok(())
}
