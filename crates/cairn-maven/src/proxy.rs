//! A Maven proxy repository: the Maven 2 layout from an upstream
//! repository (Maven Central, another cairn, a Nexus). Release files are
//! immutable: fetched once, checked against the upstream's `.sha1` when it
//! has one, never asked again. `maven-metadata.xml`, SNAPSHOT directories
//! and their checksums are documents: revalidated after their time to
//! live, stale when the upstream fails. The upstream's `Last-Modified` (an
//! artifact's publish time) is served as it was, for documents and files.
//! Under `removed_upstream = hide | purge`, a cached release file the
//! upstream no longer has is refused (and, for `purge`, dropped).

use crate::layout::{Checksum, MavenPath, Target};
use crate::MavenApi;
use cairn_packages::proxy::{Expect, Proxy, ProxyError, Refresh};
use cairn_packages::{proxy_refresh, PackageError, PackageResult, Request};

/// The layout path `path` names, below the repository.
pub(crate) fn layout_path(path: &MavenPath) -> String {
    let dir = |group: &str, artifact: &str| format!("{}/{artifact}", group.replace('.', "/"));
    let base = match &path.target {
        Target::File { gav, filename } => {
            format!(
                "{}/{}/{filename}",
                dir(&gav.group, &gav.artifact),
                gav.version
            )
        }
        Target::ArtifactMetadata { group, artifact } => {
            format!("{}/maven-metadata.xml", dir(group, artifact))
        }
        Target::SnapshotMetadata { gav } => format!(
            "{}/{}/maven-metadata.xml",
            dir(&gav.group, &gav.artifact),
            gav.version
        ),
    };
    match path.checksum {
        Some(c) => format!("{base}.{}", c.extension()),
        None => base,
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("pom" | "xml") => "application/xml",
        Some("jar" | "war" | "ear" | "aar") => "application/java-archive",
        Some("sha1" | "md5" | "sha256" | "sha512" | "asc") => "text/plain",
        _ => "application/octet-stream",
    }
}

impl MavenApi {
    /// Serves a GET from the proxy repository.
    pub(crate) async fn proxied(
        &self,
        req: &Request,
        proxy: &Proxy,
        path: &MavenPath,
    ) -> PackageResult {
        let rel = layout_path(path);
        let url = proxy.upstream().url(&rel);
        let key = format!("file/{rel}");
        let release_file = matches!(&path.target, Target::File { gav, .. } if !gav.is_snapshot());
        if !release_file {
            let doc = proxy.document(&key, &url, "", proxy_refresh(req)).await?;
            return Ok(self.packages.serve_document(&doc, content_type(&rel)));
        }
        // A release file, asked of the vulnerability policy like a hosted one.
        let fetch = self.proxied_release(proxy, path, &key, &url);
        match &path.target {
            Target::File { gav, .. } => {
                let pkg_key = gav.key();
                let pkg =
                    cairn_core::PackageRef::new(crate::MAVEN, &proxy.settings().name, &pkg_key);
                self.packages
                    .serve_proxied_version(req, pkg, &gav.version, proxy, &key, fetch)
                    .await
            }
            _ => fetch.await,
        }
    }

    async fn proxied_release(
        &self,
        proxy: &Proxy,
        path: &MavenPath,
        key: &str,
        url: &cairn_packages::proxy::Url,
    ) -> PackageResult {
        let (key, url, rel) = (key.to_string(), url.clone(), layout_path(path));
        if let Some(cached) = proxy.cached_file(&key).await? {
            // Under `removed_upstream = hide | purge`, a cached release file
            // the upstream no longer has is refused (and dropped).
            if proxy.checks_listing() && self.gone_upstream(proxy, path).await {
                proxy.unlisted(&key).await?;
            }
            return self.packages.serve_proxied(cached).await;
        }
        // A release file's bytes must match the upstream's SHA-1 when it
        // publishes one (Maven Central does for every file).
        let expect = match path.checksum {
            Some(_) => Expect::Nothing,
            None => self.upstream_sha1(proxy, &rel).await?,
        };
        let source = proxy.file(&key, &url, expect, content_type(&rel)).await?;
        self.packages.serve_proxied(source).await
    }

    /// Whether the upstream no longer has the release file `path`: its
    /// `maven-metadata.xml` does not list the version (or is gone), and the
    /// file's `.sha1` is gone too (metadata lags behind new releases on
    /// Maven Central, so an unlisted version is not proof). Both are asked
    /// as documents, so within their time to live the answer is the
    /// cache's. An upstream that cannot be asked removed nothing.
    async fn gone_upstream(&self, proxy: &Proxy, path: &MavenPath) -> bool {
        let Target::File { gav, filename } = &path.target else {
            return false;
        };
        let dir = format!("{}/{}", gav.group.replace('.', "/"), gav.artifact);
        let metadata = format!("{dir}/maven-metadata.xml");
        let listed = match proxy
            .document(
                &format!("file/{metadata}"),
                &proxy.upstream().url(&metadata),
                "",
                Refresh::IfExpired,
            )
            .await
        {
            Ok(doc) => String::from_utf8_lossy(&doc.bytes)
                .contains(&format!("<version>{}</version>", gav.version)),
            Err(ProxyError::NotFound(_)) => false,
            Err(_) => return false,
        };
        if listed {
            return false;
        }
        let sha1 = format!("{dir}/{}/{filename}.sha1", gav.version);
        matches!(
            proxy
                .document(
                    &format!("listing/{sha1}"),
                    &proxy.upstream().url(&sha1),
                    "",
                    Refresh::IfExpired,
                )
                .await,
            Err(ProxyError::NotFound(_))
        )
    }

    /// What the upstream's `.sha1` of `rel` says, cached like the file.
    async fn upstream_sha1(&self, proxy: &Proxy, rel: &str) -> PackageResult<Expect> {
        let sha1 = format!("{rel}.{}", Checksum::Sha1.extension());
        let url = proxy.upstream().url(&sha1);
        let source = match proxy
            .file(&format!("file/{sha1}"), &url, Expect::Nothing, "text/plain")
            .await
        {
            Ok(s) => s,
            Err(ProxyError::NotFound(_)) => return Ok(Expect::Nothing),
            Err(e) => return Err(e.into()),
        };
        let bytes = proxy.read_all(source).await?;
        // `<hex>` or `<hex>  <filename>`, as tools have written them.
        let text = String::from_utf8_lossy(&bytes);
        let hex = text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PackageError::Upstream(format!(
                "the upstream's {sha1} is not a SHA-1"
            )));
        }
        Ok(Expect::Sha1(hex))
    }
}
