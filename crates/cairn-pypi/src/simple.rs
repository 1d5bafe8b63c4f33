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
fn representation(req: &Request) -> &'static str {
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

impl PypiApi {
    /// `GET /simple/`.
    pub(crate) async fn index(&self, req: &Request, repo: &str) -> PackageResult {
        let keys = self
            .packages
            .meta
            .search_packages(PYPI, repo, "", 100_000)
            .await?;
        let mut html = String::from(
            "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.1\"><title>Simple index</title></head><body>\n",
        );
        for k in &keys {
            let _ = writeln!(html, "<a href=\"{0}/\">{0}</a><br>", esc(k));
        }
        html.push_str("</body></html>\n");
        let projects: Vec<Value> = keys.iter().map(|k| json!({ "name": k })).collect();
        let body = json!({ "meta": {"api-version": "1.1"}, "projects": projects });
        Ok(negotiated(representation(req), body, html).respond(req))
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
        let base = format!("{}/pypi/{repo}/files/{key}", req.base_url);
        let mut files = Vec::new();
        let mut versions = Vec::new();
        let mut html = format!(
            "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.1\"><title>Links for {0}</title></head><body><h1>Links for {0}</h1>\n",
            esc(&pkg.name)
        );
        for v in pkg.versions.iter().filter(|v| v.state.serves_bytes()) {
            versions.push(v.version.clone());
            let yanked =
                (v.state == VersionState::Yanked).then(|| v.message.clone().unwrap_or_default());
            for f in &v.files {
                let meta: Value = serde_json::from_str(&f.metadata).unwrap_or_default();
                let url = format!("{base}/{}", f.filename);
                let requires_python = meta.get("requires_python").and_then(Value::as_str);
                let core = meta
                    .get("metadata_digest")
                    .and_then(Value::as_str)
                    .and_then(|d| d.parse::<Digest>().ok());
                files.push(json!({
                    "filename": f.filename,
                    "url": url,
                    "hashes": {"sha256": f.digest.hex()},
                    "requires-python": requires_python,
                    "size": f.size,
                    "upload-time": rfc3339(f.created_at),
                    "yanked": match &yanked { Some(r) if !r.is_empty() => json!(r), Some(_) => json!(true), None => json!(false) },
                    "core-metadata": core.as_ref().map_or(json!(false), |d| json!({"sha256": d.hex()})),
                    "data-dist-info-metadata": core.as_ref().map_or(json!(false), |d| json!({"sha256": d.hex()})),
                }));
                let mut attrs = String::new();
                if let Some(rp) = requires_python {
                    let _ = write!(attrs, " data-requires-python=\"{}\"", esc(rp));
                }
                if let Some(r) = &yanked {
                    let _ = write!(attrs, " data-yanked=\"{}\"", esc(r));
                }
                if let Some(d) = &core {
                    let _ = write!(
                        attrs,
                        " data-core-metadata=\"sha256={0}\" data-dist-info-metadata=\"sha256={0}\"",
                        d.hex()
                    );
                }
                let _ = writeln!(
                    html,
                    "<a href=\"{}#sha256={}\"{attrs}>{}</a><br>",
                    esc(&url),
                    f.digest.hex(),
                    esc(&f.filename)
                );
            }
        }
        html.push_str("</body></html>\n");
        let body = json!({
            "meta": {"api-version": "1.1"},
            "name": key,
            "files": files,
            "versions": versions,
        });
        negotiated(content_type, body, html)
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
