//! The cairn HTTP application: mounts the protocol adapters, authenticates
//! requests, and serves tokens, metrics and health.
//!
//! The rule of this layer: it wires things together and owns cross-cutting
//! concerns (authentication, logs, metrics, shutdown). It makes no artifact
//! decisions; those belong to the adapters and the core.

pub mod api;
pub mod auth;
mod client_auth;
pub mod config;
pub mod drain;
mod formats;
pub mod identity;
pub mod jobs;
pub mod limits;
mod maintenance;
mod observe;
pub mod oidc;
pub mod sso;
mod ui;
pub mod web_login;

use anyhow::Context;
use auth::{AuthFailure, Authenticator};
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use cairn_core::access::AccessPolicy;
use cairn_core::policy::TagRule;
use cairn_oci::{OciApi, OciConfig};
use cairn_store::{BlobStore, Blobs, MetaStore};
pub use config::Config;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Everything a request handler can reach.
pub struct AppState {
    pub config: Config,
    /// `None` when rate limiting is off.
    pub limits: Option<limits::RateLimits>,
    /// Issuers' signing keys for trusted publishing and single sign-on.
    pub oidc: oidc::JwksCache,
    /// The OpenID Connect provider people sign in at (`[auth.oidc]`).
    pub sso: Option<sso::SsoProvider>,
    pub auth: Authenticator,
    /// The access decision and audit rule in front of every adapter.
    pub guard: cairn_http::Guard,
    /// Users, groups, grants and tokens, and who may manage them.
    pub identity: identity::Identity,
    pub oci: OciApi,
    /// The language-package service the format adapters share.
    pub packages: Arc<cairn_packages::Packages>,
    /// The registry's own signing keys, shared by the adapters that sign;
    /// maintenance reloads them from the database.
    pub registry_signer: Arc<cairn_http::RegistrySigner>,
    pub npm: cairn_npm::NpmApi,
    pub pypi: cairn_pypi::PypiApi,
    pub cargo: cairn_cargo::CargoApi,
    pub go: cairn_go::GoApi,
    pub maven: cairn_maven::MavenApi,
    pub blob_store: Arc<dyn BlobStore>,
    pub meta: Arc<dyn MetaStore>,
    /// The gauges `/metrics` reads from the stores.
    pub gauges: observe::Gauges,
    /// Retention policies, compiled (the first covering a repository decides it).
    pub retention: cairn_core::retention::Policies,
    /// Tag immutability rules, which retention never overrides.
    pub tag_rules: Vec<TagRule>,
    /// Proxy fills in progress, served to the other replicas.
    pub fills: Fills,
}

/// What `GET /_cairn/fill` serves: the proxy repositories' fills in
/// progress, to the replicas presenting the cluster's secret.
pub struct Fills {
    peers: Option<Arc<cairn_packages::proxy::Peers>>,
    proxies: std::collections::HashMap<String, Arc<cairn_packages::proxy::Proxy>>,
}

/// A built application, plus the admin secret if this start created it.
pub struct App {
    pub router: Router,
    pub state: Arc<AppState>,
    pub new_admin_secret: Option<String>,
}

/// Sets the quotas the configuration declares (`[[quota]]`), where the
/// database holds another limit or none; quotas set through the admin API
/// for other scopes stay.
async fn apply_configured_quotas(config: &Config, meta: &dyn MetaStore) -> anyhow::Result<()> {
    let stored = meta.quotas().await?;
    for q in &config.quota {
        cairn_core::quota::check_scope(&q.scope).map_err(|e| anyhow::anyhow!("[[quota]]: {e}"))?;
        let limit = q.max_unique_bytes.0;
        if stored
            .iter()
            .any(|s| s.scope == q.scope && s.max_unique_bytes == limit)
        {
            continue;
        }
        meta.set_quota(&q.scope, limit, &cairn_store::Actor::local("config"))
            .await?;
        tracing::info!(scope = %q.scope, max_unique_bytes = limit, "quota set from the configuration");
    }
    Ok(())
}

