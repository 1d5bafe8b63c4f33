//! Configuration: typed structs, filled from a TOML file and then from
//! `CAIRN_*` environment variables, which override the file.
//!
//! Every option can be set from the environment: `CAIRN_LISTEN` sets
//! `listen`, and a double underscore descends into a table, so
//! `CAIRN_OCI__MAX_MANIFEST_BYTES=1048576` sets `oci.max_manifest_bytes`.
//! Values are read as TOML literals when they parse as one (numbers,
//! booleans, arrays, inline tables) and as plain strings otherwise.

use anyhow::{bail, Context};
use cairn_core::policy::TagRuleConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// Where the embedded default keeps blobs (`blobs/`) and the SQLite database.
    pub data_dir: PathBuf,
    /// The URL clients reach cairn at (e.g. behind a proxy); used in token
    /// realms. Derived from the request's Host header when unset.
    pub public_url: Option<String>,
    /// Metadata database URL, `sqlite://PATH` or `postgres://USER:PASSWORD@HOST:PORT/DB`;
    /// defaults to `sqlite://<data_dir>/cairn.db`.
    pub database_url: Option<String>,
    /// `text` (default) or `json` logs.
    pub log_format: String,
    /// Seconds to let in-flight requests finish after SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Seconds to keep retrying, at start, while storage cannot be reached.
    pub startup_timeout_secs: u64,
    /// Where blobs live: `backend = "filesystem"` (default) or `"s3"` with `[storage.s3]`.
    pub storage: cairn_store::config::StorageConfig,
    pub auth: AuthConfig,
    pub oci: OciSettings,
    /// Language packages (npm, PyPI, Cargo): upload limit and unpublish policy.
    pub packages: PackageSettings,
    /// Requests per minute per credential/address; off by default.
    pub rate_limit: crate::limits::RateLimitConfig,
    /// How much of a refused request's unread body is drained after the answer.
    pub drain: crate::drain::DrainConfig,
    /// Proxy repositories (`[[proxy]]`): caches of an upstream registry,
    /// served at the format's usual URLs under their name.
    pub proxy: Vec<cairn_packages::proxy::ProxySettings>,
    /// Virtual repositories (`[[virtual]]`): one URL over ordered hosted and
    /// proxy members of one format.
    #[serde(rename = "virtual")]
    pub virtuals: Vec<cairn_packages::VirtualSettings>,
    /// Garbage collection and upload expiry, run by every replica.
    pub gc: GcConfig,
    /// Retention policies for container repositories (`[[retention]]`),
    /// carried out before each collector run (docs/retention.md).
    pub retention: Vec<cairn_core::retention::RetentionConfig>,
    /// Quotas on a namespace's or repository's unique bytes (`[[quota]]`),
    /// set in the database at start, beside those set through the admin
    /// API (docs/gc.md, "Quotas").
    pub quota: Vec<cairn_core::quota::QuotaConfig>,
    /// Policies refusing downloads and pulls of artifacts with
    /// vulnerability findings (`[[vulnerability_policy]]`; docs/sbom.md).
    pub vulnerability_policy: Vec<cairn_core::vuln_policy::VulnPolicyConfig>,
    /// Public keys signatures are checked against (`[[signing_key]]`;
    /// docs/signatures.md).
    pub signing_key: Vec<cairn_core::trust::SigningKeyConfig>,
    /// Certificates that anchor certificate-based signatures (notation)
    /// (`[[trusted_certificate]]`, the same shape as `[[signing_key]]`).
    pub trusted_certificate: Vec<cairn_core::trust::SigningKeyConfig>,
    /// Keyless (Sigstore) signers: an OpenID issuer and certificate
    /// subject each (`[[signing_identity]]`), checked against
    /// `sigstore.trusted_root`.
    pub signing_identity: Vec<cairn_core::trust::IdentityConfig>,
    /// The pinned Sigstore trusted root keyless signatures are verified
    /// against, offline.
    pub sigstore: SigstoreSettings,
    /// How the replicas sharing a database reach each other (to stream a
    /// proxy fill in progress from the replica filling it).
    pub cluster: ClusterSettings,
    /// Pulls allowed only for signed manifests (`[[signature_policy]]`).
    pub signature_policy: Vec<cairn_core::trust::SignaturePolicyConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// This replica's URL as the other replicas reach it (not the public
    /// one: an address on the replicas' own network). Unset: replicas wait
    /// for each other's fills to be stored instead of streaming them.
    pub advertise_url: Option<String>,
    /// The secret the replicas share, or the environment variable holding
    /// it (at least 16 characters).
    pub secret: Option<String>,
    pub secret_env: Option<String>,
}

