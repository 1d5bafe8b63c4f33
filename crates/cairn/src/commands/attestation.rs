//! `cairn attestation`: cairn's own publish attestations of a package
//! version (`GET /api/v1/attestations`: a Sigstore bundle per file, signed
//! with the registry's key) and the public keys that verify them
//! (`GET /api/v1/attestations/keys`, PEM for `cosign verify-blob-attestation`).

use super::client::{print_answer, print_table, rows, ServerArgs};
use reqwest::Method;

#[derive(clap::Subcommand)]
pub enum AttestationCommand {
    /// The publish attestations of FORMAT REPOSITORY PACKAGE VERSION, one
    /// per file (--json prints the bundles).
    List {
        /// npm, pypi, cargo, go or maven.
        format: String,
        repository: String,
        package: String,
        version: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// The registry's public keys, PEM (a key being retired is listed with
    /// when it expires).
    Keys {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub async fn attestation_command(cmd: AttestationCommand) -> anyhow::Result<()> {
    match cmd {
        AttestationCommand::List {
            format,
            repository,
            package,
            version,
            json,
            server,
        } => {
            let answer = server
                .call(
                    Method::GET,
                    &["attestations"],
                    &[
                        ("format", &format),
                        ("repository", &repository),
                        ("package", &package),
                        ("version", &version),
                    ],
                    None,
                )
                .await?;
            print_answer(&answer, json, |a| {
                print_table(
                    rows(a, "attestations"),
                    &[
                        ("FILE", "/filename"),
                        ("DIGEST", "/digest"),
                        ("PREDICATE", "/bundle/dsseEnvelope/payloadType"),
                        ("CREATED", "/created_at"),
                    ],
                )
            });
        }
        AttestationCommand::Keys { json, server } => {
            let answer = server
                .call(Method::GET, &["attestations", "keys"], &[], None)
                .await?;
            print_answer(&answer, json, |a| {
                let keys = rows(a, "keys");
                if keys.is_empty() {
                    println!("no registry signing key is configured");
                }
                for k in keys {
                    println!(
                        "# key {}{}",
                        k["keyid"].as_str().unwrap_or_default(),
                        k["expires"]
                            .as_str()
                            .map(|e| format!(", retired: expires {e}"))
                            .unwrap_or_default()
                    );
                    print!("{}", k["pem"].as_str().unwrap_or_default());
                }
            });
        }
    }
    Ok(())
}
