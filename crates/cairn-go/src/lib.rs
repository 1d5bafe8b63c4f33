//! The Go module proxy adapter, under `/go/<repository>/`: the GOPROXY
//! protocol (`$module/@v/list`, `@v/$version.info|.mod|.zip`, `@latest`,
//! with `!`-escaped capitals) and publishing.
//!
//! Go has no push: a version exists because a VCS tag exists. Publishing
//! therefore means "module M at tag vX.Y.Z of this git repository"
//! (`POST /go/<repo>/-/publish`, or `cairn go publish`): cairn fetches the
//! tag, builds the module zip as the go command would ([`modzip`]),
//! computes its `h1:` hashes and stores the version once and for good. A
//! module zip can be uploaded instead (`PUT .../@v/$version.zip`).
//!
//! Retractions are the module author's: the `retract` directives of the
//! go.mod of the highest version. `@v/list` lists retracted versions (the go
//! command hides them itself, and shows them with `-retracted`); `@latest`
//! skips them. A version yanked in cairn is left out of `@v/list` and
//! `@latest` but stays downloadable by exact version; an unpublished one
//! answers 410, which makes a `GOPROXY` list fall through to the next proxy.
//!
//! Errors are plain text, which the go command prints.

pub mod endpoint;
pub mod git;
pub mod gomod;
pub mod module;
pub mod modzip;
mod proxy;
pub mod sumdb;
mod virtuals;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cairn_core::PackageRef;
use cairn_core::{package_key, Action, Format, VersionState};
use cairn_http::Access;
use cairn_packages::{
    plain_error, split_repository, GitSources, InRepo, PackageError, PackageResult, Packages,
    Rendered, Request,
};
use cairn_store::{Actor, NewVersion, PackageRecord, PublishMode, VersionRecord};
use endpoint::Endpoint;
use gomod::Retraction;
use module::Version;
use modzip::ModuleFiles;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

const GO: Format = Format::Go;

/// The Go adapter.
pub struct GoApi {
    pub packages: Arc<Packages>,
    /// The checksum databases of hosted repositories (`sumdb.rs`).
    sumdb: Option<sumdb::HostedSumdb>,
}

/// The facts cairn keeps about a version (the version's metadata document).
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct VersionFacts {
    /// When the version was stored (RFC 3339), served as `.info`'s `Time`.
    pub time: String,
    /// go.sum's `h1:` of the module zip.
    pub h1: String,
    /// go.sum's `h1:` of the go.mod.
    pub go_mod_h1: String,
    #[serde(default)]
    pub retract: Vec<Retraction>,
    /// Where the version came from: `{"vcs","url","ref","hash"}` or `{"upload"}`.
    #[serde(default)]
    pub origin: Value,
}

/// What publishing one version did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// Stored now.
    New { h1: String, go_mod_h1: String },
    /// Already stored with exactly these files.
    Identical { h1: String, go_mod_h1: String },
}

fn facts(v: &VersionRecord) -> Option<VersionFacts> {
    serde_json::from_str(&v.metadata).ok()
}

fn not_found(what: impl std::fmt::Display) -> PackageError {
    PackageError::not_found(format!("not found: {what}"))
}

/// A module's store key; a path that is no module's names nothing (404).
fn module_key(module: &str) -> PackageResult<String> {
    package_key(GO, module).map_err(|_| not_found(module))
}

/// The documents made from a module's version list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Document {
    /// `@v/list`
    List,
    /// `@latest`
    Latest,
    /// `@v/<version>.info`
    Info(String),
}

impl Document {
    /// What the rendered bytes depend on besides the package, for the render cache.
    fn variant(&self) -> String {
        match self {
            Document::List => "list".into(),
            Document::Latest => "latest".into(),
            Document::Info(version) => format!("info\0{version}"),
        }
    }
}

fn zip_file(version: &str) -> String {
    format!("{version}.zip")
}

fn mod_file(version: &str) -> String {
    format!("{version}.mod")
}

/// Checks a module path and version, returning the module's key and the parsed version.
fn coordinates(module: &str, version: &str) -> PackageResult<(String, Version)> {
    let key = package_key(GO, module).map_err(|e| PackageError::bad(e.to_string()))?;
    let parsed = Version::parse(version).map_err(PackageError::bad)?;
    module::check_major(module, &parsed).map_err(PackageError::bad)?;
    Ok((key, parsed))
}