impl ClusterSettings {
    /// The peers, when `advertise_url` is set.
    pub fn peers(&self) -> anyhow::Result<Option<std::sync::Arc<cairn_packages::proxy::Peers>>> {
        let Some(url) = &self.advertise_url else {
            return Ok(None);
        };
        let secret = match (&self.secret, &self.secret_env) {
            (Some(s), _) => s.clone(),
            (None, Some(var)) => std::env::var(var)
                .map_err(|_| anyhow::anyhow!("cluster.secret_env: ${var} is not set"))?,
            (None, None) => {
                anyhow::bail!("cluster.advertise_url needs cluster.secret or cluster.secret_env")
            }
        };
        Ok(Some(std::sync::Arc::new(
            cairn_packages::proxy::Peers::new(url, &secret).map_err(anyhow::Error::msg)?,
        )))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigstoreSettings {
    /// Sigstore's `trusted_root.json` (certificate authorities and
    /// transparency logs): a file the operator pins and refreshes.
    pub trusted_root: Option<PathBuf>,
}

impl Config {
    /// The vulnerability policies, compiled, in their configured order (the
    /// first that covers a repository decides it).
    pub fn vuln_policies(&self) -> anyhow::Result<Vec<cairn_core::vuln_policy::VulnPolicy>> {
        self.vulnerability_policy
            .iter()
            .map(|p| cairn_core::vuln_policy::VulnPolicy::compile(p).map_err(anyhow::Error::msg))
            .collect()
    }

    /// The trust configuration (keys read from `pem` or `file`, the
    /// Sigstore trusted root from its file) and the signature policies,
    /// compiled against it.
    pub fn signature_gate(&self) -> anyhow::Result<cairn_oci::signatures::SignatureGate> {
        let read = |what: &str, list: &[cairn_core::trust::SigningKeyConfig]| {
            list.iter()
                .map(|k| {
                    let what = format!("{what} {}", k.id);
                    Ok((k.id.clone(), inline_or_file(&what, "pem", &k.pem, &k.file)?))
                })
                .collect::<anyhow::Result<Vec<_>>>()
        };
        let root = match &self.sigstore.trusted_root {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                anyhow::anyhow!("sigstore.trusted_root: reading {}: {e}", path.display())
            })?),
            None => None,
        };
        let trust = cairn_core::trust::Trust::with_certificates(
            &read("signing key", &self.signing_key)?,
            &read("trusted certificate", &self.trusted_certificate)?,
        )
        .and_then(|t| t.with_keyless(root.as_deref(), &self.signing_identity))
        .map_err(anyhow::Error::msg)?;
        let policies = self
            .signature_policy
            .iter()
            .map(|p| cairn_core::trust::SignaturePolicy::compile(p, &trust))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?;
        Ok(cairn_oci::signatures::SignatureGate { trust, policies })
    }

    /// The checksum databases of hosted Go repositories: named after the
    /// repository and `packages.go_sumdb_name`, signed with an Ed25519 key
    /// generated once and kept in the database (so every replica signs the
    /// same notes).
    pub async fn go_sumdb(
        &self,
        settings: &dyn cairn_store::meta::SettingsStore,
    ) -> anyhow::Result<cairn_go::sumdb::HostedSumdb> {
        use base64::Engine;
        let suffix = &self.packages.go_sumdb_name;
        if !cairn_core::tlog::valid_name(&format!("main.{suffix}")) || suffix.contains('/') {
            anyhow::bail!("packages.go_sumdb_name {suffix:?} may not contain spaces, '+' or '/'");
        }
        let mut fresh = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut fresh);
        let b64 = base64::engine::general_purpose::STANDARD;
        let stored = settings
            .setting_or_insert("go.sumdb.seed", &b64.encode(fresh))
            .await?;
        let seed: [u8; 32] = b64
            .decode(&stored)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("the stored checksum database key is corrupt"))?;
        Ok(cairn_go::sumdb::HostedSumdb::new(seed, suffix))
    }

    /// The tag immutability rules, compiled.
    pub fn tag_rules(&self) -> anyhow::Result<Vec<cairn_core::policy::TagRule>> {
        Ok(self
            .oci
            .immutable_tags
            .iter()
            .map(cairn_core::policy::TagRule::compile)
            .collect::<Result<Vec<_>, _>>()?)
    }

    /// The retention policies, compiled, in their configured order (the
    /// first that covers a repository decides it): those for container
    /// repositories and those for package formats.
    pub fn retention_policies(&self) -> anyhow::Result<cairn_core::retention::Policies> {
        cairn_core::retention::Policies::compile(&self.retention).map_err(anyhow::Error::msg)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GcConfig {
    /// Whether this replica runs the collector on a timer (`cairn gc` runs
    /// it by hand either way).
    pub enabled: bool,
    /// Seconds between runs.
    pub interval_secs: u64,
    /// How long a blob nothing references is kept after its upload (or
    /// after what referenced it went): the time a client has between
    /// pushing a layer and pushing the manifest that uses it. Safety never
    /// depends on it: a manifest naming a collected blob is refused with
    /// MANIFEST_BLOB_UNKNOWN and the client uploads again.
    pub grace_secs: u64,
    /// An upload that received no bytes for this long is cancelled and
    /// its staged bytes removed. Longer than the slowest single chunk.
    pub upload_ttl_secs: u64,
    /// At most this many tags and manifests deleted by retention policies
    /// per run; a repository whose plan would pass it waits (and is logged).
    pub retention_max_deletions: u64,
}

impl Default for GcConfig {
    fn default() -> Self {
        let d = cairn_store::collector::GcSettings::default();
        GcConfig {
            enabled: true,
            interval_secs: 600,
            grace_secs: d.grace_secs,
            upload_ttl_secs: d.upload_ttl_secs,
            retention_max_deletions: 1000,
        }
    }
}

impl GcConfig {
    pub fn settings(&self) -> cairn_store::collector::GcSettings {
        cairn_store::collector::GcSettings {
            grace_secs: self.grace_secs,
            upload_ttl_secs: self.upload_ttl_secs,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Which repositories anyone may read without a credential: `true` (all,
    /// the default), `false` (none), or a list of repository patterns such as
    /// `["public/**", "mirror/*"]`.
    pub anonymous_read: AnonymousRead,
    /// Lifetime of tokens issued by the token endpoint.
    pub token_ttl_secs: u64,
    /// The service name in challenges and tokens.
    pub service: String,
    /// How long a verified credential is trusted without asking the
    /// database again (0: always ask). A change made on this replica takes
    /// effect at once; on other replicas, and from the CLI, within this bound.
    pub credential_cache_secs: u64,
    /// Public keys (P-256, PEM) that sign reports of leaked cairn tokens
    /// (`POST /api/v1/secret-scanning/report`, the GitHub secret-scanning
    /// partner format), by key identifier.
    pub secret_scanning_keys: Vec<ReportKey>,
    /// Where a person's changes need a one-time password (two-factor
    /// authentication): resource patterns such as `["**"]` or
    /// `["npm/main", "prod/**"]`, covering publish, yank and delete, or
    /// `PATTERN:ACTIONS` for other actions. API tokens and trusted
    /// publishing are automation and never asked (docs/two-factor.md).
    pub require_two_factor: Vec<String>,
    /// How long a person's sign-in lasts (`POST /api/v1/session`: a browser
    /// session, or `cairn login`), in seconds.
    pub session_ttl_secs: u64,
    /// Single sign-on for people through an OpenID Connect provider
    /// (docs/sso.md).
    pub oidc: Option<OidcSignIn>,
    /// People sign in with their directory password (LDAP bind; docs/sso.md).
    pub ldap: Option<LdapSignIn>,
    /// `npm login` signs in through the web UI (npm's default
    /// `auth-type=web`: npm prints an address, the person approves it signed
    /// in there — with single sign-on too). Off: npm falls back to asking
    /// for a user name and password. `cairn login --web` works either way.
    pub web_login: bool,
}

/// `[auth.ldap]`: a person's password is checked by binding to the
/// directory as them; cairn makes their user on the first sign-in and maps
/// their directory groups to cairn groups.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdapSignIn {
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub starttls: bool,
    /// The person's DN straight from their name: `uid={user},ou=people,dc=example,dc=org`
    /// (no search). Otherwise the DN is searched for under `user_base`.
    pub user_dn: Option<String>,
    /// Who searches (a service account; anonymous when absent), and its
    /// password (`CAIRN_AUTH__LDAP__BIND_PASSWORD` keeps it out of the file).
    pub bind_dn: Option<String>,
    pub bind_password: Option<String>,
    pub user_base: String,
    /// `{user}` is the name signed in with, escaped.
    pub user_filter: String,
    /// Where groups are searched for (none: no groups).
    pub group_base: Option<String>,
    /// `{dn}` is the person's DN, `{user}` their name, both escaped.
    pub group_filter: String,
    /// The group attribute that names it.
    pub group_attribute: String,
    /// Directory group -> cairn groups it makes the person a member of.
    /// Groups not listed give nothing.
    pub groups: std::collections::BTreeMap<String, Vec<String>>,
    pub timeout_secs: u64,
}

impl Default for LdapSignIn {
    fn default() -> Self {
        LdapSignIn {
            url: String::new(),
            starttls: false,
            user_dn: None,
            bind_dn: None,
            bind_password: None,
            user_base: String::new(),
            user_filter: "(uid={user})".into(),
            group_base: None,
            group_filter: "(|(member={dn})(uniqueMember={dn})(memberUid={user}))".into(),
            group_attribute: "cn".into(),
            groups: Default::default(),
            timeout_secs: 10,
        }
    }
}

/// `[auth.oidc]`: people sign in at an OpenID Connect provider
/// (authorization code with PKCE); cairn makes each user on their first
/// sign-in and maps the provider's groups to cairn groups.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcSignIn {
    /// The provider's issuer URL (its `/.well-known/openid-configuration` is read).
    pub issuer: String,
    pub client_id: String,
    /// The client's secret (a confidential client; `CAIRN_AUTH__OIDC__CLIENT_SECRET`
    /// keeps it out of the file). Without one, cairn is a public client and
    /// PKCE alone binds the code to the sign-in.
    pub client_secret: Option<String>,
    /// What the sign-in button says: "Sign in with ...".
    pub display_name: String,
    pub scopes: Vec<String>,
    /// The claim that names the cairn user (falls back to `sub` when absent).
    pub username_claim: String,
    /// The claim listing the person's groups at the provider.
    pub groups_claim: String,
    /// Provider group -> cairn groups it makes the person a member of.
    /// Groups not listed give nothing.
    pub groups: std::collections::BTreeMap<String, Vec<String>>,
    /// Whether a sign-in counts as having taken a second factor: `always`
    /// (the provider enforces one), or when the ID token's `amr` claim names
    /// one of `second_factor_amr` (the default: `amr`).
    pub second_factor: SsoSecondFactor,
    pub second_factor_amr: Vec<String>,
    /// Where the provider sends the browser back; by default
    /// `<public_url>/api/v1/session/oidc/callback` (register this URL with
    /// the provider).
    pub redirect_url: Option<String>,
}

/// When a single sign-on counts as a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SsoSecondFactor {
    Always,
    Amr,
    Never,
}

impl Default for OidcSignIn {
    fn default() -> Self {
        OidcSignIn {
            issuer: String::new(),
            client_id: String::new(),
            client_secret: None,
            display_name: "single sign-on".into(),
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            username_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
            groups: Default::default(),
            second_factor: SsoSecondFactor::Amr,
            second_factor_amr: ["mfa", "otp", "hwk", "swk", "fpt", "face", "sc"]
                .map(String::from)
                .to_vec(),
            redirect_url: None,
        }
    }
}

/// A key that signs reports of leaked tokens.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReportKey {
    pub id: String,
    pub pem: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OciSettings {
    /// Largest manifest accepted, in bytes.
    pub max_manifest_bytes: usize,
    /// Tags that, once set, can be neither moved nor deleted.
    pub immutable_tags: Vec<TagRuleConfig>,
    /// Repositories (patterns such as `mirror/**`) that take sparse
    /// manifests: images whose layers, or indexes whose platforms, were
    /// never pushed.
    pub sparse_repositories: Vec<String>,
    /// Repositories whose pushed image layers are scanned for secrets
    /// (refused when one is found; docs/security.md).
    pub secret_scan: Vec<String>,
    /// Repositories whose pushed images carrying a secret are stored but
    /// held back (manifest and offending layers not served) until an
    /// administrator releases them, instead of refused.
    pub secret_quarantine: Vec<String>,
    /// Repositories whose pushed images get cairn's publish attestation as
    /// a referrer (docs/signatures.md).
    pub attest_pushes: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:5000".into(),
            data_dir: "./cairn-data".into(),
            public_url: None,
            database_url: None,
            log_format: "text".into(),
            shutdown_grace_secs: 30,
            startup_timeout_secs: 60,
            storage: Default::default(),
            auth: AuthConfig::default(),
            oci: OciSettings::default(),
            packages: PackageSettings::default(),
            rate_limit: Default::default(),
            drain: Default::default(),
            proxy: vec![],
            virtuals: vec![],
            gc: GcConfig::default(),
            retention: vec![],
            quota: vec![],
            vulnerability_policy: vec![],
            signing_key: vec![],
            trusted_certificate: vec![],
            signing_identity: vec![],
            sigstore: SigstoreSettings::default(),
            cluster: ClusterSettings::default(),
            signature_policy: vec![],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PackageSettings {
    /// Largest package upload accepted, in bytes.
    pub max_upload_bytes: u64,
    /// Whether versions may be unpublished at all (by default, yes, inside the window).
    pub allow_unpublish: bool,
    /// How long after publishing a version may be unpublished.
    pub unpublish_window_hours: i64,
    /// Per-repository overrides; the first whose pattern matches
    /// `FORMAT/REPOSITORY` (e.g. `npm/internal`, `*/releases`) applies.
    pub repositories: Vec<RepositoryPolicySettings>,
    /// Whether `POST /go/<repo>/-/publish` may fetch `file://` git URLs
    /// (repositories on the server's disk).
    pub go_allow_file_git: bool,
    /// The git hosts `POST /go/<repo>/-/publish` may fetch from (empty: any).
    pub go_git_hosts: Vec<String>,
    /// The suffix of hosted Go repositories' checksum database names: the
    /// repository `main` serves `main.<suffix>` (docs/go.md).
    pub go_sumdb_name: String,
    /// How long what a download path resolves to (file, version state) is
    /// trusted without asking the database (0: always ask). A change on
    /// this replica takes effect at once; on other replicas within this bound.
    pub download_cache_secs: u64,
    /// Repositories (`FORMAT/REPOSITORY` patterns) whose publishes are
    /// scanned for secrets and refused when one is found (docs/security.md).
    pub secret_scan: Vec<String>,
    /// Repositories whose publishes carrying a secret are stored but held
    /// back (not served) until an administrator releases them, instead of
    /// refused.
    pub secret_quarantine: Vec<String>,
    /// OpenPGP public keys Maven `.asc` signatures are checked against
    /// (`[[packages.openpgp_keys]] id`, `file` or `armored`; docs/maven.md).
    pub openpgp_keys: Vec<OpenPgpKeySettings>,
}

/// `[[packages.openpgp_keys]]`: an armored OpenPGP public key, inline or in a file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenPgpKeySettings {
    pub id: String,
    #[serde(default)]
    pub file: Option<PathBuf>,
    #[serde(default)]
    pub armored: Option<String>,
}

impl Default for PackageSettings {
    fn default() -> Self {
        PackageSettings {
            max_upload_bytes: 256 * 1024 * 1024,
            allow_unpublish: true,
            unpublish_window_hours: 72,
            repositories: vec![],
            go_allow_file_git: false,
            go_git_hosts: vec![],
            go_sumdb_name: "sum.cairn".into(),
            secret_scan: vec![],
            secret_quarantine: vec![],
            openpgp_keys: vec![],
            download_cache_secs: 3,
        }
    }
}

/// `[[packages.repositories]]`: the unpublish policy of matching
/// repositories, and for Maven repositories which versions they take.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryPolicySettings {
    pub pattern: String,
    pub allow_unpublish: Option<bool>,
    pub unpublish_window_hours: Option<i64>,
    /// `release`, `snapshot` or `mixed` (the default).
    pub maven_versions: Option<String>,
    /// Releases only through staging (deploy to `-/staging/<id>/`, close, release).
    #[serde(default)]
    pub maven_staging: bool,
    /// What closing a staging repository demands: `signatures`, `sources-javadoc`.
    #[serde(default)]
    pub maven_require: Vec<String>,
}

