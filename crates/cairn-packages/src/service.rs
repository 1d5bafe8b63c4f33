//! [`Packages`]: the service every language adapter calls — the access
//! check, the repository's lifecycle policy, bounded body reads, storing a
//! file as a verified content-addressed blob, and serving one back.

use crate::rendered::RenderCache;
use crate::{PackageError, PackageResult, Rendered, Request};
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use cairn_core::access::{authorize_any, AccessPolicy, Denied};
use cairn_core::lifecycle::LifecyclePolicy;
use cairn_core::PackageRef;
use cairn_core::{Action, Digest, Format, Principal};
use cairn_http::{Guard, Resource};
use cairn_proxy::{Document, FileSource, Proxy};
use cairn_store::{Blobs, ByteCache, FileRecord, MetaStore, PackageRecord, VersionIndex};
use futures::StreamExt;
use globset::{GlobBuilder, GlobMatcher};
use http_body_util::BodyExt;
use sha1::Digest as _;
use std::sync::Arc;

/// A repository-pattern rule, from `[[packages.repositories]]` in the
/// configuration: how releases are pulled back, and for Maven which
/// versions the repository takes and how.
#[derive(Debug, Clone)]
pub struct RepositoryPolicy {
    matcher: GlobMatcher,
    pub policy: LifecyclePolicy,
    pub maven: MavenRules,
}

impl RepositoryPolicy {
    /// `pattern` is matched against `FORMAT/REPOSITORY`, e.g. `npm/internal`
    /// or `*/releases` (`*` within a segment, `**` across).
    pub fn new(pattern: &str, policy: LifecyclePolicy, maven: MavenRules) -> Result<Self, String> {
        let matcher = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("repository pattern {pattern:?}: {e}"))?
            .compile_matcher();
        Ok(RepositoryPolicy {
            matcher,
            policy,
            maven,
        })
    }
}

/// Which versions a Maven repository takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MavenVersions {
    /// Releases only (immutable).
    Release,
    /// `-SNAPSHOT` versions only (mutable, timestamped files).
    Snapshot,
    /// Both.
    #[default]
    Mixed,
}

impl MavenVersions {
    pub fn parse(s: &str) -> Option<MavenVersions> {
        match s {
            "release" => Some(MavenVersions::Release),
            "snapshot" => Some(MavenVersions::Snapshot),
            "mixed" => Some(MavenVersions::Mixed),
            _ => None,
        }
    }
}

/// A Maven repository's rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MavenRules {
    pub versions: MavenVersions,
    /// Releases arrive only through staging (deploy, close, release).
    pub staging: bool,
    /// Closing a staging repository demands a `.asc` for every file.
    pub require_signatures: bool,
    /// Closing demands a `.sigstore.json` for every file.
    pub require_sigstore: bool,
    /// Closing demands `-sources.jar` and `-javadoc.jar` beside every jar.
    pub require_sources_javadoc: bool,
}

/// Settings shared by the language adapters.
#[derive(Debug, Clone)]
pub struct PackagesConfig {
    pub access: AccessPolicy,
    /// Largest upload accepted, in bytes; also bounds what an archive may
    /// decompress to.
    pub max_upload_bytes: u64,
    /// The policy of repositories no rule in `repositories` matches.
    pub default_policy: LifecyclePolicy,
    /// The first matching rule decides a repository's policy.
    pub repositories: Vec<RepositoryPolicy>,
    /// Which git repositories a Go publish over HTTP may fetch from.
    pub go_git: GitSources,
    /// How long a download path's resolution is trusted ([`Packages::download`]).
    pub download_cache: std::time::Duration,
    /// Repositories whose publishes are scanned for secrets ([`Packages::refuse_secrets`]).
    pub secret_scan: cairn_core::policy::RepositoryPatterns,
    /// Repositories where a publish carrying a secret is stored but held
    /// back until released, instead of refused.
    pub secret_quarantine: cairn_core::policy::RepositoryPatterns,
    /// The OpenPGP keys Maven `.asc` signatures are checked against (none:
    /// `.asc` files are stored unchecked).
    pub openpgp: std::sync::Arc<cairn_core::trust::openpgp::OpenPgpKeys>,
    /// The trust configuration (the OCI signature gate's): its pinned
    /// Sigstore trusted root verifies npm provenance bundles and PyPI
    /// attestations (none: only what they bind is checked), its keys and
    /// identities Maven `.sigstore.json` files.
    pub trust: std::sync::Arc<cairn_core::trust::Trust>,
}

