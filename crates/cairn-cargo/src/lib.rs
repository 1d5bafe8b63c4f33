//! The Cargo registry adapter, under `/cargo/<repository>/`: the sparse
//! index at `index/` (use `sparse+<url>/cargo/<repo>/index/`) and the web
//! API at `api/v1/`.
//!
//! The rule of this layer: parse the path into an [`Endpoint`] that declares
//! its access (decided by the guard before a handler runs), call
//! [`Packages`], render the index and the API's JSON, and errors as
//! `{"errors":[{"detail": "..."}]}`, which cargo prints.
//!
//! Files: `endpoint.rs` parses paths; `publish.rs` checks and stores
//! `cargo publish` uploads and builds index entries.

pub mod endpoint;
mod proxy;
pub mod publish;
mod virtuals;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cairn_core::access::Denied;
use cairn_core::lifecycle::{LifecycleError, Transition};
use cairn_core::PackageRef;
use cairn_core::{package_key, Action, Format, Principal, VersionState};
use cairn_http::Access;
use cairn_packages::{
    split_repository, InRepo, PackageError, PackageResult, Packages, Rendered, Request,
};
use cairn_store::PackageRecord;
use endpoint::{Endpoint, ParseError};
use serde_json::{json, Value};
use std::sync::Arc;

const CARGO: Format = Format::Cargo;

/// The Cargo adapter.
pub struct CargoApi {
    pub packages: Arc<Packages>,
}

/// A crate's key (lower-case, `_` as `-`), or a 400 naming the rule.
fn key(name: &str) -> PackageResult<String> {
    package_key(CARGO, name).map_err(|e| PackageError::bad(e.to_string()))
}

/// The stored file name of a version's `.crate`.
fn crate_file(key: &str, version: &str) -> String {
    format!("{key}-{version}.crate")
}

impl CargoApi {
    pub fn new(packages: Arc<Packages>) -> Self {
        CargoApi { packages }
    }

    /// `index/config.json`: where downloads and the API are, and whether
    /// cargo must send its token for reads too.
    fn config(&self, req: &Request, repo: &str) -> Response {
        let base = format!("{}/cargo/{repo}", req.base_url);
        let anonymous =
            self.packages
                .decide(&Principal::Anonymous, CARGO, repo, None, Action::Read);
        Json(json!({
            "dl": format!("{base}/api/v1/crates"),
            "api": base,
            "auth-required": anonymous.is_err(),
        }))
        .into_response()
    }

    /// One index file: a JSON line per version, in publishing order.
    async fn index_file(&self, req: &Request, repo: &str, name: &str) -> PackageResult {
        let missing = || PackageError::not_found(format!("crate {name} not found"));
        let key = key(name).map_err(|_| missing())?;
        let render = |pkg: &PackageRecord| {
            let body = index_lines(pkg, name).ok_or_else(missing)?;
            let etag = format!(
                "\"{}\"",
                &cairn_core::Digest::sha256_of(body.as_bytes()).hex()[..32]
            );
            Ok(Rendered::new("text/plain", Some(etag), body))
        };
        let spelling = name.to_ascii_lowercase();
        match self
            .packages
            .rendered(PackageRef::new(CARGO, repo, &key), &spelling, render)
            .await?
        {
            Some(rendered) => Ok(rendered.respond(req)),
            None => Err(missing()),
        }
    }

    /// Only an owner (or an administrator of the repository) may publish
    /// new versions of a crate or change its owners.
    async fn require_owner(&self, req: &Request, repo: &str, key: &str) -> PackageResult<()> {
        let principal = &req.auth.principal;
        let owners = self
            .packages
            .meta
            .owners(PackageRef::new(CARGO, repo, key))
            .await?;
        if owners.iter().any(|o| o == principal.name())
            || self
                .packages
                .limited_to_package(principal, CARGO, repo, key, Action::Publish)
            || self
                .packages
                .decide(principal, CARGO, repo, None, Action::Admin)
                .is_ok()
        {
            return Ok(());
        }
        Err(PackageError::Denied {
            denied: Denied::Forbidden,
            message: format!(
                "{} is not an owner of crate {key} (owners: {})",
                principal.name(),
                owners.join(", ")
            ),
        })
    }

