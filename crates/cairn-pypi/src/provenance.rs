//! PEP 740 attestations: the `attestations` field of an upload, kept with
//! the file and served through the integrity API
//! (`/integrity/<project>/<version>/<filename>/provenance`) and the simple
//! API's `provenance` key (API version 1.3).
//!
//! An upload whose attestations do not bind this file is refused: each must
//! be a version-1 attestation whose in-toto statement has one subject named
//! as the uploaded file with its SHA-256, and a signature and certificate.
//! With a pinned Sigstore trusted root (`sigstore.trusted_root`), the
//! signature must also verify against it — the Fulcio certificate, the
//! Rekor entry, offline — and the signer's identity is kept as the
//! publisher's claims; without one, only what it binds is checked.

use crate::{key, PypiApi, PYPI};
use axum::http::header;
use axum::response::IntoResponse;
use base64::Engine;
use cairn_core::PackageRef;
use cairn_packages::{PackageError, PackageResult};
use serde_json::{json, Value};

/// The integrity API's media type.
pub const INTEGRITY: &str = "application/vnd.pypi.integrity.v1+json";

/// Checks the upload's `attestations` (a JSON list) against the file, and
/// returns the provenance object to keep with it.
pub(crate) fn provenance_of(
    attestations: &str,
    filename: &str,
    sha256: &str,
    uploader: &str,
    root: Option<&cairn_core::trust::sigstore::TrustedRoot>,
) -> PackageResult<Value> {
    let bad = |why: String| PackageError::bad(format!("invalid attestations: {why}"));
    let list: Vec<Value> =
        serde_json::from_str(attestations).map_err(|e| bad(format!("not a JSON list: {e}")))?;
    if list.is_empty() {
        return Err(bad("the list is empty".into()));
    }
    let mut identities = Vec::new();
    for (i, a) in list.iter().enumerate() {
        binds(a, filename, sha256).map_err(|e| bad(format!("attestation {i}{e}")))?;
        if let Some(root) = root {
            let signed = cairn_core::trust::evidence::pep740(a)
                .map_err(|e| bad(format!("attestation {i}: {e}")))?;
            let who = root.verify(&signed).map_err(|e| {
                bad(format!(
                    "attestation {i}: the Sigstore signature does not verify against the trusted root: {e}"
                ))
            })?;
            identities.push(json!({"issuer": who.issuer, "subject": who.subject}));
        }
    }
    let mut publisher = json!({"kind": "cairn", "uploader": uploader});
    if let Some(first) = identities.first() {
        publisher["claims"] = first.clone();
    }
    Ok(json!({
        "version": 1,
        "attestation_bundles": [{
            "publisher": publisher,
            "attestations": list,
        }],
    }))
}

/// Whether one PEP 740 attestation binds the file `filename` with this
/// SHA-256: version 1, a signature and a certificate, and an in-toto
/// statement whose one subject is the file (the error reads after
/// "attestation N").
fn binds(a: &Value, filename: &str, sha256: &str) -> Result<(), String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    if a.get("version").and_then(Value::as_u64) != Some(1) {
        return Err(" is not version 1".into());
    }
    let field = |p: &str| a.pointer(p).and_then(Value::as_str).unwrap_or("");
    if b64
        .decode(field("/envelope/signature"))
        .map_or(true, |s| s.is_empty())
    {
        return Err(" has no signature".into());
    }
    if b64
        .decode(field("/verification_material/certificate"))
        .map_or(true, |c| c.is_empty())
    {
        return Err(" has no signing certificate".into());
    }
    let subject = cairn_core::trust::evidence::sole_subject(field("/envelope/statement"), "sha256")
        .map_err(|e| format!(": {e}"))?;
    if subject.name != filename || !subject.digest.eq_ignore_ascii_case(sha256) {
        return Err(format!(
            " is about {} (sha256 {}), not {filename} (sha256 {sha256})",
            subject.name, subject.digest
        ));
    }
    if subject.predicate_type.is_empty() {
        return Err(" names no predicate type".into());
    }
    Ok(())
}

