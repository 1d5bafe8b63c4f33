//! `cairn image`: what an image in a hosted repository is
//! (`GET /api/v1/image`: platforms, layers, tags, who pushed it, signers,
//! referrers) and deleting one of its tags (`DELETE /api/v1/image/tags`,
//! decided and audited as a client's tag deletion).

use super::client::{print_answer, print_table, split_image, when, ServerArgs};
use reqwest::Method;
use serde_json::Value;

#[derive(clap::Subcommand)]
pub enum ImageCommand {
    /// What REPOSITORY:TAG or REPOSITORY@DIGEST is: digest, tags, size, an
    /// index's platforms or an image's layers, when it was pushed and by
    /// whom, when it was last pulled, who signed it, what refers to it.
    Show {
        /// The image, e.g. team/app:1.0 or team/app@sha256:….
        image: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Delete the tag of REPOSITORY:TAG; the image stays, by digest and
    /// under its other tags. Refused where the tag rules keep the tag.
    Untag {
        /// The tag to delete, e.g. team/app:old.
        image: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub async fn image_command(cmd: ImageCommand) -> anyhow::Result<()> {
    match cmd {
        ImageCommand::Show {
            image,
            json,
            server,
        } => {
            let (repository, reference) = split_image(&image)?;
            let answer = server
                .call(
                    Method::GET,
                    &["image"],
                    &[("repository", repository), ("reference", reference)],
                    None,
                )
                .await?;
            print_answer(&answer, json, print_image);
            Ok(())
        }
        ImageCommand::Untag { image, server } => {
            let (repository, tag) = split_image(&image)?;
            if tag.contains(':') {
                anyhow::bail!("name the tag to delete as REPOSITORY:TAG, not a digest");
            }
            server
                .call(
                    Method::DELETE,
                    &["image", "tags"],
                    &[("repository", repository), ("tag", tag)],
                    None,
                )
                .await?;
            super::report(
                serde_json::json!({ "repository": repository, "tag": tag, "deleted": true }),
                || format!("deleted the tag {repository}:{tag}"),
            );
            Ok(())
        }
    }
}

fn print_image(v: &Value) {
    let s = |p: &str| super::client::cell(v.pointer(p).unwrap_or(&Value::Null));
    println!("{}@{}", s("/repository"), s("/digest"));
    println!("  tags:        {}", s("/tags"));
    println!("  media type:  {}", s("/media_type"));
    println!(
        "  size:        {} bytes (manifest), {} bytes in layers",
        s("/size"),
        s("/layers_size")
    );
    println!(
        "  pushed:      {} by {}",
        when(&v["pushed_at"]),
        s("/pushed_by/user")
    );
    println!("  last pulled: {}", when(&v["pulled_at"]));
    if let Some(created) = v.pointer("/config/created").and_then(Value::as_str) {
        println!("  built:       {created}");
    }
    let signers: Vec<String> = v["signatures"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| match s["predicate_type"].as_str() {
            Some(p) if !p.is_empty() => format!("{} ({p})", s["signer"].as_str().unwrap_or("?")),
            _ => s["signer"].as_str().unwrap_or("?").to_string(),
        })
        .collect();
    println!(
        "  signed by:   {}",
        if signers.is_empty() {
            "nobody cairn trusts".to_string()
        } else {
            signers.join(", ")
        }
    );
    let platforms: Vec<Value> = v["platforms"].as_array().cloned().unwrap_or_default();
    if !platforms.is_empty() {
        println!("\nplatforms:");
        print_table(
            &platforms,
            &[
                ("OS", "/platform/os"),
                ("ARCH", "/platform/architecture"),
                ("VARIANT", "/platform/variant"),
                ("DIGEST", "/digest"),
                ("SIZE", "/size"),
            ],
        );
    }
    let layers: Vec<Value> = v["layers"].as_array().cloned().unwrap_or_default();
    if !layers.is_empty() {
        println!("\nlayers:");
        print_table(
            &layers,
            &[
                ("DIGEST", "/digest"),
                ("MEDIA TYPE", "/media_type"),
                ("SIZE", "/size"),
            ],
        );
    }
    let referrers: Vec<Value> = v["referrers"].as_array().cloned().unwrap_or_default();
    if !referrers.is_empty() {
        println!("\nreferrers:");
        print_table(
            &referrers,
            &[
                ("ARTIFACT TYPE", "/artifact_type"),
                ("DIGEST", "/digest"),
                ("SIZE", "/size"),
            ],
        );
    }
    for tag in v["cosign_tags"].as_array().into_iter().flatten() {
        println!("cosign: {}", tag.as_str().unwrap_or_default());
    }
}
