//! Secrets in pushed layers: in the repositories `oci.secret_scan` (or
//! `oci.secret_quarantine`) names, every file of every tar layer (plain,
//! gzip or zstd) a pushed image manifest names is scanned with
//! `cairn_core::secrets` before the manifest is stored. A finding refuses
//! the push with `DENIED`, naming the layer, the file, the line and the
//! rule — never the secret; the layers stay unreferenced uploads, which the
//! collector removes. Under a quarantine the push is stored instead, and the
//! manifest and the layers with findings are held back (recorded before the
//! manifest is stored, so it is never served unheld) until an
//! administrator releases them. A live cairn API token found is revoked
//! through the identity service. Audited.

use crate::error::OciError;
use crate::OciApi;
use cairn_core::manifest::{ParsedManifest, DOCKER_MANIFEST, OCI_MANIFEST};
use cairn_core::secrets::{rules, Found, CAIRN_TOKEN};
use cairn_core::RepoName;
use cairn_store::{Actor, AuditRecord};
use std::io::Read;

/// A layer decompressing past this is refused as too large to scan.
const MAX_LAYER: u64 = 8 * 1024 * 1024 * 1024;

/// How a tar layer is compressed, by its media type (`None`: not a tar
/// layer, nothing to scan).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zstd,
}

fn compression(media_type: &str) -> Option<Compression> {
    if media_type.ends_with("+gzip") || media_type.ends_with(".tar.gzip") {
        Some(Compression::Gzip)
    } else if media_type.ends_with("+zstd") {
        Some(Compression::Zstd)
    } else if media_type.ends_with(".tar") {
        Some(Compression::None)
    } else {
        None
    }
}

/// Scans one layer's tar stream; `Err` when it decompresses past the bound
/// or is not the compression its media type says.
fn scan_layer(
    reader: impl Read + 'static,
    compression: Compression,
    label: &str,
) -> Result<Vec<Found>, String> {
    let counted = reader.take(MAX_LAYER + 1);
    let stream: Box<dyn Read> = match compression {
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(counted).take(MAX_LAYER + 1)),
        Compression::Zstd => Box::new(
            ruzstd::decoding::StreamingDecoder::new(counted)
                .map_err(|e| format!("{label} is not zstd-compressed: {e}"))?
                .take(MAX_LAYER + 1),
        ),
        Compression::None => Box::new(counted),
    };
    let mut archive = tar::Archive::new(stream);
    let mut found = Vec::new();
    let mut total = 0u64;
    let Ok(entries) = archive.entries() else {
        return Ok(found);
    };
    for entry in entries {
        // A layer that is no tar stream (an artifact's blob) has nothing to scan.
        let Ok(mut entry) = entry else { break };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        total += entry.header().size().unwrap_or(0);
        if total > MAX_LAYER {
            return Err(format!(
                "{label} decompresses past {MAX_LAYER} bytes: too large to scan"
            ));
        }
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if rules()
            .scan_reader(&format!("{label}:{path}"), &mut entry, &mut found)
            .is_err()
        {
            break;
        }
    }
    Ok(found)
}

impl OciApi {
    /// Refuses serving `digest` (a manifest or a blob) while a quarantine
    /// holds it back; nothing is asked when no repository quarantines.
    pub(crate) async fn refuse_held(&self, digest: &cairn_core::Digest) -> Result<(), OciError> {
        if self.config.secret_quarantine.is_empty() || !self.meta.is_quarantined(digest).await? {
            return Ok(());
        }
        Err(OciError::denied(format!(
            "{digest} is quarantined: secret scanning found a secret in it, and it is held back until an administrator releases it"
        )))
    }

