//! The simple repository API: PEP 503 HTML and PEP 691 JSON by content
//! negotiation (with `Vary: Accept`), PEP 592 yanks with their reason,
//! PEP 658/714 metadata, PEP 700 `versions`, `size` and `upload-time`.

use crate::{key, PypiApi, PYPI};
use axum::http::header;
use axum::response::IntoResponse;
use cairn_core::PackageRef;
use cairn_core::{Digest, VersionState};
use cairn_packages::{rfc3339, PackageError, PackageResult, Rendered, Request};
use cairn_store::PackageRecord;
use serde_json::{json, Value};
use std::fmt::Write;

const JSON: &str = "application/vnd.pypi.simple.v1+json";
const HTML: &str = "application/vnd.pypi.simple.v1+html";

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The representation a request asks for (PEP 691 content negotiation).
pub(crate) fn representation(req: &Request) -> &'static str {
    if req.accepts(JSON) {
        JSON
    } else if req.accepts(HTML) {
        HTML
    } else {
        "text/html; charset=utf-8"
    }
}

fn negotiated(content_type: &'static str, json_body: Value, html_body: String) -> Rendered {
    let body = if content_type == JSON {
        json_body.to_string()
    } else {
        html_body
    };
    Rendered::new(content_type, None, body).with_header(header::VARY, "Accept")
}

/// One file of a project's simple page, as the hosted and proxy
/// repositories both describe it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SimpleFile {
    pub filename: String,
    pub url: String,
    /// Hex SHA-256 of the file.
    pub sha256: Option<String>,
    pub requires_python: Option<String>,
    pub size: Option<u64>,
    /// RFC 3339 (PEP 700).
    pub upload_time: Option<String>,
    /// PEP 592: the reason (possibly empty) when the file is yanked.
    pub yanked: Option<String>,
    /// Hex SHA-256 of the PEP 658 metadata file, when there is one.
    pub core_metadata: Option<String>,
    /// The PEP 740 provenance URL, when the upload carried attestations.
    pub provenance: Option<String>,
}

/// A project's simple page, as PEP 691 JSON or PEP 503 HTML.
pub(crate) fn render_simple(
    display_name: &str,
    key: &str,
    files: &[SimpleFile],
    versions: &[String],
    content_type: &'static str,
) -> Rendered {
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.3\"><title>Links for {0}</title></head><body><h1>Links for {0}</h1>\n",
        esc(display_name)
    );
    let mut json_files = Vec::new();
    for f in files {
        let core = f.core_metadata.as_ref();
        let mut hashes = serde_json::Map::new();
        if let Some(h) = &f.sha256 {
            hashes.insert("sha256".into(), json!(h));
        }
        let mut file = json!({
            "filename": f.filename,
            "url": f.url,
            "hashes": hashes,
            "requires-python": f.requires_python,
            "yanked": match &f.yanked { Some(r) if !r.is_empty() => json!(r), Some(_) => json!(true), None => json!(false) },
            "core-metadata": core.map_or(json!(false), |d| json!({"sha256": d})),
            "data-dist-info-metadata": core.map_or(json!(false), |d| json!({"sha256": d})),
            "provenance": f.provenance,
        });
        if let Some(size) = f.size {
            file["size"] = json!(size);
        }
        if let Some(t) = &f.upload_time {
            file["upload-time"] = json!(t);
        }
        json_files.push(file);
        let mut attrs = String::new();
        if let Some(rp) = &f.requires_python {
            let _ = write!(attrs, " data-requires-python=\"{}\"", esc(rp));
        }
        if let Some(r) = &f.yanked {
            let _ = write!(attrs, " data-yanked=\"{}\"", esc(r));
        }
        if let Some(url) = &f.provenance {
            let _ = write!(attrs, " data-provenance=\"{}\"", esc(url));
        }
        if let Some(d) = core {
            let _ = write!(
                attrs,
                " data-core-metadata=\"sha256={0}\" data-dist-info-metadata=\"sha256={0}\"",
                esc(d)
            );
        }
        let fragment = f
            .sha256
            .as_ref()
            .map(|h| format!("#sha256={h}"))
            .unwrap_or_default();
        let _ = writeln!(
            html,
            "<a href=\"{}{fragment}\"{attrs}>{}</a><br>",
            esc(&f.url),
            esc(&f.filename)
        );
    }
    html.push_str("</body></html>\n");
    let body = json!({
        "meta": {"api-version": "1.3"},
        "name": key,
        "files": json_files,
        "versions": versions,
    });
    negotiated(content_type, body, html)
}

