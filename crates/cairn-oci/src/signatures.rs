//! Signatures: checked when they are pushed, required when a policy says so.
//!
//! A pushed manifest that is a signature or attestation artifact — cosign's
//! `sha256-<hex>.sig` and `.att` images, a Sigstore bundle referrer, a
//! notation JWS or COSE signature — is
//! recorded, and each signature it carries is checked against the
//! configured keys (`cairn_core::trust`); a key that verifies it becomes a
//! verdict for the digests the *signed bytes* name. The artifact is stored
//! whatever the outcome (a signature nobody trusts yet is not an error, and
//! a key added later re-evaluates it: [`OciApi::evaluate_signatures`]).
//!
//! A `[[signature_policy]]` is decided on every manifest read, GET or HEAD,
//! by tag or by digest, from the verdicts of the manifest and of the
//! indexes listing it (so an index's children are covered by the index's
//! signature): index lookups, no cryptography. Signature, attestation and
//! SBOM artifacts themselves are exempt, and a caller with the `sign`
//! right on the repository (implied by `publish`; carried by its pull
//! tokens) reads an unsigned manifest with a warning header — what cosign
//! needs to sign it. Nothing rests on a User-Agent.

use crate::error::OciError;
use crate::OciApi;
use cairn_core::manifest::{parse_manifest, ParsedManifest};
use cairn_core::trust::evidence::{
    self, is_signature_media_type, Signed, COSIGN_SIGNATURE_ANNOTATION, DSSE_ENVELOPE,
    MAX_EVIDENCE, SIMPLE_SIGNING,
};
use cairn_core::trust::{decide, policy_for, Decision, SignaturePolicy, Trust, Verdict};
use cairn_core::{Action, Digest, Principal, Reference, Tag};
use cairn_store::AuditRecord;
use std::sync::Arc;

/// The trust configuration and the pull policies.
#[derive(Default)]
pub struct SignatureGate {
    pub trust: Trust,
    pub policies: Vec<SignaturePolicy>,
}

/// Where a signature artifact's layers are read from.
pub(crate) enum LayerSource<'a> {
    /// This registry's blob store (a pushed artifact).
    Stored,
    /// A proxy repository's upstream, which calls the repository `upstream`.
    Upstream {
        proxy: &'a cairn_proxy::Proxy,
        upstream: &'a str,
    },
}

/// The header an unsigned manifest read by a publisher carries.
pub const UNSIGNED_HEADER: &str = "x-cairn-signature-warning";

/// Why a manifest read is served or refused (what `cairn policy explain`
/// shows).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Explanation {
    pub repository: String,
    pub digest: String,
    pub outcome: Outcome,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// The verdicts found (for the manifest and the indexes listing it).
    pub verdicts: Vec<Verdict>,
    pub trust_version: String,
}

/// What a manifest read comes to under the signature policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// No policy covers it.
    None,
    /// A signature, attestation or SBOM artifact: always readable.
    Exempt,
    Allow,
    /// Unsigned, served to a caller who may sign it.
    SignerRead,
    Deny,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::None => "none",
            Outcome::Exempt => "exempt",
            Outcome::Allow => "allow",
            Outcome::SignerRead => "signer-read",
            Outcome::Deny => "deny",
        }
    }
}

/// Whether `parsed` is a signature or attestation artifact.
pub(crate) fn is_signature_artifact(parsed: &ParsedManifest) -> bool {
    parsed
        .artifact_type
        .as_deref()
        .is_some_and(is_signature_media_type)
        || parsed
            .blobs
            .iter()
            .any(|b| is_signature_media_type(&b.media_type))
}

impl OciApi {
    /// Serves manifests only as the signature policies allow, and checks
    /// pushed signatures against `gate.trust`.
    pub fn with_signature_gate(mut self, gate: Arc<SignatureGate>) -> Self {
        self.signatures = gate;
        self
    }

