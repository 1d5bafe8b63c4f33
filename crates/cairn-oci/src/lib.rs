//! The OCI Distribution API v1.1 adapter.
//!
//! The rule of this layer: parse the request into an [`Endpoint`], which
//! declares the access it needs (decided by `cairn_http`'s guard before a
//! handler runs), call the stores through their traits, and render the
//! spec's responses and errors. No SQL, no files.
//!
//! Files: `endpoint.rs` parses paths; `blobs.rs` serves blobs and uploads;
//! `manifests.rs` manifests and tags; `listing.rs` tag lists, catalog and
//! referrers; `error.rs` the error shape.

mod attestations;
mod blobs;
pub mod describe;
pub mod endpoint;
pub mod error;
mod listing;
mod manifests;
mod proxy;
mod sbom;
mod secrets;
pub mod signatures;
mod virtuals;
pub use virtuals::{OciMember, OciVirtual};

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use cairn_core::access::{AccessPolicy, Denied};
use cairn_core::policy::TagRule;
use cairn_core::Action;
pub(crate) use cairn_http::Request;
use cairn_http::{Access, Guard, Resource};
use cairn_store::{Blobs, MetaStore};
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
    /// Repositories that take sparse manifests: an image whose layers, or
    /// an index whose platforms, were never pushed (a mirror that copies
    /// only some platforms of an index).
    pub sparse: cairn_core::policy::RepositoryPatterns,
    /// Repositories whose pushed layers are scanned for secrets.
    pub secret_scan: cairn_core::policy::RepositoryPatterns,
    /// Repositories whose pushed images carrying a secret are stored but
    /// held back until released, instead of refused.
    pub secret_quarantine: cairn_core::policy::RepositoryPatterns,
    /// Repositories whose pushed images get a publish attestation referrer.
    pub attest_pushes: cairn_core::policy::RepositoryPatterns,
}

/// The OCI adapter: shared, cheap to clone behind an `Arc`.
pub struct OciApi {
    pub blobs: Arc<Blobs>,
    pub meta: Arc<dyn MetaStore>,
    pub config: OciConfig,
    /// Manifest bytes by digest. Content-addressed, so entries never go stale;
    /// whether a repository still holds a manifest is always asked of `meta`.
    manifest_cache: cairn_store::ByteCache,
    guard: Guard,
    /// Proxy repositories: each serves the names below its own.
    proxies: Vec<Arc<cairn_proxy::Proxy>>,
    /// Virtual repositories: each serves the names below its own from its members.
    virtuals: Vec<Arc<OciVirtual>>,
    /// The pulls this replica recorded lately (retention policies count
    /// "pulled within N days": once an hour is precise enough).
    pulls: Arc<cairn_store::UseNotes>,
    /// Vulnerability policies, asked for every manifest served.
    vulns: Arc<cairn_http::VulnGate>,
    /// Revokes cairn API tokens found in pushed layers (the identity service).
    revoker: Option<Arc<dyn cairn_http::TokenRevoker>>,
    /// Trust in signers, and the signature policies asked for every manifest served.
    signatures: Arc<signatures::SignatureGate>,
    /// The signature policy's allows this replica audited lately.
    decisions_audited: Arc<cairn_store::UseNotes>,
    /// The registry's own keys: pushed images get a publish attestation.
    signer: Arc<cairn_http::RegistrySigner>,
}

/// Memory given to cached manifest bytes.
const MANIFEST_CACHE_BYTES: u64 = 64 * 1024 * 1024;

impl OciApi {
    pub fn new(blobs: Arc<Blobs>, meta: Arc<dyn MetaStore>, config: OciConfig) -> Self {
        OciApi {
            guard: Guard::new(config.access.clone(), meta.clone()),
            blobs,
            meta,
            config,
            manifest_cache: cairn_store::ByteCache::new(MANIFEST_CACHE_BYTES),
            proxies: vec![],
            virtuals: vec![],
            pulls: Default::default(),
            vulns: Arc::new(cairn_http::VulnGate::open()),
            revoker: None,
            signatures: Arc::new(signatures::SignatureGate::default()),
            decisions_audited: Default::default(),
            signer: Default::default(),
        }
    }

    /// Attests pushed images with the keys `signer` holds.
    pub fn with_registry_signer(mut self, signer: Arc<cairn_http::RegistrySigner>) -> Self {
        self.signer = signer;
        self
    }

    /// Revokes tokens found in pushed layers through `revoker`.
    pub fn with_token_revoker(mut self, revoker: Arc<dyn cairn_http::TokenRevoker>) -> Self {
        self.revoker = Some(revoker);
        self
    }

    /// Serves manifests only as the vulnerability policies allow.
    pub fn with_vuln_gate(mut self, gate: Arc<cairn_http::VulnGate>) -> Self {
        self.vulns = gate;
        self
    }

    /// Records that a manifest was pulled (by tag or by digest), at most
    /// once an hour on this replica, without delaying the answer.
    pub(crate) fn note_pull(&self, repository: &str, digest: &cairn_core::Digest) {
        let (meta, repository, digest) =
            (self.meta.clone(), repository.to_string(), digest.clone());
        self.pulls
            .note(format!("{repository}@{digest}"), "a pull", async move {
                meta.note_pull(&repository, &digest).await
            });
    }

    /// Every OCI proxy repository.
    pub fn proxies(&self) -> impl Iterator<Item = &Arc<cairn_proxy::Proxy>> {
        self.proxies.iter()
    }

    /// The proxy repository named `name`, if there is one.
    pub fn proxy(&self, name: &str) -> Option<&Arc<cairn_proxy::Proxy>> {
        self.proxies.iter().find(|p| p.settings().name == name)
    }

