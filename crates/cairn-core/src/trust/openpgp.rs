//! OpenPGP detached signatures (Maven's `.asc` files), checked against
//! configured public keys with rPGP. Pure: keys and signatures come as text.

use pgp::composed::{Deserializable, SignedPublicKey};

/// The configured OpenPGP keys, by id.
#[derive(Debug, Clone, Default)]
pub struct OpenPgpKeys {
    keys: Vec<(String, SignedPublicKey)>,
}

impl OpenPgpKeys {
    /// Reads `(id, armored public key)` pairs.
    pub fn parse(keys: &[(String, String)]) -> Result<OpenPgpKeys, String> {
        let mut parsed = Vec::new();
        for (id, armored) in keys {
            let (key, _) = SignedPublicKey::from_string(armored)
                .map_err(|e| format!("OpenPGP key {id}: {e}"))?;
            key.verify_bindings()
                .map_err(|e| format!("OpenPGP key {id}: its self-signatures do not verify: {e}"))?;
            parsed.push((id.clone(), key));
        }
        Ok(OpenPgpKeys { keys: parsed })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The id of the configured key (or subkey) whose signature `signature`
    /// (armored or binary) is over `content`; or why none is.
    pub fn verify(&self, signature: &[u8], content: &[u8]) -> Result<String, String> {
        let sig = if signature.starts_with(b"-----BEGIN") {
            let text = std::str::from_utf8(signature).map_err(|_| "the signature is not text")?;
            pgp::composed::DetachedSignature::from_string(text)
                .map(|(s, _)| s)
                .map_err(|e| format!("not an OpenPGP signature: {e}"))?
        } else {
            pgp::composed::DetachedSignature::from_bytes(signature)
                .map_err(|e| format!("not an OpenPGP signature: {e}"))?
        };
        for (id, key) in &self.keys {
            if sig.verify(key, content).is_ok() {
                return Ok(id.clone());
            }
            for sub in &key.public_subkeys {
                if sig.verify(sub, content).is_ok() {
                    return Ok(id.clone());
                }
            }
        }
        Err("it is not a signature of these bytes by any configured OpenPGP key".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../../tests/fixtures/openpgp/key.asc");
    const CONTENT: &[u8] = include_bytes!("../../tests/fixtures/openpgp/content");
    const SIGNATURE: &[u8] = include_bytes!("../../tests/fixtures/openpgp/content.asc");

    #[test]
    fn gpg_signatures_verify_and_tampering_fails() {
        // The fixtures: an Ed25519 key and a detached armored signature,
        // both made by GnuPG 2.2.
        let keys = OpenPgpKeys::parse(&[("release".into(), KEY.into())]).unwrap();
        assert_eq!(keys.verify(SIGNATURE, CONTENT).unwrap(), "release");
        assert!(keys.verify(SIGNATURE, b"other bytes\n").is_err());
        assert!(keys.verify(b"not a signature", CONTENT).is_err());
        assert!(OpenPgpKeys::default().verify(SIGNATURE, CONTENT).is_err());
        assert!(OpenPgpKeys::parse(&[("bad".into(), "nonsense".into())]).is_err());
    }
}
