//! The admin API's handlers: each receives a caller the entry point in
//! `mod.rs` has already authenticated and, where the endpoint declares an
//! access, allowed.

use super::{ApiError, ApiResult, Who};
use crate::identity::Manager;
use crate::AppState;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use cairn_core::{Action, PackageRef};
use cairn_http::Resource;
use cairn_store::{AuditFilter, TokenRecord};
use serde::Deserialize;
use serde_json::json;

fn token_json(t: &TokenRecord) -> serde_json::Value {
    serde_json::to_value(t).expect("serialisable")
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct UserQuery {
    user: Option<String>,
}

pub(super) async fn list_tokens(state: &AppState, who: &Who, q: UserQuery) -> ApiResult {
    let principal = &who.principal;
    let tokens = state
        .identity
        .list_tokens(Manager::Caller(principal), q.user.as_deref())
        .await?;
    Ok(
        Json(json!({ "tokens": tokens.iter().map(token_json).collect::<Vec<_>>() }))
            .into_response(),
    )
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct NewToken {
    user: Option<String>,
    #[serde(default)]
    description: String,
    /// `PATTERN:ACTION[,ACTION...]`, at least one.
    #[schemars(
        length(min = 1),
        inner(regex(
            pattern = super::GRANT_PATTERN
        ))
    )]
    scopes: Vec<String>,
    #[schemars(range(min = 1, max = 36500))]
    #[serde(default, deserialize_with = "whole_number")]
    expires_in_days: Option<u64>,
}

/// A whole number, also written as one with a fraction of zero (`14.0`):
/// JSON has one number type, and the document says "integer".
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<f64>::deserialize(d)? {
        None => Ok(None),
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64 => Ok(Some(f as u64)),
        Some(f) => Err(serde::de::Error::custom(format!(
            "{f} is not a whole number"
        ))),
    }
}

pub(super) async fn create_token(state: &AppState, who: &Who, body: NewToken) -> ApiResult {
    let (principal, actor) = (&who.principal, &who.actor);
    let ttl = body.expires_in_days.map(|d| d * 86_400);
    let (record, token) = state
        .identity
        .create_token(
            Manager::Caller(principal),
            actor,
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
pub(super) async fn revoke_token(state: &AppState, who: &Who, id: &str) -> ApiResult {
    let (principal, actor) = (&who.principal, &who.actor);
    state
        .identity
        .revoke_token(Manager::Caller(principal), actor, id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct NewUser {
    /// 1 to 128 characters, no `:`, spaces or control characters (the
    /// server takes any such name; the document describes the ASCII ones).
    #[schemars(regex(pattern = r"^[!-9;-~]{1,128}$"))]
    name: String,
    /// `PATTERN:ACTION[,ACTION...]`.
    #[serde(default)]
    #[schemars(inner(regex(
        pattern = super::GRANT_PATTERN
    )))]
    grants: Vec<String>,
}

pub(super) async fn create_user(state: &AppState, who: &Who, body: NewUser) -> ApiResult {
    let (principal, actor) = (&who.principal, &who.actor);
    let user = state
        .identity
        .create_user(Manager::Caller(principal), actor, &body.name, &body.grants)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "name": user.name, "grants": body.grants, "password": user.password })),
    )
        .into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct SignIn {
    user: String,
    password: String,
    /// The one-time password (or a recovery code), when the user is enrolled.
    otp: Option<String>,
    /// A token in the answer (`cairn login`) instead of a session cookie.
    #[serde(default)]
    token: bool,
}

/// A person signs in with a password (a token will not do) and, when
/// enrolled, a one-time password: a session that lasts
/// `auth.session_ttl_secs`, as an HttpOnly, SameSite=Strict cookie with its
/// CSRF token in the answer, or as a token for `cairn login`. Failures are
/// audited and rate limited like every failed credential.
pub(super) async fn sign_in(state: &AppState, who: &Who, body: SignIn) -> ApiResult {
    let path = "/api/v1/session";
    let source = who.actor.source.clone();
    let refused = |message: &str, otp_required: bool| {
        ApiError::Ready(Box::new(
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "error": message, "otp_required": otp_required })),
            )
                .into_response(),
        ))
    };
    let Ok(basic) = crate::auth::encode_basic(&body.user, &body.password).parse() else {
        return Err(ApiError::Status(
            StatusCode::BAD_REQUEST,
            "the user name or password holds invalid characters".into(),
        ));
    };
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(axum::http::header::AUTHORIZATION, basic);
    let principal = crate::authenticate_request(state, &headers, source.clone(), path, |why| {
        let message = match why {
            crate::auth::AuthFailure::Unavailable => why.message(),
            _ => "invalid user name or password",
        };
        refused(message, false).into_response()
    })
    .await
    .map_err(|resp| ApiError::Ready(Box::new(resp)))?;
    let cairn_core::Principal::Authenticated {
        credential: None, ..
    } = &principal
    else {
        // A token as the password: sign in with the password itself.
        return Err(refused("invalid user name or password", false));
    };
    let second_factor = match crate::sign_in_second_factor(
        state,
        &principal,
        body.otp.as_deref(),
        source.clone(),
        path,
    )
    .await
    {
        Ok(used) => used,
        Err(crate::SecondFactorRefusal::Code(why)) => return Err(refused(why, true)),
        Err(crate::SecondFactorRefusal::Limited(resp)) => {
            return Err(ApiError::Ready(Box::new(resp)))
        }
        Err(crate::SecondFactorRefusal::Failed(e)) => return Err(e.into()),
    };
    let actor = cairn_store::Actor::of(&principal, source);
    let ttl = state.config.auth.session_ttl_secs;
    let (record, secret) = state
        .identity
        .create_session_token(
            Manager::Caller(&principal),
            &actor,
            if body.token {
                "cairn login"
            } else {
                "web session"
            },
            &[crate::identity::SESSION_SCOPE.to_string()],
            crate::identity::Session {
                ttl_secs: Some(ttl),
                second_factor,
            },
        )
        .await?;
    let mut out = json!({
        "user": record.user,
        "expires_at": record.expires_at,
        "two_factor": second_factor,
    });
    if body.token {
        out["token"] = json!(secret);
        return Ok(Json(out).into_response());
    }
    out["csrf_token"] = json!(state.auth.csrf_token(&secret));
    let cookie = session_cookie(state, &secret, ttl);
    Ok(([(axum::http::header::SET_COOKIE, cookie)], Json(out)).into_response())
}

