//! Trust: which signatures count, and which pulls need one.
//!
//! Signatures are checked once, when they arrive ([`Trust::signers_of`]);
//! what is kept is a verdict — this subject digest is signed by this
//! configured signer, under this version of the trust configuration. A
//! pull-time [`SignaturePolicy`] is then decided from the verdicts alone
//! ([`decide`]), with no cryptography and no network. The trust version is
//! a digest of the configured signers and their keys: a changed key makes
//! a new version, whose verdicts are worked out again from the stored
//! signatures (never at pull time), so a removed key stops counting at
//! once and an added one counts once re-evaluation has run.
//!
//! Pure: keys come as PEM text, the verdicts as a list.

pub mod evidence;
pub mod keys;
pub mod openpgp;
pub mod registry;
pub mod sigstore;
pub mod x509;

use crate::vuln_policy::pattern;
use globset::GlobMatcher;
use keys::PublicKey;
use sha2::{Digest as _, Sha256};

/// A configured signer: an id the policies name, and its public key.
#[derive(Debug, Clone, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SigningKeyConfig {
    pub id: String,
    /// The PEM `PUBLIC KEY` block (or `file`, read by the server).
    #[serde(default)]
    pub pem: Option<String>,
    #[serde(default)]
    pub file: Option<std::path::PathBuf>,
}

/// The configured signers a signature counts for, and why it counted for
/// none of the keyless ones when it was meant to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signers {
    pub ids: Vec<String>,
    pub problems: Vec<String>,
}

/// `[[signing_identity]]`: a keyless (Sigstore) signer, named by the
/// OpenID issuer and the subject its certificate carries.
#[derive(Debug, Clone, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    pub id: String,
    /// The OpenID provider, exactly (`https://token.actions.githubusercontent.com`).
    pub issuer: String,
    /// The certificate's subject (a workflow URI, an e-mail address): exact,
    /// or a pattern (`*` within a `/`-separated segment, `**` across).
    pub subject: String,
}

#[derive(Debug, Clone)]
struct Identity {
    id: String,
    issuer: String,
    subject: GlobMatcher,
    subject_pattern: String,
}

/// The signers a registry trusts: public keys, certificates that anchor
/// the chains of certificate-based signatures (notation), and keyless
/// identities checked against a pinned Sigstore trusted root.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    keys: Vec<(String, PublicKey)>,
    certificates: Vec<(String, x509::Cert)>,
    identities: Vec<Identity>,
    sigstore: Option<std::sync::Arc<sigstore::TrustedRoot>>,
    version: String,
}

impl Trust {
    /// Trust in these `(id, PEM)` keys. Ids are unique.
    pub fn new(keys: &[(String, String)]) -> Result<Trust, String> {
        Trust::with_certificates(keys, &[])
    }

    /// Trust in these `(id, PEM PUBLIC KEY)` keys and `(id, PEM
    /// CERTIFICATE)` trusted certificates. Ids are unique across both.
    pub fn with_certificates(
        keys: &[(String, String)],
        certificates: &[(String, String)],
    ) -> Result<Trust, String> {
        let mut ids: Vec<&String> = Vec::new();
        for (id, _) in keys.iter().chain(certificates) {
            if id.is_empty() || id.contains(char::is_whitespace) {
                return Err(format!("signer id {id:?} must be a word"));
            }
            if ids.contains(&id) {
                return Err(format!("signer {id:?} is configured twice"));
            }
            ids.push(id);
        }
        let mut parsed: Vec<(String, PublicKey)> = Vec::new();
        for (id, pem) in keys {
            let key = PublicKey::from_pem(pem).map_err(|e| format!("signing key {id}: {e}"))?;
            parsed.push((id.clone(), key));
        }
        let mut certs = Vec::new();
        for (id, pem) in certificates {
            let cert =
                x509::Cert::from_pem(pem).map_err(|e| format!("trusted certificate {id}: {e}"))?;
            certs.push((id.clone(), cert));
        }
        let mut trust = Trust {
            keys: parsed,
            certificates: certs,
            ..Trust::default()
        };
        trust.version = trust.compute_version();
        Ok(trust)
    }

