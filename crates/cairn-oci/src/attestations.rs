//! cairn's own publish attestations for images: in the repositories
//! `oci.attest_pushes` names, a pushed image manifest or index (not a
//! referrer: signatures, SBOMs and attestations get none) gets
//! an in-toto statement — the manifest's digest as subject; the pusher,
//! their credential and the audit entry as predicate — signed with the
//! registry's key and stored as a Sigstore bundle referrer of the manifest,
//! as `cosign attest` would store it, so `cosign verify-attestation --key`
//! and the referrers API find it. It is recorded like any pushed signature
//! artifact, so a `[[signature_policy]]` that trusts the registry's key can
//! require it.

use crate::OciApi;
use cairn_core::manifest::{parse_manifest, ParsedManifest};
use cairn_core::trust::evidence::{BUNDLE_V03 as BUNDLE, IN_TOTO};
use cairn_core::trust::registry::{publish_statement, PublishFacts, PUBLISH_PREDICATE};
use cairn_core::{Digest, RepoName};
use cairn_store::{Actor, ManifestRecord};
use serde_json::json;

const EMPTY: &str = "application/vnd.oci.empty.v1+json";
const IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

impl OciApi {
    /// Attests a just-stored manifest (see the module comment). Failing to
    /// is logged: the push stands.
    pub(crate) async fn attest_push(
        &self,
        name: &RepoName,
        digest: &Digest,
        parsed: &ParsedManifest,
        size: u64,
        tags: &[String],
        actor: &Actor,
    ) {
        if !self.config.attest_pushes.matches(name.as_str())
            || parsed.subject.is_some()
            || crate::signatures::is_signature_artifact(parsed)
            || digest.algorithm() != cairn_core::Algorithm::Sha256
        {
            return;
        }
        let Some(keys) = self.signer.keys() else {
            return;
        };
        let now = cairn_core::unix_now();
        let version = tags.first().cloned().unwrap_or_else(|| digest.to_string());
        let statement = publish_statement(&PublishFacts {
            format: "oci",
            repository: name.as_str(),
            package: name.as_str(),
            version: &version,
            filename: name.as_str(),
            sha256: digest.hex(),
            publisher: &actor.name,
            credential: actor.credential.as_deref(),
            source: actor.source.as_deref(),
            published_at: now,
        });
        let Some(bundle) = keys.attest(&statement) else {
            return;
        };
        if let Err(e) = self
            .store_referrer(name, digest, parsed, size, &bundle)
            .await
        {
            tracing::warn!(repository = %name, %digest, error = %e.message, "a publish attestation was not stored");
        }
    }

    /// Stores `bundle` as a referrer of the manifest, as the registry.
    async fn store_referrer(
        &self,
        name: &RepoName,
        subject: &Digest,
        parsed: &ParsedManifest,
        size: u64,
        bundle: &serde_json::Value,
    ) -> Result<(), crate::error::OciError> {
        let registry = Actor {
            name: "cairn".into(),
            credential: None,
            source: None,
        };
        let layer = bytes::Bytes::from(bundle.to_string());
        let config = bytes::Bytes::from_static(b"{}");
        let mut stored = Vec::new();
        for blob in [&config, &layer] {
            let d = Digest::sha256_of(blob);
            self.blobs.put_bytes(&d, blob.clone()).await?;
            self.meta
                .link_blob(name.as_str(), &d, blob.len() as u64, &registry)
                .await?;
            stored.push((d, blob.len()));
        }
        let doc = json!({
            "schemaVersion": 2,
            "mediaType": IMAGE_MANIFEST,
            "artifactType": BUNDLE,
            "config": {"mediaType": EMPTY, "digest": stored[0].0.to_string(), "size": stored[0].1},
            "layers": [{"mediaType": BUNDLE, "digest": stored[1].0.to_string(), "size": stored[1].1}],
            "subject": {"mediaType": parsed.media_type, "digest": subject.to_string(), "size": size},
            "annotations": {
                "dev.sigstore.bundle.content": "dsse-envelope",
                "dev.sigstore.bundle.predicateType": PUBLISH_PREDICATE,
                "dev.cairn.attestation.payloadType": IN_TOTO,
            },
        });
        let bytes = bytes::Bytes::from(doc.to_string());
        let digest = Digest::sha256_of(&bytes);
        let referrer = parse_manifest(Some(IMAGE_MANIFEST), &bytes)
            .map_err(|e| crate::error::OciError::manifest_invalid(e.to_string()))?;
        self.blobs.put_bytes(&digest, bytes.clone()).await?;
        let record = ManifestRecord {
            repository: name.to_string(),
            digest: digest.clone(),
            media_type: IMAGE_MANIFEST.into(),
            size: bytes.len() as u64,
            subject: Some(subject.clone()),
            artifact_type: Some(BUNDLE.into()),
            annotations: referrer
                .annotations
                .as_ref()
                .map(|a| serde_json::to_string(a).expect("string map")),
        };
        let claimed: Vec<Digest> = stored.into_iter().map(|(d, _)| d).collect();
        self.meta
            .put_manifest(
                &record,
                &referrer.references(),
                &claimed,
                &[],
                &self.config.tag_rules,
                &registry,
            )
            .await?;
        self.record_signatures(name.as_str(), &digest, &referrer)
            .await?;
        tracing::info!(repository = %name, %subject, attestation = %digest, "publish attestation stored");
        Ok(())
    }
}
