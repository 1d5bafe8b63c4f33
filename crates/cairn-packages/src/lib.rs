//! What every language-package adapter (npm, PyPI, Cargo, ...) shares, so
//! that each adapter is only its protocol: parse the path into its
//! `Endpoint` enum, call [`Packages`], render the protocol's responses.
//!
//! The rule of this layer: adapters reach the stores only through
//! [`Packages`]; access is declared by each endpoint and decided by the one
//! guard (`cairn_http::serve`) before a handler runs, and again through
//! [`Packages::check`] (the same guard) when a body names the package;
//! lifecycle rules are decided only by the core, inside the store's
//! transactions. Errors travel as [`PackageError`] and each adapter renders
//! them in its protocol's own shape.

pub mod archive;
mod error;
mod rendered;
pub mod secrets;
mod service;
mod virtual_repo;

pub use cairn_http::Request;
pub use cairn_proxy as proxy;
pub use error::{cause_chain, plain_error, PackageError, PackageResult};
pub use rendered::Rendered;
pub use service::with_cache_status;
pub use service::with_vuln_warning;
pub use service::{
    digests_of, Digests, GitSources, MavenRules, MavenVersions, Packages, PackagesConfig,
    RepositoryPolicy, StoredFile, CACHE_HEADER,
};
pub use virtual_repo::{
    CooldownRule, Explanation, Member, MemberExplanation, MemberSettings, Plan, Refusal, Source,
    UpstreamVersions, Virtual, VirtualSettings,
};

use cairn_core::access::Denied;
use cairn_core::Action;
use cairn_http::Resource;

/// A language adapter's endpoint with the repository it is in: what the
/// package adapters hand from `parse` to `dispatch`.
pub struct InRepo<E> {
    pub repo: String,
    pub endpoint: E,
}

impl<E: cairn_http::Endpoint> cairn_http::Endpoint for InRepo<E> {
    fn name(&self) -> &'static str {
        self.endpoint.name()
    }
}

/// The refusal of every language adapter, worded once. Package clients have
/// no flow to ask for a wider token (OCI's `insufficient_scope`), so a
/// credential without the right is refused for good.
impl cairn_http::Refusal for PackageError {
    fn refused(req: &Request, action: Action, resource: &Resource, denied: Denied) -> Self {
        let denied = match denied {
            Denied::InsufficientScope => Denied::Forbidden,
            d => d,
        };
        let message = match denied {
            Denied::NeedsCredential => {
                format!("authentication required to {action} {}", resource.name())
            }
            Denied::SecondFactor { enrolled } => Denied::second_factor_message(
                enrolled,
                req.auth.principal.name(),
                action,
                resource.name(),
            ),
            _ => format!(
                "{} may not {action} {}",
                req.auth.principal.name(),
                resource.name()
            ),
        };
        PackageError::Denied { denied, message }
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

/// How a proxied document is refreshed for this request (its
/// `Cache-Control`, [`proxy::Refresh::from_cache_control`]).
pub fn proxy_refresh(req: &Request) -> proxy::Refresh {
    proxy::Refresh::from_cache_control(req.header(axum::http::header::CACHE_CONTROL))
}

/// What serving one file of a proxy repository starts from.
pub enum ProxiedFile<T> {
    /// The file is cached and may be served.
    Cached(proxy::FileSource),
    /// The upstream's metadata lists it (as `T`: where it is, what it must
    /// hash to); it is to be fetched.
    Listed(T),
}

/// The one flow every package proxy's files take. A cached file is served
/// as it is, unless the repository's `removed_upstream` rule is not `keep`:
/// then the upstream's metadata (`lookup`) must still list it. A file the
/// metadata lacks triggers one refresh of it (a version published a minute
/// ago); still missing, it is a 404, or under `keep` its cached copy.
pub async fn proxied_file<T, F, Fut>(
    proxy: &proxy::Proxy,
    key: &str,
    lookup: F,
) -> PackageResult<ProxiedFile<T>>
where
    F: Fn(proxy::Refresh) -> Fut,
    Fut: std::future::Future<Output = PackageResult<Option<T>>>,
{
    let keeps = !proxy.checks_listing();
    if keeps {
        if let Some(cached) = proxy.cached_file(key).await? {
            return Ok(ProxiedFile::Cached(cached));
        }
    }
    let listed = match lookup(proxy::Refresh::IfExpired).await? {
        Some(t) => Some(t),
        None => lookup(proxy::Refresh::Missing).await?,
    };
    match listed {
        // Under `keep` the cache was just asked (and `Proxy::file` asks it
        // again before it fetches).
        Some(t) if keeps => Ok(ProxiedFile::Listed(t)),
        Some(t) => match proxy.cached_file(key).await? {
            Some(cached) => Ok(ProxiedFile::Cached(cached)),
            None => Ok(ProxiedFile::Listed(t)),
        },
        None => {
            // Gone upstream (or never there): the repository's rule decides.
            proxy.unlisted(key).await?;
            match proxy.cached_file(key).await? {
                Some(cached) => Ok(ProxiedFile::Cached(cached)),
                None => Err(PackageError::not_found(format!(
                    "{key} is not in the upstream"
                ))),
            }
        }
    }
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

/// An RFC 3339 time (as npm's `time` and PEP 700's `upload-time` write
/// them) in Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    cairn_core::unix_now()
}
