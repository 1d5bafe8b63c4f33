//! A PyPI proxy repository: project pages from the upstream's simple API
//! (PEP 691 JSON preferred, PEP 503 HTML understood), revalidated after
//! their time to live and stale when the upstream fails; files fetched once
//! and checked against the page's SHA-256. Pages are served in the client's
//! representation with file URLs through cairn, and keep the upstream's
//! yanks (PEP 592, a yanked file never loses its marker), `upload-time`
//! (PEP 700, for uv's `--exclude-newer`), `requires-python` and PEP 658
//! metadata hashes.

use crate::endpoint::Endpoint;
use crate::simple::{render_index, render_simple, representation, SimpleFile};
use crate::{key, PypiApi};
use axum::response::IntoResponse;
use cairn_packages::proxy::{Document, Expect, Proxy, Refresh, Url};
use cairn_packages::{
    proxied_file, proxy_refresh, with_cache_status, PackageError, PackageResult, ProxiedFile,
    Rendered, Request,
};
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// What cairn asks the upstream for: JSON where it has it.
pub(crate) const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1";

/// A project page as the upstream gave it; file URLs absolute, on the upstream.
#[derive(Debug, Default)]
pub(crate) struct UpstreamPage {
    pub files: Vec<SimpleFile>,
    pub versions: Vec<String>,
}

impl PypiApi {
    /// Serves `endpoint` from the proxy repository `repo`.
    pub(crate) async fn proxied(
        &self,
        req: &Request,
        proxy: &Proxy,
        repo: &str,
        endpoint: Endpoint,
    ) -> PackageResult {
        match endpoint {
            Endpoint::Project { project } => {
                let key = key(&project)?;
                let url = page_url(proxy, &key);
                let doc = proxy
                    .document(&format!("simple/{key}"), &url, ACCEPT, proxy_refresh(req))
                    .await?;
                // Parsed and rendered once per upstream page, base URL and
                // representation.
                let content_type = representation(req);
                let variant = format!("{}\n{repo}\n{content_type}", req.base_url);
                let rendered =
                    self.packages
                        .proxied_rendered(&doc, &variant, content_type, || {
                            let page = parse(&key, &doc, &url)?;
                            let base = format!("{}/pypi/{repo}/files/{key}", req.base_url);
                            let integrity = format!("{}/pypi/{repo}/integrity/{key}", req.base_url);
                            let files: Vec<SimpleFile> = page
                                .files
                                .into_iter()
                                .map(|f| SimpleFile {
                                    url: format!("{base}/{}", f.filename),
                                    provenance: f.provenance.as_ref().and_then(|_| {
                                        let v = file_version(&f.filename)?;
                                        Some(format!("{integrity}/{v}/{}/provenance", f.filename))
                                    }),
                                    ..f
                                })
                                .collect();
                            Ok(
                                render_simple(&key, &key, &files, &page.versions, content_type)
                                    .body,
                            )
                        })?;
                let rendered = rendered.with_header(axum::http::header::VARY, "Accept");
                Ok(with_cache_status(Rendered::respond(rendered, req), &doc))
            }
            Endpoint::File { project, filename } => {
                self.proxied_file(req, proxy, &key(&project)?, &filename, false)
                    .await
            }
            Endpoint::Metadata { project, filename } => {
                self.proxied_file(req, proxy, &key(&project)?, &filename, true)
                    .await
            }
            // The upstream's project list (a document; PyPI's is large and
            // changes every minute), rendered again with links through cairn.
            Endpoint::Index => {
                let doc = proxy
                    .document(
                        "simple/",
                        &proxy.upstream().url(""),
                        ACCEPT,
                        proxy_refresh(req),
                    )
                    .await?;
                let content_type = representation(req);
                let variant = format!("index\n{content_type}");
                let rendered =
                    self.packages
                        .proxied_rendered(&doc, &variant, content_type, || {
                            let names =
                                project_names(&doc.bytes, &doc.content_type).map_err(|e| {
                                    PackageError::Upstream(format!(
                                        "the upstream's project list cannot be read: {e}"
                                    ))
                                })?;
                            Ok(render_index(&names, content_type).body)
                        })?;
                let rendered = rendered.with_header(axum::http::header::VARY, "Accept");
                Ok(with_cache_status(Rendered::respond(rendered, req), &doc))
            }
            Endpoint::Provenance {
                project,
                version,
                filename,
            } => {
                self.proxied_provenance(req, proxy, &key(&project)?, &version, &filename)
                    .await
            }
            Endpoint::Upload => Err(self.packages.proxy_refuses(proxy)),
        }
    }

