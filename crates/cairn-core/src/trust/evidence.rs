//! What a signature artifact signs, and what the signed bytes claim.
//!
//! Three carriers, all checked the same way — a signature over bytes, and
//! the subject read from inside those bytes (never from the manifest's
//! unsigned `subject` field or tag, which anyone can point anywhere):
//! - cosign's simple-signing payload (`sha256-<hex>.sig` layers): the
//!   signature is the layer's `dev.cosignproject.cosign/signature`
//!   annotation; the payload names `critical.image.docker-manifest-digest`;
//! - a DSSE envelope (cosign `.att` layers, and inside Sigstore bundles):
//!   the signature covers the envelope's pre-authentication encoding; an
//!   in-toto statement payload names its subjects' digests and its
//!   predicate type;
//! - a Sigstore bundle (v0.1–v0.3): a DSSE envelope as above, or a
//!   message signature whose digest must equal the SHA-256 of a payload
//!   that itself names the subject (cosign's simple-signing payload).

use super::sigstore::TlogEntry;
use crate::Digest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// A layer larger than this is not a signature.
pub const MAX_EVIDENCE: u64 = 4 * 1024 * 1024;

pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const COSIGN_SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
/// The predicate of cosign 3's image signature (a DSSE statement in a
/// Sigstore bundle): a plain signature, not an attestation.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// The media type of a Sigstore bundle as cosign 3 writes it.
pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Whether `media_type` is a Sigstore bundle (`…bundle.v0.3+json` or
/// `…bundle+json;version=0.x`).
pub fn is_bundle(media_type: &str) -> bool {
    media_type.starts_with("application/vnd.dev.sigstore.bundle")
}

/// Whether a manifest of this artifact type, config media type or layer
/// media type is a signature or attestation (exempt from pull policies, so
/// that signing and verifying work).
pub fn is_signature_media_type(media_type: &str) -> bool {
    is_bundle(media_type)
        || media_type == SIMPLE_SIGNING
        || media_type == DSSE_ENVELOPE
        || media_type.starts_with("application/vnd.cncf.notary.signature")
}

/// A signature found in an artifact, before any key is tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The exact bytes the signature covers.
    pub message: Vec<u8>,
    pub signature: Vec<u8>,
    /// The manifest digests the signed bytes name.
    pub subjects: Vec<Digest>,
    /// `None` for a plain signature; the in-toto predicate type for an
    /// attestation.
    pub predicate_type: Option<String>,
    /// The signing certificate and its chain (DER, leaf first), when the
    /// signature is made with a certificate rather than a bare key.
    pub chain: Vec<Vec<u8>>,
    /// When the signer says it signed (Unix seconds), if it does (a claim,
    /// not evidence: kept for explanations).
    pub signed_at: Option<i64>,
    /// The signature's encoding, when it is not the key's plain one (a JWS
    /// `alg`).
    pub jws_alg: Option<String>,
    /// Transparency log entries recording the signature (keyless
    /// signatures: the log's promise dates it).
    pub tlog: Vec<TlogEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvidenceError(pub String);

fn bad(what: impl Into<String>) -> EvidenceError {
    EvidenceError(what.into())
}

fn b64(field: &str, text: &str) -> Result<Vec<u8>, EvidenceError> {
    STANDARD
        .decode(text.trim())
        .map_err(|e| bad(format!("{field} is not base64: {e}")))
}

#[derive(Deserialize)]
struct SimpleSigning {
    critical: Critical,
}

#[derive(Deserialize)]
struct Critical {
    image: Image,
}

#[derive(Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    digest: String,
}

/// The subject a simple-signing payload names.
fn simple_signing_subject(payload: &[u8]) -> Result<Digest, EvidenceError> {
    let p: SimpleSigning = serde_json::from_slice(payload)
        .map_err(|e| bad(format!("not a simple-signing payload: {e}")))?;
    p.critical
        .image
        .digest
        .parse()
        .map_err(|e| bad(format!("docker-manifest-digest: {e}")))
}

/// What cosign's annotations on a `.sig` layer say besides the signature:
/// the signing certificate and its chain (PEM), and the transparency log's
/// promise (`dev.sigstore.cosign/bundle`), for keyless signatures.
#[derive(Debug, Clone, Copy, Default)]
pub struct CosignAnnotations<'a> {
    pub certificate: Option<&'a str>,
    pub chain: Option<&'a str>,
    pub bundle: Option<&'a str>,
}

