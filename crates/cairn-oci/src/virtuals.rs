//! OCI virtual repositories: one prefix (`/v2/<virtual>/<rest>`) over
//! members that are prefixes too — hosted repositories `<member>/<rest>`
//! and proxy repositories. A read is served by the first member that has
//! the repository and the tag or digest; a repository name a hosted member
//! has (or a claimed namespace, `acme/*`) is never served from a proxy
//! member, whatever the proxies hold. Pushes and deletes go to the
//! `publish_to` member (decided there by the guard), or are refused.

use crate::endpoint::Endpoint;
use crate::{OciApi, OciError, OciResult};
use axum::response::IntoResponse;
use cairn_core::access::authorize_any;
use cairn_core::routing::{NamePatterns, Owner, Ownership, Sources};
use cairn_core::{Action, RepoName};
use cairn_http::{Access, Request};
use cairn_proxy::Proxy;
use std::sync::Arc;

/// One member: a hosted prefix, or a proxy repository.
pub struct OciMember {
    pub name: String,
    pub proxy: Option<Arc<Proxy>>,
}

/// An OCI virtual repository, checked.
pub struct OciVirtual {
    pub name: String,
    pub members: Vec<OciMember>,
    pub publish_to: Option<String>,
    pub ownership: Ownership,
}

impl OciVirtual {
    /// `proxy` finds a proxy repository by name (any other member is a
    /// hosted prefix).
    pub fn new(
        name: &str,
        members: &[String],
        publish_to: Option<&str>,
        claims: &[String],
        allow_external: &[String],
        proxy: impl Fn(&str) -> Option<Arc<Proxy>>,
    ) -> Result<OciVirtual, String> {
        let mut out: Vec<OciMember> = Vec::new();
        for m in members {
            if m == name || out.iter().any(|o| &o.name == m) {
                return Err(format!(
                    "member {m:?} is the repository itself or listed twice"
                ));
            }
            out.push(OciMember {
                name: m.clone(),
                proxy: proxy(m),
            });
        }
        if out.is_empty() {
            return Err("a virtual repository needs at least one member".into());
        }
        if let Some(t) = publish_to {
            if !out.iter().any(|m| m.name == t && m.proxy.is_none()) {
                return Err(format!(
                    "publish_to {t:?} must be one of its hosted members"
                ));
            }
        }
        Ok(OciVirtual {
            name: name.to_string(),
            members: out,
            publish_to: publish_to.map(str::to_string),
            ownership: Ownership {
                claims: NamePatterns::compile_plain(claims)?,
                allow_external: NamePatterns::compile_plain(allow_external)?,
            },
        })
    }
}

/// Whether a refusal means "not here" (so the next member is asked).
fn absent(e: &OciError) -> bool {
    e.status == axum::http::StatusCode::NOT_FOUND
}

impl OciApi {
    /// The adapter with these virtual repositories.
    pub fn with_virtuals(mut self, virtuals: Vec<OciVirtual>) -> Self {
        self.virtuals = virtuals.into_iter().map(Arc::new).collect();
        self
    }

    /// The virtual repository whose prefix `name` is under, and the rest.
    pub(crate) fn virtual_for(&self, name: &RepoName) -> Option<(Arc<OciVirtual>, String)> {
        self.virtuals.iter().find_map(|v| {
            let rest = name
                .as_str()
                .strip_prefix(v.name.as_str())?
                .strip_prefix('/')?;
            Some((v.clone(), rest.to_string()))
        })
    }

    /// A push or delete sent to a virtual repository, sent to its publish
    /// target instead (the guard then decides it there); reads stay.
    pub(crate) fn route(&self, endpoint: Endpoint) -> Result<Endpoint, OciError> {
        let Some((virt, rest)) = endpoint.repository().and_then(|n| self.virtual_for(n)) else {
            return Ok(endpoint);
        };
        let reads = matches!(
            endpoint.access(),
            Access::On(Action::Read, _) | Access::Anyone
        );
        if reads {
            return Ok(endpoint);
        }
        let target = virt.publish_to.as_ref().ok_or_else(|| {
            OciError::unsupported(format!(
                "{} is a virtual repository without a publish target (publish_to): push to a hosted member",
                virt.name
            ))
        })?;
        let name = RepoName::parse(&format!("{target}/{rest}"))
            .map_err(|e| OciError::name_invalid(e.to_string()))?;
        Ok(endpoint.renamed(name))
    }

