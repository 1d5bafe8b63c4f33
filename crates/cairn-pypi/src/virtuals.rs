//! A PyPI virtual repository: one index URL over hosted and proxy members.
//! A project page merges the members that may serve the project (the first
//! member to have a file name wins), leaves out versions the cooldown holds
//! (a version's publish time is its earliest file's `upload-time`), and
//! points every file at the virtual repository, where a download is
//! decided by the same plan as the page.

use crate::endpoint::Endpoint;
use crate::proxy::{file_version, page_url, parse, ACCEPT};
use crate::simple::{project_files, render_simple, representation, SimpleFile};
use crate::{key, PypiApi, PYPI};
use cairn_core::PackageRef;
use cairn_packages::{
    parse_rfc3339, proxy_refresh, Member, PackageError, PackageResult, Plan, Request, Source,
    Virtual,
};
use std::collections::HashMap;

impl PypiApi {
    /// Serves a read of the virtual repository `virt` (uploads were routed
    /// to its publish target before they got here).
    pub(crate) async fn virtual_read(
        &self,
        req: &Request,
        virt: &Virtual,
        endpoint: Endpoint,
    ) -> PackageResult {
        match endpoint {
            Endpoint::Project { project } => self.merged_page(req, virt, &project).await,
            Endpoint::File { project, filename } => {
                self.virtual_file(req, virt, &project, &filename, false)
                    .await
            }
            Endpoint::Metadata { project, filename } => {
                self.virtual_file(req, virt, &project, &filename, true)
                    .await
            }
            Endpoint::Index => Err(PackageError::not_found(format!(
                "{} is a virtual repository: ask for /simple/<project>/, its project list is not served",
                virt.repository()
            ))),
            Endpoint::Provenance { .. } => Err(PackageError::not_found(format!(
                "{} is a virtual repository: a file's provenance is served by its hosted member (the simple page links there)",
                virt.repository()
            ))),
            Endpoint::Upload => unreachable!("uploads are routed to the publish target"),
        }
    }

    /// The merged simple page of `project`, kept per sources' revisions.
    async fn merged_page(&self, req: &Request, virt: &Virtual, project: &str) -> PackageResult {
        let key = key(project)?;
        let plan = self.packages.plan(req, virt, &key).await?;
        let refresh = proxy_refresh(req);
        let key_ref = &key;
        let sources = plan
            .sources(&format!("project {project}"), |proxy| async move {
                let url = page_url(proxy, key_ref);
                Ok(proxy
                    .document(&format!("simple/{key_ref}"), &url, ACCEPT, refresh)
                    .await?)
            })
            .await?;
        let content_type = representation(req);
        let identity = plan.identity(&sources, &format!("{}\n{content_type}", req.base_url));
        let p = &self.packages;
        let kept = match p.composed_lookup(&identity, content_type) {
            Some(kept) => kept,
            None => {
                let (files, versions) = self.merge(req, &plan, &sources).await?;
                let body = render_simple(&key, &key, &files, &versions, content_type).body;
                p.composed_store(&identity, content_type, body)
            }
        };
        let kept = kept.with_header(axum::http::header::VARY, "Accept");
        Ok(kept.respond(req))
    }

    /// The members' files by precedence (the first to have a file name
    /// wins), without versions the cooldown holds; URLs through `virt`.
    async fn merge(
        &self,
        req: &Request,
        plan: &Plan<'_>,
        sources: &[Source<'_>],
    ) -> PackageResult<(Vec<SimpleFile>, Vec<String>)> {
        let virt = plan.virt;
        let base = format!("{}/pypi/{}/files/{}", req.base_url, virt.name, plan.key);
        let mut files: Vec<SimpleFile> = Vec::new();
        let mut versions: Vec<String> = Vec::new();
        for s in sources {
            let (member, their_files) = match s {
                Source::Hosted(m, _) => {
                    let pkg = PackageRef::new(PYPI, &m.name, &plan.key);
                    let Some(record) = self.packages.meta.package(pkg).await? else {
                        continue;
                    };
                    (*m, project_files(req, &virt.name, &plan.key, &record).0)
                }
                Source::Proxy(m, doc) => {
                    let proxy = m.proxy.as_ref().expect("a proxy member");
                    let page = parse(&plan.key, doc, &page_url(proxy, &plan.key))?;
                    (*m, page.files)
                }
            };
            let published = published_by_version(&their_files);
            let mut held = Vec::new();
            for f in their_files {
                if files.iter().any(|g| g.filename == f.filename) {
                    continue;
                }
                let Some(version) = file_version(&f.filename) else {
                    continue;
                };
                if held.contains(&version) {
                    continue;
                }
                if let Err(refusal) =
                    plan.cooldown(member, &version, published.get(&version).copied().flatten())
                {
                    self.packages.count_hidden(virt, &refusal);
                    held.push(version);
                    continue;
                }
                if !versions.contains(&version) {
                    versions.push(version);
                }
                files.push(SimpleFile {
                    url: format!("{base}/{}", f.filename),
                    ..f
                });
            }
        }
        Ok((files, versions))
    }

    /// A file (or its PEP 658 metadata) through the virtual repository.
    async fn virtual_file(
        &self,
        req: &Request,
        virt: &Virtual,
        project: &str,
        filename: &str,
        metadata: bool,
    ) -> PackageResult {
        let key = key(project)?;
        let plan = self.packages.plan(req, virt, &key).await?;
        let key = &plan.key;
        let hosted = |m: &Member| {
            let m = m.name.clone();
            async move {
                if metadata {
                    self.metadata_file(&m, key, filename).await
                } else {
                    let pkg = PackageRef::new(PYPI, &m, key);
                    self.packages
                        .download(req, pkg, filename, "application/octet-stream")
                        .await
                }
            }
        };
        let listed = |proxy, refresh| async move {
            let (_, page) = self.upstream_page(proxy, key, refresh).await?;
            if !page.files.iter().any(|f| f.filename == filename) {
                return Ok(None);
            }
            let Some(version) = file_version(filename) else {
                return Ok(None);
            };
            let published = published_by_version(&page.files)
                .get(&version)
                .copied()
                .flatten();
            Ok(Some((version, published)))
        };
        let serve = |proxy| self.proxied_file(req, proxy, key, filename, metadata);
        self.packages
            .virtual_file(&plan, &format!("file {filename}"), hosted, listed, serve)
            .await
    }
}

/// Each version's publish time: its earliest file's `upload-time` (`None`
/// when a file of it has none).
fn published_by_version(files: &[SimpleFile]) -> HashMap<String, Option<i64>> {
    let mut out: HashMap<String, Option<i64>> = HashMap::new();
    for f in files {
        let Some(version) = file_version(&f.filename) else {
            continue;
        };
        let t = f.upload_time.as_deref().and_then(parse_rfc3339);
        out.entry(version)
            .and_modify(|e| {
                *e = match (*e, t) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    _ => None,
                }
            })
            .or_insert(t);
    }
    out
}

#[async_trait::async_trait]
impl cairn_packages::UpstreamVersions for PypiApi {
    async fn upstream_version(
        &self,
        proxy: &cairn_packages::proxy::Proxy,
        name: &str,
        version: &str,
    ) -> PackageResult<Option<Option<i64>>> {
        let refresh = cairn_packages::proxy::Refresh::IfExpired;
        let (_, page) = self.upstream_page(proxy, &key(name)?, refresh).await?;
        Ok(published_by_version(&page.files).get(version).copied())
    }
}