    /// `cargo yank` and `cargo yank --undo`.
    async fn yank(
        &self,
        req: &Request,
        repo: &str,
        name: &str,
        version: &str,
        t: Transition,
    ) -> PackageResult {
        let p = &self.packages;
        let key = key(name)?;
        let policy = p.policy(CARGO, repo);
        p.meta
            .change_version(
                PackageRef::new(CARGO, repo, &key),
                version,
                &t,
                &policy,
                false,
                &req.actor(),
            )
            .await?;
        Ok(Json(json!({"ok": true})).into_response())
    }

    /// `cargo owner --list | --add | --remove`.
    async fn owners(&self, req: &Request, repo: &str, name: &str, body: &[u8]) -> PackageResult {
        let p = &self.packages;
        let key = key(name)?;
        if p.meta
            .package(PackageRef::new(CARGO, repo, &key))
            .await?
            .is_none()
        {
            return Err(PackageError::not_found(format!("crate {name} not found")));
        }
        if req.method == Method::GET {
            let users: Vec<Value> = p
                .meta
                .owners(PackageRef::new(CARGO, repo, &key))
                .await?
                .iter()
                .enumerate()
                .map(|(i, o)| json!({"id": i + 1, "login": o, "name": o}))
                .collect();
            return Ok(Json(json!({ "users": users })).into_response());
        }
        self.require_owner(req, repo, &key).await?;
        let users: Vec<String> = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("users").cloned())
            .and_then(|u| serde_json::from_value(u).ok())
            .ok_or_else(|| PackageError::bad("expected {\"users\": [\"login\", ...]}"))?;
        let (add, remove) = if req.method == Method::PUT {
            for u in &users {
                if p.meta.user(u).await?.is_none() {
                    return Err(PackageError::bad(format!("no user {u:?} in this registry")));
                }
            }
            (users.clone(), vec![])
        } else {
            (vec![], users.clone())
        };
        p.meta
            .change_owners(
                PackageRef::new(CARGO, repo, &key),
                &add,
                &remove,
                &req.actor(),
            )
            .await?;
        let msg = format!(
            "owners {} {}",
            if add.is_empty() { "removed:" } else { "added:" },
            users.join(", ")
        );
        Ok(Json(json!({"ok": true, "msg": msg})).into_response())
    }

    /// `cargo search`: `GET /api/v1/crates?q=&per_page=`.
    async fn search(&self, req: &Request, repo: &str) -> PackageResult {
        let q = req.query("q").unwrap_or_default();
        let per_page: u32 = req
            .query("per_page")
            .and_then(|s| s.parse().ok())
            .unwrap_or(10)
            .min(100);
        let keys = self
            .packages
            .meta
            .search_packages(CARGO, repo, q.trim(), per_page)
            .await?;
        let mut crates = Vec::new();
        for key in &keys {
            let Some(pkg) = self
                .packages
                .meta
                .package(PackageRef::new(CARGO, repo, key))
                .await?
            else {
                continue;
            };
            let mut live: Vec<_> = pkg
                .versions
                .iter()
                .filter(|v| v.state == VersionState::Active)
                .collect();
            live.sort_by_key(|v| semver::Version::parse(&v.version).ok());
            let Some(max) = live.last() else { continue };
            let doc: Value = serde_json::from_str(&max.metadata).unwrap_or_default();
            crates.push(json!({"name": pkg.name, "max_version": max.version, "description": doc.get("description")}));
        }
        let total = crates.len();
        Ok(Json(json!({ "crates": crates, "meta": {"total": total} })).into_response())
    }
}

#[async_trait]
impl cairn_http::Adapter for CargoApi {
    type Endpoint = InRepo<Endpoint>;
    type Error = PackageError;

