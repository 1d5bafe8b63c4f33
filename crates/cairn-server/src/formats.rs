//! Mounts the language-package adapters: one route per prefix, one handler
//! shape for all (authenticate, spend the rate budget, hand over to the
//! adapter), plus the logins the ecosystems' clients perform, which are
//! authentication and so belong here rather than in an adapter.

use crate::auth::{create_api_token, AuthFailure};
use crate::{authenticate_request, source_of, spend_budget, AppState};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use cairn_core::access::RequestAuth;
use cairn_core::Principal;
use cairn_packages::{Adapter, PackageError, PkgRequest};
use http_body_util::BodyExt;
use serde_json::json;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/npm/{*rest}", any(npm_handler))
        .route("/pypi/{*rest}", any(pypi_handler))
        .route("/cargo/{*rest}", any(cargo_handler))
}

/// The URL clients reach cairn at, for links in responses.
pub(crate) fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    match &state.config.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

/// The one handler shape of every language adapter.
async fn serve(state: &AppState, adapter: &dyn Adapter, prefix: &str, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let render =
        |why: AuthFailure| adapter.render(PackageError::Unauthenticated(why.message().into()));
    let principal = match authenticate_request(
        state,
        &parts.headers,
        source_of(&parts),
        parts.uri.path(),
        render,
    )
    .await
    {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let budget = match spend_budget(state, &principal, &parts) {
        Ok(budget) => budget,
        Err(limited) => return limited.into_response(),
    };
    let path = parts
        .uri
        .path()
        .strip_prefix(prefix)
        .unwrap_or("")
        .to_string();
    let req = PkgRequest {
        base_url: base_url(state, &parts.headers),
        auth: RequestAuth {
            principal,
            realm: String::new(),
            service: state.auth.service().to_string(),
            source: source_of(&parts),
        },
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
    };
    let mut resp = adapter.handle(req, &path, body).await;
    if let Some(budget) = budget {
        budget.apply(&mut resp);
    }
    resp
}

async fn npm_handler(State(state): State<Arc<AppState>>, req: Request) -> Response {
    if req.method() == Method::PUT {
        if let Some(user) = npm_login_user(req.uri().path()) {
            return npm_login(&state, &user, req).await;
        }
    }
    serve(&state, &state.npm, "/npm", req).await
}

async fn pypi_handler(State(state): State<Arc<AppState>>, req: Request) -> Response {
    serve(&state, &state.pypi, "/pypi", req).await
}

async fn cargo_handler(State(state): State<Arc<AppState>>, req: Request) -> Response {
    serve(&state, &state.cargo, "/cargo", req).await
}

/// `/npm/<repo>/-/user/org.couchdb.user:<name>` → the user name.
fn npm_login_user(path: &str) -> Option<String> {
    let (_, tail) = path.split_once("/-/user/org.couchdb.user:")?;
    let name = percent_encoding::percent_decode_str(tail).decode_utf8_lossy();
    (!name.is_empty() && !name.contains('/')).then(|| name.into_owned())
}

/// `npm login` (the legacy CouchDB flow, also `npm adduser`): checks the
/// user's password and answers with a new API token for npm repositories.
/// Creating users this way is not offered; an administrator creates them.
async fn npm_login(state: &AppState, user: &str, req: Request) -> Response {
    let npm_error = |status: StatusCode, message: &str| {
        (status, Json(json!({ "error": message }))).into_response()
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = http_body_util::Limited::new(body, 64 * 1024)
        .collect()
        .await
        .map(|c| c.to_bytes())
    else {
        return npm_error(StatusCode::BAD_REQUEST, "unreadable body");
    };
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let Some(password) = doc.get("password").and_then(|p| p.as_str()) else {
        return npm_error(
            StatusCode::BAD_REQUEST,
            "a login needs a name and a password",
        );
    };
    let mut headers = HeaderMap::new();
    let basic = crate::auth::encode_basic(user, password);
    headers.insert(
        header::AUTHORIZATION,
        basic.parse().expect("a Basic header"),
    );
    let source = source_of(&parts);
    let refused = |_| npm_error(StatusCode::UNAUTHORIZED, "invalid user name or password");
    let principal = match authenticate_request(
        state,
        &headers,
        source.clone(),
        parts.uri.path(),
        refused,
    )
    .await
    {
        Ok(p @ Principal::Authenticated { .. }) => p,
        Ok(Principal::Anonymous) => {
            return npm_error(StatusCode::UNAUTHORIZED, "invalid user name or password")
        }
        Err(resp) => return resp,
    };
    let actor = cairn_store::Actor {
        name: principal.name().to_string(),
        credential: None,
        source,
    };
    let scopes = vec!["npm/**:read,publish,yank".to_string()];
    match create_api_token(
        &*state.meta,
        principal.name(),
        "npm login",
        &scopes,
        None,
        &actor,
    )
    .await
    {
        Ok((_, secret)) => (
            StatusCode::CREATED,
            Json(json!({ "ok": true, "id": format!("org.couchdb.user:{user}"), "token": secret })),
        )
            .into_response(),
        Err(e) => npm_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
    }
}
