//! X.509 certificate chains, as notation signatures carry them (`x5c`):
//! each certificate signed by the next, the last one a configured trusted
//! certificate or signed by one, every certificate valid at the given
//! time, and the leaf a code-signing certificate. Pure: the time is given.

use super::keys::PublicKey;
use spki::der::{Decode, Encode};
use spki::ObjectIdentifier;
use x509_cert::Certificate;

const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

/// A certificate, parsed once.
#[derive(Clone)]
pub struct Cert {
    der: Vec<u8>,
    cert: Certificate,
    key: PublicKey,
}

impl std::fmt::Debug for Cert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cert({})", self.cert.tbs_certificate.subject)
    }
}

impl Cert {
    pub fn from_der(der: &[u8]) -> Result<Cert, String> {
        let cert = Certificate::from_der(der).map_err(|e| format!("not a certificate: {e}"))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| e.to_string())?;
        let key = PublicKey::from_spki_der(&spki).map_err(|e| e.to_string())?;
        Ok(Cert {
            der: der.to_vec(),
            cert,
            key,
        })
    }

    /// Reads a PEM `CERTIFICATE` block.
    pub fn from_pem(text: &str) -> Result<Cert, String> {
        let block = pem::parse(text.trim()).map_err(|e| e.to_string())?;
        if block.tag() != "CERTIFICATE" {
            return Err(format!("the block is {:?}, not CERTIFICATE", block.tag()));
        }
        Cert::from_der(block.contents())
    }

    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate's extensions (none for a v1 certificate).
    pub fn extensions(&self) -> &[x509_cert::ext::Extension] {
        self.cert
            .tbs_certificate
            .extensions
            .as_deref()
            .unwrap_or_default()
    }

    /// Whether the certificate may issue others (basic constraints, CA).
    fn is_ca(&self) -> bool {
        const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
        self.cert
            .tbs_certificate
            .extensions
            .as_ref()
            .and_then(|exts| exts.iter().find(|e| e.extn_id == BASIC_CONSTRAINTS))
            .and_then(|e| {
                x509_cert::ext::pkix::BasicConstraints::from_der(e.extn_value.as_bytes()).ok()
            })
            .is_some_and(|b| b.ca)
    }

    /// Whether `issuer`, a certificate authority, signed this certificate.
    fn signed_by(&self, issuer: &Cert) -> bool {
        let Ok(tbs) = self.cert.tbs_certificate.to_der() else {
            return false;
        };
        let Some(sig) = self.cert.signature.as_bytes() else {
            return false;
        };
        issuer.is_ca()
            && self.cert.tbs_certificate.issuer == issuer.cert.tbs_certificate.subject
            && issuer
                .key
                .verify_x509(&self.cert.signature_algorithm.oid, &tbs, sig)
    }

    fn valid_at(&self, unix: i64) -> bool {
        let v = &self.cert.tbs_certificate.validity;
        let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
        secs(v.not_before) <= unix && unix <= secs(v.not_after)
    }

    /// Whether the certificate may sign code: no extended key usage, or
    /// one that includes code signing.
    fn code_signing(&self) -> bool {
        let Some(exts) = &self.cert.tbs_certificate.extensions else {
            return true;
        };
        match exts.iter().find(|e| e.extn_id == EXT_KEY_USAGE) {
            None => true,
            Some(e) => x509_cert::ext::pkix::ExtendedKeyUsage::from_der(e.extn_value.as_bytes())
                .is_ok_and(|eku| eku.0.contains(&CODE_SIGNING)),
        }
    }
}

/// Which of `trusted` (id, certificate) anchors `chain` (leaf first), at
/// `unix` seconds; or why none does.
pub fn anchor<'a>(
    chain: &[Cert],
    trusted: &'a [(String, Cert)],
    unix: i64,
) -> Result<&'a str, String> {
    let leaf = chain.first().ok_or("no certificate chain")?;
    if !leaf.code_signing() {
        return Err("the signing certificate is not for code signing".into());
    }
    for (i, cert) in chain.iter().enumerate() {
        if !cert.valid_at(unix) {
            return Err(format!("certificate {i} of the chain is not valid now"));
        }
        if let Some((id, _)) = trusted.iter().find(|(_, t)| t.der == cert.der) {
            return Ok(id);
        }
        if let Some((id, _)) = trusted
            .iter()
            .find(|(_, t)| t.valid_at(unix) && cert.signed_by(t))
        {
            return Ok(id);
        }
        match chain.get(i + 1) {
            Some(next) if cert.signed_by(next) => continue,
            Some(_) => return Err(format!("certificate {i} is not signed by the next one")),
            None => {}
        }
    }
    Err("the chain leads to no trusted certificate".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by tests/e2e/notation (Go's crypto/x509): a P-256 CA and a
    // code-signing leaf it issued, valid for a day from NOT_BEFORE.
    const CA: &str = include_str!("../../tests/fixtures/x509/corp-ca.pem");
    const LEAF: &str = include_str!("../../tests/fixtures/x509/corp-leaf.pem");
    const OTHER_CA: &str = include_str!("../../tests/fixtures/x509/other-ca.pem");
    const NOT_BEFORE: i64 = 1_796_115_174;
    const NOT_AFTER: i64 = 1_796_205_174;

    #[test]
    fn chains_anchor_at_a_trusted_certificate_while_valid() {
        let (ca, leaf, other) = (
            Cert::from_pem(CA).unwrap(),
            Cert::from_pem(LEAF).unwrap(),
            Cert::from_pem(OTHER_CA).unwrap(),
        );
        let trusted = vec![("corp".to_string(), ca.clone())];
        let at = NOT_BEFORE + 3600;
        assert_eq!(
            anchor(&[leaf.clone(), ca.clone()], &trusted, at),
            Ok("corp")
        );
        // The leaf alone: signed by the trusted certificate.
        assert_eq!(
            anchor(std::slice::from_ref(&leaf), &trusted, at),
            Ok("corp")
        );
        // Another authority, a time outside the validity, no chain.
        let others = vec![("other".to_string(), other.clone())];
        assert!(anchor(&[leaf.clone(), ca.clone()], &others, at).is_err());
        assert!(anchor(&[leaf.clone(), other], &others, at).is_err());
        assert!(anchor(&[leaf.clone(), ca.clone()], &trusted, NOT_AFTER + 1).is_err());
        assert!(anchor(&[], &trusted, at).is_err());
        // A leaf is no authority: it signs nothing the chain could hang on.
        let leaf_trusted = vec![("leaf".to_string(), leaf.clone())];
        assert!(anchor(std::slice::from_ref(&ca), &leaf_trusted, at).is_err());
        assert!(
            Cert::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err()
        );
    }
}
