//! Parsing of untrusted OCI and Docker manifests into what the registry must
//! check before storing one: which blobs and child manifests it references,
//! its subject, and what the referrers API reports about it.

use crate::digest::Digest;
use serde::Deserialize;
use std::collections::BTreeMap;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_ARTIFACT_MANIFEST: &str = "application/vnd.oci.artifact.manifest.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Every manifest media type cairn stores.
pub const MANIFEST_MEDIA_TYPES: [&str; 5] = [
    OCI_MANIFEST,
    OCI_INDEX,
    OCI_ARTIFACT_MANIFEST,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];

/// A content descriptor as it appears in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Descriptor {
    /// Layers that by design live elsewhere (non-distributable / foreign
    /// layers, or any descriptor with `urls`) need not be pushed first.
    pub fn may_be_absent(&self) -> bool {
        !self.urls.is_empty()
            || self.media_type.contains(".nondistributable.")
            || self.media_type == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    /// References blobs (config and layers).
    Image,
    /// References other manifests.
    Index,
}

/// What the registry needs to know about a manifest it is asked to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedManifest {
    pub media_type: String,
    pub kind: ManifestKind,
    /// Blobs that must already be in the repository.
    pub blobs: Vec<Descriptor>,
    /// Manifests that must already be in the repository (for an index).
    pub manifests: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    /// `artifactType`, or for an image manifest without one, its config media type.
    pub artifact_type: Option<String>,
    pub annotations: Option<BTreeMap<String, String>>,
}

impl ParsedManifest {
    /// Everything the manifest keeps alive: its blobs (config, layers) and,
    /// for an index, its children. The subject is not among them: a
    /// referrer follows its subject, not the other way round.
    pub fn references(&self) -> Vec<crate::Digest> {
        let mut out: Vec<crate::Digest> = self
            .blobs
            .iter()
            .chain(&self.manifests)
            .map(|d| d.digest.clone())
            .collect();
        out.sort_by_key(|d| d.to_string());
        out.dedup();
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON: {0}")]
    Json(String),
    #[error("manifest media type {0:?} is not supported")]
    UnsupportedMediaType(String),
    #[error("Content-Type {header:?} does not match the manifest's mediaType {body:?}")]
    MediaTypeMismatch { header: String, body: String },
    #[error("manifest media type cannot be determined: send a Content-Type or a mediaType field")]
    UnknownMediaType,
    #[error("manifest is invalid: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    blobs: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    annotations: Option<BTreeMap<String, String>>,
}

/// Strips parameters such as `; charset=utf-8` from a Content-Type.
fn essence(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// Parses a manifest body. `content_type` is the request's Content-Type, if any.
pub fn parse_manifest(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<ParsedManifest, ManifestError> {
    let raw: RawManifest =
        serde_json::from_slice(body).map_err(|e| ManifestError::Json(e.to_string()))?;
    let header = content_type.map(essence).filter(|s| !s.is_empty());
    let media_type = match (header, raw.media_type.as_deref()) {
        (Some(h), Some(b)) if h != b => {
            return Err(ManifestError::MediaTypeMismatch {
                header: h.to_string(),
                body: b.to_string(),
            })
        }
        (Some(h), _) => h.to_string(),
        (None, Some(b)) => b.to_string(),
        (None, None) if raw.manifests.is_some() => OCI_INDEX.to_string(),
        (None, None) if raw.config.is_some() => OCI_MANIFEST.to_string(),
        (None, None) => return Err(ManifestError::UnknownMediaType),
    };
    if !MANIFEST_MEDIA_TYPES.contains(&media_type.as_str()) {
        return Err(ManifestError::UnsupportedMediaType(media_type));
    }
    let invalid = |m: &str| ManifestError::Invalid(m.to_string());
    if media_type != OCI_ARTIFACT_MANIFEST && raw.schema_version != Some(2) {
        return Err(invalid("schemaVersion must be 2"));
    }
    let (kind, blobs, manifests, artifact_type) = match media_type.as_str() {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            if raw.manifests.is_some() {
                return Err(invalid("an image manifest cannot have a manifests field"));
            }
            let config = raw.config.ok_or_else(|| invalid("config is required"))?;
            let artifact_type = raw
                .artifact_type
                .clone()
                .or_else(|| Some(config.media_type.clone()));
            let mut blobs = vec![config];
            blobs.extend(raw.layers.ok_or_else(|| invalid("layers is required"))?);
            (ManifestKind::Image, blobs, vec![], artifact_type)
        }
        OCI_ARTIFACT_MANIFEST => {
            let artifact_type = raw
                .artifact_type
                .clone()
                .ok_or_else(|| invalid("artifactType is required"))?;
            let blobs = raw.blobs.unwrap_or_default();
            (ManifestKind::Image, blobs, vec![], Some(artifact_type))
        }
        _ => {
            if raw.config.is_some() || raw.layers.is_some() {
                return Err(invalid("an index cannot have config or layers"));
            }
            let manifests = raw
                .manifests
                .ok_or_else(|| invalid("manifests is required"))?;
            (
                ManifestKind::Index,
                vec![],
                manifests,
                raw.artifact_type.clone(),
            )
        }
    };
    Ok(ParsedManifest {
        media_type,
        kind,
        blobs,
        manifests,
        subject: raw.subject,
        artifact_type,
        annotations: raw.annotations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const D1: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn image(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{D1}","size":0}},"layers":[]{extra}}}"#
        )
    }

    #[test]
    fn image_manifest_with_subject() {
        let m = image(&format!(
            r#","artifactType":"application/x-sbom","subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{D1}","size":1}}"#
        ));
        let p = parse_manifest(Some(OCI_MANIFEST), m.as_bytes()).unwrap();
        assert_eq!(p.kind, ManifestKind::Image);
        assert_eq!(p.blobs.len(), 1);
        assert_eq!(p.artifact_type.as_deref(), Some("application/x-sbom"));
        assert!(p.subject.is_some());
    }

    #[test]
    fn refuses_bad_manifests() {
        assert!(matches!(
            parse_manifest(None, b"{"),
            Err(ManifestError::Json(_))
        ));
        assert!(matches!(
            parse_manifest(Some(OCI_INDEX), image("").as_bytes()),
            Err(ManifestError::MediaTypeMismatch { .. })
        ));
        assert!(matches!(
            parse_manifest(Some("text/plain"), br#"{"schemaVersion":2}"#),
            Err(ManifestError::UnsupportedMediaType(_))
        ));
        let bad_digest = image("").replace(D1, "sha256:1234");
        assert!(matches!(
            parse_manifest(None, bad_digest.as_bytes()),
            Err(ManifestError::Json(_))
        ));
    }

    #[test]
    fn index_kind() {
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{D1}","size":3}}]}}"#
        );
        let p = parse_manifest(None, m.as_bytes()).unwrap();
        assert_eq!(p.kind, ManifestKind::Index);
        assert_eq!(p.manifests.len(), 1);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_manifest(None, &bytes);
        }
    }
}
