//! A Cargo proxy repository: the sparse index of an upstream registry
//! (crates.io's `https://index.crates.io/`, another cairn, ...). Index files
//! are documents (revalidated; yanks and new versions show on the next
//! refresh; `pubtime` passes through for cargo's publish-age setting);
//! `.crate` files are immutable, fetched once from where the upstream's
//! `config.json` says (`dl`, with its URL markers) and checked against the
//! index line's `cksum`. cairn's own `config.json` points cargo at cairn.
//! `cargo search` and the owners list are the upstream's web API (its
//! `config.json`'s `api`), kept as documents.

use crate::endpoint::{index_dir, Endpoint};
use crate::CargoApi;
use cairn_packages::proxy::{Document, Expect, Proxy, Refresh, Url};
use cairn_packages::{
    proxied_file, proxy_refresh, PackageError, PackageResult, ProxiedFile, Request,
};
use serde_json::Value;

impl CargoApi {
    /// Serves `endpoint` from the proxy repository `repo`.
    pub(crate) async fn proxied(
        &self,
        req: &Request,
        proxy: &Proxy,
        repo: &str,
        endpoint: Endpoint,
    ) -> PackageResult {
        match endpoint {
            Endpoint::Config => Ok(self.config(req, repo)),
            Endpoint::IndexFile { name } => {
                let doc = self.index_lines(proxy, &name, proxy_refresh(req)).await?;
                Ok(self.packages.serve_document(&doc, "text/plain"))
            }
            Endpoint::Download { name, version } => {
                self.proxied_crate(req, proxy, &name, &version).await
            }
            // The upstream's web API (its config.json's `api`, which for
            // crates.io is another host than the index; no credentials go
            // there), kept as documents.
            Endpoint::Search => {
                let q: String = req
                    .query("q")
                    .unwrap_or_default()
                    .chars()
                    .take(256)
                    .collect();
                let per_page: u32 = req
                    .query("per_page")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(10)
                    .min(100);
                let mut url = self.upstream_api(proxy, "api/v1/crates").await?;
                url.query_pairs_mut()
                    .append_pair("q", &q)
                    .append_pair("per_page", &per_page.to_string());
                let doc = proxy
                    .document(
                        &format!("search/{per_page}/{q}"),
                        &url,
                        "application/json",
                        proxy_refresh(req),
                    )
                    .await?;
                Ok(self.packages.serve_document(&doc, "application/json"))
            }
            Endpoint::Owners { name } => {
                let key = crate::key(&name)?;
                let url = self
                    .upstream_api(proxy, &format!("api/v1/crates/{key}/owners"))
                    .await?;
                let doc = proxy
                    .document(
                        &format!("owners/{key}"),
                        &url,
                        "application/json",
                        proxy_refresh(req),
                    )
                    .await?;
                Ok(self.packages.serve_document(&doc, "application/json"))
            }
            Endpoint::Publish
            | Endpoint::Yank { .. }
            | Endpoint::Unyank { .. }
            | Endpoint::ChangeOwners { .. } => Err(self.packages.proxy_refuses(proxy)),
        }
    }