    /// The upstream's page of the project `key`, parsed.
    pub(crate) async fn upstream_page(
        &self,
        proxy: &Proxy,
        key: &str,
        refresh: Refresh,
    ) -> PackageResult<(Document, UpstreamPage)> {
        let url = page_url(proxy, key);
        let doc = proxy
            .document(&format!("simple/{key}"), &url, ACCEPT, refresh)
            .await?;
        let page = parse(key, &doc, &url)?;
        Ok((doc, page))
    }

    /// A file's PEP 740 provenance, from where the upstream's page says: a
    /// document (kept and revalidated like a page), served only when every
    /// attestation in it binds the file the page lists (its name and
    /// SHA-256).
    async fn proxied_provenance(
        &self,
        req: &Request,
        proxy: &Proxy,
        key: &str,
        version: &str,
        filename: &str,
    ) -> PackageResult {
        let none =
            || PackageError::not_found(format!("no provenance for {filename} of {key} {version}"));
        if file_version(filename).as_deref() != Some(version) {
            return Err(none());
        }
        let (_, page) = self.upstream_page(proxy, key, proxy_refresh(req)).await?;
        let file = page
            .files
            .into_iter()
            .find(|f| f.filename == filename)
            .ok_or_else(none)?;
        let (Some(url), Some(sha256)) = (file.provenance, file.sha256) else {
            return Err(none());
        };
        let url = Url::parse(&url).map_err(|e| {
            PackageError::Upstream(format!("the upstream's provenance URL of {filename}: {e}"))
        })?;
        let doc = proxy
            .document(
                &format!("provenance/{key}/{filename}"),
                &url,
                crate::provenance::INTEGRITY,
                proxy_refresh(req),
            )
            .await?;
        crate::provenance::check_provenance(&doc.bytes, filename, &sha256).map_err(|e| {
            PackageError::Upstream(format!(
                "the upstream's provenance of {filename} does not bind the file: {e}"
            ))
        })?;
        let resp = (
            [(
                axum::http::header::CONTENT_TYPE,
                crate::provenance::INTEGRITY,
            )],
            doc.bytes.clone(),
        )
            .into_response();
        Ok(with_cache_status(resp, &doc))
    }

    /// A file (or its PEP 658 metadata): from the cache, else fetched once
    /// from where the page says, checked against the page's hash.
    pub(crate) async fn proxied_file(
        &self,
        req: &Request,
        proxy: &Proxy,
        key: &str,
        filename: &str,
        metadata: bool,
    ) -> PackageResult {
        // A distribution (not its metadata) is asked of the vulnerability
        // policy like a hosted one, at the version its file name carries.
        let fetch = self.proxied_file_unchecked(proxy, key, filename, metadata);
        match file_version(filename).filter(|_| !metadata) {
            Some(version) => {
                let pkg = cairn_core::PackageRef::new(crate::PYPI, &proxy.settings().name, key);
                let cache_key = file_key(key, filename, false);
                self.packages
                    .serve_proxied_version(req, pkg, &version, proxy, &cache_key, fetch)
                    .await
            }
            None => fetch.await,
        }
    }

    async fn proxied_file_unchecked(
        &self,
        proxy: &Proxy,
        key: &str,
        filename: &str,
        metadata: bool,
    ) -> PackageResult {
        let cache_key = file_key(key, filename, metadata);
        let lookup = |refresh| async move {
            let (_, page) = self.upstream_page(proxy, key, refresh).await?;
            Ok(page.files.into_iter().find(|f| f.filename == filename))
        };
        let file = match proxied_file(proxy, &cache_key, lookup).await? {
            ProxiedFile::Cached(cached) => return self.packages.serve_proxied(cached).await,
            ProxiedFile::Listed(file) => file,
        };
        let (url, expect, content_type) = if metadata {
            let hash = file
                .core_metadata
                .ok_or_else(|| PackageError::not_found(format!("no metadata for {filename}")))?;
            (
                format!("{}.metadata", file.url),
                Expect::Sha256(hash),
                "text/plain; charset=utf-8",
            )
        } else {
            let expect = file.sha256.map_or(Expect::Nothing, Expect::Sha256);
            (file.url, expect, "application/octet-stream")
        };
        let url = Url::parse(&url).map_err(|e| {
            PackageError::Upstream(format!("the upstream's URL of {filename}: {e}"))
        })?;
        let source = proxy.file(&cache_key, &url, expect, content_type).await?;
        self.packages.serve_proxied(source).await
    }
}

