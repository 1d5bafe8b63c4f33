//! cairn's own publish attestations: `GET /api/v1/attestations` lists a
//! package version's (a Sigstore bundle per file, signed with the
//! registry's key), `GET /api/v1/attestations/keys` the public keys that
//! verify them (PEM, what `cosign verify-blob-attestation --key` takes).

use super::sboms::{may, SubjectParams};
use super::{ApiError, ApiResult, Who};
use crate::AppState;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use cairn_core::Action;
use serde_json::{json, Value};

pub(super) async fn list(state: &AppState, who: &Who, p: SubjectParams) -> ApiResult {
    let subject = p.lookup()?;
    if subject.format == "oci" {
        return Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            "publish attestations are kept for package versions (format= npm, pypi, cargo, go or maven)"
                .into(),
        ));
    }
    if !may(state, who, Action::Read, &subject).await {
        return Err(ApiError::Status(
            StatusCode::FORBIDDEN,
            format!("{} may not read it", who.principal.name()),
        ));
    }
    let found = state
        .meta
        .publish_attestations(
            &subject.format,
            &subject.repository,
            &subject.subject,
            &subject.version,
        )
        .await?;
    let attestations: Vec<Value> = found
        .into_iter()
        .map(|a| {
            json!({
                "filename": a.filename,
                "digest": a.digest,
                "created_at": a.created_at,
                "bundle": serde_json::from_str::<Value>(&a.bundle).unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(Json(json!({ "attestations": attestations })).into_response())
}

pub(super) fn keys(state: &AppState) -> ApiResult {
    let keys: Vec<Value> = state
        .packages
        .registry_keys()
        .map(|keys| {
            keys.public_keys()
                .map(|(keyid, spki, expires)| {
                    json!({
                        "keyid": keyid,
                        "expires": expires,
                        "pem": cairn_core::trust::registry::spki_pem(spki),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(json!({ "keys": keys })).into_response())
}
