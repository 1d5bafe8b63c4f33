//! `GET /api/v1/search?q=&limit=`: one box for every format. What the text
//! looks like decides what is searched:
//!
//! - `pkg:TYPE/NAME@VERSION` (a purl): that version in every repository;
//!   without a version, the package by name;
//! - `sha256:...`, or 6 or more hex digits: manifests by digest prefix;
//! - `KEY=VALUE`: manifests annotated so (labels of images, e.g.
//!   `org.opencontainers.image.source=https://github.com/acme/app`);
//! - anything else: packages and image repositories whose name contains it.
//!
//! Every hit is one the caller may read (decided through the guard, as any
//! read), so a search never tells of what its caller could not download.

use super::{ApiError, ApiResult, Who};
use crate::AppState;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use cairn_core::purl::{package_of, Purl};
use cairn_core::{Action, Format};
use cairn_http::Resource;
use cairn_store::search::SearchHit;
use serde_json::json;

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchQuery {
    /// A name, a digest prefix, a purl, a version, or KEY=VALUE.
    #[schemars(regex(pattern = r"\S"))]
    q: String,
    #[schemars(range(max = u32::MAX))]
    limit: Option<u32>,
}

/// How many times the shown limit the store is asked for.
const OVERFETCH: u32 = 4;

/// The longest text searched for.
const MAX_QUERY: usize = 256;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::Status(StatusCode::BAD_REQUEST, message.into())
}

/// A digest prefix, when the text is one.
fn digest_prefix(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let (alg, hex) = match lower.split_once(':') {
        Some((alg, hex)) if alg == "sha256" || alg == "sha512" => (alg, hex),
        Some(_) => return None,
        None => ("sha256", lower.as_str()),
    };
    let hexish = hex.bytes().all(|b| b.is_ascii_hexdigit());
    let long_enough = hex.len() >= 6 || (text.contains(':') && !hex.is_empty());
    (hexish && long_enough).then(|| format!("{alg}:{hex}"))
}

fn resource_of(hit: &SearchHit) -> Option<(String, Resource)> {
    if hit.format == "oci" {
        return Some(("oci".into(), Resource::repository(&hit.repository)));
    }
    let format = Format::parse(&hit.format)?;
    Some((
        format.as_str().to_string(),
        Resource::package(format, &hit.repository, &hit.package),
    ))
}

pub(super) async fn search(state: &AppState, who: &Who, q: SearchQuery) -> ApiResult {
    let text = q.q.trim();
    if text.is_empty() {
        return Err(bad(
            "say what to search for: q=NAME, a digest prefix, a purl or KEY=VALUE",
        ));
    }
    if text.len() > MAX_QUERY {
        return Err(bad(format!("the query is longer than {MAX_QUERY} bytes")));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    // Hits the caller may not read, or of another format, are dropped after
    // the store's query: it is asked for more than is shown so that they
    // rarely leave the answer short.
    let fetch = limit * OVERFETCH;
    let started = std::time::Instant::now();
    let meta = &state.meta;
    let (what, hits) = if text.starts_with("pkg:") {
        let purl = Purl::parse(text).map_err(|e| bad(e.to_string()))?;
        let Some((format, key)) = package_of(&purl.ecosystem, &purl.name) else {
            return Err(bad(format!(
                "cairn hosts no packages of type {:?} (npm, pypi, cargo, golang, maven)",
                purl.ecosystem
            )));
        };
        match &purl.version {
            Some(v) => (
                "version",
                meta.search_version(format.as_str(), &key, v, fetch).await?,
            ),
            None => {
                let mut hits: Vec<SearchHit> = meta
                    .search_names(&key, fetch)
                    .await?
                    .into_iter()
                    .filter(|h| h.format == format.as_str())
                    .collect();
                // A purl names one package: that package first, then the
                // names containing it.
                hits.sort_by_key(|h| h.package != key);
                ("name", hits)
            }
        }
    } else if let Some(prefix) = digest_prefix(text) {
        ("digest", meta.search_digest(&prefix, fetch).await?)
    } else if let Some((key, value)) = text.split_once('=') {
        let needle = json!({ key.trim(): value.trim() }).to_string();
        let needle = needle.trim_start_matches('{').trim_end_matches('}');
        ("annotation", meta.search_annotations(needle, fetch).await?)
    } else {
        ("name", meta.search_names(text, fetch).await?)
    };
    let caller = (&who.principal, &who.actor, "/api/v1/search");
    let mut visible = Vec::new();
    for hit in hits {
        let Some((format, resource)) = resource_of(&hit) else {
            continue;
        };
        if state
            .guard
            .decide_for(caller, &format, Action::Read, &resource)
            .await
            .is_ok()
        {
            visible.push(hit);
        }
    }
    visible.truncate(limit as usize);
    Ok(Json(json!({
        "query": text,
        "matched": what,
        "hits": visible,
        "took_ms": started.elapsed().as_secs_f64() * 1000.0,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::digest_prefix;

    #[test]
    fn digests_are_told_from_names() {
        assert_eq!(digest_prefix("sha256:AB12").as_deref(), Some("sha256:ab12"));
        assert_eq!(digest_prefix("ab12cd").as_deref(), Some("sha256:ab12cd"));
        assert_eq!(digest_prefix("ab12c"), None);
        assert_eq!(digest_prefix("cafe-app"), None);
        assert_eq!(digest_prefix("md5:ab12cd"), None);
        assert_eq!(digest_prefix("sha256:"), None);
    }
}
