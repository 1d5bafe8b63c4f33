//! What an image is, for people: the manifest a tag or digest names in a
//! hosted repository, its platforms (an index) or config and layers (an
//! image), the tags naming it, and what refers to it (signatures, SBOMs,
//! attestations: OCI 1.1 referrers and cosign's `sha256-<hex>.*` tags).
//! The admin API's `GET /api/v1/image` answers it; the web UI shows it.
//!
//! A manifest a quarantine holds back is refused here as on a pull: one
//! decision on every path.

use crate::error::OciError;
use crate::OciApi;
use cairn_core::Reference;
use cairn_core::{Digest, RepoName};
use serde::Serialize;
use serde_json::Value;

/// How many of a manifest's `manifest.put` audit entries are read to find
/// who pushed it first (a digest is rarely pushed more often).
const PUSHES_READ: u32 = 100;

/// Largest config blob read for its facts (configs are small JSON).
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Serialize)]
pub struct ImageView {
    pub repository: String,
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub annotations: Value,
    /// The tags naming this manifest (cosign's own tags not among them).
    pub tags: Vec<String>,
    /// An index's manifests, each with its platform.
    pub platforms: Vec<Platform>,
    /// An image's config (created, os, architecture) and layers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    pub layers: Vec<Descriptor>,
    /// The layers' total size.
    pub layers_size: u64,
    /// Manifests whose subject is this one.
    pub referrers: Vec<Referrer>,
    /// cosign's tag-schema artifacts of this digest (`sha256-<hex>.sig`,
    /// `.att`, `.sbom`): each tag and what it holds.
    pub cosign_tags: Vec<String>,
    /// The signatures cairn verified under its current trust configuration
    /// (of this manifest, or of an index listing it): who signed, and what.
    pub signatures: Vec<cairn_core::trust::Verdict>,
    /// When the manifest was pushed to this repository, and by whom (the
    /// audit log's first `manifest.put` of it still read: user, token id,
    /// source address).
    pub pushed_at: Option<i64>,
    pub pushed_by: Option<Value>,
    /// When it was last pulled (noted at most hourly per replica).
    pub pulled_at: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Platform {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    pub platform: Value,
}

#[derive(Debug, Serialize)]
pub struct Descriptor {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct Referrer {
    pub digest: String,
    pub media_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub size: u64,
    pub annotations: Value,
}

fn descriptor(d: &Value) -> Descriptor {
    Descriptor {
        digest: d["digest"].as_str().unwrap_or_default().to_string(),
        media_type: d["mediaType"].as_str().unwrap_or_default().to_string(),
        size: d["size"].as_u64().unwrap_or_default(),
    }
}

impl OciApi {
    /// The image `reference` (a tag or a digest) names in the hosted
    /// repository `repository`. The caller's read access is the API's to
    /// decide before asking.
    pub async fn describe(&self, repository: &str, reference: &str) -> Result<ImageView, OciError> {
        let name =
            RepoName::parse(repository).map_err(|e| OciError::name_invalid(e.to_string()))?;
        let reference =
            Reference::parse(reference).map_err(|e| OciError::manifest_invalid(e.to_string()))?;
        let record = self.find_manifest(&name, &reference).await?;
        self.refuse_held(&record.digest).await?;
        let bytes = self.manifest_bytes(&record.digest).await?;
        let manifest: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let digest = record.digest.to_string();
        let cosign_prefix = format!(
            "{}-{}.",
            record.digest.algorithm().as_str(),
            record.digest.hex()
        );
        let all_tags = self
            .meta
            .tags_naming(name.as_str(), std::slice::from_ref(&digest))
            .await?;
        let tags = all_tags
            .into_iter()
            .filter(|t| !t.starts_with(&cosign_prefix))
            .collect();
        let mut cosign_tags = Vec::new();
        for suffix in ["sig", "att", "sbom"] {
            let tag = format!("{cosign_prefix}{suffix}");
            if self.meta.resolve_tag(name.as_str(), &tag).await?.is_some() {
                cosign_tags.push(tag);
            }
        }
        let platforms = manifest["manifests"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|m| {
                        let d = descriptor(m);
                        Platform {
                            digest: d.digest,
                            media_type: d.media_type,
                            size: d.size,
                            platform: m["platform"].clone(),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let layers: Vec<Descriptor> = manifest["layers"]
            .as_array()
            .map(|l| l.iter().map(descriptor).collect())
            .unwrap_or_default();
        let config = match manifest.get("config") {
            Some(c) => Some(self.config_facts(c).await?),
            None => None,
        };
        let referrers = self
            .meta
            .referrers(name.as_str(), &record.digest)
            .await?
            .into_iter()
            .map(|r| Referrer {
                digest: r.digest.to_string(),
                media_type: r.media_type,
                artifact_type: r.artifact_type,
                size: r.size,
                annotations: r
                    .annotations
                    .and_then(|a| serde_json::from_str(&a).ok())
                    .unwrap_or(Value::Null),
            })
            .collect();
        let signatures = self
            .meta
            .verdicts(name.as_str(), &digest, self.signatures.trust.version())
            .await?;
        let times = self
            .meta
            .manifest_times(name.as_str(), &record.digest)
            .await?;
        let pushes = self
            .meta
            .audit_log(&cairn_store::AuditFilter {
                repository: Some(name.to_string()),
                action: Some("manifest.put".into()),
                artifact: Some(digest.clone()),
                limit: PUSHES_READ,
                ..Default::default()
            })
            .await?;
        // Newest first: the first push still read is the last entry.
        let pushed_by = pushes.iter().rfind(|e| e.outcome == "ok").map(|e| {
            serde_json::json!({ "user": e.actor, "credential": e.credential, "source": e.source })
        });
        Ok(ImageView {
            pushed_at: times.map(|t| t.0),
            pulled_at: times.and_then(|t| t.1),
            pushed_by,
            signatures,
            repository: name.to_string(),
            digest,
            media_type: record.media_type,
            size: record.size,
            artifact_type: record.artifact_type,
            annotations: manifest["annotations"].clone(),
            tags,
            platforms,
            config,
            layers_size: layers.iter().map(|l| l.size).sum(),
            layers,
            referrers,
            cosign_tags,
        })
    }

    /// An image config's descriptor with what people ask of it: when it
    /// was built, for which platform (when the config is an image config).
    async fn config_facts(&self, config: &Value) -> Result<Value, OciError> {
        let d = descriptor(config);
        let mut facts = serde_json::json!({
            "digest": d.digest,
            "media_type": d.media_type,
            "size": d.size,
        });
        let Ok(digest) = d.digest.parse::<Digest>() else {
            return Ok(facts);
        };
        if d.size > MAX_CONFIG_BYTES || !d.media_type.contains("config") {
            return Ok(facts);
        }
        let Some(bytes) = self.blobs.read_whole(&digest).await? else {
            return Ok(facts);
        };
        if let Ok(c) = serde_json::from_slice::<Value>(&bytes) {
            for key in ["created", "os", "architecture", "variant"] {
                if let Some(v) = c.get(key) {
                    facts[key] = v.clone();
                }
            }
        }
        Ok(facts)
    }
}
