//! The admin and query HTTP API under `/api/v1`: tokens, users, the audit
//! log. Errors are `{"error": "..."}` with the fitting status. Managing
//! users and reading the audit log need global admin rights (an `admin`
//! grant on every repository, e.g. `**:admin`); anyone may manage their own
//! tokens.

use crate::identity::{IdentityError, Manager};
use crate::AppState;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Extension;
use axum::{Json, Router};
use cairn_core::PackageRef;
use cairn_core::{Action, Principal};
use cairn_http::Resource;
use cairn_store::{Actor, AuditFilter, TokenRecord};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/users", post(create_user))
        .route("/api/v1/users/{name}/grants", put(set_grants))
        .route("/api/v1/audit", get(audit))
        .route(
            "/api/v1/publishers",
            get(list_publishers).post(add_publisher),
        )
        .route("/api/v1/oidc/exchange", post(oidc_exchange))
        .route(
            "/api/v1/packages/{format}/{repository}/{package}/versions/{version}",
            post(change_version),
        )
        .route("/api/v1/maven/{repository}/staging", get(list_staging))
        .route(
            "/api/v1/maven/{repository}/staging/{id}/{action}",
            post(change_staging),
        )
}

/// A refusal: a status and a message, or a response already made (failed authentication).
enum ApiError {
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
            IdentityError::Forbidden(_) => StatusCode::FORBIDDEN,
            IdentityError::NotFound(_) => StatusCode::NOT_FOUND,
            IdentityError::Conflict(_) => StatusCode::CONFLICT,
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

/// The authenticated caller and its audit identity; anonymous callers are refused.
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    source: Option<String>,
) -> Result<(Principal, Actor), ApiError> {
    // Failed logins here are audited and rate limited like everywhere else.
    let principal = crate::authenticate_request(state, headers, source.clone(), "/api/v1", |why| {
        ApiError::Status(StatusCode::UNAUTHORIZED, why.message().to_string()).into_response()
    })
    .await
    .map_err(|resp| ApiError::Ready(Box::new(resp)))?;
    if principal == Principal::Anonymous {
        return Err(ApiError::Status(
            StatusCode::UNAUTHORIZED,
            "credentials required".into(),
        ));
    }
    let actor = Actor::of(&principal, source);
    Ok((principal, actor))
}

fn require_admin(state: &AppState, principal: &Principal) -> Result<(), ApiError> {
    if state.identity.is_admin(principal) {
        Ok(())
    } else {
        Err(ApiError::Status(
            StatusCode::FORBIDDEN,
            "needs admin rights on every repository".into(),
        ))
    }
}

fn source(connect: &Extension<ConnectInfo<SocketAddr>>) -> Option<String> {
    Some(connect.0 .0.ip().to_string())
}

fn token_json(t: &TokenRecord) -> serde_json::Value {
    serde_json::to_value(t).expect("serialisable")
}

#[derive(Deserialize)]
struct UserQuery {
    user: Option<String>,
}

async fn list_tokens(
    State(state): State<Arc<AppState>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Query(q): Query<UserQuery>,
) -> ApiResult {
    let (principal, _) = caller(&state, &headers, connect.as_ref().and_then(source)).await?;
    let tokens = state
        .identity
        .list_tokens(Manager::Caller(&principal), q.user.as_deref())
        .await?;
    Ok(
        Json(json!({ "tokens": tokens.iter().map(token_json).collect::<Vec<_>>() }))
            .into_response(),
    )
}

#[derive(Deserialize)]
struct NewToken {
    user: Option<String>,
    #[serde(default)]
    description: String,
    scopes: Vec<String>,
    expires_in_days: Option<u64>,
}

async fn create_token(
    State(state): State<Arc<AppState>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Json(body): Json<NewToken>,
) -> ApiResult {
    let (principal, actor) = caller(&state, &headers, connect.as_ref().and_then(source)).await?;
    let ttl = body.expires_in_days.map(|d| d * 86_400);
    let (record, token) = state
        .identity
        .create_token(
            Manager::Caller(&principal),
            &actor,
            body.user.as_deref(),
            &body.description,
            &body.scopes,
            ttl,
        )
        .await?;
    let mut out = token_json(&record);
    out["token"] = json!(token);
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// Revokes a token: the caller's own, or anyone's for an administrator.
async fn revoke_token(
    State(state): State<Arc<AppState>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let (principal, actor) = caller(&state, &headers, connect.as_ref().and_then(source)).await?;
    state
        .identity
        .revoke_token(Manager::Caller(&principal), &actor, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    #[serde(default)]
    grants: Vec<String>,
}

async fn create_user(
    State(state): State<Arc<AppState>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Json(body): Json<NewUser>,
) -> ApiResult {
    let (principal, actor) = caller(&state, &headers, connect.as_ref().and_then(source)).await?;
    let user = state
        .identity
        .create_user(
            Manager::Caller(&principal),
            &actor,
            &body.name,
            &body.grants,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "name": user.name, "grants": body.grants, "password": user.password })),
    )
        .into_response())
}

