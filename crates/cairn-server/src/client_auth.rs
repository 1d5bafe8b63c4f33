//! The logins, token commands and trusted-publishing exchanges that the
//! ecosystems' own clients perform: `npm login` and `npm token`, PyPI's
//! `/_/oidc/audience` and `/_/oidc/mint-token`, npm's OIDC exchange and
//! crates.io's trusted-publishing tokens. They are authentication, not
//! artifacts, so they live here rather than in an adapter; their errors are
//! rendered by the format's adapter so clients see their own error shape.
//!
//! Their paths are parsed by each format's crate into typed endpoints
//! (`cairn_npm::endpoint::Login`, `cairn_pypi::endpoint::Login`,
//! `cairn_cargo::endpoint::TrustedPublishing`); each `*_route` answers those
//! and hands any other request back (`Err(request)`) for the adapter.

use crate::auth::AuthFailure;
use crate::identity::{IdentityError, Manager, Session};
use crate::oidc::{self, ExchangeError};
use crate::{authenticate_request, AppState, SecondFactorRefusal};
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cairn_cargo::endpoint::TrustedPublishing;
use cairn_core::access::{Denied, Grant};
use cairn_core::{Format, Principal};
use cairn_http::Adapter as _;
use cairn_http::Endpoint as _;
use cairn_npm::endpoint::Login as NpmLogin;
use cairn_packages::{split_repository, PackageError};
use cairn_pypi::endpoint::Login as PypiLogin;
use http_body_util::BodyExt;
use serde_json::{json, Value};

/// Small JSON bodies only: a login, a token request, an OIDC token.
const BODY_LIMIT: usize = 64 * 1024;

/// The repository and the rest of a path below a format's prefix, or `None`.
fn below<'a>(req: &'a Request, prefix: &str) -> Option<(String, &'a str)> {
    let path = req.uri().path().strip_prefix(prefix)?;
    split_repository(path).ok()
}

/// `/npm/<repo>/...`: npm's logins, token commands and OIDC exchange
/// ([`NpmLogin`]); anything else is handed back for the registry.
pub async fn npm_route(state: &AppState, req: Request) -> Result<Response, Request> {
    let Some((repo, login)) = below(&req, "/npm")
        .and_then(|(repo, rest)| Some((repo, NpmLogin::parse(req.method(), rest)?)))
    else {
        return Err(req);
    };
    let name = login.name();
    let result = match login {
        NpmLogin::User { name } => npm_login(state, &repo, &name, req).await,
        NpmLogin::ListTokens => npm_token_list(state, req).await,
        NpmLogin::CreateToken => npm_token_create(state, &repo, req).await,
        NpmLogin::RevokeToken { id } => npm_token_revoke(state, &id, req).await,
        NpmLogin::OidcExchange { package } => npm_exchange(state, Some(&repo), &package, req).await,
        NpmLogin::Profile => npm_profile(state, req).await,
        NpmLogin::SetProfile => npm_set_profile(state, req).await,
        NpmLogin::WebLogin => npm_web_login(state, req).await,
    };
    Ok(labelled(
        result.unwrap_or_else(|e| state.npm.render(e)),
        "npm",
        name,
    ))
}

/// Labels a response for logs and metrics, as the guard labels an adapter's.
fn labelled(mut resp: Response, format: &'static str, endpoint: &'static str) -> Response {
    resp.extensions_mut()
        .insert(cairn_http::EndpointLabel { format, endpoint });
    resp
}

/// `POST /-/npm/v1/oidc/token/exchange/package/<name>`, where npm asks (at
/// the registry host's root, whatever the registry's path).
pub async fn npm_root_exchange(state: &AppState, req: Request) -> Response {
    let login = NpmLogin::parse(req.method(), req.uri().path());
    let Some(NpmLogin::OidcExchange { package }) = login else {
        return state.npm.render(PackageError::not_found("not found"));
    };
    npm_exchange(state, None, &package, req)
        .await
        .unwrap_or_else(|e| state.npm.render(e))
}