impl RepositoryPolicySettings {
    fn maven_rules(&self) -> anyhow::Result<cairn_packages::MavenRules> {
        let versions = match &self.maven_versions {
            None => Default::default(),
            Some(v) => cairn_packages::MavenVersions::parse(v).ok_or_else(|| {
                anyhow::anyhow!("maven_versions = {v:?}: use release, snapshot or mixed")
            })?,
        };
        for r in &self.maven_require {
            if !["signatures", "sigstore", "sources-javadoc"].contains(&r.as_str()) {
                anyhow::bail!("maven_require: {r:?}: use signatures, sigstore or sources-javadoc");
            }
        }
        Ok(cairn_packages::MavenRules {
            versions,
            staging: self.maven_staging,
            require_signatures: self.maven_require.iter().any(|r| r == "signatures"),
            require_sigstore: self.maven_require.iter().any(|r| r == "sigstore"),
            require_sources_javadoc: self.maven_require.iter().any(|r| r == "sources-javadoc"),
        })
    }
}

impl PackageSettings {
    /// The service's configuration: the repository rules compiled.
    pub fn compile(
        &self,
        access: cairn_core::access::AccessPolicy,
    ) -> anyhow::Result<cairn_packages::PackagesConfig> {
        let default_policy = cairn_core::LifecyclePolicy {
            allow_unpublish: self.allow_unpublish,
            unpublish_window_secs: self.unpublish_window_hours * 3600,
            releases_permanent: false,
        };
        let repositories = self
            .repositories
            .iter()
            .map(|r| {
                let policy = cairn_core::LifecyclePolicy {
                    allow_unpublish: r.allow_unpublish.unwrap_or(self.allow_unpublish),
                    unpublish_window_secs: r
                        .unpublish_window_hours
                        .unwrap_or(self.unpublish_window_hours)
                        * 3600,
                    releases_permanent: false,
                };
                let maven = r
                    .maven_rules()
                    .map_err(|e| anyhow::anyhow!("packages.repositories {:?}: {e}", r.pattern))?;
                cairn_packages::RepositoryPolicy::new(&r.pattern, policy, maven)
                    .map_err(|e| anyhow::anyhow!("packages.repositories: {e}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(cairn_packages::PackagesConfig {
            access,
            secret_scan: cairn_core::policy::RepositoryPatterns::compile(&self.secret_scan)
                .map_err(|e| anyhow::anyhow!("packages.secret_scan: {e}"))?,
            secret_quarantine: cairn_core::policy::RepositoryPatterns::compile(
                &self.secret_quarantine,
            )
            .map_err(|e| anyhow::anyhow!("packages.secret_quarantine: {e}"))?,
            max_upload_bytes: self.max_upload_bytes,
            go_git: cairn_packages::GitSources {
                allow_file: self.go_allow_file_git,
                hosts: self
                    .go_git_hosts
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
            },
            default_policy,
            repositories,
            download_cache: std::time::Duration::from_secs(self.download_cache_secs),
            openpgp: std::sync::Arc::new(self.openpgp()?),
            // Set from the trust configuration (Config::signature_gate).
            trust: Default::default(),
        })
    }
}

/// Key material given inline (the field `inline_name`) or in a file: exactly one.
fn inline_or_file(
    what: &str,
    inline_name: &str,
    inline: &Option<String>,
    file: &Option<PathBuf>,
) -> anyhow::Result<String> {
    match (inline, file) {
        (Some(text), None) => Ok(text.clone()),
        (None, Some(file)) => std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("{what}: reading {}: {e}", file.display())),
        _ => anyhow::bail!("{what}: give exactly one of {inline_name} and file"),
    }
}

impl PackageSettings {
    /// The OpenPGP keys, read from their files or inline text.
    fn openpgp(&self) -> anyhow::Result<cairn_core::trust::openpgp::OpenPgpKeys> {
        let mut keys = Vec::new();
        for k in &self.openpgp_keys {
            let what = format!("OpenPGP key {}", k.id);
            keys.push((
                k.id.clone(),
                inline_or_file(&what, "armored", &k.armored, &k.file)?,
            ));
        }
        cairn_core::trust::openpgp::OpenPgpKeys::parse(&keys).map_err(anyhow::Error::msg)
    }
}

/// `auth.anonymous_read`: a switch for every repository, or a list of patterns.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum AnonymousRead {
    All(bool),
    Only(Vec<String>),
}

