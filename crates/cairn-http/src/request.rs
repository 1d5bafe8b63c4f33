//! One request as every adapter sees it, after authentication.

use axum::http::{header, HeaderMap, Method, Uri};
use cairn_core::access::RequestAuth;
use cairn_store::Actor;

/// The parts of a request an adapter reads. The body travels separately
/// (it is not `Sync`), to the handlers that read one.
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub auth: RequestAuth,
    /// The URL clients reach cairn at, without a trailing slash, for links
    /// in responses (tarball URLs, `dl` templates): the configured public
    /// URL, else `http://<Host>`.
    pub base_url: String,
}

impl Request {
    /// The first value of a query parameter, percent-decoded.
    pub fn query(&self, key: &str) -> Option<String> {
        self.query_all(key).into_iter().next()
    }

    /// Every value of a query parameter, percent-decoded.
    pub fn query_all(&self, key: &str) -> Vec<String> {
        let q = self.uri.query().unwrap_or("");
        q.split('&')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k == key).then(|| decode(v))
            })
            .collect()
    }

    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether the Accept header names `media_type`.
    pub fn accepts(&self, media_type: &str) -> bool {
        self.headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains(media_type))
    }

    pub fn content_length(&self) -> Option<u64> {
        self.header(header::CONTENT_LENGTH)
            .and_then(|v| v.parse().ok())
    }

    /// Who is making this request, for the audit log.
    pub fn actor(&self) -> Actor {
        Actor::of(&self.auth.principal, self.auth.source.clone())
    }
}

/// Percent-decodes a query value (`+` is a space).
pub fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}