impl App {
    /// Opens the stores named by `config` and builds the router.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let (blob_store, meta) = open_stores_with_retry(&config).await?;
        let new_admin_secret = auth::bootstrap_admin(&*meta).await?;
        apply_configured_quotas(&config, &*meta).await?;
        let access = AccessPolicy::anonymous_read(&config.auth.anonymous_read.patterns())
            .context("auth.anonymous_read")?
            .with_two_factor(&config.auth.require_two_factor)
            .context("auth.require_two_factor")?;
        let tag_rules = config.tag_rules()?;
        let retention = config.retention_policies()?;
        let credentials = Arc::new(identity::CredentialCache::new(Duration::from_secs(
            config.auth.credential_cache_secs,
        )));
        let identity = identity::Identity::new(meta.clone(), access.clone(), credentials.clone());
        // Tokens found in publishes are revoked through the identity
        // service, which clears the credential cache.
        let revoker = Arc::new(identity::Identity::new(
            meta.clone(),
            access.clone(),
            credentials.clone(),
        ));
        let auth = Authenticator::new(
            meta.clone(),
            &*meta,
            credentials,
            config.auth.service.clone(),
            config.auth.token_ttl_secs,
            access.clone(),
        )
        .await?
        .with_directory(
            identity::ldap::Directory::from_config(config.auth.ldap.as_ref())?.map(Arc::new),
        );
        let vulns = Arc::new(cairn_http::VulnGate::new(
            config.vuln_policies()?,
            meta.clone(),
            access.clone(),
        ));
        let signature_gate = config.signature_gate()?;
        let go_sumdb = config.go_sumdb(meta.as_ref()).await?;
        let registry_signer = Arc::new(cairn_http::RegistrySigner::default());
        registry_signer.set(Arc::new(npm_registry_keys(meta.as_ref()).await?));
        let blobs = Arc::new(Blobs::new(blob_store.clone(), meta.clone()));
        let all_proxies = config::proxies(&config, meta.clone(), blobs.clone())?;
        let fills = Fills {
            peers: config.cluster.peers()?,
            proxies: all_proxies
                .iter()
                .map(|p| (p.repository().to_string(), p.clone()))
                .collect(),
        };
        let (oci_proxies, package_proxies): (Vec<_>, Vec<_>) = all_proxies
            .into_iter()
            .partition(|p| p.settings().format == "oci");
        let virtuals = config::virtuals(&config, &package_proxies)?;
        let oci_virtuals = config::oci_virtuals(&config, &oci_proxies)?;
        let packages_config = cairn_packages::PackagesConfig {
            trust: Arc::new(signature_gate.trust.clone()),
            ..config.packages.compile(access.clone())?
        };
        let packages = Arc::new(
            cairn_packages::Packages::new(blobs.clone(), meta.clone(), packages_config)
                .with_proxies(package_proxies)
                .with_virtuals(virtuals)
                .with_vuln_gate(vulns.clone())
                .with_token_revoker(revoker.clone())
                .with_registry_signer(registry_signer.clone()),
        );
        let oci = OciApi::new(
            blobs,
            meta.clone(),
            OciConfig {
                access: access.clone(),
                tag_rules: tag_rules.clone(),
                max_manifest_bytes: config.oci.max_manifest_bytes,
                sparse: cairn_core::policy::RepositoryPatterns::compile(
                    &config.oci.sparse_repositories,
                )
                .map_err(|e| anyhow::anyhow!("oci.sparse_repositories: {e}"))?,
                secret_scan: cairn_core::policy::RepositoryPatterns::compile(
                    &config.oci.secret_scan,
                )
                .map_err(|e| anyhow::anyhow!("oci.secret_scan: {e}"))?,
                secret_quarantine: cairn_core::policy::RepositoryPatterns::compile(
                    &config.oci.secret_quarantine,
                )
                .map_err(|e| anyhow::anyhow!("oci.secret_quarantine: {e}"))?,
                attest_pushes: cairn_core::policy::RepositoryPatterns::compile(
                    &config.oci.attest_pushes,
                )
                .map_err(|e| anyhow::anyhow!("oci.attest_pushes: {e}"))?,
            },
        )
        .with_proxies(oci_proxies)
        .with_virtuals(oci_virtuals)
        .with_vuln_gate(vulns)
        .with_signature_gate(Arc::new(signature_gate))
        .with_registry_signer(registry_signer.clone())
        .with_token_revoker(revoker);
        let state = Arc::new(AppState {
            limits: limits::RateLimits::new(&config.rate_limit),
            oidc: oidc::JwksCache::default(),
            sso: sso::SsoProvider::from_config(config.auth.oidc.as_ref())?,
            config,
            auth,
            guard: cairn_http::Guard::new(access.clone(), meta.clone()),
            identity,
            oci,
            npm: cairn_npm::NpmApi::new(packages.clone()),
            pypi: cairn_pypi::PypiApi::new(packages.clone()),
            cargo: cairn_cargo::CargoApi::new(packages.clone()),
            go: cairn_go::GoApi::new(packages.clone()).with_sumdb(go_sumdb),
            maven: cairn_maven::MavenApi::new(packages.clone()),
            packages,
            registry_signer,
            blob_store,
            meta,
            gauges: Default::default(),
            retention,
            tag_rules,
            fills,
        });
        let router = Router::new()
            .route("/v2", any(oci_handler))
            .route("/v2/", any(oci_handler))
            .route("/v2/{*rest}", any(oci_handler))
            .route("/auth/token", get(token_handler))
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(ready_handler))
            .route("/metrics", get(observe::metrics_handler))
            .route(cairn_packages::proxy::peers::FILL_PATH, get(fill_handler))
            .merge(api::routes())
            .merge(formats::routes())
            .merge(ui::routes())
            .layer(axum::middleware::from_fn(observe::observe))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(state.config.drain.clone()),
                drain::drain_unread,
            ))
            .with_state(state.clone());
        Ok(App {
            router,
            state,
            new_admin_secret,
        })
    }
}

