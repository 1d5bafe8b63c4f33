//! A Cargo virtual repository: one sparse registry over hosted and proxy
//! members. An index file merges the members that may serve the crate (the
//! first member to have a version wins), leaves out versions the cooldown
//! holds (by the line's `pubtime`), and `config.json` points downloads at
//! the virtual repository, where each is decided by the same plan as the
//! index file.

use crate::endpoint::Endpoint;
use crate::proxy::line_of;
use crate::{crate_file, index_lines, key, CargoApi, CARGO};
use cairn_core::PackageRef;
use cairn_packages::{
    parse_rfc3339, proxy_refresh, Member, PackageError, PackageResult, Plan, Request, Source,
    Virtual,
};
use serde_json::Value;

impl CargoApi {
    /// Serves a read of the virtual repository `virt` (changes were routed
    /// to its publish target before they got here).
    pub(crate) async fn virtual_read(
        &self,
        req: &Request,
        virt: &Virtual,
        endpoint: Endpoint,
    ) -> PackageResult {
        match endpoint {
            Endpoint::Config => Ok(self.config(req, &virt.name)),
            Endpoint::IndexFile { name } => self.merged_index(req, virt, &name).await,
            Endpoint::Download { name, version } => {
                self.virtual_crate(req, virt, &name, &version).await
            }
            // What is searched and owned lives in the hosted members: the
            // publish target, else the first.
            Endpoint::Search | Endpoint::Owners { .. } => {
                let target = virt.publish_to.as_deref().or_else(|| {
                    virt.members
                        .iter()
                        .find(|m| m.is_hosted())
                        .map(|m| &*m.name)
                });
                if let Some(t) = target {
                    let p = &self.packages;
                    p.check(req, CARGO, t, None, cairn_core::Action::Read)
                        .await?;
                }
                match (target, endpoint) {
                    (Some(t), Endpoint::Search) => self.search(req, t).await,
                    (Some(t), Endpoint::Owners { name }) => self.owners(req, t, &name, &[]).await,
                    _ => Err(PackageError::not_found(format!(
                        "{} has no hosted member",
                        virt.repository()
                    ))),
                }
            }
            Endpoint::Publish
            | Endpoint::Yank { .. }
            | Endpoint::Unyank { .. }
            | Endpoint::ChangeOwners { .. } => {
                unreachable!("changes are routed to the publish target")
            }
        }
    }

    /// The merged index file of `name`, kept per sources' revisions.
    async fn merged_index(&self, req: &Request, virt: &Virtual, name: &str) -> PackageResult {
        let missing = || PackageError::not_found(format!("crate {name} not found"));
        let key = key(name).map_err(|_| missing())?;
        let plan = self.packages.plan(req, virt, &key).await?;
        let refresh = proxy_refresh(req);
        let sources = plan
            .sources(&format!("crate {name}"), |proxy| {
                self.index_lines(proxy, name, refresh)
            })
            .await?;
        let identity = plan.identity(&sources, &name.to_ascii_lowercase());
        let p = &self.packages;
        if let Some(kept) = p.composed_lookup(&identity, "text/plain") {
            return Ok(kept.respond(req));
        }
        let body = self.merge(&plan, name, &sources).await?;
        if body.is_empty() {
            return Err(missing());
        }
        Ok(
            p.composed_store(&identity, "text/plain", body.into_bytes().into())
                .respond(req),
        )
    }

    /// The members' index lines by precedence, without versions the
    /// cooldown holds.
    async fn merge(
        &self,
        plan: &Plan<'_>,
        name: &str,
        sources: &[Source<'_>],
    ) -> PackageResult<String> {
        let mut seen: Vec<String> = Vec::new();
        let mut body = String::new();
        for s in sources {
            let (member, text) = match s {
                Source::Hosted(m, _) => {
                    let pkg = PackageRef::new(CARGO, &m.name, &plan.key);
                    let Some(record) = self.packages.meta.package(pkg).await? else {
                        continue;
                    };
                    let Some(lines) = index_lines(&record, name) else {
                        continue;
                    };
                    (*m, lines)
                }
                Source::Proxy(m, doc) => (*m, String::from_utf8_lossy(&doc.bytes).into_owned()),
            };
            for line in text.lines() {
                let Ok(entry) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                let Some(version) = entry["vers"].as_str() else {
                    continue;
                };
                if seen.iter().any(|v| v == version) {
                    continue;
                }
                let published = entry["pubtime"].as_str().and_then(parse_rfc3339);
                if let Err(refusal) = plan.cooldown(member, version, published) {
                    self.packages.count_hidden(plan.virt, &refusal);
                    continue;
                }
                seen.push(version.to_string());
                body.push_str(line);
                body.push('\n');
            }
        }
        Ok(body)
    }

    /// A `.crate` through the virtual repository.
    async fn virtual_crate(
        &self,
        req: &Request,
        virt: &Virtual,
        name: &str,
        version: &str,
    ) -> PackageResult {
        let plan = self.packages.plan(req, virt, &key(name)?).await?;
        let file = crate_file(&plan.key, version);
        let key = &plan.key;
        let hosted = |m: &Member| {
            let m = m.name.clone();
            let file = file.clone();
            async move {
                let pkg = PackageRef::new(CARGO, &m, key);
                self.packages
                    .download(req, pkg, &file, "application/x-tar")
                    .await
            }
        };
        let listed = |proxy, refresh| async move {
            let lines = self.index_lines(proxy, name, refresh).await?;
            Ok(line_of(&lines.bytes, version).map(|line| {
                let published = line["pubtime"].as_str().and_then(parse_rfc3339);
                (version.to_string(), published)
            }))
        };
        let serve = |proxy| self.proxied_crate(req, proxy, name, version);
        self.packages
            .virtual_file(
                &plan,
                &format!("crate {name} {version}"),
                hosted,
                listed,
                serve,
            )
            .await
    }
}

#[async_trait::async_trait]
impl cairn_packages::UpstreamVersions for CargoApi {
    async fn upstream_version(
        &self,
        proxy: &cairn_packages::proxy::Proxy,
        name: &str,
        version: &str,
    ) -> PackageResult<Option<Option<i64>>> {
        let refresh = cairn_packages::proxy::Refresh::IfExpired;
        let lines = self.index_lines(proxy, name, refresh).await?;
        Ok(line_of(&lines.bytes, version)
            .map(|line| line["pubtime"].as_str().and_then(parse_rfc3339)))
    }
}
