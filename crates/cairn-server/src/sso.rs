//! Single sign-on for people: OpenID Connect's authorization code flow with
//! PKCE (RFC 7636), ending in the same browser session a password sign-in
//! makes.
//!
//! `GET /api/v1/session/oidc?return_to=/ui/...` sends the browser to the
//! provider with a fresh `state`, `nonce` and PKCE challenge; the browser
//! carries them (and the verifier) in a short-lived cookie MACed under the
//! key every replica shares, so the provider may send it back to any
//! replica. `GET /api/v1/session/oidc/callback` checks that cookie and the
//! `state`, exchanges the code (with the verifier) at the token endpoint,
//! verifies the ID token (signature against the provider's JWKS, issuer,
//! audience, expiry, nonce), reads the user name and groups (from the ID
//! token, else from the userinfo endpoint), makes or updates the user
//! (`IdentityStore::sign_in_external`: a local user is never taken over;
//! memberships come from `[auth.oidc.groups]`) and sets the session cookie.

use crate::api::ApiError;
use crate::config::{OidcSignIn, SsoSecondFactor};
use crate::AppState;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use jsonwebtoken::Validation;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Digest;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cookie the sign-on's state travels in between start and callback.
const FLOW_COOKIE: &str = "cairn_oidc";
const FLOW_PATH: &str = "/api/v1/session/oidc";
/// How long a person has at the provider.
const FLOW_TTL_SECS: u64 = 600;
const MAC_PURPOSE: &str = "cairn oidc flow";
/// How long the provider's discovery document is kept.
const DISCOVERY_TTL: Duration = Duration::from_secs(300);
const LEEWAY_SECS: u64 = 60;

/// The configured provider and what its discovery document says.
pub struct SsoProvider {
    config: OidcSignIn,
    http: reqwest::Client,
    discovery: Mutex<Option<(Discovery, Instant)>>,
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: Option<String>,
}

/// What the browser carries from the start to the callback.
#[derive(Serialize, Deserialize)]
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
    return_to: String,
    expires_at: u64,
}

#[derive(Deserialize)]
pub(crate) struct StartQuery {
    return_to: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: String,
    access_token: Option<String>,
}

impl SsoProvider {
    /// The provider of `[auth.oidc]`, when it is configured.
    pub fn from_config(config: Option<&OidcSignIn>) -> anyhow::Result<Option<SsoProvider>> {
        let Some(config) = config else {
            return Ok(None);
        };
        if config.issuer.is_empty() || config.client_id.is_empty() {
            anyhow::bail!("[auth.oidc] needs issuer and client_id");
        }
        if !config.scopes.iter().any(|s| s == "openid") {
            anyhow::bail!("[auth.oidc] scopes must include openid");
        }
        Ok(Some(SsoProvider {
            config: config.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()?,
            discovery: Mutex::new(None),
        }))
    }

    /// What the sign-in page offers.
    pub fn display_name(&self) -> &str {
        &self.config.display_name
    }

    async fn discovery(&self) -> Result<Discovery, ApiError> {
        let kept = self
            .discovery
            .lock()
            .expect("discovery")
            .as_ref()
            .filter(|(_, at)| at.elapsed() < DISCOVERY_TTL)
            .map(|(d, _)| d.clone());
        if let Some(d) = kept {
            return Ok(d);
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let found: Discovery = json_from(self.http.get(&url)).await?;
        if found.issuer.trim_end_matches('/') != self.config.issuer.trim_end_matches('/') {
            return Err(ApiError::Status(
                StatusCode::BAD_GATEWAY,
                format!(
                    "the provider at {} calls itself {}",
                    self.config.issuer, found.issuer
                ),
            ));
        }
        *self.discovery.lock().expect("discovery") = Some((found.clone(), Instant::now()));
        Ok(found)
    }

    fn redirect_url(&self, state: &AppState, headers: &HeaderMap) -> String {
        if let Some(url) = &self.config.redirect_url {
            return url.clone();
        }
        let base = match &state.config.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!(
                "http://{}",
                headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("localhost")
            ),
        };
        format!("{base}{FLOW_PATH}/callback")
    }
}

/// The provider's JSON answer to `req` (a success status only).
async fn json_from<T: serde::de::DeserializeOwned>(
    req: reqwest::RequestBuilder,
) -> Result<T, ApiError> {
    req.send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(provider_error)?
        .json()
        .await
        .map_err(provider_error)
}

