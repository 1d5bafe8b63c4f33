//! Vulnerability findings over the admin API: what an advisory affects
//! (`GET /advisories/{id}`) and what affects an artifact or a repository
//! (`GET /findings`). Every finding is filtered by the caller's read access
//! to its artifact's repository, decided through the guard.

use super::sboms::{bad, may, SubjectParams};
use super::{ApiError, ApiResult, Who};
use crate::AppState;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use cairn_core::Action;
use cairn_store::advisory::{Finding, FindingScope};
use cairn_store::sbom::SbomSubject;
use serde_json::json;

/// Findings answered at most per request.
const LIMIT: u32 = 5000;

async fn readable(state: &AppState, who: &Who, findings: Vec<Finding>) -> Vec<Finding> {
    let mut out = Vec::new();
    for f in findings {
        if may(state, who, Action::Read, &f.artifact).await {
            out.push(f);
        }
    }
    out
}

async fn data_age(state: &AppState) -> Result<serde_json::Value, ApiError> {
    let (count, newest) = state.meta.advisory_data().await?;
    Ok(json!({"advisories": count, "imported_at": newest}))
}

pub(super) async fn advisory(state: &AppState, who: &Who, id: &str) -> ApiResult {
    let Some(record) = state.meta.advisory(id).await? else {
        return Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("no advisory {id} is imported"),
        ));
    };
    let findings = state
        .meta
        .findings(&FindingScope::Advisory(id.to_string()), LIMIT)
        .await?;
    let findings = readable(state, who, findings).await;
    Ok(
        Json(json!({"advisory": record, "findings": findings, "data": data_age(state).await?}))
            .into_response(),
    )
}

pub(super) async fn findings(state: &AppState, who: &Who, p: SubjectParams) -> ApiResult {
    let scope = if p.names_one() {
        FindingScope::Artifact(p.lookup()?)
    } else {
        if p.repository.is_empty() {
            return Err(bad("repository= names the repository"));
        }
        let format = if p.format == "oci" {
            "oci".to_string()
        } else {
            cairn_core::Format::parse(&p.format)
                .ok_or_else(|| bad(format!("no format {:?}", p.format)))?
                .as_str()
                .to_string()
        };
        // The repository itself must be readable to be asked about.
        let whole = SbomSubject {
            format: format.clone(),
            repository: p.repository.clone(),
            subject: String::new(),
            version: String::new(),
        };
        if format == "oci" && !may(state, who, Action::Read, &whole).await {
            return Err(ApiError::Status(
                StatusCode::FORBIDDEN,
                format!("{} may not read {}", who.principal.name(), p.repository),
            ));
        }
        FindingScope::Repository {
            format,
            repository: p.repository.clone(),
        }
    };
    if let FindingScope::Artifact(subject) = &scope {
        if !may(state, who, Action::Read, subject).await {
            return Err(ApiError::Status(
                StatusCode::FORBIDDEN,
                format!("{} may not read it", who.principal.name()),
            ));
        }
    }
    let found = state.meta.findings(&scope, LIMIT).await?;
    let found = readable(state, who, found).await;
    Ok(Json(json!({"findings": found, "data": data_age(state).await?})).into_response())
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ExceptionParams {
    #[schemars(regex(pattern = r"^[A-Za-z0-9._:-]+$"))]
    advisory: String,
    /// A repository pattern (`npm/*`, `prod/**`).
    #[schemars(regex(pattern = r"^[A-Za-z0-9._/*-]+$"))]
    repositories: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ExceptionBody {
    #[schemars(regex(pattern = r"\S"))]
    reason: String,
    /// RFC 3339; an exception always expires.
    #[schemars(extend("format" = "date-time"))]
    expires: String,
}

pub(super) async fn list_exceptions(state: &AppState) -> ApiResult {
    let exceptions = state.meta.exceptions(&[]).await?;
    Ok(Json(json!({ "exceptions": exceptions })).into_response())
}

pub(super) async fn set_exception(
    state: &AppState,
    who: &Who,
    p: ExceptionParams,
    body: ExceptionBody,
) -> ApiResult {
    let expires_at = cairn_packages::parse_rfc3339(&body.expires).ok_or_else(|| {
        bad(format!(
            "expires {:?} is not an RFC 3339 time",
            body.expires
        ))
    })?;
    // The same characters the document's patterns allow.
    let only = |s: &str, extra: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    };
    if !only(&p.advisory, "._:-") {
        return Err(bad(format!("advisory={:?} is no advisory id", p.advisory)));
    }
    if !only(&p.repositories, "._/*-") {
        return Err(bad(format!(
            "repositories={:?} is no repository pattern (npm/*, prod/**)",
            p.repositories
        )));
    }
    if body.reason.trim().is_empty() {
        return Err(bad("an exception needs a reason"));
    }
    globset::GlobBuilder::new(&p.repositories)
        .literal_separator(true)
        .build()
        .map_err(|e| bad(format!("repositories: {e}")))?;
    let exception = cairn_core::vuln_policy::Exception {
        advisory: p.advisory,
        repositories: p.repositories,
        expires_at,
        reason: body.reason,
    };
    state.meta.set_exception(&exception, &who.actor).await?;
    Ok((StatusCode::CREATED, Json(json!(exception))).into_response())
}

pub(super) async fn remove_exception(state: &AppState, who: &Who, p: ExceptionParams) -> ApiResult {
    if state
        .meta
        .remove_exception(&p.advisory, &p.repositories, &who.actor)
        .await?
    {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("no exception of {} for {}", p.advisory, p.repositories),
        ))
    }
}
