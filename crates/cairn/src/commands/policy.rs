//! `cairn policy explain`: why a pull of an image would be served or
//! refused by the signature policies — the server's own decision
//! (`GET /api/v1/policy/explain`), printed for people.

use super::client::ServerArgs;
use serde_json::Value;

#[derive(clap::Subcommand)]
pub enum PolicyCommand {
    /// Whether a pull of REPOSITORY:TAG or REPOSITORY@DIGEST would be
    /// served, which policy decides, and which signatures were found.
    Explain(ExplainArgs),
}

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// The image: REPOSITORY:TAG or REPOSITORY@DIGEST, e.g. prod/app:1.0.
    image: String,
    /// Print the server's JSON as it is.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

pub async fn policy_command(cmd: PolicyCommand) -> anyhow::Result<()> {
    let PolicyCommand::Explain(args) = cmd;
    let (repository, reference) = super::client::split_image(&args.image)?;
    let mut url = reqwest::Url::parse(&format!("{}/api/v1/policy/explain", args.server.base()))?;
    url.query_pairs_mut()
        .append_pair("repository", repository)
        .append_pair("reference", reference);
    let answer = args
        .server
        .send_json(reqwest::Client::new().get(url))
        .await?;
    if super::json_output(args.json) {
        println!("{answer}");
        return Ok(());
    }
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let verdict = match answer["outcome"].as_str().unwrap_or_default() {
        "deny" => "REFUSED",
        "signer-read" => "served to you (you may sign here), refused to readers",
        "none" | "exempt" | "allow" => "served",
        other => other,
    };
    println!(
        "{}@{}: {verdict}",
        s(&answer["repository"]),
        s(&answer["digest"])
    );
    if let Some(p) = answer["policy"].as_str() {
        println!("  policy: {p}");
    }
    println!("  why: {}", s(&answer["reason"]));
    let verdicts = answer["verdicts"].as_array().cloned().unwrap_or_default();
    if verdicts.is_empty() {
        println!("  signatures verified under the trust configuration: none");
    }
    for v in verdicts {
        let what = match v["predicate_type"].as_str() {
            Some("") | None => "signature".to_string(),
            Some(p) => format!("attestation {p}"),
        };
        println!(
            "  {what} by {} on {} (artifact {})",
            s(&v["signer"]),
            s(&v["subject"]),
            s(&v["signature"])
        );
    }
    println!(
        "  trust configuration version: {}",
        s(&answer["trust_version"])
    );
    Ok(())
}
