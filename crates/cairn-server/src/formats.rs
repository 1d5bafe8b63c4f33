//! Mounts the adapters: one route per prefix, one handler shape for all,
//! OCI included ([`serve_adapter`]: authenticate, spend the rate budget,
//! then the guard of `cairn_http`). The logins, token commands and trusted-publishing exchanges the
//! ecosystems' clients perform are authentication, not artifacts: they are
//! answered by `client_auth` before a request reaches an adapter.

use crate::auth::AuthFailure;
use crate::{authenticate_request, client_auth, source_of, spend_budget, AppState};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use cairn_core::access::RequestAuth;
use cairn_http::Request as AdapterRequest;
use cairn_packages::PackageError;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/npm/{*rest}", any(npm_handler))
        .route("/pypi/{*rest}", any(pypi_handler))
        .route("/cargo/{*rest}", any(cargo_handler))
        .route(
            "/go/{*rest}",
            any(
                |State(state): State<Arc<AppState>>, req: Request| async move {
                    serve(&state, &state.go, "/go", req).await
                },
            ),
        )
        .route(
            "/maven/{*rest}",
            any(
                |State(state): State<Arc<AppState>>, req: Request| async move {
                    serve(&state, &state.maven, "/maven", req).await
                },
            ),
        )
        // Trusted-publishing exchanges npm and PyPI clients make at the
        // registry host's root, whatever the registry's path.
        .route(
            "/-/npm/v1/oidc/token/exchange/package/{*name}",
            post(
                |State(state): State<Arc<AppState>>, req: Request| async move {
                    client_auth::npm_root_exchange(&state, req).await
                },
            ),
        )
        .route(
            "/_/oidc/audience",
            get(|State(state): State<Arc<AppState>>| async move {
                client_auth::pypi_root_audience(&state).await
            }),
        )
        .route(
            "/_/oidc/mint-token",
            post(
                |State(state): State<Arc<AppState>>, req: Request| async move {
                    client_auth::pypi_root_mint(&state, req).await
                },
            ),
        )
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

/// The one handler shape of every adapter, OCI included: authenticate
/// (a failure rendered by `unauthenticated`, given the request's headers), spend the rate budget, then
/// the guard ([`cairn_http::serve`]): parse, decide, label, dispatch.
pub(crate) async fn serve_adapter<A: cairn_http::Adapter>(
    state: &AppState,
    adapter: &A,
    prefix: &str,
    req: Request,
    unauthenticated: impl FnOnce(AuthFailure, &HeaderMap) -> Response,
) -> Response {
    let (parts, body) = req.into_parts();
    let source = source_of(&parts);
    let principal = match authenticate_request(
        state,
        &parts.headers,
        source.clone(),
        parts.uri.path(),
        |why| unauthenticated(why, &parts.headers),
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
    let req = AdapterRequest {
        base_url: base_url(state, &parts.headers),
        auth: RequestAuth {
            principal,
            realm: crate::realm(&state.config, &parts.headers),
            service: state.auth.service().to_string(),
            source,
        },
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
    };
    let mut resp = cairn_http::serve(adapter, &state.guard, req, &path, body).await;
    if let Some(budget) = budget {
        budget.apply(&mut resp);
    }
    resp
}

/// [`serve_adapter`] for a language adapter: a failed authentication is
/// refused in the adapter's own error shape.
async fn serve<A>(state: &AppState, adapter: &A, prefix: &str, req: Request) -> Response
where
    A: cairn_http::Adapter<Error = PackageError>,
{
    let unauthenticated = |why: AuthFailure, _: &HeaderMap| {
        adapter.render(PackageError::Unauthenticated(why.message().into()))
    };
    serve_adapter(state, adapter, prefix, req, unauthenticated).await
}

async fn npm_handler(State(state): State<Arc<AppState>>, req: Request) -> Response {
    match client_auth::npm_route(&state, req).await {
        Ok(resp) => resp,
        Err(req) => serve(&state, &state.npm, "/npm", req).await,
    }
}

async fn pypi_handler(State(state): State<Arc<AppState>>, req: Request) -> Response {
    match client_auth::pypi_route(&state, req).await {
        Ok(resp) => resp,
        Err(req) => serve(&state, &state.pypi, "/pypi", req).await,
    }
}

async fn cargo_handler(State(state): State<Arc<AppState>>, req: Request) -> Response {
    match client_auth::cargo_route(&state, req).await {
        Ok(resp) => resp,
        Err(req) => serve(&state, &state.cargo, "/cargo", req).await,
    }
}
