//! An npm proxy repository: packuments from the upstream (revalidated after
//! their time to live, stale when the upstream fails), tarballs fetched once
//! and checked against the packument's `integrity`. Tarball URLs are
//! rewritten to come through cairn; `time`, `deprecated` and dist-tags are
//! the upstream's, so clients' minimum-release-age settings and deprecation
//! warnings work as they do against the upstream. The upstream's registry
//! keys and attestations are proxied as documents, and attestation URLs
//! rewritten, so `npm audit signatures` through the proxy checks the
//! upstream's registry signatures and provenance.

use crate::endpoint::Endpoint;
use crate::NpmApi;
use axum::response::IntoResponse;
use axum::Json;
use cairn_packages::proxy::{Document, Expect, Proxy, Refresh};
use cairn_packages::{
    proxied_file, proxy_refresh, with_cache_status, PackageError, PackageResult, ProxiedFile,
    Request,
};
use serde_json::{json, Value};

/// npm's spelling of a name in a URL path: a scope's slash encoded.
fn path_name(name: &str) -> String {
    name.replacen('/', "%2f", 1)
}

/// The file name at the end of a tarball URL.
pub(crate) fn basename(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path)
}

impl NpmApi {
    /// Serves `endpoint` from the proxy repository `repo`.
    pub(crate) async fn proxied(
        &self,
        req: &Request,
        proxy: &Proxy,
        repo: &str,
        endpoint: Endpoint,
    ) -> PackageResult {
        use Endpoint as E;
        match endpoint {
            E::Packument { name } => {
                let doc = self.packument_doc(proxy, &name, proxy_refresh(req)).await?;
                // Tarball URLs through cairn; parsed and rewritten once per
                // upstream document and base URL.
                let variant = format!("{}\n{repo}\n{name}", req.base_url);
                let rendered =
                    self.packages
                        .proxied_rendered(&doc, &variant, "application/json", || {
                            let mut packument = parse_packument(&name, &doc)?;
                            if let Some(versions) = packument["versions"].as_object_mut() {
                                for manifest in versions.values_mut() {
                                    rewrite_tarball(manifest, &req.base_url, repo, &name);
                                }
                            }
                            Ok(packument.to_string().into())
                        })?;
                Ok(with_cache_status(rendered.respond(req), &doc))
            }
            E::Version { name, version } => {
                let (doc, packument) = self
                    .upstream_packument(proxy, &name, proxy_refresh(req))
                    .await?;
                let found = |p: &Value| {
                    let v = p["dist-tags"][&version]
                        .as_str()
                        .unwrap_or(&version)
                        .to_string();
                    p["versions"].get(&v).cloned()
                };
                let manifest = match found(&packument) {
                    Some(m) => m,
                    None => {
                        let (_, fresh) = self
                            .upstream_packument(proxy, &name, Refresh::Missing)
                            .await?;
                        found(&fresh).ok_or_else(|| {
                            PackageError::not_found(format!("version not found: {name}@{version}"))
                        })?
                    }
                };
                let mut manifest = manifest;
                rewrite_tarball(&mut manifest, &req.base_url, repo, &name);
                Ok(with_cache_status(Json(manifest).into_response(), &doc))
            }
            E::DistTags { name } => {
                let (doc, packument) = self
                    .upstream_packument(proxy, &name, proxy_refresh(req))
                    .await?;
                let tags = packument
                    .get("dist-tags")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                Ok(with_cache_status(Json(tags).into_response(), &doc))
            }
            E::Tarball { name, file } => self.proxied_tarball(req, proxy, &name, &file).await,
            E::Search => {
                let doc = self.search_doc(req, proxy).await?;
                Ok(self.packages.serve_document(&doc, "application/json"))
            }
            // The upstream's registry keys and attestations, so that `npm
            // audit signatures` through the proxy checks the upstream's
            // signatures (carried unchanged in the packuments: they sign
            // name, version and integrity, not URLs).
            E::Keys => {
                let url = proxy.upstream().url("-/npm/v1/keys");
                let doc = proxy
                    .document("keys", &url, "application/json", proxy_refresh(req))
                    .await?;
                Ok(self.packages.serve_document(&doc, "application/json"))
            }
            E::Attestations { name, version } => {
                crate::key(&name)?;
                let spec = format!("{}@{version}", path_name(&name));
                let url = proxy
                    .upstream()
                    .url(&format!("-/npm/v1/attestations/{spec}"));
                let doc = proxy
                    .document(
                        &format!("attestations/{name}@{version}"),
                        &url,
                        "application/json",
                        proxy_refresh(req),
                    )
                    .await?;
                Ok(self.packages.serve_document(&doc, "application/json"))
            }
            E::Visibility { .. } => Err(PackageError::not_found(format!(
                "{} is a proxy repository: nothing is published to it",
                proxy.repository()
            ))),
            E::Ping | E::Whoami => unreachable!("served as in a hosted repository"),
            E::PutPackage { .. }
            | E::UnpublishPackage { .. }
            | E::TarballRev { .. }
            | E::DistTag { .. } => Err(self.packages.proxy_refuses(proxy)),
        }
    }

    /// The upstream's answer to this request's search (`text`, `size`,
    /// `from`), kept like any document.
    pub(crate) async fn search_doc(&self, req: &Request, proxy: &Proxy) -> PackageResult<Document> {
        let text: String = req
            .query("text")
            .unwrap_or_default()
            .chars()
            .take(256)
            .collect();
        let size = req
            .query("size")
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(20)
            .min(250);
        let from = req
            .query("from")
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(0);
        let mut url = proxy.upstream().url("-/v1/search");
        url.query_pairs_mut()
            .append_pair("text", &text)
            .append_pair("size", &size.to_string())
            .append_pair("from", &from.to_string());
        Ok(proxy
            .document(
                &format!("search/{size}/{from}/{text}"),
                &url,
                "application/json",
                proxy_refresh(req),
            )
            .await?)
    }

