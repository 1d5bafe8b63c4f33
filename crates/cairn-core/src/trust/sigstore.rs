//! Keyless (Sigstore) signatures, verified offline against a pinned
//! trusted root.
//!
//! A keyless signature is made with a short-lived certificate that a
//! Fulcio certificate authority issued for an OpenID identity (a CI
//! workflow, a person's e-mail), and logged in a Rekor transparency log.
//! It counts when:
//! - a log of the trusted root promised to include the entry: its signed
//!   entry timestamp (SET) over the entry's body, integration time, log id
//!   and index verifies with the log's key, and the inclusion proof, when
//!   the bundle carries one, leads to the root hash of a checkpoint the log
//!   signed;
//! - the logged entry is this signature by this certificate (the body
//!   names the same signature bytes and certificate);
//! - the certificate chains to a certificate authority of the trusted root,
//!   every certificate valid at the *integration time* (a Fulcio
//!   certificate lives ten minutes; the log proves the signature was made
//!   within them), and the leaf is for code signing;
//! - the leaf's key made the signature.
//!
//! What is then known is the identity: the certificate's issuer extension
//! (the OpenID provider) and its subject alternative name. Nothing here
//! touches the network: the trusted root is a file the operator pins
//! (Sigstore's `trusted_root.json`), refreshed by replacing the file.
//! Timestamp authorities (RFC 3161) and certificate transparency (SCTs) are
//! not checked: the transparency log's promise is the evidence of time.

use super::evidence::Signed;
use super::keys::PublicKey;
use super::x509::Cert;
use crate::tlog::{node_hash, record_hash, Hash};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use spki::der::asn1::Utf8StringRef;
use spki::der::Decode;
use spki::ObjectIdentifier;

/// The OpenID issuer that authenticated the signer (Fulcio's v2
/// extension, a DER UTF8String).
const ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// The same, in Fulcio's first extension (raw text).
const ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// Fulcio's "username" other-name SAN.
const OTHER_NAME_USERNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");

/// Who made a keyless signature, as its certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The OpenID provider (`https://token.actions.githubusercontent.com`).
    pub issuer: String,
    /// The subject alternative name: a workflow URI, an e-mail address.
    pub subject: String,
    /// When the log integrated the signature (Unix seconds).
    pub integrated_time: i64,
}

/// A time range of the trusted root (`validFor`); an open end is forever.
#[derive(Debug, Clone, Copy, Default)]
struct Validity {
    start: Option<i64>,
    end: Option<i64>,
}

impl Validity {
    fn covers(&self, t: i64) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t <= e)
    }
}

struct Authority {
    /// Intermediate first, root last (as the trusted root lists them).
    chain: Vec<Cert>,
    valid: Validity,
}

struct Log {
    key: PublicKey,
    /// SHA-256 of the key's SubjectPublicKeyInfo: how entries name the log.
    id: Vec<u8>,
    valid: Validity,
}

/// Sigstore's trusted root (`application/vnd.dev.sigstore.trustedroot+json`):
/// the certificate authorities and transparency logs keyless signatures
/// are checked against.
pub struct TrustedRoot {
    authorities: Vec<Authority>,
    logs: Vec<Log>,
    /// SHA-256 of the file, for the trust version.
    digest: String,
}