/// Which git repositories cairn fetches Go module versions from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitSources {
    /// Whether `file://` URLs (repositories on the server's own disk) are
    /// allowed. Off by default over HTTP: a publisher could otherwise read
    /// any repository the server can. The CLI, run by an operator on the
    /// server, always may.
    pub allow_file: bool,
    /// The hosts remote URLs may name (lower-case, without port); empty:
    /// any host.
    pub hosts: Vec<String>,
}

impl GitSources {
    /// What an operator on the server may fetch: anything.
    pub fn operator() -> GitSources {
        GitSources {
            allow_file: true,
            hosts: vec![],
        }
    }
}

impl Default for PackagesConfig {
    fn default() -> Self {
        PackagesConfig {
            access: AccessPolicy::default(),
            max_upload_bytes: 256 * 1024 * 1024,
            default_policy: LifecyclePolicy::default(),
            repositories: vec![],
            go_git: GitSources::default(),
            openpgp: Default::default(),
            trust: Default::default(),
            download_cache: std::time::Duration::ZERO,
            secret_scan: cairn_core::policy::RepositoryPatterns::default(),
            secret_quarantine: cairn_core::policy::RepositoryPatterns::default(),
        }
    }
}

impl PackagesConfig {
    fn rule(&self, format: Format, repository: &str) -> Option<&RepositoryPolicy> {
        let resource = format.resource(repository);
        self.repositories
            .iter()
            .find(|r| r.matcher.is_match(&resource))
    }

    /// The lifecycle policy of a repository: the first matching rule's, else the default.
    /// Maven releases are permanent everywhere.
    pub fn policy(&self, format: Format, repository: &str) -> LifecyclePolicy {
        let policy = self
            .rule(format, repository)
            .map(|r| r.policy.clone())
            .unwrap_or_else(|| self.default_policy.clone());
        LifecyclePolicy {
            releases_permanent: format == Format::Maven,
            ..policy
        }
    }

    /// A Maven repository's rules: the first matching rule's, else mixed
    /// versions, no staging, nothing required.
    pub fn maven(&self, repository: &str) -> MavenRules {
        self.rule(Format::Maven, repository)
            .map(|r| r.maven.clone())
            .unwrap_or_default()
    }
}

/// The digests ecosystems ask for, computed by cairn from the stored bytes.
#[derive(Debug, Clone)]
pub struct Digests {
    /// The blob's name.
    pub sha256: Digest,
    /// npm `dist.shasum`, Maven's `.sha1`.
    pub sha1_hex: String,
    /// Maven's `.sha512`.
    pub sha512_hex: String,
    /// npm `dist.integrity`: `sha512-<base64>`.
    pub sha512_integrity: String,
}

/// A file stored as a blob.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub digests: Digests,
    pub size: u64,
    /// The bytes, kept until the publish that references them commits
    /// (see [`Packages::publish`]).
    bytes: Bytes,
}

impl StoredFile {
    /// The file's record for the package store.
    pub fn record(&self, filename: &str, version: &str, metadata: serde_json::Value) -> FileRecord {
        FileRecord {
            filename: filename.to_string(),
            version: version.to_string(),
            digest: self.digests.sha256.clone(),
            size: self.size,
            metadata: metadata.to_string(),
            companion: None,
            created_at: 0,
        }
    }
}

/// Computes every digest of `bytes` cairn serves.
pub fn digests_of(bytes: &[u8]) -> Digests {
    let sha512 = sha2::Sha512::digest(bytes);
    Digests {
        sha256: Digest::sha256_of(bytes),
        sha1_hex: hex::encode(sha1::Sha1::digest(bytes)),
        sha512_hex: hex::encode(sha512),
        sha512_integrity: format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(sha512)
        ),
    }
}

/// The header that says how a proxy repository served a response.
pub const CACHE_HEADER: &str = "x-cairn-cache";

/// `resp` with the header saying how the proxied `doc` was served.
pub fn with_cache_status(mut resp: Response, doc: &Document) -> Response {
    if let Ok(v) = header::HeaderValue::from_str(&doc.status.header()) {
        resp.headers_mut().insert(CACHE_HEADER, v);
    }
    resp
}

