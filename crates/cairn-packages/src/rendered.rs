//! Rendered package metadata (packuments, simple pages, index files), kept
//! while the package's revision is unchanged.
//!
//! A metadata GET is the hottest request a registry serves (every install
//! asks for every package it resolves). Rendering one means reading the
//! package's versions, files and tags and building the document; with this
//! cache it is one revision lookup and a copy of bytes. The revision lives
//! in the metadata store and moves in the transaction of every change, so a
//! replica never serves a document older than the store, whichever replica
//! made the change.

use crate::Request;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;

/// A rendered document: its headers (content type, ETag, Vary) and body.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl Rendered {
    /// `content_type` and `etag` (a full ETag value, quotes included).
    pub fn new(content_type: &str, etag: Option<String>, body: impl Into<Bytes>) -> Rendered {
        let mut headers = vec![(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).expect("a valid content type"),
        )];
        if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
            headers.push((header::ETAG, etag));
        }
        Rendered {
            headers,
            body: body.into(),
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: &'static str) -> Rendered {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    /// The response to `req`: `304` when it already holds this ETag.
    pub fn respond(self, req: &Request) -> Response {
        let etag = self
            .headers
            .iter()
            .find(|(n, _)| n == header::ETAG)
            .map(|(_, v)| v.clone());
        let mut resp = match (&etag, req.header(header::IF_NONE_MATCH)) {
            (Some(etag), Some(sent)) if etag.as_bytes() == sent.as_bytes() => {
                StatusCode::NOT_MODIFIED.into_response()
            }
            _ => self.body.into_response(),
        };
        for (name, value) in self.headers {
            if resp.status() != StatusCode::NOT_MODIFIED || name != header::CONTENT_TYPE {
                resp.headers_mut().insert(name, value);
            }
        }
        resp
    }
}

/// Bounds the memory the cache holds; past it, the cache starts afresh.
const MAX_BYTES: usize = 64 * 1024 * 1024;

#[derive(Default)]
pub(crate) struct RenderCache {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, (i64, Rendered)>,
    bytes: usize,
}

impl RenderCache {
    pub(crate) fn get(&self, key: &str, revision: i64) -> Option<Rendered> {
        let entries = self.inner.lock().expect("render cache lock");
        match entries.map.get(key) {
            Some((r, rendered)) if *r == revision => Some(rendered.clone()),
            _ => None,
        }
    }

    pub(crate) fn put(&self, key: String, revision: i64, rendered: Rendered) {
        let size = key.len() + rendered.body.len();
        if size > MAX_BYTES / 8 {
            return;
        }
        let mut entries = self.inner.lock().expect("render cache lock");
        if entries.bytes + size > MAX_BYTES {
            entries.map.clear();
            entries.bytes = 0;
        }
        if let Some((_, old)) = entries.map.insert(key.clone(), (revision, rendered)) {
            entries.bytes -= key.len() + old.body.len();
        }
        entries.bytes += size;
    }
}
