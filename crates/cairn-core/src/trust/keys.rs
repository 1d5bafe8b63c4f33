//! Public keys a signature can be checked against: ECDSA P-256 and P-384,
//! Ed25519 and RSA, read from PEM `PUBLIC KEY` blocks (SubjectPublicKeyInfo,
//! what `cosign generate-key-pair` and `openssl pkey -pubout` write).
//! Verification is `ring`'s; the key's fingerprint (SHA-256 of its DER) is
//! what identifies it in the trust configuration's version.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use sha2::{Digest as _, Sha256};
use spki::der::Decode;
use spki::ObjectIdentifier;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    P256,
    P384,
    Ed25519,
    Rsa,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::P256 => "ecdsa-p256",
            KeyKind::P384 => "ecdsa-p384",
            KeyKind::Ed25519 => "ed25519",
            KeyKind::Rsa => "rsa",
        }
    }
}

/// A public key, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    kind: KeyKind,
    /// The key as `ring` takes it: an uncompressed point, the 32 Ed25519
    /// bytes, or the PKCS#1 `RSAPublicKey`.
    raw: Vec<u8>,
    /// SHA-256 of the SubjectPublicKeyInfo DER.
    fingerprint: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM PUBLIC KEY block: {0}")]
    Pem(String),
    #[error("not a SubjectPublicKeyInfo: {0}")]
    Der(String),
    #[error("unsupported key algorithm {0} (use ECDSA P-256/P-384, Ed25519 or RSA)")]
    Unsupported(String),
}

impl PublicKey {
    /// Reads a PEM `PUBLIC KEY` block.
    pub fn from_pem(text: &str) -> Result<PublicKey, KeyError> {
        let block = pem::parse(text.trim()).map_err(|e| KeyError::Pem(e.to_string()))?;
        if block.tag() != "PUBLIC KEY" {
            return Err(KeyError::Pem(format!(
                "the block is {:?}, not PUBLIC KEY",
                block.tag()
            )));
        }
        PublicKey::from_spki_der(block.contents())
    }

    /// Reads a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let info = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| KeyError::Der(e.to_string()))?;
        let raw = info
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| KeyError::Der("the key's bit string is not whole bytes".into()))?
            .to_vec();
        let oid = info.algorithm.oid;
        let kind = if oid == EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|e| KeyError::Der(e.to_string()))?;
            match curve {
                P256 => KeyKind::P256,
                P384 => KeyKind::P384,
                other => return Err(KeyError::Unsupported(format!("EC curve {other}"))),
            }
        } else if oid == ED25519 {
            KeyKind::Ed25519
        } else if oid == RSA {
            KeyKind::Rsa
        } else {
            return Err(KeyError::Unsupported(oid.to_string()));
        };
        Ok(PublicKey {
            kind,
            raw,
            fingerprint: Sha256::digest(der).into(),
        })
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// `sha256:<hex>` of the SubjectPublicKeyInfo.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", hex::encode(self.fingerprint))
    }

    /// Whether `sig` is this key's signature of `message`: ECDSA over
    /// SHA-256 (P-256) or SHA-384 (P-384), DER or fixed-width; Ed25519;
    /// RSA PKCS#1 v1.5 or PSS over SHA-256.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        let algorithms: &[&'static dyn VerificationAlgorithm] = match self.kind {
            KeyKind::P256 => &[
                &signature::ECDSA_P256_SHA256_ASN1,
                &signature::ECDSA_P256_SHA256_FIXED,
            ],
            KeyKind::P384 => &[
                &signature::ECDSA_P384_SHA384_ASN1,
                &signature::ECDSA_P384_SHA384_FIXED,
                &signature::ECDSA_P384_SHA256_ASN1,
            ],
            KeyKind::Ed25519 => &[&signature::ED25519],
            KeyKind::Rsa => &[
                &signature::RSA_PKCS1_2048_8192_SHA256,
                &signature::RSA_PSS_2048_8192_SHA256,
                &signature::RSA_PSS_2048_8192_SHA384,
                &signature::RSA_PSS_2048_8192_SHA512,
            ],
        };
        algorithms.iter().any(|alg| {
            UnparsedPublicKey::new(*alg, &self.raw)
                .verify(message, sig)
                .is_ok()
        })
    }
}