/// The cache key and ETag of a composed document.
fn composed_key(identity: &str) -> (Digest, String) {
    let key = Digest::sha256_of(identity.as_bytes());
    let etag = format!("\"{}\"", &key.hex()[..32]);
    (key, etag)
}

/// Memory given to proxied documents as served.
const PROXIED_DOCUMENT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Files up to this size are served from memory once read
/// ([`Packages::serve_blob`]).
const SMALL_FILE: u64 = 1024 * 1024;
/// Memory given to small files' bytes.
const SMALL_FILE_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The package service. Cheap to share behind an `Arc`.
pub struct Packages {
    pub blobs: Arc<Blobs>,
    pub meta: Arc<dyn MetaStore>,
    pub config: PackagesConfig,
    rendered: RenderCache,
    small_files: ByteCache,
    guard: Guard,
    resolved: quick_cache::sync::Cache<String, Resolved>,
    /// Proxy repositories by `FORMAT/NAME`; any other name is hosted.
    proxies: std::collections::HashMap<String, Arc<Proxy>>,
    /// Proxied documents as served ([`Packages::proxied_rendered`]).
    proxied_documents: ByteCache,
    /// Virtual repositories by `FORMAT/NAME`.
    pub(crate) virtuals: std::collections::HashMap<String, Arc<crate::Virtual>>,
    /// The downloads this replica recorded lately (retention policies
    /// count "downloaded within N days").
    downloads: cairn_store::UseNotes,
    /// Vulnerability policies, asked for every file served.
    vulns: Arc<cairn_http::VulnGate>,
    /// Revokes cairn API tokens found in publishes (the identity service).
    pub(crate) revoker: Option<Arc<dyn crate::secrets::TokenRevoker>>,
    /// The registry's own signing keys (npm's registry signatures, publish
    /// attestations), shared with the OCI adapter.
    signer: Arc<cairn_http::RegistrySigner>,
}

/// What a download path resolved to a moment ago: the file's blob and its
/// version's state, with when it was read and this process's count of
/// package changes read before it ([`PackageStore::local_package_changes`]).
#[derive(Clone)]
struct Resolved {
    digest: Digest,
    size: u64,
    /// When the file was published (served as `Last-Modified`).
    created_at: i64,
    version: String,
    state: cairn_core::VersionState,
    changes: u64,
    at: std::time::Instant,
}

/// How many times [`Packages::publish`] stores a collected file again.
const PUBLISH_RESTORES: u32 = 3;

/// How many download paths' resolutions are kept.
const RESOLVED_PATHS: usize = 64 * 1024;

impl Packages {
    pub fn new(blobs: Arc<Blobs>, meta: Arc<dyn MetaStore>, config: PackagesConfig) -> Self {
        Packages {
            guard: Guard::new(config.access.clone(), meta.clone()),
            blobs,
            meta,
            config,
            rendered: RenderCache::default(),
            small_files: ByteCache::new(SMALL_FILE_CACHE_BYTES),
            resolved: quick_cache::sync::Cache::new(RESOLVED_PATHS),
            downloads: Default::default(),
            proxies: Default::default(),
            proxied_documents: ByteCache::new(PROXIED_DOCUMENT_CACHE_BYTES),
            virtuals: Default::default(),
            vulns: Arc::new(cairn_http::VulnGate::open()),
            revoker: None,
            signer: Default::default(),
        }
    }

    /// Signs with the keys `signer` holds (shared with the server, which
    /// reloads them).
    pub fn with_registry_signer(mut self, signer: Arc<cairn_http::RegistrySigner>) -> Self {
        self.signer = signer;
        self
    }

