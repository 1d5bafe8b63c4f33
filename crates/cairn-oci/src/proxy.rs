//! OCI proxy repositories: a proxy named `hub` serves `hub/<repository>`
//! from the upstream registry's `<repository>` (on Docker Hub, a name
//! without a slash is `library/<name>`, as docker spells it), and, when the
//! proxy has a `namespace`, containerd's mirror requests that name it in
//! `?ns=`.
//!
//! Manifests by tag are documents: revalidated by a HEAD that compares the
//! upstream's digest (no pull counted on Docker Hub), and their bytes must
//! hash to the digest the upstream states. Manifests and blobs by digest
//! are immutable files: fetched once (one upstream request however many
//! clients pull at once, streamed to all of them), verified against the
//! digest, never asked of the upstream again. A multi-platform index is
//! cached on its own: only the platforms' manifests that are pulled are
//! fetched (a sparse index). Tag lists and referrers are documents.

use crate::blobs::{etag_matches, DOCKER_CONTENT_DIGEST, IMMUTABLE};
use crate::endpoint::Endpoint;
use crate::error::{OciError, OciResult};
use crate::{OciApi, Request};
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cairn_core::manifest::ParsedManifest;
use cairn_core::{Digest, Reference, RepoName, Tag};
use cairn_proxy::{CacheStatus, Expect, FileSource, Proxy, ProxyError, Refresh, Validation};
use std::sync::Arc;

/// What cairn accepts from the upstream: every manifest type clients pull.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.artifact.manifest.v1+json";

const CACHE_HEADER: &str = "x-cairn-cache";

/// How long a proxied manifest found unsigned upstream is not asked about
/// again (a signature may be pushed upstream after the image).
const UNSIGNED_RECHECK_SECS: i64 = 300;

/// How many of an upstream manifest's signature referrers are read.
const MAX_PROXIED_SIGNATURES: usize = 16;

/// How many of an upstream manifest's SBOM referrers are read.
const MAX_PROXIED_SBOMS: usize = 16;

/// The check of a proxied manifest's SBOMs is recorded beside its
/// signature checks, under this in place of a trust version (those are hex
/// digests).
const SBOM_CHECK: &str = "sbom";

/// Docker Hub's registry hosts, where one-segment names are `library/…`.
fn is_docker_hub(proxy: &Proxy) -> bool {
    matches!(
        proxy.upstream().base().host_str(),
        Some("registry-1.docker.io" | "index.docker.io" | "docker.io")
    )
}

pub(crate) fn expect(digest: &Digest) -> Expect {
    match digest.algorithm() {
        cairn_core::Algorithm::Sha256 => Expect::Sha256(digest.hex().to_string()),
        cairn_core::Algorithm::Sha512 => {
            Expect::Sha512(hex::decode(digest.hex()).unwrap_or_default())
        }
    }
}

/// A proxy failure in the distribution spec's words.
fn refused(e: ProxyError, not_found: fn(String) -> OciError) -> OciError {
    match e {
        ProxyError::NotFound(m) => not_found(m),
        e @ (ProxyError::Unavailable { .. }
        | ProxyError::Integrity(_)
        | ProxyError::TooLarge { .. }) => {
            tracing::warn!(error = %e, "proxy refused");
            OciError::upstream(e.to_string())
        }
        e => OciError::internal(e.to_string()),
    }
}

