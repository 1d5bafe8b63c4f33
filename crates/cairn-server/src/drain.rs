//! Refusals that proxies survive: when a handler answers without reading
//! the whole request body (a 401 for an anonymous upload, a 413 for an
//! oversized manifest, a 400 found in the first bytes), the rest of the
//! body is read and discarded after the answer, up to a bound in bytes and
//! seconds.
//!
//! Without this, the connection is closed with unread bytes in its receive
//! buffer, the kernel answers with a reset, and a proxy that streams
//! request bodies (nginx with `proxy_request_buffering off`, the usual
//! setting in front of a registry) often sees a broken pipe before it reads
//! the answer: it replies 502 and, by default, takes the replica out of
//! rotation. Draining happens after the answer is sent, so the client never
//! waits for it; a body larger than the bound is still cut off.
//!
//! Requests that asked `Expect: 100-continue` are not drained: they were
//! never told to send their body, and a final answer tells them not to.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;
use serde::Deserialize;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// `[drain]`: how much of a refused request's body is read after the answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DrainConfig {
    /// Bytes read at most; 0 turns draining off.
    pub max_bytes: u64,
    /// Seconds spent at most.
    pub max_secs: u64,
}

impl Default for DrainConfig {
    fn default() -> Self {
        DrainConfig {
            max_bytes: 64 * 1024 * 1024,
            max_secs: 10,
        }
    }
}

/// Where a body that a handler dropped unread ends up.
type Slot = Arc<Mutex<Option<Body>>>;

/// A request body that, when dropped before its end, leaves itself in `slot`.
struct Tracked {
    inner: Option<Body>,
    slot: Slot,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            // Read to its end (or broken): nothing left to drain.
            self.inner = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner
            .as_ref()
            .map(|b| b.size_hint())
            .unwrap_or_else(|| http_body::SizeHint::with_exact(0))
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(rest) = self
            .inner
            .take()
            .filter(|b| !http_body::Body::is_end_stream(b))
        {
            if let Ok(mut slot) = self.slot.lock() {
                *slot = Some(rest);
            }
        }
    }
}

/// Whether a request carries a body a client will send unasked.
fn sends_body(headers: &HeaderMap) -> bool {
    let expects_continue = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let has_length = headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0");
    !expects_continue && (has_length || headers.contains_key(header::TRANSFER_ENCODING))
}

/// The middleware: runs the request, then drains what its handler left unread.
pub async fn drain_unread(
    State(config): State<Arc<DrainConfig>>,
    req: Request,
    next: Next,
) -> Response {
    if config.max_bytes == 0 || !sends_body(req.headers()) {
        return next.run(req).await;
    }
    let slot: Slot = Arc::default();
    let req = req.map(|body| {
        Body::new(Tracked {
            inner: Some(body),
            slot: slot.clone(),
        })
    });
    let resp = next.run(req).await;
    let rest = slot.lock().ok().and_then(|mut s| s.take());
    if let Some(rest) = rest {
        let status = resp.status().as_u16();
        tokio::spawn(drain(rest, config, status));
    }
    resp
}

/// Reads and discards `body` within the bounds.
async fn drain(mut body: Body, config: Arc<DrainConfig>, status: u16) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(config.max_secs);
    let mut read: u64 = 0;
    let outcome = loop {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => break "timed out",
            Ok(None) => break "complete",
            Ok(Some(Err(_))) => break "connection closed",
            Ok(Some(Ok(frame))) => {
                read += frame.data_ref().map_or(0, |d| d.len() as u64);
                if read > config.max_bytes {
                    break "over the bound";
                }
            }
        }
    };
    metrics::counter!("cairn_http_drained_bytes_total").increment(read);
    tracing::debug!(
        status,
        bytes = read,
        outcome,
        "drained the unread body of a refused request"
    );
}