/// `/pypi/<repo>/_/oidc/audience` and `/pypi/<repo>/_/oidc/mint-token`
/// ([`PypiLogin`]); anything else is handed back for the registry.
pub async fn pypi_route(state: &AppState, req: Request) -> Result<Response, Request> {
    let Some((repo, login)) = below(&req, "/pypi")
        .and_then(|(repo, rest)| Some((repo, PypiLogin::parse(req.method(), rest)?)))
    else {
        return Err(req);
    };
    let resp = match login {
        PypiLogin::OidcAudience => pypi_audience(state, Some(&Format::Pypi.resource(&repo))).await,
        PypiLogin::MintToken => pypi_mint(state, Some(&repo), req).await,
    };
    Ok(labelled(resp, "pypi", login.name()))
}

/// `GET /_/oidc/audience`: the audience PyPI's publishing clients request
/// their OIDC token for (they ask at the host's root).
pub async fn pypi_root_audience(state: &AppState) -> Response {
    pypi_audience(state, None).await
}

/// `POST /_/oidc/mint-token`: PyPI's exchange, at the host's root.
pub async fn pypi_root_mint(state: &AppState, req: Request) -> Response {
    pypi_mint(state, None, req).await
}

/// `POST /cargo/<repo>/api/v1/trusted_publishing/tokens`: crates.io's
/// exchange ([`TrustedPublishing`]); anything else is handed back.
pub async fn cargo_route(state: &AppState, req: Request) -> Result<Response, Request> {
    let Some(repo) = below(&req, "/cargo")
        .filter(|(_, rest)| TrustedPublishing::parse(req.method(), rest).is_some())
        .map(|(repo, _)| repo)
    else {
        return Err(req);
    };
    let source = crate::source_in(req.extensions());
    let exchanged = async {
        let body = read_json(req).await?;
        let jwt = body
            .get("jwt")
            .and_then(Value::as_str)
            .ok_or_else(|| PackageError::bad("expected {\"jwt\": \"<OIDC token>\"}"))?;
        let resource = Format::Cargo.resource(&repo);
        let (token, _) = oidc::exchange(state, jwt, &resource, None, source)
            .await
            .map_err(exchange_error)?;
        Ok(Json(json!({ "token": token })).into_response())
    };
    let resp = exchanged.await.unwrap_or_else(|e| state.cargo.render(e));
    Ok(labelled(resp, "cargo", "oidc_exchange"))
}

async fn read_json(req: Request) -> Result<Value, PackageError> {
    let bytes = http_body_util::Limited::new(req.into_body(), BODY_LIMIT)
        .collect()
        .await
        .map_err(|e| PackageError::bad(format!("reading the body: {e}")))?
        .to_bytes();
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|e| PackageError::bad(format!("invalid JSON: {e}")))
}

/// A refused exchange, for the format's adapter to render.
fn exchange_error(e: ExchangeError) -> PackageError {
    let message = e.to_string();
    match e.status() {
        StatusCode::BAD_REQUEST | StatusCode::CONFLICT => PackageError::BadRequest(message),
        StatusCode::UNAUTHORIZED => PackageError::Unauthenticated(message),
        StatusCode::FORBIDDEN => PackageError::Denied {
            denied: Denied::Forbidden,
            message,
        },
        _ => PackageError::internal(message),
    }
}

/// The caller of a token command: authenticated, or refused in npm's shape.
async fn npm_caller(
    state: &AppState,
    req: &axum::http::request::Parts,
) -> Result<Principal, Response> {
    let render = |why: AuthFailure| {
        state
            .npm
            .render(PackageError::Unauthenticated(why.message().into()))
    };
    let source = crate::source_of(req);
    let principal =
        authenticate_request(state, &req.headers, source, req.uri.path(), render).await?;
    match principal {
        Principal::Anonymous => Err(state.npm.render(PackageError::Denied {
            denied: Denied::NeedsCredential,
            message: "log in first (npm login)".into(),
        })),
        p => Ok(p),
    }
}

/// Checks `user`'s password as a Basic credential would be checked (the
/// same rules, audit and slow-down for failures).
async fn check_password(
    state: &AppState,
    user: &str,
    password: &str,
    source: Option<String>,
    path: &str,
) -> Result<Principal, Response> {
    let mut headers = HeaderMap::new();
    let basic = crate::auth::encode_basic(user, password);
    let Ok(value) = basic.parse() else {
        return Err(state.npm.render(PackageError::bad(
            "the user name or password holds invalid characters",
        )));
    };
    headers.insert(header::AUTHORIZATION, value);
    let refused = |_| {
        state.npm.render(PackageError::Unauthenticated(
            "invalid user name or password".into(),
        ))
    };
    match authenticate_request(state, &headers, source, path, refused).await? {
        p @ Principal::Authenticated { .. } => Ok(p),
        Principal::Anonymous => Err(state.npm.render(PackageError::Unauthenticated(
            "invalid user name or password".into(),
        ))),
    }
}

