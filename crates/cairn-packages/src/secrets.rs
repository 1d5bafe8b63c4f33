//! The secret gate on publish: every file a publish brings (each file
//! inside an npm tarball, a wheel or sdist, a crate, a jar, a Go module) is
//! scanned with `cairn_core::secrets` before anything is stored, in the
//! repositories `packages.secret_scan` names. A finding refuses the publish
//! (nothing is stored) naming the file, the line and the rule, never the
//! secret; a live cairn API token among the findings is revoked on the
//! spot. Both are audited.

use crate::{PackageError, PackageResult, Packages};
use cairn_core::secrets::{rules, token_hash, Found, CAIRN_TOKEN};
use cairn_core::PackageRef;
pub use cairn_http::TokenRevoker;
use cairn_store::{Actor, AuditRecord};
use std::io::Read;

/// What a publish brings, to scan.
pub enum Publish<'a> {
    /// A file as uploaded (`filename` says whether it is an archive).
    File { filename: &'a str, bytes: &'a [u8] },
    /// Files already unpacked (a Go module), and what the publish stores
    /// of them (a quarantine holds those back).
    Files {
        files: &'a [(String, Vec<u8>)],
        stored_as: Vec<Stored>,
    },
}

/// A file a publish stores, which a quarantine holds back.
#[derive(Debug, Clone)]
pub struct Stored {
    pub name: String,
    pub digest: cairn_core::Digest,
    /// Held only when a secret was found in this one of the scanned files
    /// (a file whose bytes other versions share, like a Go module's
    /// `go.mod`, is not held for a secret found elsewhere).
    pub only_for: Option<String>,
}

/// The secrets in one uploaded file: inside it when it is an archive cairn
/// reads (one that does not read as its kind is scanned as it is).
fn scan_file(filename: &str, bytes: &[u8], limits: crate::archive::Limits) -> Vec<Found> {
    let mut found = Vec::new();
    let lower = filename.to_ascii_lowercase();
    let mut visit = |path: &str, _size: u64, data: &mut dyn Read| {
        // A file that stops reading midway was scanned as far as it read.
        let _ = rules().scan_reader(&format!("{filename}:{path}"), data, &mut found);
        Ok(())
    };
    let walked = if [".tgz", ".tar.gz", ".crate"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        crate::archive::walk_tar_gz(bytes, limits, &mut visit)
    } else if [".whl", ".zip", ".jar", ".war", ".ear", ".aar"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        crate::archive::walk_zip(bytes, limits, &mut visit)
    } else {
        Err(crate::archive::ArchiveError::Malformed {
            kind: "archive",
            reason: String::new(),
        })
    };
    if walked.is_err() {
        found.clear();
        rules().scan(filename, bytes, &mut found);
    }
    found
}

impl Packages {
    /// Refuses a publish into a scanned repository that carries a secret
    /// (see the module docs); `Ok` when the repository is not scanned or
    /// nothing was found.
    pub async fn refuse_secrets(
        &self,
        actor: &Actor,
        pkg: PackageRef<'_>,
        publish: Publish<'_>,
    ) -> PackageResult<()> {
        let repository = pkg.format.resource(pkg.repository);
        let quarantines = self.config.secret_quarantine.matches(&repository);
        if !quarantines && !self.config.secret_scan.matches(&repository) {
            return Ok(());
        }
        // What a quarantine holds back: the bytes the publish stores.
        let held = match &publish {
            _ if !quarantines => Vec::new(),
            Publish::File { filename, bytes } => vec![Stored {
                name: filename.to_string(),
                digest: cairn_core::Digest::sha256_of(bytes),
                only_for: None,
            }],
            Publish::Files { stored_as, .. } => stored_as.clone(),
        };
        let limits = crate::archive::Limits {
            max_total: self.config.max_upload_bytes.saturating_mul(8),
            ..Default::default()
        };
        let found = match publish {
            Publish::File { filename, bytes } => {
                let (filename, bytes) = (filename.to_string(), bytes.to_vec());
                tokio::task::spawn_blocking(move || scan_file(&filename, &bytes, limits))
                    .await
                    .map_err(|e| PackageError::Internal(Box::new(e)))?
            }
            Publish::Files { files, .. } => {
                let mut found = Vec::new();
                for (path, bytes) in files {
                    rules().scan(path, bytes, &mut found);
                }
                found
            }
        };
        let Some(first) = found.first() else {
            return Ok(());
        };
        let mut revoked = 0;
        for f in found.iter().filter(|f| f.rule == CAIRN_TOKEN) {
            let done = match &self.revoker {
                Some(r) => r.revoke_leaked(&f.secret, actor).await?,
                None => match self.meta.token_by_hash(&token_hash(&f.secret)).await? {
                    Some(token) => {
                        self.meta
                            .revoke_token(&token.id, crate::now(), actor)
                            .await?
                    }
                    None => false,
                },
            };
            if done {
                revoked += 1;
                tracing::warn!(file = %f.file, "a cairn API token found in a publish was revoked");
            }
        }
        let detail: Vec<String> = found.iter().map(ToString::to_string).collect();
        if !held.is_empty() {
            let held = held.into_iter().filter(|h| {
                h.only_for
                    .as_ref()
                    .is_none_or(|path| found.iter().any(|f| &f.file == path))
            });
            for Stored {
                name: what, digest, ..
            } in held
            {
                let record = cairn_store::quarantine::QuarantineRecord {
                    digest: digest.to_string(),
                    repository: repository.clone(),
                    what,
                    findings: detail.join("; "),
                    actor: actor.name.clone(),
                    created_at: crate::now(),
                };
                self.meta.quarantine(&record, actor).await?;
                tracing::warn!(repository = %repository, package = %pkg.package, %digest, revoked, "a publish carrying secrets was stored in quarantine");
            }
            return Ok(());
        }
        let mut message = format!(
            "refused by secret scanning: {first}{}; nothing was stored",
            match found.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            }
        );
        if revoked > 0 {
            message.push_str(&format!(
                "; {revoked} cairn API token(s) found in it were revoked"
            ));
        }
        let entry = AuditRecord {
            detail: Some(detail.join("; ")),
            ..AuditRecord::by(
                actor,
                &format!("{}.secret", pkg.format),
                Some(&repository),
                Some(pkg.package),
                "refused",
            )
        };
        self.meta.append_audit(&entry).await?;
        metrics::counter!("cairn_secret_refusals_total", "rule" => first.rule).increment(1);
        tracing::info!(repository = %repository, package = %pkg.package, findings = found.len(), "a publish carrying secrets was refused");
        Err(PackageError::Refused(message))
    }
}