    /// Adds keyless signers: a Sigstore trusted root (its JSON) and the
    /// identities whose signatures count. Ids stay unique across all
    /// signers.
    pub fn with_keyless(
        mut self,
        trusted_root: Option<&[u8]>,
        identities: &[IdentityConfig],
    ) -> Result<Trust, String> {
        if let Some(json) = trusted_root {
            self.sigstore = Some(std::sync::Arc::new(
                sigstore::TrustedRoot::from_json(json)
                    .map_err(|e| format!("the Sigstore trusted root: {e}"))?,
            ));
        }
        if !identities.is_empty() && self.sigstore.is_none() {
            return Err(
                "[[signing_identity]] needs a Sigstore trusted root (sigstore.trusted_root)".into(),
            );
        }
        for i in identities {
            if i.id.is_empty() || i.id.contains(char::is_whitespace) {
                return Err(format!("signer id {:?} must be a word", i.id));
            }
            if self.has_signer(&i.id) {
                return Err(format!("signer {:?} is configured twice", i.id));
            }
            if i.issuer.is_empty() {
                return Err(format!("signing identity {}: issuer is empty", i.id));
            }
            self.identities.push(Identity {
                id: i.id.clone(),
                issuer: i.issuer.clone(),
                subject: pattern(&i.subject)
                    .map_err(|e| format!("signing identity {}: subject: {e}", i.id))?,
                subject_pattern: i.subject.clone(),
            });
        }
        self.version = self.compute_version();
        Ok(self)
    }

    /// A digest of every signer and what it is checked with.
    fn compute_version(&self) -> String {
        let mut lines: Vec<String> = self
            .keys
            .iter()
            .map(|(id, k)| format!("key {id} {}\n", k.fingerprint()))
            .chain(self.certificates.iter().map(|(id, c)| {
                format!(
                    "certificate {id} {}\n",
                    hex::encode(Sha256::digest(c.der()))
                )
            }))
            .chain(
                self.identities
                    .iter()
                    .map(|i| format!("identity {} {} {}\n", i.id, i.issuer, i.subject_pattern)),
            )
            .chain(
                self.sigstore
                    .iter()
                    .map(|r| format!("sigstore-root {}\n", r.digest())),
            )
            .collect();
        lines.sort();
        let version = hex::encode(Sha256::digest(lines.concat()));
        version[..16].to_string()
    }

    /// The pinned Sigstore trusted root, when one is configured (package
    /// provenance is verified against it too).
    pub fn sigstore_root(&self) -> Option<std::sync::Arc<sigstore::TrustedRoot>> {
        self.sigstore.clone()
    }

