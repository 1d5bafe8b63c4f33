//! The PyPI adapter, under `/pypi/<repository>/`: twine's upload API at the
//! root (or `legacy/`), the simple API at `simple/`, files at `files/`.
//!
//! The rule of this layer: parse the path into an [`Endpoint`] that declares
//! its access (decided by the guard before a handler runs), call
//! [`Packages`], render PEP 503 HTML or PEP 691 JSON, and errors as a status
//! whose reason phrase carries the message (what twine and pip print).
//!
//! Files: `endpoint.rs` parses paths; `upload.rs` checks and stores
//! uploads; `simple.rs` renders the simple API.

pub mod endpoint;
mod provenance;
mod proxy;
mod simple;
pub mod upload;
mod virtuals;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use cairn_core::lifecycle::LifecycleError;
use cairn_core::PackageRef;
use cairn_core::{package_key, Format};
use cairn_http::Access;
use cairn_packages::{
    plain_error, split_repository, InRepo, PackageError, PackageResult, Packages, Request,
};
use endpoint::{Endpoint, ParseError};
use std::sync::Arc;

const PYPI: Format = Format::Pypi;

/// The PyPI adapter.
pub struct PypiApi {
    pub packages: Arc<Packages>,
}

impl PypiApi {
    pub fn new(packages: Arc<Packages>) -> Self {
        PypiApi { packages }
    }
}

#[async_trait]
impl cairn_http::Adapter for PypiApi {
    type Endpoint = InRepo<Endpoint>;
    type Error = PackageError;

    fn format(&self) -> &'static str {
        PYPI.as_str()
    }

    fn parse(&self, req: &Request, path: &str) -> PackageResult<(InRepo<Endpoint>, Access)> {
        let (repo, rest) = split_repository(path)?;
        let endpoint = Endpoint::parse(&req.method, rest).map_err(|e| match e {
            ParseError::NotFound => PackageError::not_found("Not Found"),
            ParseError::MethodNotAllowed => {
                PackageError::MethodNotAllowed("Method Not Allowed".into())
            }
        })?;
        // An invalid project name names nothing.
        let (repo, access) = self.packages.route(PYPI, repo, |r| {
            endpoint
                .access(r)
                .map_err(|e| PackageError::not_found(e.to_string()))
        })?;
        Ok((InRepo { repo, endpoint }, access))
    }

    async fn dispatch(&self, req: &Request, routed: InRepo<Endpoint>, body: Body) -> PackageResult {
        let InRepo { repo, endpoint } = routed;
        if let Some(proxy) = self.packages.proxy(PYPI, &repo) {
            return self.proxied(req, proxy, &repo, endpoint).await;
        }
        if let Some(virt) = self.packages.virtual_repo(PYPI, &repo) {
            return self.virtual_read(req, virt, endpoint).await;
        }
        match endpoint {
            Endpoint::Upload => self.upload(req, &repo, body).await,
            Endpoint::Index => self.index(req, &repo).await,
            Endpoint::Project { project } => self.project(req, &repo, &project).await,
            Endpoint::File { project, filename } => {
                let key = key(&project)?;
                self.packages
                    .download(
                        req,
                        PackageRef::new(PYPI, &repo, &key),
                        &filename,
                        "application/octet-stream",
                    )
                    .await
            }
            Endpoint::Metadata { project, filename } => {
                self.metadata_file(&repo, &project, &filename).await
            }
            Endpoint::Provenance {
                project,
                version,
                filename,
            } => self.provenance(&repo, &project, &version, &filename).await,
        }
    }

    /// PyPI's clients print the status line: the message goes into the
    /// reason phrase (and the body). A reused file name is a 400 that says
    /// "File already exists", as on pypi.org (twine's `--skip-existing`
    /// looks for those words).
    fn render(&self, err: PackageError) -> Response {
        err.log();
        let (status, message) = match &err {
            PackageError::Lifecycle(
                e @ (LifecycleError::FileExists { .. }
                | LifecycleError::VersionExists { .. }
                | LifecycleError::VersionTombstoned { .. }),
            ) => (StatusCode::BAD_REQUEST, format!("File already exists: {e}")),
            PackageError::Lifecycle(LifecycleError::NoSuchVersion { .. }) => {
                (StatusCode::NOT_FOUND, err.to_string())
            }
            PackageError::Lifecycle(_) => (StatusCode::BAD_REQUEST, err.to_string()),
            e => (e.status(), e.to_string()),
        };
        plain_error(status, &message)
    }
}

/// A project's key (PEP 503 normalised), or 404: an invalid name names nothing.
fn key(project: &str) -> PackageResult<String> {
    package_key(PYPI, project).map_err(|e| PackageError::not_found(e.to_string()))
}