fn provider_error(e: reqwest::Error) -> ApiError {
    ApiError::Status(
        StatusCode::BAD_GATEWAY,
        format!("the sign-on provider could not be reached: {e}"),
    )
}

fn form_encoded(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn random_text() -> String {
    crate::auth::generate_secret()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Only a path of this site: anything else would make the sign-on an open redirect.
fn local_path(return_to: Option<&str>) -> String {
    match return_to {
        Some(p)
            if p.starts_with('/') && !p.starts_with("//") && !p.contains(['\\', '\r', '\n']) =>
        {
            p.to_string()
        }
        _ => "/ui/".to_string(),
    }
}

fn provider(state: &AppState) -> Result<&SsoProvider, ApiError> {
    state.sso.as_ref().ok_or_else(|| {
        ApiError::Status(
            StatusCode::NOT_FOUND,
            "single sign-on is not configured here ([auth.oidc])".into(),
        )
    })
}

fn secure(state: &AppState) -> &'static str {
    if state
        .config
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
    {
        "; Secure"
    } else {
        ""
    }
}

/// `GET /session/oidc`: off to the provider.
pub(crate) async fn start(
    state: &AppState,
    headers: &HeaderMap,
    query: StartQuery,
) -> Result<Response, ApiError> {
    let sso = provider(state)?;
    let discovery = sso.discovery().await?;
    let flow = Flow {
        state: random_text(),
        nonce: random_text(),
        verifier: random_text(),
        return_to: local_path(query.return_to.as_deref()),
        expires_at: crate::auth::now() + FLOW_TTL_SECS,
    };
    let challenge = b64(&sha2::Sha256::digest(flow.verifier.as_bytes()));
    let mut url = reqwest::Url::parse(&discovery.authorization_endpoint).map_err(|e| {
        ApiError::Status(
            StatusCode::BAD_GATEWAY,
            format!("the provider's authorization endpoint is not a URL: {e}"),
        )
    })?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &sso.config.client_id)
        .append_pair("redirect_uri", &sso.redirect_url(state, headers))
        .append_pair("scope", &sso.config.scopes.join(" "))
        .append_pair("state", &flow.state)
        .append_pair("nonce", &flow.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let payload = b64(&serde_json::to_vec(&flow).expect("a flow serialises"));
    let mac = state.auth.mac(MAC_PURPOSE, payload.as_bytes());
    let cookie = format!(
        "{FLOW_COOKIE}={payload}.{mac}; Path={FLOW_PATH}; HttpOnly; SameSite=Lax; Max-Age={FLOW_TTL_SECS}{}",
        secure(state)
    );
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, url.to_string()),
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response())
}

/// The flow this browser started, if its cookie is intact and fresh.
fn flow_of(state: &AppState, headers: &HeaderMap) -> Result<Flow, ApiError> {
    let refused = |why: &str| {
        ApiError::Status(
            StatusCode::BAD_REQUEST,
            format!("{why}: start the sign-on again"),
        )
    };
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == FLOW_COOKIE)
        .map(|c| c.value().to_string())
        .ok_or_else(|| refused("this browser did not start a sign-on here"))?;
    let (payload, mac) = value
        .split_once('.')
        .ok_or_else(|| refused("a malformed sign-on cookie"))?;
    if !state.auth.mac_ok(MAC_PURPOSE, payload.as_bytes(), mac) {
        return Err(refused("the sign-on cookie was altered"));
    }
    let flow: Flow = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| refused("a malformed sign-on cookie"))?;
    if flow.expires_at < crate::auth::now() {
        return Err(refused("the sign-on took too long"));
    }
    Ok(flow)
}

