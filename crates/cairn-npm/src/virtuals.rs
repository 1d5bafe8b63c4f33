//! An npm virtual repository: one registry URL over hosted and proxy
//! members. A packument merges the members that may serve the name (the
//! first member to have a version or a dist-tag wins), leaves out versions
//! the cooldown holds, and points every tarball at the virtual repository,
//! where a download is decided by the same plan as the listing.

use crate::endpoint::Endpoint;
use crate::proxy::{basename, parse_packument, rewrite_tarball};
use crate::{key, NpmApi, NPM};
use axum::response::IntoResponse;
use axum::Json;
use cairn_core::PackageRef;
use cairn_packages::{
    parse_rfc3339, proxy_refresh, Member, PackageError, PackageResult, Plan, Rendered, Request,
    Source, Virtual,
};
use serde_json::{json, Map, Value};

impl NpmApi {
    /// Serves a read of the virtual repository `virt` (changes were routed
    /// to its publish target before they got here).
    pub(crate) async fn virtual_read(
        &self,
        req: &Request,
        virt: &Virtual,
        endpoint: Endpoint,
    ) -> PackageResult {
        use Endpoint as E;
        match endpoint {
            E::Packument { name } => Ok(self.merged(req, virt, &name).await?.respond(req)),
            E::Version { name, version } => {
                let merged = self.merged_value(req, virt, &name).await?;
                let wanted = merged["dist-tags"][&version]
                    .as_str()
                    .unwrap_or(&version)
                    .to_string();
                match merged["versions"].get(&wanted) {
                    Some(manifest) => Ok(Json(manifest.clone()).into_response()),
                    None => Err(PackageError::not_found(format!(
                        "version not found: {name}@{version}"
                    ))),
                }
            }
            E::DistTags { name } => {
                let merged = self.merged_value(req, virt, &name).await?;
                Ok(Json(merged["dist-tags"].clone()).into_response())
            }
            E::Tarball { name, file } => self.virtual_tarball(req, virt, &name, &file).await,
            E::Attestations { name, version } => {
                let plan = self.packages.plan(req, virt, &key(&name)?).await?;
                for m in plan.members.iter().filter(|m| m.is_hosted()) {
                    match self.attestations(&m.name, &name, &version).await {
                        Err(PackageError::NotFound(_)) => continue,
                        other => return other,
                    }
                }
                Err(PackageError::not_found(format!(
                    "no attestations for {name}@{version}"
                )))
            }
            E::Search => self.virtual_search(req, virt).await,
            E::Keys | E::Visibility { .. } => Err(PackageError::not_found(
                "a virtual repository has no signing keys or visibility of its own: ask its members",
            )),
            E::Ping | E::Whoami => unreachable!("served as in a hosted repository"),
            E::PutPackage { .. }
            | E::UnpublishPackage { .. }
            | E::TarballRev { .. }
            | E::DistTag { .. } => unreachable!("changes are routed to the publish target"),
        }
    }

    /// Search: the members' results in order (hosted members' from the
    /// store, proxies' from their upstreams), each name once, and no name
    /// from a proxy that is owned here.
    async fn virtual_search(&self, req: &Request, virt: &Virtual) -> PackageResult {
        let mut objects: Vec<Value> = Vec::new();
        let principal = &req.auth.principal;
        for m in &virt.members {
            let p = &self.packages;
            if p.decide(principal, NPM, &m.name, None, cairn_core::Action::Read)
                .is_err()
            {
                continue;
            }
            let found = match &m.proxy {
                None => {
                    let resp = self.search(req, &m.name).await?;
                    let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
                        .await
                        .map_err(|e| PackageError::internal(e.to_string()))?;
                    serde_json::from_slice::<Value>(&body).unwrap_or_default()
                }
                Some(proxy) => match self.search_doc(req, proxy).await {
                    Ok(doc) => serde_json::from_slice::<Value>(&doc.bytes).unwrap_or_default(),
                    // A failing upstream leaves its results out.
                    Err(_) => continue,
                },
            };
            for o in found["objects"].as_array().into_iter().flatten() {
                let Some(name) = o["package"]["name"].as_str() else {
                    continue;
                };
                if objects.iter().any(|x| x["package"]["name"] == name) {
                    continue;
                }
                if !m.is_hosted() {
                    let Ok(key) = key(name) else { continue };
                    let plan = p.plan(req, virt, &key).await?;
                    if !plan.members.iter().any(|x| x.name == m.name) {
                        continue;
                    }
                }
                objects.push(o.clone());
            }
        }
        let total = objects.len();
        Ok(Json(json!({
            "objects": objects,
            "total": total,
            "time": cairn_packages::rfc3339(cairn_packages::now()),
        }))
        .into_response())
    }

