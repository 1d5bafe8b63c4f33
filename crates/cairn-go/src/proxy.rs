//! A Go proxy repository: the GOPROXY protocol from an upstream module
//! proxy. `@v/list` and `@latest` are documents (revalidated, stale when the
//! upstream fails); `.info`, `.mod` and `.zip` are immutable files, fetched
//! once and never asked again, so a version published upstream a moment ago
//! downloads at once and a version already fetched survives the upstream.
//! The GOPROXY protocol carries no hashes: the go command checks what it
//! downloads against `go.sum` and the checksum database.

use crate::endpoint::Endpoint;
use crate::{module, GoApi};
use axum::body::Body;
use axum::response::Response;
use cairn_packages::proxy::{Expect, Proxy, Url};
use cairn_packages::{proxy_refresh, PackageError, PackageResult, Request};

impl GoApi {
    /// Under `removed_upstream = hide | purge`, a cached `.info`, `.mod` or
    /// `.zip` whose version the upstream no longer serves (its `.info`
    /// answers 404 or 410, as proxy.golang.org does for a takedown) is
    /// refused (and, for `purge`, dropped). The `.info` is asked as a
    /// document, so within its time to live the answer is the cache's; an
    /// upstream that cannot be asked removed nothing.
    async fn still_upstream(
        &self,
        proxy: &Proxy,
        key: &str,
        module: &str,
        version: &str,
    ) -> PackageResult<()> {
        if !proxy.checks_listing() || proxy.cached_file(key).await?.is_none() {
            return Ok(());
        }
        let info = format!(
            "{}/@v/{}.info",
            module::escape(module),
            module::escape(version)
        );
        let asked = proxy
            .document(
                &format!("listing/{module}@{version}"),
                &proxy.upstream().url(&info),
                "",
                cairn_packages::proxy::Refresh::IfExpired,
            )
            .await;
        if let Err(cairn_packages::proxy::ProxyError::NotFound(_)) = asked {
            proxy.unlisted(key).await?;
        }
        Ok(())
    }

    /// The checksum database through the proxy: `latest` is a document (the
    /// signed tree head moves); lookups and tiles never change once
    /// published, so they are files. The go command verifies all of it
    /// against the database's key, so a wrong answer cannot pass.
    async fn proxied_sumdb(
        &self,
        req: &Request,
        proxy: &Proxy,
        name: &str,
        path: &str,
    ) -> PackageResult {
        let settings = proxy.settings();
        let url = match &settings.sumdb_url {
            Some(base) if name == settings.sumdb_name => {
                let base = if base.ends_with('/') {
                    base.clone()
                } else {
                    format!("{base}/")
                };
                Url::parse(&base)
                    .and_then(|b| b.join(path))
                    .map_err(|e| PackageError::Upstream(format!("sumdb_url {base:?}: {e}")))?
            }
            _ => proxy.upstream().url(&format!("sumdb/{name}/{path}")),
        };
        let key = format!("sumdb/{name}/{path}");
        match path {
            "supported" if settings.sumdb_url.is_some() && name == settings.sumdb_name => {
                Ok(Response::new(Body::empty()))
            }
            "supported" | "latest" => {
                let doc = proxy.document(&key, &url, "", proxy_refresh(req)).await?;
                Ok(self
                    .packages
                    .serve_document(&doc, "text/plain; charset=utf-8"))
            }
            _ => {
                let source = proxy
                    .file(&key, &url, Expect::Nothing, "application/octet-stream")
                    .await?;
                self.packages.serve_proxied(source).await
            }
        }
    }

    /// Serves `endpoint` from the proxy repository.
    pub(crate) async fn proxied(
        &self,
        req: &Request,
        proxy: &Proxy,
        endpoint: Endpoint,
    ) -> PackageResult {
        let file = |module: &str, version: &str, ext: &str| {
            let path = format!(
                "{}/@v/{}.{ext}",
                module::escape(module),
                module::escape(version)
            );
            (format!("{ext}/{module}@{version}"), path)
        };
        let (key, path, content_type, immutable) = match endpoint {
            Endpoint::List { module } => (
                format!("list/{module}"),
                format!("{}/@v/list", module::escape(&module)),
                "text/plain; charset=utf-8",
                false,
            ),
            Endpoint::Latest { module } => (
                format!("latest/{module}"),
                format!("{}/@latest", module::escape(&module)),
                "application/json",
                false,
            ),
            Endpoint::Info { module, version } => {
                let (k, p) = file(&module, &version, "info");
                self.still_upstream(proxy, &k, &module, &version).await?;
                (k, p, "application/json", true)
            }
            Endpoint::Mod { module, version } => {
                let (k, p) = file(&module, &version, "mod");
                self.still_upstream(proxy, &k, &module, &version).await?;
                (k, p, "text/plain; charset=utf-8", true)
            }
            Endpoint::Zip { module, version } => {
                // The module's code: asked of the vulnerability policy
                // like a hosted version.
                let pkg = cairn_core::PackageRef::new(crate::GO, &proxy.settings().name, &module);
                let (k, p) = file(&module, &version, "zip");
                let fetch = async {
                    self.still_upstream(proxy, &k, &module, &version).await?;
                    let url = proxy.upstream().url(&p);
                    let source = proxy
                        .file(&k, &url, Expect::Nothing, "application/zip")
                        .await?;
                    self.packages.serve_proxied(source).await
                };
                return self
                    .packages
                    .serve_proxied_version(req, pkg, &version, proxy, &k, fetch)
                    .await;
            }
            Endpoint::Upload { .. } | Endpoint::Publish => {
                return Err(self.packages.proxy_refuses(proxy))
            }
            Endpoint::Sumdb { name, path } => {
                return self.proxied_sumdb(req, proxy, &name, &path).await
            }
        };
        let url = proxy.upstream().url(&path);
        if immutable {
            let source = proxy
                .file(&key, &url, Expect::Nothing, content_type)
                .await?;
            return self.packages.serve_proxied(source).await;
        }
        let doc = proxy.document(&key, &url, "", proxy_refresh(req)).await?;
        Ok(self.packages.serve_document(&doc, content_type))
    }
}
