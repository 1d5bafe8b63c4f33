//! OCI errors in the spec's JSON shape: `{"errors":[{"code","message","detail"}]}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cairn_store::{StoreError, UploadError};

/// One error response. Build it with a code constructor, then render it.
#[derive(Debug)]
pub struct OciError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra headers (a challenge, or the current Range of an upload).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

macro_rules! codes {
    ($($fn:ident => $status:ident, $code:literal;)*) => {
        impl OciError {
            $(pub fn $fn(message: impl Into<String>) -> Self {
                OciError { status: StatusCode::$status, code: $code, message: message.into(), headers: vec![] }
            })*
        }
    };
}

codes! {
    blob_unknown => NOT_FOUND, "BLOB_UNKNOWN";
    blob_upload_invalid => BAD_REQUEST, "BLOB_UPLOAD_INVALID";
    blob_upload_unknown => NOT_FOUND, "BLOB_UPLOAD_UNKNOWN";
    digest_invalid => BAD_REQUEST, "DIGEST_INVALID";
    manifest_blob_unknown => BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN";
    manifest_invalid => BAD_REQUEST, "MANIFEST_INVALID";
    manifest_unknown => NOT_FOUND, "MANIFEST_UNKNOWN";
    name_invalid => BAD_REQUEST, "NAME_INVALID";
    name_unknown => NOT_FOUND, "NAME_UNKNOWN";
    size_invalid => BAD_REQUEST, "SIZE_INVALID";
    pagination_invalid => BAD_REQUEST, "PAGINATION_NUMBER_INVALID";
    unauthorized => UNAUTHORIZED, "UNAUTHORIZED";
    denied => FORBIDDEN, "DENIED";
    unsupported => METHOD_NOT_ALLOWED, "UNSUPPORTED";
    not_found => NOT_FOUND, "NOT_FOUND";
    range_invalid => RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID";
    too_large => PAYLOAD_TOO_LARGE, "SIZE_INVALID";
    internal => INTERNAL_SERVER_ERROR, "UNKNOWN";
    unavailable => SERVICE_UNAVAILABLE, "UNAVAILABLE";
    upstream => BAD_GATEWAY, "UNKNOWN";
}

impl OciError {
    pub fn with_header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }
}

impl IntoResponse for OciError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let body = serde_json::json!({
            "errors": [{ "code": self.code, "message": self.message, "detail": null }]
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        for (k, v) in self.headers {
            resp.headers_mut().append(k, v);
        }
        resp
    }
}

impl From<StoreError> for OciError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Policy(p) => OciError::denied(p.to_string()),
            StoreError::Quota(q) => OciError::denied(q.to_string()),
            e @ StoreError::BlobUnknown(_) => OciError::blob_unknown(e.to_string()),
            other => OciError::internal(other.to_string()),
        }
    }
}

impl From<cairn_core::DigestError> for OciError {
    fn from(e: cairn_core::DigestError) -> Self {
        OciError::digest_invalid(e.to_string())
    }
}

impl From<std::io::Error> for OciError {
    fn from(e: std::io::Error) -> Self {
        OciError::internal(format!("storage error: {e}"))
    }
}

impl From<UploadError> for OciError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::NotFound => OciError::blob_upload_unknown("upload not found"),
            UploadError::OutOfOrder { size, .. } => OciError::range_invalid(e.to_string())
                .with_header(header::RANGE, &upload_range(size)),
            UploadError::LengthMismatch { .. } => OciError::size_invalid(e.to_string()),
            UploadError::DigestMismatch { .. } => OciError::digest_invalid(e.to_string()),
            UploadError::Collecting(_) => {
                OciError::unavailable(e.to_string()).with_header(header::RETRY_AFTER, "1")
            }
            UploadError::Store(s) => s.into(),
            UploadError::Io(io) => io.into(),
        }
    }
}

/// The `Range` header value for an upload holding `size` bytes, as clients
/// expect it: `0-<last byte>`, and `0-0` for an empty upload.
pub fn upload_range(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

pub type OciResult = Result<Response, OciError>;