impl AnonymousRead {
    /// The repository patterns anonymous reads are allowed on.
    pub fn patterns(&self) -> Vec<String> {
        match self {
            AnonymousRead::All(true) => vec!["**".to_string()],
            AnonymousRead::All(false) => vec![],
            AnonymousRead::Only(patterns) => patterns.clone(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            anonymous_read: AnonymousRead::All(true),
            token_ttl_secs: 300,
            service: "cairn".into(),
            credential_cache_secs: 3,
            secret_scanning_keys: vec![],
            require_two_factor: vec![],
            session_ttl_secs: 12 * 3600,
            web_login: false,
            oidc: None,
            ldap: None,
        }
    }
}

impl Default for OciSettings {
    fn default() -> Self {
        OciSettings {
            max_manifest_bytes: 4 * 1024 * 1024,
            immutable_tags: vec![],
            sparse_repositories: vec![],
            secret_scan: vec![],
            secret_quarantine: vec![],
            attest_pushes: vec![],
        }
    }
}

/// Formats whose repositories can be proxies (with `oci`).
const PROXIED_FORMATS: [cairn_core::Format; 5] = cairn_core::Format::ALL;

/// The proxy repositories `[[proxy]]` declares, checked: a known format,
/// a valid and unique name, a usable upstream and credentials.
pub fn proxies(
    config: &Config,
    meta: std::sync::Arc<dyn cairn_store::MetaStore>,
    blobs: std::sync::Arc<cairn_store::Blobs>,
) -> anyhow::Result<Vec<std::sync::Arc<cairn_packages::proxy::Proxy>>> {
    let mut seen = std::collections::HashSet::new();
    let spool = config.data_dir.join("proxy-spool");
    let peers = config.cluster.peers()?;
    config
        .proxy
        .iter()
        .map(|p| {
            let format = match p.format.as_str() {
                "oci" => None,
                f => Some(
                    cairn_core::Format::parse(f)
                        .filter(|f| PROXIED_FORMATS.contains(f))
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "proxy {:?}: format {:?} cannot be proxied: use oci, npm, pypi, cargo, go or maven",
                                p.name,
                                p.format
                            )
                        })?,
                ),
            };
            cairn_packages::split_repository(&p.name)
                .ok()
                .filter(|(name, rest)| name == &p.name && rest.is_empty())
                .ok_or_else(|| anyhow::anyhow!("proxy {:?}: not a repository name (lower-case letters, digits, '.', '_', '-')", p.name))?;
            // OCI proxies serve the names below theirs; their cache keys
            // live apart from the package formats'.
            let repository = match format {
                Some(f) => f.resource(&p.name),
                None => format!("oci/{}", p.name),
            };
            if !seen.insert(repository.clone()) {
                bail!("proxy {repository} is declared twice");
            }
            let mut proxy = cairn_packages::proxy::Proxy::new(
                repository,
                p.clone(),
                meta.clone(),
                blobs.clone(),
                spool.clone(),
            )
            .map_err(|e| anyhow::anyhow!(e))?;
            if let Some(peers) = &peers {
                proxy = proxy.with_peers(peers.clone());
            }
            Ok(std::sync::Arc::new(proxy))
        })
        .collect()
}

