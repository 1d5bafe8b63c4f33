//! Reading: packuments (full, and abbreviated for
//! `application/vnd.npm.install-v1+json`), single versions, search and
//! provenance attestations.

use crate::{key, NpmApi, NPM};
use axum::response::IntoResponse;
use axum::Json;
use cairn_core::PackageRef;
use cairn_core::VersionState;
use cairn_packages::{rfc3339, PackageError, PackageResult, Rendered, Request};
use cairn_store::{PackageRecord, VersionRecord};
use serde_json::{json, Map, Value};

/// The media type of abbreviated packuments (what `npm install` asks for).
pub const ABBREVIATED: &str = "application/vnd.npm.install-v1+json";

/// Fields an abbreviated packument keeps of each version.
const ABBREVIATED_FIELDS: &[&str] = &[
    "name",
    "version",
    "dependencies",
    "optionalDependencies",
    "devDependencies",
    "bundleDependencies",
    "bundledDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "acceptDependencies",
    "bin",
    "directories",
    "dist",
    "engines",
    "cpu",
    "os",
    "libc",
    "funding",
    "_hasShrinkwrap",
    "hasInstallScript",
    "deprecated",
];

/// The tarball file name npm uses: `<bare name>-<version>.tgz`.
pub fn tarball_name(name: &str, version: &str) -> String {
    let bare = name.rsplit('/').next().unwrap_or(name);
    format!("{bare}-{version}.tgz")
}

/// The attached provenance bundle's file name.
pub fn sigstore_name(name: &str, version: &str) -> String {
    let bare = name.rsplit('/').next().unwrap_or(name);
    format!("{bare}-{version}.sigstore")
}

/// Versions in semver order (unparseable ones first, by text).
pub fn semver_sorted(versions: &[VersionRecord]) -> Vec<&VersionRecord> {
    let mut v: Vec<&VersionRecord> = versions.iter().collect();
    v.sort_by(|a, b| {
        let pa = semver::Version::parse(&a.version).ok();
        let pb = semver::Version::parse(&b.version).ok();
        pa.cmp(&pb).then_with(|| a.version.cmp(&b.version))
    });
    v
}

impl NpmApi {
    /// A package with at least one live version, or npm's 404.
    pub(crate) async fn live_package(
        &self,
        repo: &str,
        name: &str,
    ) -> PackageResult<PackageRecord> {
        let key = key(name)?;
        match self
            .packages
            .meta
            .package(PackageRef::new(NPM, repo, &key))
            .await?
        {
            Some(p) if p.versions.iter().any(|v| v.state.serves_bytes()) => Ok(p),
            _ => Err(PackageError::not_found(format!("package {name} not found"))),
        }
    }

    /// One version's manifest as clients see it: the stored document with
    /// `dist.tarball` for this request's base URL and the deprecation.
    fn render_version(
        &self,
        req: &Request,
        repo: &str,
        pkg: &PackageRecord,
        v: &VersionRecord,
    ) -> Value {
        let mut doc: Value = serde_json::from_str(&v.metadata).unwrap_or_else(|_| json!({}));
        let file = tarball_name(&pkg.name, &v.version);
        let obj = doc
            .as_object_mut()
            .expect("stored version documents are objects");
        let dist = obj.entry("dist").or_insert_with(|| json!({}));
        dist["tarball"] = json!(format!("{}/npm/{repo}/{}/-/{file}", req.base_url, pkg.name));
        if let (Some(keys), Some(integrity)) = (
            self.registry_keys(),
            dist.get("integrity").and_then(Value::as_str),
        ) {
            if let Some(signatures) =
                crate::signing::dist_signatures(&keys, &pkg.name, &v.version, integrity)
            {
                dist["signatures"] = signatures;
            }
        }
        if v.files
            .iter()
            .any(|f| f.filename == sigstore_name(&pkg.name, &v.version))
        {
            dist["attestations"] = json!({
                "url": format!("{}/npm/{repo}/-/npm/v1/attestations/{}@{}", req.base_url, pkg.name, v.version),
                "provenance": {"predicateType": "https://slsa.dev/provenance/v1"},
            });
        }
        if v.state == VersionState::Deprecated {
            obj.insert(
                "deprecated".into(),
                json!(v.message.clone().unwrap_or_default()),
            );
        }
        doc
    }