    /// The bytes of a signature layer: from the blob store, or through a
    /// proxy repository from its upstream (verified against the digest,
    /// cached like any proxied blob).
    async fn layer_bytes(
        &self,
        source: &LayerSource<'_>,
        digest: &Digest,
    ) -> Result<Option<bytes::Bytes>, String> {
        match source {
            LayerSource::Stored => self
                .blobs
                .read_whole(digest)
                .await
                .map_err(|e| e.to_string()),
            LayerSource::Upstream { proxy, upstream } => {
                let source = crate::proxy::upstream_blob(proxy, upstream, digest)
                    .await
                    .map_err(|e| e.to_string())?;
                proxy
                    .read_all(source)
                    .await
                    .map(Some)
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// A layer's bytes as a stream, from `source` (an upstream's are
    /// fetched once and cached like any proxied blob).
    pub(crate) async fn layer_stream(
        &self,
        source: &LayerSource<'_>,
        digest: &Digest,
    ) -> Result<Option<cairn_store::ByteStream>, String> {
        let stored = match source {
            LayerSource::Stored => digest.clone(),
            LayerSource::Upstream { proxy, upstream } => {
                match crate::proxy::upstream_blob(proxy, upstream, digest)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    cairn_proxy::FileSource::Cached { digest, .. } => digest,
                    cairn_proxy::FileSource::Streaming { body, .. } => return Ok(Some(body)),
                }
            }
        };
        self.blobs
            .store()
            .read(&stored, None)
            .await
            .map_err(|e| e.to_string())
    }

    /// The signatures `parsed` carries, read from its layers. A layer that
    /// does not read as what its media type says is skipped (and logged):
    /// it verifies nothing.
    async fn evidence(
        &self,
        repository: &str,
        parsed: &ParsedManifest,
        source: &LayerSource<'_>,
    ) -> Vec<Signed> {
        let mut found = Vec::new();
        let bundle_artifact = parsed
            .artifact_type
            .as_deref()
            .is_some_and(evidence::is_bundle);
        let notation = parsed.artifact_type.as_deref() == Some(evidence::NOTATION_SIGNATURE);
        for layer in &parsed.blobs {
            let m = layer.media_type.as_str();
            let annotation = |k: &str| layer.annotations.as_ref().and_then(|a| a.get(k));
            let kind = if m == SIMPLE_SIGNING && annotation(COSIGN_SIGNATURE_ANNOTATION).is_some() {
                "simple-signing"
            } else if m == DSSE_ENVELOPE {
                "dsse"
            } else if m == evidence::JWS && notation {
                "notation"
            } else if m == evidence::COSE && notation {
                "notation-cose"
            } else if evidence::is_bundle(m) || (bundle_artifact && m == "application/json") {
                "bundle"
            } else {
                continue;
            };
            if layer.size > MAX_EVIDENCE {
                tracing::warn!(%repository, layer = %layer.digest, "a signature layer larger than {MAX_EVIDENCE} bytes is not read");
                continue;
            }
            let bytes = match self.layer_bytes(source, &layer.digest).await {
                Ok(Some(b)) => b,
                Ok(None) => {
                    tracing::warn!(%repository, layer = %layer.digest, "a signature layer is not stored");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(%repository, layer = %layer.digest, error = %e, "a signature layer could not be read");
                    continue;
                }
            };
            let read = match kind {
                "simple-signing" => evidence::simple_signing(
                    &bytes,
                    annotation(COSIGN_SIGNATURE_ANNOTATION).map_or("", |s| s.as_str()),
                    evidence::CosignAnnotations {
                        certificate: annotation("dev.sigstore.cosign/certificate")
                            .map(|s| s.as_str()),
                        chain: annotation("dev.sigstore.cosign/chain").map(|s| s.as_str()),
                        bundle: annotation("dev.sigstore.cosign/bundle").map(|s| s.as_str()),
                    },
                )
                .map(|s| vec![s]),
                "dsse" => evidence::dsse(&bytes),
                "notation" => evidence::notation_jws(&bytes).map(|s| vec![s]),
                "notation-cose" => evidence::notation_cose(&bytes).map(|s| vec![s]),
                _ => evidence::bundle(&bytes, None),
            };
            match read {
                Ok(mut s) => found.append(&mut s),
                Err(e) => {
                    tracing::warn!(%repository, layer = %layer.digest, error = %e, "a signature layer does not verify anything")
                }
            }
        }
        found
    }

    /// The verdicts the signatures in `parsed` earn under the trust
    /// configuration: one per (subject named by the signed bytes, signer).
    pub(crate) async fn verdicts_of(
        &self,
        repository: &str,
        signature: &Digest,
        parsed: &ParsedManifest,
        source: &LayerSource<'_>,
    ) -> Vec<Verdict> {
        let mut verdicts = Vec::new();
        let now = cairn_core::unix_now();
        for signed in self.evidence(repository, parsed, source).await {
            let found = self.signatures.trust.signers_of(&signed, now);
            for problem in &found.problems {
                tracing::warn!(%repository, %signature, %problem, "a signature did not verify");
            }
            for signer in found.ids {
                for subject in &signed.subjects {
                    let v = Verdict {
                        subject: subject.to_string(),
                        signer: signer.clone(),
                        predicate_type: signed.predicate_type.clone().unwrap_or_default(),
                        signature: signature.to_string(),
                    };
                    if !verdicts.contains(&v) {
                        verdicts.push(v);
                    }
                }
            }
        }
        verdicts
    }

    /// Checks a just-stored signature artifact and records its verdicts.
    pub(crate) async fn record_signatures(
        &self,
        repository: &str,
        digest: &Digest,
        parsed: &ParsedManifest,
    ) -> Result<(), OciError> {
        let verdicts = self
            .verdicts_of(repository, digest, parsed, &LayerSource::Stored)
            .await;
        for v in &verdicts {
            tracing::info!(%repository, subject = %v.subject, signer = %v.signer, predicate_type = %v.predicate_type, signature = %digest, "signature verified");
        }
        if verdicts.is_empty() {
            tracing::info!(%repository, signature = %digest, "a signature artifact verified under no configured key");
        }
        metrics::counter!("cairn_signatures_checked_total", "verified" => (!verdicts.is_empty()).to_string())
            .increment(1);
        self.meta
            .record_signature(
                repository,
                &digest.to_string(),
                self.signatures.trust.version(),
                &verdicts,
            )
            .await?;
        Ok(())
    }

    /// Evaluates, under the current trust configuration, the signature
    /// artifacts recorded under an earlier one (up to `limit` of them);
    /// returns how many were evaluated. Safe on several replicas at once.
    pub async fn evaluate_signatures(&self, limit: u32) -> Result<u32, OciError> {
        let version = self.signatures.trust.version().to_string();
        let pending = self.meta.unevaluated_signatures(&version, limit).await?;
        let mut done = 0;
        for (repository, digest) in pending {
            let digest: Digest = digest
                .parse()
                .map_err(|e| OciError::internal(format!("stored digest {digest}: {e}")))?;
            let verdicts = match self.manifest_bytes(&digest).await {
                Ok(bytes) => match parse_manifest(None, &bytes) {
                    Ok(parsed) => {
                        self.verdicts_of(&repository, &digest, &parsed, &LayerSource::Stored)
                            .await
                    }
                    Err(_) => Vec::new(),
                },
                // Gone since it was listed: recording finds no manifest.
                Err(_) => Vec::new(),
            };
            self.meta
                .record_signature(&repository, &digest.to_string(), &version, &verdicts)
                .await?;
            done += 1;
        }
        Ok(done)
    }

    /// Decides reading the manifest `digest` (whose bytes are `bytes`) of
    /// `repository` through `reference` as `principal`. The verdicts come
    /// first (one indexed query): a signed manifest is decided without
    /// parsing anything.
    pub async fn explain(
        &self,
        principal: &Principal,
        repository: &str,
        reference: &Reference,
        digest: &Digest,
        bytes: &[u8],
    ) -> Result<Explanation, OciError> {
        let mut e = Explanation {
            repository: repository.to_string(),
            digest: digest.to_string(),
            outcome: Outcome::None,
            reason: "no signature policy covers this repository".into(),
            policy: None,
            decision: None,
            verdicts: Vec::new(),
            trust_version: self.signatures.trust.version().to_string(),
        };
        let Some(policy) = policy_for(&self.signatures.policies, repository) else {
            return Ok(e);
        };
        if policy.by_tag() {
            // A proxy repository's tags are the upstream's, not recorded
            // here: a pull by digest there is covered (it fails closed).
            let proxied = self.proxies.iter().any(|p| {
                repository
                    .strip_prefix(p.settings().name.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            });
            let covered = match reference {
                Reference::Tag(t) => policy.covers_tag(t.as_str()),
                Reference::Digest(_) if proxied => true,
                Reference::Digest(_) => {
                    let mut named = self
                        .meta
                        .indexes_listing(repository, &digest.to_string())
                        .await?;
                    named.push(digest.to_string());
                    let tags = self.meta.tags_naming(repository, &named).await?;
                    tags.iter().any(|t| policy.covers_tag(t))
                }
            };
            if !covered {
                e.reason = "the signature policy's tags do not name this manifest".into();
                return Ok(e);
            }
        }
        e.policy = Some(policy.name.clone());
        e.verdicts = self
            .meta
            .verdicts(
                repository,
                &digest.to_string(),
                self.signatures.trust.version(),
            )
            .await?;
        let decision = decide(policy, &e.verdicts);
        match &decision {
            Decision::Allow { signer, .. } => {
                e.outcome = Outcome::Allow;
                e.reason = format!("signed by {signer}");
            }
            Decision::Deny { missing, .. } => {
                if self.exempt(reference, bytes) {
                    e.outcome = Outcome::Exempt;
                    e.reason =
                        "signature, attestation and SBOM artifacts are always readable".into();
                    e.decision = None;
                    return Ok(e);
                }
                let resource = cairn_http::Resource::repository(repository);
                let signer = cairn_core::access::authorize_any(
                    &self.config.access,
                    principal,
                    &resource.names(),
                    Action::Sign,
                )
                .is_ok();
                if signer {
                    e.outcome = Outcome::SignerRead;
                    e.reason = format!(
                        "missing {missing}; served because the caller may sign here (sign or publish)"
                    );
                } else {
                    e.outcome = Outcome::Deny;
                    e.reason = format!("missing {missing}");
                }
            }
        }
        e.decision = Some(decision);
        Ok(e)
    }

    /// Whether the manifest is a signature, attestation or SBOM artifact.
    fn exempt(&self, reference: &Reference, bytes: &[u8]) -> bool {
        let Ok(parsed) = parse_manifest(None, bytes) else {
            return false;
        };
        let tags: Vec<Tag> = match reference {
            Reference::Tag(t) => vec![t.clone()],
            Reference::Digest(_) => vec![],
        };
        is_signature_artifact(&parsed) || crate::sbom::carried(&parsed, &tags).is_some()
    }

    /// The policy's decision on a manifest read; refuses with `DENIED`.
    /// Returns the warning for a publisher's read of an unsigned manifest.
    pub(crate) async fn signature_check(
        &self,
        req: &cairn_http::Request,
        repository: &str,
        reference: &Reference,
        digest: &Digest,
        bytes: &[u8],
    ) -> Result<Option<String>, OciError> {
        let e = self
            .explain(&req.auth.principal, repository, reference, digest, bytes)
            .await?;
        let (action, outcome) = match e.outcome {
            Outcome::Allow => ("signature.allow", "ok"),
            Outcome::SignerRead => ("signature.signer-read", "ok"),
            Outcome::Deny => ("signature.deny", "denied"),
            Outcome::None | Outcome::Exempt => return Ok(None),
        };
        let policy = e.policy.clone().unwrap_or_default();
        metrics::counter!("cairn_signature_decisions_total", "policy" => policy.clone(), "outcome" => e.outcome.as_str())
            .increment(1);
        let mut entry = AuditRecord::by(
            &req.actor(),
            action,
            Some(repository),
            Some(&e.digest),
            outcome,
        );
        entry.detail = Some(format!("policy {policy}: {}", e.reason));
        // Appended beside the answer, not before it: the read costs an
        // index lookup, not a write. A refusal is always written; an allow
        // once an hour per caller, manifest and outcome on this replica (a
        // registry serving thousands of pulls a second would otherwise
        // write thousands of identical entries).
        let meta = self.meta.clone();
        let write = async move { meta.append_audit(&entry).await };
        if e.outcome == Outcome::Deny {
            tokio::spawn(async move {
                if let Err(err) = write.await {
                    tracing::warn!(error = %err, "a signature refusal could not be audited");
                }
            });
        } else {
            let key = format!(
                "{}|{repository}@{}|{}",
                req.auth.principal.name(),
                e.digest,
                e.outcome.as_str()
            );
            self.decisions_audited
                .note(key, "a signature decision", write);
        }
        match e.outcome {
            Outcome::Deny => {
                let missing = match &e.decision {
                    Some(Decision::Deny { missing, .. }) => missing.as_str(),
                    _ => "a signature",
                };
                tracing::info!(%repository, digest = %e.digest, %policy, reason = %e.reason, "refused by a signature policy");
                let message = format!("signature policy {policy}: {} needs {missing}", e.digest);
                if req.auth.principal == Principal::Anonymous {
                    // A caller with credentials may be a signer: it is asked
                    // for them (401 with the token challenge), and the body
                    // still says DENIED and why, for one without.
                    let mut refusal = crate::challenge(
                        req,
                        Some(&format!("repository:{repository}:pull")),
                        false,
                    );
                    refusal.code = "DENIED";
                    refusal.message = message;
                    return Err(refusal);
                }
                Err(OciError::denied(message))
            }
            Outcome::SignerRead => Ok(Some(e.reason)),
            Outcome::None | Outcome::Exempt | Outcome::Allow => Ok(None),
        }
    }
}

impl OciApi {
    /// [`OciApi::explain`] for a repository and a tag or digest (the admin
    /// API's `GET /api/v1/policy/explain`).
    pub async fn explain_reference(
        &self,
        principal: &Principal,
        repository: &str,
        reference: &str,
    ) -> Result<Explanation, OciError> {
        let name = cairn_core::RepoName::parse(repository)
            .map_err(|e| OciError::name_invalid(e.to_string()))?;
        let reference =
            Reference::parse(reference).map_err(|e| OciError::manifest_invalid(e.to_string()))?;
        // Through a proxy: the upstream's manifest, its signatures checked
        // as a pull would check them.
        if let Some((proxy, upstream)) = self.proxy_for(&name) {
            let (digest, bytes) = self
                .proxied_for_explain(&proxy, &upstream, &name, &reference)
                .await?;
            return self
                .explain(principal, repository, &reference, &digest, &bytes)
                .await;
        }
        let record = self.find_manifest(&name, &reference).await?;
        let bytes = self.manifest_bytes(&record.digest).await?;
        self.explain(principal, repository, &reference, &record.digest, &bytes)
            .await
    }
}