    /// The merged packument of `name`, cached per sources' revisions.
    async fn merged(&self, req: &Request, virt: &Virtual, name: &str) -> PackageResult<Rendered> {
        let plan = self.packages.plan(req, virt, &key(name)?).await?;
        let refresh = proxy_refresh(req);
        let sources = plan
            .sources(&format!("package {name}"), |proxy| {
                self.packument_doc(proxy, name, refresh)
            })
            .await?;
        let identity = plan.identity(&sources, &req.base_url);
        let p = &self.packages;
        if let Some(kept) = p.composed_lookup(&identity, "application/json") {
            return Ok(kept);
        }
        let mut hosted = Vec::new();
        for s in &sources {
            if let Source::Hosted(m, _) = s {
                let pkg = p.meta.package(PackageRef::new(NPM, &m.name, &plan.key));
                hosted.push((m.name.clone(), pkg.await?));
            }
        }
        let merged = self.merge(req, &plan, name, &sources, &hosted)?;
        Ok(p.composed_store(&identity, "application/json", merged.to_string().into()))
    }

    async fn merged_value(
        &self,
        req: &Request,
        virt: &Virtual,
        name: &str,
    ) -> PackageResult<Value> {
        let rendered = self.merged(req, virt, name).await?;
        serde_json::from_slice(&rendered.body)
            .map_err(|e| PackageError::internal(format!("merged packument: {e}")))
    }

