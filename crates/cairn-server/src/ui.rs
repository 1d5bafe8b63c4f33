//! The web UI (crate `cairn-ui`): its page at `/` and `/ui/...`, its assets
//! under `/ui/assets/`. Every answer carries a strict Content-Security-Policy:
//! the page loads only what cairn serves, runs no inline script or style, and
//! may not be framed. What the page shows it reads from the admin API, with
//! the same access checks as every client.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// What the UI's page may load and do.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(page))
        .route("/ui", get(page))
        .route("/ui/", get(page))
        .route("/ui/{*path}", get(asset))
}

fn secured(mut resp: Response, content_type: &str, cache: &'static str) -> Response {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

async fn page() -> Response {
    secured(
        cairn_ui::index().into_response(),
        "text/html; charset=utf-8",
        "no-cache",
    )
}

/// An asset, or the page for a route of the page's own (a path without a
/// file extension).
async fn asset(Path(path): Path<String>) -> Response {
    if let Some(f) = cairn_ui::file(&path) {
        let cache = if f.immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return secured(f.bytes.into_response(), &f.content_type, cache);
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    if last.contains('.') {
        return secured(
            (StatusCode::NOT_FOUND, "no such file\n").into_response(),
            "text/plain; charset=utf-8",
            "no-cache",
        );
    }
    page().await
}