/// `GET /session/oidc/callback`: the provider sent the browser back. A
/// refusal sends the browser to the sign-in page, which shows why.
pub(crate) async fn callback(
    state: &AppState,
    headers: &HeaderMap,
    source: Option<String>,
    query: CallbackQuery,
) -> Result<Response, ApiError> {
    match finish(state, headers, source, query).await {
        Ok(resp) => Ok(resp),
        Err(ApiError::Status(status, why)) => {
            tracing::warn!(%status, reason = %why, "a single sign-on was refused");
            let to = format!("/ui/?sso_error={}", form_encoded(&why));
            Ok((
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, to),
                    (header::CACHE_CONTROL, "no-store".to_string()),
                ],
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}

async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    source: Option<String>,
    query: CallbackQuery,
) -> Result<Response, ApiError> {
    let sso = provider(state)?;
    let flow = flow_of(state, headers)?;
    if let Some(error) = query.error {
        return Err(ApiError::Status(
            StatusCode::UNAUTHORIZED,
            format!(
                "the provider refused the sign-on: {error}{}",
                query
                    .error_description
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
        ));
    }
    let (Some(code), Some(got_state)) = (query.code, query.state) else {
        return Err(ApiError::Status(
            StatusCode::BAD_REQUEST,
            "the callback needs code and state".into(),
        ));
    };
    if !crate::auth::constant_time_eq(got_state.as_bytes(), flow.state.as_bytes()) {
        return Err(ApiError::Status(
            StatusCode::BAD_REQUEST,
            "the callback's state is not this browser's sign-on: start the sign-on again".into(),
        ));
    }
    let discovery = sso.discovery().await?;
    let tokens = exchange_code(sso, state, headers, &discovery, &code, &flow.verifier).await?;
    let mut claims = verify_id_token(state, sso, &discovery, &tokens.id_token, &flow.nonce).await?;
    let needs_userinfo = !claims.contains_key(&sso.config.username_claim)
        || (!sso.config.groups.is_empty() && !claims.contains_key(&sso.config.groups_claim));
    if let (true, Some(endpoint), Some(access)) = (
        needs_userinfo,
        &discovery.userinfo_endpoint,
        &tokens.access_token,
    ) {
        merge_userinfo(sso, endpoint, access, &mut claims).await?;
    }
    let user = user_name(&claims, &sso.config.username_claim)?;
    let groups = mapped_groups(&sso.config, &claims);
    let second_factor = match sso.config.second_factor {
        SsoSecondFactor::Always => true,
        SsoSecondFactor::Never => false,
        SsoSecondFactor::Amr => claims
            .get("amr")
            .and_then(Value::as_array)
            .is_some_and(|amr| {
                amr.iter()
                    .filter_map(Value::as_str)
                    .any(|m| sso.config.second_factor_amr.iter().any(|w| w == m))
            }),
    };
    let actor = cairn_store::Actor {
        name: user.clone(),
        credential: None,
        source,
    };
    let issuer = format!("oidc:{}", discovery.issuer);
    state
        .identity
        .sign_in_external(&actor, &user, &issuer, &groups)
        .await?;
    let ttl = state.config.auth.session_ttl_secs;
    let secret = state
        .identity
        .create_external_session(
            &actor,
            &user,
            "web session (single sign-on)",
            crate::identity::Session {
                ttl_secs: Some(ttl),
                second_factor,
            },
        )
        .await?;
    tracing::info!(
        user,
        issuer,
        ?groups,
        second_factor,
        "signed in through OpenID Connect"
    );
    let session = crate::api::session_cookie(state, &secret, ttl);
    let clear = format!("{FLOW_COOKIE}=; Path={FLOW_PATH}; HttpOnly; SameSite=Lax; Max-Age=0");
    let mut resp = (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, flow.return_to),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response();
    for c in [session, clear] {
        if let Ok(v) = c.parse() {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

async fn exchange_code(
    sso: &SsoProvider,
    state: &AppState,
    headers: &HeaderMap,
    discovery: &Discovery,
    code: &str,
    verifier: &str,
) -> Result<TokenResponse, ApiError> {
    let redirect = sso.redirect_url(state, headers);
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier),
    ];
    let mut req = sso
        .http
        .post(&discovery.token_endpoint)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    match &sso.config.client_secret {
        // client_secret_basic: both parts form-encoded first (RFC 6749 2.3.1).
        Some(secret) => {
            req = req.basic_auth(
                form_encoded(&sso.config.client_id),
                Some(form_encoded(secret)),
            )
        }
        None => pairs.push(("client_id", &sso.config.client_id)),
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let resp = req.body(body).send().await.map_err(provider_error)?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(provider_error)?;
    if !status.is_success() {
        let said: Value = serde_json::from_slice(&body).unwrap_or_default();
        return Err(ApiError::Status(
            StatusCode::UNAUTHORIZED,
            format!(
                "the provider would not exchange the code ({status}): {}",
                said.get("error_description")
                    .or_else(|| said.get("error"))
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given")
            ),
        ));
    }
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::Status(
            StatusCode::BAD_GATEWAY,
            format!("the provider's token response has no ID token: {e}"),
        )
    })
}

async fn verify_id_token(
    state: &AppState,
    sso: &SsoProvider,
    discovery: &Discovery,
    id_token: &str,
    nonce: &str,
) -> Result<Map<String, Value>, ApiError> {
    let invalid = |why: String| {
        ApiError::Status(
            StatusCode::UNAUTHORIZED,
            format!("the provider's ID token is not valid: {why}"),
        )
    };
    let header = jsonwebtoken::decode_header(id_token).map_err(|e| invalid(e.to_string()))?;
    if !crate::oidc::accepted_algorithm(header.alg) {
        return Err(invalid(format!(
            "algorithm {:?} is not accepted",
            header.alg
        )));
    }
    let kid = header.kid.unwrap_or_default();
    let key = state
        .oidc
        .key(&discovery.issuer, &kid)
        .await
        .map_err(|e| invalid(e.to_string()))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&discovery.issuer]);
    validation.set_audience(&[&sso.config.client_id]);
    validation.leeway = LEEWAY_SECS;
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Map<String, Value>>(id_token, &key, &validation)
        .map_err(|e| invalid(e.to_string()))?
        .claims;
    let sent = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
    if !crate::auth::constant_time_eq(sent.as_bytes(), nonce.as_bytes()) {
        return Err(invalid("its nonce is not this sign-on's".into()));
    }
    Ok(claims)
}