#[derive(Deserialize)]
struct Grants {
    grants: Vec<String>,
}

async fn set_grants(
    State(state): State<Arc<AppState>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Json(body): Json<Grants>,
) -> ApiResult {
    let (principal, actor) = caller(&state, &headers, connect.as_ref().and_then(source)).await?;
    state
        .identity
        .set_user_grants(Manager::Caller(&principal), &actor, &name, &body.grants)
        .await?;
    Ok(Json(json!({ "name": name, "grants": body.grants })).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    actor: Option<String>,
    repository: Option<String>,
    action: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

async fn audit(
    State(state): State<Arc<AppState>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> ApiResult {
    let (principal, _) = caller(&state, &headers, connect.as_ref().and_then(source)).await?;
    require_admin(&state, &principal)?;
    let filter = AuditFilter {
        actor: q.actor,
        repository: q.repository,
        action: q.action,
        before_id: q.before,
        limit: q.limit.unwrap_or(100).min(1000),
    };
    let entries: Vec<_> = state.meta.audit_log(&filter).await?.into_iter().collect();
    Ok(Json(json!({ "entries": entries })).into_response())
}

#[derive(Deserialize)]
struct NewPublisher {
    repository: String,
    /// Limit the publisher to one package of a package repository.
    package: Option<String>,
    issuer: String,
    audience: String,
    #[serde(default)]
    claims: std::collections::BTreeMap<String, String>,
}

async fn add_publisher(
    State(state): State<Arc<AppState>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Json(body): Json<NewPublisher>,
) -> ApiResult {
    let (principal, actor) = caller(&state, &headers, connect.as_ref().and_then(source)).await?;
    require_admin(&state, &principal)?;
    let record = crate::oidc::new_publisher(
        body.repository,
        body.package,
        body.issuer,
        body.audience,
        body.claims,
    )
    .map_err(|m| ApiError::Status(StatusCode::BAD_REQUEST, m))?;
    state.meta.add_publisher(&record, &actor).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(&record).expect("serialisable")),
    )
        .into_response())
}

async fn list_publishers(
    State(state): State<Arc<AppState>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Query(q): Query<RepoQuery>,
) -> ApiResult {
    let (principal, _) = caller(&state, &headers, connect.as_ref().and_then(source)).await?;
    require_admin(&state, &principal)?;
    let publishers = state.meta.publishers(&q.repository).await?;
    Ok(Json(json!({ "publishers": publishers })).into_response())
}

#[derive(Deserialize)]
struct RepoQuery {
    repository: String,
}

#[derive(Deserialize)]
struct Exchange {
    token: String,
    repository: String,
    /// Ask for a token on one package of a package repository only.
    package: Option<String>,
}

/// Needs no credential: the OIDC token is the credential.
async fn oidc_exchange(
    State(state): State<Arc<AppState>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    Json(body): Json<Exchange>,
) -> ApiResult {
    let source = connect.as_ref().and_then(source);
    let package = match body.package {
        Some(name) => Some(
            crate::oidc::package_of(&body.repository, &name)
                .map_err(|m| ApiError::Status(StatusCode::BAD_REQUEST, m))?,
        ),
        None => None,
    };
    let exchanged = crate::oidc::exchange(
        &state,
        &body.token,
        &body.repository,
        package.as_deref(),
        source,
    );
    match exchanged.await {
        Ok((token, expires_in)) => {
            Ok(Json(json!({ "token": token, "expires_in": expires_in })).into_response())
        }
        Err(e) => Err(ApiError::Status(e.status(), e.to_string())),
    }
}

/// A change of a package version's lifecycle state.
#[derive(Deserialize)]
struct VersionChange {
    /// `yank`, `unyank`, `deprecate`, `undeprecate` or `unpublish`.
    action: String,
    /// The yank reason (shown by pip and uv).
    reason: Option<String>,
    /// The deprecation message.
    message: Option<String>,
    /// Unpublish outside the policy (window, dependents, disabled): needs
    /// `admin` on the repository, and is audited as an override.
    #[serde(default)]
    force: bool,
}

/// Parses the API's lifecycle verb into the core's transition.
fn transition_of(
    action: &str,
    reason: Option<String>,
    message: Option<String>,
) -> Result<cairn_core::Transition, String> {
    use cairn_core::Transition as T;
    Ok(match action {
        "yank" => T::Yank { reason },
        "unyank" => T::Unyank,
        "deprecate" => T::Deprecate {
            message: message.ok_or("deprecate needs a message")?,
        },
        "undeprecate" => T::Undeprecate,
        "unpublish" => T::Unpublish,
        other => {
            return Err(format!(
                "unknown action {other:?}: use yank, unyank, deprecate, undeprecate or unpublish"
            ))
        }
    })
}