/// Stores one version of `module` from its files (already chosen by
/// [`modzip::select`] or read by [`modzip::read`]): checks the go.mod's
/// module path, computes the hashes, builds the zip and publishes it. A
/// version that exists is never replaced: the same files are reported as
/// [`Published::Identical`], different ones refused, naming both hashes.
pub async fn publish_files(
    packages: &Packages,
    actor: &Actor,
    repository: &str,
    module: &str,
    version: &str,
    files: ModuleFiles,
    origin: Value,
) -> PackageResult<Published> {
    let (key, parsed) = coordinates(module, version)?;
    // The go.mod (the go command synthesises one for a module without it)
    // and the retractions it declares.
    let (go_mod, retract) = match files.get("go.mod") {
        Some(bytes) => {
            let text =
                std::str::from_utf8(bytes).map_err(|_| PackageError::bad("go.mod is not UTF-8"))?;
            let parsed = gomod::parse(text).map_err(PackageError::bad)?;
            match parsed.module.as_deref() {
                Some(m) if m == module => {}
                Some(m) => {
                    return Err(PackageError::bad(format!(
                        "go.mod says module {m}, not {module}"
                    )))
                }
                None => return Err(PackageError::bad("go.mod has no module directive")),
            }
            (bytes.clone(), parsed.retract)
        }
        None => (format!("module {module}\n").into_bytes(), vec![]),
    };
    let h1 = modzip::zip_hash(module, version, &files);
    let go_mod_h1 = modzip::go_mod_hash(&go_mod);
    if let Some(existing) = packages
        .meta
        .package_versions(PackageRef::new(GO, repository, &key))
        .await?
        .and_then(|p| p.version(version).cloned())
    {
        let stored = facts(&existing).map(|f| f.h1).unwrap_or_default();
        if stored == h1 && existing.state.serves_bytes() {
            return Ok(Published::Identical { h1, go_mod_h1 });
        }
        if existing.state.serves_bytes() {
            return Err(PackageError::Conflict(format!(
                "{module}@{version} is already stored with {stored}; these files hash to {h1}. \
                 A version never changes: the stored one is kept (has the tag moved?)"
            )));
        }
    }
    let unpacked: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(path, bytes)| (format!("{module}@{version}/{path}"), bytes.clone()))
        .collect();
    let zip =
        modzip::create(module, version, &files).map_err(|e| PackageError::bad(e.to_string()))?;
    // Under a quarantine, what is held back is what is served: the zip, and
    // the go.mod file when the secret is in it.
    let stored_as = vec![
        cairn_packages::secrets::Stored {
            name: zip_file(version),
            digest: cairn_core::Digest::sha256_of(&zip),
            only_for: None,
        },
        cairn_packages::secrets::Stored {
            name: mod_file(version),
            digest: cairn_core::Digest::sha256_of(&go_mod),
            only_for: Some(format!("{module}@{version}/go.mod")),
        },
    ];
    packages
        .refuse_secrets(
            actor,
            PackageRef::new(GO, repository, &key),
            cairn_packages::secrets::Publish::Files {
                files: &unpacked,
                stored_as,
            },
        )
        .await?;
    let zip = packages.store(zip.into()).await?;
    let go_mod_file = packages.store(go_mod.into()).await?;
    let facts = VersionFacts {
        time: cairn_packages::rfc3339(cairn_packages::now()),
        h1: h1.clone(),
        go_mod_h1: go_mod_h1.clone(),
        retract,
        origin,
    };
    let metadata = serde_json::to_value(&facts).unwrap_or_default();
    let new = NewVersion {
        format: GO,
        repository: repository.to_string(),
        package: key,
        name: module.to_string(),
        version: parsed.text.clone(),
        metadata: metadata.to_string(),
        dependencies: vec![],
        files: vec![
            zip.record(&zip_file(version), version, json!({ "h1": h1 })),
            go_mod_file.record(&mod_file(version), version, json!({ "h1": go_mod_h1 })),
        ],
        tags: vec![],
        owner: None,
    };
    packages
        .publish(&new, &[&zip, &go_mod_file], PublishMode::NewVersion, actor)
        .await?;
    Ok(Published::New { h1, go_mod_h1 })
}

/// Where a version's source is: a git repository, the tag, and the module's
/// directory in it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GitSource {
    /// Any URL [`git::check_url`] accepts.
    pub git: String,
    /// The tag; by default the version, prefixed with `dir/` when the
    /// module is in a subdirectory (the go command's convention).
    pub tag: Option<String>,
    /// The module's directory in the repository (`""`: the root).
    #[serde(default)]
    pub dir: Option<String>,
}

