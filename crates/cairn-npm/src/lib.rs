//! The npm registry adapter, under `/npm/<repository>/`.
//!
//! The rule of this layer: parse the path into an [`Endpoint`] that declares
//! its access (decided by the guard before a handler runs), call
//! [`Packages`] (access check, storage, lifecycle), render npm's JSON and
//! its `{"error": "..."}` errors. No SQL, no files, no rules of its own.
//!
//! Files: `endpoint.rs` parses paths; `packument.rs` renders packuments;
//! `publish.rs` handles `npm publish`, deprecate, unpublish and dist-tags.
//! Login (`npm login`, `npm token`) is authentication and lives in the server.

pub mod endpoint;
mod packument;
mod proxy;
mod publish;
pub mod signing;
mod virtuals;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cairn_core::access::Denied;
use cairn_core::lifecycle::LifecycleError;
use cairn_core::PackageRef;
use cairn_core::{package_key, Format};
use cairn_http::Access;
use cairn_packages::{split_repository, InRepo, PackageError, PackageResult, Packages, Request};
use endpoint::{Endpoint, ParseError};
pub use publish::tarball_manifest;
use serde_json::json;
use std::sync::Arc;

const NPM: Format = Format::Npm;

/// The npm adapter.
pub struct NpmApi {
    pub packages: Arc<Packages>,
}

impl NpmApi {
    pub fn new(packages: Arc<Packages>) -> Self {
        NpmApi { packages }
    }

    /// The registry's signing keys (`Packages::registry_keys`); none:
    /// versions are served unsigned.
    pub(crate) fn registry_keys(&self) -> Option<Arc<cairn_core::trust::registry::RegistryKeys>> {
        self.packages.registry_keys()
    }
}

#[async_trait]
impl cairn_http::Adapter for NpmApi {
    type Endpoint = InRepo<Endpoint>;
    type Error = PackageError;

    fn format(&self) -> &'static str {
        NPM.as_str()
    }

    fn parse(&self, req: &Request, path: &str) -> PackageResult<(InRepo<Endpoint>, Access)> {
        let (repo, rest) = split_repository(path)?;
        let endpoint = Endpoint::parse(&req.method, rest).map_err(|e| match e {
            ParseError::NotFound => PackageError::not_found("not found"),
            ParseError::MethodNotAllowed => {
                PackageError::MethodNotAllowed("method not allowed here".into())
            }
        })?;
        let (repo, access) = self.packages.route(NPM, repo, |r| {
            endpoint
                .access(r)
                .map_err(|e| PackageError::bad(e.to_string()))
        })?;
        Ok((InRepo { repo, endpoint }, access))
    }

    async fn dispatch(&self, req: &Request, routed: InRepo<Endpoint>, body: Body) -> PackageResult {
        let InRepo { repo, endpoint } = routed;
        let p = &self.packages;
        use Endpoint as E;
        if !matches!(endpoint, E::Ping | E::Whoami) {
            if let Some(proxy) = p.proxy(NPM, &repo) {
                return self.proxied(req, proxy, &repo, endpoint).await;
            }
            if let Some(virt) = p.virtual_repo(NPM, &repo) {
                return self.virtual_read(req, virt, endpoint).await;
            }
        }
        match endpoint {
            E::Ping => Ok(Json(json!({})).into_response()),
            E::Whoami => match &req.auth.principal {
                cairn_core::Principal::Anonymous => Err(PackageError::Denied {
                    denied: Denied::NeedsCredential,
                    message: "not logged in".into(),
                }),
                p => Ok(Json(json!({ "username": p.name() })).into_response()),
            },
            E::Search => self.search(req, &repo).await,
            E::PutPackage { name } => {
                let bytes = p.read_body(req, body).await?;
                self.put_package(req, &repo, &name, &bytes).await
            }
            E::Packument { name } => self.get_packument(req, &repo, &name).await,
            E::Version { name, version } => self.get_version(req, &repo, &name, &version).await,
            E::Tarball { name, file } => {
                p.download(
                    req,
                    PackageRef::new(NPM, &repo, &key(&name)?),
                    &file,
                    "application/octet-stream",
                )
                .await
            }
            E::UnpublishPackage { name } => self.unpublish_package(req, &repo, &name).await,
            E::TarballRev { name, file } => self.delete_tarball(req, &repo, &name, &file).await,
            E::DistTags { name } => {
                let pkg = self.live_package(&repo, &name).await?;
                Ok(Json(pkg.tags).into_response())
            }
            E::DistTag { name, tag } => {
                let bytes = p.read_body(req, body).await?;
                self.change_dist_tag(req, &repo, &name, &tag, &bytes).await
            }
            E::Attestations { name, version } => self.attestations(&repo, &name, &version).await,
            E::Keys => match self.registry_keys() {
                Some(keys) => Ok(Json(signing::keys_document(&keys)).into_response()),
                None => Err(PackageError::not_found("this registry does not sign")),
            },
            E::Visibility { name } => {
                // Public when anyone may read the package without a credential.
                let resource = cairn_http::Resource::package(NPM, &repo, &key(&name)?);
                let public = cairn_core::access::authorize_any(
                    &p.config.access,
                    &cairn_core::Principal::Anonymous,
                    &resource.names(),
                    cairn_core::Action::Read,
                )
                .is_ok();
                Ok(Json(json!({ "public": public })).into_response())
            }
        }
    }

    /// npm shows the `error` field of a JSON body. Publishing over an
    /// existing version is a 403 with npm's own wording.
    fn render(&self, err: PackageError) -> Response {
        err.log();
        let status = match &err {
            PackageError::Lifecycle(
                LifecycleError::VersionExists { .. } | LifecycleError::VersionTombstoned { .. },
            ) => StatusCode::FORBIDDEN,
            PackageError::Lifecycle(LifecycleError::NoSuchVersion { .. }) => StatusCode::NOT_FOUND,
            PackageError::Lifecycle(_) => StatusCode::BAD_REQUEST,
            e => e.status(),
        };
        let message = match &err {
            PackageError::Lifecycle(
                LifecycleError::VersionExists { version, .. }
                | LifecycleError::VersionTombstoned { version, .. },
            ) => format!(
                "You cannot publish over the previously published versions: {version}. ({err})"
            ),
            e => e.to_string(),
        };
        // `error` is what the registry API has always sent; npm reads
        // `message` from the newer endpoints (the OIDC exchange).
        let body = json!({ "error": message, "message": message });
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            // `OTP` is npm's cue to ask for (or send) a one-time password.
            let challenge = match &err {
                PackageError::Denied {
                    denied: Denied::SecondFactor { enrolled: true },
                    ..
                } => "OTP",
                _ => "Basic realm=\"cairn\"",
            };
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(challenge),
            );
        }
        resp
    }
}

/// The store key of an npm name, or npm's 400.
fn key(name: &str) -> PackageResult<String> {
    package_key(NPM, name).map_err(|e| PackageError::bad(e.to_string()))
}