/// The virtual repositories `[[virtual]]` declares, checked: a package
/// format, a valid name no proxy or other virtual repository has, members
/// of its format (a proxy by its name; any other name is a hosted
/// repository, never a virtual one).
pub fn virtuals(
    config: &Config,
    proxies: &[std::sync::Arc<cairn_packages::proxy::Proxy>],
) -> anyhow::Result<Vec<std::sync::Arc<cairn_packages::Virtual>>> {
    let packages: Vec<_> = config
        .virtuals
        .iter()
        .filter(|v| v.format != "oci")
        .cloned()
        .collect();
    let config = &Config {
        virtuals: packages,
        ..config.clone()
    };
    let mut seen = std::collections::HashSet::new();
    let declared: std::collections::HashSet<String> = config
        .virtuals
        .iter()
        .map(|v| format!("{}/{}", v.format, v.name))
        .collect();
    config
        .virtuals
        .iter()
        .map(|v| {
            let format = cairn_core::Format::parse(&v.format).ok_or_else(|| {
                anyhow::anyhow!(
                    "virtual {:?}: format {:?}: use oci, npm, pypi, cargo, go or maven",
                    v.name,
                    v.format
                )
            })?;
            let repository = format.resource(&v.name);
            let valid = |name: &str| {
                cairn_packages::split_repository(name)
                    .ok()
                    .is_some_and(|(n, rest)| n == name && rest.is_empty())
            };
            if !valid(&v.name) {
                bail!("virtual {repository}: not a repository name (lower-case letters, digits, '.', '_', '-')");
            }
            if !seen.insert(repository.clone()) {
                bail!("virtual {repository} is declared twice");
            }
            let proxy = |name: &str| {
                proxies
                    .iter()
                    .find(|p| p.repository() == format.resource(name))
                    .cloned()
            };
            if proxy(&v.name).is_some() {
                bail!("virtual {repository}: a proxy repository has that name");
            }
            for m in &v.members {
                let name = m.name();
                if !valid(name) {
                    bail!("virtual {repository}: member {name:?} is not a repository name");
                }
                if declared.contains(&format.resource(name)) {
                    bail!("virtual {repository}: member {name:?} is a virtual repository; members are hosted or proxy repositories");
                }
            }
            let virt = cairn_packages::Virtual::new(format, v, proxy)
                .map_err(|e| anyhow::anyhow!("virtual {repository}: {e}"))?;
            Ok(std::sync::Arc::new(virt))
        })
        .collect()
}

