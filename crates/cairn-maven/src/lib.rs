//! The Maven repository adapter, under `/maven/<repository>/`: the Maven 2
//! layout for GET, HEAD and PUT (what `mvn deploy` and every resolver use).
//!
//! - cairn owns `maven-metadata.xml`: both levels are generated from what
//!   is stored ([`metadata`]); uploaded copies are accepted and discarded.
//! - Checksums (`.md5`, `.sha1`, `.sha256`, `.sha512`) are served for every
//!   file, computed by cairn; uploaded ones (and `X-Checksum-*` headers)
//!   are verified against the bytes.
//! - Releases are immutable (a PUT over a release file is a 409 that fails
//!   `mvn deploy`, and releases are never unpublished, only deprecated);
//!   `-SNAPSHOT` versions take new timestamped files for every deploy.
//! - A repository takes releases, snapshots or both, and may demand that
//!   releases arrive through staging ([`staging`]): deploy to
//!   `/maven/<repo>/-/staging/<id>/`, then close, release or drop.
//!
//! Errors are plain text with the message in the reason phrase, which is
//! what mvn prints.

pub mod endpoint;
pub mod layout;
pub mod metadata;
pub mod pom;
mod proxy;
mod signatures;
pub mod staging;
mod virtuals;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_core::PackageRef;
use cairn_core::{package_key, Format};
use cairn_http::Access;
use cairn_packages::{
    plain_error, split_repository, MavenVersions, PackageError, PackageResult, Packages, Rendered,
    Request,
};
use cairn_store::{FileRecord, NewVersion, PackageRecord, PublishMode, StagingState};
use endpoint::{Endpoint, Place};
use layout::{Checksum, Gav, MavenPath, Target};
use serde_json::json;
use std::sync::Arc;

const MAVEN: Format = Format::Maven;

/// The Maven adapter.
pub struct MavenApi {
    pub packages: Arc<Packages>,
}

/// The store repository that holds a staging repository's files.
pub fn staging_repository(repository: &str, id: &str) -> String {
    format!("{repository}~staging~{id}")
}

/// Staging ids: what repository names allow.
pub fn check_staging_id(id: &str) -> PackageResult<()> {
    split_repository(id).map(|_| ()).map_err(|_| {
        PackageError::bad(format!(
            "{id:?} is not a staging id: lower-case letters, digits, '.', '_' and '-'"
        ))
    })
}

pub(crate) fn key(group: &str, artifact: &str) -> PackageResult<String> {
    package_key(MAVEN, &format!("{group}:{artifact}")).map_err(|e| PackageError::bad(e.to_string()))
}