/// Opens the stores, waiting with exponential backoff (up to
/// `startup_timeout_secs`) while they cannot be reached, and saying so.
async fn open_stores_with_retry(
    config: &Config,
) -> anyhow::Result<(Arc<dyn BlobStore>, Arc<dyn MetaStore>)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(config.startup_timeout_secs);
    let mut delay = Duration::from_millis(200);
    loop {
        match cairn_store::open(
            &config.data_dir,
            &config.storage,
            config.database_url.as_deref(),
        )
        .await
        {
            Ok(stores) => return Ok(stores),
            Err(e) if std::time::Instant::now() + delay < deadline => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "waiting for storage (blob directory and metadata database)");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "opening storage (data dir {}) failed for {} s",
                        config.data_dir.display(),
                        config.startup_timeout_secs
                    )
                })
            }
        }
    }
}

/// The npm registry's key list as stored in the shared database (generated
/// on the first start; `cairn npm rotate-key` adds one).
async fn stored_npm_keys(
    settings: &dyn cairn_store::meta::SettingsStore,
) -> anyhow::Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    Ok(settings
        .setting_or_insert(
            cairn_core::trust::registry::KEYS_SETTING,
            &cairn_core::trust::registry::initial(now),
        )
        .await?)
}

/// The npm registry's signing keys.
pub async fn npm_registry_keys(
    settings: &dyn cairn_store::meta::SettingsStore,
) -> anyhow::Result<cairn_core::trust::registry::RegistryKeys> {
    Ok(cairn_core::trust::registry::RegistryKeys::parse(
        &stored_npm_keys(settings).await?,
    )?)
}