/// The scopes of a token npm asks for: on the repository, or on each of
/// `packages` in it (npm names).
fn npm_scopes(
    repo: &str,
    packages: &[String],
    readonly: bool,
) -> Result<Vec<String>, PackageError> {
    let actions = if readonly {
        "read"
    } else {
        "read,publish,yank"
    };
    if packages.is_empty() {
        return Ok(vec![format!("{}:{actions}", Format::Npm.resource(repo))]);
    }
    packages
        .iter()
        .map(|name| {
            let key = cairn_core::package_key(Format::Npm, name)
                .map_err(|e| PackageError::bad(e.to_string()))?;
            let resource = Format::Npm.package_resource(repo, &key);
            Ok(format!(
                "{}:{actions}",
                Grant::exact(&resource, vec![]).pattern()
            ))
        })
        .collect()
}

/// `npm login` (the legacy CouchDB flow, also `npm adduser`): checks the
/// user's password and answers with a new API token for this npm
/// repository. Creating users this way is not offered; an administrator
/// creates them.
async fn npm_login(
    state: &AppState,
    repo: &str,
    user: &str,
    req: Request,
) -> Result<Response, PackageError> {
    let source = crate::source_in(req.extensions());
    let path = req.uri().path().to_string();
    let otp = crate::auth::otp_of(req.headers()).map(str::to_string);
    let doc = read_json(req).await?;
    let Some(password) = doc.get("password").and_then(Value::as_str) else {
        return Err(PackageError::bad("a login needs a name and a password"));
    };
    let principal = match check_password(state, user, password, source.clone(), &path).await {
        Ok(p) => p,
        Err(resp) => return Ok(resp),
    };
    // A person enrolled in two-factor authentication signs in with a code
    // too: without one (or with a used or wrong one) npm is asked for it.
    match crate::sign_in_second_factor(state, &principal, otp.as_deref(), source.clone(), &path)
        .await
    {
        Ok(_) => {}
        Err(SecondFactorRefusal::Limited(resp)) => return Ok(resp),
        Err(SecondFactorRefusal::Failed(e)) => return Err(identity_error(e)),
        Err(SecondFactorRefusal::Code(why)) => {
            return Ok(state.npm.render(PackageError::Denied {
                denied: Denied::SecondFactor { enrolled: true },
                message: format!("{why}: npm login --auth-type=legacy asks for it"),
            }))
        }
    }
    let actor = cairn_store::Actor::of(&principal, source);
    let scopes = npm_scopes(repo, &[], false)?;
    let (_, secret) = state
        .identity
        .create_session_token(
            Manager::Caller(&principal),
            &actor,
            "npm login",
            &scopes,
            // npm sends a one-time password with each change anyway.
            Session {
                ttl_secs: None,
                second_factor: false,
            },
        )
        .await
        .map_err(identity_error)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "ok": true, "id": format!("org.couchdb.user:{user}"), "token": secret })),
    )
        .into_response())
}

/// `npm token list`: the caller's live tokens (their ids, never secrets).
async fn npm_token_list(state: &AppState, req: Request) -> Result<Response, PackageError> {
    let (parts, _) = req.into_parts();
    let principal = match npm_caller(state, &parts).await {
        Ok(p) => p,
        Err(resp) => return Ok(resp),
    };
    let now = crate::auth::now() as i64;
    let objects: Vec<Value> = state
        .identity
        .list_tokens(Manager::Caller(&principal), Some(principal.name()))
        .await
        .map_err(identity_error)?
        .into_iter()
        .filter(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now))
        .map(|t| {
            let readonly = t.scopes.iter().all(|s| s.ends_with(":read"));
            json!({
                "key": t.id,
                "token": t.id,
                "created": cairn_packages::rfc3339(t.created_at),
                "updated": cairn_packages::rfc3339(t.created_at),
                "readonly": readonly,
                "cidr_whitelist": null,
                "name": t.description,
                "scopes": t.scopes,
            })
        })
        .collect();
    let total = objects.len();
    Ok(Json(json!({ "objects": objects, "total": total, "urls": {} })).into_response())
}

