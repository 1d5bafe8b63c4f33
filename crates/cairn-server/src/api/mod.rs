//! The admin and query HTTP API under `/api/v1`: tokens, users, the audit
//! log, trusted publishers, version changes and Maven staging. Errors are
//! `{"error": "..."}` with the fitting status.
//!
//! Like every adapter, it parses a request into an endpoint
//! ([`AdminEndpoint`]) that declares its access, and one entry point
//! ([`admin_handler`]) authenticates, decides through the guard (refusals
//! audited by its one rule), labels the request and only then runs the
//! handler. Managing users, publishers and reading the audit log need global
//! admin rights (an `admin` grant on every repository, e.g. `**:admin`);
//! who may manage which token is the identity service's rule.

mod attestations;
mod endpoint;
mod handlers;
pub mod openapi;
mod policy;
mod reports;
mod sboms;
mod search;
mod vulns;
mod web_login;

pub(crate) use handlers::session_cookie;

use cairn_core::access::Denied;
pub use endpoint::AdminEndpoint;

use crate::identity::{IdentityError, REGISTRY};
use crate::AppState;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use cairn_core::Principal;
use cairn_http::{Access, Endpoint as _};
use cairn_store::Actor;
use endpoint::ParseError;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::sync::Arc;

/// Largest request body the admin API reads (all of them are small JSON).
const BODY_LIMIT: usize = 1024 * 1024;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/{*rest}", any(admin_handler))
        .route("/api/openapi.json", axum::routing::get(openapi_document))
}

/// `GET /api/openapi.json`: the admin API as OpenAPI 3.1 (docs/api.md).
async fn openapi_document() -> Response {
    static DOCUMENT: std::sync::OnceLock<bytes::Bytes> = std::sync::OnceLock::new();
    let body = DOCUMENT.get_or_init(|| {
        serde_json::to_vec(&openapi::document())
            .expect("a document")
            .into()
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body.clone(),
    )
        .into_response()
}

/// A refusal: a status and a message, or a response already made (failed authentication).
pub(crate) enum ApiError {
    Status(StatusCode, String),
    Ready(Box<Response>),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::Ready(resp) => return *resp,
            ApiError::Status(status, message) => (status, message),
        };
        let mut resp = (status, Json(json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"cairn\"".parse().expect("header"),
            );
        }
        resp
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Status(StatusCode::BAD_REQUEST, format!("{e:#}"))
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        let status = match e {
            IdentityError::Store(e) => return ApiError::from(e),
            IdentityError::Invalid(_) => StatusCode::BAD_REQUEST,
            IdentityError::WrongCode(_) => StatusCode::FORBIDDEN,
            IdentityError::Forbidden(_) => StatusCode::FORBIDDEN,
            IdentityError::NotFound(_) => StatusCode::NOT_FOUND,
            IdentityError::Conflict(_) => StatusCode::CONFLICT,
            IdentityError::SecondFactor { enrolled: true, .. } => StatusCode::UNAUTHORIZED,
            IdentityError::SecondFactor {
                enrolled: false, ..
            } => StatusCode::FORBIDDEN,
        };
        ApiError::Status(status, e.to_string())
    }
}