/// Rotates the npm registry's signing key (compare and set: a rotation
/// racing another starts over on the winner's list); returns the old and
/// the new signing key ids.
pub async fn rotate_npm_key(
    settings: &dyn cairn_store::meta::SettingsStore,
) -> anyhow::Result<(String, String)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    for _ in 0..10 {
        let stored = stored_npm_keys(settings).await?;
        let old = cairn_core::trust::registry::RegistryKeys::parse(&stored)?;
        let rotated = cairn_core::trust::registry::rotate(&stored, now)?;
        if settings
            .replace_setting(cairn_core::trust::registry::KEYS_SETTING, &stored, &rotated)
            .await?
        {
            let new = cairn_core::trust::registry::RegistryKeys::parse(&rotated)?;
            return Ok((
                old.signing_keyid().to_string(),
                new.signing_keyid().to_string(),
            ));
        }
    }
    anyhow::bail!("the npm registry keys kept changing while rotating; try again")
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting
/// connections and lets in-flight requests finish (up to the configured grace).
pub async fn run(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grace = Duration::from_secs(app.state.config.shutdown_grace_secs);
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
        let _ = stopping_tx.send(());
    };
    // Without TCP_NODELAY a streamed body written after its headers waits
    // for the peer's delayed ACK (~40 ms) on every small response.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let stop_maintenance = tokio_util::sync::CancellationToken::new();
    let collector = maintenance::spawn_collector(app.state.clone(), stop_maintenance.clone());
    let sweep = maintenance::spawn_trust_sweep(app.state.clone(), stop_maintenance.clone());
    let service = app
        .router
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(signal);
    let server = tokio::spawn(async move { server.await });
    tokio::pin!(server);
    tokio::select! {
        res = &mut server => {
            stop_maintenance.cancel();
            return Ok(res??);
        }
        _ = stopping_rx => {}
    }
    // A collector run stops at its next step; nothing it does is left half
    // done by stopping (a blob marked for deletion is finished next run).
    stop_maintenance.cancel();
    if let Some(task) = collector {
        let _ = tokio::time::timeout(grace, task).await;
    }
    let _ = tokio::time::timeout(grace, sweep).await;
    match tokio::time::timeout(grace, &mut server).await {
        Ok(res) => res??,
        Err(_) => tracing::warn!(
            grace_secs = grace.as_secs(),
            "requests still running after the grace period; exiting"
        ),
    }
    tracing::info!("stopped");
    Ok(())
}

/// The URL of the token endpoint, as the client reached us.
pub(crate) fn realm(config: &Config, headers: &HeaderMap) -> String {
    match &config.public_url {
        Some(url) => format!("{}/auth/token", url.trim_end_matches('/')),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}/auth/token")
        }
    }
}

/// The client's address, when the server was started with connection info.
pub(crate) fn source_of(parts: &axum::http::request::Parts) -> Option<String> {
    source_in(&parts.extensions)
}

/// The client's address, from a request's extensions.
pub(crate) fn source_in(extensions: &axum::http::Extensions) -> Option<String> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// The user name a Basic header claims, for the audit log of failed logins.
fn claimed_user(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, payload)| auth::decode_basic(payload))
        .map(|(user, _)| user)
        .unwrap_or_else(|| "unknown".to_string())
}

/// Authenticates a request; a failure is audited and answered with a challenge.
async fn authenticate_with_challenge(
    state: &AppState,
    parts: &axum::http::request::Parts,
) -> Result<cairn_core::Principal, Response> {
    authenticate_request(
        state,
        &parts.headers,
        source_of(parts),
        parts.uri.path(),
        |why| unauthorized(state, &parts.headers, why),
    )
    .await
}

/// [`authenticate`] for handlers that have the pieces rather than the parts,
/// and render a failure their own way (`render`).
pub(crate) async fn authenticate_request(
    state: &AppState,
    headers: &HeaderMap,
    source: Option<String>,
    path: &str,
    render: impl FnOnce(AuthFailure) -> Response,
) -> Result<cairn_core::Principal, Response> {
    match state.auth.authenticate(headers).await {
        Ok(p) => Ok(p),
        Err(AuthFailure::Unavailable) => Err(render(AuthFailure::Unavailable)),
        Err(why) => {
            failed_authentication(
                state,
                &claimed_user(headers),
                source,
                path,
                &format!("{why:?}"),
            )
            .await?;
            tracing::warn!(reason = why.message(), "authentication failed");
            Err(render(why))
        }
    }
}