/// The OCI virtual repositories `[[virtual]] format = "oci"` declares:
/// prefixes over hosted prefixes and OCI proxy repositories, named apart
/// from every proxy.
pub fn oci_virtuals(
    config: &Config,
    proxies: &[std::sync::Arc<cairn_packages::proxy::Proxy>],
) -> anyhow::Result<Vec<cairn_oci::OciVirtual>> {
    let mut seen = std::collections::HashSet::new();
    config
        .virtuals
        .iter()
        .filter(|v| v.format == "oci")
        .map(|v| {
            let name = &v.name;
            if !seen.insert(name.clone()) {
                bail!("virtual oci/{name} is declared twice");
            }
            if cairn_core::RepoName::parse(name).is_err() || name.contains('/') {
                bail!("virtual oci/{name}: not a one-segment repository name");
            }
            if proxies.iter().any(|p| p.settings().name == *name) {
                bail!("virtual oci/{name}: a proxy repository has that name");
            }
            if v.cooldown_hours != 0.0 || !v.cooldown_rules.is_empty() || !v.cooldown_exempt.is_empty() {
                bail!("virtual oci/{name}: the cooldown is for package formats; tags have no publish time");
            }
            let mut members = Vec::new();
            for m in &v.members {
                match m {
                    cairn_packages::MemberSettings::Name(n) => members.push(n.clone()),
                    cairn_packages::MemberSettings::Filtered { name: n, .. } => {
                        bail!("virtual oci/{name}: member {n:?}: include/exclude filters are for package formats")
                    }
                }
            }
            let proxy = |m: &str| proxies.iter().find(|p| p.settings().name == m).cloned();
            cairn_oci::OciVirtual::new(
                name,
                &members,
                v.publish_to.as_deref(),
                &v.claims,
                &v.allow_external,
                proxy,
            )
            .map_err(|e| anyhow::anyhow!("virtual oci/{name}: {e}"))
        })
        .collect()
}

