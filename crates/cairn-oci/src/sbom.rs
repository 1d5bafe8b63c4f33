//! SBOMs pushed as OCI artifacts, read and indexed on arrival.
//!
//! A manifest carries an SBOM when its `artifactType` (or config media
//! type) or one of its layers is an SPDX or CycloneDX JSON media type and it
//! names what it describes: its `subject` (a referrer, as `oras attach` and
//! cosign's referrers mode push it), or a cosign `sha256-<hex>.sbom` tag
//! (cosign's legacy attachment). The document is parsed before the manifest
//! is stored — a malformed or hostile one refuses the push with
//! `MANIFEST_INVALID` and nothing is kept — and indexed right after it, in
//! the store's one transaction.

use crate::error::OciError;
use crate::signatures::LayerSource;
use crate::OciApi;
use cairn_core::manifest::{Descriptor, ParsedManifest, DOCKER_MANIFEST, OCI_MANIFEST};
use cairn_core::sbom::{
    is_attestation_media_type, is_sbom_media_type, is_sbom_predicate, Limits, Sbom,
};
use cairn_core::{Digest, RepoName, Tag};
use cairn_store::sbom::{SbomSubject, SbomWrite};
use cairn_store::Actor;

/// The SBOM layer of a manifest and the digest it describes.
pub(crate) struct Carried {
    layer: Descriptor,
    pub(crate) subject: Digest,
    /// Whether the layer's own media type says SPDX or CycloneDX JSON (then
    /// a document that does not read as one refuses the push); a generic
    /// layer of an artifact typed as an SBOM is indexed when it reads as
    /// one, and kept unindexed when it does not.
    pub(crate) claimed: bool,
    /// The document is the predicate of a signed in-toto statement (a
    /// Sigstore bundle or a DSSE envelope), indexed unverified.
    attestation: bool,
}

/// The subject cosign's legacy layout names in a tag: `sha256-<hex><suffix>`.
fn tagged_subject(tags: &[Tag], suffix: &str) -> Option<Digest> {
    tags.iter().find_map(|t| {
        let hex = t.as_str().strip_prefix("sha256-")?.strip_suffix(suffix)?;
        format!("sha256:{hex}").parse::<Digest>().ok()
    })
}

/// An attestation layer larger than this is not read.
const MAX_ATTESTATION: u64 = 64 * 1024 * 1024;

/// The SBOM attestation a manifest carries (`cosign attest --type
/// cyclonedx|spdxjson`): a Sigstore bundle referrer whose annotations name
/// an SBOM predicate, or a DSSE layer so annotated in a `sha256-<hex>.att`
/// image.
fn attestation(parsed: &ParsedManifest, tags: &[Tag], layers: &[Descriptor]) -> Option<Carried> {
    let predicate = |a: &Option<std::collections::BTreeMap<String, String>>, key: &str| {
        a.as_ref()
            .and_then(|a| a.get(key))
            .is_some_and(|p| is_sbom_predicate(p))
    };
    let whole = predicate(&parsed.annotations, "dev.sigstore.bundle.predicateType");
    let layer = layers.iter().find(|l| {
        is_attestation_media_type(&l.media_type)
            && (whole || predicate(&l.annotations, "predicateType"))
    })?;
    let legacy = tagged_subject(tags, ".att");
    let subject = parsed
        .subject
        .as_ref()
        .map(|s| s.digest.clone())
        .or(legacy)?;
    Some(Carried {
        layer: layer.clone(),
        subject,
        claimed: false,
        attestation: true,
    })
}

/// What SBOM `parsed` carries, if any (see the module docs).
pub(crate) fn carried(parsed: &ParsedManifest, tags: &[Tag]) -> Option<Carried> {
    let typed = parsed
        .artifact_type
        .as_deref()
        .is_some_and(is_sbom_media_type);
    // An image manifest's first blob is its config, never the document.
    let layers = match parsed.media_type.as_str() {
        OCI_MANIFEST | DOCKER_MANIFEST => parsed.blobs.get(1..).unwrap_or_default(),
        _ => &parsed.blobs[..],
    };
    // A layer typed as an SBOM; or, in an artifact typed as one, a layer
    // typed generically (what `oras attach` writes when not told).
    let generic = |m: &str| {
        matches!(
            m,
            "application/json"
                | "application/octet-stream"
                | "application/vnd.oci.image.layer.v1.tar"
        )
    };
    let Some(layer) = layers
        .iter()
        .find(|b| is_sbom_media_type(&b.media_type))
        .or_else(|| {
            typed
                .then(|| layers.iter().find(|b| generic(&b.media_type)))
                .flatten()
        })
    else {
        return attestation(parsed, tags, layers);
    };
    let layer = layer.clone();
    let legacy = tagged_subject(tags, ".sbom");
    let subject = parsed
        .subject
        .as_ref()
        .map(|s| s.digest.clone())
        .or(legacy)?;
    let claimed = is_sbom_media_type(&layer.media_type);
    Some(Carried {
        layer,
        subject,
        claimed,
        attestation: false,
    })
}

impl OciApi {
    /// Reads the carried document from `source`; a bad one is the
    /// manifest's fault.
    pub(crate) async fn read_sbom(
        &self,
        carried: &Carried,
        source: &LayerSource<'_>,
    ) -> Result<Sbom, OciError> {
        let digest = &carried.layer.digest;
        let stream = self
            .layer_stream(source, digest)
            .await
            .map_err(|e| OciError::internal(format!("reading {digest}: {e}")))?
            .ok_or_else(|| {
                OciError::manifest_blob_unknown(format!("SBOM layer {digest} is not stored"))
            })?;
        let invalid = |e: cairn_core::sbom::SbomError| {
            OciError::manifest_invalid(format!("SBOM layer {digest}: {e}"))
        };
        if !carried.attestation {
            return cairn_store::sbom::parse_stream(stream, Limits::default())
                .await
                .map_err(invalid);
        }
        // An attestation is small: read whole, unwrapped, then parsed.
        if carried.layer.size > MAX_ATTESTATION {
            return Err(OciError::manifest_invalid(format!(
                "attestation {digest} is larger than {MAX_ATTESTATION} bytes"
            )));
        }
        use futures::TryStreamExt;
        let chunks: Vec<bytes::Bytes> = stream
            .try_collect()
            .await
            .map_err(|e| OciError::internal(format!("reading {digest}: {e}")))?;
        let statement = cairn_core::sbom::unwrap_attestation(&chunks.concat()).map_err(invalid)?;
        cairn_core::sbom::parse(&statement[..], Limits::default()).map_err(invalid)
    }

    /// Indexes the document read by [`OciApi::read_sbom`] for the stored
    /// manifest `source`.
    pub(crate) async fn index_sbom(
        &self,
        name: &RepoName,
        source: &Digest,
        carried: &Carried,
        sbom: &Sbom,
        cache_entry: Option<(String, String)>,
        actor: &Actor,
    ) -> Result<(), OciError> {
        let write = SbomWrite {
            subject: SbomSubject {
                format: "oci".into(),
                repository: name.to_string(),
                subject: carried.subject.to_string(),
                version: String::new(),
            },
            source: source.to_string(),
            digest: carried.layer.digest.clone(),
            media_type: carried.layer.media_type.clone(),
            sbom,
            cache_entry,
        };
        let record = self.meta.index_sbom(&write, actor).await?;
        tracing::info!(
            repository = %name, subject = %carried.subject, sbom = %carried.layer.digest,
            components = record.components, skipped = record.skipped, "SBOM indexed"
        );
        Ok(())
    }
}
