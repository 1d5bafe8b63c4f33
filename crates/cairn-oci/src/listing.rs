//! Tag list, catalog and referrers: the read-only listings.

use crate::error::{OciError, OciResult};
use crate::{OciApi, Request};
use axum::http::{header, HeaderName, StatusCode};
use axum::response::IntoResponse;
use cairn_core::access::authorize;
use cairn_core::manifest::OCI_INDEX;
use cairn_core::{Action, Digest, RepoName};
use serde_json::{json, Value};

const OCI_FILTERS_APPLIED: HeaderName = HeaderName::from_static("oci-filters-applied");
/// Listing size when a client does not ask for one.
const DEFAULT_PAGE: u32 = 10_000;

/// Reads `n` and `last`, the pagination parameters of both listings.
fn page(req: &Request) -> Result<(u32, Option<String>, bool), OciError> {
    let n = match req.query("n") {
        Some(n) => Some(
            n.parse::<u32>()
                .map_err(|_| OciError::pagination_invalid("n must be a non-negative integer"))?,
        ),
        None => None,
    };
    Ok((n.unwrap_or(DEFAULT_PAGE), req.query("last"), n.is_some()))
}

/// A `Link` header to the next page, relative to the registry root.
fn next_link(path: &str, n: u32, last: &str) -> String {
    let last = percent_encoding::utf8_percent_encode(last, percent_encoding::NON_ALPHANUMERIC);
    format!("<{path}?n={n}&last={last}>; rel=\"next\"")
}

impl OciApi {
    pub(crate) async fn tags(&self, name: &RepoName, req: &Request) -> OciResult {
        if !self.meta.repository_exists(name.as_str()).await? {
            return Err(OciError::name_unknown(format!(
                "repository {name} is not known"
            )));
        }
        let (n, last, explicit) = page(req)?;
        let tags = if n == 0 {
            vec![]
        } else {
            self.meta
                .list_tags(name.as_str(), last.as_deref(), n)
                .await?
        };
        let mut resp = axum::Json(json!({ "name": name.as_str(), "tags": tags })).into_response();
        if explicit && n > 0 && tags.len() == n as usize {
            let link = next_link(
                &format!("/v2/{name}/tags/list"),
                n,
                tags.last().expect("non-empty"),
            );
            resp.headers_mut()
                .insert(header::LINK, link.parse().expect("link header"));
        }
        Ok(resp)
    }

    pub(crate) async fn catalog(&self, req: &Request) -> OciResult {
        // Nothing is anonymously readable: ask for a credential.
        if self.config.access.anonymous_read.is_empty()
            && req.auth.principal == cairn_core::Principal::Anonymous
        {
            return Err(crate::challenge(req, Some("registry:catalog:*"), false));
        }
        // The catalog lists only the repositories the caller may read. The
        // page is cut before filtering, so `Link` follows the unfiltered order.
        let (n, last, explicit) = page(req)?;
        let page_repos = if n == 0 {
            vec![]
        } else {
            self.meta.list_repositories(last.as_deref(), n).await?
        };
        let full_page = explicit && n > 0 && page_repos.len() == n as usize;
        let next_last = page_repos.last().cloned();
        let repos: Vec<String> = page_repos
            .into_iter()
            .filter(|r| {
                authorize(&self.config.access, &req.auth.principal, r, Action::Read).is_ok()
            })
            .collect();
        let mut resp = axum::Json(json!({ "repositories": repos })).into_response();
        if let Some(last) = next_last.filter(|_| full_page) {
            let link = next_link("/v2/_catalog", n, &last);
            resp.headers_mut()
                .insert(header::LINK, link.parse().expect("link header"));
        }
        Ok(resp)
    }

    pub(crate) async fn referrers(
        &self,
        name: &RepoName,
        subject: &Digest,
        req: &Request,
    ) -> OciResult {
        let filter = req.query("artifactType").filter(|s| !s.is_empty());
        let manifests: Vec<Value> = self
            .meta
            .referrers(name.as_str(), subject)
            .await?
            .into_iter()
            .filter(|m| filter.is_none() || m.artifact_type == filter)
            .map(|m| {
                let mut d = json!({
                    "mediaType": m.media_type,
                    "digest": m.digest.to_string(),
                    "size": m.size,
                });
                if let Some(t) = m.artifact_type {
                    d["artifactType"] = json!(t);
                }
                if let Some(a) = m
                    .annotations
                    .and_then(|a| serde_json::from_str::<Value>(&a).ok())
                {
                    d["annotations"] = a;
                }
                d
            })
            .collect();
        let body = json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests });
        let mut resp = (
            StatusCode::OK,
            [(header::CONTENT_TYPE, OCI_INDEX)],
            serde_json::to_vec(&body).expect("json"),
        )
            .into_response();
        if filter.is_some() {
            resp.headers_mut()
                .insert(OCI_FILTERS_APPLIED, "artifactType".parse().expect("header"));
        }
        Ok(resp)
    }
}