/// Environment variables that configure the CLI itself rather than the server:
/// the config file path and the log filter (`CAIRN_LOG=debug`).
const NOT_CONFIG: [&str; 2] = ["CAIRN_CONFIG", "CAIRN_LOG"];

impl Config {
    /// Loads the TOML file (if any), then applies `CAIRN_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Config> {
        let mut root = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                text.parse::<toml::Table>()
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => toml::Table::new(),
        };
        for (key, value) in env {
            let Some(rest) = key.strip_prefix("CAIRN_") else {
                continue;
            };
            if NOT_CONFIG.contains(&key.as_str()) || value.is_empty() {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
            set_path(&mut root, &path, parse_env_value(&value))
                .with_context(|| format!("applying environment variable {key}"))?;
        }
        let config: Config = toml::Value::Table(root).try_into().context(
            "invalid configuration (from the config file and CAIRN_* environment variables)",
        )?;
        Ok(config)
    }
}

fn parse_env_value(value: &str) -> toml::Value {
    format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> anyhow::Result<()> {
    match path {
        [] => bail!("empty key"),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => bail!("{first} is not a table"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cairn.toml");
        std::fs::write(
            &file,
            r#"
listen = "127.0.0.1:7000"
[auth]
anonymous_read = false
[[oci.immutable_tags]]
name = "prod"
repositories = "prod/**"
tags = '^v\d+'
"#,
        )
        .unwrap();
        let env = [
            ("CAIRN_LISTEN".to_string(), "127.0.0.1:7001".to_string()),
            ("CAIRN_DATA_DIR".to_string(), "/tmp/x".to_string()),
            (
                "CAIRN_OCI__MAX_MANIFEST_BYTES".to_string(),
                "1024".to_string(),
            ),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        let c = Config::load(Some(&file), env).unwrap();
        assert_eq!(c.listen, "127.0.0.1:7001");
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.oci.max_manifest_bytes, 1024);
        assert_eq!(c.auth.anonymous_read, AnonymousRead::All(false));
        assert_eq!(c.oci.immutable_tags[0].name, "prod");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let env = [("CAIRN_LISTNE".to_string(), "x".to_string())];
        let err = Config::load(None, env).unwrap_err();
        assert!(format!("{err:#}").contains("listne"), "{err:#}");
    }
}