/// The project names of an upstream's project list, JSON (PEP 691:
/// `projects[].name`) or HTML (PEP 503: each anchor's text).
pub(crate) fn project_names(bytes: &[u8], content_type: &str) -> Result<Vec<String>, String> {
    if content_type.contains("json") {
        let doc: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let projects = doc["projects"]
            .as_array()
            .ok_or("the JSON list has no projects")?;
        return Ok(projects
            .iter()
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect());
    }
    static ANCHOR: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?is)<a\b[^>]*>([^<]*)</a>").expect("a valid pattern"));
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    Ok(ANCHOR
        .captures_iter(text)
        .map(|c| c[1].trim().to_string())
        .filter(|n| !n.is_empty())
        .collect())
}

/// Where the upstream has the page of the project `key`.
pub(crate) fn page_url(proxy: &Proxy, key: &str) -> Url {
    proxy.upstream().url(&format!("{key}/"))
}

/// The upstream's page of `key`, read.
pub(crate) fn parse(key: &str, doc: &Document, url: &Url) -> PackageResult<UpstreamPage> {
    parse_page(&doc.bytes, &doc.content_type, url).map_err(|e| {
        PackageError::Upstream(format!("the upstream's page of {key} cannot be read: {e}"))
    })
}

/// Parses a simple-API project page, JSON (PEP 691) or HTML (PEP 503).
pub(crate) fn parse_page(
    bytes: &[u8],
    content_type: &str,
    page_url: &Url,
) -> Result<UpstreamPage, String> {
    if content_type.contains("json") {
        parse_json(bytes, page_url)
    } else {
        let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
        Ok(parse_html(text, page_url))
    }
}

fn resolve(page_url: &Url, href: &str) -> Option<String> {
    let url = page_url.join(href).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| {
        let mut url = url;
        url.set_fragment(None);
        url.to_string()
    })
}

fn parse_json(bytes: &[u8], page_url: &Url) -> Result<UpstreamPage, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let files = doc["files"].as_array().ok_or("no files")?;
    let mut page = UpstreamPage::default();
    for f in files {
        let (Some(filename), Some(url)) = (f["filename"].as_str(), f["url"].as_str()) else {
            continue;
        };
        let Some(url) = resolve(page_url, url) else {
            continue;
        };
        let hash = |v: &Value| v["sha256"].as_str().map(str::to_ascii_lowercase);
        let core = if f["core-metadata"].is_null() {
            &f["data-dist-info-metadata"]
        } else {
            &f["core-metadata"]
        };
        page.files.push(SimpleFile {
            filename: filename.to_string(),
            url,
            sha256: hash(&f["hashes"]),
            requires_python: f["requires-python"].as_str().map(str::to_string),
            size: f["size"].as_u64(),
            upload_time: f["upload-time"].as_str().map(str::to_string),
            yanked: match &f["yanked"] {
                Value::String(r) => Some(r.clone()),
                Value::Bool(true) => Some(String::new()),
                _ => None,
            },
            core_metadata: hash(core),
            // The upstream's own URL: rendered through cairn.
            provenance: f["provenance"].as_str().and_then(|p| resolve(page_url, p)),
        });
    }
    page.versions = match doc["versions"].as_array() {
        Some(v) => v
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        None => versions_of(&page.files),
    };
    Ok(page)
}

static ANCHOR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<a\s([^>]*)>(.*?)</a\s*>").expect("anchor pattern"));
static ATTRIBUTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)([a-z0-9_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"#)
        .expect("attribute pattern")
});

/// The text of HTML character references (the ones simple pages use).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn parse_html(text: &str, page_url: &Url) -> UpstreamPage {
    let mut page = UpstreamPage::default();
    for a in ANCHOR.captures_iter(text) {
        let mut attrs = std::collections::HashMap::new();
        for m in ATTRIBUTE.captures_iter(&a[1]) {
            let value = m
                .get(2)
                .or(m.get(3))
                .or(m.get(4))
                .map_or("", |v| v.as_str());
            attrs.insert(m[1].to_ascii_lowercase(), unescape(value));
        }
        let Some(href) = attrs.get("href") else {
            continue;
        };
        let (path, fragment) = href.split_once('#').unwrap_or((href, ""));
        let Some(url) = resolve(page_url, path) else {
            continue;
        };
        let text_name = unescape(a[2].trim());
        let filename = if text_name.is_empty() || text_name.contains('<') {
            path.rsplit('/').next().unwrap_or_default().to_string()
        } else {
            text_name
        };
        let sha256 = |v: &str| v.strip_prefix("sha256=").map(str::to_ascii_lowercase);
        let core = attrs
            .get("data-core-metadata")
            .or_else(|| attrs.get("data-dist-info-metadata"));
        page.files.push(SimpleFile {
            filename,
            url,
            sha256: sha256(fragment),
            requires_python: attrs.get("data-requires-python").cloned(),
            size: None,
            upload_time: None,
            yanked: attrs.get("data-yanked").cloned(),
            core_metadata: core.and_then(|v| sha256(v)),
            provenance: attrs
                .get("data-provenance")
                .and_then(|p| resolve(page_url, p)),
        });
    }
    page.versions = versions_of(&page.files);
    page
}