    /// The adapter with these proxy repositories (named by their settings).
    pub fn with_proxies(mut self, proxies: Vec<Arc<cairn_proxy::Proxy>>) -> Self {
        self.proxies = proxies;
        self
    }
}

/// The OCI adapter's shape: parse, the guard's decision, dispatch.
#[async_trait::async_trait]
impl cairn_http::Adapter for OciApi {
    type Endpoint = Endpoint;
    type Error = OciError;

    fn format(&self) -> &'static str {
        "oci"
    }

    /// `path` is the part after `/v2`.
    fn parse(&self, req: &Request, path: &str) -> Result<(Endpoint, Access), OciError> {
        let mirrored = self.mirrored_path(req, path);
        let path = mirrored.as_deref().unwrap_or(path);
        let endpoint = Endpoint::parse(&req.method, path).map_err(|e| match e {
            ParseError::NotFound => OciError::not_found("no such endpoint"),
            ParseError::MethodNotAllowed => {
                OciError::unsupported("method not allowed on this endpoint")
            }
            ParseError::Name(e) => match e {
                cairn_core::NameError::InvalidName(_) => OciError::name_invalid(e.to_string()),
                cairn_core::NameError::InvalidTag(_) => OciError::manifest_invalid(e.to_string()),
                cairn_core::NameError::Digest(_) => OciError::digest_invalid(e.to_string()),
            },
            ParseError::Digest(e) => OciError::digest_invalid(e),
        })?;
        let endpoint = self.route(endpoint)?;
        let access = endpoint.access();
        Ok((endpoint, access))
    }

    async fn dispatch(&self, req: &Request, endpoint: Endpoint, body: Body) -> OciResult {
        if let Some((proxy, upstream)) = endpoint.repository().and_then(|n| self.proxy_for(n)) {
            return self.proxied(req, endpoint, &proxy, &upstream).await;
        }
        if let Some((virt, rest)) = endpoint.repository().and_then(|n| self.virtual_for(n)) {
            return self.virtual_read(req, &virt, &rest, endpoint).await;
        }
        self.hosted_with_body(req, endpoint, body).await
    }

    fn render(&self, err: OciError) -> Response {
        err.into_response()
    }
}

impl OciApi {
    /// A read of a hosted repository (what a virtual repository asks of
    /// its hosted members).
    pub(crate) async fn hosted(&self, req: &Request, endpoint: Endpoint) -> OciResult {
        self.hosted_with_body(req, endpoint, Body::empty()).await
    }

    async fn hosted_with_body(&self, req: &Request, endpoint: Endpoint, body: Body) -> OciResult {
        use Endpoint as E;
        match endpoint {
            E::Base => self.base(req),
            E::Catalog => self.catalog(req).await,
            E::Tags { name } => self.tags(&name, req).await,
            E::Referrers { name, digest } => self.referrers(&name, &digest, req).await,
            E::GetManifest { name, reference } => self.get_manifest(&name, &reference, req).await,
            E::PutManifest { name, reference } => {
                self.put_manifest(&name, &reference, req, body).await
            }
            E::DeleteManifest { name, reference } => {
                self.delete_manifest(&name, &reference, req).await
            }
            E::GetBlob { name, digest } => self.get_blob(&name, &digest, req).await,
            E::DeleteBlob { name, digest } => self.delete_blob(&name, &digest, req).await,
            E::StartUpload { name } => self.start_upload(&name, req, body).await,
            E::UploadStatus { name, id } => self.upload_status(&name, &id).await,
            E::PatchUpload { name, id } => self.patch_upload(&name, &id, req, body).await,
            E::FinishUpload { name, id } => self.finish_upload(&name, &id, req, body).await,
            E::CancelUpload { name, id } => self.cancel_upload(&name, &id).await,
        }
    }
}

impl OciApi {
    /// An access check a handler makes beyond its endpoint's declared one
    /// (a mount reads its source repository), through the same guard.
    pub(crate) async fn check(
        &self,
        req: &Request,
        repository: &str,
        action: Action,
    ) -> Result<(), OciError> {
        let resource = Resource::repository(repository);
        self.guard.check(req, "oci", action, &resource).await
    }

    /// `GET /v2/`: 200 for an authenticated caller; otherwise a challenge, as
    /// container clients expect, so they know where to fetch a token.
    fn base(&self, req: &Request) -> OciResult {
        if req.auth.principal == cairn_core::Principal::Anonymous {
            return Err(challenge(req, None, false));
        }
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{}",
        )
            .into_response())
    }
}

/// A refusal rendered the OCI way: 401 with a Bearer challenge naming the
/// scope, or 403 `DENIED`.
impl cairn_http::Refusal for OciError {
    fn refused(req: &Request, action: Action, resource: &Resource, denied: Denied) -> Self {
        let repository = &resource.repository;
        match denied {
            Denied::Forbidden => OciError::denied(format!(
                "{} may not {} {repository}",
                req.auth.principal.name(),
                action.as_str()
            )),
            // Registry clients cannot send a one-time password: the
            // message says to push with an API token.
            Denied::SecondFactor { enrolled } => OciError::denied(Denied::second_factor_message(
                enrolled,
                req.auth.principal.name(),
                action,
                repository,
            )),
            denied => {
                let actions = match action {
                    Action::Read | Action::Sign => "pull",
                    Action::Publish => "pull,push",
                    Action::Delete => "delete",
                    Action::Yank | Action::Admin => "*",
                };
                let scope = format!("repository:{repository}:{actions}");
                challenge(req, Some(&scope), denied == Denied::InsufficientScope)
            }
        }
    }
}

/// A 401 with the Bearer challenge that tells a client where to get a token.
pub(crate) fn challenge(req: &Request, scope: Option<&str>, insufficient: bool) -> OciError {
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
