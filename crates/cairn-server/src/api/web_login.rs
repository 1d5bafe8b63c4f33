//! The admin API's side of web sign-in for command-line clients
//! (`crate::web_login`): start (`cairn login --web`), the approval page's
//! look and approval, and the client's poll.

use super::{ApiError, ApiResult, Who};
use crate::web_login::{self, Poll};
use crate::AppState;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

/// `POST /session/web`: a client starts a login; no credential needed.
pub(super) async fn start(state: &AppState, who: &Who, headers: &HeaderMap) -> ApiResult {
    let base = crate::formats::base_url(state, headers);
    let started = web_login::start(state, "cairn", who.actor.source.clone(), &base).await?;
    Ok((StatusCode::CREATED, Json(started)).into_response())
}

/// `GET /session/web/{id}`: what the approval page shows (which client,
/// from where, when, and whether it is still waiting), to a signed-in person.
pub(super) async fn info(state: &AppState, id: &str) -> ApiResult {
    let Some(login) = state.meta.web_login(id).await? else {
        return Err(gone(id));
    };
    let now = cairn_packages::now();
    let status = match (&login.approved_by, login.consumed_at) {
        (_, Some(_)) => "taken",
        (Some(_), None) => "approved",
        (None, None) if login.expires_at <= now => "expired",
        (None, None) => "pending",
    };
    let mut out = serde_json::to_value(&login).expect("a login serialises");
    out["status"] = json!(status);
    Ok(Json(out).into_response())
}

/// `POST /session/web/{id}/approve`: the person approves it, from the web
/// UI (a browser session, whose change carried its CSRF token): an API
/// token must not turn itself into a person's session.
pub(super) async fn approve(state: &AppState, who: &Who, id: &str) -> ApiResult {
    let cairn_core::Principal::Authenticated { two_factor, .. } = &who.principal else {
        return Err(ApiError::Status(
            StatusCode::UNAUTHORIZED,
            "sign in first".into(),
        ));
    };
    if who.session.is_none() {
        return Err(ApiError::Status(
            StatusCode::FORBIDDEN,
            "a command-line sign-in is approved in the web UI, signed in there".into(),
        ));
    }
    let second_factor = *two_factor == cairn_core::access::TwoFactor::Verified;
    let approved = state
        .meta
        .approve_web_login(
            id,
            who.principal.name(),
            second_factor,
            cairn_packages::now(),
            &who.actor,
        )
        .await?;
    if !approved {
        return Err(ApiError::Status(
            StatusCode::CONFLICT,
            format!("the sign-in {id} is not waiting for an approval (approved already, expired, or unknown)"),
        ));
    }
    Ok(Json(json!({ "id": id, "approved": true, "user": who.principal.name() })).into_response())
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct TokenQuery {
    /// The poll secret the start gave (in `done_url`).
    secret: String,
}

/// `GET /session/web/{id}/token?secret=`: the client's poll: 202 with
/// `Retry-After` while it waits, 200 with the token once, then 404.
pub(super) async fn token(state: &AppState, who: &Who, id: &str, q: TokenQuery) -> ApiResult {
    match web_login::poll(state, id, &q.secret, who.actor.source.clone()).await? {
        Poll::Token {
            token,
            user,
            expires_at,
        } => Ok(
            Json(json!({ "token": token, "user": user, "expires_at": expires_at })).into_response(),
        ),
        Poll::Pending => Ok((
            StatusCode::ACCEPTED,
            [(header::RETRY_AFTER, web_login::POLL_SECS.to_string())],
            Json(json!({ "pending": true })),
        )
            .into_response()),
        Poll::Gone => Err(gone(id)),
    }
}

fn gone(id: &str) -> ApiError {
    ApiError::Status(
        StatusCode::NOT_FOUND,
        format!("no sign-in {id} is waiting (expired, taken, or unknown): start again"),
    )
}