    fn format(&self) -> &'static str {
        CARGO.as_str()
    }

    fn parse(&self, req: &Request, path: &str) -> PackageResult<(InRepo<Endpoint>, Access)> {
        let (repo, rest) = split_repository(path)?;
        let endpoint = Endpoint::parse(&req.method, rest).map_err(|e| match e {
            ParseError::NotFound => PackageError::not_found("not found"),
            ParseError::MethodNotAllowed => {
                PackageError::MethodNotAllowed("method not allowed".into())
            }
        })?;
        let (repo, access) = self.packages.route(CARGO, repo, |r| {
            endpoint
                .access(r)
                .map_err(|e| PackageError::bad(e.to_string()))
        })?;
        Ok((InRepo { repo, endpoint }, access))
    }

    async fn dispatch(&self, req: &Request, routed: InRepo<Endpoint>, body: Body) -> PackageResult {
        let InRepo { repo, endpoint } = routed;
        let p = &self.packages;
        if let Some(proxy) = p.proxy(CARGO, &repo) {
            return self.proxied(req, proxy, &repo, endpoint).await;
        }
        if let Some(virt) = p.virtual_repo(CARGO, &repo) {
            return self.virtual_read(req, virt, endpoint).await;
        }
        match endpoint {
            Endpoint::Config => Ok(self.config(req, &repo)),
            Endpoint::IndexFile { name } => self.index_file(req, &repo, &name).await,
            Endpoint::Publish => self.publish(req, &repo, body).await,
            Endpoint::Yank { name, version } => {
                let yank = Transition::Yank { reason: None };
                self.yank(req, &repo, &name, &version, yank).await
            }
            Endpoint::Unyank { name, version } => {
                self.yank(req, &repo, &name, &version, Transition::Unyank)
                    .await
            }
            Endpoint::Owners { name } | Endpoint::ChangeOwners { name } => {
                let bytes = p.read_body(req, body).await?;
                self.owners(req, &repo, &name, &bytes).await
            }
            Endpoint::Search => self.search(req, &repo).await,
            Endpoint::Download { name, version } => {
                let key = key(&name)?;
                let file = crate_file(&key, &version);
                p.download(
                    req,
                    PackageRef::new(CARGO, &repo, &key),
                    &file,
                    "application/x-tar",
                )
                .await
            }
        }
    }

    fn render(&self, err: PackageError) -> Response {
        err.log();
        let (status, detail) = match &err {
            PackageError::Lifecycle(
                e @ (LifecycleError::VersionExists { .. }
                | LifecycleError::VersionTombstoned { .. }),
            ) => (
                StatusCode::BAD_REQUEST,
                format!("crate version already exists: {e}"),
            ),
            PackageError::Lifecycle(LifecycleError::NoSuchVersion { .. }) => {
                (StatusCode::NOT_FOUND, err.to_string())
            }
            PackageError::Lifecycle(_) => (StatusCode::BAD_REQUEST, err.to_string()),
            e => (e.status(), e.to_string()),
        };
        (status, Json(json!({"errors": [{"detail": detail}]}))).into_response()
    }
}

/// A hosted crate's index file: one JSON line per live version, with its
/// yank and its publish time (`pubtime`, for cargo's publish-age setting).
/// `None` when nothing is live, or when `name` spells another crate: the
/// index path names the crate as published (any case), not another
/// spelling that normalises the same.
pub(crate) fn index_lines(pkg: &PackageRecord, name: &str) -> Option<String> {
    if !pkg.name.eq_ignore_ascii_case(name) {
        return None;
    }
    let mut body = String::new();
    for v in pkg.versions.iter().filter(|v| v.state.serves_bytes()) {
        let doc: Value = serde_json::from_str(&v.metadata).unwrap_or_default();
        let mut entry = doc.get("index").cloned().unwrap_or_else(|| json!({}));
        entry["yanked"] = json!(v.state == VersionState::Yanked);
        entry["pubtime"] = json!(cairn_packages::rfc3339(v.published_at));
        body.push_str(&entry.to_string());
        body.push('\n');
    }
    (!body.is_empty()).then_some(body)
}
