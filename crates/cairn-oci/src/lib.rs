//! The OCI Distribution API v1.1 adapter.
//!
//! The rule of this layer: parse the request into an [`Endpoint`], check
//! access with [`cairn_core::access::authorize`], call the stores through
//! their traits, and render the spec's responses and errors. No SQL, no files.
//!
//! Files: `endpoint.rs` parses paths; `blobs.rs` serves blobs and uploads;
//! `manifests.rs` manifests and tags; `listing.rs` tag lists, catalog and
//! referrers; `error.rs` the error shape.

mod blobs;
pub mod endpoint;
pub mod error;
mod listing;
mod manifests;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use cairn_core::access::{authorize, AccessPolicy, Denied, RequestAuth};
use cairn_core::policy::TagRule;
use cairn_core::Action;
use cairn_core::Principal;
use cairn_store::{Actor, AuditRecord, Blobs, MetaStore};
use endpoint::{Endpoint, ParseError};
use error::{OciError, OciResult};
use std::sync::Arc;

/// Settings of the OCI adapter.
#[derive(Debug, Clone)]
pub struct OciConfig {
    pub access: AccessPolicy,
    /// Tag immutability rules, checked by the store in the write transaction.
    pub tag_rules: Vec<TagRule>,
    /// Largest manifest accepted, in bytes.
    pub max_manifest_bytes: usize,
}

/// The OCI adapter: shared, cheap to clone behind an `Arc`.
pub struct OciApi {
    pub blobs: Arc<Blobs>,
    pub meta: Arc<dyn MetaStore>,
    pub config: OciConfig,
    /// Manifest bytes by digest. Content-addressed, so entries never go stale;
    /// whether a repository still holds a manifest is always asked of `meta`.
    manifest_cache: cairn_store::ByteCache,
}

/// Memory given to cached manifest bytes.
const MANIFEST_CACHE_BYTES: u64 = 64 * 1024 * 1024;

impl OciApi {
    pub fn new(blobs: Arc<Blobs>, meta: Arc<dyn MetaStore>, config: OciConfig) -> Self {
        OciApi {
            blobs,
            meta,
            config,
            manifest_cache: cairn_store::ByteCache::new(MANIFEST_CACHE_BYTES),
        }
    }
}

/// One request as the handlers see it. The body travels separately, to the
/// handlers that read one, because a body is not `Sync`.
pub(crate) struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub auth: RequestAuth,
}

impl Request {
    pub fn query(&self, key: &str) -> Option<String> {
        self.query_all(key).into_iter().next()
    }

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

    /// Who is making this request, for the audit log.
    pub fn actor(&self) -> Actor {
        let credential = match &self.auth.principal {
            Principal::Authenticated { credential, .. } => credential.clone(),
            Principal::Anonymous => None,
        };
        Actor {
            name: self.auth.principal.name().to_string(),
            credential,
            source: self.auth.source.clone(),
        }
    }

    pub fn content_length(&self) -> Option<u64> {
        self.header(header::CONTENT_LENGTH)
            .and_then(|v| v.parse().ok())
    }
}

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

impl OciApi {
    /// Handles any request under `/v2`. `path` is the part after `/v2`.
    pub async fn handle(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Body,
        auth: RequestAuth,
    ) -> Response {
        let path = uri
            .path()
            .strip_prefix("/v2")
            .unwrap_or(uri.path())
            .to_string();
        let req = Request {
            method,
            uri,
            headers,
            auth,
        };
        let result = match Endpoint::parse(&req.method, &path) {
            Ok(endpoint) => self.dispatch(endpoint, req, body).await,
            Err(ParseError::NotFound) => Err(OciError::not_found("no such endpoint")),
            Err(ParseError::MethodNotAllowed) => {
                Err(OciError::unsupported("method not allowed on this endpoint"))
            }
            Err(ParseError::Name(e)) => Err(match e {
                cairn_core::NameError::InvalidName(_) => OciError::name_invalid(e.to_string()),
                cairn_core::NameError::InvalidTag(_) => OciError::manifest_invalid(e.to_string()),
                cairn_core::NameError::Digest(_) => OciError::digest_invalid(e.to_string()),
            }),
            Err(ParseError::Digest(e)) => Err(OciError::digest_invalid(e)),
        };
        result.unwrap_or_else(IntoResponse::into_response)
    }