    /// Publishes a version (or adds files to one) — the store's one
    /// transaction, with its audit entry — then records a publish
    /// attestation for each file, signed with the registry's key. An
    /// attestation that cannot be recorded is logged: the publish stands.
    ///
    /// `stored` are the files [`Packages::store`] wrote for this publish.
    /// A stored blob nothing references yet is the collector's to take once
    /// its grace period has passed; if that happens before the publish's
    /// transaction claims it (a loaded machine, a grace set short), the
    /// store refuses the publish with `BlobUnknown` and nothing is written.
    /// The bytes are still in hand, so they are stored again and the
    /// publish tried again, a few times, before the refusal is passed on.
    pub async fn publish(
        &self,
        new: &cairn_store::NewVersion,
        stored: &[&StoredFile],
        mode: cairn_store::PublishMode,
        actor: &cairn_store::Actor,
    ) -> PackageResult<()> {
        let mut again = PUBLISH_RESTORES;
        loop {
            match self.meta.publish(new, mode, actor).await {
                Err(cairn_store::StoreError::BlobUnknown(digest)) if again > 0 => {
                    let Some(file) = stored
                        .iter()
                        .find(|f| f.digests.sha256.to_string() == digest)
                    else {
                        return Err(cairn_store::StoreError::BlobUnknown(digest).into());
                    };
                    tracing::info!(%digest, package = %new.package, version = %new.version,
                        "a file of this publish was collected before the publish claimed it; storing it again");
                    self.blobs
                        .put_bytes(&file.digests.sha256, file.bytes.clone())
                        .await?;
                    again -= 1;
                }
                result => break result?,
            }
        }
        let Some(keys) = self.registry_keys() else {
            return Ok(());
        };
        let now = crate::now();
        for file in &new.files {
            let facts = cairn_core::trust::registry::PublishFacts {
                format: new.format.as_str(),
                repository: &new.repository,
                package: &new.package,
                version: &new.version,
                filename: &file.filename,
                sha256: file.digest.hex(),
                publisher: &actor.name,
                credential: actor.credential.as_deref(),
                source: actor.source.as_deref(),
                published_at: now,
            };
            let Some(bundle) = keys.attest(&cairn_core::trust::registry::publish_statement(&facts))
            else {
                continue;
            };
            let record = cairn_store::attestation::PublishAttestation {
                format: new.format.as_str().to_string(),
                repository: new.repository.clone(),
                package: new.package.clone(),
                version: new.version.clone(),
                filename: file.filename.clone(),
                digest: file.digest.to_string(),
                bundle: bundle.to_string(),
                created_at: now,
            };
            if let Err(e) = self.meta.record_publish_attestation(&record).await {
                tracing::warn!(file = %file.filename, error = %e, "a publish attestation was not recorded");
            }
        }
        Ok(())
    }

    /// The registry's signing keys, once loaded.
    pub fn registry_keys(&self) -> Option<Arc<cairn_core::trust::registry::RegistryKeys>> {
        self.signer.keys()
    }

    /// Revokes tokens found in publishes through `revoker`.
    pub fn with_token_revoker(mut self, revoker: Arc<dyn crate::secrets::TokenRevoker>) -> Self {
        self.revoker = Some(revoker);
        self
    }

    /// What the vulnerability policy covering the repository says of
    /// serving `version` of `pkg` (hosted, or through a proxy repository,
    /// whose versions are matched as packages of their ecosystem): a
    /// refusal in the protocol's shape, or the warning a publisher is
    /// served with.
    pub async fn vuln_gate(
        &self,
        req: &Request,
        pkg: PackageRef<'_>,
        version: &str,
    ) -> PackageResult<Option<String>> {
        if self.vulns.is_open() {
            return Ok(None);
        }
        let subject = cairn_store::sbom::SbomSubject {
            format: pkg.format.as_str().to_string(),
            repository: pkg.repository.to_string(),
            subject: pkg.package.to_string(),
            version: version.to_string(),
        };
        let resource = cairn_http::Resource::package(pkg.format, pkg.repository, pkg.package);
        match self
            .vulns
            .check(&req.auth.principal, &resource, subject)
            .await?
        {
            cairn_core::vuln_policy::Verdict::Refuse(why) => Err(PackageError::Refused(why)),
            cairn_core::vuln_policy::Verdict::ServeWithWarning(why) => Ok(Some(why)),
            cairn_core::vuln_policy::Verdict::Serve => Ok(None),
        }
    }

    /// Serves a file of `version` of `pkg` from the proxy repository
    /// `proxy`, whose cache calls it `cache_key`: the vulnerability policy
    /// is asked first (like a hosted version's: the proxied version is
    /// matched as a package of its ecosystem), then `fetch` serves it, and
    /// the version is noted as cached so that findings reports list it
    /// while the file stays in the cache (written once an hour per file and
    /// replica, in the background).
    pub async fn serve_proxied_version(
        &self,
        req: &Request,
        pkg: PackageRef<'_>,
        version: &str,
        proxy: &Proxy,
        cache_key: &str,
        fetch: impl std::future::Future<Output = PackageResult>,
    ) -> PackageResult {
        let warning = self.vuln_gate(req, pkg, version).await?;
        let resp = fetch.await?;
        if resp.status().is_success() {
            let meta = self.meta.clone();
            let (repository, key) = (proxy.repository().to_string(), cache_key.to_string());
            let noted = cairn_store::ProxiedVersion {
                format: pkg.format.as_str().to_string(),
                repository: pkg.repository.to_string(),
                package: pkg.package.to_string(),
                version: version.to_string(),
            };
            self.downloads.note(
                format!("proxied {repository} {key}"),
                "a proxied version",
                async move { meta.note_proxied_version(&repository, &key, &noted).await },
            );
        }
        Ok(with_vuln_warning(resp, warning))
    }