    pub(crate) async fn get_packument(
        &self,
        req: &Request,
        repo: &str,
        name: &str,
    ) -> PackageResult {
        let key = key(name)?;
        let abbreviated = req.accepts(ABBREVIATED);
        // A new signing key renders again (the cached documents' signatures
        // are the previous key's).
        let keyid = self
            .registry_keys()
            .map(|k| k.signing_keyid().to_string())
            .unwrap_or_default();
        let variant = format!("{}\n{abbreviated}\n{keyid}", req.base_url);
        let render = |pkg: &PackageRecord| self.render_packument(req, repo, pkg, abbreviated);
        match self
            .packages
            .rendered(PackageRef::new(NPM, repo, &key), &variant, render)
            .await?
        {
            Some(rendered) => Ok(rendered.respond(req)),
            None => Err(PackageError::not_found(format!("package {name} not found"))),
        }
    }

    /// The packument (full, or abbreviated for installs) of a package.
    fn render_packument(
        &self,
        req: &Request,
        repo: &str,
        pkg: &PackageRecord,
        abbreviated: bool,
    ) -> PackageResult<Rendered> {
        let (body, etag) = self.packument(req, repo, pkg, abbreviated)?;
        let content_type = if abbreviated {
            ABBREVIATED
        } else {
            "application/json"
        };
        Ok(Rendered::new(content_type, Some(etag), body.to_string()))
    }