impl PublicKey {
    /// Whether `sig` is this key's signature of `message` with the X.509
    /// signature algorithm `alg` (how a certificate is signed by its issuer).
    pub fn verify_x509(&self, alg: &ObjectIdentifier, message: &[u8], sig: &[u8]) -> bool {
        const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
        const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
        const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
        const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
        const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
        const ED25519_SIG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
        let algorithm: &'static dyn VerificationAlgorithm = match (self.kind, *alg) {
            (KeyKind::P256, ECDSA_SHA256) => &signature::ECDSA_P256_SHA256_ASN1,
            (KeyKind::P256, ECDSA_SHA384) => &signature::ECDSA_P256_SHA384_ASN1,
            (KeyKind::P384, ECDSA_SHA256) => &signature::ECDSA_P384_SHA256_ASN1,
            (KeyKind::P384, ECDSA_SHA384) => &signature::ECDSA_P384_SHA384_ASN1,
            (KeyKind::Rsa, RSA_SHA256) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (KeyKind::Rsa, RSA_SHA384) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (KeyKind::Rsa, RSA_SHA512) => &signature::RSA_PKCS1_2048_8192_SHA512,
            (KeyKind::Ed25519, ED25519_SIG) => &signature::ED25519,
            _ => return false,
        };
        UnparsedPublicKey::new(algorithm, &self.raw)
            .verify(message, sig)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    /// The SubjectPublicKeyInfo of a raw key, as PEM.
    fn pem_of(alg: &[u8], key: &[u8]) -> String {
        // SEQUENCE { algorithm SEQUENCE, BIT STRING (0 unused bits) key }
        let mut bits = vec![0u8];
        bits.extend_from_slice(key);
        let mut body = alg.to_vec();
        body.extend(der_tlv(0x03, &bits));
        let der = der_tlv(0x30, &body);
        pem::encode(&pem::Pem::new("PUBLIC KEY", der))
    }

    fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = content.len();
        if n < 128 {
            out.push(n as u8);
        } else if n < 256 {
            out.extend([0x81, n as u8]);
        } else {
            out.extend([0x82, (n >> 8) as u8, n as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    const P256_ALG: &[u8] = &[
        0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    const ED25519_ALG: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];

    #[test]
    fn p256_signatures_verify_and_tampering_fails() {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_ASN1_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        let key = PublicKey::from_pem(&pem_of(P256_ALG, pair.public_key().as_ref())).unwrap();
        assert_eq!(key.kind(), KeyKind::P256);
        let sig = pair.sign(&rng, b"payload").unwrap();
        assert!(key.verify(b"payload", sig.as_ref()));
        assert!(!key.verify(b"payloaD", sig.as_ref()));
        assert!(key.fingerprint().starts_with("sha256:"));
    }

    #[test]
    fn ed25519_signatures_verify() {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let key = PublicKey::from_pem(&pem_of(ED25519_ALG, pair.public_key().as_ref())).unwrap();
        assert_eq!(key.kind(), KeyKind::Ed25519);
        let sig = pair.sign(b"m");
        assert!(key.verify(b"m", sig.as_ref()));
        assert!(!key.verify(b"n", sig.as_ref()));
    }

    #[test]
    fn other_blocks_and_algorithms_are_refused() {
        assert!(matches!(
            PublicKey::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
            Err(KeyError::Pem(_))
        ));
        assert!(PublicKey::from_pem("not pem").is_err());
        // An EC key on secp256k1.
        let k1: &[u8] = &[
            0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
            0x81, 0x04, 0x00, 0x0a,
        ];
        assert!(matches!(
            PublicKey::from_pem(&pem_of(k1, &[4; 65])),
            Err(KeyError::Unsupported(_))
        ));
    }
}
