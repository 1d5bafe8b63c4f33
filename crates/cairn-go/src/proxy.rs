//! A Go proxy repository: the GOPROXY protocol from an upstream module
//! proxy. `@v/list` and `@latest` are documents (revalidated, stale when the
//! upstream fails); `.info`, `.mod` and `.zip` are immutable files, fetched
//! once and never asked again, so a version published upstream a moment ago
//! downloads at once and a version already fetched survives the upstream.
//! The GOPROXY protocol carries no hashes: the go command checks what it
//! downloads against `go.sum` and the checksum database.

use crate::endpoint::Endpoint;
use crate::{module, GoApi};
use cairn_packages::proxy::{Expect, Proxy};
use cairn_packages::{proxy_refresh, PackageResult, Request};

impl GoApi {
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
                (k, p, "application/json", true)
            }
            Endpoint::Mod { module, version } => {
                let (k, p) = file(&module, &version, "mod");
                (k, p, "text/plain; charset=utf-8", true)
            }
            Endpoint::Zip { module, version } => {
                let (k, p) = file(&module, &version, "zip");
                (k, p, "application/zip", true)
            }
            Endpoint::Upload { .. } | Endpoint::Publish => {
                return Err(self.packages.proxy_refuses(proxy))
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