/// What an npm command changing the caller's own account sends: who (npm's
/// credential), from where, to which path, its one-time password
/// (`npm-otp`), and its JSON body.
struct NpmChange {
    principal: cairn_core::Principal,
    source: Option<String>,
    path: String,
    otp: Option<String>,
    doc: Value,
}

/// Reads an [`NpmChange`], or the response refusing its credential.
async fn npm_change(
    state: &AppState,
    req: Request,
) -> Result<Result<NpmChange, Response>, PackageError> {
    let (parts, body) = req.into_parts();
    let principal = match npm_caller(state, &parts).await {
        Ok(p) => p,
        Err(resp) => return Ok(Err(resp)),
    };
    let source = crate::source_of(&parts);
    let path = parts.uri.path().to_string();
    let otp = crate::auth::otp_of(&parts.headers).map(str::to_string);
    let doc = read_json(Request::from_parts(parts, body)).await?;
    Ok(Ok(NpmChange {
        principal,
        source,
        path,
        otp,
        doc,
    }))
}

/// `npm token create [--read-only]`: npm sends the user's password again.
async fn npm_token_create(
    state: &AppState,
    repo: &str,
    req: Request,
) -> Result<Response, PackageError> {
    let NpmChange {
        principal,
        source,
        path,
        doc,
        ..
    } = match npm_change(state, req).await? {
        Ok(change) => change,
        Err(resp) => return Ok(resp),
    };
    let password = doc.get("password").and_then(Value::as_str).unwrap_or("");
    if let Err(resp) =
        check_password(state, principal.name(), password, source.clone(), &path).await
    {
        return Ok(resp);
    }
    if doc
        .get("cidr_whitelist")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty())
    {
        return Err(PackageError::bad(
            "cairn tokens are not limited by client address; create the token without --cidr",
        ));
    }
    let readonly = doc.get("readonly").and_then(Value::as_bool) == Some(true)
        || doc
            .get("packages_and_scopes_permission")
            .and_then(Value::as_str)
            == Some("read-only");
    // `--packages a,b` limits the token to those packages of this repository.
    let packages: Vec<String> = doc
        .get("packages")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let scopes = npm_scopes(repo, &packages, readonly)?;
    let description = doc
        .get("name")
        .or_else(|| doc.get("description"))
        .and_then(Value::as_str)
        .unwrap_or("npm token create")
        .to_string();
    let ttl = doc
        .get("expires")
        .and_then(Value::as_u64)
        .map(|days| days * 86_400);
    let actor = cairn_store::Actor::of(&principal, source);
    let (record, secret) = state
        .identity
        .create_token(
            Manager::Caller(&principal),
            &actor,
            None,
            &description,
            &scopes,
            ttl,
        )
        .await
        .map_err(identity_error)?;
    Ok(Json(json!({
        "token": secret,
        "key": record.id,
        "readonly": readonly,
        "cidr_whitelist": [],
        "created": cairn_packages::rfc3339(record.created_at),
        "expires": record.expires_at.map(cairn_packages::rfc3339),
    }))
    .into_response())
}