/// The versions a list of files names (PEP 700 `versions`, for pages that
/// do not list them): a wheel's second field, an sdist's last.
fn versions_of(files: &[SimpleFile]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in files {
        if let Some(v) = file_version(&f.filename).filter(|v| !out.contains(v)) {
            out.push(v);
        }
    }
    out
}

/// The version a distribution's file name carries: a wheel's second
/// field, an sdist's last.
pub(crate) fn file_version(name: &str) -> Option<String> {
    if let Some(stem) = name.strip_suffix(".whl") {
        stem.split('-').nth(1).map(str::to_string)
    } else {
        [".tar.gz", ".zip", ".tar.bz2", ".tgz"]
            .iter()
            .find_map(|ext| name.strip_suffix(ext))
            .and_then(|stem| stem.rsplit_once('-').map(|(_, v)| v.to_string()))
    }
}

/// The cache key of a proxied file (or of its PEP 658 metadata).
fn file_key(key: &str, filename: &str, metadata: bool) -> String {
    let suffix = if metadata { ".metadata" } else { "" };
    format!("file/{key}/{filename}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::project_names;

    #[test]
    fn project_lists_read_as_json_or_html() {
        let json = br#"{"meta":{"api-version":"1.1"},"projects":[{"name":"Demo_Pkg","_last-serial":1},{"name":"b"}]}"#;
        assert_eq!(
            project_names(json, "application/vnd.pypi.simple.v1+json").unwrap(),
            vec!["Demo_Pkg", "b"]
        );
        let html = b"<html><body><a href=\"/simple/demo-pkg/\">demo-pkg</a>\n<A HREF='x/'> x </A></body></html>";
        assert_eq!(
            project_names(html, "text/html").unwrap(),
            vec!["demo-pkg", "x"]
        );
        assert!(project_names(b"{}", "application/json").is_err());
    }

    use super::*;

    #[test]
    fn html_pages_are_read_like_pip_reads_them() {
        let page_url = Url::parse("http://up.example/simple/demo/").unwrap();
        let html = r#"<html><body>
<a href="../../packages/demo-1.0.tar.gz#sha256=ABCD" data-requires-python="&gt;=3.8">demo-1.0.tar.gz</a><br>
<a href='https://files.example/demo-1.1-py3-none-any.whl#sha256=ef01' data-yanked="broken &amp; bad" data-dist-info-metadata="sha256=99">demo-1.1-py3-none-any.whl</a>
<a href="javascript:alert(1)">x</a>
</body></html>"#;
        let page = parse_page(html.as_bytes(), "text/html", &page_url).unwrap();
        assert_eq!(page.files.len(), 2, "{page:?}");
        let sdist = &page.files[0];
        assert_eq!(sdist.url, "http://up.example/packages/demo-1.0.tar.gz");
        assert_eq!(sdist.sha256.as_deref(), Some("abcd"));
        assert_eq!(sdist.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(sdist.yanked, None);
        let wheel = &page.files[1];
        assert_eq!(wheel.yanked.as_deref(), Some("broken & bad"));
        assert_eq!(wheel.core_metadata.as_deref(), Some("99"));
        assert_eq!(page.versions, ["1.0", "1.1"]);
    }

    #[test]
    fn json_pages_keep_upload_times_and_yanks() {
        let page_url = Url::parse("https://pypi.example/simple/demo/").unwrap();
        let json = br#"{"meta":{"api-version":"1.1"},"name":"demo","versions":["1.0"],
            "files":[{"filename":"demo-1.0.tar.gz","url":"https://files.example/demo-1.0.tar.gz",
            "hashes":{"sha256":"aa"},"upload-time":"2026-01-02T03:04:05.000000Z","yanked":true,
            "core-metadata":{"sha256":"bb"},"size":10}]}"#;
        let page = parse_page(json, "application/vnd.pypi.simple.v1+json", &page_url).unwrap();
        let f = &page.files[0];
        assert_eq!(
            f.upload_time.as_deref(),
            Some("2026-01-02T03:04:05.000000Z")
        );
        assert_eq!(f.yanked.as_deref(), Some(""));
        assert_eq!(
            (f.sha256.as_deref(), f.core_metadata.as_deref(), f.size),
            (Some("aa"), Some("bb"), Some(10))
        );
        assert!(parse_page(
            b"{not json",
            "application/vnd.pypi.simple.v1+json",
            &page_url
        )
        .is_err());
    }
}