    /// Serves files only as the vulnerability policies allow.
    pub fn with_vuln_gate(mut self, gate: Arc<cairn_http::VulnGate>) -> Self {
        self.vulns = gate;
        self
    }

    /// The service with these proxy repositories (each knows its `FORMAT/NAME`).
    pub fn with_proxies(mut self, proxies: impl IntoIterator<Item = Arc<Proxy>>) -> Self {
        self.proxies = proxies
            .into_iter()
            .map(|p| (p.repository().to_string(), p))
            .collect();
        self
    }

    /// Every package proxy repository.
    pub fn proxies(&self) -> impl Iterator<Item = &Arc<Proxy>> {
        self.proxies.values()
    }

    /// The proxy repository `repository` of `format`, if it is one.
    pub fn proxy(&self, format: Format, repository: &str) -> Option<&Arc<Proxy>> {
        self.proxies.get(&format.resource(repository))
    }

    /// The refusal of a change to a proxy repository, in the adapters' words.
    pub fn proxy_refuses(&self, proxy: &Proxy) -> PackageError {
        PackageError::MethodNotAllowed(format!(
            "{} is a proxy of {}: it takes no publishes or changes; use a hosted repository",
            proxy.repository(),
            proxy.upstream().base()
        ))
    }

    /// A proxied document as this request sees it (URLs through cairn, the
    /// client's representation): `render` runs once per upstream document
    /// and `variant` (everything else the bytes depend on: the base URL,
    /// the repository, the representation), so a busy document is neither
    /// parsed nor rendered again until the upstream's bytes change.
    pub fn proxied_rendered(
        &self,
        doc: &Document,
        variant: &str,
        content_type: &str,
        render: impl FnOnce() -> PackageResult<Bytes>,
    ) -> PackageResult<Rendered> {
        self.composed(&format!("{}\n{variant}", doc.digest), content_type, render)
    }

    /// A document made from others (a proxied document, a virtual
    /// repository's merged metadata): `render` runs once per `identity`,
    /// which names everything the bytes depend on (the sources' digests or
    /// revisions, the base URL, the representation). The ETag is the
    /// identity's hash.
    pub fn composed(
        &self,
        identity: &str,
        content_type: &str,
        render: impl FnOnce() -> PackageResult<Bytes>,
    ) -> PackageResult<Rendered> {
        match self.composed_lookup(identity, content_type) {
            Some(r) => Ok(r),
            None => Ok(self.composed_store(identity, content_type, render()?)),
        }
    }

    /// The document composed under `identity`, if it is kept.
    pub fn composed_lookup(&self, identity: &str, content_type: &str) -> Option<Rendered> {
        let (key, etag) = composed_key(identity);
        self.proxied_documents
            .get(&key)
            .map(|body| Rendered::new(content_type, Some(etag), body))
    }

    /// Keeps `body` as the document composed under `identity`.
    pub fn composed_store(&self, identity: &str, content_type: &str, body: Bytes) -> Rendered {
        let (key, etag) = composed_key(identity);
        self.proxied_documents.insert(key, body.clone());
        Rendered::new(content_type, Some(etag), body)
    }

