//! What every language-package adapter (npm, PyPI, Cargo, ...) shares, so
//! that each adapter is only its protocol: parse the path into its
//! `Endpoint` enum, call [`Packages`], render the protocol's responses.
//!
//! The rule of this layer: adapters reach the stores only through
//! [`Packages`]; access is decided only by [`Packages::check`] (which calls
//! the core's `authorize`); lifecycle rules are decided only by the core,
//! inside the store's transactions. Errors travel as [`PackageError`] and
//! each adapter renders them in its protocol's own shape.

pub mod archive;
mod error;
mod rendered;
mod request;
mod service;

pub use error::{plain_error, PackageError, PackageResult};
pub use rendered::Rendered;
pub use request::PkgRequest;
pub use service::{
    digests_of, Digests, GitSources, MavenRules, MavenVersions, Packages, PackagesConfig,
    RepositoryPolicy, StoredFile,
};

use axum::body::Body;
use axum::response::Response;

/// The shape every language adapter has. The server authenticates the
/// request, rate-limits it, and hands it over with the path below the
/// adapter's prefix (`/npm`, `/pypi`, `/cargo`).
#[async_trait::async_trait]
pub trait Adapter: Send + Sync + 'static {
    /// Serves one request (its errors are rendered by [`Adapter::render`]).
    async fn dispatch(&self, req: &PkgRequest, path: &str, body: Body) -> PackageResult;
    /// Renders any error, including a failed authentication, the protocol's way.
    fn render(&self, err: PackageError) -> Response;
    /// Serves one request, errors rendered.
    async fn handle(&self, req: PkgRequest, path: &str, body: Body) -> Response {
        match self.dispatch(&req, path, body).await {
            Ok(resp) => resp,
            Err(e) => self.render(e),
        }
    }
}

/// Splits `/<repository>/<rest>` (the path below an adapter's prefix) into
/// the repository name and the rest (starting with `/`, possibly empty).
/// Repository names are one segment of lower-case letters, digits, `.`, `_`
/// and `-`, starting with a letter or digit.
pub fn split_repository(path: &str) -> PackageResult<(String, &str)> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let (repo, rest) = match path.find('/') {
        Some(i) => (&path[..i], &path[i..]),
        None => (path, ""),
    };
    let valid = !repo.is_empty()
        && repo.len() <= 64
        && repo.as_bytes()[0].is_ascii_alphanumeric()
        && repo
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(&c));
    if !valid {
        return Err(PackageError::not_found(format!(
            "no repository {repo:?}: names are lower-case letters, digits, '.', '_' and '-'"
        )));
    }
    Ok((repo.to_string(), rest))
}

/// Seconds since the epoch as RFC 3339 (`2026-11-24T17:52:09Z`).
pub fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