fn content_type(filename: &str) -> &'static str {
    match filename.rsplit('.').next() {
        Some("pom" | "xml") => "application/xml",
        Some("jar" | "war" | "ear") => "application/java-archive",
        Some("asc") => "application/pgp-signature",
        Some("module" | "json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Every checksum cairn serves for an upload's bytes, each computed once.
struct UploadChecksums {
    digests: cairn_packages::Digests,
    md5: String,
}

impl UploadChecksums {
    fn of(bytes: &[u8]) -> UploadChecksums {
        UploadChecksums {
            digests: cairn_packages::digests_of(bytes),
            md5: Checksum::Md5.of(bytes),
        }
    }

    fn get(&self, alg: Checksum) -> String {
        match alg {
            Checksum::Md5 => self.md5.clone(),
            Checksum::Sha1 => self.digests.sha1_hex.clone(),
            Checksum::Sha256 => self.digests.sha256.hex().to_string(),
            Checksum::Sha512 => self.digests.sha512_hex.clone(),
        }
    }

    /// What is recorded with the stored file (SHA-256 is the blob's name).
    fn record(&self) -> serde_json::Value {
        json!({
            "md5": self.md5,
            "sha1": self.digests.sha1_hex,
            "sha512": self.digests.sha512_hex,
        })
    }
}

/// A stored file's checksum: SHA-256 is its blob's name; the others were
/// recorded with it ([`UploadChecksums::record`]).
fn recorded_checksum(file: &FileRecord, alg: Checksum) -> Option<String> {
    if alg == Checksum::Sha256 {
        return Some(file.digest.hex().to_string());
    }
    let recorded: serde_json::Value = serde_json::from_str(&file.metadata).ok()?;
    recorded[alg.extension()].as_str().map(str::to_string)
}

/// The plugin descriptor of an artifact's main jar, if it is a Maven
/// plugin with a goal prefix (read from `META-INF/maven/plugin.xml`,
/// bounded; a jar that cannot be read is simply not a plugin here).
fn plugin_of(gav: &Gav, filename: &str, bytes: &[u8]) -> Option<metadata::Plugin> {
    let main_jar = filename == format!("{}-{}.jar", gav.artifact, gav.version)
        || layout::snapshot_file(gav, filename)
            .is_some_and(|f| f.classifier.is_none() && f.extension == "jar");
    if !main_jar {
        return None;
    }
    const DESCRIPTOR: &str = "META-INF/maven/plugin.xml";
    let limits = cairn_packages::archive::Limits {
        max_kept: pom::MAX_POM as u64,
        ..Default::default()
    };
    let contents = cairn_packages::archive::read_zip(bytes, limits, |p| p == DESCRIPTOR).ok()?;
    let descriptor = pom::plugin_descriptor(contents.kept.get(DESCRIPTOR)?).ok()??;
    Some(metadata::Plugin {
        name: descriptor.name,
        prefix: descriptor.prefix,
        artifact: gav.artifact.clone(),
    })
}

/// A checksum as clients write it: the first word, lower-case hex.
fn claimed(text: &str) -> String {
    text.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

impl MavenApi {
    pub fn new(packages: Arc<Packages>) -> Self {
        MavenApi { packages }
    }

    async fn serve(
        &self,
        req: &Request,
        place: &Place,
        key: &str,
        path: &MavenPath,
    ) -> PackageResult {
        let p = &self.packages;
        let store = place.store();
        let document = match &path.target {
            Target::File { filename, .. } => {
                let Some(alg) = path.checksum else {
                    return p
                        .download(
                            req,
                            PackageRef::new(MAVEN, &store, key),
                            filename,
                            content_type(filename),
                        )
                        .await;
                };
                let Some((file, state)) = p
                    .meta
                    .package_file(PackageRef::new(MAVEN, &store, key), filename)
                    .await?
                else {
                    return Err(PackageError::not_found(format!("no file {filename}")));
                };
                if !state.serves_bytes() {
                    return Err(PackageError::Gone(format!("{filename} was unpublished")));
                }
                let value = recorded_checksum(&file, alg).ok_or_else(|| {
                    PackageError::internal(format!(
                        "no {} recorded for {filename}",
                        alg.extension()
                    ))
                })?;
                return Ok(
                    ([(axum::http::header::CONTENT_TYPE, "text/plain")], value).into_response()
                );
            }
            Target::ArtifactMetadata { group, artifact } => {
                let (g, a) = (group.clone(), artifact.clone());
                let doc = p
                    .rendered_index(
                        PackageRef::new(MAVEN, &store, key),
                        "artifact",
                        move |index| {
                            Ok(Rendered::new(
                                "application/xml",
                                None,
                                metadata::artifact_level(&g, &a, index),
                            ))
                        },
                    )
                    .await?;
                match doc {
                    Some(doc) => Some(doc),
                    // No such artifact: the path may be a group's, whose
                    // metadata lists the plugins in it by prefix.
                    None => self
                        .plugin_group(&store, &format!("{group}.{artifact}"))
                        .await?
                        .map(|xml| Rendered::new("application/xml", None, xml)),
                }
            }
            Target::SnapshotMetadata { gav } => {
                let variant = format!("snapshot\0{}", gav.version);
                let render = |pkg: &PackageRecord| {
                    let xml = pkg
                        .version(&gav.version)
                        .and_then(|v| metadata::snapshot_level(gav, v))
                        .ok_or_else(|| {
                            PackageError::not_found(format!("no snapshot {}", gav.version))
                        })?;
                    Ok(Rendered::new("application/xml", None, xml))
                };
                p.rendered(PackageRef::new(MAVEN, &store, key), &variant, render)
                    .await?
            }
        };
        let doc = document.ok_or_else(|| PackageError::not_found(format!("no artifact {key}")))?;
        match path.checksum {
            Some(alg) => Ok((
                [(axum::http::header::CONTENT_TYPE, "text/plain")],
                alg.of(&doc.body),
            )
                .into_response()),
            None => Ok(doc.respond(req)),
        }
    }

    /// A deployed `.asc` or `.sigstore.json` must be a signature of the
    /// file it names (stored first, as `mvn deploy` does) by a configured
    /// signer (`signatures.rs`); with none configured for its kind, it is
    /// stored unchecked.
    async fn check_signature(
        &self,
        store: &str,
        key: &str,
        filename: &str,
        signature: &[u8],
    ) -> PackageResult<()> {
        let p = &self.packages;
        let Some(signed) = signatures::signed_name(filename) else {
            return Ok(());
        };
        if signatures::unchecked(&p.config, filename) {
            return Ok(());
        }
        let Some((file, _)) = p
            .meta
            .package_file(PackageRef::new(MAVEN, store, key), signed)
            .await?
        else {
            return Err(PackageError::bad(format!(
                "{filename}: deploy {signed} before its signature"
            )));
        };
        let bytes = p.read_blob(&file.digest).await?;
        match signatures::verify(&p.config, filename, signature, &bytes) {
            Ok(signer) => {
                tracing::info!(file = %signed, %signer, signature = %filename, "signature verified");
                Ok(())
            }
            Err(why) => {
                tracing::info!(file = %signed, signature = %filename, reason = %why, "a signature was refused");
                Err(PackageError::bad(format!(
                    "{filename} does not verify: {why}"
                )))
            }
        }
    }

    async fn deploy(
        &self,
        req: &Request,
        place: &Place,
        key: &str,
        path: &MavenPath,
        body: Body,
    ) -> PackageResult {
        let p = &self.packages;
        let (gav, filename) = match &path.target {
            // Metadata is cairn's to write: an uploaded copy (and its
            // checksums) is read and discarded.
            Target::ArtifactMetadata { .. } | Target::SnapshotMetadata { .. } => {
                p.read_body(req, body).await?;
                return Ok(StatusCode::CREATED.into_response());
            }
            Target::File { gav, filename } => (gav, filename),
        };
        self.check_rules(req, place, gav).await?;
        let store = place.store();
        let bytes = p.read_body(req, body).await?;
        if let Some(alg) = path.checksum {
            let Some((file, _)) = p
                .meta
                .package_file(PackageRef::new(MAVEN, &store, key), filename)
                .await?
            else {
                return Err(PackageError::bad(format!(
                    "{filename}.{}: deploy {filename} before its checksum",
                    alg.extension()
                )));
            };
            let ours = recorded_checksum(&file, alg).unwrap_or_default();
            let theirs = claimed(&String::from_utf8_lossy(&bytes));
            if theirs != ours {
                tracing::warn!(file = %filename, "uploaded checksum does not match the stored bytes");
                return Err(PackageError::bad(format!(
                    "checksum mismatch for {filename}: uploaded {} {theirs}, the stored bytes have {ours}",
                    alg.extension()
                )));
            }
            return Ok(StatusCode::CREATED.into_response());
        }
        // Checksums sent as headers are checked before anything is stored.
        let checksums = UploadChecksums::of(&bytes);
        for alg in Checksum::ALL {
            let header = format!("x-checksum-{}", alg.extension());
            if let Some(theirs) = req
                .headers
                .get(header.as_str())
                .and_then(|v| v.to_str().ok())
            {
                let ours = checksums.get(alg);
                if claimed(theirs) != ours {
                    return Err(PackageError::bad(format!(
                        "checksum mismatch for {filename}: {header} says {theirs}, the body has {ours}"
                    )));
                }
            }
        }
        self.check_signature(&store, key, filename, &bytes).await?;
        let mut recorded = checksums.record();
        if let Some(plugin) = plugin_of(gav, filename, &bytes) {
            recorded["plugin"] = json!(plugin);
        }
        p.refuse_secrets(
            &req.actor(),
            PackageRef::new(MAVEN, &store, key),
            cairn_packages::secrets::Publish::File {
                filename,
                bytes: &bytes,
            },
        )
        .await?;
        let stored = p.store_digested(bytes, checksums.digests).await?;
        let new = NewVersion {
            format: MAVEN,
            repository: store,
            package: key.to_string(),
            name: key.to_string(),
            version: gav.version.clone(),
            metadata: "{}".into(),
            dependencies: vec![],
            files: vec![stored.record(filename, &gav.version, recorded)],
            tags: vec![],
            owner: None,
        };
        p.publish(&new, &[&stored], PublishMode::AddFiles, &req.actor())
            .await?;
        Ok(StatusCode::CREATED.into_response())
    }

    /// The group-level metadata of `group`: its plugins (artifacts whose
    /// newest live jar carries a plugin descriptor with a goal prefix), so
    /// that `mvn PREFIX:goal` finds them. `None` when the group has none.
    async fn plugin_group(&self, store: &str, group: &str) -> PackageResult<Option<String>> {
        let p = &self.packages;
        let prefix = format!("{group}:");
        let keys = p
            .meta
            .search_packages(MAVEN, store, &prefix, 10_000)
            .await?;
        let mut plugins = Vec::new();
        for key in keys.iter().filter(|k| k.starts_with(&prefix)) {
            let Some(pkg) = p.meta.package(PackageRef::new(MAVEN, store, key)).await? else {
                continue;
            };
            let descriptor = pkg
                .versions
                .iter()
                .rev()
                .filter(|v| v.state.serves_bytes())
                .flat_map(|v| v.files.iter())
                .find_map(|f| {
                    let meta: serde_json::Value = serde_json::from_str(&f.metadata).ok()?;
                    serde_json::from_value::<metadata::Plugin>(meta.get("plugin")?.clone()).ok()
                });
            if let Some(mut plugin) = descriptor {
                plugin.artifact = key[prefix.len()..].to_string();
                plugins.push(plugin);
            }
        }
        Ok((!plugins.is_empty()).then(|| metadata::group_level(&plugins)))
    }

    /// The repository's rules for a deploy: which versions it takes, and
    /// whether releases must come through (an open) staging repository.
    async fn check_rules(&self, req: &Request, place: &Place, gav: &Gav) -> PackageResult<()> {
        let rules = self.packages.config.maven(&place.repository);
        let repo = &place.repository;
        match (rules.versions, gav.is_snapshot()) {
            (MavenVersions::Release, true) => {
                return Err(PackageError::bad(format!(
                    "{repo} is a release repository: deploy {} to a snapshot repository",
                    gav.version
                )))
            }
            (MavenVersions::Snapshot, false) => {
                return Err(PackageError::bad(format!(
                    "{repo} is a snapshot repository: release {} to a release repository",
                    gav.version
                )))
            }
            _ => {}
        }
        let Some(id) = &place.staging else {
            if rules.staging && !gav.is_snapshot() {
                return Err(PackageError::bad(format!(
                    "{repo} takes releases through staging: deploy to /maven/{repo}/-/staging/<id>/, then close and release it"
                )));
            }
            return Ok(());
        };
        if gav.is_snapshot() {
            return Err(PackageError::bad("staging is for releases, not snapshots"));
        }
        let staged = self
            .packages
            .meta
            .open_staging(MAVEN, repo, id, &req.actor())
            .await?;
        if staged.state != StagingState::Open {
            return Err(PackageError::Conflict(format!(
                "staging repository {id} is {}: deploy to a new staging id",
                staged.state.as_str()
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl cairn_http::Adapter for MavenApi {
    type Endpoint = Endpoint;
    type Error = PackageError;

    fn format(&self) -> &'static str {
        MAVEN.as_str()
    }

    fn parse(&self, req: &Request, path: &str) -> PackageResult<(Endpoint, Access)> {
        let mut endpoint = Endpoint::parse(&req.method, path)?;
        // A deploy to a virtual repository goes to its publish target.
        let repository = endpoint.place().repository.clone();
        let (repository, access) = self.packages.route(MAVEN, repository, |r| {
            let mut e = endpoint.clone();
            e.place_mut().repository = r.to_string();
            Ok(e.access())
        })?;
        endpoint.place_mut().repository = repository;
        Ok((endpoint, access))
    }

    async fn dispatch(&self, req: &Request, endpoint: Endpoint, body: Body) -> PackageResult {
        let repository = endpoint.place().repository.clone();
        if let Some(proxy) = self.packages.proxy(MAVEN, &repository) {
            return match endpoint {
                Endpoint::Get { place, path, .. } if place.staging.is_none() => {
                    self.proxied(req, proxy, &path).await
                }
                _ => Err(self.packages.proxy_refuses(proxy)),
            };
        }
        if let Some(virt) = self.packages.virtual_repo(MAVEN, &repository) {
            return match endpoint {
                Endpoint::Get { place, key, path } => {
                    self.virtual_get(req, virt, &place, &key, &path).await
                }
                _ => unreachable!("deploys are routed to the publish target"),
            };
        }
        match endpoint {
            Endpoint::Get { place, key, path } => self.serve(req, &place, &key, &path).await,
            Endpoint::Deploy { place, key, path }
            | Endpoint::DeployMetadata { place, key, path } => {
                self.deploy(req, &place, &key, &path, body).await
            }
        }
    }

    /// mvn prints the status code and reason phrase of a failed transfer.
    fn render(&self, err: PackageError) -> Response {
        err.log();
        let message = match &err {
            PackageError::Lifecycle(cairn_core::LifecycleError::FileExists { filename }) => {
                format!("{filename} exists and releases are immutable: deploy a new version")
            }
            e => e.to_string(),
        };
        plain_error(err.status(), &message)
    }
}
