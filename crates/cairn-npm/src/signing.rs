//! npm registry signatures: every hosted version's packument entry carries
//! `dist.signatures` — ECDSA P-256 over `<name>@<version>:<integrity>`, as
//! npmjs signs — and `GET /-/npm/v1/keys` serves the public keys, so
//! `npm audit signatures` checks that what was installed is what cairn
//! stored. The keys are the registry's own (`cairn_core::trust::registry`,
//! kept by `Packages`); a rotated key stays listed with its `expires`,
//! which npm compares with each version's publish time, so installs of
//! older versions keep verifying.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cairn_core::trust::registry::RegistryKeys;
use serde_json::{json, Value};

/// `dist.signatures` for a version with this `integrity`.
pub fn dist_signatures(
    keys: &RegistryKeys,
    name: &str,
    version: &str,
    integrity: &str,
) -> Option<Value> {
    let (keyid, sig) = keys.sign(format!("{name}@{version}:{integrity}").as_bytes())?;
    Some(json!([{"keyid": keyid, "sig": STANDARD.encode(sig)}]))
}

/// `GET /-/npm/v1/keys`.
pub fn keys_document(keys: &RegistryKeys) -> Value {
    let keys: Vec<Value> = keys
        .public_keys()
        .map(|(keyid, spki, expires)| {
            json!({
                "expires": expires,
                "keyid": keyid,
                "keytype": "ecdsa-sha2-nistp256",
                "scheme": "ecdsa-sha2-nistp256",
                "key": STANDARD.encode(spki),
            })
        })
        .collect();
    json!({ "keys": keys })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::trust::registry::{initial, rotate};
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};

    #[test]
    fn versions_are_signed_as_npm_checks_them() {
        let stored = initial(1_700_000_000);
        let keys = RegistryKeys::parse(&stored).unwrap();
        let sigs = dist_signatures(&keys, "lib", "1.0.0", "sha512-abc").unwrap();
        let doc = keys_document(&keys);
        assert_eq!(doc["keys"][0]["keyid"], sigs[0]["keyid"]);
        let spki = STANDARD
            .decode(doc["keys"][0]["key"].as_str().unwrap())
            .unwrap();
        // The uncompressed point after the 26-byte P-256 SPKI header.
        let verifier = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &spki[26..]);
        let sig = STANDARD.decode(sigs[0]["sig"].as_str().unwrap()).unwrap();
        assert!(verifier.verify(b"lib@1.0.0:sha512-abc", &sig).is_ok());
        assert!(verifier.verify(b"lib@1.0.1:sha512-abc", &sig).is_err());
        let rotated = RegistryKeys::parse(&rotate(&stored, 1_800_000_000).unwrap()).unwrap();
        let doc = keys_document(&rotated);
        assert_eq!(doc["keys"][0]["expires"], "2027-01-15T08:00:00Z");
        assert!(doc["keys"][1]["expires"].is_null());
    }
}