/// A cosign `.sig` layer: the payload (the layer's bytes) and the base64
/// signature from its annotation.
pub fn simple_signing(
    payload: &[u8],
    signature_b64: &str,
    annotations: CosignAnnotations<'_>,
) -> Result<Signed, EvidenceError> {
    let mut chain = Vec::new();
    for text in [annotations.certificate, annotations.chain]
        .into_iter()
        .flatten()
        .filter(|c| !c.trim().is_empty())
    {
        let blocks = pem::parse_many(text.trim()).map_err(|e| bad(format!("certificate: {e}")))?;
        chain.extend(blocks.into_iter().map(pem::Pem::into_contents));
    }
    let tlog = match annotations.bundle.filter(|b| !b.trim().is_empty()) {
        Some(b) => vec![TlogEntry::from_cosign_annotation(b).map_err(bad)?],
        None => Vec::new(),
    };
    Ok(Signed {
        message: payload.to_vec(),
        signature: b64("signature", signature_b64)?,
        subjects: vec![simple_signing_subject(payload)?],
        predicate_type: None,
        chain,
        signed_at: None,
        jws_alg: None,
        tlog,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    payload: String,
    payload_type: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Deserialize)]
struct EnvelopeSignature {
    sig: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Statement {
    #[serde(default)]
    subject: Vec<StatementSubject>,
    predicate_type: String,
}

#[derive(Deserialize)]
struct StatementSubject {
    #[serde(default)]
    digest: std::collections::BTreeMap<String, String>,
}

/// DSSE's pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

fn envelope(
    e: Envelope,
    chain: Vec<Vec<u8>>,
    tlog: Vec<TlogEntry>,
) -> Result<Vec<Signed>, EvidenceError> {
    if e.payload_type != IN_TOTO {
        return Err(bad(format!(
            "DSSE payload type {:?} is not an in-toto statement",
            e.payload_type
        )));
    }
    let payload = b64("DSSE payload", &e.payload)?;
    let statement: Statement = serde_json::from_slice(&payload)
        .map_err(|e| bad(format!("not an in-toto statement: {e}")))?;
    let subjects: Vec<Digest> = statement
        .subject
        .iter()
        .filter_map(|s| s.digest.get("sha256"))
        .filter_map(|hex| format!("sha256:{hex}").parse().ok())
        .collect();
    let message = pae(&e.payload_type, &payload);
    let predicate_type = Some(statement.predicate_type).filter(|p| p != COSIGN_SIGN_PREDICATE);
    e.signatures
        .iter()
        .map(|s| {
            Ok(Signed {
                message: message.clone(),
                signature: b64("DSSE signature", &s.sig)?,
                subjects: subjects.clone(),
                predicate_type: predicate_type.clone(),
                chain: chain.clone(),
                signed_at: None,
                jws_alg: None,
                tlog: tlog.clone(),
            })
        })
        .collect()
}

/// A DSSE envelope layer (cosign `.att`).
pub fn dsse(bytes: &[u8]) -> Result<Vec<Signed>, EvidenceError> {
    let e: Envelope =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not a DSSE envelope: {e}")))?;
    envelope(e, Vec::new(), Vec::new())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    #[serde(default)]
    verification_material: Option<Material>,
    #[serde(default)]
    dsse_envelope: Option<Envelope>,
    #[serde(default)]
    message_signature: Option<MessageSignature>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Material {
    #[serde(default)]
    certificate: Option<RawBytes>,
    #[serde(default)]
    x509_certificate_chain: Option<Chain>,
    #[serde(default)]
    tlog_entries: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Chain {
    #[serde(default)]
    certificates: Vec<RawBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageSignature {
    #[serde(default)]
    message_digest: Option<MessageDigest>,
    signature: String,
}

#[derive(Deserialize)]
struct MessageDigest {
    algorithm: String,
    digest: String,
}

/// A bundle's signing certificate chain and transparency log entries.
fn material(b: &Bundle) -> Result<(Vec<Vec<u8>>, Vec<TlogEntry>), EvidenceError> {
    let mut chain = Vec::new();
    let mut tlog = Vec::new();
    if let Some(m) = &b.verification_material {
        match (&m.certificate, &m.x509_certificate_chain) {
            (Some(c), _) => chain.push(b64("certificate", &c.raw_bytes)?),
            (None, Some(c)) => {
                for c in &c.certificates {
                    chain.push(b64("certificate", &c.raw_bytes)?);
                }
            }
            (None, None) => {}
        }
        for e in &m.tlog_entries {
            tlog.push(TlogEntry::from_json(e).map_err(bad)?);
        }
    }
    Ok((chain, tlog))
}

fn parse_bundle(bytes: &[u8]) -> Result<Bundle, EvidenceError> {
    serde_json::from_slice(bytes).map_err(|e| bad(format!("not a Sigstore bundle: {e}")))
}

/// A message signature's bytes, once its digest (when it states one) is
/// shown to be the SHA-256 of `signed`.
fn message_signature(m: &MessageSignature, signed: &[u8]) -> Result<Vec<u8>, EvidenceError> {
    if let Some(d) = &m.message_digest {
        if d.algorithm != "SHA2_256"
            || b64("message digest", &d.digest)? != Sha256::digest(signed).to_vec()
        {
            return Err(bad("the bundle's message digest is not the signed bytes'"));
        }
    }
    b64("signature", &m.signature)
}

/// A Sigstore bundle. A message signature covers an artifact the bundle
/// does not hold: `payload` is that artifact when the carrier has it (a
/// simple-signing payload); without it the signature binds no subject and
/// is refused.
pub fn bundle(bytes: &[u8], payload: Option<&[u8]>) -> Result<Vec<Signed>, EvidenceError> {
    let b = parse_bundle(bytes)?;
    let (chain, tlog) = material(&b)?;
    if let Some(e) = b.dsse_envelope {
        return envelope(e, chain, tlog);
    }
    let Some(m) = b.message_signature else {
        return Err(bad(
            "the bundle has neither a DSSE envelope nor a message signature",
        ));
    };
    let payload = payload.ok_or_else(|| {
        bad("a message-signature bundle without the signed payload names no subject")
    })?;
    Ok(vec![Signed {
        message: payload.to_vec(),
        signature: message_signature(&m, payload)?,
        subjects: vec![simple_signing_subject(payload)?],
        predicate_type: None,
        chain,
        signed_at: None,
        jws_alg: None,
        tlog,
    }])
}

/// A Sigstore bundle beside a file it signs (Maven's `.sigstore.json`,
/// `cosign sign-blob --bundle`): a message signature over the file's bytes,
/// or a DSSE statement naming the file's SHA-256. The subject is the file's
/// digest.
pub fn file_bundle(bytes: &[u8], file: &[u8]) -> Result<Vec<Signed>, EvidenceError> {
    let b = parse_bundle(bytes)?;
    let (chain, tlog) = material(&b)?;
    let subject: Digest = format!("sha256:{}", hex::encode(Sha256::digest(file)))
        .parse()
        .map_err(|e| bad(format!("{e}")))?;
    if let Some(e) = b.dsse_envelope {
        let signed = envelope(e, chain, tlog)?;
        if signed.iter().any(|s| !s.subjects.contains(&subject)) {
            return Err(bad("the bundle's statement does not name this file"));
        }
        return Ok(signed);
    }
    let Some(m) = b.message_signature else {
        return Err(bad(
            "the bundle has neither a DSSE envelope nor a message signature",
        ));
    };
    Ok(vec![Signed {
        message: file.to_vec(),
        signature: message_signature(&m, file)?,
        subjects: vec![subject],
        predicate_type: None,
        chain,
        signed_at: None,
        jws_alg: None,
        tlog,
    }])
}

/// A PEP 740 attestation object (`{"version": 1, "verification_material":
/// {"certificate", "transparency_entries"}, "envelope": {"statement",
/// "signature"}}`): a DSSE signature over the in-toto statement, made with
/// the certificate, recorded by the transparency log entries.
pub fn pep740(attestation: &serde_json::Value) -> Result<Signed, EvidenceError> {
    let text = |p: &str| {
        attestation
            .pointer(p)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
    };
    let statement = b64("envelope.statement", text("/envelope/statement"))?;
    let parsed: Statement = serde_json::from_slice(&statement)
        .map_err(|e| bad(format!("not an in-toto statement: {e}")))?;
    let tlog = attestation
        .pointer("/verification_material/transparency_entries")
        .and_then(serde_json::Value::as_array)
        .map(|all| all.iter().map(TlogEntry::from_json).collect())
        .transpose()
        .map_err(bad)?
        .unwrap_or_default();
    Ok(Signed {
        message: pae(IN_TOTO, &statement),
        signature: b64("envelope.signature", text("/envelope/signature"))?,
        subjects: parsed
            .subject
            .iter()
            .filter_map(|s| s.digest.get("sha256"))
            .filter_map(|hex| format!("sha256:{hex}").parse().ok())
            .collect(),
        predicate_type: Some(parsed.predicate_type),
        chain: vec![b64(
            "verification_material.certificate",
            text("/verification_material/certificate"),
        )?],
        signed_at: None,
        jws_alg: None,
        tlog,
    })
}

/// What a single-subject in-toto statement says: the subject's name, its
/// digest in one algorithm, and the predicate type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoleSubject {
    pub name: String,
    pub digest: String,
    pub predicate_type: String,
}

/// Reads a base64 in-toto statement (npm provenance, PEP 740) that must
/// have exactly one subject; `algorithm` names the digest to take
/// (`sha512`, `sha256`), empty when the subject lacks it.
pub fn sole_subject(statement_b64: &str, algorithm: &str) -> Result<SoleSubject, EvidenceError> {
    let statement: serde_json::Value = STANDARD
        .decode(statement_b64.trim())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad("the statement is not base64 JSON"))?;
    let subjects = statement
        .get("subject")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let [subject] = subjects.as_slice() else {
        return Err(bad(format!(
            "the statement has {} subjects, not one",
            subjects.len()
        )));
    };
    let text = |v: Option<&serde_json::Value>| {
        v.and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(SoleSubject {
        name: text(subject.get("name")),
        digest: text(subject.get("digest").and_then(|d| d.get(algorithm))),
        predicate_type: text(statement.get("predicateType")),
    })
}

pub const NOTATION_SIGNATURE: &str = "application/vnd.cncf.notary.signature";
pub const JWS: &str = "application/jose+json";

#[derive(Deserialize)]
struct Jws {
    payload: String,
    protected: String,
    header: JwsHeader,
    signature: String,
}

#[derive(Deserialize)]
struct JwsHeader {
    x5c: Vec<String>,
}

#[derive(Deserialize)]
struct JwsProtected {
    alg: String,
    #[serde(default)]
    cty: String,
    #[serde(rename = "io.cncf.notary.signingScheme", default)]
    scheme: String,
    #[serde(rename = "io.cncf.notary.signingTime", default)]
    signing_time: Option<String>,
    #[serde(rename = "io.cncf.notary.expiry", default)]
    expiry: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotaryPayload {
    target_artifact: NotaryTarget,
}

#[derive(Deserialize)]
struct NotaryTarget {
    digest: String,
}

fn b64url(field: &str, text: &str) -> Result<Vec<u8>, EvidenceError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| bad(format!("{field} is not base64url: {e}")))
}

fn rfc3339(field: &str, text: &str) -> Result<i64, EvidenceError> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| bad(format!("{field} {text:?}: {e}")))
}

/// A notation JWS envelope (`application/jose+json`, the Notary Project
/// signature specification): the signature over `protected.payload`, made
/// with the leaf of `x5c`; the subject is the payload's target artifact.
/// Only the `notary.x509` signing scheme is read (a signing authority's
/// scheme needs a timestamp countersignature, which is not verified here).
pub fn notation_jws(bytes: &[u8]) -> Result<Signed, EvidenceError> {
    let jws: Jws =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not a JWS envelope: {e}")))?;
    let protected: JwsProtected = serde_json::from_slice(&b64url("protected", &jws.protected)?)
        .map_err(|e| bad(format!("the protected header: {e}")))?;
    if protected.cty != NOTARY_PAYLOAD {
        return Err(bad(format!(
            "the payload type {:?} is not notation's",
            protected.cty
        )));
    }
    if protected.scheme != "notary.x509" {
        return Err(bad(format!(
            "signing scheme {:?} is not verified (only notary.x509)",
            protected.scheme
        )));
    }
    let subject = notary_subject(&b64url("payload", &jws.payload)?)?;
    let signed_at = match &protected.signing_time {
        Some(t) => Some(rfc3339("signingTime", t)?),
        None => None,
    };
    if let (Some(expiry), Some(at)) = (&protected.expiry, signed_at) {
        if rfc3339("expiry", expiry)? < at {
            return Err(bad("the signature expired before it was made"));
        }
    }
    let chain = jws
        .header
        .x5c
        .iter()
        .map(|c| b64("x5c", c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Signed {
        message: format!("{}.{}", jws.protected, jws.payload).into_bytes(),
        signature: b64url("signature", &jws.signature)?,
        subjects: vec![subject],
        predicate_type: None,
        chain,
        signed_at,
        jws_alg: Some(protected.alg),
        tlog: Vec::new(),
    })
}

pub const COSE: &str = "application/cose";
const NOTARY_PAYLOAD: &str = "application/vnd.cncf.notary.payload.v1+json";

/// The subject a notation payload names.
fn notary_subject(payload: &[u8]) -> Result<Digest, EvidenceError> {
    let payload: NotaryPayload =
        serde_json::from_slice(payload).map_err(|e| bad(format!("the payload: {e}")))?;
    payload
        .target_artifact
        .digest
        .parse()
        .map_err(|e| bad(format!("targetArtifact.digest: {e}")))
}

/// A notation COSE_Sign1 envelope (`application/cose`, the Notary Project
/// signature specification): the signature over the COSE `Sig_structure`
/// of the protected header and payload, made with the leaf of the
/// unprotected `x5chain`; the subject is the payload's target artifact.
/// Only the `notary.x509` signing scheme is read, as for JWS.
pub fn notation_cose(bytes: &[u8]) -> Result<Signed, EvidenceError> {
    use coset::{CborSerializable, TaggedCborSerializable};
    let sign1 = coset::CoseSign1::from_tagged_slice(bytes)
        .or_else(|_| coset::CoseSign1::from_slice(bytes))
        .map_err(|e| bad(format!("not a COSE_Sign1 envelope: {e}")))?;
    let header = &sign1.protected.header;
    let text_label = |name: &str| {
        header
            .rest
            .iter()
            .find(|(l, _)| *l == coset::Label::Text(name.to_string()))
            .map(|(_, v)| v)
    };
    match &header.content_type {
        Some(coset::ContentType::Text(t)) if t == NOTARY_PAYLOAD => {}
        other => return Err(bad(format!("the payload type {other:?} is not notation's"))),
    }
    let scheme = text_label("io.cncf.notary.signingScheme").and_then(|v| v.as_text());
    if scheme != Some("notary.x509") {
        return Err(bad(format!(
            "signing scheme {scheme:?} is not verified (only notary.x509)"
        )));
    }
    // A time is a CBOR tag 1 (epoch seconds).
    let epoch = |v: &ciborium::Value| match v {
        ciborium::Value::Tag(1, inner) => inner
            .as_integer()
            .and_then(|i| i64::try_from(i128::from(i)).ok()),
        _ => None,
    };
    let signed_at = text_label("io.cncf.notary.signingTime").and_then(epoch);
    if let (Some(expiry), Some(at)) = (
        text_label("io.cncf.notary.expiry").and_then(epoch),
        signed_at,
    ) {
        if expiry < at {
            return Err(bad("the signature expired before it was made"));
        }
    }
    let payload = sign1
        .payload
        .as_deref()
        .ok_or_else(|| bad("the envelope has no payload"))?;
    let subject = notary_subject(payload)?;
    // x5chain (label 33): one certificate, or an array, leaf first.
    let chain = match sign1
        .unprotected
        .rest
        .iter()
        .find(|(l, _)| *l == coset::Label::Int(33))
        .map(|(_, v)| v)
    {
        Some(ciborium::Value::Bytes(b)) => vec![b.clone()],
        Some(ciborium::Value::Array(all)) => all
            .iter()
            .map(|c| c.as_bytes().cloned())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("x5chain holds something other than certificates"))?,
        _ => return Err(bad("the envelope has no x5chain")),
    };
    Ok(Signed {
        message: sign1.tbs_data(&[]),
        signature: sign1.signature.clone(),
        subjects: vec![subject],
        predicate_type: None,
        chain,
        signed_at,
        jws_alg: None,
        tlog: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn payload() -> Vec<u8> {
        format!(r#"{{"critical":{{"identity":{{"docker-reference":"r/x"}},"image":{{"docker-manifest-digest":"{D}"}},"type":"cosign container image signature"}},"optional":null}}"#).into_bytes()
    }

    #[test]
    fn simple_signing_names_its_subject() {
        let s = simple_signing(&payload(), "c2ln", CosignAnnotations::default()).unwrap();
        assert_eq!(s.subjects, vec![D.parse().unwrap()]);
        assert_eq!(s.signature, b"sig");
        assert_eq!(s.predicate_type, None);
        assert!(simple_signing(b"{}", "c2ln", CosignAnnotations::default()).is_err());
        assert!(simple_signing(&payload(), "!!", CosignAnnotations::default()).is_err());
    }

    #[test]
    fn dsse_signs_the_pae_and_names_statement_subjects() {
        let statement = format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"x","digest":{{"sha256":"{}"}}}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{{}}}}"#,
            &D[7..]
        );
        let env = serde_json::json!({
            "payloadType": IN_TOTO,
            "payload": STANDARD.encode(&statement),
            "signatures": [{"keyid": "", "sig": STANDARD.encode(b"s")}],
        });
        let s = dsse(env.to_string().as_bytes()).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].subjects, vec![D.parse().unwrap()]);
        assert_eq!(
            s[0].predicate_type.as_deref(),
            Some("https://slsa.dev/provenance/v1")
        );
        assert!(s[0]
            .message
            .starts_with(b"DSSEv1 28 application/vnd.in-toto+json "));
        let bundle_json = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": "h"}},
            "dsseEnvelope": env,
        });
        assert_eq!(bundle(bundle_json.to_string().as_bytes(), None).unwrap(), s);
    }

    #[test]
    fn cosign_signs_with_a_statement_that_is_no_attestation() {
        let statement = format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"sha256":"{}"}}}}],"predicateType":"{COSIGN_SIGN_PREDICATE}","predicate":{{}}}}"#,
            &D[7..]
        );
        let env = serde_json::json!({
            "payloadType": IN_TOTO,
            "payload": STANDARD.encode(&statement),
            "signatures": [{"sig": STANDARD.encode(b"s")}],
        });
        let s = dsse(env.to_string().as_bytes()).unwrap();
        assert_eq!(s[0].predicate_type, None);
    }

    #[test]
    fn a_message_signature_needs_the_payload_it_digests() {
        let p = payload();
        let b = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(Sha256::digest(&p))},
                "signature": STANDARD.encode(b"s"),
            },
        })
        .to_string();
        assert!(bundle(b.as_bytes(), None).is_err());
        assert_eq!(
            bundle(b.as_bytes(), Some(&p)).unwrap()[0].subjects,
            vec![D.parse().unwrap()]
        );
        let mut other = p.clone();
        other.push(b' ');
        assert!(bundle(b.as_bytes(), Some(&other)).is_err());
    }

    #[test]
    fn a_file_bundle_must_be_about_the_file() {
        let file = b"the jar";
        let other = b"another jar";
        let message = |data: &[u8]| {
            serde_json::json!({
                "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "messageSignature": {
                    "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(Sha256::digest(data))},
                    "signature": STANDARD.encode(b"s"),
                },
            })
            .to_string()
        };
        let s = file_bundle(message(file).as_bytes(), file).unwrap();
        assert_eq!(s[0].message, file);
        assert_eq!(
            s[0].subjects[0].to_string(),
            format!("sha256:{}", hex::encode(Sha256::digest(file)))
        );
        assert!(file_bundle(message(other).as_bytes(), file).is_err());
        let statement = |data: &[u8]| {
            let st = serde_json::json!({"_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": "lib.jar", "digest": {"sha256": hex::encode(Sha256::digest(data))}}],
                "predicateType": "https://slsa.dev/provenance/v1", "predicate": {}});
            serde_json::json!({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "dsseEnvelope": {"payloadType": IN_TOTO, "payload": STANDARD.encode(st.to_string()),
                                 "signatures": [{"sig": STANDARD.encode(b"s")}]}})
            .to_string()
        };
        assert!(file_bundle(statement(file).as_bytes(), file).is_ok());
        assert!(file_bundle(statement(other).as_bytes(), file).is_err());
    }
}