impl std::fmt::Debug for TrustedRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrustedRoot({})", self.digest)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RootJson {
    #[serde(default)]
    tlogs: Vec<LogJson>,
    #[serde(default)]
    certificate_authorities: Vec<AuthorityJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogJson {
    public_key: KeyJson,
    #[serde(default)]
    log_id: Option<KeyId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyJson {
    raw_bytes: String,
    #[serde(default)]
    valid_for: Option<ValidForJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorityJson {
    cert_chain: ChainJson,
    #[serde(default)]
    valid_for: Option<ValidForJson>,
}

#[derive(Deserialize)]
struct ChainJson {
    certificates: Vec<RawJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawJson {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct ValidForJson {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
}

fn b64(field: &str, text: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(text.trim())
        .map_err(|e| format!("{field} is not base64: {e}"))
}

fn validity(v: &Option<ValidForJson>) -> Result<Validity, String> {
    let at = |t: &Option<String>| -> Result<Option<i64>, String> {
        t.as_deref()
            .map(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                    .map(|t| t.unix_timestamp())
                    .map_err(|e| format!("validFor {t:?}: {e}"))
            })
            .transpose()
    };
    Ok(match v {
        None => Validity::default(),
        Some(v) => Validity {
            start: at(&v.start)?,
            end: at(&v.end)?,
        },
    })
}

impl TrustedRoot {
    /// Reads a trusted root JSON document.
    pub fn from_json(bytes: &[u8]) -> Result<TrustedRoot, String> {
        let root: RootJson = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a Sigstore trusted root: {e}"))?;
        let mut authorities = Vec::new();
        for (i, a) in root.certificate_authorities.iter().enumerate() {
            let chain = a
                .cert_chain
                .certificates
                .iter()
                .map(|c| Cert::from_der(&b64("certificate", &c.raw_bytes)?))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("certificate authority {i}: {e}"))?;
            if chain.is_empty() {
                return Err(format!("certificate authority {i} has no certificates"));
            }
            authorities.push(Authority {
                chain,
                valid: validity(&a.valid_for)?,
            });
        }
        let mut logs = Vec::new();
        for (i, l) in root.tlogs.iter().enumerate() {
            let der = b64("tlog key", &l.public_key.raw_bytes)?;
            let key =
                PublicKey::from_spki_der(&der).map_err(|e| format!("transparency log {i}: {e}"))?;
            let computed = Sha256::digest(&der).to_vec();
            if let Some(id) = &l.log_id {
                if b64("logId", &id.key_id)? != computed {
                    return Err(format!(
                        "transparency log {i}: its logId is not the SHA-256 of its key"
                    ));
                }
            }
            logs.push(Log {
                key,
                id: computed,
                valid: validity(&l.public_key.valid_for)?,
            });
        }
        if authorities.is_empty() || logs.is_empty() {
            return Err(
                "the trusted root names no certificate authority or no transparency log".into(),
            );
        }
        Ok(TrustedRoot {
            authorities,
            logs,
            digest: hex::encode(Sha256::digest(bytes)),
        })
    }

    /// SHA-256 (hex) of the document.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Verifies a keyless signature (see the module comment) and says who
    /// made it.
    pub fn verify(&self, signed: &Signed) -> Result<Identity, String> {
        let leaf_der = signed
            .chain
            .first()
            .ok_or("the signature carries no certificate")?;
        if signed.tlog.is_empty() {
            return Err("the signature carries no transparency log entry".into());
        }
        let mut errors = Vec::new();
        let mut integrated = None;
        for entry in &signed.tlog {
            match self.entry_time(entry, signed, leaf_der) {
                Ok(t) => {
                    integrated = Some(t);
                    break;
                }
                Err(e) => errors.push(e),
            }
        }
        let Some(t) = integrated else {
            return Err(errors.join("; "));
        };
        let chain = signed
            .chain
            .iter()
            .map(|d| Cert::from_der(d))
            .collect::<Result<Vec<_>, _>>()?;
        let anchors: Vec<(String, Cert)> = self
            .authorities
            .iter()
            .filter(|a| a.valid.covers(t))
            .flat_map(|a| a.chain.iter().cloned())
            .map(|c| ("fulcio".to_string(), c))
            .collect();
        super::x509::anchor(&chain, &anchors, t)
            .map_err(|e| format!("the certificate, at the logged time: {e}"))?;
        if !chain[0].key().verify(&signed.message, &signed.signature) {
            return Err("the certificate's key did not make the signature".into());
        }
        let (issuer, subject) = identity(&chain[0])?;
        Ok(Identity {
            issuer,
            subject,
            integrated_time: t,
        })
    }

    /// The integration time a log of this root vouches for, once the entry
    /// is shown to be this signature's.
    fn entry_time(&self, e: &TlogEntry, signed: &Signed, leaf_der: &[u8]) -> Result<i64, String> {
        let log = self
            .logs
            .iter()
            .find(|l| l.id == e.log_id)
            .ok_or("the entry's log is not in the trusted root")?;
        if !log.valid.covers(e.integrated_time) {
            return Err("the log's key was not valid at the entry's time".into());
        }
        let set = e
            .signed_entry_timestamp
            .as_ref()
            .ok_or("the entry has no signed entry timestamp")?;
        // The SET signs RFC 8785 canonical JSON: keys in order, no spaces.
        let promise = format!(
            r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}}"#,
            STANDARD.encode(&e.body),
            e.integrated_time,
            hex::encode(&e.log_id),
            e.log_index
        );
        if !log.key.verify(promise.as_bytes(), set) {
            return Err("the signed entry timestamp does not verify with the log's key".into());
        }
        if let Some(proof) = &e.inclusion_proof {
            proof.verify(&record_hash(&e.body), &log.key)?;
        }
        binds(&e.kind, &e.body, signed, leaf_der)?;
        Ok(e.integrated_time)
    }
}

