//! Why a pull would be served or refused: `GET /api/v1/policy/explain`
//! answers the signature policy's decision for a manifest, as the caller
//! (the same decision a pull makes, from the stored verdicts).

use super::sboms::may;
use super::{ApiError, ApiResult, Who};
use crate::AppState;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use cairn_core::Action;
use cairn_store::sbom::SbomSubject;

/// The image is named as `GET /image` names one.
pub(super) async fn explain(
    state: &AppState,
    who: &Who,
    p: super::handlers::ImageQuery,
) -> ApiResult {
    let subject = SbomSubject {
        format: "oci".into(),
        repository: p.repository.clone(),
        subject: String::new(),
        version: String::new(),
    };
    if !may(state, who, Action::Read, &subject).await {
        return Err(ApiError::Status(
            StatusCode::FORBIDDEN,
            format!("{} may not read {}", who.principal.name(), p.repository),
        ));
    }
    let explanation = state
        .oci
        .explain_reference(&who.principal, &p.repository, &p.reference)
        .await
        .map_err(|e| ApiError::Status(e.status, format!("{}: {}", e.code, e.message)))?;
    Ok(Json(explanation).into_response())
}