    /// Merges the members' packuments: versions and dist-tags by
    /// precedence, versions the cooldown holds left out, `latest` moved to
    /// the newest version served when its own is left out.
    fn merge(
        &self,
        req: &Request,
        plan: &Plan<'_>,
        name: &str,
        sources: &[Source<'_>],
        hosted: &[(String, Option<cairn_store::PackageRecord>)],
    ) -> PackageResult<Value> {
        let virt = plan.virt;
        let mut top: Option<Map<String, Value>> = None;
        let mut versions = Map::new();
        let mut time = Map::new();
        let mut tags = Map::new();
        let mut held = 0;
        for s in sources {
            let (member, mut doc) = match s {
                Source::Hosted(m, _) => {
                    let Some(Some(pkg)) = hosted.iter().find(|(n, _)| *n == m.name).map(|(_, p)| p)
                    else {
                        continue;
                    };
                    match self.packument(req, &virt.name, pkg, false) {
                        Ok((doc, _)) => (*m, doc),
                        // Every version unpublished: nothing from here.
                        Err(PackageError::NotFound(_)) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Source::Proxy(m, doc) => {
                    let mut packument = parse_packument(name, doc)?;
                    if let Some(vs) = packument["versions"].as_object_mut() {
                        for manifest in vs.values_mut() {
                            rewrite_tarball(manifest, &req.base_url, &virt.name, name);
                        }
                    }
                    (*m, packument)
                }
            };
            let Some(obj) = doc.as_object_mut() else {
                continue;
            };
            let doc_versions = obj.remove("versions").unwrap_or_default();
            let doc_time = obj.remove("time").unwrap_or_default();
            let doc_tags = obj.remove("dist-tags").unwrap_or_default();
            let mut taken = Vec::new();
            for (version, manifest) in doc_versions.as_object().into_iter().flatten() {
                if versions.contains_key(version) {
                    continue;
                }
                let published = doc_time[version].as_str().and_then(parse_rfc3339);
                if let Err(refusal) = plan.cooldown(member, version, published) {
                    self.packages.count_hidden(virt, &refusal);
                    held += 1;
                    continue;
                }
                versions.insert(version.clone(), manifest.clone());
                if let Some(t) = doc_time.get(version) {
                    time.insert(version.clone(), t.clone());
                }
                taken.push(version.clone());
            }
            for (tag, version) in doc_tags.as_object().into_iter().flatten() {
                let points_here = version
                    .as_str()
                    .is_some_and(|v| taken.iter().any(|t| t == v));
                if points_here && !tags.contains_key(tag) {
                    tags.insert(tag.clone(), version.clone());
                }
            }
            for stamp in ["created", "modified"] {
                let theirs = doc_time.get(stamp).and_then(Value::as_str);
                let ours = time.get(stamp).and_then(Value::as_str);
                let pick = match (theirs, ours) {
                    (Some(t), Some(o)) if (stamp == "created") == (t < o) => Some(t),
                    (Some(t), None) => Some(t),
                    _ => None,
                };
                if let Some(p) = pick {
                    time.insert(stamp.into(), json!(p));
                }
            }
            if top.is_none() {
                top = Some(std::mem::take(obj));
            }
        }
        if versions.is_empty() {
            return Err(PackageError::not_found(format!(
                "package {name} not found: {held} version(s) held back by {}'s cooldown",
                virt.repository()
            )));
        }
        if !tags.contains_key("latest") {
            if let Some(latest) = newest(versions.keys()) {
                tags.insert("latest".into(), json!(latest));
            }
        }
        let mut out = top.unwrap_or_default();
        out.remove("_rev");
        out.insert("_id".into(), json!(name));
        out.insert("name".into(), json!(name));
        out.insert("dist-tags".into(), Value::Object(tags));
        out.insert("versions".into(), Value::Object(versions));
        out.insert("time".into(), Value::Object(time));
        Ok(Value::Object(out))
    }

    /// A tarball through the virtual repository: from the first member in
    /// the plan that has it, if the cooldown lets its version through.
    async fn virtual_tarball(
        &self,
        req: &Request,
        virt: &Virtual,
        name: &str,
        file: &str,
    ) -> PackageResult {
        let plan = self.packages.plan(req, virt, &key(name)?).await?;
        let hosted = |m: &Member| {
            let m = m.name.clone();
            let key = plan.key.clone();
            async move {
                let pkg = PackageRef::new(NPM, &m, &key);
                self.packages
                    .download(req, pkg, file, "application/octet-stream")
                    .await
            }
        };
        let listed = |proxy, refresh| async move {
            let (_, packument) = self.upstream_packument(proxy, name, refresh).await?;
            let version = packument["versions"].as_object().and_then(|vs| {
                vs.iter().find_map(|(v, manifest)| {
                    (manifest["dist"]["tarball"].as_str().map(basename) == Some(file))
                        .then(|| v.clone())
                })
            });
            Ok(version.map(|v| {
                let published = packument["time"][&v].as_str().and_then(parse_rfc3339);
                (v, published)
            }))
        };
        let serve = |proxy| self.proxied_tarball(req, proxy, name, file);
        self.packages
            .virtual_file(
                &plan,
                &format!("tarball {file} of {name}"),
                hosted,
                listed,
                serve,
            )
            .await
    }
}

/// The newest version by semver: stable releases first, then prereleases.
fn newest<'a>(versions: impl Iterator<Item = &'a String>) -> Option<&'a String> {
    let parsed: Vec<(semver::Version, &String)> = versions
        .filter_map(|v| semver::Version::parse(v).ok().map(|p| (p, v)))
        .collect();
    parsed
        .iter()
        .filter(|(p, _)| p.pre.is_empty())
        .max_by(|a, b| a.0.cmp(&b.0))
        .or_else(|| parsed.iter().max_by(|a, b| a.0.cmp(&b.0)))
        .map(|(_, v)| *v)
}

#[async_trait::async_trait]
impl cairn_packages::UpstreamVersions for NpmApi {
    async fn upstream_version(
        &self,
        proxy: &cairn_packages::proxy::Proxy,
        name: &str,
        version: &str,
    ) -> PackageResult<Option<Option<i64>>> {
        let refresh = cairn_packages::proxy::Refresh::IfExpired;
        let (_, packument) = self.upstream_packument(proxy, name, refresh).await?;
        Ok(packument["versions"]
            .get(version)
            .map(|_| packument["time"][version].as_str().and_then(parse_rfc3339)))
    }
}