/// A failed authentication (a wrong credential, a wrong one-time password
/// at sign-in): audited, and counted against the source's budget of
/// failures; `Err` with the answer once the budget is spent.
pub(crate) async fn failed_authentication(
    state: &AppState,
    user: &str,
    source: Option<String>,
    path: &str,
    outcome: &str,
) -> Result<(), Response> {
    let entry = cairn_store::AuditRecord {
        actor: user.to_string(),
        source: source.clone(),
        action: "auth.failed".to_string(),
        artifact: Some(path.to_string()),
        outcome: outcome.to_string(),
        ..Default::default()
    };
    if let Err(e) = state.meta.append_audit(&entry).await {
        tracing::error!(error = %e, "could not append to the audit log");
    }
    if let Some(limits) = &state.limits {
        let source = source.unwrap_or_else(|| "unknown".to_string());
        if let Err(limited) = limits.auth_failure(&state.config.rate_limit, &source) {
            tracing::warn!(%source, "too many failed authentications");
            return Err(limited.into_response());
        }
    }
    Ok(())
}

/// Why a person's sign-in was refused at its second factor.
pub(crate) enum SecondFactorRefusal {
    /// No code, or a wrong or used one: what to tell the person.
    Code(&'static str),
    /// The source has spent its budget of failures: this answer.
    Limited(Response),
    Failed(identity::IdentityError),
}

/// The second factor of a sign-in by `principal`, whose password was just
/// checked: none when the person has not enrolled (`Ok(false)`); else `otp`
/// must be a code not used to sign in before, or an unused recovery code
/// (`Ok(true)`). A wrong code is a failed authentication (audited, rate
/// limited). `npm login` and `POST /api/v1/session` both sign in so.
pub(crate) async fn sign_in_second_factor(
    state: &AppState,
    principal: &cairn_core::Principal,
    otp: Option<&str>,
    source: Option<String>,
    path: &str,
) -> Result<bool, SecondFactorRefusal> {
    let cairn_core::Principal::Authenticated {
        subject,
        two_factor: cairn_core::access::TwoFactor::Missing,
        ..
    } = principal
    else {
        return Ok(false);
    };
    let Some(code) = otp else {
        return Err(SecondFactorRefusal::Code(
            "this account signs in with a one-time password too",
        ));
    };
    match state.identity.sign_in_second_factor(subject, code).await {
        Ok(true) => Ok(true),
        Ok(false) => {
            failed_authentication(state, subject, source, path, "SecondFactor")
                .await
                .map_err(SecondFactorRefusal::Limited)?;
            Err(SecondFactorRefusal::Code(
                "that one-time password is not valid (or was used to sign in already)",
            ))
        }
        Err(e) => Err(SecondFactorRefusal::Failed(e)),
    }
}

fn unauthorized(state: &AppState, headers: &HeaderMap, why: AuthFailure) -> Response {
    let challenge = format!(
        r#"Bearer realm="{}",service="{}""#,
        realm(&state.config, headers),
        state.auth.service()
    );
    let message = why.message();
    let body = serde_json::json!({"errors": [{"code": "UNAUTHORIZED", "message": message, "detail": null}]});
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, challenge)],
        axum::Json(body),
    )
        .into_response()
}

async fn oci_handler(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let unauthenticated = |why, headers: &HeaderMap| unauthorized(&state, headers, why);
    formats::serve_adapter(&state, &state.oci, "/v2", req, unauthenticated).await
}