/// Claims the ID token lacks, from the userinfo endpoint (whose `sub` must
/// be the ID token's).
async fn merge_userinfo(
    sso: &SsoProvider,
    endpoint: &str,
    access_token: &str,
    claims: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    let info: Map<String, Value> = json_from(
        sso.http
            .get(endpoint)
            .bearer_auth(access_token)
            .header(header::ACCEPT, "application/json"),
    )
    .await?;
    if info.get("sub") != claims.get("sub") {
        return Err(ApiError::Status(
            StatusCode::BAD_GATEWAY,
            "the provider's userinfo is about someone else (sub differs)".into(),
        ));
    }
    for (k, v) in info {
        claims.entry(k).or_insert(v);
    }
    Ok(())
}

/// The cairn user name: the configured claim, else `sub`; refused when it
/// could not be a user name here.
fn user_name(claims: &Map<String, Value>, claim: &str) -> Result<String, ApiError> {
    let name = claims
        .get(claim)
        .or_else(|| claims.get("sub"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if crate::identity::external::valid_user_name(name) {
        Ok(name.to_string())
    } else {
        Err(ApiError::Status(
            StatusCode::FORBIDDEN,
            format!("the provider's {claim} {name:?} cannot be a cairn user name"),
        ))
    }
}

/// The cairn groups `[auth.oidc.groups]` gives for the provider's groups.
fn mapped_groups(config: &OidcSignIn, claims: &Map<String, Value>) -> Vec<String> {
    let theirs: Vec<&str> = match claims.get(&config.groups_claim) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => vec![],
    };
    crate::identity::external::map_groups(&config.groups, theirs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(local_path(Some("/ui/search?q=x")), "/ui/search?q=x");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "ui/",
            "",
        ] {
            assert_eq!(local_path(Some(bad)), "/ui/", "{bad}");
        }
        assert_eq!(local_path(None), "/ui/");
    }

    #[test]
    fn groups_are_mapped_and_unlisted_ones_give_nothing() {
        let mut config = OidcSignIn::default();
        config.groups.insert(
            "registry-admins".into(),
            vec!["admins".into(), "devs".into()],
        );
        config.groups.insert("eng".into(), vec!["devs".into()]);
        let claims = json!({"groups": ["eng", "registry-admins", "sales"]});
        let claims = claims.as_object().unwrap();
        assert_eq!(mapped_groups(&config, claims), vec!["admins", "devs"]);
        let one = json!({"groups": "eng"});
        assert_eq!(
            mapped_groups(&config, one.as_object().unwrap()),
            vec!["devs"]
        );
        let none = json!({});
        assert!(mapped_groups(&config, none.as_object().unwrap()).is_empty());
    }

    #[test]
    fn user_names_that_cannot_be_credentials_are_refused() {
        let c = json!({"sub": "123", "preferred_username": "olivia"});
        let c = c.as_object().unwrap();
        assert_eq!(
            user_name(c, "preferred_username").ok().as_deref(),
            Some("olivia")
        );
        assert_eq!(user_name(c, "email").ok().as_deref(), Some("123"));
        for bad in ["a:b", "a b", ""] {
            let c = json!({ "sub": bad });
            assert!(user_name(c.as_object().unwrap(), "x").is_err(), "{bad}");
        }
    }
}