/// Publishes `module@version` from a tag of a git repository that
/// `sources` allows. A module in a subdirectory gets the files
/// under it, and the repository's root LICENSE when it has none of its own,
/// as the go command does.
pub async fn publish_from_git(
    packages: &Packages,
    actor: &Actor,
    repository: &str,
    module: &str,
    version: &str,
    source: &GitSource,
    sources: &GitSources,
) -> PackageResult<Published> {
    coordinates(module, version)?;
    let dir = source
        .dir
        .as_deref()
        .map(|d| d.trim_matches('/'))
        .filter(|d| !d.is_empty());
    if let Some(d) = dir {
        modzip::check_file_path(d).map_err(|e| PackageError::bad(format!("dir {d:?}: {e}")))?;
    }
    let default_tag = match dir {
        Some(d) => format!("{d}/{version}"),
        None => version.to_string(),
    };
    let tag = source.tag.as_deref().unwrap_or(&default_tag);
    let url = source.git.as_str();
    if tag.starts_with('-') || tag.contains("..") || tag.contains(['\0', ' ', '\n', ':']) {
        return Err(PackageError::bad(format!("{tag:?} is not a tag name")));
    }
    let checkout = git::checkout(url, tag, sources)
        .await
        .map_err(PackageError::bad)?;
    let tree = match dir {
        Some(d) => git::subdirectory(checkout.files, d),
        None => checkout.files,
    };
    let files = modzip::select(tree).map_err(|e| PackageError::bad(e.to_string()))?;
    let mut origin = json!({"vcs": "git", "url": url, "ref": format!("refs/tags/{tag}"), "hash": checkout.commit});
    if let Some(d) = dir {
        origin["subdir"] = json!(d);
    }
    publish_files(packages, actor, repository, module, version, files, origin).await
}

/// The versions `@v/list` and `@latest` consider: stored, not yanked or unpublished.
fn listed(pkg: &PackageRecord) -> Vec<(Version, &VersionRecord)> {
    let mut out: Vec<_> = pkg
        .versions
        .iter()
        .filter(|v| v.state.serves_bytes() && v.state != VersionState::Yanked)
        .filter_map(|v| Version::parse(&v.version).ok().map(|p| (p, v)))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// "The latest version" in the go command's sense: the highest release,
/// else the highest pre-release.
fn highest<'a, T>(versions: impl Iterator<Item = &'a (Version, T)>) -> Option<&'a (Version, T)>
where
    T: 'a,
{
    let all: Vec<_> = versions.collect();
    all.iter()
        .rev()
        .find(|(v, _)| !v.is_prerelease())
        .or_else(|| all.last())
        .copied()
}

/// The retractions in force: those of the go.mod of the latest version.
fn retractions(versions: &[(Version, &VersionRecord)]) -> Vec<Retraction> {
    highest(versions.iter())
        .and_then(|(_, v)| facts(v))
        .map(|f| f.retract)
        .unwrap_or_default()
}

fn info_json(version: &VersionRecord) -> Value {
    let time = facts(version)
        .map(|f| f.time)
        .unwrap_or_else(|| cairn_packages::rfc3339(version.published_at));
    json!({ "Version": version.version, "Time": time })
}

#[derive(Deserialize)]
struct PublishRequest {
    module: String,
    version: String,
    #[serde(flatten)]
    source: GitSource,
}

impl GoApi {
    pub fn new(packages: Arc<Packages>) -> Self {
        GoApi {
            packages,
            sumdb: None,
        }
    }

    /// Serves a checksum database for each hosted repository.
    pub fn with_sumdb(mut self, sumdb: sumdb::HostedSumdb) -> Self {
        self.sumdb = Some(sumdb);
        self
    }

    /// `@v/list`, `@latest` and `.info`, rendered once per package revision.
    async fn document(
        &self,
        req: &Request,
        repo: &str,
        module: &str,
        what: Document,
    ) -> PackageResult {
        let key = module_key(module)?;
        let variant = what.variant();
        let render = |pkg: &PackageRecord| -> PackageResult<Rendered> {
            let versions = listed(pkg);
            if let Document::Info(version) = &what {
                let v = pkg
                    .version(version)
                    .ok_or_else(|| not_found(format!("{module}@{version}")))?;
                if !v.state.serves_bytes() {
                    return Err(PackageError::Gone(format!(
                        "{module}@{version} was unpublished"
                    )));
                }
                return Ok(Rendered::new(
                    "application/json",
                    None,
                    info_json(v).to_string(),
                ));
            }
            if what == Document::List {
                let body: String = versions
                    .iter()
                    .map(|(v, _)| format!("{}\n", v.text))
                    .collect();
                return Ok(Rendered::new("text/plain; charset=utf-8", None, body));
            }
            let retracted = retractions(&versions);
            let candidates: Vec<_> = versions
                .iter()
                .filter(|(v, _)| !retracted.iter().any(|r| r.covers(v)))
                .cloned()
                .collect();
            let latest = highest(candidates.iter())
                .or_else(|| highest(versions.iter()))
                .ok_or_else(|| not_found(format!("{module}@latest")))?;
            Ok(Rendered::new(
                "application/json",
                None,
                info_json(latest.1).to_string(),
            ))
        };
        match self
            .packages
            .rendered_versions(PackageRef::new(GO, repo, &key), &variant, render)
            .await?
        {
            Some(doc) => Ok(doc.respond(req)),
            None => Err(not_found(module)),
        }
    }
}

