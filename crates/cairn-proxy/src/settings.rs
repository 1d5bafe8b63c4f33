//! A proxy repository's configuration (`[[proxy]]` in the server's TOML).

use serde::Deserialize;

/// One proxy repository.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxySettings {
    /// `oci`, `npm`, `pypi`, `cargo`, `go` or `maven`.
    pub format: String,
    /// The repository's name: it is served at the format's usual URL
    /// (`/npm/<name>/`, `/pypi/<name>/simple/`).
    pub name: String,
    /// The upstream's base URL, e.g. `https://registry.npmjs.org/` or
    /// `https://pypi.org/simple/`.
    pub upstream: String,
    /// Credentials sent to the upstream (and to no other host): Basic with
    /// `username` and a password, or a Bearer `token`. The secret can be
    /// named by an environment variable instead of written here.
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_env: Option<String>,
    pub token: Option<String>,
    pub token_env: Option<String>,
    /// How old a metadata document may be before a request revalidates it
    /// (one conditional request), waiting at most `revalidate_wait_ms` for
    /// the answer before serving the cached copy; the revalidation goes on
    /// in the background. This is what makes a version published upstream
    /// a moment ago installable at once.
    pub revalidate_after_secs: u64,
    pub revalidate_wait_ms: u64,
    /// How old a metadata document may be and still be served without the
    /// upstream's answer (beyond it, requests wait for the revalidation).
    pub ttl_secs: u64,
    /// How long past its time to live a document is still served when the
    /// upstream fails.
    pub max_stale_secs: u64,
    /// How long the upstream's "not found" is believed.
    pub negative_ttl_secs: u64,
    /// Serve only what is cached; never call the upstream.
    pub offline: bool,
    /// Seconds to wait for the upstream to connect, and to answer at all.
    pub connect_timeout_secs: u64,
    pub timeout_secs: u64,
    /// Consecutive upstream failures that open the circuit breaker.
    pub failures_to_open: u32,
    /// Largest file and largest document taken from the upstream.
    pub max_file_bytes: u64,
    pub max_document_bytes: u64,
    /// What happens to a version the upstream no longer lists.
    pub removed_upstream: RemovedUpstream,
    /// When the upstream says its pull budget (Docker Hub's
    /// `ratelimit-remaining`) is down to this many, cairn stops optional
    /// refreshes: documents within their time to live are served from the
    /// cache without asking.
    pub ratelimit_floor: u64,
    /// How long a replica's claim to be fetching a file lasts unless it
    /// renews it (every third of this while it streams); another replica
    /// takes the fetch over this long after the first one died.
    pub fill_lease_secs: u64,
    /// Go: where the checksum database `sumdb_name` is fetched from, for
    /// `GOSUMDB` through cairn. Unset: from the upstream proxy's own
    /// `/sumdb/<name>/` (proxy.golang.org serves sum.golang.org there).
    pub sumdb_url: Option<String>,
    pub sumdb_name: String,
    /// OCI: the registry host containerd names in `?ns=` when cairn is its
    /// mirror (e.g. `docker.io`): such requests are served by this proxy.
    pub namespace: Option<String>,
    /// Cached files and documents nobody fetched or was served for this
    /// many days are evicted before each collector run (which then frees
    /// their bytes); unset: the cache keeps everything.
    pub evict_after_days: Option<u64>,
}

/// What a proxy does with a cached version that disappears upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemovedUpstream {
    /// Keep serving the cached files (a left-pad never breaks a build).
    #[default]
    Keep,
    /// Refuse its cached files (404) while the upstream does not list them.
    Hide,
    /// Refuse them and drop them from the cache (a malware takedown): they
    /// come back only if the upstream lists and serves them again.
    Purge,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            format: String::new(),
            name: String::new(),
            upstream: String::new(),
            username: None,
            password: None,
            password_env: None,
            token: None,
            token_env: None,
            revalidate_after_secs: 10,
            revalidate_wait_ms: 500,
            ttl_secs: 300,
            max_stale_secs: 30 * 24 * 3600,
            negative_ttl_secs: 60,
            offline: false,
            connect_timeout_secs: 5,
            timeout_secs: 60,
            failures_to_open: 5,
            max_file_bytes: 8 << 30,
            max_document_bytes: 128 << 20,
            removed_upstream: RemovedUpstream::Keep,
            namespace: None,
            evict_after_days: None,
            sumdb_url: None,
            sumdb_name: "sum.golang.org".into(),
            fill_lease_secs: 10,
            ratelimit_floor: 10,
        }
    }
}

impl ProxySettings {
    /// The `Authorization` value for the upstream, from the settings or
    /// the environment variables they name.
    pub fn authorization(&self) -> Result<Option<String>, String> {
        let secret = |value: &Option<String>, env: &Option<String>, what: &str| match (value, env) {
            (Some(v), _) => Ok(Some(v.clone())),
            (None, Some(var)) => std::env::var(var).map(Some).map_err(|_| {
                format!(
                    "proxy {}: {what}_env names {var}, which is not set",
                    self.name
                )
            }),
            (None, None) => Ok(None),
        };
        let token = secret(&self.token, &self.token_env, "token")?;
        let password = secret(&self.password, &self.password_env, "password")?;
        Ok(match (token, &self.username, password) {
            (Some(t), _, _) => Some(format!("Bearer {t}")),
            (None, Some(user), password) => {
                use base64::Engine;
                let pair = format!("{user}:{}", password.unwrap_or_default());
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            (None, None, Some(_)) => {
                return Err(format!("proxy {}: a password needs a username", self.name))
            }
            (None, None, None) => None,
        })
    }
}
