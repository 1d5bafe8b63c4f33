//! Reports of leaked tokens: `POST /api/v1/secret-scanning/report`, in the
//! format of GitHub's secret-scanning partner program. The body is a JSON
//! list of `{"token", "type", "url", "source"}`; the
//! `Github-Public-Key-Identifier` header names one of the configured
//! `auth.secret_scanning_keys`, and `Github-Public-Key-Signature` is that
//! key's ECDSA P-256 / SHA-256 signature of the raw body (DER, base64). A
//! verified report revokes every live cairn token it lists, through the
//! identity service (audited as `token.revoke`, the report as
//! `secret.report`), and answers each token's label: `true_positive` for a
//! cairn token cairn knows, `false_positive` otherwise. An unsigned,
//! wrongly signed or unknown-key report changes nothing (401).

use super::{ApiError, ApiResult, Who};
use crate::AppState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use base64::Engine;
use cairn_http::TokenRevoker;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde_json::json;

#[derive(serde::Deserialize)]
struct Reported {
    token: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    url: String,
}

fn unauthorized(why: &str) -> ApiError {
    ApiError::Status(
        StatusCode::UNAUTHORIZED,
        format!("the report is not trusted: {why}"),
    )
}

/// Checks the report's signature against the configured key it names.
fn verify(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<String, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let id = header("github-public-key-identifier")
        .ok_or_else(|| unauthorized("no Github-Public-Key-Identifier"))?;
    let signature = header("github-public-key-signature")
        .ok_or_else(|| unauthorized("no Github-Public-Key-Signature"))?;
    let key = state
        .config
        .auth
        .secret_scanning_keys
        .iter()
        .find(|k| k.id == id)
        .ok_or_else(|| unauthorized("the key is not one cairn trusts"))?;
    let key = VerifyingKey::from_public_key_pem(&key.pem).map_err(|e| {
        ApiError::Status(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("secret_scanning_keys {id}: {e}"),
        )
    })?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| unauthorized("the signature is not base64"))?;
    let signature = Signature::from_der(&der)
        .map_err(|_| unauthorized("the signature is not a DER ECDSA signature"))?;
    key.verify(body, &signature)
        .map_err(|_| unauthorized("the signature does not verify"))?;
    Ok(id.to_string())
}

pub(super) async fn secret_report(
    state: &AppState,
    who: &Who,
    headers: &HeaderMap,
    body: bytes::Bytes,
) -> ApiResult {
    let key = verify(state, headers, &body)?;
    let reported: Vec<Reported> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Status(StatusCode::BAD_REQUEST, format!("invalid report: {e}")))?;
    let actor = cairn_store::Actor {
        name: format!("secret-scanning:{key}"),
        ..who.actor.clone()
    };
    let mut labels = Vec::new();
    let mut revoked = 0;
    for r in &reported {
        let ours = r.token.starts_with(crate::auth::TOKEN_PREFIX);
        let known = ours
            && state
                .meta
                .token_by_hash(&cairn_core::secrets::token_hash(&r.token))
                .await?
                .is_some();
        if known && state.identity.revoke_leaked(&r.token, &actor).await? {
            revoked += 1;
            tracing::warn!(key = %key, url = %r.url, kind = %r.kind, "a cairn API token reported leaked was revoked");
        }
        labels.push(json!({
            "token_raw": r.token,
            "token_type": r.kind,
            "label": if known { "true_positive" } else { "false_positive" },
        }));
    }
    let entry = cairn_store::AuditRecord {
        detail: Some(format!(
            "{} tokens reported, {revoked} revoked",
            reported.len()
        )),
        ..cairn_store::AuditRecord::by(&actor, "secret.report", None, None, "ok")
    };
    state.meta.append_audit(&entry).await?;
    Ok(Json(labels).into_response())
}