    /// Serves a proxied document as the upstream gave it.
    pub fn serve_document(&self, doc: &Document, content_type: &'static str) -> Response {
        let mut resp = Response::new(Body::from(doc.bytes.clone()));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(content_type),
        );
        if let Some(v) = doc.last_modified.as_deref().and_then(|m| m.parse().ok()) {
            resp.headers_mut().insert(header::LAST_MODIFIED, v);
        }
        with_cache_status(resp, doc)
    }

    /// Serves a proxied file: from the blob store once cached, else as it
    /// streams in from the upstream. `x-cairn-cache` says which.
    pub async fn serve_proxied(&self, source: FileSource) -> PackageResult {
        let (mut resp, status) = match source {
            FileSource::Cached {
                digest,
                size,
                content_type,
                last_modified,
            } => {
                let mut resp = self.serve_blob(&digest, size, &content_type).await?;
                if let Some(v) = last_modified.and_then(|m| m.parse().ok()) {
                    resp.headers_mut().insert(header::LAST_MODIFIED, v);
                }
                (resp, "hit")
            }
            FileSource::Streaming {
                body,
                size,
                content_type,
                coalesced,
            } => {
                let mut resp = Response::new(Body::from_stream(body));
                let h = resp.headers_mut();
                if let Some(size) = size {
                    h.insert(header::CONTENT_LENGTH, size.into());
                }
                if let Ok(v) = content_type.parse() {
                    h.insert(header::CONTENT_TYPE, v);
                }
                (resp, if coalesced { "miss; coalesced" } else { "miss" })
            }
        };
        resp.headers_mut()
            .insert(CACHE_HEADER, header::HeaderValue::from_static(status));
        Ok(resp)
    }

    /// A package's metadata document as `render` makes it from the package
    /// (`variant` names everything else the bytes depend on, such as the
    /// base URL and the representation), reused while the package's
    /// revision is unchanged. `None` when there is no such package.
    pub async fn rendered(
        &self,
        pkg: PackageRef<'_>,
        variant: &str,
        render: impl FnOnce(&PackageRecord) -> PackageResult<Rendered>,
    ) -> PackageResult<Option<Rendered>> {
        self.rendered_from(pkg, variant, true, render).await
    }

    /// [`Packages::rendered`] for documents that list versions but not their
    /// files: `render` sees each version's `files` empty, and the package
    /// loads at a fraction of the cost when it has many files.
    pub async fn rendered_versions(
        &self,
        pkg: PackageRef<'_>,
        variant: &str,
        render: impl FnOnce(&PackageRecord) -> PackageResult<Rendered>,
    ) -> PackageResult<Option<Rendered>> {
        self.rendered_from(pkg, variant, false, render).await
    }

    /// [`Packages::rendered`] for documents made from the version names and
    /// the states of the versions that are not active (Maven's artifact
    /// metadata): two small reads on a miss, however many versions.
    pub async fn rendered_index(
        &self,
        pkg: PackageRef<'_>,
        variant: &str,
        render: impl FnOnce(&VersionIndex) -> PackageResult<Rendered>,
    ) -> PackageResult<Option<Rendered>> {
        let load = self.meta.version_index(pkg);
        let variant = format!("{variant}\0index");
        self.cached(pkg, &variant, load, |i| i.revision, render)
            .await
    }

    async fn rendered_from(
        &self,
        pkg: PackageRef<'_>,
        variant: &str,
        with_files: bool,
        render: impl FnOnce(&PackageRecord) -> PackageResult<Rendered>,
    ) -> PackageResult<Option<Rendered>> {
        let variant = format!("{variant}\0{with_files}");
        let meta = &self.meta;
        let load = async move {
            if with_files {
                meta.package(pkg).await
            } else {
                meta.package_versions(pkg).await
            }
        };
        self.cached(pkg, &variant, load, |p| p.revision, render)
            .await
    }

    /// The render cache: a hit while the package's revision is unchanged,
    /// else `load` (only awaited on a miss) and `render`.
    async fn cached<T>(
        &self,
        pkg: PackageRef<'_>,
        variant: &str,
        load: impl std::future::Future<Output = Result<Option<T>, cairn_store::StoreError>>,
        revision_of: impl FnOnce(&T) -> i64,
        render: impl FnOnce(&T) -> PackageResult<Rendered>,
    ) -> PackageResult<Option<Rendered>> {
        let PackageRef {
            format,
            repository,
            package: key,
        } = pkg;
        let Some(revision) = self.meta.package_revision(pkg).await? else {
            return Ok(None);
        };
        let cache_key = format!("{format}\0{repository}\0{key}\0{variant}");
        if let Some(hit) = self.rendered.get(&cache_key, revision) {
            return Ok(Some(hit));
        }
        let Some(loaded) = load.await? else {
            return Ok(None);
        };
        let rendered = render(&loaded)?;
        // Filed under the revision read with the package, so a document
        // rendered while a change landed is never served as the newer one.
        self.rendered
            .put(cache_key, revision_of(&loaded), rendered.clone());
        Ok(Some(rendered))
    }

    /// The one access decision for packages: `action` on the repository's
    /// resource (`FORMAT/REPOSITORY`) or, when the package is known (its
    /// normalised key), on that package's resource (`FORMAT/REPOSITORY/KEY`);
    /// a grant on either allows it. Package clients have no flow to ask for
    /// a wider token (OCI's `insufficient_scope`), so a credential without
    /// the right is refused for good.
    pub fn decide(
        &self,
        principal: &Principal,
        format: Format,
        repository: &str,
        package: Option<&str>,
        action: Action,
    ) -> Result<(), Denied> {
        let on_repository = format.resource(repository);
        let on_package = package.map(|key| format.package_resource(repository, key));
        let mut resources = vec![on_repository.as_str()];
        resources.extend(on_package.as_deref());
        authorize_any(&self.config.access, principal, &resources, action)
    }

    /// The access check a handler makes once it knows more than its
    /// endpoint declared (the package an upload's body names): the guard's
    /// decision and audit rule, refused in the package adapters' words.
    pub async fn check(
        &self,
        req: &Request,
        format: Format,
        repository: &str,
        package: Option<&str>,
        action: Action,
    ) -> PackageResult<()> {
        let resource = match package {
            Some(key) => Resource::package(format, repository, key),
            None => Resource::packages(format, repository),
        };
        self.guard
            .check(req, format.as_str(), action, &resource)
            .await
    }

    /// Whether `principal` may `action` this one package but not the rest of
    /// the repository: a credential issued for just this package (a trusted
    /// publisher an administrator registered for it, or a token scoped to
    /// it), which acts for the package's owners.
    pub fn limited_to_package(
        &self,
        principal: &Principal,
        format: Format,
        repository: &str,
        key: &str,
        action: Action,
    ) -> bool {
        self.decide(principal, format, repository, Some(key), action)
            .is_ok()
            && self
                .decide(principal, format, repository, None, action)
                .is_err()
    }

    /// The lifecycle policy of a repository.
    pub fn policy(&self, format: Format, repository: &str) -> LifecyclePolicy {
        self.config.policy(format, repository)
    }

    /// Reads a whole request body, refusing it (early, by Content-Length,
    /// when the client sent one) beyond the upload limit.
    pub async fn read_body(&self, req: &Request, body: Body) -> PackageResult<Bytes> {
        let limit = self.config.max_upload_bytes;
        if req.content_length().is_some_and(|n| n > limit) {
            return Err(PackageError::TooLarge { limit });
        }
        let limited = http_body_util::Limited::new(body, limit as usize);
        match limited.collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                Err(PackageError::TooLarge { limit })
            }
            Err(e) => Err(PackageError::bad(format!("reading the body: {e}"))),
        }
    }

    /// Stores `bytes` as a verified blob (once, however many packages or
    /// repositories hold it) and returns its digests.
    pub async fn store(&self, bytes: Bytes) -> PackageResult<StoredFile> {
        let digests = digests_of(&bytes);
        self.store_digested(bytes, digests).await
    }

    /// [`Packages::store`] for bytes whose [`digests_of`] the caller has
    /// already computed (to check a client's claims before storing).
    pub async fn store_digested(
        &self,
        bytes: Bytes,
        digests: Digests,
    ) -> PackageResult<StoredFile> {
        let size = self.blobs.put_bytes(&digests.sha256, bytes.clone()).await?;
        Ok(StoredFile {
            digests,
            size,
            bytes,
        })
    }

    /// Serves a stored file: 404 if the package has no such file, 410 if
    /// its version was unpublished (the tombstone stays; the bytes do not).
    ///
    /// What the path resolves to is kept for `download_cache` so a busy
    /// file costs no database round trip: any package change committed by
    /// this process makes every kept resolution stale at once, and a change
    /// made on another replica is seen within `download_cache`. Misses are
    /// never kept, so a new version is served as soon as it is published.
    pub async fn download(
        &self,
        req: &Request,
        pkg: PackageRef<'_>,
        filename: &str,
        content_type: &str,
    ) -> PackageResult {
        let ttl = self.config.download_cache;
        let cache_key = format!(
            "{}\0{}\0{}\0{filename}",
            pkg.format, pkg.repository, pkg.package
        );
        // Read before the database, so an entry is never newer than its count.
        let changes = self.meta.local_package_changes();
        let kept = self
            .resolved
            .get(&cache_key)
            .filter(|r| r.changes == changes && r.at.elapsed() < ttl);
        let resolved = match kept {
            Some(r) => r,
            None => {
                let Some((file, state)) = self.meta.package_file(pkg, filename).await? else {
                    return Err(PackageError::not_found(format!("no file {filename}")));
                };
                let r = Resolved {
                    digest: file.digest,
                    size: file.size,
                    created_at: file.created_at,
                    version: file.version,
                    state,
                    changes,
                    at: std::time::Instant::now(),
                };
                if !ttl.is_zero() {
                    self.resolved.insert(cache_key, r.clone());
                }
                r
            }
        };
        if !resolved.state.serves_bytes() {
            return Ok((
                StatusCode::GONE,
                format!("{filename}: version {} was unpublished\n", resolved.version),
            )
                .into_response());
        }
        if !self.config.secret_quarantine.is_empty()
            && self.meta.is_quarantined(&resolved.digest).await?
        {
            return Err(PackageError::Refused(format!(
                "{filename} is quarantined: secret scanning found a secret in it, and it is held back until an administrator releases it"
            )));
        }
        let warning = self.vuln_gate(req, pkg, &resolved.version).await?;
        let (meta, format, repository, package, version) = (
            self.meta.clone(),
            pkg.format,
            pkg.repository.to_string(),
            pkg.package.to_string(),
            resolved.version.clone(),
        );
        self.downloads.note(
            format!("{format}/{repository}/{package}@{version}"),
            "a download",
            async move {
                let pkg = PackageRef {
                    format,
                    repository: &repository,
                    package: &package,
                };
                meta.note_download(pkg, &version).await
            },
        );
        let mut resp = self
            .serve_blob(&resolved.digest, resolved.size, content_type)
            .await?;
        // The publish time, as registries serve it (Maven clients and
        // release-age checks read it).
        if let Ok(v) = cairn_proxy::http_date(resolved.created_at).parse() {
            resp.headers_mut().insert(header::LAST_MODIFIED, v);
        }
        Ok(with_vuln_warning(resp, warning))
    }

    /// Serves a blob: a redirect to the store's download URL when it offers
    /// one; a small file from memory (content-addressed bytes never change,
    /// and the caller has already found the file in the metadata store);
    /// anything else streamed from the store.
    pub async fn serve_blob(
        &self,
        digest: &Digest,
        size: u64,
        content_type: &str,
    ) -> PackageResult {
        let store = self.blobs.store();
        if let Some(url) = store.download_url(digest).await? {
            return Ok((StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, url)]).into_response());
        }
        let body = if size <= SMALL_FILE {
            let bytes = match self.small_files.get(digest) {
                Some(bytes) => bytes,
                None => {
                    let bytes = self.read_blob(digest).await.map_err(|e| match e {
                        PackageError::NotFound(_) => PackageError::internal(format!(
                            "blob {digest} is referenced but missing"
                        )),
                        e => e,
                    })?;
                    self.small_files.insert(digest.clone(), bytes.clone());
                    bytes
                }
            };
            Body::from(bytes)
        } else {
            let Some(stream) = store.read(digest, None).await? else {
                return Err(PackageError::internal(format!(
                    "blob {digest} is referenced but missing"
                )));
            };
            Body::from_stream(stream.boxed())
        };
        let mut resp = Response::new(body);
        let h = resp.headers_mut();
        h.insert(header::CONTENT_LENGTH, size.into());
        if let Ok(v) = content_type.parse() {
            h.insert(header::CONTENT_TYPE, v);
        }
        if let Ok(v) = format!("\"{}\"", digest.hex()).parse() {
            h.insert(header::ETAG, v);
        }
        Ok(resp)
    }

    /// Reads a blob fully into memory (small files: extracted metadata).
    pub async fn read_blob(&self, digest: &Digest) -> PackageResult<Bytes> {
        self.blobs
            .read_whole(digest)
            .await?
            .ok_or_else(|| PackageError::not_found(format!("no blob {digest}")))
    }
}

/// A response carrying the vulnerability policy's warning, if any.
pub fn with_vuln_warning(mut resp: Response, warning: Option<String>) -> Response {
    if let Some(v) = warning.and_then(|w| w.parse().ok()) {
        resp.headers_mut()
            .insert(cairn_http::vulns::WARNING_HEADER, v);
    }
    resp
}
