//! Request logs, request ids and Prometheus metrics.
//!
//! Every request runs inside a `request` span carrying its id (the
//! client's `X-Request-Id` when it sent a sane one, else a new one, echoed
//! in the response), so every log line it causes names it. Metrics and the
//! request's log line are labelled by format and endpoint: the label an
//! adapter's guard set on the response ([`EndpointLabel`]), or the server's
//! own route.

use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cairn_http::EndpointLabel;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tracing::Instrument;

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// The header a request id travels in, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// Installs the process-wide metrics recorder once (tests build many apps).
fn prometheus() -> &'static PrometheusHandle {
    PROMETHEUS.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0])
            .expect("static buckets")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (embedding); then ours only renders.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// How often `/metrics` refreshes the storage gauges (one scan of the
/// references in the database each time).
const USAGE_REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

/// When the storage gauges were last refreshed.
#[derive(Default)]
pub struct Gauges {
    usage_at: tokio::sync::Mutex<Option<Instant>>,
}

/// Sets the gauges read from the stores: the connection pools on every
/// scrape, what is stored (registry-wide, the same on every replica) at
/// most once per [`USAGE_REFRESH`].
async fn refresh_gauges(state: &AppState) {
    for pool in state.meta.pools() {
        metrics::gauge!("cairn_db_pool_connections", "pool" => pool.name, "state" => "open")
            .set(pool.size as f64);
        metrics::gauge!("cairn_db_pool_connections", "pool" => pool.name, "state" => "idle")
            .set(pool.idle as f64);
    }
    let mut usage_at = state.gauges.usage_at.lock().await;
    if usage_at.is_some_and(|at| at.elapsed() < USAGE_REFRESH) {
        return;
    }
    match state.meta.usage_of_prefix("").await {
        Ok(u) => {
            metrics::gauge!("cairn_storage_bytes", "kind" => "logical").set(u.logical as f64);
            metrics::gauge!("cairn_storage_bytes", "kind" => "unique").set(u.unique as f64);
        }
        Err(e) => tracing::warn!(error = %e, "could not compute storage numbers for /metrics"),
    }
    match state.meta.blob_counts().await {
        Ok(c) => {
            for (s, n, bytes) in [
                ("live", c.live, c.live_bytes),
                ("candidate", c.candidates, c.candidate_bytes),
                ("deleting", c.deleting, c.deleting_bytes),
            ] {
                metrics::gauge!("cairn_blobs", "state" => s).set(n as f64);
                metrics::gauge!("cairn_blob_bytes", "state" => s).set(bytes as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not count blobs for /metrics"),
    }
    match state.meta.usage().await {
        Ok(usage) => {
            metrics::gauge!("cairn_stored_blobs").set(usage.blobs as f64);
            metrics::gauge!("cairn_stored_bytes").set(usage.bytes as f64);
            metrics::gauge!("cairn_open_uploads").set(usage.open_uploads as f64);
            *usage_at = Some(Instant::now());
        }
        Err(e) => tracing::warn!(error = %e, "could not read storage usage for /metrics"),
    }
}

pub async fn metrics_handler(State(state): State<Arc<AppState>>) -> Response {
    let _ = prometheus();
    refresh_gauges(&state).await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        prometheus().render(),
    )
        .into_response()
}

/// The label of a request no adapter labelled: the server's own routes,
/// and the logins and token exchanges of the ecosystems' clients.
fn server_label(path: &str) -> EndpointLabel {
    let (format, endpoint) = match path {
        "/auth/token" => ("auth", "token"),
        "/metrics" => ("server", "metrics"),
        "/healthz" | "/readyz" => ("server", "health"),
        p if p.starts_with("/_/oidc/") => ("pypi", "oidc"),
        p if p.starts_with("/-/npm/") => ("npm", "oidc_exchange"),
        _ => ("server", "not_found"),
    };
    EndpointLabel { format, endpoint }
}

fn content_length(headers: &axum::http::HeaderMap) -> u64 {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The client's request id if it is short and plain, else a new one.
fn request_id(req: &Request) -> HeaderValue {
    req.headers()
        .get(REQUEST_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty()
                && b.len() <= 64
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
        })
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string())
                .expect("hex is a valid header value")
        })
}

/// Logs each request and records its count, duration and bytes.
pub async fn observe(req: Request, next: Next) -> Response {
    let _ = prometheus();
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let id = request_id(&req);
    let span = tracing::info_span!(
        "request",
        id = id.to_str().unwrap_or_default(),
        endpoint = tracing::field::Empty
    );
    let bytes_in = content_length(req.headers());
    let mut resp = next.run(req).instrument(span.clone()).await;
    resp.headers_mut().insert(REQUEST_ID, id);
    let label = resp
        .extensions()
        .get::<EndpointLabel>()
        .copied()
        .unwrap_or_else(|| server_label(&path));
    let status = resp.status().as_u16();
    let bytes_out = content_length(resp.headers());
    let elapsed = start.elapsed();
    let (format, endpoint) = (label.format, label.endpoint);
    let labels = [
        ("format", format.to_string()),
        ("endpoint", endpoint.to_string()),
        ("method", method.to_string()),
    ];
    metrics::counter!("cairn_http_requests_total", "format" => format, "endpoint" => endpoint, "method" => method.to_string(), "status" => status.to_string()).increment(1);
    metrics::histogram!("cairn_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
    metrics::counter!("cairn_http_request_bytes_total", "format" => format, "endpoint" => endpoint)
        .increment(bytes_in);
    metrics::counter!("cairn_http_response_bytes_total", "format" => format, "endpoint" => endpoint)
        .increment(bytes_out);
    if format == "oci" && endpoint == "upload_finish" && method == Method::PUT {
        metrics::histogram!("cairn_upload_finish_duration_seconds").record(elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(
            %method, %path, status, format, endpoint,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            bytes_in, bytes_out,
            "request"
        )
    });
    resp
}
