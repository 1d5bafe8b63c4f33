//! Secrets in pushed layers: in the repositories `oci.secret_scan` names,
//! every file of every tar layer (plain or gzip-compressed) a pushed image
//! manifest names is scanned with `cairn_core::secrets` before the manifest
//! is stored. A finding refuses the push with `DENIED`, naming the layer,
//! the file, the line and the rule — never the secret; the layers stay
//! unreferenced uploads, which the collector removes. A live cairn API
//! token found is revoked through the identity service. Audited.

use crate::error::OciError;
use crate::OciApi;
use cairn_core::manifest::{ParsedManifest, DOCKER_MANIFEST, OCI_MANIFEST};
use cairn_core::secrets::{rules, Found, CAIRN_TOKEN, SCAN_BYTES};
use cairn_core::RepoName;
use cairn_store::{Actor, AuditRecord};
use std::io::Read;

/// A layer decompressing past this is refused as too large to scan.
const MAX_LAYER: u64 = 8 * 1024 * 1024 * 1024;

/// Scans one layer's tar stream; `Err` when it decompresses past the bound.
fn scan_layer(reader: impl Read, gzip: bool, label: &str) -> Result<Vec<Found>, String> {
    let counted = reader.take(MAX_LAYER + 1);
    let stream: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(counted).take(MAX_LAYER + 1))
    } else {
        Box::new(counted)
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
        let mut buf = Vec::new();
        if (&mut entry).take(SCAN_BYTES).read_to_end(&mut buf).is_err() {
            break;
        }
        rules().scan(&format!("{label}:{path}"), &buf, &mut found);
    }
    Ok(found)
}

impl OciApi {
    /// Refuses an image manifest whose layers carry a secret, in a scanned
    /// repository (see the module docs).
    pub(crate) async fn refuse_secrets(
        &self,
        name: &RepoName,
        parsed: &ParsedManifest,
        actor: &Actor,
    ) -> Result<(), OciError> {
        if !self.config.secret_scan.matches(name.as_str())
            || !matches!(parsed.media_type.as_str(), OCI_MANIFEST | DOCKER_MANIFEST)
        {
            return Ok(());
        }
        let mut found = Vec::new();
        for layer in parsed.blobs.iter().skip(1) {
            let m = layer.media_type.as_str();
            let gzip = m.ends_with("+gzip") || m.ends_with(".tar.gzip");
            if !(gzip || m.ends_with(".tar")) {
                continue;
            }
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
                scan_layer(tokio_util::io::SyncIoBridge::new(reader), gzip, &label)
            })
            .await
            .map_err(|e| OciError::internal(e.to_string()))?
            .map_err(OciError::denied)?;
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
        let detail: Vec<String> = found.iter().map(ToString::to_string).collect();
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