/// `npm token revoke <id>`: the caller's own tokens, or any for an
/// administrator (the identity service's rule).
async fn npm_token_revoke(
    state: &AppState,
    key: &str,
    req: Request,
) -> Result<Response, PackageError> {
    let (parts, _) = req.into_parts();
    let principal = match npm_caller(state, &parts).await {
        Ok(p) => p,
        Err(resp) => return Ok(resp),
    };
    let actor = cairn_store::Actor::of(&principal, crate::source_of(&parts));
    state
        .identity
        .revoke_token(Manager::Caller(&principal), &actor, key)
        .await
        .map_err(identity_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /-/v1/login`: npm's web login (`crate::web_login`): the address
/// the person approves it at (`loginUrl`) and the one npm polls
/// (`doneUrl`). With `auth.web_login` off, a 404, on which npm asks for a
/// user name and password instead (its legacy login).
async fn npm_web_login(state: &AppState, req: Request) -> Result<Response, PackageError> {
    if !state.config.auth.web_login {
        return Err(PackageError::NotFound(
            "web login is off here (auth.web_login): npm asks for a user name and password".into(),
        ));
    }
    let (parts, _) = req.into_parts();
    let base = crate::formats::base_url(state, &parts.headers);
    let started = crate::web_login::start(state, "npm", crate::source_of(&parts), &base)
        .await
        .map_err(PackageError::from)?;
    Ok(Json(json!({ "loginUrl": started.login_url, "doneUrl": started.done_url })).into_response())
}

/// `GET /-/npm/v1/user`: who npm's credential is, and whether two-factor
/// authentication is on (`npm profile get`). cairn keeps no e-mail or other
/// profile fields. Enabled TOTP is reported as `auth-and-writes`: where a
/// code is asked is the server's policy (`auth.require_two_factor`).
async fn npm_profile(state: &AppState, req: Request) -> Result<Response, PackageError> {
    let (parts, _) = req.into_parts();
    let principal = match npm_caller(state, &parts).await {
        Ok(p) => p,
        Err(resp) => return Ok(resp),
    };
    let user = principal.name().to_string();
    let (enabled, pending, _) = state
        .identity
        .totp_status(Manager::Caller(&principal), &user)
        .await
        .map_err(identity_error)?;
    let tfa =
        (enabled || pending).then(|| json!({ "pending": !enabled, "mode": "auth-and-writes" }));
    Ok(
        Json(json!({ "name": user, "email": "", "tfa": tfa, "created": "", "updated": "" }))
            .into_response(),
    )
}

/// `POST /-/npm/v1/user`: npm's two-factor enrolment, on cairn's TOTP.
/// `{"tfa": {"password", "mode"}}` starts one (answers the `otpauth://`
/// URL), or with `mode: "disable"` turns it off (the code in `npm-otp`);
/// `{"tfa": ["<code>"]}` confirms it and answers the recovery codes. The
/// password is checked as at a sign-in.
async fn npm_set_profile(state: &AppState, req: Request) -> Result<Response, PackageError> {
    let NpmChange {
        principal,
        source,
        path,
        otp,
        doc,
    } = match npm_change(state, req).await? {
        Ok(change) => change,
        Err(resp) => return Ok(resp),
    };
    let user = principal.name().to_string();
    let actor = cairn_store::Actor::of(&principal, source.clone());
    let by = Manager::Caller(&principal);
    match doc.get("tfa") {
        Some(Value::Array(codes)) => {
            let code = codes.first().and_then(Value::as_str).unwrap_or_default();
            let recovery = state
                .identity
                .confirm_totp(by, &actor, &user, code)
                .await
                .map_err(identity_error)?;
            Ok(Json(json!({ "tfa": recovery })).into_response())
        }
        Some(Value::Object(change)) => {
            let password = change.get("password").and_then(Value::as_str).unwrap_or("");
            if let Err(resp) = check_password(state, &user, password, source, &path).await {
                return Ok(resp);
            }
            let mode = change.get("mode").and_then(Value::as_str).unwrap_or("");
            if mode == "disable" {
                let (enabled, _, _) = state
                    .identity
                    .totp_status(by, &user)
                    .await
                    .map_err(identity_error)?;
                if enabled && otp.is_none() {
                    // npm asks the person for a code and sends this again.
                    return Err(identity_error(IdentityError::SecondFactor {
                        enrolled: true,
                        message: "turning two-factor authentication off needs a one-time password"
                            .into(),
                    }));
                }
                state
                    .identity
                    .disable_totp(by, &actor, &user, otp.as_deref())
                    .await
                    .map_err(identity_error)?;
                return Ok(Json(json!({ "tfa": false })).into_response());
            }
            if !matches!(mode, "auth-only" | "auth-and-writes") {
                return Err(PackageError::bad(format!(
                    "two-factor mode {mode:?}: use auth-only, auth-and-writes or disable"
                )));
            }
            let (enabled, _, _) = state
                .identity
                .totp_status(by, &user)
                .await
                .map_err(identity_error)?;
            if enabled {
                // Already on; where codes are asked is the server's policy.
                return Ok(
                    Json(json!({ "tfa": { "mode": mode, "pending": false } })).into_response()
                );
            }
            let (_, url) = state
                .identity
                .start_totp(by, &actor, &user, state.auth.service())
                .await
                .map_err(identity_error)?;
            Ok(Json(json!({ "tfa": url })).into_response())
        }
        _ => Err(PackageError::bad(
            "cairn keeps no profile fields (e-mail, full name, password): only two-factor \
             authentication (npm profile enable-2fa / disable-2fa)",
        )),
    }
}

/// A refused identity change, for the format's adapter to render.
fn identity_error(e: IdentityError) -> PackageError {
    let message = e.to_string();
    match e {
        IdentityError::Store(e) => PackageError::from(e),
        IdentityError::Invalid(_) | IdentityError::Conflict(_) | IdentityError::WrongCode(_) => {
            PackageError::BadRequest(message)
        }
        IdentityError::NotFound(_) => PackageError::NotFound(message),
        IdentityError::Forbidden(_) => PackageError::Denied {
            denied: Denied::Forbidden,
            message,
        },
        // npm answers `WWW-Authenticate: OTP` with its one-time password prompt.
        IdentityError::SecondFactor { enrolled, .. } => PackageError::Denied {
            denied: Denied::SecondFactor { enrolled },
            message,
        },
    }
}

/// npm's trusted publishing: the OIDC token comes as the bearer credential;
/// the answer is a publish token for exactly that package.
async fn npm_exchange(
    state: &AppState,
    repo: Option<&str>,
    name: &str,
    req: Request,
) -> Result<Response, PackageError> {
    let source = crate::source_in(req.extensions());
    let jwt = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_string())
        .ok_or_else(|| {
            PackageError::Unauthenticated("send the OIDC token as a Bearer credential".into())
        })?;
    let key =
        cairn_core::package_key(Format::Npm, name).map_err(|e| PackageError::bad(e.to_string()))?;
    let exchanged = match repo {
        Some(repo) => {
            let resource = Format::Npm.resource(repo);
            oidc::exchange(state, &jwt, &resource, Some(&key), source).await
        }
        None => oidc::exchange_at_root(state, &jwt, Format::Npm, Some(&key), source).await,
    };
    let (token, _) = exchanged.map_err(exchange_error)?;
    Ok((StatusCode::CREATED, Json(json!({ "token": token }))).into_response())
}

/// The audience to request: the one all publishers of the repository (or,
/// at the root, of every PyPI repository) agree on, else the service name.
async fn pypi_audience(state: &AppState, resource: Option<&str>) -> Response {
    let publishers = match state.meta.all_publishers().await {
        Ok(p) => p,
        Err(e) => return state.pypi.render(PackageError::from(e)),
    };
    let mut audiences: Vec<String> = publishers
        .into_iter()
        .filter(|p| match resource {
            Some(r) => p.repository == r,
            None => p.is_for(Format::Pypi),
        })
        .map(|p| p.audience)
        .collect();
    audiences.sort();
    audiences.dedup();
    let audience = match audiences.as_slice() {
        [one] => one.clone(),
        _ => state.auth.service().to_string(),
    };
    Json(json!({ "audience": audience })).into_response()
}

/// PyPI's exchange: `{"token": <OIDC token>}` → `{"success", "token",
/// "expires"}`; refusals in PyPI's JSON shape (`message`, `errors`).
async fn pypi_mint(state: &AppState, repo: Option<&str>, req: Request) -> Response {
    let source = crate::source_in(req.extensions());
    let failed = |status: StatusCode, code: &str, description: String| {
        (
            status,
            Json(json!({
                "message": "Token request failed",
                "errors": [{ "code": code, "description": description }],
            })),
        )
            .into_response()
    };
    let body = match read_json(req).await {
        Ok(b) => b,
        Err(e) => return failed(StatusCode::BAD_REQUEST, "invalid-payload", e.to_string()),
    };
    let Some(jwt) = body.get("token").and_then(Value::as_str) else {
        return failed(
            StatusCode::BAD_REQUEST,
            "invalid-payload",
            "expected {\"token\": \"<OIDC token>\"}".into(),
        );
    };
    let exchanged = match repo {
        Some(repo) => oidc::exchange(state, jwt, &Format::Pypi.resource(repo), None, source).await,
        None => oidc::exchange_at_root(state, jwt, Format::Pypi, None, source).await,
    };
    match exchanged {
        Ok((token, ttl)) => Json(json!({
            "success": true,
            "token": token,
            "expires": crate::auth::now() + ttl,
        }))
        .into_response(),
        Err(e) => failed(e.status(), "invalid-token", e.to_string()),
    }
}