/// The project list (`/simple/`), as JSON or HTML: each project linked by
/// its name, relative to the list.
pub(crate) fn render_index(names: &[String], content_type: &'static str) -> Rendered {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.3\"><title>Simple index</title></head><body>\n",
    );
    for k in names {
        let _ = writeln!(html, "<a href=\"{0}/\">{0}</a><br>", esc(k));
    }
    html.push_str("</body></html>\n");
    let projects: Vec<Value> = names.iter().map(|k| json!({ "name": k })).collect();
    let body = json!({ "meta": {"api-version": "1.3"}, "projects": projects });
    negotiated(content_type, body, html)
}

impl PypiApi {
    /// `GET /simple/`.
    pub(crate) async fn index(&self, req: &Request, repo: &str) -> PackageResult {
        let keys = self
            .packages
            .meta
            .search_packages(PYPI, repo, "", 100_000)
            .await?;
        Ok(render_index(&keys, representation(req)).respond(req))
    }

    /// `GET /simple/<project>/`, under any spelling that normalises the same.
    pub(crate) async fn project(&self, req: &Request, repo: &str, project: &str) -> PackageResult {
        let key = key(project)?;
        let content_type = representation(req);
        let variant = format!("{}\n{content_type}", req.base_url);
        let render =
            |pkg: &PackageRecord| Ok(self.render_project(req, repo, &key, pkg, content_type));
        match self
            .packages
            .rendered(PackageRef::new(PYPI, repo, &key), &variant, render)
            .await?
        {
            Some(rendered) => Ok(rendered.respond(req)),
            None => Err(PackageError::not_found(format!("no project {project}"))),
        }
    }

    /// A project's simple page, as JSON or HTML.
    fn render_project(
        &self,
        req: &Request,
        repo: &str,
        key: &str,
        pkg: &PackageRecord,
        content_type: &'static str,
    ) -> Rendered {
        let (files, versions) = project_files(req, repo, key, pkg);
        render_simple(&pkg.name, key, &files, &versions, content_type)
    }

    /// `GET /files/<project>/<wheel>.metadata`: the METADATA extracted at upload.
    pub(crate) async fn metadata_file(
        &self,
        repo: &str,
        project: &str,
        filename: &str,
    ) -> PackageResult {
        let key = key(project)?;
        let Some((file, state)) = self
            .packages
            .meta
            .package_file(PackageRef::new(PYPI, repo, &key), filename)
            .await?
        else {
            return Err(PackageError::not_found(format!("no file {filename}")));
        };
        let meta: Value = serde_json::from_str(&file.metadata).unwrap_or_default();
        let digest = meta
            .get("metadata_digest")
            .and_then(Value::as_str)
            .and_then(|d| d.parse::<Digest>().ok())
            .filter(|_| state.serves_bytes())
            .ok_or_else(|| PackageError::not_found(format!("no metadata for {filename}")))?;
        let bytes = self.packages.read_blob(&digest).await?;
        Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response())
    }
}

/// A hosted project's live files and versions, with file URLs under `repo`.
pub(crate) fn project_files(
    req: &Request,
    repo: &str,
    key: &str,
    pkg: &PackageRecord,
) -> (Vec<SimpleFile>, Vec<String>) {
    let base = format!("{}/pypi/{repo}/files/{key}", req.base_url);
    let mut files = Vec::new();
    let mut versions = Vec::new();
    for v in pkg.versions.iter().filter(|v| v.state.serves_bytes()) {
        versions.push(v.version.clone());
        let yanked =
            (v.state == VersionState::Yanked).then(|| v.message.clone().unwrap_or_default());
        for f in &v.files {
            let meta: Value = serde_json::from_str(&f.metadata).unwrap_or_default();
            files.push(SimpleFile {
                filename: f.filename.clone(),
                url: format!("{base}/{}", f.filename),
                sha256: Some(f.digest.hex().to_string()),
                requires_python: meta
                    .get("requires_python")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                size: Some(f.size),
                upload_time: Some(rfc3339(f.created_at)),
                yanked: yanked.clone(),
                core_metadata: meta
                    .get("metadata_digest")
                    .and_then(Value::as_str)
                    .and_then(|d| d.parse::<Digest>().ok())
                    .map(|d| d.hex().to_string()),
                provenance: meta.get("provenance").map(|_| {
                    format!(
                        "{}/pypi/{repo}/integrity/{key}/{}/{}/provenance",
                        req.base_url, v.version, f.filename
                    )
                }),
            });
        }
    }
    (files, versions)
}