fn published_response(module: &str, version: &str, published: Published) -> Response {
    let (status, h1, go_mod_h1, stored) = match published {
        Published::New { h1, go_mod_h1 } => (StatusCode::CREATED, h1, go_mod_h1, "stored"),
        Published::Identical { h1, go_mod_h1 } => (StatusCode::OK, h1, go_mod_h1, "unchanged"),
    };
    (
        status,
        Json(json!({
            "module": module,
            "version": version,
            "h1": h1,
            "go_mod_h1": go_mod_h1,
            "result": stored,
            "go.sum": [
                format!("{module} {version} {h1}"),
                format!("{module} {version}/go.mod {go_mod_h1}"),
            ],
        })),
    )
        .into_response()
}

#[async_trait]
impl cairn_http::Adapter for GoApi {
    type Endpoint = InRepo<Endpoint>;
    type Error = PackageError;

    fn format(&self) -> &'static str {
        GO.as_str()
    }

    fn parse(&self, req: &Request, path: &str) -> PackageResult<(InRepo<Endpoint>, Access)> {
        let (repo, rest) = split_repository(path)?;
        let endpoint = Endpoint::parse(&req.method, rest).ok_or_else(|| not_found(rest))?;
        let (repo, access) = self.packages.route(GO, repo, |r| endpoint.access(r))?;
        Ok((InRepo { repo, endpoint }, access))
    }

    async fn dispatch(&self, req: &Request, routed: InRepo<Endpoint>, body: Body) -> PackageResult {
        let InRepo { repo, endpoint } = routed;
        let p = &self.packages;
        if let Some(proxy) = p.proxy(GO, &repo) {
            return self.proxied(req, proxy, endpoint).await;
        }
        if let Some(virt) = p.virtual_repo(GO, &repo) {
            return self.virtual_read(req, virt, endpoint).await;
        }
        match endpoint {
            Endpoint::List { module } => self.document(req, &repo, &module, Document::List).await,
            Endpoint::Latest { module } => {
                self.document(req, &repo, &module, Document::Latest).await
            }
            Endpoint::Info { module, version } => {
                self.document(req, &repo, &module, Document::Info(version))
                    .await
            }
            Endpoint::Mod { module, version } => {
                let key = module_key(&module)?;
                p.download(
                    req,
                    PackageRef::new(GO, &repo, &key),
                    &mod_file(&version),
                    "text/plain; charset=utf-8",
                )
                .await
            }
            Endpoint::Zip { module, version } => {
                let key = module_key(&module)?;
                p.download(
                    req,
                    PackageRef::new(GO, &repo, &key),
                    &zip_file(&version),
                    "application/zip",
                )
                .await
            }
            Endpoint::Upload { module, version } => {
                coordinates(&module, &version)?;
                let bytes = p.read_body(req, body).await?;
                let files = modzip::read(&module, &version, &bytes)
                    .map_err(|e| PackageError::bad(e.to_string()))?;
                let published = publish_files(
                    p,
                    &req.actor(),
                    &repo,
                    &module,
                    &version,
                    files,
                    json!({"upload": true}),
                )
                .await?;
                Ok(published_response(&module, &version, published))
            }
            // A hosted repository's own checksum database (a proxy repository
            // passes its upstream's through, above).
            Endpoint::Sumdb { name, path } => self.hosted_sumdb(&repo, &name, &path).await,
            Endpoint::Publish => {
                let bytes = p.read_body(req, body).await?;
                let r: PublishRequest = serde_json::from_slice(&bytes).map_err(|e| {
                    PackageError::bad(format!(
                        "expected {{\"module\", \"version\", \"git\", \"tag\"?, \"dir\"?}}: {e}"
                    ))
                })?;
                let (key, _) = coordinates(&r.module, &r.version)?;
                p.check(req, GO, &repo, Some(&key), Action::Publish).await?;
                let published = publish_from_git(
                    p,
                    &req.actor(),
                    &repo,
                    &r.module,
                    &r.version,
                    &r.source,
                    &p.config.go_git,
                )
                .await?;
                Ok(published_response(&r.module, &r.version, published))
            }
        }
    }

    /// Plain text, which the go command shows as the server's response.
    fn render(&self, err: PackageError) -> Response {
        err.log();
        plain_error(err.status(), &err.to_string())
    }
}