    /// Identifies this configuration: verdicts are kept per version.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.certificates.is_empty() && self.identities.is_empty()
    }

    pub fn has_signer(&self, id: &str) -> bool {
        self.keys.iter().any(|(i, _)| i == id)
            || self.certificates.iter().any(|(i, _)| i == id)
            || self.identities.iter().any(|i| i.id == id)
    }

    /// The configured signers that verify `signed` at `now` (Unix
    /// seconds): keys that made the signature, and the trusted certificate
    /// anchoring the chain of a certificate-based signature whose leaf made
    /// it. The chain must be valid at `now` — notation's `notary.x509`
    /// scheme has no authentic signing time, so the signer's claimed time
    /// proves nothing — and the leaf be for code signing. A keyless
    /// signature counts for the `[[signing_identity]]`s its certificate
    /// matches once the pinned Sigstore root verifies it (at the time its
    /// transparency log vouches for, not `now`); why it did not verify is
    /// said in [`Signers::problems`].
    pub fn signers_of(&self, signed: &evidence::Signed, now: i64) -> Signers {
        let mut problems = Vec::new();
        let mut out: Vec<String> = self
            .keys
            .iter()
            .filter(|(_, k)| k.verify(&signed.message, &signed.signature))
            .map(|(id, _)| id.clone())
            .collect();
        if !self.certificates.is_empty() && !signed.chain.is_empty() {
            let chain: Result<Vec<x509::Cert>, String> = signed
                .chain
                .iter()
                .map(|d| x509::Cert::from_der(d))
                .collect();
            if let Ok(chain) = chain {
                if chain[0].key().verify(&signed.message, &signed.signature) {
                    if let Ok(id) = x509::anchor(&chain, &self.certificates, now) {
                        out.push(id.to_string());
                    }
                }
            }
        }
        if let (Some(root), false) = (&self.sigstore, self.identities.is_empty()) {
            if !signed.chain.is_empty() && !signed.tlog.is_empty() {
                match root.verify(signed) {
                    Ok(who) => out.extend(
                        self.identities
                            .iter()
                            .filter(|i| i.issuer == who.issuer && i.subject.is_match(&who.subject))
                            .map(|i| i.id.clone()),
                    ),
                    Err(e) => problems.push(format!("keyless signature: {e}")),
                }
            }
        }
        Signers { ids: out, problems }
    }

    /// `(id, kind, what identifies it)` of each key and keyless identity,
    /// for explanations.
    pub fn describe(&self) -> Vec<(String, &'static str, String)> {
        self.keys
            .iter()
            .map(|(id, k)| (id.clone(), k.kind().as_str(), k.fingerprint()))
            .chain(self.identities.iter().map(|i| {
                (
                    i.id.clone(),
                    "keyless",
                    format!("{} {}", i.issuer, i.subject_pattern),
                )
            }))
            .collect()
    }
}

/// `[[signature_policy]]`: manifests of matching repositories (and tags)
/// are pulled only when signed by one of `signed_by`, and, for each
/// `[[signature_policy.attestations]]`, attested with that predicate type
/// by one of its signers.
#[derive(Debug, Clone, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SignaturePolicyConfig {
    pub name: String,
    pub repositories: Vec<String>,
    /// Tag patterns; without them every manifest of the repository is
    /// covered. With them, a tag pull is covered when the tag matches, and
    /// a digest pull when a matching tag names the digest (or an index
    /// listing it).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    pub signed_by: Vec<String>,
    #[serde(default)]
    pub attestations: Vec<AttestationRuleConfig>,
}

#[derive(Debug, Clone, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AttestationRuleConfig {
    pub predicate_type: String,
    pub signed_by: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SignaturePolicy {
    pub name: String,
    repositories: Vec<GlobMatcher>,
    tags: Option<Vec<GlobMatcher>>,
    pub tag_patterns: Vec<String>,
    pub signed_by: Vec<String>,
    pub attestations: Vec<AttestationRuleConfig>,
}

impl SignaturePolicy {
    pub fn compile(c: &SignaturePolicyConfig, trust: &Trust) -> Result<SignaturePolicy, String> {
        let name = &c.name;
        let known = |ids: &[String]| -> Result<(), String> {
            if ids.is_empty() {
                return Err(format!(
                    "signature policy {name}: signed_by names no signer"
                ));
            }
            match ids.iter().find(|id| !trust.has_signer(id)) {
                Some(id) => Err(format!(
                    "signature policy {name}: {id:?} is not a configured [[signing_key]] or [[trusted_certificate]]"
                )),
                None => Ok(()),
            }
        };
        known(&c.signed_by)?;
        for a in &c.attestations {
            known(&a.signed_by)?;
        }
        let compile = |ps: &[String]| -> Result<Vec<GlobMatcher>, String> {
            ps.iter()
                .map(|p| pattern(p).map_err(|e| format!("signature policy {name}: {e}")))
                .collect()
        };
        Ok(SignaturePolicy {
            name: name.clone(),
            repositories: compile(&c.repositories)?,
            tags: c.tags.as_deref().map(compile).transpose()?,
            tag_patterns: c.tags.clone().unwrap_or_default(),
            signed_by: c.signed_by.clone(),
            attestations: c.attestations.clone(),
        })
    }