    /// Serves a read of `virt` for the repository `rest` below it.
    pub(crate) async fn virtual_read(
        &self,
        req: &Request,
        virt: &OciVirtual,
        rest: &str,
        endpoint: Endpoint,
    ) -> OciResult {
        // The hosted members that have the repository, asked once: they
        // are what may serve it, and ownership counts every one of them,
        // readable or not.
        let mut having: Vec<&str> = Vec::new();
        for m in virt.members.iter().filter(|m| m.proxy.is_none()) {
            if self
                .meta
                .repository_exists(&format!("{}/{rest}", m.name))
                .await
                .map_err(|e| OciError::internal(e.to_string()))?
            {
                having.push(m.name.as_str());
            }
        }
        let hosted_repo = having.first().map(|m| format!("{m}/{rest}"));
        let sources = virt.ownership.sources(rest, hosted_repo.as_deref(), None);
        let proxies_asked = !matches!(sources, Sources::HostedOnly(_));
        let mut last = None;
        for m in &virt.members {
            if m.proxy.is_some() && !proxies_asked {
                continue;
            }
            let member_repo = format!("{}/{rest}", m.name);
            let readable = authorize_any(
                &self.config.access,
                &req.auth.principal,
                &[member_repo.as_str()],
                Action::Read,
            )
            .is_ok();
            if !readable {
                continue;
            }
            let name =
                RepoName::parse(&member_repo).map_err(|e| OciError::name_invalid(e.to_string()))?;
            let member_endpoint = endpoint.clone().renamed(name);
            let result = match &m.proxy {
                None if having.contains(&m.name.as_str()) => {
                    self.hosted(req, member_endpoint).await
                }
                None => continue,
                Some(proxy) => match self.proxy_for(member_endpoint.repository().expect("named")) {
                    Some((p, upstream)) if Arc::ptr_eq(&p, proxy) => {
                        self.proxied(req, member_endpoint, &p, &upstream).await
                    }
                    _ => continue,
                },
            };
            match result {
                Err(e) if absent(&e) => last = Some(e),
                Ok(resp) => return Ok(self.as_virtual(resp, virt, rest, &endpoint).await),
                Err(e) => return Err(e),
            }
        }
        if let Sources::HostedOnly(owner) = &sources {
            // Owned, and not in a hosted member: refused, naming the rule,
            // whatever a proxy member holds.
            let why = match owner {
                Owner::Hosted { member } => format!("the hosted repository {member} exists"),
                Owner::Claimed { pattern } => format!("the namespace {pattern:?} is claimed"),
            };
            let message = format!(
                "{}/{rest}: not in its hosted members, and {why}, so its proxy members are not asked (name ownership)",
                virt.name
            );
            tracing::info!(repository = %virt.name, rule = "name_ownership", "{message}");
            metrics::counter!("cairn_virtual_refusals_total",
                "repository" => format!("oci/{}", virt.name), "rule" => "name_ownership")
            .increment(1);
            return Err(OciError::denied(message));
        }
        Err(last.unwrap_or_else(|| OciError::name_unknown(format!("{}/{rest}", virt.name))))
    }

    /// A member's answer as the virtual repository's: a tag list names the
    /// repository the client asked for.
    async fn as_virtual(
        &self,
        resp: axum::response::Response,
        virt: &OciVirtual,
        rest: &str,
        endpoint: &Endpoint,
    ) -> axum::response::Response {
        if !matches!(endpoint, Endpoint::Tags { .. }) {
            return resp;
        }
        let (mut parts, body) = resp.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, 64 << 20).await else {
            return OciError::internal("reading a member's tag list").into_response();
        };
        let mut doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        doc["name"] = serde_json::json!(format!("{}/{rest}", virt.name));
        let body = doc.to_string();
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
        axum::response::Response::from_parts(parts, axum::body::Body::from(body))
    }
}