    /// The upstream's index file of `name`: its cache status and bytes.
    pub(crate) async fn index_lines(
        &self,
        proxy: &Proxy,
        name: &str,
        refresh: Refresh,
    ) -> PackageResult<Document> {
        let lower = name.to_ascii_lowercase();
        if lower.is_empty()
            || !lower
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(PackageError::not_found(format!("crate {name} not found")));
        }
        let url = proxy
            .upstream()
            .url(&format!("{}/{lower}", index_dir(&lower)));
        let doc = proxy
            .document(&format!("index/{lower}"), &url, "", refresh)
            .await?;
        Ok(doc)
    }

    /// A `.crate`: from the cache, else from the upstream's download URL,
    /// checked against the index's `cksum`.
    pub(crate) async fn proxied_crate(
        &self,
        req: &Request,
        proxy: &Proxy,
        name: &str,
        version: &str,
    ) -> PackageResult {
        // Asked of the vulnerability policy like a hosted crate.
        let key = crate::key(name)?;
        let pkg = cairn_core::PackageRef::new(crate::CARGO, &proxy.settings().name, &key);
        let fetch = self.proxied_crate_unchecked(proxy, name, version);
        self.packages
            .serve_proxied_version(req, pkg, version, proxy, &crate_key(name, version), fetch)
            .await
    }

    async fn proxied_crate_unchecked(
        &self,
        proxy: &Proxy,
        name: &str,
        version: &str,
    ) -> PackageResult {
        let key = crate_key(name, version);
        let lookup = |refresh| async move {
            let lines = self.index_lines(proxy, name, refresh).await?;
            Ok(line_of(&lines.bytes, version))
        };
        let line = match proxied_file(proxy, &key, lookup).await? {
            ProxiedFile::Cached(cached) => return self.packages.serve_proxied(cached).await,
            ProxiedFile::Listed(line) => line,
        };
        let cksum = line["cksum"].as_str().ok_or_else(|| {
            PackageError::Upstream(format!(
                "the upstream's index line of {name} {version} has no cksum"
            ))
        })?;
        let crate_name = line["name"].as_str().unwrap_or(name);
        let url = self.download_url(proxy, crate_name, version, cksum).await?;
        let source = proxy
            .file(
                &key,
                &url,
                Expect::Sha256(cksum.to_ascii_lowercase()),
                "application/x-tar",
            )
            .await?;
        self.packages.serve_proxied(source).await
    }

    /// The upstream's `config.json`, parsed.
    async fn upstream_config(&self, proxy: &Proxy) -> PackageResult<Value> {
        let config_url = proxy.upstream().url("config.json");
        let doc = proxy
            .document(
                "config",
                &config_url,
                "application/json",
                Refresh::IfExpired,
            )
            .await?;
        serde_json::from_slice(&doc.bytes)
            .map_err(|e| PackageError::Upstream(format!("the upstream's config.json: {e}")))
    }

    /// `path` on the upstream's web API (its `config.json`'s `api`).
    async fn upstream_api(&self, proxy: &Proxy, path: &str) -> PackageResult<Url> {
        let config = self.upstream_config(proxy).await?;
        let api = config["api"].as_str().ok_or_else(|| {
            PackageError::not_found(format!(
                "{}: the upstream has no web API (no api in its config.json)",
                proxy.repository()
            ))
        })?;
        let url = Url::parse(&format!("{}/", api.trim_end_matches('/')))
            .and_then(|base| base.join(path))
            .map_err(|e| PackageError::Upstream(format!("the upstream's api {api:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(PackageError::Upstream(format!(
                "the upstream's api {url} is not http(s)"
            )));
        }
        Ok(url)
    }

    /// Where the upstream serves a `.crate`: its `config.json`'s `dl`, with
    /// the sparse protocol's markers filled in, or `/{crate}/{version}/download`
    /// appended when it has none.
    async fn download_url(
        &self,
        proxy: &Proxy,
        name: &str,
        version: &str,
        cksum: &str,
    ) -> PackageResult<Url> {
        let config = self.upstream_config(proxy).await?;
        let dl = config["dl"]
            .as_str()
            .ok_or_else(|| PackageError::Upstream("the upstream's config.json has no dl".into()))?;
        let lower = name.to_ascii_lowercase();
        let prefix = index_dir(&lower);
        let markers = [
            "{crate}",
            "{version}",
            "{prefix}",
            "{lowerprefix}",
            "{sha256-checksum}",
        ];
        let url = if markers.iter().any(|m| dl.contains(m)) {
            dl.replace("{crate}", name)
                .replace("{version}", version)
                .replace("{prefix}", &index_dir(name))
                .replace("{lowerprefix}", &prefix)
                .replace("{sha256-checksum}", cksum)
        } else {
            format!("{}/{name}/{version}/download", dl.trim_end_matches('/'))
        };
        let url = Url::parse(&url).map_err(|e| {
            PackageError::Upstream(format!("the upstream's download URL {url:?}: {e}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(PackageError::Upstream(format!(
                "the upstream's download URL {url} is not http(s)"
            )));
        }
        Ok(url)
    }
}

/// The index line of `version` in an index file.
pub(crate) fn line_of(lines: &[u8], version: &str) -> Option<Value> {
    lines
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<Value>(line).ok())
        .find(|v| v["vers"].as_str() == Some(version))
}

/// The cache key of a proxied `.crate`.
fn crate_key(name: &str, version: &str) -> String {
    format!("crate/{}/{version}", name.to_ascii_lowercase())
}