    /// The upstream's packument of `name`, parsed.
    pub(crate) async fn upstream_packument(
        &self,
        proxy: &Proxy,
        name: &str,
        refresh: Refresh,
    ) -> PackageResult<(Document, Value)> {
        let doc = self.packument_doc(proxy, name, refresh).await?;
        let packument = parse_packument(name, &doc)?;
        Ok((doc, packument))
    }

    /// The upstream's packument of `name`, as it sent it.
    pub(crate) async fn packument_doc(
        &self,
        proxy: &Proxy,
        name: &str,
        refresh: Refresh,
    ) -> PackageResult<Document> {
        crate::key(name)?;
        let url = proxy.upstream().url(&path_name(name));
        // The full document: the abbreviated one lacks `time` on older
        // registries, which clients' release-age settings need.
        Ok(proxy
            .document(
                &format!("packument/{name}"),
                &url,
                "application/json",
                refresh,
            )
            .await?)
    }

    /// A tarball: from the cache, else fetched once from where the
    /// packument says, verified against its `integrity` (or `shasum`).
    pub(crate) async fn proxied_tarball(
        &self,
        req: &Request,
        proxy: &Proxy,
        name: &str,
        file: &str,
    ) -> PackageResult {
        let key = crate::key(name)?;
        // The version a tarball's name carries (`<name>-<version>.tgz`),
        // asked of the vulnerability policy like a hosted one.
        let unscoped = name.rsplit('/').next().unwrap_or(name);
        let fetch = self.proxied_tarball_unchecked(proxy, name, file);
        match file
            .strip_prefix(&format!("{unscoped}-"))
            .and_then(|f| f.strip_suffix(".tgz"))
        {
            Some(version) => {
                let pkg = cairn_core::PackageRef::new(crate::NPM, &proxy.settings().name, &key);
                let cache_key = tarball_key(name, file);
                self.packages
                    .serve_proxied_version(req, pkg, version, proxy, &cache_key, fetch)
                    .await
            }
            None => fetch.await,
        }
    }

    async fn proxied_tarball_unchecked(
        &self,
        proxy: &Proxy,
        name: &str,
        file: &str,
    ) -> PackageResult {
        let key = tarball_key(name, file);
        let lookup = |refresh| async move {
            let (_, packument) = self.upstream_packument(proxy, name, refresh).await?;
            Ok(packument["versions"].as_object().and_then(|versions| {
                versions
                    .values()
                    .find(|m| m["dist"]["tarball"].as_str().map(basename) == Some(file))
                    .map(|m| m["dist"].clone())
            }))
        };
        let dist = match proxied_file(proxy, &key, lookup).await? {
            ProxiedFile::Cached(cached) => return self.packages.serve_proxied(cached).await,
            ProxiedFile::Listed(dist) => dist,
        };
        let expect = dist["integrity"]
            .as_str()
            .and_then(Expect::from_sri)
            .or_else(|| dist["shasum"].as_str().map(|s| Expect::Sha1(s.to_string())))
            .unwrap_or(Expect::Nothing);
        // The packument's URL only on the upstream's own origin; anywhere
        // else, the registry layout on the upstream (cairn fetches nothing
        // from hosts a document names).
        let url = dist["tarball"]
            .as_str()
            .and_then(|u| cairn_packages::proxy::Url::parse(u).ok())
            .filter(|u| proxy.upstream().same_origin(u))
            .unwrap_or_else(|| {
                proxy
                    .upstream()
                    .url(&format!("{}/-/{file}", path_name(name)))
            });
        let source = proxy
            .file(&key, &url, expect, "application/octet-stream")
            .await?;
        self.packages.serve_proxied(source).await
    }
}

/// An upstream packument, checked to be one.
pub(crate) fn parse_packument(name: &str, doc: &Document) -> PackageResult<Value> {
    let packument: Value = serde_json::from_slice(&doc.bytes).map_err(|e| {
        PackageError::Upstream(format!(
            "the upstream's packument of {name} is not JSON: {e}"
        ))
    })?;
    if !packument.is_object() || !packument["versions"].is_object() {
        return Err(PackageError::Upstream(format!(
            "the upstream's packument of {name} has no versions"
        )));
    }
    Ok(packument)
}

/// Points a version's `dist.tarball` (and `dist.attestations.url`) at this
/// repository.
pub(crate) fn rewrite_tarball(manifest: &mut Value, base_url: &str, repo: &str, name: &str) {
    let version = manifest["version"].as_str().map(str::to_string);
    let Some(dist) = manifest.get_mut("dist").and_then(Value::as_object_mut) else {
        return;
    };
    if let (Some(version), Some(url)) = (
        version,
        dist.get_mut("attestations")
            .and_then(|a| a.get_mut("url"))
            .filter(|u| u.is_string()),
    ) {
        *url = json!(format!(
            "{base_url}/npm/{repo}/-/npm/v1/attestations/{name}@{version}"
        ));
    }
    let file = dist
        .get("tarball")
        .and_then(Value::as_str)
        .map(|u| basename(u).to_string());
    if let Some(file) = file {
        dist.insert(
            "tarball".into(),
            json!(format!("{base_url}/npm/{repo}/{name}/-/{file}")),
        );
    }
}

/// The cache key of a proxied tarball.
fn tarball_key(name: &str, file: &str) -> String {
    format!("tarball/{name}/{file}")
}