    async fn dispatch(&self, endpoint: Endpoint, req: Request, body: Body) -> OciResult {
        use Endpoint as E;
        match endpoint {
            E::Base => self.base(&req),
            E::Catalog => self.catalog(&req).await,
            E::Tags { name } => self.tags(&name, &req).await,
            E::Referrers { name, digest } => self.referrers(&name, &digest, &req).await,
            E::Manifest { name, reference } => match req.method {
                Method::PUT => self.put_manifest(&name, &reference, &req, body).await,
                Method::DELETE => self.delete_manifest(&name, &reference, &req).await,
                _ => self.get_manifest(&name, &reference, &req).await,
            },
            E::Blob { name, digest } => match req.method {
                Method::DELETE => self.delete_blob(&name, &digest, &req).await,
                _ => self.get_blob(&name, &digest, &req).await,
            },
            E::StartUpload { name } => self.start_upload(&name, &req, body).await,
            E::Upload { name, id } => match req.method {
                Method::GET => self.upload_status(&name, &id, &req).await,
                Method::PATCH => self.patch_upload(&name, &id, &req, body).await,
                Method::PUT => self.finish_upload(&name, &id, &req, body).await,
                _ => self.cancel_upload(&name, &id, &req).await,
            },
        }
    }

    /// The single access check every handler makes, rendered the OCI way:
    /// 401 with a Bearer challenge naming the scope, or 403 `DENIED`.
    pub(crate) async fn check(
        &self,
        req: &Request,
        repository: &str,
        action: Action,
    ) -> Result<(), OciError> {
        let decision = authorize(&self.config.access, &req.auth.principal, repository, action);
        if let Err(denied) = decision {
            if action != Action::Read && req.auth.principal != Principal::Anonymous {
                self.audit_refusal(req, repository, action, denied).await;
            }
        }
        match decision {
            Ok(()) => Ok(()),
            Err(Denied::Forbidden) => Err(OciError::denied(format!(
                "{} may not {} {repository}",
                req.auth.principal.name(),
                action.as_str()
            ))),
            Err(denied) => {
                let actions = match action {
                    Action::Read => "pull",
                    Action::Publish => "pull,push",
                    Action::Delete => "delete",
                    Action::Yank | Action::Admin => "*",
                };
                let scope = format!("repository:{repository}:{actions}");
                Err(self.challenge(req, Some(&scope), denied == Denied::InsufficientScope))
            }
        }
    }

    /// Records a refused write by an authenticated caller. Nothing changed, so
    /// there is no transaction to join; the entry is appended on its own.
    async fn audit_refusal(&self, req: &Request, repository: &str, action: Action, denied: Denied) {
        let entry = AuditRecord::by(
            &req.actor(),
            &format!("oci.{action}"),
            Some(repository),
            Some(req.uri.path()),
            &format!("denied: {denied:?}"),
        );
        if let Err(e) = self.meta.append_audit(&entry).await {
            tracing::error!(error = %e, "could not append to the audit log");
        }
    }

    /// A 401 with the Bearer challenge that tells a client where to get a token.
    pub(crate) fn challenge(
        &self,
        req: &Request,
        scope: Option<&str>,
        insufficient: bool,
    ) -> OciError {
        let mut challenge = format!(
            r#"Bearer realm="{}",service="{}""#,
            req.auth.realm, req.auth.service
        );
        if let Some(scope) = scope {
            challenge.push_str(&format!(r#",scope="{scope}""#));
        }
        if insufficient {
            challenge.push_str(r#",error="insufficient_scope""#);
        }
        OciError::unauthorized("authentication required")
            .with_header(header::WWW_AUTHENTICATE, &challenge)
    }

    /// `GET /v2/`: 200 for an authenticated caller; otherwise a challenge, as
    /// container clients expect, so they know where to fetch a token.
    fn base(&self, req: &Request) -> OciResult {
        if req.auth.principal == cairn_core::Principal::Anonymous {
            return Err(self.challenge(req, None, false));
        }
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{}",
        )
            .into_response())
    }
}