fn set(resp: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

impl OciApi {
    /// The proxy serving `name`, and the repository's name on the upstream.
    pub(crate) fn proxy_for(&self, name: &RepoName) -> Option<(Arc<Proxy>, String)> {
        self.proxies.iter().find_map(|p| {
            let rest = name
                .as_str()
                .strip_prefix(p.settings().name.as_str())?
                .strip_prefix('/')?;
            let upstream = if is_docker_hub(p) && !rest.contains('/') {
                format!("library/{rest}")
            } else {
                rest.to_string()
            };
            Some((p.clone(), upstream))
        })
    }

    /// The path with the proxy's prefix put in front of the repository when
    /// containerd names the proxy's namespace in `?ns=` (cairn as its mirror).
    pub(crate) fn mirrored_path(&self, req: &Request, path: &str) -> Option<String> {
        let ns = req.query("ns")?;
        let proxy = self
            .proxies
            .iter()
            .find(|p| p.settings().namespace.as_deref() == Some(ns.as_str()))?;
        let rest = path.strip_prefix('/')?;
        (!rest.is_empty() && !rest.starts_with('_'))
            .then(|| format!("/{}/{rest}", proxy.settings().name))
    }

    /// Serves `endpoint` from `proxy`, whose upstream calls the repository `upstream`.
    pub(crate) async fn proxied(
        &self,
        req: &Request,
        endpoint: Endpoint,
        proxy: &Proxy,
        upstream: &str,
    ) -> OciResult {
        use Endpoint as E;
        let refresh = Refresh::from_cache_control(req.header(header::CACHE_CONTROL));
        match endpoint {
            E::GetManifest { name, reference } => match &reference {
                Reference::Tag(tag) => {
                    self.proxied_tag(req, proxy, upstream, tag.as_str(), refresh, &name)
                        .await
                }
                Reference::Digest(d) => self.proxied_manifest(req, proxy, upstream, d, &name).await,
            },
            E::GetBlob { digest, .. } => self.proxied_blob(req, proxy, upstream, &digest).await,
            E::Tags { name } => {
                self.proxied_tags(req, proxy, &name, upstream, refresh)
                    .await
            }
            E::Referrers { digest, .. } => {
                let key = format!("referrers/{upstream}@{digest}");
                let url = proxy
                    .upstream()
                    .url(&format!("v2/{upstream}/referrers/{digest}"));
                let accept = "application/vnd.oci.image.index.v1+json";
                match proxy.document(&key, &url, accept, refresh).await {
                    Ok(doc) => Ok(json_response(doc.bytes.to_vec(), accept, &doc.status)),
                    // An upstream without the referrers API has none to list.
                    Err(ProxyError::NotFound(_)) => Ok(json_response(
                        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.to_vec(),
                        accept,
                        &CacheStatus::Hit,
                    )),
                    Err(e) => Err(refused(e, OciError::not_found)),
                }
            }
            E::Base | E::Catalog => unreachable!("no repository names them"),
            E::PutManifest { name, .. }
            | E::DeleteManifest { name, .. }
            | E::DeleteBlob { name, .. }
            | E::StartUpload { name }
            | E::UploadStatus { name, .. }
            | E::PatchUpload { name, .. }
            | E::FinishUpload { name, .. }
            | E::CancelUpload { name, .. } => Err(OciError::unsupported(format!(
                "{name} is in the proxy repository {} of {}: it takes no pushes or deletes",
                proxy.settings().name,
                proxy.upstream().base()
            ))),
        }
    }

    async fn proxied_tag(
        &self,
        req: &Request,
        proxy: &Proxy,
        upstream: &str,
        tag: &str,
        refresh: Refresh,
        name: &RepoName,
    ) -> OciResult {
        let doc = upstream_tag(proxy, upstream, tag, refresh)
            .await
            .map_err(|e| refused(e, OciError::manifest_unknown))?;
        // Pulls by the digest this tag names need no upstream request. Only
        // bytes fetched now are new: a hit or a 304 was remembered before.
        if doc.status == CacheStatus::Miss {
            proxy
                .remember_file(&format!("manifest/{upstream}@{}", doc.digest), &doc)
                .await
                .map_err(|e| refused(e, OciError::manifest_unknown))?;
        }
        let reference =
            Reference::Tag(Tag::parse(tag).map_err(|e| OciError::manifest_invalid(e.to_string()))?);
        let warning = self
            .proxied_vuln_check(req, proxy, upstream, name, &doc.digest)
            .await?;
        let unsigned = self
            .proxied_signature_check(
                req,
                proxy,
                upstream,
                name,
                &reference,
                &doc.digest,
                &doc.bytes,
            )
            .await?;
        let mut resp =
            self.manifest_response(req, &doc.digest, &doc.content_type, Some(doc.bytes), false);
        mark_unsigned(&mut resp, unsigned);
        mark_vulnerable(&mut resp, warning);
        set(
            &mut resp,
            header::HeaderName::from_static(CACHE_HEADER),
            &doc.status.header(),
        );
        Ok(resp)
    }

    async fn proxied_manifest(
        &self,
        req: &Request,
        proxy: &Proxy,
        upstream: &str,
        digest: &Digest,
        name: &RepoName,
    ) -> OciResult {
        let source = upstream_manifest(proxy, upstream, digest)
            .await
            .map_err(|e| refused(e, OciError::manifest_unknown))?;
        let (content_type, status) = match &source {
            FileSource::Cached { content_type, .. } => (content_type.clone(), "hit"),
            FileSource::Streaming { content_type, .. } => (content_type.clone(), "miss"),
        };
        let bytes = match source {
            // Cached manifests are read through the adapter's manifest cache.
            FileSource::Cached { digest: stored, .. } => self.manifest_bytes(&stored).await?,
            streaming => proxy
                .read_all(streaming)
                .await
                .map_err(|e| refused(e, OciError::manifest_unknown))?,
        };
        let warning = self
            .proxied_vuln_check(req, proxy, upstream, name, digest)
            .await?;
        let unsigned = self
            .proxied_signature_check(
                req,
                proxy,
                upstream,
                name,
                &Reference::Digest(digest.clone()),
                digest,
                &bytes,
            )
            .await?;
        let mut resp = self.manifest_response(req, digest, &content_type, Some(bytes), true);
        mark_unsigned(&mut resp, unsigned);
        mark_vulnerable(&mut resp, warning);
        set(
            &mut resp,
            header::HeaderName::from_static(CACHE_HEADER),
            status,
        );
        Ok(resp)
    }

    /// The manifest a proxy repository serves for `reference`, with its
    /// upstream signatures checked under a policy (what `cairn policy
    /// explain` reads).
    pub(crate) async fn proxied_for_explain(
        &self,
        proxy: &Proxy,
        upstream: &str,
        name: &RepoName,
        reference: &Reference,
    ) -> Result<(Digest, bytes::Bytes), OciError> {
        let (digest, bytes) = match reference {
            Reference::Tag(tag) => {
                let doc = upstream_tag(proxy, upstream, tag.as_str(), Refresh::IfExpired)
                    .await
                    .map_err(|e| refused(e, OciError::manifest_unknown))?;
                (doc.digest.clone(), doc.bytes.clone())
            }
            Reference::Digest(d) => {
                let source = upstream_manifest(proxy, upstream, d)
                    .await
                    .map_err(|e| refused(e, OciError::manifest_unknown))?;
                let bytes = proxy
                    .read_all(source)
                    .await
                    .map_err(|e| refused(e, OciError::manifest_unknown))?;
                (d.clone(), bytes)
            }
        };
        if cairn_core::trust::policy_for(&self.signatures.policies, name.as_str()).is_some() {
            self.check_upstream_signatures(proxy, upstream, name, &digest, &bytes)
                .await;
        }
        Ok((digest, bytes))
    }

    /// A vulnerability policy covering the proxy repository's names decides
    /// its manifests too, from the upstream's own SBOMs: indexed the first
    /// time the manifest is pulled ([`OciApi::check_upstream_sboms`]), then
    /// decided like a hosted manifest's.
    async fn proxied_vuln_check(
        &self,
        req: &Request,
        proxy: &Proxy,
        upstream: &str,
        name: &RepoName,
        digest: &Digest,
    ) -> Result<Option<String>, OciError> {
        if !self.vulns.covers(name.as_str()) {
            return Ok(None);
        }
        self.check_upstream_sboms(proxy, upstream, name, digest)
            .await;
        self.vuln_check(req, name, digest).await
    }

    /// Indexes the upstream's SBOMs of the manifest `digest` — cosign's
    /// `sha256-<hex>.sbom` and `.att` tags and the referrers (SPDX or
    /// CycloneDX artifacts, Sigstore bundles of SBOM attestations) — under
    /// the proxy repository's name, held by the manifest's cache entry (an
    /// evicted manifest's SBOMs are forgotten with it). Done once per
    /// manifest when one was indexed; a manifest found without is asked
    /// about again after [`UNSIGNED_RECHECK_SECS`]. Failures are logged: the
    /// policy then decides from what is indexed.
    async fn check_upstream_sboms(
        &self,
        proxy: &Proxy,
        upstream: &str,
        name: &RepoName,
        digest: &Digest,
    ) {
        let (repo, subject) = (name.as_str(), digest.to_string());
        let sbom_subject = cairn_store::sbom::SbomSubject {
            format: "oci".into(),
            repository: repo.to_string(),
            subject: subject.clone(),
            version: String::new(),
        };
        match self
            .meta
            .proxied_signatures_checked(repo, &subject, SBOM_CHECK)
            .await
        {
            Ok(Some(at)) => {
                let indexed = self
                    .meta
                    .sboms_of(&sbom_subject)
                    .await
                    .is_ok_and(|s| !s.is_empty());
                if indexed || cairn_core::unix_now() - at < UNSIGNED_RECHECK_SECS {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(repository = %repo, %digest, error = %e, "proxied SBOMs: the store could not be asked");
                return;
            }
        }
        let mut artifacts: Vec<(Digest, ParsedManifest, Vec<Tag>)> =
            upstream_cosign_tags(proxy, upstream, repo, digest, &["sbom", "att"])
                .await
                .into_iter()
                .map(|(d, parsed, tag)| (d, parsed, vec![tag]))
                .collect();
        artifacts.extend(
            upstream_referrers(proxy, upstream, repo, digest, MAX_PROXIED_SBOMS, |t| {
                cairn_core::sbom::is_sbom_media_type(t) || cairn_core::trust::evidence::is_bundle(t)
            })
            .await
            .into_iter()
            .map(|(d, parsed)| (d, parsed, Vec::new())),
        );
        let entry = (
            proxy.repository().to_string(),
            format!("manifest/{upstream}@{digest}"),
        );
        let source = crate::signatures::LayerSource::Upstream { proxy, upstream };
        let actor = cairn_store::Actor::local(&format!("proxy {}", proxy.repository()));
        let mut indexed = 0;
        for (artifact, parsed, tags) in &artifacts {
            let Some(carried) = crate::sbom::carried(parsed, tags) else {
                continue;
            };
            // Only what is said of this manifest.
            if carried.subject != *digest {
                continue;
            }
            let done = match self.read_sbom(&carried, &source).await {
                Ok(sbom) => {
                    self.index_sbom(name, artifact, &carried, &sbom, Some(entry.clone()), &actor)
                        .await
                }
                Err(e) => Err(e),
            };
            match done {
                Ok(()) => indexed += 1,
                Err(e) => {
                    tracing::warn!(repository = %repo, %digest, sbom = %artifact, error = %e.message, "proxied SBOMs: an upstream SBOM was not indexed")
                }
            }
        }
        tracing::info!(repository = %repo, %digest, artifacts = artifacts.len(), indexed, "proxied SBOMs checked");
        if let Err(e) = self
            .meta
            .record_proxied_verdicts(repo, &subject, SBOM_CHECK, &[])
            .await
        {
            tracing::warn!(repository = %repo, %digest, error = %e, "proxied SBOMs: the check was not recorded");
        }
    }

    /// A signature policy covering the proxy repository's names decides
    /// its manifests too, from the upstream's own signatures: fetched,
    /// verified and recorded the first time the manifest is pulled
    /// ([`OciApi::check_upstream_signatures`]), then decided like a hosted
    /// manifest's.
    #[allow(clippy::too_many_arguments)]
    async fn proxied_signature_check(
        &self,
        req: &Request,
        proxy: &Proxy,
        upstream: &str,
        name: &RepoName,
        reference: &Reference,
        digest: &Digest,
        bytes: &[u8],
    ) -> Result<Option<String>, OciError> {
        if cairn_core::trust::policy_for(&self.signatures.policies, name.as_str()).is_none() {
            return Ok(None);
        }
        self.check_upstream_signatures(proxy, upstream, name, digest, bytes)
            .await;
        self.signature_check(req, name.as_str(), reference, digest, bytes)
            .await
    }

    /// Fetches the upstream's signatures of the manifest `digest` — cosign's
    /// `sha256-<hex>.sig` and `.att` tags and the referrers (Sigstore
    /// bundles, notation signatures; through the referrers API, or the
    /// `sha256-<hex>` tag of the referrers tag schema) — verifies them under the trust
    /// configuration and records the verdicts under the proxy repository's
    /// name. Done once per manifest and trust version when a signature
    /// counted; a manifest found unsigned is asked about again after
    /// [`UNSIGNED_RECHECK_SECS`]. A signed index's verdicts are recorded for
    /// its children too (proxied indexes are not listed in the store, so
    /// the children are covered this way). Failures are logged: the policy
    /// then decides from what is recorded (it fails closed).
    async fn check_upstream_signatures(
        &self,
        proxy: &Proxy,
        upstream: &str,
        name: &RepoName,
        digest: &Digest,
        bytes: &[u8],
    ) {
        let version = self.signatures.trust.version().to_string();
        let (repo, subject) = (name.as_str(), digest.to_string());
        let now = cairn_core::unix_now();
        match self
            .meta
            .proxied_signatures_checked(repo, &subject, &version)
            .await
        {
            Ok(Some(at)) => {
                let signed = self
                    .meta
                    .verdicts(repo, &subject, &version)
                    .await
                    .is_ok_and(|v| !v.is_empty());
                if signed || now - at < UNSIGNED_RECHECK_SECS {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(repository = %repo, %digest, error = %e, "proxied signatures: the store could not be asked");
                return;
            }
        }
        let mut artifacts: Vec<(Digest, ParsedManifest)> =
            upstream_cosign_tags(proxy, upstream, repo, digest, &["sig", "att"])
                .await
                .into_iter()
                .map(|(d, parsed, _)| (d, parsed))
                .collect();
        artifacts.extend(
            upstream_referrers(proxy, upstream, repo, digest, MAX_PROXIED_SIGNATURES, |t| {
                cairn_core::trust::evidence::is_signature_media_type(t)
            })
            .await,
        );
        let source = crate::signatures::LayerSource::Upstream { proxy, upstream };
        let mut found = Vec::new();
        for (d, parsed) in &artifacts {
            found.extend(self.verdicts_of(repo, d, parsed, &source).await);
        }
        // Only what is said of this manifest counts; an index's signature
        // covers its children.
        let mut verdicts: Vec<cairn_core::trust::Verdict> =
            found.into_iter().filter(|v| v.subject == subject).collect();
        if let Ok(index) = cairn_core::manifest::parse_manifest(None, bytes) {
            let children: Vec<cairn_core::trust::Verdict> = index
                .manifests
                .iter()
                .flat_map(|child| {
                    verdicts.iter().map(|v| cairn_core::trust::Verdict {
                        subject: child.digest.to_string(),
                        ..v.clone()
                    })
                })
                .collect();
            verdicts.extend(children);
        }
        tracing::info!(repository = %repo, %digest, artifacts = artifacts.len(), verdicts = verdicts.len(), "proxied signatures checked");
        if let Err(e) = self
            .meta
            .record_proxied_verdicts(repo, &subject, &version, &verdicts)
            .await
        {
            tracing::warn!(repository = %repo, %digest, error = %e, "proxied signatures: the verdicts were not recorded");
        }
    }

    /// A manifest's response: a 304 for its ETag, headers only for HEAD.
    fn manifest_response(
        &self,
        req: &Request,
        digest: &Digest,
        content_type: &str,
        bytes: Option<bytes::Bytes>,
        by_digest: bool,
    ) -> Response {
        let d = digest.to_string();
        let mut resp = if etag_matches(req, digest) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let bytes = bytes.unwrap_or_default();
            let len = bytes.len();
            let mut r = if req.method == axum::http::Method::HEAD {
                Response::new(Body::empty())
            } else {
                Response::new(Body::from(bytes))
            };
            r.headers_mut().insert(header::CONTENT_LENGTH, len.into());
            r
        };
        set(&mut resp, header::CONTENT_TYPE, content_type);
        set(&mut resp, DOCKER_CONTENT_DIGEST, &d);
        set(&mut resp, header::ETAG, &format!("\"{d}\""));
        set(
            &mut resp,
            header::CACHE_CONTROL,
            if by_digest { IMMUTABLE } else { "no-cache" },
        );
        resp
    }

    async fn proxied_blob(
        &self,
        req: &Request,
        proxy: &Proxy,
        upstream: &str,
        digest: &Digest,
    ) -> OciResult {
        let source = upstream_blob(proxy, upstream, digest)
            .await
            .map_err(|e| refused(e, OciError::blob_unknown))?;
        match source {
            FileSource::Cached {
                digest: stored,
                size,
                ..
            } => {
                let mut resp = self.serve_blob(&stored, size, req).await?;
                set(&mut resp, DOCKER_CONTENT_DIGEST, &digest.to_string());
                set(
                    &mut resp,
                    header::HeaderName::from_static(CACHE_HEADER),
                    "hit",
                );
                Ok(resp)
            }
            FileSource::Streaming {
                body,
                size,
                coalesced,
                ..
            } => {
                // A HEAD leaves the fill running: the GET that follows joins it.
                let mut resp = if req.method == axum::http::Method::HEAD {
                    Response::new(Body::empty())
                } else {
                    Response::new(Body::from_stream(body))
                };
                if let Some(size) = size {
                    resp.headers_mut()
                        .insert(header::CONTENT_LENGTH, size.into());
                }
                set(&mut resp, header::CONTENT_TYPE, "application/octet-stream");
                set(&mut resp, DOCKER_CONTENT_DIGEST, &digest.to_string());
                set(&mut resp, header::ETAG, &format!("\"{digest}\""));
                set(
                    &mut resp,
                    header::HeaderName::from_static(CACHE_HEADER),
                    if coalesced { "miss; coalesced" } else { "miss" },
                );
                Ok(resp)
            }
        }
    }

    async fn proxied_tags(
        &self,
        req: &Request,
        proxy: &Proxy,
        name: &RepoName,
        upstream: &str,
        refresh: Refresh,
    ) -> OciResult {
        let query = req.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        let key = format!("tags/{upstream}{query}");
        let url = proxy
            .upstream()
            .url(&format!("v2/{upstream}/tags/list{query}"));
        let doc = proxy
            .document(&key, &url, "application/json", refresh)
            .await
            .map_err(|e| refused(e, OciError::name_unknown))?;
        let mut list: serde_json::Value = serde_json::from_slice(&doc.bytes)
            .map_err(|e| OciError::upstream(format!("the upstream's tag list: {e}")))?;
        list["name"] = serde_json::json!(name.as_str());
        Ok(json_response(
            list.to_string().into_bytes(),
            "application/json",
            &doc.status,
        ))
    }
}

/// The upstream's manifest `digest`: an immutable file, fetched once and
/// verified against the digest.
async fn upstream_manifest(
    proxy: &Proxy,
    upstream: &str,
    digest: &Digest,
) -> Result<FileSource, ProxyError> {
    proxy
        .file_accepting(
            &format!("manifest/{upstream}@{digest}"),
            &proxy
                .upstream()
                .url(&format!("v2/{upstream}/manifests/{digest}")),
            MANIFEST_TYPES,
            expect(digest),
            "application/vnd.oci.image.manifest.v1+json",
        )
        .await
}

/// The upstream's blob `digest`: an immutable file, fetched once and
/// verified against the digest.
pub(crate) async fn upstream_blob(
    proxy: &Proxy,
    upstream: &str,
    digest: &Digest,
) -> Result<FileSource, ProxyError> {
    proxy
        .file(
            &format!("blob/{upstream}@{digest}"),
            &proxy
                .upstream()
                .url(&format!("v2/{upstream}/blobs/{digest}")),
            expect(digest),
            "application/octet-stream",
        )
        .await
}

/// The upstream's manifest under `tag`: a document revalidated by a HEAD
/// comparing its digest.
async fn upstream_tag(
    proxy: &Proxy,
    upstream: &str,
    tag: &str,
    refresh: Refresh,
) -> Result<cairn_proxy::Document, ProxyError> {
    let url = proxy
        .upstream()
        .url(&format!("v2/{upstream}/manifests/{tag}"));
    proxy
        .document_with(
            &format!("manifest/{upstream}:{tag}"),
            &url,
            MANIFEST_TYPES,
            refresh,
            Validation::DigestHead,
        )
        .await
}

fn json_response(body: Vec<u8>, content_type: &str, status: &CacheStatus) -> Response {
    let mut resp = Response::new(Body::from(body));
    set(&mut resp, header::CONTENT_TYPE, content_type);
    set(
        &mut resp,
        header::HeaderName::from_static(CACHE_HEADER),
        &status.header(),
    );
    resp
}

/// The warning a publisher's read of a vulnerable manifest carries.
fn mark_vulnerable(resp: &mut Response, warning: Option<String>) {
    if let Some(v) = warning.as_deref().and_then(|w| w.parse().ok()) {
        resp.headers_mut()
            .insert(cairn_http::vulns::WARNING_HEADER, v);
    }
}

/// The warning a signer's read of an unsigned manifest carries.
fn mark_unsigned(resp: &mut Response, unsigned: Option<String>) {
    if let Some(v) = unsigned.as_deref().and_then(|w| w.parse().ok()) {
        resp.headers_mut()
            .insert(crate::signatures::UNSIGNED_HEADER, v);
    }
}

/// The upstream's cosign attachments of `digest` (`sha256-<hex>.<suffix>`
/// tags), parsed, with their tags.
async fn upstream_cosign_tags(
    proxy: &Proxy,
    upstream: &str,
    repo: &str,
    digest: &Digest,
    suffixes: &[&str],
) -> Vec<(Digest, ParsedManifest, Tag)> {
    let mut found = Vec::new();
    if digest.algorithm() != cairn_core::Algorithm::Sha256 {
        return found;
    }
    for suffix in suffixes {
        let tag = format!("sha256-{}.{suffix}", digest.hex());
        match upstream_tag(proxy, upstream, &tag, Refresh::IfExpired).await {
            Ok(doc) => {
                match cairn_core::manifest::parse_manifest(Some(&doc.content_type), &doc.bytes) {
                    Ok(parsed) => {
                        if let Ok(t) = Tag::parse(&tag) {
                            found.push((doc.digest.clone(), parsed, t));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(repository = %repo, %tag, error = %e, "proxy: an upstream attachment tag is not a manifest")
                    }
                }
            }
            Err(ProxyError::NotFound(_)) => {}
            Err(e) => {
                tracing::warn!(repository = %repo, %tag, error = %e, "proxy: the upstream did not answer")
            }
        }
    }
    found
}

/// The upstream's referrers of `digest` whose artifact type `wanted`
/// accepts, read and parsed; at most `max` (a hostile upstream could list
/// any number). Through the referrers API, or without it the referrers tag
/// schema (an index tagged `sha256-<hex>`, what cosign 3 pushes there).
async fn upstream_referrers(
    proxy: &Proxy,
    upstream: &str,
    repo: &str,
    digest: &Digest,
    max: usize,
    wanted: impl Fn(&str) -> bool,
) -> Vec<(Digest, ParsedManifest)> {
    let url = proxy
        .upstream()
        .url(&format!("v2/{upstream}/referrers/{digest}"));
    let listed = |bytes: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(bytes).unwrap_or_default()["manifests"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let referrers = match proxy
        .document(
            &format!("referrers/{upstream}@{digest}"),
            &url,
            "application/vnd.oci.image.index.v1+json",
            Refresh::IfExpired,
        )
        .await
    {
        Ok(doc) => listed(&doc.bytes),
        Err(ProxyError::NotFound(_)) if digest.algorithm() == cairn_core::Algorithm::Sha256 => {
            let tag = format!("sha256-{}", digest.hex());
            match upstream_tag(proxy, upstream, &tag, Refresh::IfExpired).await {
                Ok(doc) => listed(&doc.bytes),
                Err(_) => Vec::new(),
            }
        }
        Err(ProxyError::NotFound(_)) => Vec::new(),
        Err(e) => {
            tracing::warn!(repository = %repo, %digest, error = %e, "proxy: the upstream's referrers could not be read");
            Vec::new()
        }
    };
    let mut found = Vec::new();
    for r in referrers
        .into_iter()
        .filter(|r| r["artifactType"].as_str().is_some_and(&wanted))
        .take(max)
    {
        let Some(d) = r["digest"].as_str().and_then(|d| d.parse::<Digest>().ok()) else {
            continue;
        };
        let read = match upstream_manifest(proxy, upstream, &d).await {
            Ok(source) => proxy.read_all(source).await,
            Err(e) => Err(e),
        };
        match read
            .map_err(|e| e.to_string())
            .and_then(|b| cairn_core::manifest::parse_manifest(None, &b).map_err(|e| e.to_string()))
        {
            Ok(parsed) => found.push((d, parsed)),
            Err(e) => {
                tracing::warn!(repository = %repo, referrer = %d, error = %e, "proxy: a referrer could not be read")
            }
        }
    }
    found
}