/// Spends one request of the caller's budget (when rate limiting is on);
/// the budget left is applied to the response's headers.
pub(crate) fn spend_budget(
    state: &AppState,
    principal: &cairn_core::Principal,
    parts: &axum::http::request::Parts,
) -> Result<Option<limits::Budget>, limits::Limited> {
    let Some(limits) = &state.limits else {
        return Ok(None);
    };
    let key = limit_key(principal, parts);
    let class = limits::RouteClass::of(&parts.method);
    limits
        .request(&state.config.rate_limit, class, &key)
        .map(Some)
}

/// Whose budget a request spends: its credential's, else its address's.
fn limit_key(principal: &cairn_core::Principal, parts: &axum::http::request::Parts) -> String {
    match principal {
        cairn_core::Principal::Authenticated {
            subject,
            credential,
            ..
        } => {
            format!("user:{subject}:{}", credential.as_deref().unwrap_or("-"))
        }
        cairn_core::Principal::Anonymous => format!(
            "addr:{}",
            source_of(parts).unwrap_or_else(|| "unknown".to_string())
        ),
    }
}

/// `GET /auth/token?service=&scope=...`: the Docker token endpoint.
async fn token_handler(State(state): State<Arc<AppState>>, req: Request<Body>) -> Response {
    let (parts, _) = req.into_parts();
    let principal = match authenticate_with_challenge(&state, &parts).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let scopes: Vec<String> = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.strip_prefix("scope="))
        .flat_map(|v| {
            let v = percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned();
            v.split(' ').map(str::to_string).collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect();
    let (token, expires_in) = state.auth.issue_token(&principal, &scopes);
    tracing::debug!(principal = principal.name(), ?scopes, "token issued");
    axum::Json(serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": expires_in,
    }))
    .into_response()
}

/// `GET /_cairn/fill?repository=&key=`: a proxy fill in progress on this
/// replica, streamed to another replica waiting on its lease
/// (`cairn_proxy::peers`). Only with the cluster's secret; 404 when there is
/// no such fill (it finished: the other replica then finds it stored).
async fn fill_handler(
    State(state): State<Arc<AppState>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let fills = &state.fills;
    let presented = headers
        .get(cairn_packages::proxy::peers::SECRET_HEADER)
        .and_then(|v| v.to_str().ok());
    let Some(peers) = &fills.peers else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !peers.admits(presented) {
        return (StatusCode::UNAUTHORIZED, "the cluster secret is needed\n").into_response();
    }
    let (Some(repository), Some(key)) = (q.get("repository"), q.get("key")) else {
        return (
            StatusCode::BAD_REQUEST,
            "repository= and key= name the fill\n",
        )
            .into_response();
    };
    let Some(proxy) = fills.proxies.get(repository) else {
        return (StatusCode::NOT_FOUND, "no such proxy repository\n").into_response();
    };
    match proxy.fill_in_progress(key).await {
        Ok(Some((size, content_type, body))) => {
            let mut resp = axum::body::Body::from_stream(body).into_response();
            if let Ok(v) = content_type.parse() {
                resp.headers_mut()
                    .insert(axum::http::header::CONTENT_TYPE, v);
            }
            if let Some(size) = size {
                resp.headers_mut()
                    .insert(axum::http::header::CONTENT_LENGTH, size.into());
            }
            resp
        }
        Ok(None) => (StatusCode::NOT_FOUND, "no fill of it in progress here\n").into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, format!("{e}\n")).into_response(),
    }
}

/// `GET /readyz`: ready when both stores answer.
async fn ready_handler(State(state): State<Arc<AppState>>) -> Response {
    let blobs = state
        .blob_store
        .ping()
        .await
        .map_err(|e| format!("blob store: {e}"));
    let meta = state
        .meta
        .ping()
        .await
        .map_err(|e| format!("metadata store: {e}"));
    match (blobs, meta) {
        (Ok(()), Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        (b, m) => {
            let why: Vec<String> = [b.err(), m.err()].into_iter().flatten().collect();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {}\n", why.join("; ")),
            )
                .into_response()
        }
    }
}
