//! The registry's own signing keys (ECDSA P-256): what signs npm's
//! `dist.signatures` (cairn-npm) and cairn's publish attestations
//! ([`RegistryKeys::attest`]). The keys live in the shared database (one
//! list every replica reads, `cairn npm rotate-key` adds one); a rotated
//! key stays listed with its `expires`, so signatures made before then keep
//! verifying. Pure but for the randomness ECDSA needs.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// Where the key list is kept (a database setting; named for npm, the
/// first format signed with it).
pub const KEYS_SETTING: &str = "npm.registry_keys";

/// The SubjectPublicKeyInfo header of an uncompressed P-256 point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A key as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredKey {
    pub keyid: String,
    /// The PKCS #8 private key, base64.
    pub pkcs8: String,
    pub created: String,
    /// When it stopped signing (RFC 3339); none for the signing key.
    pub expires: Option<String>,
}

struct Key {
    stored: StoredKey,
    spki: Vec<u8>,
    pair: EcdsaKeyPair,
}

/// The registry's keys, parsed.
pub struct RegistryKeys {
    keys: Vec<Key>,
    rng: SystemRandom,
}

#[derive(Debug, thiserror::Error)]
#[error("the stored registry keys are unreadable: {0}")]
pub struct KeysError(String);

fn now_rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A new P-256 key, created at `unix`.
pub fn generate(unix: i64) -> StoredKey {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .expect("generating a P-256 key");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
        .expect("a generated key parses");
    StoredKey {
        keyid: keyid(&spki(&pair)),
        pkcs8: STANDARD.encode(pkcs8.as_ref()),
        created: now_rfc3339(unix),
        expires: None,
    }
}

fn spki(pair: &EcdsaKeyPair) -> Vec<u8> {
    let mut der = P256_SPKI_PREFIX.to_vec();
    der.extend_from_slice(pair.public_key().as_ref());
    der
}

/// npm's key id: `SHA256:` and the unpadded base64 of the SPKI's SHA-256.
fn keyid(spki: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(spki)))
}

/// The stored list with a new signing key; the old one expires at `unix`.
pub fn rotate(stored: &str, unix: i64) -> Result<String, KeysError> {
    let mut keys: Vec<StoredKey> =
        serde_json::from_str(stored).map_err(|e| KeysError(e.to_string()))?;
    for k in keys.iter_mut().filter(|k| k.expires.is_none()) {
        k.expires = Some(now_rfc3339(unix));
    }
    keys.push(generate(unix));
    Ok(serde_json::to_string(&keys).expect("keys serialise"))
}

/// A fresh list of one key (what the first start stores).
pub fn initial(unix: i64) -> String {
    serde_json::to_string(&vec![generate(unix)]).expect("keys serialise")
}

impl RegistryKeys {
    pub fn parse(stored: &str) -> Result<RegistryKeys, KeysError> {
        let list: Vec<StoredKey> =
            serde_json::from_str(stored).map_err(|e| KeysError(e.to_string()))?;
        let rng = SystemRandom::new();
        let keys = list
            .into_iter()
            .map(|stored| {
                let pkcs8 = STANDARD
                    .decode(&stored.pkcs8)
                    .map_err(|e| KeysError(e.to_string()))?;
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &rng)
                    .map_err(|e| KeysError(e.to_string()))?;
                Ok(Key {
                    spki: spki(&pair),
                    stored,
                    pair,
                })
            })
            .collect::<Result<Vec<_>, KeysError>>()?;
        Ok(RegistryKeys { keys, rng })
    }

    /// The key that signs: the newest without an expiry.
    fn signer(&self) -> Option<&Key> {
        self.keys.iter().rev().find(|k| k.stored.expires.is_none())
    }

    /// The signing key's id (part of rendered documents' cache variant).
    pub fn signing_keyid(&self) -> &str {
        self.signer().map_or("", |k| k.stored.keyid.as_str())
    }

    /// Signs `message` with the signing key: its key id and the ASN.1
    /// ECDSA signature.
    pub fn sign(&self, message: &[u8]) -> Option<(&str, Vec<u8>)> {
        let key = self.signer()?;
        let sig = key.pair.sign(&self.rng, message).ok()?;
        Some((key.stored.keyid.as_str(), sig.as_ref().to_vec()))
    }

    /// Every key, newest last: its id, SubjectPublicKeyInfo (DER) and when
    /// it stopped signing.
    pub fn public_keys(&self) -> impl Iterator<Item = (&str, &[u8], Option<&str>)> {
        self.keys.iter().map(|k| {
            (
                k.stored.keyid.as_str(),
                k.spki.as_slice(),
                k.stored.expires.as_deref(),
            )
        })
    }

    /// A Sigstore bundle (v0.3) of a DSSE envelope over the in-toto
    /// `statement`, signed with the signing key and naming it by its key
    /// id (the bundle's public-key hint): what `cosign
    /// verify-blob-attestation --key` checks.
    pub fn attest(&self, statement: &Value) -> Option<Value> {
        let payload = serde_json::to_vec(statement).ok()?;
        let (keyid, sig) = self.sign(&super::evidence::pae(super::evidence::IN_TOTO, &payload))?;
        Some(json!({
            "mediaType": super::evidence::BUNDLE_V03,
            "verificationMaterial": {"publicKey": {"hint": keyid}},
            "dsseEnvelope": {
                "payloadType": super::evidence::IN_TOTO,
                "payload": STANDARD.encode(&payload),
                // No keyid in the envelope: DSSE verifiers skip a
                // signature whose keyid is not their key's own idea of it.
                "signatures": [{"sig": STANDARD.encode(sig)}],
            },
        }))
    }
}