impl From<cairn_store::StoreError> for ApiError {
    fn from(e: cairn_store::StoreError) -> Self {
        use cairn_core::LifecycleError as L;
        let status = match &e {
            cairn_store::StoreError::Lifecycle(L::NoSuchVersion { .. }) => StatusCode::NOT_FOUND,
            cairn_store::StoreError::Lifecycle(_) | cairn_store::StoreError::Conflict(_) => {
                StatusCode::CONFLICT
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::Status(status, e.to_string())
    }
}

type ApiResult = Result<Response, ApiError>;

// What names in the admin API look like, for the OpenAPI document (the
// handlers and the stores decide; these describe what they take).

/// An image repository's name (the OCI distribution grammar).
const IMAGE_REPOSITORY_PATTERN: &str =
    r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$";
/// A tag.
const IMAGE_TAG_PATTERN: &str = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$";
/// A tag or a sha256 digest.
const IMAGE_REFERENCE_PATTERN: &str = r"^([A-Za-z0-9_][A-Za-z0-9._-]{0,127}|sha256:[a-f0-9]{64})$";
/// A grant or a token scope: `PATTERN:ACTION[,ACTION...]`.
const GRANT_PATTERN: &str = r"^[A-Za-z0-9._/*@+-]+:(read|publish|yank|delete|admin|sign)(,(read|publish|yank|delete|admin|sign))*$";

/// The authenticated caller of an admin request.
pub(crate) struct Who {
    pub principal: Principal,
    pub actor: Actor,
    /// The credential as sent (what a warm job fetches with, as the caller).
    pub authorization: Option<String>,
    /// A one-time password sent with the request (`X-Cairn-OTP`).
    pub otp: Option<String>,
    /// The browser session's token, when the credential came in its cookie.
    pub session: Option<String>,
}

/// A browser session: the token in the `cairn_session` cookie stands for
/// the credential (only on the admin API, and only when no `Authorization`
/// header is sent). A change made with it must carry the session's CSRF
/// token in `X-Cairn-CSRF`, whatever the cookie's SameSite attribute does.
/// A sign-in ignores the cookie.
fn browser_session(
    state: &AppState,
    endpoint: &AdminEndpoint,
    parts: &mut axum::http::request::Parts,
) -> Result<Option<String>, ApiError> {
    use crate::auth::{CSRF_HEADER, SESSION_COOKIE};
    if parts.headers.contains_key(header::AUTHORIZATION) || endpoint.signs_in() {
        return Ok(None);
    }
    let secret = parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_string());
    let Some(secret) = secret else {
        return Ok(None);
    };
    let safe = matches!(
        parts.method,
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    if !safe {
        let presented = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !state.auth.csrf_ok(&secret, presented) {
            tracing::warn!(path = %parts.uri.path(), "a change with a session cookie and no valid CSRF token refused");
            return Err(ApiError::Status(
                StatusCode::FORBIDDEN,
                "a change made with a browser session needs its CSRF token in X-Cairn-CSRF".into(),
            ));
        }
    }
    let bearer = format!("Bearer {secret}").parse().map_err(|_| {
        ApiError::Status(StatusCode::BAD_REQUEST, "a malformed session cookie".into())
    })?;
    parts.headers.insert(header::AUTHORIZATION, bearer);
    Ok(Some(secret))
}

/// The one entry point: parse, authenticate, decide, label, dispatch.
async fn admin_handler(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let path = req.uri().path().strip_prefix("/api/v1").unwrap_or_default();
    // A page's own request (the web UI's fetch): a 401 must not make the
    // browser put up its password dialog over the page's sign-in.
    let from_page = req
        .headers()
        .get("sec-fetch-mode")
        .is_some_and(|m| m.as_bytes() != b"navigate");
    let (name, result) = match AdminEndpoint::parse(req.method(), path) {
        Ok(endpoint) => {
            let name = endpoint.name();
            tracing::Span::current().record("endpoint", name);
            (name, serve(&state, endpoint, req).await)
        }
        Err(ParseError::NotFound(m)) => {
            ("invalid", Err(ApiError::Status(StatusCode::NOT_FOUND, m)))
        }
        Err(ParseError::MethodNotAllowed) => {
            // The methods the path takes, asked of the one route table (RFC 9110 `Allow`).
            use axum::http::Method as M;
            let allow: Vec<&str> = [M::GET, M::POST, M::PUT, M::DELETE]
                .iter()
                .filter(|m| AdminEndpoint::parse(m, path).is_ok())
                .map(M::as_str)
                .collect();
            let mut resp = ApiError::Status(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "method not allowed on this endpoint (it takes {})",
                    allow.join(", ")
                ),
            )
            .into_response();
            if let Ok(v) = allow.join(", ").parse() {
                resp.headers_mut().insert(header::ALLOW, v);
            }
            ("invalid", Err(ApiError::Ready(Box::new(resp))))
        }
    };
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    if from_page {
        resp.headers_mut().remove(header::WWW_AUTHENTICATE);
    }
    resp.extensions_mut().insert(cairn_http::EndpointLabel {
        format: "api",
        endpoint: name,
    });
    resp
}

async fn serve(state: &AppState, endpoint: AdminEndpoint, req: Request) -> ApiResult {
    let (mut parts, body) = req.into_parts();
    let source = crate::source_of(&parts);
    let session = browser_session(state, &endpoint, &mut parts)?;
    // Failed logins here are audited and rate limited like everywhere else.
    let principal = crate::authenticate_request(
        state,
        &parts.headers,
        source.clone(),
        parts.uri.path(),
        |why| ApiError::Status(StatusCode::UNAUTHORIZED, why.message().to_string()).into_response(),
    )
    .await
    .map_err(|resp| ApiError::Ready(Box::new(resp)))?;
    if principal == Principal::Anonymous && endpoint.needs_credential() {
        return Err(ApiError::Status(
            StatusCode::UNAUTHORIZED,
            "credentials required".into(),
        ));
    }
    let who = Who {
        actor: Actor::of(&principal, source),
        principal,
        authorization: parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        otp: crate::auth::otp_of(&parts.headers).map(str::to_string),
        session,
    };
    if let Access::On(action, resource) | Access::Caller(action, resource) = endpoint.access() {
        // Staging is Maven's: its refusals are audited as Maven's.
        let format = match &endpoint {
            AdminEndpoint::ListStaging { .. } | AdminEndpoint::ChangeStaging { .. } => "maven",
            _ => "api",
        };
        let caller = (&who.principal, &who.actor, parts.uri.path());
        if let Err(denied) = state
            .guard
            .decide_for(caller, format, action, &resource)
            .await
        {
            let message = if let Denied::SecondFactor { enrolled } = denied {
                Denied::second_factor_message(
                    enrolled,
                    who.principal.name(),
                    action,
                    resource.name(),
                )
            } else if resource.repository == REGISTRY {
                "needs admin rights on every repository".to_string()
            } else {
                format!(
                    "{} may not {action} {}",
                    who.principal.name(),
                    resource.name()
                )
            };
            return Err(ApiError::Status(StatusCode::FORBIDDEN, message));
        }
    }
    if endpoint == AdminEndpoint::SecretReport {
        return crate::api::reports::secret_report(
            state,
            &who,
            &parts.headers,
            body_bytes(body).await?,
        )
        .await;
    }
    dispatch(state, &who, endpoint, &parts, body).await
}

/// A query string as `T`, or a 400.
fn query<T: DeserializeOwned>(uri: &axum::http::Uri) -> Result<T, ApiError> {
    Query::<T>::try_from_uri(uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::Status(StatusCode::BAD_REQUEST, e.body_text()))
}

/// A (small) JSON body as `T`, or a 400 (413 past [`BODY_LIMIT`]).
async fn json_body<T: DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let bytes = body_bytes(body).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::Status(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))
}