/// The issuer and subject a Fulcio certificate names.
fn identity(leaf: &Cert) -> Result<(String, String), String> {
    let exts = leaf.extensions();
    let issuer = exts
        .iter()
        .find(|e| e.extn_id == ISSUER_V2)
        .and_then(|e| Utf8StringRef::from_der(e.extn_value.as_bytes()).ok())
        .map(|s| s.as_str().to_string())
        .or_else(|| {
            exts.iter()
                .find(|e| e.extn_id == ISSUER_V1)
                .and_then(|e| std::str::from_utf8(e.extn_value.as_bytes()).ok())
                .map(str::to_string)
        })
        .ok_or("the certificate names no OpenID issuer")?;
    let san = exts
        .iter()
        .find(|e| e.extn_id == SUBJECT_ALT_NAME)
        .ok_or("the certificate has no subject alternative name")?;
    let names = x509_cert::ext::pkix::SubjectAltName::from_der(san.extn_value.as_bytes())
        .map_err(|e| format!("the subject alternative name: {e}"))?;
    use x509_cert::ext::pkix::name::GeneralName;
    let subject = names
        .0
        .iter()
        .find_map(|n| match n {
            GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
            GeneralName::Rfc822Name(m) => Some(m.to_string()),
            GeneralName::OtherName(o) if o.type_id == OTHER_NAME_USERNAME => o
                .value
                .decode_as::<Utf8StringRef>()
                .ok()
                .map(|s| s.as_str().to_string()),
            _ => None,
        })
        .ok_or("the subject alternative name has no URI, e-mail or username")?;
    Ok((issuer, subject))
}

/// Whether the logged body is this signature by this certificate: the
/// entry kinds Rekor writes for cosign, npm and PyPI signatures.
fn binds(kind: &str, body: &[u8], signed: &Signed, leaf_der: &[u8]) -> Result<(), String> {
    let body: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the entry body: {e}"))?;
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let spec = &body["spec"];
    let is_leaf = |pem_b64: &str| {
        STANDARD
            .decode(pem_b64)
            .ok()
            .and_then(|p| pem::parse(p).ok())
            .is_some_and(|p| p.contents() == leaf_der)
    };
    let sig = STANDARD.encode(&signed.signature);
    let bound = match kind {
        "hashedrekord" => {
            let hash = &spec["data"]["hash"];
            s(&spec["signature"]["content"]) == sig
                && is_leaf(&s(&spec["signature"]["publicKey"]["content"]))
                && s(&hash["algorithm"]) == "sha256"
                && s(&hash["value"]) == hex::encode(Sha256::digest(&signed.message))
        }
        "dsse" => spec["signatures"].as_array().is_some_and(|all| {
            all.iter()
                .any(|x| s(&x["signature"]) == sig && is_leaf(&s(&x["verifier"])))
        }),
        // intoto 0.0.2 keeps the envelope's (base64) signature base64'd again.
        "intoto" => spec["content"]["envelope"]["signatures"]
            .as_array()
            .is_some_and(|all| {
                all.iter().any(|x| {
                    (s(&x["sig"]) == STANDARD.encode(&sig) || s(&x["sig"]) == sig)
                        && is_leaf(&s(&x["publicKey"]))
                })
            }),
        other => return Err(format!("log entries of kind {other:?} are not read")),
    };
    if bound {
        Ok(())
    } else {
        Err("the log entry is not this signature by this certificate".into())
    }
}

