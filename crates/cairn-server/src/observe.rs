//! Request logs and Prometheus metrics.

use axum::extract::Request;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cairn_oci::endpoint::Endpoint;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

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

pub async fn metrics_handler() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        prometheus().render(),
    )
        .into_response()
}

/// A low-cardinality name for the route a path belongs to.
fn route_of(method: &Method, path: &str) -> &'static str {
    if let Some(rest) = path.strip_prefix("/v2") {
        return match Endpoint::parse(method, rest) {
            Ok(Endpoint::Base) => "oci_base",
            Ok(Endpoint::Catalog) => "oci_catalog",
            Ok(Endpoint::Tags { .. }) => "oci_tags",
            Ok(Endpoint::Manifest { .. }) => "oci_manifest",
            Ok(Endpoint::Blob { .. }) => "oci_blob",
            Ok(Endpoint::StartUpload { .. }) | Ok(Endpoint::Upload { .. }) => "oci_upload",
            Ok(Endpoint::Referrers { .. }) => "oci_referrers",
            Err(_) => "oci_invalid",
        };
    }
    match path {
        "/auth/token" => "token",
        "/metrics" => "metrics",
        "/healthz" | "/readyz" => "health",
        _ => "other",
    }
}

fn content_length(headers: &axum::http::HeaderMap) -> u64 {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Logs each request and records its count, duration and bytes.
pub async fn observe(req: Request, next: Next) -> Response {
    let _ = prometheus();
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = route_of(&method, &path);
    let bytes_in = content_length(req.headers());
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let bytes_out = content_length(resp.headers());
    let elapsed = start.elapsed();
    let labels = [("route", route.to_string()), ("method", method.to_string())];
    metrics::counter!("cairn_http_requests_total", "route" => route, "method" => method.to_string(), "status" => status.to_string()).increment(1);
    metrics::histogram!("cairn_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
    metrics::counter!("cairn_http_request_bytes_total", "route" => route).increment(bytes_in);
    metrics::counter!("cairn_http_response_bytes_total", "route" => route).increment(bytes_out);
    if route == "oci_upload" && method == Method::PUT {
        metrics::histogram!("cairn_upload_finish_duration_seconds").record(elapsed.as_secs_f64());
    }
    tracing::info!(
        %method, %path, status, route,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        bytes_in, bytes_out,
        "request"
    );
    resp
}
