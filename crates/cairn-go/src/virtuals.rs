//! A Go virtual repository: one GOPROXY over hosted and proxy members.
//! `@v/list` merges the members that may serve the module; `@latest` is the
//! first hosted member's, else the highest merged version; `.info`, `.mod`
//! and `.zip` come from the first member of the same plan that has them.
//! The upstream gives no publish time (an `.info` time is a commit time),
//! so the cooldown measures from when cairn first saw a version
//! (`ProxyStore::versions_seen`; the first listing is the baseline).

use crate::endpoint::Endpoint;
use crate::module::Version;
use crate::{highest, mod_file, module_key, not_found, zip_file, Document, GoApi, GO};
use axum::response::IntoResponse;
use cairn_core::PackageRef;
use cairn_packages::proxy::{Proxy, Refresh};
use cairn_packages::{
    proxy_refresh, Member, PackageError, PackageResult, Plan, Request, Source, Virtual,
};
use serde_json::Value;

/// What `.info`, `.mod` or `.zip` a request wants.
#[derive(Clone, Copy)]
enum File {
    Info,
    Mod,
    Zip,
}

impl GoApi {
    /// Serves a read of the virtual repository `virt` (publishes were
    /// routed to its publish target before they got here).
    pub(crate) async fn virtual_read(
        &self,
        req: &Request,
        virt: &Virtual,
        endpoint: Endpoint,
    ) -> PackageResult {
        match endpoint {
            Endpoint::List { module } => self.merged_list(req, virt, &module).await,
            Endpoint::Latest { module } => self.virtual_latest(req, virt, &module).await,
            Endpoint::Info { module, version } => {
                self.virtual_file(req, virt, &module, &version, File::Info)
                    .await
            }
            Endpoint::Mod { module, version } => {
                self.virtual_file(req, virt, &module, &version, File::Mod)
                    .await
            }
            Endpoint::Zip { module, version } => {
                self.virtual_file(req, virt, &module, &version, File::Zip)
                    .await
            }
            // The checksum database is the first proxy member's.
            Endpoint::Sumdb { name, path } => {
                match virt.members.iter().find_map(|m| m.proxy.as_ref()) {
                    Some(proxy) => {
                        self.proxied(req, proxy, Endpoint::Sumdb { name, path })
                            .await
                    }
                    None => Err(PackageError::not_found(format!(
                        "{} has no proxy member to serve the checksum database {name}",
                        virt.repository()
                    ))),
                }
            }
            Endpoint::Upload { .. } | Endpoint::Publish => {
                unreachable!("publishes are routed to the publish target")
            }
        }
    }

    /// The versions each source lists, without those the cooldown holds;
    /// merged by precedence (each version once).
    async fn merged_versions(
        &self,
        req: &Request,
        plan: &Plan<'_>,
        module: &str,
        refresh: Refresh,
    ) -> PackageResult<Vec<String>> {
        let sources = plan
            .sources(&format!("module {module}"), |proxy| {
                upstream_list(proxy, module, refresh)
            })
            .await?;
        let mut merged: Vec<String> = Vec::new();
        for s in &sources {
            let (member, listed): (&Member, Vec<String>) = match s {
                Source::Hosted(m, _) => {
                    let resp = self.document(req, &m.name, module, Document::List).await?;
                    (m, lines(&body_of(resp).await?))
                }
                Source::Proxy(m, doc) => (m, lines(&doc.bytes)),
            };
            self.packages
                .merge_by_first_sight(plan, member, module, listed, &mut merged)
                .await?;
        }
        Ok(merged)
    }

    async fn merged_list(&self, req: &Request, virt: &Virtual, module: &str) -> PackageResult {
        let plan = self.packages.plan(req, virt, &module_key(module)?).await?;
        let versions = self
            .merged_versions(req, &plan, module, proxy_refresh(req))
            .await?;
        let body: String = versions.iter().map(|v| format!("{v}\n")).collect();
        Ok((
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            body,
        )
            .into_response())
    }

