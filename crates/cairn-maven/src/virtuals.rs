//! A Maven virtual repository: one repository URL over hosted and proxy
//! members. Artifact-level `maven-metadata.xml` merges the members that may
//! serve the artifact, with `latest` and `release` recomputed in Maven's
//! version order; files, checksums and SNAPSHOT metadata come from the
//! first member of the same plan that has them. Maven repositories give no
//! per-version publish time, so the cooldown measures from when cairn first
//! saw a version (`ProxyStore::versions_seen`; the first listing is the
//! baseline).

use crate::endpoint::Place;
use crate::layout::{MavenPath, Target};
use crate::proxy::layout_path;
use crate::{metadata, MavenApi};
use axum::response::IntoResponse;
use cairn_packages::proxy::Proxy;
use cairn_packages::{
    proxy_refresh, Member, PackageError, PackageResult, Request, Source, Virtual,
};

impl MavenApi {
    /// Serves a GET of the virtual repository `virt` (deploys were routed
    /// to its publish target before they got here).
    pub(crate) async fn virtual_get(
        &self,
        req: &Request,
        virt: &Virtual,
        place: &Place,
        key: &str,
        path: &MavenPath,
    ) -> PackageResult {
        if place.staging.is_some() {
            return Err(PackageError::not_found(format!(
                "{} is a virtual repository: read staging repositories from the hosted repository",
                virt.repository()
            )));
        }
        match &path.target {
            Target::ArtifactMetadata { group, artifact } => {
                self.merged_metadata(req, virt, key, group, artifact, path)
                    .await
            }
            Target::File { gav, .. } | Target::SnapshotMetadata { gav } => {
                self.virtual_file(req, virt, key, &gav.version, path).await
            }
        }
    }

    async fn merged_metadata(
        &self,
        req: &Request,
        virt: &Virtual,
        key: &str,
        group: &str,
        artifact: &str,
        path: &MavenPath,
    ) -> PackageResult {
        let plan = self.packages.plan(req, virt, key).await?;
        let document = MavenPath {
            target: path.target.clone(),
            checksum: None,
        };
        let rel = layout_path(&document);
        let refresh = proxy_refresh(req);
        let sources = plan
            .sources(&format!("artifact {key}"), |proxy| {
                upstream_metadata(proxy, &rel, refresh)
            })
            .await?;
        let identity = plan.identity(&sources, "artifact metadata");
        let p = &self.packages;
        let xml = match p.composed_lookup(&identity, "application/xml") {
            Some(kept) => kept,
            None => {
                let mut merged: Vec<String> = Vec::new();
                for s in &sources {
                    let (member, listed) = match s {
                        Source::Hosted(m, _) => {
                            let place = Place {
                                repository: m.name.clone(),
                                staging: None,
                            };
                            let resp = self.serve(req, &place, key, &document).await?;
                            let body = axum::body::to_bytes(resp.into_body(), 16 << 20)
                                .await
                                .map_err(|e| PackageError::internal(e.to_string()))?;
                            (*m, metadata::listed_versions(&body))
                        }
                        Source::Proxy(m, doc) => (*m, metadata::listed_versions(&doc.bytes)),
                    };
                    p.merge_by_first_sight(&plan, member, key, listed, &mut merged)
                        .await?;
                }
                if merged.is_empty() {
                    return Err(PackageError::not_found(format!(
                        "no artifact {key}: every version is held back by {}'s cooldown",
                        virt.repository()
                    )));
                }
                let xml = metadata::merged_level(group, artifact, &merged, cairn_packages::now());
                p.composed_store(&identity, "application/xml", xml.into())
            }
        };
        match path.checksum {
            Some(alg) => Ok((
                [(axum::http::header::CONTENT_TYPE, "text/plain")],
                alg.of(&xml.body),
            )
                .into_response()),
            None => Ok(xml.respond(req)),
        }
    }

    /// A file, a checksum or SNAPSHOT metadata of `version` through the
    /// virtual repository.
    async fn virtual_file(
        &self,
        req: &Request,
        virt: &Virtual,
        key: &str,
        version: &str,
        path: &MavenPath,
    ) -> PackageResult {
        let plan = self.packages.plan(req, virt, key).await?;
        let hosted = |m: &Member| {
            let place = Place {
                repository: m.name.clone(),
                staging: None,
            };
            async move { self.serve(req, &place, key, path).await }
        };
        let listed = |proxy: &Proxy, _refresh| {
            let repository = proxy.repository().to_string();
            async move {
                let seen = self.packages.first_seen(&repository, key, version).await?;
                Ok(Some((version.to_string(), Some(seen))))
            }
        };
        let serve = |proxy| self.proxied(req, proxy, path);
        self.packages
            .virtual_file(&plan, &format!("{key} {version}"), hosted, listed, serve)
            .await
    }
}

/// The upstream's document at `rel` (artifact-level metadata).
async fn upstream_metadata(
    proxy: &Proxy,
    rel: &str,
    refresh: cairn_packages::proxy::Refresh,
) -> PackageResult<cairn_packages::proxy::Document> {
    let url = proxy.upstream().url(rel);
    Ok(proxy
        .document(&format!("file/{rel}"), &url, "", refresh)
        .await?)
}

#[async_trait::async_trait]
impl cairn_packages::UpstreamVersions for MavenApi {
    /// Listed when the upstream's `maven-metadata.xml` has it; its time is
    /// when cairn first saw it.
    async fn upstream_version(
        &self,
        proxy: &Proxy,
        name: &str,
        version: &str,
    ) -> PackageResult<Option<Option<i64>>> {
        let key = cairn_core::package_key(cairn_core::Format::Maven, name)
            .map_err(|e| PackageError::bad(e.to_string()))?;
        let (group, artifact) = key.split_once(':').unwrap_or((&key, ""));
        let rel = format!("{}/{artifact}/maven-metadata.xml", group.replace('.', "/"));
        let refresh = cairn_packages::proxy::Refresh::IfExpired;
        let doc = upstream_metadata(proxy, &rel, refresh).await?;
        let listed = metadata::listed_versions(&doc.bytes);
        self.packages
            .first_seen_listed(proxy, &key, &listed, version)
            .await
    }
}