/// An optional `{"reason": "..."}` body (an empty body is none), read
/// when the change gives one (`allow`; a removal takes none).
async fn optional_reason(allow: bool, body: Body) -> Result<Option<String>, ApiError> {
    if !allow {
        return Ok(None);
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Reason {
        reason: Option<String>,
    }
    let bytes = body_bytes(body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    // `null` is no reason too.
    let r: Option<Reason> = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::Status(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))?;
    Ok(r.and_then(|r| r.reason))
}

async fn body_bytes(body: Body) -> Result<bytes::Bytes, ApiError> {
    body_bytes_within(body, BODY_LIMIT).await
}

/// A body of at most `limit` bytes, or a 413 (a 400 if it cannot be read).
async fn body_bytes_within(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    Ok(http_body_util::Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ApiError::Status(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is larger than {limit} bytes"),
                )
            } else {
                ApiError::Status(StatusCode::BAD_REQUEST, format!("reading the body: {e}"))
            }
        })?
        .to_bytes())
}

async fn dispatch(
    state: &AppState,
    who: &Who,
    endpoint: AdminEndpoint,
    parts: &axum::http::request::Parts,
    body: Body,
) -> ApiResult {
    use handlers as h;
    use AdminEndpoint as E;
    let uri = &parts.uri;
    match endpoint {
        E::ListTokens => h::list_tokens(state, who, query(uri)?).await,
        E::CreateToken => h::create_token(state, who, json_body(body).await?).await,
        E::RevokeToken { id } => h::revoke_token(state, who, &id).await,
        E::CreateUser => h::create_user(state, who, json_body(body).await?).await,
        E::SetGrants { user } => h::set_grants(state, who, &user, json_body(body).await?).await,
        E::Search => search::search(state, who, query(uri)?).await,
        E::SignIn => h::sign_in(state, who, json_body(body).await?).await,
        E::SessionInfo => h::session_info(state, who).await,
        E::SignOut => h::sign_out(state, who).await,
        E::SignInMethods => h::sign_in_methods(state),
        E::SsoStart => crate::sso::start(state, &parts.headers, query(uri)?).await,
        E::SsoCallback => {
            let source = who.actor.source.clone();
            crate::sso::callback(state, &parts.headers, source, query(uri)?).await
        }
        E::StartWebLogin => web_login::start(state, who, &parts.headers).await,
        E::WebLogin { id } => web_login::info(state, &id).await,
        E::ApproveWebLogin { id } => web_login::approve(state, who, &id).await,
        E::TakeWebLogin { id } => web_login::token(state, who, &id, query(uri)?).await,
        E::TotpStatus { user } => h::totp_status(state, who, &user).await,
        E::StartTotp { user } => h::start_totp(state, who, &user).await,
        E::ConfirmTotp { user } => h::confirm_totp(state, who, &user, json_body(body).await?).await,
        E::DisableTotp { user } => {
            let code = body_bytes(body).await?;
            h::disable_totp(state, who, &user, &code).await
        }
        E::NewRecoveryCodes { user } => {
            h::new_recovery_codes(state, who, &user, json_body(body).await?).await
        }
        E::Audit => h::audit(state, query(uri)?).await,
        E::ListPublishers => h::list_publishers(state, query(uri)?).await,
        E::AddPublisher => h::add_publisher(state, who, json_body(body).await?).await,
        E::Package {
            format,
            repository,
            package,
        } => h::package(state, who, format, &repository, &package).await,
        E::Image => h::image(state, who, query(uri)?).await,
        E::Repositories => h::repositories(state, who).await,
        E::Repository => h::repository(state, who, query(uri)?).await,
        E::DeleteTag => h::delete_tag(state, who, query(uri)?).await,
        E::ChangeVersion {
            format,
            repository,
            package,
            version,
        } => {
            let change = json_body(body).await?;
            h::change_version(state, who, format, &repository, &package, &version, change).await
        }
        E::ListStaging { repository } => h::list_staging(state, &repository).await,
        E::ChangeStaging {
            repository,
            id,
            action,
        } => h::change_staging(state, who, &repository, &id, &action).await,
        E::ProxyCache { format, repository } => {
            h::proxy_cache(state, format, &repository, query(uri)?).await
        }
        E::DropProxyEntry {
            format,
            repository,
            key,
        } => h::drop_proxy_entry(state, who, format, &repository, &key).await,
        E::GcStatus => h::gc_status(state).await,
        E::RunGc => h::run_gc(state, query(uri)?).await,
        E::Storage => h::storage(state, query(uri)?).await,
        E::ListQuotas => h::list_quotas(state).await,
        E::ListJobs => h::list_jobs(state).await,
        E::StartJob => h::start_job(state, who, json_body(body).await?).await,
        E::Job { id } => h::job(state, &id).await,
        E::CancelJob { id } => h::cancel_job(state, who, &id).await,
        E::SetQuota => h::set_quota(state, who, query(uri)?, json_body(body).await?).await,
        E::RemoveQuota => h::remove_quota(state, who, query(uri)?).await,
        E::RetentionPreview => h::retention(state, false).await,
        E::RetentionApply => h::retention(state, true).await,
        E::StartWarm => h::start_warm(state, who, json_body(body).await?).await,
        E::Components => crate::api::sboms::components(state, who, query(uri)?).await,
        E::ListSboms => crate::api::sboms::list(state, who, query(uri)?).await,
        E::SbomDocument => crate::api::sboms::document(state, who, query(uri)?).await,
        E::ListAttestations => attestations::list(state, who, query(uri)?).await,
        E::AttestationKeys => attestations::keys(state),
        E::AttachSbom => crate::api::sboms::attach(state, who, query(uri)?, body).await,
        E::RemoveSbom => crate::api::sboms::remove(state, who, query(uri)?).await,
        E::Advisory { id } => crate::api::vulns::advisory(state, who, &id).await,
        E::Findings => crate::api::vulns::findings(state, who, query(uri)?).await,
        E::ExplainPolicy => crate::api::policy::explain(state, who, query(uri)?).await,
        E::ListVulnExceptions => crate::api::vulns::list_exceptions(state).await,
        E::SetVulnException => {
            crate::api::vulns::set_exception(state, who, query(uri)?, json_body(body).await?).await
        }
        E::RemoveVulnException => {
            crate::api::vulns::remove_exception(state, who, query(uri)?).await
        }
        E::WarmJob { id } => h::warm_job(state, who, &id).await,
        E::ResolveVirtual { format, repository } => {
            h::resolve_virtual(state, who, format, &repository, query(uri)?).await
        }
        E::ListExemptions { format, repository } => {
            h::list_exemptions(state, format, &repository).await
        }
        E::ChangeExemption {
            format,
            repository,
            package,
            allow,
        } => {
            let reason = optional_reason(allow, body).await?;
            let q: h::VersionQuery = query(uri)?;
            h::change_exemption(state, who, format, &repository, &package, q, allow, reason).await
        }
        E::ListExternal { format, repository } => {
            h::list_external(state, format, &repository).await
        }
        E::ChangeExternal {
            format,
            repository,
            package,
            allow,
        } => {
            let reason = optional_reason(allow, body).await?;
            h::change_external(state, who, format, &repository, &package, allow, reason).await
        }
        E::OidcExchange => {
            let source = who.actor.source.clone();
            h::oidc_exchange(state, source, json_body(body).await?).await
        }
        E::ListQuarantine => {
            let held = state.meta.quarantined().await?;
            Ok(Json(serde_json::json!({ "quarantined": held })).into_response())
        }
        E::ReleaseQuarantine { digest } => {
            if state.meta.release(&digest, &who.actor).await? {
                Ok(StatusCode::NO_CONTENT.into_response())
            } else {
                Err(ApiError::Status(
                    StatusCode::NOT_FOUND,
                    format!("{digest} is not quarantined"),
                ))
            }
        }
        // Answered in `serve`, which has the headers its signature is in.
        E::SecretReport => Err(ApiError::Status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unreachable".into(),
        )),
    }
}