    /// Refuses (or holds back) the image manifest `digest` whose layers
    /// carry a secret, in a scanned repository (see the module docs).
    pub(crate) async fn refuse_secrets(
        &self,
        name: &RepoName,
        digest: &cairn_core::Digest,
        parsed: &ParsedManifest,
        actor: &Actor,
    ) -> Result<(), OciError> {
        let quarantines = self.config.secret_quarantine.matches(name.as_str());
        if !(quarantines || self.config.secret_scan.matches(name.as_str()))
            || !matches!(parsed.media_type.as_str(), OCI_MANIFEST | DOCKER_MANIFEST)
        {
            return Ok(());
        }
        let mut found = Vec::new();
        let mut leaky = Vec::new();
        for layer in parsed.blobs.iter().skip(1) {
            let Some(how) = compression(&layer.media_type) else {
                continue;
            };
            let Some(stream) = self
                .blobs
                .store()
                .read(&layer.digest, None)
                .await
                .map_err(|e| OciError::internal(format!("reading {}: {e}", layer.digest)))?
            else {
                continue;
            };
            let label = format!("layer {}", layer.digest);
            let reader = tokio_util::io::StreamReader::new(stream);
            let scanned = tokio::task::spawn_blocking(move || {
                scan_layer(tokio_util::io::SyncIoBridge::new(reader), how, &label)
            })
            .await
            .map_err(|e| OciError::internal(e.to_string()))?
            .map_err(OciError::denied)?;
            if !scanned.is_empty() {
                leaky.push(layer.digest.clone());
            }
            found.extend(scanned);
        }
        let Some(first) = found.first() else {
            return Ok(());
        };
        let mut revoked = 0;
        if let Some(revoker) = &self.revoker {
            for f in found.iter().filter(|f| f.rule == CAIRN_TOKEN) {
                if revoker.revoke_leaked(&f.secret, actor).await? {
                    revoked += 1;
                }
            }
        }
        let detail: Vec<String> = found.iter().map(ToString::to_string).collect();
        if quarantines {
            let held = std::iter::once((digest, format!("manifest of {name}"))).chain(
                leaky
                    .iter()
                    .map(|l| (l, format!("layer of {name}@{digest}"))),
            );
            for (d, what) in held {
                let record = cairn_store::quarantine::QuarantineRecord {
                    digest: d.to_string(),
                    repository: name.to_string(),
                    what,
                    findings: detail.join("; "),
                    actor: actor.name.clone(),
                    created_at: cairn_core::unix_now(),
                };
                self.meta.quarantine(&record, actor).await?;
            }
            tracing::warn!(repository = %name, %digest, layers = leaky.len(), revoked, "a push carrying secrets was stored in quarantine");
            return Ok(());
        }
        let mut message = format!("refused by secret scanning: {first}");
        if found.len() > 1 {
            message.push_str(&format!(" (and {} more)", found.len() - 1));
        }
        message.push_str("; the manifest was not stored");
        if revoked > 0 {
            message.push_str(&format!(
                "; {revoked} cairn API token(s) found in it were revoked"
            ));
        }
        let entry = AuditRecord {
            detail: Some(detail.join("; ")),
            ..AuditRecord::by(actor, "oci.secret", Some(name.as_str()), None, "refused")
        };
        self.meta.append_audit(&entry).await?;
        metrics::counter!("cairn_secret_refusals_total", "rule" => first.rule).increment(1);
        tracing::info!(repository = %name, findings = found.len(), "a push carrying secrets was refused");
        Err(OciError::denied(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(path: &str, data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, data).unwrap();
        b.into_inner().unwrap()
    }

    fn rules_of(found: &[Found]) -> Vec<(String, &'static str)> {
        found.iter().map(|f| (f.file.clone(), f.rule)).collect()
    }

    #[test]
    fn zstd_layers_are_read() {
        let token = "ghp_".to_string() + &"a1B2".repeat(9);
        let tar = tar_of("app/.env", format!("TOKEN={token}\n").as_bytes());
        let zstd = ruzstd::encoding::compress_to_vec(
            &tar[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        let how = compression("application/vnd.oci.image.layer.v1.tar+zstd").unwrap();
        assert_eq!(how, Compression::Zstd);
        let found = scan_layer(std::io::Cursor::new(zstd), how, "layer").unwrap();
        assert_eq!(
            rules_of(&found),
            [("layer:app/.env".to_string(), "github-pat")]
        );
        // A layer that is not what its media type says is an error, not clean.
        assert!(scan_layer(std::io::Cursor::new(tar), how, "layer").is_err());
    }

    #[test]
    fn a_large_file_is_scanned_to_its_end() {
        let aws = "AKIA".to_string() + "IOSFODNN7EXAMPLQ";
        let mut data = vec![b'x'; 20 * 1024 * 1024];
        data.extend_from_slice(format!("\nkey={aws}\n").as_bytes());
        let tar = tar_of("data.bin", &data);
        let found = scan_layer(std::io::Cursor::new(tar), Compression::None, "layer").unwrap();
        assert_eq!(
            rules_of(&found),
            [("layer:data.bin".to_string(), "aws-access-key-id")]
        );
        assert_eq!(found[0].line, 2);
    }
}