/// The session cookie: `Secure` when cairn is reached over HTTPS (`public_url`).
pub(crate) fn session_cookie(state: &AppState, value: &str, max_age: u64) -> String {
    let secure = state
        .config
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        crate::auth::SESSION_COOKIE,
        if secure { "; Secure" } else { "" }
    )
}

/// How a person may sign in here, for the sign-in page.
pub(super) fn sign_in_methods(state: &AppState) -> ApiResult {
    let sso = state.sso.as_ref().map(|p| {
        json!({
            "name": p.display_name(),
            "url": "/api/v1/session/oidc",
        })
    });
    Ok(Json(json!({ "password": true, "oidc": sso })).into_response())
}

/// Who the caller is: name, whether an administrator, the second factor's
/// state, and for a browser session its CSRF token (a page reloaded has lost it).
pub(super) async fn session_info(state: &AppState, who: &Who) -> ApiResult {
    let two_factor = match &who.principal {
        cairn_core::Principal::Authenticated { two_factor, .. } => two_factor.as_str(),
        cairn_core::Principal::Anonymous => "none",
    };
    Ok(Json(json!({
        "user": who.principal.name(),
        "admin": state.identity.is_admin(&who.principal),
        "two_factor": two_factor,
        "csrf_token": who.session.as_deref().map(|s| state.auth.csrf_token(s)),
    }))
    .into_response())
}

/// Signs out: the session's token is revoked (on every replica within the
/// credential cache's bound) and the cookie cleared.
pub(super) async fn sign_out(state: &AppState, who: &Who) -> ApiResult {
    let cairn_core::Principal::Authenticated {
        credential: Some(id),
        ..
    } = &who.principal
    else {
        return Err(ApiError::Status(
            StatusCode::CONFLICT,
            "not signed in with a session".into(),
        ));
    };
    // An API token is revoked with DELETE /tokens/{id}, never by signing out.
    if !state.meta.token(id).await?.is_some_and(|t| t.session) {
        return Err(ApiError::Status(
            StatusCode::CONFLICT,
            "not signed in with a session (an API token is revoked with DELETE /api/v1/tokens/{id})"
                .into(),
        ));
    }
    state
        .identity
        .revoke_token(Manager::Caller(&who.principal), &who.actor, id)
        .await?;
    let cookie = session_cookie(state, "", 0);
    Ok((
        StatusCode::NO_CONTENT,
        [(axum::http::header::SET_COOKIE, cookie)],
    )
        .into_response())
}

/// A one-time password (or a recovery code) in a JSON body.
#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct Code {
    code: String,
}

pub(super) async fn totp_status(state: &AppState, who: &Who, user: &str) -> ApiResult {
    let (enabled, pending, left) = state
        .identity
        .totp_status(Manager::Caller(&who.principal), user)
        .await?;
    Ok(Json(json!({
        "user": user,
        "enabled": enabled,
        "pending": pending,
        "recovery_codes_left": left,
    }))
    .into_response())
}

pub(super) async fn start_totp(state: &AppState, who: &Who, user: &str) -> ApiResult {
    let (secret, url) = state
        .identity
        .start_totp(
            Manager::Caller(&who.principal),
            &who.actor,
            user,
            state.auth.service(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "user": user, "secret": secret, "otpauth_url": url })),
    )
        .into_response())
}

pub(super) async fn confirm_totp(state: &AppState, who: &Who, user: &str, body: Code) -> ApiResult {
    let codes = state
        .identity
        .confirm_totp(
            Manager::Caller(&who.principal),
            &who.actor,
            user,
            &body.code,
        )
        .await?;
    Ok(Json(json!({ "user": user, "enabled": true, "recovery_codes": codes })).into_response())
}

/// The code comes in the `X-Cairn-OTP` header (as on every change) or in
/// a JSON body `{"code": ...}`; an administrator needs none.
pub(super) async fn disable_totp(
    state: &AppState,
    who: &Who,
    user: &str,
    body: &[u8],
) -> ApiResult {
    let from_body = serde_json::from_slice::<Code>(body).ok().map(|c| c.code);
    let code = from_body.or_else(|| who.otp.clone());
    state
        .identity
        .disable_totp(
            Manager::Caller(&who.principal),
            &who.actor,
            user,
            code.as_deref(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn new_recovery_codes(
    state: &AppState,
    who: &Who,
    user: &str,
    body: Code,
) -> ApiResult {
    let codes = state
        .identity
        .new_recovery_codes(
            Manager::Caller(&who.principal),
            &who.actor,
            user,
            &body.code,
        )
        .await?;
    Ok(Json(json!({ "user": user, "recovery_codes": codes })).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct Grants {
    /// `PATTERN:ACTION[,ACTION...]`.
    #[schemars(inner(regex(
        pattern = super::GRANT_PATTERN
    )))]
    grants: Vec<String>,
}

pub(super) async fn set_grants(state: &AppState, who: &Who, name: &str, body: Grants) -> ApiResult {
    let (principal, actor) = (&who.principal, &who.actor);
    state
        .identity
        .set_user_grants(Manager::Caller(principal), actor, name, &body.grants)
        .await?;
    Ok(Json(json!({ "name": name, "grants": body.grants })).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct AuditQuery {
    actor: Option<String>,
    repository: Option<String>,
    action: Option<String>,
    /// Entries about this artifact: a digest, or `package@version`.
    artifact: Option<String>,
    #[schemars(range(min = i64::MIN, max = i64::MAX))]
    before: Option<i64>,
    #[schemars(range(max = u32::MAX))]
    limit: Option<u32>,
}

pub(super) async fn audit(state: &AppState, q: AuditQuery) -> ApiResult {
    let filter = AuditFilter {
        actor: q.actor,
        repository: q.repository,
        action: q.action,
        artifact: q.artifact,
        before_id: q.before,
        limit: q.limit.unwrap_or(100).min(1000),
    };
    let entries: Vec<_> = state.meta.audit_log(&filter).await?.into_iter().collect();
    Ok(Json(json!({ "entries": entries })).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct NewPublisher {
    /// An image repository (`team/app`) or a package repository (`npm/main`).
    #[schemars(
        length(max = 255),
        regex(
            pattern = super::IMAGE_REPOSITORY_PATTERN
        )
    )]
    repository: String,
    /// Limit the publisher to one package of a package repository.
    package: Option<String>,
    /// The OIDC issuer: an https:// URL (plain http only on loopback).
    #[schemars(regex(pattern = r"^(https://|http://127\.0\.0\.1|http://localhost)\S*$"))]
    issuer: String,
    #[schemars(length(min = 1))]
    audience: String,
    /// Claims the token must carry exactly; at least one.
    #[serde(default)]
    #[schemars(extend("minProperties" = 1))]
    claims: std::collections::BTreeMap<String, String>,
}

pub(super) async fn add_publisher(state: &AppState, who: &Who, body: NewPublisher) -> ApiResult {
    let actor = &who.actor;
    let record = crate::oidc::new_publisher(
        body.repository,
        // An empty package is none: the whole repository.
        body.package.filter(|p| !p.is_empty()),
        body.issuer,
        body.audience,
        body.claims,
    )
    .map_err(|m| ApiError::Status(StatusCode::BAD_REQUEST, m))?;
    state.meta.add_publisher(&record, actor).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(&record).expect("serialisable")),
    )
        .into_response())
}