    /// A package's packument with its tarballs under `repo`, and its ETag.
    pub(crate) fn packument(
        &self,
        req: &Request,
        repo: &str,
        pkg: &PackageRecord,
        abbreviated: bool,
    ) -> PackageResult<(Value, String)> {
        let live: Vec<&VersionRecord> = semver_sorted(&pkg.versions)
            .into_iter()
            .filter(|v| v.state.serves_bytes())
            .collect();
        if live.is_empty() {
            return Err(PackageError::not_found(format!(
                "package {} not found",
                pkg.name
            )));
        }
        let modified = pkg
            .versions
            .iter()
            .map(|v| v.changed_at)
            .max()
            .unwrap_or(pkg.created_at);
        // The revision moves with every change, dist-tags included.
        let rev = format!("{}-{:x}", pkg.revision, modified);
        let etag = format!("W/\"{rev}{}\"", if abbreviated { "-a" } else { "" });
        let mut versions = Map::new();
        for v in &live {
            let mut doc = self.render_version(req, repo, pkg, v);
            if abbreviated {
                let full = doc.as_object().cloned().unwrap_or_default();
                doc = Value::Object(
                    full.into_iter()
                        .filter(|(k, _)| ABBREVIATED_FIELDS.contains(&k.as_str()))
                        .collect(),
                );
            }
            versions.insert(v.version.clone(), doc);
        }
        let body = if abbreviated {
            json!({
                "name": pkg.name,
                "modified": rfc3339(modified),
                "dist-tags": pkg.tags,
                "versions": versions,
            })
        } else {
            let mut time = Map::new();
            time.insert("created".into(), json!(rfc3339(pkg.created_at)));
            time.insert("modified".into(), json!(rfc3339(modified)));
            for v in &live {
                time.insert(v.version.clone(), json!(rfc3339(v.published_at)));
            }
            let latest = pkg.tags.get("latest").and_then(|l| versions.get(l));
            let field = |f: &str| {
                latest
                    .and_then(|l| l.get(f))
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            json!({
                "_id": pkg.name,
                "_rev": rev,
                "name": pkg.name,
                "description": field("description"),
                "dist-tags": pkg.tags,
                "versions": versions,
                "time": time,
                "readme": field("readme"),
                "license": field("license"),
            })
        };
        Ok((body, etag))
    }

    /// `GET /<name>/<version or dist-tag>`.
    pub(crate) async fn get_version(
        &self,
        req: &Request,
        repo: &str,
        name: &str,
        wanted: &str,
    ) -> PackageResult {
        let pkg = self.live_package(repo, name).await?;
        let version = pkg.tags.get(wanted).map(String::as_str).unwrap_or(wanted);
        match pkg.version(version).filter(|v| v.state.serves_bytes()) {
            Some(v) => Ok(Json(self.render_version(req, repo, &pkg, v)).into_response()),
            None => Err(PackageError::not_found(format!(
                "version not found: {name}@{wanted}"
            ))),
        }
    }

    /// `GET /-/v1/search?text=&size=&from=`.
    pub(crate) async fn search(&self, req: &Request, repo: &str) -> PackageResult {
        let text = req.query("text").unwrap_or_default();
        let size: u32 = req
            .query("size")
            .and_then(|s| s.parse().ok())
            .unwrap_or(20)
            .min(250);
        let from: usize = req.query("from").and_then(|s| s.parse().ok()).unwrap_or(0);
        let keys = self
            .packages
            .meta
            .search_packages(NPM, repo, text.trim(), size + from as u32)
            .await?;
        let mut objects = Vec::new();
        for key in keys.iter().skip(from) {
            let Some(pkg) = self
                .packages
                .meta
                .package(PackageRef::new(NPM, repo, key))
                .await?
            else {
                continue;
            };
            let Some(v) = pkg
                .tags
                .get("latest")
                .and_then(|l| pkg.version(l))
                .or_else(|| {
                    semver_sorted(&pkg.versions)
                        .into_iter()
                        .rev()
                        .find(|v| v.state.serves_bytes())
                })
            else {
                continue;
            };
            let doc: Value = serde_json::from_str(&v.metadata).unwrap_or_default();
            let owners = self
                .packages
                .meta
                .owners(PackageRef::new(NPM, repo, key))
                .await?;
            let maintainers: Vec<Value> = owners
                .iter()
                .map(|o| json!({"username": o, "email": ""}))
                .collect();
            objects.push(json!({
                "package": {
                    "name": pkg.name,
                    "version": v.version,
                    "description": doc.get("description"),
                    "keywords": doc.get("keywords").cloned().unwrap_or_else(|| json!([])),
                    "date": rfc3339(v.published_at),
                    "links": {},
                    "publisher": maintainers.first(),
                    "maintainers": maintainers,
                },
                "score": {"final": 1.0, "detail": {"quality": 1.0, "popularity": 1.0, "maintenance": 1.0}},
                "searchScore": 1.0,
            }));
        }
        let total = objects.len();
        Ok(Json(
            json!({ "objects": objects, "total": total, "time": rfc3339(cairn_packages::now()) }),
        )
        .into_response())
    }

    /// `GET /-/npm/v1/attestations/<name>@<version>`: the provenance bundle
    /// attached when the version was published.
    pub(crate) async fn attestations(
        &self,
        repo: &str,
        name: &str,
        version: &str,
    ) -> PackageResult {
        let key = key(name)?;
        let file = sigstore_name(name, version);
        let Some((record, state)) = self
            .packages
            .meta
            .package_file(PackageRef::new(NPM, repo, &key), &file)
            .await?
        else {
            return Err(PackageError::not_found(format!(
                "no attestations for {name}@{version}"
            )));
        };
        if !state.serves_bytes() {
            return Err(PackageError::not_found(format!(
                "{name}@{version} was unpublished"
            )));
        }
        let bundle: Value = serde_json::from_slice(&self.packages.read_blob(&record.digest).await?)
            .map_err(|e| PackageError::internal(format!("stored bundle: {e}")))?;
        Ok(Json(json!({
            "attestations": [{"predicateType": "https://slsa.dev/provenance/v1", "bundle": bundle}]
        }))
        .into_response())
    }
}