/// One transparency log entry, as a bundle (or cosign's annotation)
/// carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogEntry {
    pub log_index: i64,
    pub log_id: Vec<u8>,
    pub kind: String,
    pub integrated_time: i64,
    pub signed_entry_timestamp: Option<Vec<u8>>,
    pub inclusion_proof: Option<InclusionProof>,
    /// The canonicalized entry body.
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    pub log_index: u64,
    pub tree_size: u64,
    pub root_hash: Vec<u8>,
    pub hashes: Vec<Vec<u8>>,
    /// The signed note of the tree head.
    pub checkpoint: String,
}

/// A protobuf-JSON 64-bit integer: a string, or a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Int {
    Text(String),
    Number(i64),
}

impl Int {
    fn get(&self, field: &str) -> Result<i64, String> {
        match self {
            Int::Number(n) => Ok(*n),
            Int::Text(t) => t
                .parse()
                .map_err(|_| format!("{field} {t:?} is not a number")),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryJson {
    log_index: Int,
    log_id: KeyId,
    kind_version: KindVersion,
    integrated_time: Int,
    #[serde(default)]
    inclusion_promise: Option<PromiseJson>,
    #[serde(default)]
    inclusion_proof: Option<ProofJson>,
    canonicalized_body: String,
}

#[derive(Deserialize)]
struct KindVersion {
    kind: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromiseJson {
    signed_entry_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProofJson {
    log_index: Int,
    root_hash: String,
    tree_size: Int,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: CheckpointJson,
}

#[derive(Deserialize)]
struct CheckpointJson {
    envelope: String,
}

impl TlogEntry {
    /// Reads a bundle's `TransparencyLogEntry` (protobuf JSON).
    pub fn from_json(v: &serde_json::Value) -> Result<TlogEntry, String> {
        let e: EntryJson = serde_json::from_value(v.clone())
            .map_err(|e| format!("a transparency log entry: {e}"))?;
        let inclusion_proof = match &e.inclusion_proof {
            None => None,
            Some(p) => Some(InclusionProof {
                log_index: p.log_index.get("inclusionProof.logIndex")? as u64,
                tree_size: p.tree_size.get("inclusionProof.treeSize")? as u64,
                root_hash: b64("rootHash", &p.root_hash)?,
                hashes: p
                    .hashes
                    .iter()
                    .map(|h| b64("inclusion proof hash", h))
                    .collect::<Result<_, _>>()?,
                checkpoint: p.checkpoint.envelope.clone(),
            }),
        };
        Ok(TlogEntry {
            log_index: e.log_index.get("logIndex")?,
            log_id: b64("logId", &e.log_id.key_id)?,
            kind: e.kind_version.kind,
            integrated_time: e.integrated_time.get("integratedTime")?,
            signed_entry_timestamp: e
                .inclusion_promise
                .map(|p| b64("signedEntryTimestamp", &p.signed_entry_timestamp))
                .transpose()?,
            inclusion_proof,
            body: b64("canonicalizedBody", &e.canonicalized_body)?,
        })
    }

    /// Reads cosign's `dev.sigstore.cosign/bundle` annotation (a SET and
    /// what it signs).
    pub fn from_cosign_annotation(text: &str) -> Result<TlogEntry, String> {
        #[derive(Deserialize)]
        struct Annotation {
            #[serde(rename = "SignedEntryTimestamp")]
            set: String,
            #[serde(rename = "Payload")]
            payload: Payload,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Payload {
            body: String,
            integrated_time: i64,
            log_index: i64,
            #[serde(rename = "logID")]
            log_id: String,
        }
        let a: Annotation =
            serde_json::from_str(text).map_err(|e| format!("the cosign bundle annotation: {e}"))?;
        let body = b64("body", &a.payload.body)?;
        let kind = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|b| b["kind"].as_str().map(str::to_string))
            .unwrap_or_default();
        Ok(TlogEntry {
            log_index: a.payload.log_index,
            log_id: hex::decode(&a.payload.log_id).map_err(|e| format!("logID: {e}"))?,
            kind,
            integrated_time: a.payload.integrated_time,
            signed_entry_timestamp: Some(b64("SignedEntryTimestamp", &a.set)?),
            inclusion_proof: None,
            body,
        })
    }
}

impl InclusionProof {
    /// Whether the leaf is in the tree whose head the log signed.
    fn verify(&self, leaf: &Hash, key: &PublicKey) -> Result<(), String> {
        let (size, root) = checkpoint(&self.checkpoint, key)?;
        if size != self.tree_size || root != self.root_hash {
            return Err("the inclusion proof is not for the checkpoint's tree".into());
        }
        let hashes: Vec<Hash> = self
            .hashes
            .iter()
            .map(|h| h.as_slice().try_into())
            .collect::<Result<_, _>>()
            .map_err(|_| "an inclusion proof hash is not 32 bytes")?;
        match root_from_path(self.log_index, self.tree_size, leaf, &hashes) {
            Some(r) if r.as_slice() == self.root_hash => Ok(()),
            _ => Err("the inclusion proof does not lead to the tree's root".into()),
        }
    }
}

/// The tree size and root hash of a checkpoint (a signed note: origin,
/// size, base64 root, optional lines; then `— name base64(keyhint ‖ sig)`)
/// signed by `key`.
fn checkpoint(note: &str, key: &PublicKey) -> Result<(u64, Vec<u8>), String> {
    let (text, signatures) = note
        .split_once("\n\n")
        .ok_or("the checkpoint is not a signed note")?;
    let text = format!("{text}\n");
    let signed = signatures.lines().any(|line| {
        line.strip_prefix("— ")
            .and_then(|rest| rest.rsplit_once(' '))
            .and_then(|(_, sig)| STANDARD.decode(sig).ok())
            .is_some_and(|sig| sig.len() > 4 && key.verify(text.as_bytes(), &sig[4..]))
    });
    if !signed {
        return Err("the checkpoint is not signed by the log".into());
    }
    let mut lines = text.lines().skip(1);
    let size = lines
        .next()
        .and_then(|l| l.parse().ok())
        .ok_or("the checkpoint has no tree size")?;
    let root = lines
        .next()
        .and_then(|l| STANDARD.decode(l).ok())
        .ok_or("the checkpoint has no root hash")?;
    Ok((size, root))
}

/// The root an RFC 9162 inclusion path leads to from leaf `index` of a
/// tree of `size` leaves (`None` when the path has the wrong length).
pub fn root_from_path(index: u64, size: u64, leaf: &Hash, path: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return None;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    (s == 0).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlog::tree_hash;

    // Public data: Sigstore's public-good trusted root, and the provenance
    // bundle npm serves for sigstore@2.0.0 (keyless, from GitHub Actions,
    // logged in rekor.sigstore.dev with an inclusion proof).
    const ROOT: &str = include_str!("../../tests/fixtures/sigstore/public-good-trusted-root.json");
    const BUNDLE: &str =
        include_str!("../../tests/fixtures/sigstore/sigstore-2.0.0-provenance.sigstore.json");

    fn signed() -> Signed {
        super::super::evidence::bundle(BUNDLE.as_bytes(), None)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn a_public_good_bundle_verifies_offline() {
        let root = TrustedRoot::from_json(ROOT.as_bytes()).unwrap();
        let s = signed();
        assert_eq!(s.tlog.len(), 1);
        assert!(s.tlog[0].inclusion_proof.is_some());
        let id = root.verify(&s).unwrap();
        assert_eq!(id.issuer, "https://token.actions.githubusercontent.com");
        assert_eq!(
            id.subject,
            "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
        );
        assert_eq!(id.integrated_time, 1692374735);
    }

    #[test]
    fn tampering_anywhere_fails() {
        let root = TrustedRoot::from_json(ROOT.as_bytes()).unwrap();
        // The signature.
        let mut s = signed();
        let n = s.signature.len();
        s.signature[n - 3] ^= 1;
        assert!(root.verify(&s).is_err());
        // The time the log vouches for.
        let mut s = signed();
        s.tlog[0].integrated_time += 1;
        assert!(root
            .verify(&s)
            .unwrap_err()
            .contains("signed entry timestamp"));
        // The inclusion proof.
        let mut s = signed();
        s.tlog[0].inclusion_proof.as_mut().unwrap().hashes[0][0] ^= 1;
        assert!(root.verify(&s).unwrap_err().contains("inclusion proof"));
        // No log entry, no certificate.
        let mut s = signed();
        s.tlog.clear();
        assert!(root.verify(&s).is_err());
        let mut s = signed();
        s.chain.clear();
        assert!(root.verify(&s).is_err());
        // Another message signed by the same certificate is not this one.
        let mut s = signed();
        s.message.push(b' ');
        assert!(root.verify(&s).is_err());
    }

    #[test]
    fn a_root_without_the_log_or_authority_verifies_nothing() {
        let mut doc: serde_json::Value = serde_json::from_str(ROOT).unwrap();
        let mut no_ca = doc.clone();
        // Keep only the first (2021–2022) authority: the 2023 certificate
        // does not chain to it.
        no_ca["certificateAuthorities"]
            .as_array_mut()
            .unwrap()
            .truncate(1);
        let root = TrustedRoot::from_json(no_ca.to_string().as_bytes()).unwrap();
        assert!(root.verify(&signed()).unwrap_err().contains("certificate"));
        // A log whose key is valid only before the entry.
        doc["tlogs"][0]["publicKey"]["validFor"]["end"] = "2022-01-01T00:00:00Z".into();
        let root = TrustedRoot::from_json(doc.to_string().as_bytes()).unwrap();
        assert!(root.verify(&signed()).is_err());
        assert!(TrustedRoot::from_json(b"{}").is_err());
    }

    #[test]
    fn inclusion_paths() {
        let leaves: Vec<Hash> = (0..7u8).map(|i| record_hash(&[i])).collect();
        let root = tree_hash(&leaves);
        // The audit path of each leaf, built the RFC 9162 way.
        fn path(leaves: &[Hash], m: usize) -> Vec<Hash> {
            if leaves.len() <= 1 {
                return vec![];
            }
            let k = 1usize << (usize::BITS - 1 - (leaves.len() - 1).leading_zeros());
            if m < k {
                let mut p = path(&leaves[..k], m);
                p.push(tree_hash(&leaves[k..]));
                p
            } else {
                let mut p = path(&leaves[k..], m - k);
                p.push(tree_hash(&leaves[..k]));
                p
            }
        }
        for m in 0..leaves.len() {
            let p = path(&leaves, m);
            assert_eq!(
                root_from_path(m as u64, 7, &leaves[m], &p),
                Some(root),
                "leaf {m}"
            );
            // Another leaf, a shortened path, a wrong position.
            assert_ne!(
                root_from_path(m as u64, 7, &leaves[(m + 1) % 7], &p),
                Some(root)
            );
            assert_ne!(root_from_path(m as u64, 7, &leaves[m], &p[1..]), Some(root));
            assert_ne!(
                root_from_path((m as u64) ^ 1, 7, &leaves[m], &p),
                Some(root)
            );
        }
        assert_eq!(root_from_path(0, 1, &leaves[0], &[]), Some(leaves[0]));
        assert_eq!(root_from_path(1, 1, &leaves[0], &[]), None);
    }
}