/// A SubjectPublicKeyInfo as a PEM `PUBLIC KEY` block.
pub fn spki_pem(spki: &[u8]) -> String {
    pem::encode(&pem::Pem::new("PUBLIC KEY", spki.to_vec()))
}

/// The predicate type of cairn's publish attestations.
pub const PUBLISH_PREDICATE: &str = "https://cairn.dev/attestation/publish/v1";

/// What a publish attestation says of one stored file.
#[derive(Debug, Clone)]
pub struct PublishFacts<'a> {
    pub format: &'a str,
    pub repository: &'a str,
    /// The package's canonical key, and the version.
    pub package: &'a str,
    pub version: &'a str,
    pub filename: &'a str,
    /// The file's SHA-256 (hex).
    pub sha256: &'a str,
    /// Who published, with which credential (an API token's id, the
    /// trusted publisher's token), from where.
    pub publisher: &'a str,
    pub credential: Option<&'a str>,
    pub source: Option<&'a str>,
    pub published_at: i64,
}

/// The in-toto statement of a publish: the file is the subject; the
/// predicate names the publisher, the credential and the audit-log entry
/// (`package.publish` on `<format>/<repository>`, artifact
/// `<package>@<version>`).
pub fn publish_statement(f: &PublishFacts<'_>) -> Value {
    let resource = format!("{}/{}", f.format, f.repository);
    let artifact = format!("{}@{}", f.package, f.version);
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": f.filename, "digest": {"sha256": f.sha256}}],
        "predicateType": PUBLISH_PREDICATE,
        "predicate": {
            "registry": "cairn",
            "format": f.format,
            "repository": f.repository,
            "package": f.package,
            "version": f.version,
            "publisher": {"name": f.publisher, "credential": f.credential, "source": f.source},
            "publishedAt": now_rfc3339(f.published_at),
            "audit": {"action": "package.publish", "resource": resource, "artifact": artifact},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::keys::PublicKey;

    fn pem(spki: &[u8]) -> String {
        spki_pem(spki)
    }

    #[test]
    fn the_newest_key_signs_and_rotated_keys_stay_listed() {
        let stored = initial(1_700_000_000);
        let keys = RegistryKeys::parse(&stored).unwrap();
        let (keyid, sig) = keys.sign(b"lib@1.0.0:sha512-abc").unwrap();
        assert!(keyid.starts_with("SHA256:"));
        let (id, spki, expires) = keys.public_keys().next().unwrap();
        assert_eq!((id, expires), (keyid, None));
        let key = PublicKey::from_pem(&pem(spki)).unwrap();
        assert!(key.verify(b"lib@1.0.0:sha512-abc", &sig));
        assert!(!key.verify(b"lib@1.0.1:sha512-abc", &sig));

        let rotated = RegistryKeys::parse(&rotate(&stored, 1_800_000_000).unwrap()).unwrap();
        let listed: Vec<_> = rotated.public_keys().collect();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].2, Some("2027-01-15T08:00:00Z"));
        assert_eq!(listed[1].2, None);
        assert_ne!(rotated.signing_keyid(), keys.signing_keyid());
        assert_eq!(rotated.sign(b"x").unwrap().0, listed[1].0);
        assert!(RegistryKeys::parse("not json").is_err());
    }

    #[test]
    fn attestations_are_dsse_bundles_the_key_verifies() {
        let keys = RegistryKeys::parse(&initial(1_700_000_000)).unwrap();
        let statement = json!({"_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "f", "digest": {"sha256": "ab".repeat(32)}}],
            "predicateType": "https://cairn.dev/attestation/publish/v1", "predicate": {}});
        let bundle = keys.attest(&statement).unwrap();
        let signed = crate::trust::evidence::bundle(bundle.to_string().as_bytes(), None)
            .unwrap()
            .remove(0);
        let (_, spki, _) = keys.public_keys().next().unwrap();
        let trust = crate::trust::Trust::new(&[("cairn".into(), pem(spki))]).unwrap();
        assert_eq!(trust.signers_of(&signed, 0).ids, vec!["cairn".to_string()]);
        assert_eq!(
            signed.predicate_type.as_deref(),
            Some("https://cairn.dev/attestation/publish/v1")
        );
    }
}
