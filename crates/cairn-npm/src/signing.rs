//! npm registry signatures: every hosted version's packument entry carries
//! `dist.signatures` — ECDSA P-256 over `<name>@<version>:<integrity>`, as
//! npmjs signs — and `GET /-/npm/v1/keys` serves the public keys, so
//! `npm audit signatures` checks that what was installed is what cairn
//! stored. The keys live in the shared database (one list every replica
//! reads, `cairn npm rotate-key` adds one); a rotated key stays listed
//! with its `expires`, which npm compares with each version's publish time,
//! so installs of older versions keep verifying.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// Where the key list is kept (a database setting).
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
#[error("the stored npm registry keys are unreadable: {0}")]
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

    /// `dist.signatures` for a version with this `integrity`.
    pub fn sign(&self, name: &str, version: &str, integrity: &str) -> Option<Value> {
        let key = self.signer()?;
        let message = format!("{name}@{version}:{integrity}");
        let sig = key.pair.sign(&self.rng, message.as_bytes()).ok()?;
        Some(json!([{"keyid": key.stored.keyid, "sig": STANDARD.encode(sig.as_ref())}]))
    }

    /// `GET /-/npm/v1/keys`.
    pub fn document(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|k| {
                json!({
                    "expires": k.stored.expires,
                    "keyid": k.stored.keyid,
                    "keytype": "ecdsa-sha2-nistp256",
                    "scheme": "ecdsa-sha2-nistp256",
                    "key": STANDARD.encode(&k.spki),
                })
            })
            .collect();
        json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};

    #[test]
    fn versions_are_signed_with_the_newest_key_and_rotated_keys_stay_listed() {
        let stored = initial(1_700_000_000);
        let keys = RegistryKeys::parse(&stored).unwrap();
        let sigs = keys.sign("lib", "1.0.0", "sha512-abc").unwrap();
        let doc = keys.document();
        assert_eq!(doc["keys"][0]["keyid"], sigs[0]["keyid"]);
        assert!(doc["keys"][0]["keyid"]
            .as_str()
            .unwrap()
            .starts_with("SHA256:"));
        let spki = STANDARD
            .decode(doc["keys"][0]["key"].as_str().unwrap())
            .unwrap();
        let point = &spki[P256_SPKI_PREFIX.len()..];
        let sig = STANDARD.decode(sigs[0]["sig"].as_str().unwrap()).unwrap();
        let verifier = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point);
        assert!(verifier.verify(b"lib@1.0.0:sha512-abc", &sig).is_ok());
        assert!(verifier.verify(b"lib@1.0.1:sha512-abc", &sig).is_err());

        let rotated = RegistryKeys::parse(&rotate(&stored, 1_800_000_000).unwrap()).unwrap();
        let doc = rotated.document();
        assert_eq!(doc["keys"].as_array().unwrap().len(), 2);
        assert_eq!(doc["keys"][0]["expires"], "2027-01-15T08:00:00Z");
        assert!(doc["keys"][1]["expires"].is_null());
        assert_ne!(rotated.signing_keyid(), keys.signing_keyid());
        assert_eq!(
            rotated.sign("lib", "1.0.0", "x").unwrap()[0]["keyid"],
            doc["keys"][1]["keyid"]
        );
        assert!(RegistryKeys::parse("not json").is_err());
    }
}