/// Checks an upstream's provenance object (PEP 740) against the file its
/// page lists: every attestation of every bundle binds it.
pub(crate) fn check_provenance(doc: &[u8], filename: &str, sha256: &str) -> Result<(), String> {
    let doc: Value = serde_json::from_slice(doc).map_err(|e| format!("not JSON: {e}"))?;
    let bundles = doc["attestation_bundles"]
        .as_array()
        .filter(|b| !b.is_empty())
        .ok_or("no attestation bundles")?;
    for bundle in bundles {
        let list = bundle["attestations"]
            .as_array()
            .filter(|l| !l.is_empty())
            .ok_or("a bundle without attestations")?;
        for (i, a) in list.iter().enumerate() {
            binds(a, filename, sha256).map_err(|e| format!("attestation {i}{e}"))?;
        }
    }
    Ok(())
}

impl PypiApi {
    /// `GET /integrity/<project>/<version>/<filename>/provenance`.
    pub(crate) async fn provenance(
        &self,
        repo: &str,
        project: &str,
        version: &str,
        filename: &str,
    ) -> PackageResult {
        let key = key(project)?;
        let found = self
            .packages
            .meta
            .package_file(PackageRef::new(PYPI, repo, &key), filename)
            .await?;
        let provenance = found
            .filter(|(f, state)| f.version == version && state.serves_bytes())
            .and_then(|(f, _)| {
                serde_json::from_str::<Value>(&f.metadata)
                    .ok()?
                    .get("provenance")
                    .cloned()
            })
            .ok_or_else(|| {
                PackageError::not_found(format!(
                    "no provenance for {filename} of {project} {version}"
                ))
            })?;
        Ok(([(header::CONTENT_TYPE, INTEGRITY)], provenance.to_string()).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attestation(name: &str, sha: &str) -> Value {
        let b64 = base64::engine::general_purpose::STANDARD;
        let statement = json!({"_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": name, "digest": {"sha256": sha}}],
            "predicateType": "https://docs.pypi.org/attestations/publish/v1", "predicate": null});
        json!({"version": 1,
            "verification_material": {"certificate": b64.encode(b"cert"), "transparency_entries": []},
            "envelope": {"statement": b64.encode(statement.to_string()), "signature": b64.encode(b"sig")}})
    }

    #[test]
    fn attestations_must_bind_the_file() {
        let sha = "ab".repeat(32);
        let good = json!([attestation("demo-1.0.tar.gz", &sha)]).to_string();
        let p = provenance_of(&good, "demo-1.0.tar.gz", &sha, "ci", None).unwrap();
        assert_eq!(
            p["attestation_bundles"][0]["attestations"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        for (list, why) in [
            (
                json!([attestation("other-1.0.tar.gz", &sha)]).to_string(),
                "is about other",
            ),
            (
                json!([attestation("demo-1.0.tar.gz", &"cd".repeat(32))]).to_string(),
                "is about demo",
            ),
            ("[]".to_string(), "empty"),
            ("{".to_string(), "not a JSON list"),
            (json!([{"version": 2}]).to_string(), "not version 1"),
        ] {
            let e = provenance_of(&list, "demo-1.0.tar.gz", &sha, "ci", None).unwrap_err();
            assert!(e.to_string().contains(why), "{why}: {e}");
        }
    }

    #[test]
    fn an_upstream_provenance_must_bind_the_listed_file() {
        let sha = "ab".repeat(32);
        let doc = |a: Value| {
            json!({"version": 1, "attestation_bundles": [{"publisher": {}, "attestations": [a]}]})
                .to_string()
        };
        let good = doc(attestation("demo-1.0.tar.gz", &sha));
        assert!(check_provenance(good.as_bytes(), "demo-1.0.tar.gz", &sha).is_ok());
        let other = doc(attestation("demo-1.0.tar.gz", &"cd".repeat(32)));
        let e = check_provenance(other.as_bytes(), "demo-1.0.tar.gz", &sha).unwrap_err();
        assert!(e.contains("attestation 0 is about demo-1.0.tar.gz"), "{e}");
        assert!(check_provenance(b"{}", "demo-1.0.tar.gz", &sha).is_err());
        assert!(check_provenance(b"[", "demo-1.0.tar.gz", &sha).is_err());
    }
}