pub(super) async fn list_publishers(state: &AppState, q: RepoQuery) -> ApiResult {
    let publishers = state.meta.publishers(&q.repository).await?;
    Ok(Json(json!({ "publishers": publishers })).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct RepoQuery {
    repository: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct Exchange {
    /// The CI job's OIDC token (a JWT).
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"))]
    token: String,
    #[schemars(
        length(max = 255),
        regex(
            pattern = super::IMAGE_REPOSITORY_PATTERN
        )
    )]
    repository: String,
    /// Ask for a token on one package of a package repository only.
    package: Option<String>,
}

/// Needs no credential: the OIDC token is the credential.
pub(super) async fn oidc_exchange(
    state: &AppState,
    source: Option<String>,
    body: Exchange,
) -> ApiResult {
    let package = match body.package.filter(|p| !p.is_empty()) {
        Some(name) => Some(
            // A package the repository cannot hold is no package to publish.
            crate::oidc::package_of(&body.repository, &name)
                .map_err(|m| ApiError::Status(StatusCode::NOT_FOUND, m))?,
        ),
        None => None,
    };
    let exchanged = crate::oidc::exchange(
        state,
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
#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct VersionChange {
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

/// How many image repositories `GET /api/v1/repositories` lists (search
/// finds the others).
const IMAGE_REPOSITORIES_LISTED: u32 = 500;

/// `GET /api/v1/repositories`: every repository the caller may read: the
/// proxy repositories with their upstream, the virtual ones with their
/// members, the hosted package repositories, and image repositories (the
/// first 500 by name). Each is decided as a read through the guard.
pub(super) async fn repositories(state: &AppState, who: &Who) -> ApiResult {
    // A package repository, or an image repository (`oci`).
    let resource_of = |format: &str, name: &str| match cairn_core::Format::parse(format) {
        Some(f) => Resource::packages(f, name),
        None => Resource::repository(name),
    };
    let mut all = Vec::new();
    for p in &state.config.proxy {
        all.push((
            resource_of(&p.format, &p.name),
            json!({ "format": p.format, "name": p.name, "kind": "proxy", "upstream": p.upstream }),
        ));
    }
    for v in &state.config.virtuals {
        let members: Vec<&str> = v.members.iter().map(|m| m.name()).collect();
        all.push((
            resource_of(&v.format, &v.name),
            json!({ "format": v.format, "name": v.name, "kind": "virtual", "members": members, "publish_to": v.publish_to }),
        ));
    }
    for (f, name) in state.meta.package_repositories().await? {
        all.push((
            Resource::packages(f, &name),
            json!({ "format": f.as_str(), "name": name, "kind": "hosted" }),
        ));
    }
    for name in state
        .meta
        .list_repositories(None, IMAGE_REPOSITORIES_LISTED)
        .await?
    {
        all.push((
            Resource::repository(&name),
            json!({ "format": "oci", "name": name, "kind": "hosted" }),
        ));
    }
    let visible: Vec<serde_json::Value> = all
        .into_iter()
        .filter(|(r, _)| state.guard.may(&who.principal, Action::Read, r))
        .map(|(_, v)| v)
        .collect();
    Ok(Json(json!({ "repositories": visible })).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RepositoryQuery {
    /// `oci`, or a package format.
    #[schemars(extend("enum" = ["oci", "npm", "pypi", "cargo", "go", "maven"]))]
    format: String,
    /// The repository (`team/app`, or a package repository's name).
    #[schemars(length(min = 1))]
    name: String,
    /// Only tags or package names starting with this.
    #[serde(default)]
    prefix: String,
    /// At most this many (default 500, at most 5000).
    #[schemars(range(min = 1, max = 5000))]
    limit: Option<u32>,
}

/// `GET /api/v1/repository?format=&name=&prefix=&limit=`: what a hosted
/// repository holds, to a caller who may read it: an image repository's
/// tags (each with its digest and when it was last set), a package
/// repository's packages. Anyone else is told it does not exist.
pub(super) async fn repository(state: &AppState, who: &Who, q: RepositoryQuery) -> ApiResult {
    let limit = q.limit.unwrap_or(500).clamp(1, 5000) as usize;
    let format = match q.format.as_str() {
        "oci" => None,
        f => Some(cairn_core::Format::parse(f).ok_or_else(|| {
            ApiError::Status(
                StatusCode::BAD_REQUEST,
                format!("format {f:?}: use oci, npm, pypi, cargo, go or maven"),
            )
        })?),
    };
    let resource = match format {
        Some(f) => Resource::packages(f, &q.name),
        None => Resource::repository(&q.name),
    };
    let missing = || {
        ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("no repository {}/{} you may read", q.format, q.name),
        )
    };
    if !state.guard.may(&who.principal, Action::Read, &resource) {
        return Err(missing());
    }
    let Some(format) = format else {
        let inventory = state.meta.inventory(&q.name).await?;
        if inventory.manifests.is_empty() {
            return Err(missing());
        }
        let mut tags: Vec<_> = inventory
            .tags
            .iter()
            .filter(|t| t.tag.starts_with(&q.prefix))
            .collect();
        tags.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.tag.cmp(&b.tag)));
        let more = tags.len() > limit;
        let tags: Vec<_> = tags
            .into_iter()
            .take(limit)
            .map(|t| json!({ "tag": t.tag, "digest": t.digest, "updated_at": t.updated_at }))
            .collect();
        return Ok(Json(json!({
            "format": "oci",
            "name": q.name,
            "manifests": inventory.manifests.len(),
            "tags": tags,
            "more": more,
        }))
        .into_response());
    };
    // Keys containing the prefix, in key order; those starting with it kept.
    let prefix = q.prefix.to_lowercase();
    let keys = state
        .meta
        .search_packages(
            format,
            &q.name,
            &prefix,
            ((limit + 1) * 10).min(50_000) as u32,
        )
        .await?;
    let mut keys: Vec<String> = keys
        .into_iter()
        .filter(|k| k.to_lowercase().starts_with(&prefix))
        .collect();
    if keys.is_empty() && q.prefix.is_empty() {
        return Err(missing());
    }
    let more = keys.len() > limit;
    keys.truncate(limit);
    Ok(Json(json!({
        "format": format.as_str(),
        "name": q.name,
        "packages": keys,
        "more": more,
    }))
    .into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ImageQuery {
    /// A hosted image repository (`team/app`).
    #[schemars(
        length(max = 255),
        regex(
            pattern = super::IMAGE_REPOSITORY_PATTERN
        )
    )]
    pub(super) repository: String,
    /// A tag or a digest.
    #[schemars(regex(pattern = super::IMAGE_REFERENCE_PATTERN))]
    pub(super) reference: String,
}

/// `GET /api/v1/image?repository=&reference=`: what an image is, for the
/// web UI's image page (`OciApi::describe`), to a caller who may read the
/// repository. Its signers, SBOMs and findings are the
/// `policy/explain`, `sboms` and `findings` operations'.
pub(super) async fn image(state: &AppState, who: &Who, q: ImageQuery) -> ApiResult {
    let resource = Resource::repository(&q.repository);
    let caller = (&who.principal, &who.actor, "/api/v1/image");
    if state
        .guard
        .decide_for(caller, "oci", Action::Read, &resource)
        .await
        .is_err()
    {
        return Err(ApiError::Status(
            StatusCode::FORBIDDEN,
            format!("{} may not read {}", who.principal.name(), q.repository),
        ));
    }
    let view = state
        .oci
        .describe(&q.repository, &q.reference)
        .await
        .map_err(oci_error)?;
    let mut out = serde_json::to_value(&view).expect("a view serialises");
    out["may"] = json!({ "delete": state.guard.may(&who.principal, Action::Delete, &resource) });
    Ok(Json(out).into_response())
}

fn oci_error(e: cairn_oci::error::OciError) -> ApiError {
    ApiError::Status(e.status, format!("{}: {}", e.code, e.message))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TagQuery {
    #[schemars(
        length(max = 255),
        regex(
            pattern = super::IMAGE_REPOSITORY_PATTERN
        )
    )]
    repository: String,
    #[schemars(regex(pattern = super::IMAGE_TAG_PATTERN))]
    tag: String,
}

/// `DELETE /api/v1/image/tags?repository=&tag=`: the web UI's "delete tag",
/// decided as a client's tag deletion would be (`delete` on the repository,
/// the tag rules), audited as the caller's.
pub(super) async fn delete_tag(state: &AppState, who: &Who, q: TagQuery) -> ApiResult {
    let resource = Resource::repository(&q.repository);
    let caller = (&who.principal, &who.actor, "/api/v1/image/tags");
    if let Err(denied) = state
        .guard
        .decide_for(caller, "oci", Action::Delete, &resource)
        .await
    {
        let message = match denied {
            cairn_core::access::Denied::SecondFactor { enrolled } => {
                cairn_core::access::Denied::second_factor_message(
                    enrolled,
                    who.principal.name(),
                    Action::Delete,
                    &q.repository,
                )
            }
            _ => format!(
                "{} may not delete in {}",
                who.principal.name(),
                q.repository
            ),
        };
        return Err(ApiError::Status(StatusCode::FORBIDDEN, message));
    }
    let name = cairn_core::RepoName::parse(&q.repository)
        .map_err(|e| ApiError::Status(StatusCode::BAD_REQUEST, e.to_string()))?;
    let tag = cairn_core::Tag::parse(&q.tag)
        .map_err(|e| ApiError::Status(StatusCode::BAD_REQUEST, e.to_string()))?;
    if !state
        .oci
        .untag(&name, tag.as_str(), &who.actor)
        .await
        .map_err(oci_error)?
    {
        return Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("no tag {} in {}", q.tag, q.repository),
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// How many publish entries of a repository's audit log are read to name
/// the publishers of a package's versions.
const PUBLISHERS_READ: u32 = 2000;

/// The key of the package `name` names in `format`; a name no package of
/// the format can have names nothing: a 404 saying why.
fn no_such_package(format: cairn_core::Format, name: &str) -> Result<String, ApiError> {
    cairn_core::package_key(format, name).map_err(|e| {
        ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("no {format} package can be named {name:?}: {e}"),
        )
    })
}

/// How many dependents of a package are read (before those the caller may
/// not read are left out).
const DEPENDENTS_READ: u32 = 200;

/// `GET /api/v1/packages/{format}/{repository}/{package}`: the package's
/// versions, newest first, with state and message, files and who published
/// each (from the audit log), dist-tags, and what the caller may change
/// (decided by the access rule, never audited: a page asks on every view).
pub(super) async fn package(
    state: &AppState,
    who: &Who,
    format: cairn_core::Format,
    repository: &str,
    package: &str,
) -> ApiResult {
    let key = no_such_package(format, package)?;
    let Some(record) = state
        .meta
        .package(PackageRef::new(format, repository, &key))
        .await?
    else {
        return Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("no package {package} in {}", format.resource(repository)),
        ));
    };
    let published = state
        .meta
        .audit_log(&cairn_store::AuditFilter {
            actor: None,
            repository: Some(format.resource(repository)),
            action: Some("package.publish".into()),
            artifact: None,
            before_id: None,
            limit: PUBLISHERS_READ,
        })
        .await?;
    let publisher = |version: &str| {
        let artifact = format!("{key}@{version}");
        // Newest first: the first publish of the version is the last entry.
        published
            .iter()
            .rfind(|e| e.outcome == "ok" && e.artifact.as_deref() == Some(artifact.as_str()))
            .map(|e| json!({ "user": e.actor, "credential": e.credential, "source": e.source }))
    };
    let resource = Resource::package(format, repository, &key);
    let may = |action| state.guard.may(&who.principal, action, &resource);
    let versions: Vec<_> = record
        .versions
        .iter()
        .rev()
        .map(|v| {
            json!({
                "version": v.version,
                "state": v.state.as_str(),
                "message": v.message,
                "published_at": v.published_at,
                "changed_at": v.changed_at,
                "publisher": publisher(&v.version),
                "files": v.files.iter().map(|f| json!({
                    "filename": f.filename,
                    "digest": f.digest.to_string(),
                    "size": f.size,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    // Who depends on it, in the repositories the caller may read (a name is
    // format-wide: any repository's package may name it).
    let dependents: Vec<_> = state
        .meta
        .dependents_of(format, &key, DEPENDENTS_READ)
        .await?
        .into_iter()
        .filter(|(repo, pkg, _)| {
            state
                .guard
                .may(&who.principal, Action::Read, &Resource::package(format, repo, pkg))
        })
        .map(|(repository, package, version)| {
            json!({ "repository": repository, "package": package, "version": version })
        })
        .collect();
    Ok(Json(json!({
        "format": format.as_str(),
        "repository": repository,
        "package": record.package,
        "dependents": dependents,
        "name": record.name,
        "created_at": record.created_at,
        "tags": record.tags,
        "versions": versions,
        "may": { "yank": may(Action::Yank), "force": may(Action::Admin) },
    }))
    .into_response())
}

/// `POST /api/v1/packages/{format}/{repository}/{package}/versions/{version}`:
/// yank (PyPI has no client verb for it), deprecate, unpublish, for any format.
#[allow(clippy::too_many_arguments)]
pub(super) async fn change_version(
    state: &AppState,
    who: &Who,
    format: cairn_core::Format,
    repository: &str,
    package: &str,
    version: &str,
    body: VersionChange,
) -> ApiResult {
    let (principal, actor) = (&who.principal, &who.actor);
    let bad = |m: String| ApiError::Status(StatusCode::BAD_REQUEST, m);
    let key = no_such_package(format, package)?;
    let transition = transition_of(&body.action, body.reason, body.message).map_err(bad)?;
    if body.force && transition != cairn_core::Transition::Unpublish {
        return Err(bad("force applies only to unpublish".into()));
    }
    let needed = if body.force {
        Action::Admin
    } else {
        Action::Yank
    };
    let resource = Resource::package(format, repository, &key);
    let caller = (principal, actor, "/api/v1/packages");
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
    let policy = state.packages.policy(format, repository);
    let new_state = state
        .meta
        .change_version(
            PackageRef::new(format, repository, &key),
            version,
            &transition,
            &policy,
            body.force,
            actor,
        )
        .await?;
    Ok(
        Json(json!({ "package": key, "version": version, "state": new_state.as_str() }))
            .into_response(),
    )
}

fn package_error(e: cairn_packages::PackageError) -> ApiError {
    ApiError::Status(e.status(), e.to_string())
}

/// `GET /api/v1/maven/{repository}/staging`: the repository's staging repositories.
pub(super) async fn list_staging(state: &AppState, repository: &str) -> ApiResult {
    let all = cairn_maven::staging::list(&state.packages, repository)
        .await
        .map_err(package_error)?;
    let all: Vec<_> = all.iter().map(cairn_maven::staging::to_json).collect();
    Ok(Json(json!({ "staging": all })).into_response())
}

/// `POST /api/v1/maven/{repository}/staging/{id}/{close|release|drop}`.
pub(super) async fn change_staging(
    state: &AppState,
    who: &Who,
    repository: &str,
    id: &str,
    action: &str,
) -> ApiResult {
    let (actor, repository) = (&who.actor, repository);
    let p = &state.packages;
    let done = match action {
        "close" => cairn_maven::staging::close(p, actor, repository, id).await,
        "release" => cairn_maven::staging::release(p, actor, repository, id).await,
        "drop" => cairn_maven::staging::drop(p, actor, repository, id).await,
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

/// The proxy repository `format/repository`, or a 404.
fn proxy_of<'a>(
    state: &'a AppState,
    format: Option<cairn_core::Format>,
    repository: &str,
) -> Result<&'a cairn_packages::proxy::Proxy, ApiError> {
    let found = match format {
        Some(f) => state.packages.proxy(f, repository),
        None => state.oci.proxy(repository),
    };
    found.map(|p| &**p).ok_or_else(|| {
        let format = format.map_or("oci", |f| f.as_str());
        ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("{format}/{repository} is not a proxy repository"),
        )
    })
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
pub(super) struct CacheQuery {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    after: String,
    #[schemars(range(max = u32::MAX))]
    limit: Option<u32>,
}

/// `GET /api/v1/proxies/{format}/{repository}/cache?prefix=&after=&limit=`:
/// what the proxy holds, in key order, with its upstream and breaker state.
pub(super) async fn proxy_cache(
    state: &AppState,
    format: Option<cairn_core::Format>,
    repository: &str,
    q: CacheQuery,
) -> ApiResult {
    let proxy = proxy_of(state, format, repository)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let entries = proxy
        .entries(&q.prefix, &q.after, limit)
        .await
        .map_err(|e| package_error(e.into()))?;
    let next = (entries.len() as u32 == limit).then(|| entries.last().map(|e| e.key.clone()));
    let (objects, bytes) = proxy.usage().await.map_err(|e| package_error(e.into()))?;
    let entries: Vec<_> = entries
        .iter()
        .map(|e| {
            json!({
                "key": e.key,
                "status": e.status,
                "digest": e.digest.as_ref().map(|d| d.to_string()),
                "size": e.size,
                "content_type": e.content_type,
                "fetched_at": cairn_packages::rfc3339(e.fetched_at),
                "checked_at": cairn_packages::rfc3339(e.checked_at),
            })
        })
        .collect();
    Ok(Json(json!({
        "repository": proxy.repository(),
        "upstream": proxy.upstream().base().as_str(),
        "circuit_open": proxy.circuit_open(),
        "cached_objects": objects,
        "cached_bytes": bytes,
        "entries": entries,
        "next_after": next.flatten(),
    }))
    .into_response())
}

/// `DELETE /api/v1/proxies/{format}/{repository}/cache/{key}`: the next
/// request for the entry fetches it from the upstream again. Audited.
pub(super) async fn drop_proxy_entry(
    state: &AppState,
    who: &Who,
    format: Option<cairn_core::Format>,
    repository: &str,
    key: &str,
) -> ApiResult {
    let proxy = proxy_of(state, format, repository)?;
    let dropped = proxy
        .drop_entry(key)
        .await
        .map_err(|e| package_error(e.into()))?;
    if !dropped {
        return Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("{} has no cached {key:?}", proxy.repository()),
        ));
    }
    let entry = cairn_store::AuditRecord::by(
        &who.actor,
        "proxy.drop",
        Some(proxy.repository()),
        Some(key),
        "ok",
    );
    state
        .meta
        .append_audit(&entry)
        .await
        .map_err(|e| package_error(e.into()))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The virtual repository `format/repository`, or a 404.
fn virtual_of<'a>(
    state: &'a AppState,
    format: cairn_core::Format,
    repository: &str,
) -> Result<&'a cairn_packages::Virtual, ApiError> {
    state
        .packages
        .virtual_repo(format, repository)
        .map(|v| &**v)
        .ok_or_else(|| {
            ApiError::Status(
                StatusCode::NOT_FOUND,
                format!("{format}/{repository} is not a virtual repository"),
            )
        })
}

/// The virtual repository `format/repository` (`FORMAT/NAME`) and the
/// key of `package` in it, or a 404 / 400.
fn virtual_package(
    state: &AppState,
    format: cairn_core::Format,
    repository: &str,
    package: &str,
) -> Result<(String, String), ApiError> {
    let virt = virtual_of(state, format, repository)?;
    let key = no_such_package(format, package)?;
    Ok((virt.repository(), key))
}

/// `GET /api/v1/virtuals/{format}/{repository}/external`.
pub(super) async fn list_external(
    state: &AppState,
    format: cairn_core::Format,
    repository: &str,
) -> ApiResult {
    let virt = virtual_of(state, format, repository)?;
    let listed = state
        .meta
        .external_allowances(&virt.repository())
        .await
        .map_err(|e| package_error(e.into()))?;
    Ok(Json(json!({ "repository": virt.repository(), "external": listed })).into_response())
}

/// `PUT|DELETE /api/v1/virtuals/{format}/{repository}/external/{package}`:
/// an owner allows (or stops allowing) versions of an owned name from the
/// virtual repository's proxy members; audited in the same transaction.
pub(super) async fn change_external(
    state: &AppState,
    who: &Who,
    format: cairn_core::Format,
    repository: &str,
    package: &str,
    allow: bool,
    reason: Option<String>,
) -> ApiResult {
    let (repo, key) = virtual_package(state, format, repository, package)?;
    if allow {
        let made = state
            .meta
            .allow_external(&who.actor, &repo, &key, reason.as_deref())
            .await
            .map_err(|e| package_error(e.into()))?;
        return Ok(Json(made).into_response());
    }
    let removed = state
        .meta
        .disallow_external(&who.actor, &repo, &key)
        .await
        .map_err(|e| package_error(e.into()))?;
    if !removed {
        return Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("{repo} has no exception for {key}"),
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
pub(super) struct ResolveQuery {
    package: String,
    version: Option<String>,
}

/// `GET /api/v1/virtuals/{format}/{repository}/resolve?package=&version=`:
/// where the name (and version) would come from through the virtual
/// repository for this caller, and why — decided as listings and
/// downloads decide.
pub(super) async fn resolve_virtual(
    state: &AppState,
    who: &Who,
    format: cairn_core::Format,
    repository: &str,
    q: ResolveQuery,
) -> ApiResult {
    use cairn_core::Format as F;
    let virt = virtual_of(state, format, repository)?;
    let upstream: &dyn cairn_packages::UpstreamVersions = match format {
        F::Npm => &state.npm,
        F::Pypi => &state.pypi,
        F::Cargo => &state.cargo,
        F::Go => &state.go,
        F::Maven => &state.maven,
    };
    let explained = state
        .packages
        .explain(
            &who.principal,
            virt,
            &q.package,
            q.version.as_deref(),
            upstream,
        )
        .await
        .map_err(package_error)?;
    Ok(Json(explained).into_response())
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct WarmRequest {
    /// The proxy or virtual repository to fetch through (for OCI, its prefix).
    #[schemars(length(min = 1))]
    repository: String,
    /// `npm`, `pypi`, `cargo`, `go`, `maven` or `oci`; unset, the file name says.
    #[schemars(extend("enum" = ["npm", "pypi", "cargo", "go", "maven", "oci"]))]
    format: Option<String>,
    /// The lockfile's name (`package-lock.json`, `go.sum`, …); it says the
    /// format when `format` is unset.
    file: String,
    /// The lockfile's text.
    content: String,
}

/// How long a running job may go without progress before it is reported
/// as abandoned (its replica stopped).
const WARM_ABANDONED_SECS: i64 = 300;

/// `POST /api/v1/warm`: starts warming the caches from a lockfile; its
/// progress is read from any replica at `GET /api/v1/warm/{id}`. The job
/// runs on this replica and fetches through this server with the caller's
/// own credential, so each fetch is decided as the caller's would be.
pub(super) async fn start_warm(state: &AppState, who: &Who, body: WarmRequest) -> ApiResult {
    let bad = |m: String| ApiError::Status(StatusCode::BAD_REQUEST, m);
    let kind = match &body.format {
        Some(f) => cairn_warm::Kind::parse(f).ok_or_else(|| {
            bad(format!(
                "format {f:?}: use npm, pypi, cargo, go, maven or oci"
            ))
        })?,
        None => cairn_warm::Kind::of_file(&body.file)
            .ok_or_else(|| bad(format!("{}: say its format", body.file)))?,
    };
    let items =
        cairn_warm::read(kind, &body.file, &body.content).map_err(|e| bad(format!("{e:#}")))?;
    let name = body.repository.trim_matches('/').to_string();
    if name.is_empty() {
        return Err(bad(
            "repository= names the proxy or virtual repository to fetch through".into(),
        ));
    }
    let repository = format!("{}/{name}", kind.as_str());
    let id = cairn_store::blobs::uuid_v4();
    let now = cairn_packages::now();
    let job = cairn_store::WarmJob {
        id: id.clone(),
        created_by: who.actor.name.clone(),
        repository: repository.clone(),
        state: "running".into(),
        total: items.len() as u64,
        done: 0,
        report: WarmReport::default().to_json(),
        created_at: now,
        updated_at: now,
    };
    state.meta.create_warm_job(&who.actor, &job).await?;
    let base = own_address(&state.config.listen);
    let warmer = cairn_warm::Warmer::new(&base, &name, who.authorization.clone())
        .map_err(|e| ApiError::Status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let meta = state.meta.clone();
    let job_id = id.clone();
    tokio::spawn(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let progress = tokio::spawn({
            let (meta, id) = (meta.clone(), job_id.clone());
            async move {
                let mut report = WarmReport::default();
                let mut done = 0;
                while let Some((label, outcome)) = rx.recv().await {
                    report.add(label, &outcome);
                    done += 1;
                    let at = cairn_packages::now();
                    if let Err(e) = meta
                        .update_warm_job(&id, "running", done, &report.to_json(), at)
                        .await
                    {
                        tracing::warn!(job = %id, error = %e, "recording a warm job's progress");
                    }
                }
                (report, done)
            }
        });
        warmer
            .run(items, 4, |item, outcome| {
                let _ = tx.send((item.label(), outcome.clone()));
            })
            .await;
        drop(tx);
        let (report, done) = progress.await.unwrap_or_default();
        let at = cairn_packages::now();
        if let Err(e) = meta
            .update_warm_job(&job_id, "done", done, &report.to_json(), at)
            .await
        {
            tracing::warn!(job = %job_id, error = %e, "recording a warm job's end");
        }
        tracing::info!(job = %job_id, ok = report.ok, not_warmed = report.problems.len(), "warm job done");
    });
    let location = format!("/api/v1/warm/{id}");
    Ok((
        StatusCode::ACCEPTED,
        [(axum::http::header::LOCATION, location.clone())],
        Json(
            json!({ "id": id, "repository": repository, "total": job.total, "location": location }),
        ),
    )
        .into_response())
}

/// `GET /api/v1/warm/{id}`: a job's progress and what it could not warm;
/// its creator's, or an administrator's.
pub(super) async fn warm_job(state: &AppState, who: &Who, id: &str) -> ApiResult {
    let missing = || ApiError::Status(StatusCode::NOT_FOUND, format!("no warm job {id}"));
    let job = state.meta.warm_job(id).await?.ok_or_else(missing)?;
    if job.created_by != who.actor.name {
        let admin = Resource::repository(crate::identity::REGISTRY);
        let caller = (&who.principal, &who.actor, "/api/v1/warm");
        if state
            .guard
            .decide_for(caller, "api", Action::Admin, &admin)
            .await
            .is_err()
        {
            return Err(missing());
        }
    }
    let now = cairn_packages::now();
    let abandoned = job.state == "running" && now - job.updated_at > WARM_ABANDONED_SECS;
    let report: serde_json::Value = serde_json::from_str(&job.report).unwrap_or_default();
    Ok(Json(json!({
        "id": job.id,
        "repository": job.repository,
        "created_by": job.created_by,
        "state": if abandoned { "abandoned" } else { job.state.as_str() },
        "total": job.total,
        "done": job.done,
        "created_at": cairn_packages::rfc3339(job.created_at),
        "updated_at": cairn_packages::rfc3339(job.updated_at),
        "report": report,
    }))
    .into_response())
}

/// Where this server answers itself: its listen address, on loopback when
/// it listens on every interface.
fn own_address(listen: &str) -> String {
    let addr = listen
        .replace("0.0.0.0:", "127.0.0.1:")
        .replace("[::]:", "[::1]:");
    format!("http://{addr}")
}

/// A warm job's counts and the items it could not warm.
#[derive(Default, serde::Serialize)]
struct WarmReport {
    ok: u64,
    missing: u64,
    refused: u64,
    mismatch: u64,
    failed: u64,
    problems: Vec<serde_json::Value>,
}

impl WarmReport {
    fn add(&mut self, label: String, outcome: &cairn_warm::Outcome) {
        use cairn_warm::Outcome as O;
        match outcome {
            O::Ok => self.ok += 1,
            O::Missing(_) => self.missing += 1,
            O::Refused(_) => self.refused += 1,
            O::Mismatch(_) => self.mismatch += 1,
            O::Failed(_) => self.failed += 1,
        }
        if let Some(message) = outcome.message() {
            self.problems
                .push(json!({"item": label, "outcome": outcome.word(), "message": message}));
        }
    }

    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
pub(super) struct VersionQuery {
    version: Option<String>,
}

/// `GET /api/v1/virtuals/{format}/{repository}/cooldown-exempt`.
pub(super) async fn list_exemptions(
    state: &AppState,
    format: cairn_core::Format,
    repository: &str,
) -> ApiResult {
    let virt = virtual_of(state, format, repository)?;
    let listed = state
        .meta
        .exemptions(&virt.repository())
        .await
        .map_err(|e| package_error(e.into()))?;
    Ok(Json(json!({ "repository": virt.repository(), "exempt": listed })).into_response())
}

/// `PUT|DELETE /api/v1/virtuals/{format}/{repository}/cooldown-exempt/{package}?version=`:
/// an owner exempts a package (one version, or every version) from the
/// cooldown — an urgent fix — or ends it; audited in the same transaction.
#[allow(clippy::too_many_arguments)]
pub(super) async fn change_exemption(
    state: &AppState,
    who: &Who,
    format: cairn_core::Format,
    repository: &str,
    package: &str,
    q: VersionQuery,
    allow: bool,
    reason: Option<String>,
) -> ApiResult {
    let (repo, key) = virtual_package(state, format, repository, package)?;
    let version = q.version.unwrap_or_default();
    if allow {
        let e = cairn_store::Exemption {
            repository: repo,
            package: key,
            version,
            allowed_by: who.actor.name.clone(),
            allowed_at: cairn_packages::now(),
            reason,
        };
        state
            .meta
            .exempt(&who.actor, &e)
            .await
            .map_err(|e| package_error(e.into()))?;
        return Ok(Json(e).into_response());
    }
    let removed = state
        .meta
        .unexempt(&who.actor, &repo, &key, &version)
        .await
        .map_err(|e| package_error(e.into()))?;
    if !removed {
        return Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("{repo} has no such exemption for {key}"),
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/gc`: the blob rows by state (docs/gc.md).
pub(super) async fn gc_status(state: &AppState) -> ApiResult {
    let c = state.meta.blob_counts().await?;
    Ok(Json(json!({
        "live": { "blobs": c.live, "bytes": c.live_bytes },
        "candidate": { "blobs": c.candidates, "bytes": c.candidate_bytes },
        "deleting": { "blobs": c.deleting, "bytes": c.deleting_bytes },
        "settings": {
            "enabled": state.config.gc.enabled,
            "interval_secs": state.config.gc.interval_secs,
            "grace_secs": state.config.gc.grace_secs,
            "upload_ttl_secs": state.config.gc.upload_ttl_secs,
        },
    }))
    .into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct GcQuery {
    /// Overrides `gc.grace_secs` for this run.
    #[schemars(range(max = u64::MAX))]
    grace_secs: Option<u64>,
}

/// `POST /api/v1/gc`: one collector run now, with this server's settings
/// (and `?grace_secs=` for this run); answers the run's report when it ends.
pub(super) async fn run_gc(state: &AppState, q: GcQuery) -> ApiResult {
    let mut settings = state.config.gc.settings();
    if let Some(g) = q.grace_secs {
        settings.grace_secs = g;
    }
    let collector = cairn_store::collector::Collector::new(
        state.meta.clone(),
        state.blob_store.clone(),
        settings,
    );
    let never = tokio_util::sync::CancellationToken::new();
    let report = collector.run(&never, &|_, _| {}).await?;
    Ok(Json(json!({ "report": report, "summary": report.summary() })).into_response())
}

/// `GET /api/v1/retention`: the plan of every repository a policy covers;
/// `POST`: carries it out now (at most `gc.retention_max_deletions`).
pub(super) async fn retention(state: &AppState, apply: bool) -> ApiResult {
    let now = cairn_packages::now();
    if !apply {
        let plans =
            cairn_store::retention::preview(&*state.meta, &state.retention, &state.tag_rules, now)
                .await?;
        return Ok(Json(json!({ "plans": plans })).into_response());
    }
    let (plans, report) = cairn_store::retention::apply(
        &*state.meta,
        &state.retention,
        &state.tag_rules,
        now,
        state.config.gc.retention_max_deletions,
        &tokio_util::sync::CancellationToken::new(),
    )
    .await?;
    Ok(Json(json!({ "plans": plans, "report": report })).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct StorageQuery {
    #[serde(default)]
    prefix: String,
    /// `repository`: one entry per repository.
    #[schemars(extend("enum" = ["repository", "namespace"]))]
    by: Option<String>,
}

/// `GET /api/v1/storage`: logical, unique and exclusive bytes of a prefix
/// (everything by default), or of each repository under it.
pub(super) async fn storage(state: &AppState, q: StorageQuery) -> ApiResult {
    match q.by.as_deref() {
        Some("repository") => {
            let rows = state.meta.usage_by_repository(&q.prefix).await?;
            Ok(Json(json!({ "repositories": rows })).into_response())
        }
        Some("namespace") => {
            let rows = state.meta.usage_by_namespace(&q.prefix).await?;
            Ok(Json(json!({ "namespaces": rows })).into_response())
        }
        None => {
            let total = state.meta.usage_of_prefix(&q.prefix).await?;
            let blobs = state.meta.blob_counts().await?;
            Ok(Json(json!({
                "usage": total,
                "pending": { "blobs": blobs.candidates + blobs.deleting,
                             "bytes": blobs.candidate_bytes + blobs.deleting_bytes },
                "uploads": { "open": blobs.uploads, "bytes": blobs.upload_bytes },
            }))
            .into_response())
        }
        Some(other) => Err(ApiError::Status(
            StatusCode::BAD_REQUEST,
            format!("by={other:?}: use by=repository or by=namespace"),
        )),
    }
}

/// `GET /api/v1/quotas`: every quota with its scope's unique bytes now.
pub(super) async fn list_quotas(state: &AppState) -> ApiResult {
    let quotas = state.meta.quotas().await?;
    Ok(Json(json!({ "quotas": quotas })).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct ScopeQuery {
    /// A namespace (`team/`), a repository (`npm/main`), or empty for the
    /// registry.
    #[serde(default)]
    #[schemars(regex(pattern = r"^([^/\s]+(/[^/\s]+)*/?)?$"))]
    scope: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(super) struct QuotaBody {
    /// Bytes, or a size such as `"10 GiB"`.
    #[schemars(schema_with = "size_schema")]
    max_unique_bytes: cairn_core::quota::Size,
}

fn size_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "oneOf": [
            { "type": "integer", "minimum": 0 },
            {
                "type": "string",
                "description": "a size with a unit, such as \"10 GiB\"",
                "pattern": "^[0-9]{1,12}( ?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB))?$"
            }
        ]
    })
}

/// `PUT /api/v1/quotas?scope=team/` with `{"max_unique_bytes": "10 GiB"}`.
pub(super) async fn set_quota(
    state: &AppState,
    who: &Who,
    q: ScopeQuery,
    body: QuotaBody,
) -> ApiResult {
    cairn_core::quota::check_scope(&q.scope)
        .map_err(|e| ApiError::Status(StatusCode::BAD_REQUEST, e))?;
    let limit = body.max_unique_bytes.0;
    state.meta.set_quota(&q.scope, limit, &who.actor).await?;
    let used = state.meta.usage_of_prefix(&q.scope).await?.unique;
    Ok(
        Json(json!({ "scope": q.scope, "max_unique_bytes": limit, "unique": used }))
            .into_response(),
    )
}

/// `DELETE /api/v1/quotas?scope=team/`.
pub(super) async fn remove_quota(state: &AppState, who: &Who, q: ScopeQuery) -> ApiResult {
    if state.meta.remove_quota(&q.scope, &who.actor).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("no quota on {:?}", q.scope),
        ))
    }
}

/// `GET /api/v1/jobs`: the 100 most recent maintenance jobs.
pub(super) async fn list_jobs(state: &AppState) -> ApiResult {
    let jobs = state.meta.jobs(100).await?;
    Ok(Json(json!({ "jobs": jobs })).into_response())
}

/// `POST /api/v1/jobs`: starts a job in the background; 202 with its record
/// and its URL in `Location`.
pub(super) async fn start_job(
    state: &AppState,
    who: &Who,
    request: crate::jobs::JobRequest,
) -> ApiResult {
    let job = crate::jobs::start(state, request, &who.actor).await?;
    let location = format!("/api/v1/jobs/{}", job.id);
    Ok((
        StatusCode::ACCEPTED,
        [(axum::http::header::LOCATION, location)],
        Json(job),
    )
        .into_response())
}

/// `GET /api/v1/jobs/{id}`.
pub(super) async fn job(state: &AppState, id: &str) -> ApiResult {
    match state.meta.job(id).await? {
        Some(job) => Ok(Json(job).into_response()),
        None => Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("no job {id}"),
        )),
    }
}

/// `DELETE /api/v1/jobs/{id}`: asks a running job to stop at its next safe
/// point; 202, or 409 if it is not running.
pub(super) async fn cancel_job(state: &AppState, who: &Who, id: &str) -> ApiResult {
    if state.meta.cancel_job(id, &who.actor).await? {
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    match state.meta.job(id).await? {
        Some(job) => Err(ApiError::Status(
            StatusCode::CONFLICT,
            format!("job {id} is {}, not running", job.state),
        )),
        None => Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("no job {id}"),
        )),
    }
}