/// `POST /api/v1/packages/{format}/{repository}/{package}/versions/{version}`:
/// yank (PyPI has no client verb for it), deprecate, unpublish, for any format.
async fn change_version(
    State(state): State<Arc<AppState>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Path((format, repository, package, version)): Path<(String, String, String, String)>,
    Json(body): Json<VersionChange>,
) -> ApiResult {
    let (principal, actor) = caller(&state, &headers, connect.as_ref().and_then(source)).await?;
    let bad = |m: String| ApiError::Status(StatusCode::BAD_REQUEST, m);
    let format = cairn_core::Format::parse(&format)
        .ok_or_else(|| ApiError::Status(StatusCode::NOT_FOUND, format!("no format {format:?}")))?;
    let key = cairn_core::package_key(format, &package).map_err(|e| bad(e.to_string()))?;
    let transition = transition_of(&body.action, body.reason, body.message).map_err(bad)?;
    if body.force && transition != cairn_core::Transition::Unpublish {
        return Err(bad("force applies only to unpublish".into()));
    }
    let needed = if body.force {
        Action::Admin
    } else {
        Action::Yank
    };
    let resource = Resource::package(format, &repository, &key);
    let caller = (&principal, &actor, "/api/v1/packages");
    if state
        .guard
        .decide_for(caller, format.as_str(), needed, &resource)
        .await
        .is_err()
    {
        return Err(ApiError::Status(
            StatusCode::FORBIDDEN,
            format!("{} may not {needed} {}", principal.name(), resource.name()),
        ));
    }
    let policy = state.packages.policy(format, &repository);
    let new_state = state
        .meta
        .change_version(
            PackageRef::new(format, &repository, &key),
            &version,
            &transition,
            &policy,
            body.force,
            &actor,
        )
        .await?;
    Ok(
        Json(json!({ "package": key, "version": version, "state": new_state.as_str() }))
            .into_response(),
    )
}

/// The access a staging change needs: publishing to the repository.
async fn staging_caller(
    state: &AppState,
    headers: &HeaderMap,
    connect: Option<&Extension<ConnectInfo<SocketAddr>>>,
    repository: &str,
    action: Action,
) -> Result<cairn_store::Actor, ApiError> {
    let (principal, actor) = caller(state, headers, connect.and_then(source)).await?;
    let resource = Resource::packages(cairn_core::Format::Maven, repository);
    let caller = (&principal, &actor, "/api/v1/maven");
    if state
        .guard
        .decide_for(caller, "maven", action, &resource)
        .await
        .is_err()
    {
        return Err(ApiError::Status(
            StatusCode::FORBIDDEN,
            format!("{} may not {action} {}", principal.name(), resource.name()),
        ));
    }
    Ok(actor)
}

fn package_error(e: cairn_packages::PackageError) -> ApiError {
    ApiError::Status(e.status(), e.to_string())
}

/// `GET /api/v1/maven/{repository}/staging`: the repository's staging repositories.
async fn list_staging(
    State(state): State<Arc<AppState>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Path(repository): Path<String>,
) -> ApiResult {
    staging_caller(
        &state,
        &headers,
        connect.as_ref(),
        &repository,
        Action::Read,
    )
    .await?;
    let all = cairn_maven::staging::list(&state.packages, &repository)
        .await
        .map_err(package_error)?;
    let all: Vec<_> = all.iter().map(cairn_maven::staging::to_json).collect();
    Ok(Json(json!({ "staging": all })).into_response())
}

/// `POST /api/v1/maven/{repository}/staging/{id}/{close|release|drop}`.
async fn change_staging(
    State(state): State<Arc<AppState>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Path((repository, id, action)): Path<(String, String, String)>,
) -> ApiResult {
    let actor = staging_caller(
        &state,
        &headers,
        connect.as_ref(),
        &repository,
        Action::Publish,
    )
    .await?;
    let p = &state.packages;
    let done = match action.as_str() {
        "close" => cairn_maven::staging::close(p, &actor, &repository, &id).await,
        "release" => cairn_maven::staging::release(p, &actor, &repository, &id).await,
        "drop" => cairn_maven::staging::drop(p, &actor, &repository, &id).await,
        other => {
            return Err(ApiError::Status(
                StatusCode::NOT_FOUND,
                format!("unknown staging action {other:?}: use close, release or drop"),
            ))
        }
    }
    .map_err(package_error)?;
    Ok(Json(cairn_maven::staging::to_json(&done)).into_response())
}