    pub fn covers_repository(&self, repository: &str) -> bool {
        self.repositories.iter().any(|p| p.is_match(repository))
    }

    /// Whether the policy names tags (then a digest pull is covered only
    /// through a matching tag).
    pub fn by_tag(&self) -> bool {
        self.tags.is_some()
    }

    pub fn covers_tag(&self, tag: &str) -> bool {
        match &self.tags {
            None => true,
            Some(t) => t.iter().any(|p| p.is_match(tag)),
        }
    }
}

/// The first policy covering `repository`.
pub fn policy_for<'a>(
    policies: &'a [SignaturePolicy],
    repository: &str,
) -> Option<&'a SignaturePolicy> {
    policies.iter().find(|p| p.covers_repository(repository))
}

/// A stored verdict: the subject (or an index listing it) is signed by
/// `signer`; `predicate_type` is empty for a plain signature.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub subject: String,
    pub signer: String,
    pub predicate_type: String,
    /// The signature artifact's manifest digest.
    pub signature: String,
}

/// What a policy decided for one manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "decision", rename_all = "lowercase")]
pub enum Decision {
    Allow {
        policy: String,
        signer: String,
        signature: String,
    },
    Deny {
        policy: String,
        missing: String,
    },
}

/// Decides from the verdicts found for the manifest (and the indexes that
/// list it): a plain signature by one of `signed_by`, and each required
/// attestation by one of its signers.
pub fn decide(policy: &SignaturePolicy, verdicts: &[Verdict]) -> Decision {
    let by = |predicate: &str, signers: &[String]| {
        verdicts
            .iter()
            .find(|v| v.predicate_type == predicate && signers.contains(&v.signer))
    };
    let Some(signature) = by("", &policy.signed_by) else {
        return Decision::Deny {
            policy: policy.name.clone(),
            missing: format!("a signature by {}", policy.signed_by.join(" or ")),
        };
    };
    for rule in &policy.attestations {
        if by(&rule.predicate_type, &rule.signed_by).is_none() {
            return Decision::Deny {
                policy: policy.name.clone(),
                missing: format!(
                    "an attestation of {} by {}",
                    rule.predicate_type,
                    rule.signed_by.join(" or ")
                ),
            };
        }
    }
    Decision::Allow {
        policy: policy.name.clone(),
        signer: signature.signer.clone(),
        signature: signature.signature.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEe5BJA7xm/F/QHNUyjotz09a91Dyb\nRITT5+LkTp7xI//dpZ7r9k8YZi1w3RfsfG71N0jDuZCNVWBf+vWUycOIEg==\n-----END PUBLIC KEY-----";

    fn trust() -> Trust {
        Trust::new(&[("ci".into(), KEY.into())]).unwrap()
    }

    fn policy(attest: bool) -> SignaturePolicy {
        let c = SignaturePolicyConfig {
            name: "prod".into(),
            repositories: vec!["prod/**".into()],
            tags: None,
            signed_by: vec!["ci".into()],
            attestations: if attest {
                vec![AttestationRuleConfig {
                    predicate_type: "https://slsa.dev/provenance/v1".into(),
                    signed_by: vec!["ci".into()],
                }]
            } else {
                vec![]
            },
        };
        SignaturePolicy::compile(&c, &trust()).unwrap()
    }

    fn verdict(signer: &str, predicate: &str) -> Verdict {
        Verdict {
            subject: "sha256:aa".into(),
            signer: signer.into(),
            predicate_type: predicate.into(),
            signature: "sha256:bb".into(),
        }
    }

    #[test]
    fn the_version_follows_the_keys() {
        let a = trust();
        let b = Trust::new(&[("ci".into(), KEY.into())]).unwrap();
        let c = Trust::new(&[("ops".into(), KEY.into())]).unwrap();
        assert_eq!(a.version(), b.version());
        assert_ne!(a.version(), c.version());
        assert_ne!(a.version(), Trust::new(&[]).unwrap().version());
        assert!(Trust::new(&[("ci".into(), KEY.into()), ("ci".into(), KEY.into())]).is_err());
    }

    #[test]
    fn policies_name_configured_signers() {
        let mut c = SignaturePolicyConfig {
            name: "p".into(),
            repositories: vec!["**".into()],
            tags: None,
            signed_by: vec!["nobody".into()],
            attestations: vec![],
        };
        assert!(SignaturePolicy::compile(&c, &trust()).is_err());
        c.signed_by = vec![];
        assert!(SignaturePolicy::compile(&c, &trust()).is_err());
    }

    #[test]
    fn decisions() {
        let p = policy(false);
        assert!(matches!(decide(&p, &[]), Decision::Deny { .. }));
        assert!(matches!(
            decide(&p, &[verdict("other", "")]),
            Decision::Deny { .. }
        ));
        assert!(matches!(
            decide(&p, &[verdict("ci", "")]),
            Decision::Allow { .. }
        ));
        let p = policy(true);
        let Decision::Deny { missing, .. } = decide(&p, &[verdict("ci", "")]) else {
            panic!("an attestation is required")
        };
        assert!(missing.contains("slsa.dev/provenance"));
        assert!(matches!(
            decide(
                &p,
                &[
                    verdict("ci", ""),
                    verdict("ci", "https://slsa.dev/provenance/v1")
                ]
            ),
            Decision::Allow { .. }
        ));
        // An attestation alone is not a signature.
        assert!(matches!(
            decide(&p, &[verdict("ci", "https://slsa.dev/provenance/v1")]),
            Decision::Deny { .. }
        ));
    }

    #[test]
    fn keyless_identities_match_issuer_and_subject() {
        let root = include_bytes!("../../tests/fixtures/sigstore/public-good-trusted-root.json");
        let bundle =
            include_bytes!("../../tests/fixtures/sigstore/sigstore-2.0.0-provenance.sigstore.json");
        let signed = evidence::bundle(bundle, None).unwrap().remove(0);
        let gha = "https://token.actions.githubusercontent.com";
        let with = |issuer: &str, subject: &str| {
            Trust::new(&[])
                .unwrap()
                .with_keyless(
                    Some(root),
                    &[IdentityConfig {
                        id: "release".into(),
                        issuer: issuer.into(),
                        subject: subject.into(),
                    }],
                )
                .unwrap()
        };
        // Long after the ten-minute certificate expired: the log dates it.
        let now = 1_900_000_000;
        let t = with(
            gha,
            "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/*",
        );
        assert_eq!(t.signers_of(&signed, now).ids, vec!["release".to_string()]);
        let other_repo = with(
            gha,
            "https://github.com/acme/*/.github/workflows/*@refs/heads/*",
        );
        assert!(other_repo.signers_of(&signed, now).ids.is_empty());
        let other_issuer = with("https://accounts.google.com", "**");
        assert!(other_issuer.signers_of(&signed, now).ids.is_empty());
        assert_ne!(t.version(), other_repo.version());
        assert_ne!(t.version(), Trust::new(&[]).unwrap().version());
        // A broken signature says why.
        let mut bad = signed.clone();
        bad.signature[5] ^= 1;
        let found = t.signers_of(&bad, now);
        assert!(found.ids.is_empty() && found.problems.len() == 1);
        // Identities need the root; ids stay unique.
        let id = IdentityConfig {
            id: "release".into(),
            issuer: gha.into(),
            subject: "x".into(),
        };
        assert!(Trust::new(&[])
            .unwrap()
            .with_keyless(None, std::slice::from_ref(&id))
            .is_err());
        assert!(trust()
            .with_keyless(
                Some(root),
                &[IdentityConfig {
                    id: "ci".into(),
                    ..id
                }]
            )
            .is_err());
    }

    #[test]
    fn coverage() {
        let p = policy(false);
        assert!(p.covers_repository("prod/app") && p.covers_repository("prod/a/b"));
        assert!(!p.covers_repository("dev/app"));
        assert!(p.covers_tag("anything") && !p.by_tag());
    }
}