    /// `@latest`: the first hosted member's when it has the module (its
    /// retractions considered); else the highest merged version's `.info`;
    /// else the first proxy's `@latest` (a module without tags), when its
    /// version is not held.
    async fn virtual_latest(&self, req: &Request, virt: &Virtual, module: &str) -> PackageResult {
        let plan = self.packages.plan(req, virt, &module_key(module)?).await?;
        if let Some(m) = plan.members.first().filter(|m| m.is_hosted()) {
            return self.document(req, &m.name, module, Document::Latest).await;
        }
        let versions = self
            .merged_versions(req, &plan, module, proxy_refresh(req))
            .await?;
        let parsed: Vec<(Version, ())> = versions
            .iter()
            .filter_map(|v| Version::parse(v).ok().map(|p| (p, ())))
            .collect();
        let mut sorted = parsed;
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some((latest, _)) = highest(sorted.iter()) {
            return self
                .virtual_file(req, virt, module, &latest.text, File::Info)
                .await;
        }
        for &m in &plan.members {
            let Some(proxy) = &m.proxy else { continue };
            let resp = self
                .proxied(
                    req,
                    proxy,
                    Endpoint::Latest {
                        module: module.to_string(),
                    },
                )
                .await;
            let Ok(resp) = resp else { continue };
            let body = body_of(resp).await?;
            let info: Value = serde_json::from_slice(&body).unwrap_or_default();
            let Some(version) = info["Version"].as_str() else {
                continue;
            };
            let seen = self
                .packages
                .first_seen(proxy.repository(), module, version)
                .await?;
            if let Err(r) = plan.cooldown(m, version, Some(seen)) {
                return Err(self.packages.refuse(virt, r));
            }
            return Ok((
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response());
        }
        if let Some(r) = plan.owned() {
            return Err(self.packages.refuse(virt, r));
        }
        Err(not_found(format!("{module}@latest")))
    }

    /// `.info`, `.mod` or `.zip` of one version through the virtual
    /// repository.
    async fn virtual_file(
        &self,
        req: &Request,
        virt: &Virtual,
        module: &str,
        version: &str,
        file: File,
    ) -> PackageResult {
        let plan = self.packages.plan(req, virt, &module_key(module)?).await?;
        let key = &plan.key;
        let hosted = |m: &Member| {
            let m = m.name.clone();
            async move {
                let pkg = PackageRef::new(GO, &m, key);
                match file {
                    File::Info => {
                        self.document(req, &m, module, Document::Info(version.to_string()))
                            .await
                    }
                    File::Mod => {
                        let p = &self.packages;
                        p.download(req, pkg, &mod_file(version), "text/plain; charset=utf-8")
                            .await
                    }
                    File::Zip => {
                        let p = &self.packages;
                        p.download(req, pkg, &zip_file(version), "application/zip")
                            .await
                    }
                }
            }
        };
        // Any version the upstream serves is listed (pseudo-versions are
        // not in `@v/list`); its age is when cairn first saw it.
        let listed = |proxy: &Proxy, _refresh| {
            let repository = proxy.repository().to_string();
            async move {
                let seen = self
                    .packages
                    .first_seen(&repository, module, version)
                    .await?;
                Ok(Some((version.to_string(), Some(seen))))
            }
        };
        let serve = |proxy| {
            let (module, version) = (module.to_string(), version.to_string());
            let endpoint = match file {
                File::Info => Endpoint::Info { module, version },
                File::Mod => Endpoint::Mod { module, version },
                File::Zip => Endpoint::Zip { module, version },
            };
            self.proxied(req, proxy, endpoint)
        };
        self.packages
            .virtual_file(&plan, &format!("{module}@{version}"), hosted, listed, serve)
            .await
    }
}

/// A response's body (a rendered document; small).
async fn body_of(resp: axum::response::Response) -> PackageResult<bytes::Bytes> {
    if !resp.status().is_success() {
        return Err(PackageError::not_found("not found"));
    }
    axum::body::to_bytes(resp.into_body(), 16 << 20)
        .await
        .map_err(|e| PackageError::internal(e.to_string()))
}

/// The versions of a `@v/list` body.
fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The upstream's `@v/list` of `module`.
async fn upstream_list(
    proxy: &Proxy,
    module: &str,
    refresh: Refresh,
) -> PackageResult<cairn_packages::proxy::Document> {
    let url = proxy
        .upstream()
        .url(&format!("{}/@v/list", crate::module::escape(module)));
    Ok(proxy
        .document(&format!("list/{module}"), &url, "", refresh)
        .await?)
}

#[async_trait::async_trait]
impl cairn_packages::UpstreamVersions for GoApi {
    /// Listed when the upstream's `@v/list` has it; its time is when cairn
    /// first saw it (recorded as a listing through the virtual repository
    /// records it).
    async fn upstream_version(
        &self,
        proxy: &Proxy,
        module: &str,
        version: &str,
    ) -> PackageResult<Option<Option<i64>>> {
        let doc = upstream_list(proxy, module, Refresh::IfExpired).await?;
        let listed = lines(&doc.bytes);
        self.packages
            .first_seen_listed(proxy, module, &listed, version)
            .await
    }
}
