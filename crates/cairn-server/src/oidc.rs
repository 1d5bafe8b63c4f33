//! Trusted publishing: a CI job exchanges the OIDC token its platform gave
//! it for a short-lived publish token scoped to exactly one repository, or
//! to one package of a package repository, so no long-lived secret has to
//! live in CI.
//!
//! The exchange verifies the token's signature against the issuer's JWKS
//! (discovered from `/.well-known/openid-configuration`, cached, refetched
//! when a token names a key the cache lacks), its `iss`, `aud`, `exp`,
//! `nbf`/`iat` (60 s leeway), that every claim rule of a publisher
//! registered for the repository matches exactly, and that its `jti` was
//! never exchanged before.

use crate::auth::AccessClaim;
use crate::AppState;
use cairn_core::access::Grant;
use cairn_core::Format;
use cairn_store::{Actor, AuditRecord, PublisherRecord};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;

/// Longest life of a minted publish token.
pub const MAX_TTL_SECS: u64 = 30 * 60;
const LEEWAY_SECS: u64 = 60;

/// Why an exchange was refused; `status` is the HTTP status to answer.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("the token is not a well-formed JWT: {0}")]
    Malformed(String),
    #[error("no trusted publisher of {repository} accepts tokens from {issuer}")]
    NoPublisher { repository: String, issuer: String },
    #[error("the issuer's keys could not be fetched: {0}")]
    Jwks(String),
    #[error("the token is signed with a key {0:?} the issuer does not publish")]
    UnknownKey(String),
    #[error("the token is invalid: {0}")]
    Invalid(String),
    #[error("the token's claims match no trusted publisher of {0}")]
    ClaimsMismatch(String),
    #[error("the token was already exchanged (jti {0:?})")]
    Replayed(String),
    #[error("no {0} repository has a trusted publisher for this exchange")]
    NoRepository(String),
    #[error("trusted publishers for this exchange exist in several repositories ({0}); exchange at /<format>/<repository>/... to name one")]
    Ambiguous(String),
    #[error("{0}")]
    Store(#[from] cairn_store::StoreError),
}

impl ExchangeError {
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode as S;
        match self {
            // The token is the credential: one that cannot be read is no credential.
            ExchangeError::Malformed(_) => S::UNAUTHORIZED,
            ExchangeError::NoPublisher { .. }
            | ExchangeError::ClaimsMismatch(_)
            | ExchangeError::NoRepository(_) => S::FORBIDDEN,
            ExchangeError::Ambiguous(_) => S::CONFLICT,
            ExchangeError::Jwks(_) => S::BAD_GATEWAY,
            ExchangeError::UnknownKey(_)
            | ExchangeError::Invalid(_)
            | ExchangeError::Replayed(_) => S::UNAUTHORIZED,
            ExchangeError::Store(_) => S::INTERNAL_SERVER_ERROR,
        }
    }
}

/// JWKS per issuer, fetched on demand.
#[derive(Default)]
pub struct JwksCache {
    http: reqwest::Client,
    sets: Mutex<HashMap<String, JwkSet>>,
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

impl JwksCache {
    async fn fetch(&self, issuer: &str) -> Result<JwkSet, ExchangeError> {
        let err = |e: reqwest::Error| ExchangeError::Jwks(e.to_string());
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let discovery: Discovery = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(err)?
            .error_for_status()
            .map_err(err)?
            .json()
            .await
            .map_err(err)?;
        let set: JwkSet = self
            .http
            .get(&discovery.jwks_uri)
            .send()
            .await
            .map_err(err)?
            .error_for_status()
            .map_err(err)?
            .json()
            .await
            .map_err(err)?;
        self.sets
            .lock()
            .expect("jwks cache")
            .insert(issuer.to_string(), set.clone());
        Ok(set)
    }

    /// The decoding key `kid` of `issuer`, refetching the set once if unknown.
    pub(crate) async fn key(&self, issuer: &str, kid: &str) -> Result<DecodingKey, ExchangeError> {
        let cached = self
            .sets
            .lock()
            .expect("jwks cache")
            .get(issuer)
            .and_then(|s| s.find(kid).cloned());
        let jwk = match cached {
            Some(jwk) => jwk,
            None => self
                .fetch(issuer)
                .await?
                .find(kid)
                .cloned()
                .ok_or_else(|| ExchangeError::UnknownKey(kid.to_string()))?,
        };
        DecodingKey::from_jwk(&jwk).map_err(|e| ExchangeError::Invalid(e.to_string()))
    }
}

/// Whether a token signed with `alg` is accepted from an identity provider:
/// asymmetric signatures only (a provider's public keys verify them).
pub(crate) fn accepted_algorithm(alg: Algorithm) -> bool {
    matches!(
        alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::ES256
            | Algorithm::ES384
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
            | Algorithm::EdDSA
    )
}

#[derive(Deserialize)]
struct Unverified {
    iss: Option<String>,
}

fn claims_match(
    publisher: &PublisherRecord,
    claims: &serde_json::Map<String, serde_json::Value>,
) -> bool {
    publisher
        .claims
        .iter()
        .all(|(k, want)| claims.get(k).and_then(|v| v.as_str()) == Some(want.as_str()))
}

/// Validates a trusted publisher before it is stored: a repository name,
/// an https issuer (plain http only on loopback, for tests), an audience,
/// at least one claim rule (or any token of the issuer could publish) and,
/// when limited to a package, a valid package name of the repository's format.
pub fn new_publisher(
    repository: String,
    package: Option<String>,
    issuer: String,
    audience: String,
    claims: std::collections::BTreeMap<String, String>,
) -> Result<PublisherRecord, String> {
    cairn_core::RepoName::parse(&repository).map_err(|e| e.to_string())?;
    if !(issuer.starts_with("https://")
        || issuer.starts_with("http://127.0.0.1")
        || issuer.starts_with("http://localhost"))
    {
        return Err("the issuer must be an https:// URL (plain http only on loopback)".into());
    }
    if audience.is_empty() {
        return Err("an audience is required".into());
    }
    if claims.is_empty() {
        return Err(
            "at least one claim rule is required, or any token of the issuer could publish".into(),
        );
    }
    let package = match package {
        Some(name) => Some(package_of(&repository, &name)?),
        None => None,
    };
    Ok(PublisherRecord {
        id: crate::auth::generate_secret()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(12)
            .collect(),
        repository,
        package,
        issuer: issuer.trim_end_matches('/').to_string(),
        audience,
        claims,
    })
}

/// The normalised key of package `name` in `repository`, a package
/// repository's resource (`npm/<repo>`, `pypi/<repo>`, `cargo/<repo>`).
pub fn package_of(repository: &str, name: &str) -> Result<String, String> {
    let (format, _) = Format::of_resource(repository).ok_or_else(|| {
        format!("{repository} is not a package repository (npm/<repo>, pypi/<repo> or cargo/<repo>), so it has no packages")
    })?;
    cairn_core::package_key(format, name).map_err(|e| e.to_string())
}

/// Exchanges an OIDC `token` at a client's fixed endpoint (npm and PyPI
/// clients ask at the host's root, not under a repository): the repository
/// is the one repository of `format` with trusted publishers (for
/// `package`, if named). A refusal to pick one is audited like any other.
pub async fn exchange_at_root(
    state: &AppState,
    token: &str,
    format: Format,
    package: Option<&str>,
    source: Option<String>,
) -> Result<(String, u64), ExchangeError> {
    let mut repositories: Vec<String> = state
        .meta
        .all_publishers()
        .await?
        .into_iter()
        .filter(|p| p.is_for(format) && p.covers(package))
        .map(|p| p.repository)
        .collect();
    repositories.dedup();
    let refused = match repositories.len() {
        1 => return exchange(state, token, &repositories[0], package, source).await,
        0 => ExchangeError::NoRepository(format.to_string()),
        _ => ExchangeError::Ambiguous(repositories.join(", ")),
    };
    let who = Actor {
        name: "oidc:unknown".into(),
        credential: None,
        source,
    };
    let outcome = format!("denied: {refused}");
    let entry = AuditRecord::by(
        &who,
        "oidc.exchange",
        Some(&format.resource("*")),
        package,
        &outcome,
    );
    state.meta.append_audit(&entry).await?;
    Err(refused)
}

/// Exchanges an OIDC `token` for a publish token on `repository` (a
/// resource such as `team/app` or `npm/default`), or on one package of it
/// when the exchange names one (by its normalised key) or the publisher is
/// limited to one. Returns the token and its lifetime in seconds; audits the
/// outcome either way.
pub async fn exchange(
    state: &AppState,
    token: &str,
    repository: &str,
    package: Option<&str>,
    source: Option<String>,
) -> Result<(String, u64), ExchangeError> {
    let result = verify(state, token, repository, package).await;
    let (actor, outcome) = match &result {
        Ok(p) => (format!("oidc:{}", p.id), "ok".to_string()),
        Err(e) => ("oidc:unknown".to_string(), format!("denied: {e}")),
    };
    let who = Actor {
        name: actor,
        credential: None,
        source,
    };
    let entry = AuditRecord::by(&who, "oidc.exchange", Some(repository), package, &outcome);
    state.meta.append_audit(&entry).await?;
    let publisher = result?;
    let scope = match publisher.package.as_deref().or(package) {
        Some(key) => Grant::exact(&format!("{repository}/{key}"), vec![])
            .pattern()
            .to_string(),
        None => Grant::exact(repository, vec![]).pattern().to_string(),
    };
    let access = vec![AccessClaim {
        kind: "repository".into(),
        name: scope,
        actions: vec!["read".into(), "publish".into()],
    }];
    let ttl = MAX_TTL_SECS.min(state.config.auth.token_ttl_secs.max(60));
    let minted = state.auth.sign(
        &format!("oidc:{}", publisher.id),
        Some(format!("publisher:{}", publisher.id)),
        access,
        ttl,
    );
    Ok((minted, ttl))
}

async fn verify(
    state: &AppState,
    token: &str,
    repository: &str,
    package: Option<&str>,
) -> Result<PublisherRecord, ExchangeError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| ExchangeError::Malformed(e.to_string()))?;
    if !accepted_algorithm(header.alg) {
        return Err(ExchangeError::Invalid(format!(
            "algorithm {:?} is not accepted",
            header.alg
        )));
    }
    // The issuer names where the keys are; it is trusted only after the
    // signature checks out against a publisher registered for that issuer.
    let mut peek = Validation::new(header.alg);
    peek.insecure_disable_signature_validation();
    peek.validate_exp = false;
    peek.validate_aud = false;
    peek.required_spec_claims.clear();
    let unverified =
        jsonwebtoken::decode::<Unverified>(token, &DecodingKey::from_secret(&[]), &peek)
            .map_err(|e| ExchangeError::Malformed(e.to_string()))?;
    let issuer = unverified
        .claims
        .iss
        .ok_or_else(|| ExchangeError::Invalid("no iss claim".into()))?;
    let publishers: Vec<PublisherRecord> = state
        .meta
        .publishers(repository)
        .await?
        .into_iter()
        .filter(|p| p.issuer == issuer && p.covers(package))
        .collect();
    if publishers.is_empty() {
        return Err(ExchangeError::NoPublisher {
            repository: match package {
                Some(key) => format!("{repository}/{key}"),
                None => repository.to_string(),
            },
            issuer,
        });
    }
    let kid = header
        .kid
        .ok_or_else(|| ExchangeError::Invalid("no kid in the header".into()))?;
    let key = state.oidc.key(&issuer, &kid).await?;
    let mut last_error = None;
    for publisher in publishers {
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&publisher.audience]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
        let data = match jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &key,
            &validation,
        ) {
            Ok(d) => d,
            Err(e) => {
                last_error = Some(ExchangeError::Invalid(e.to_string()));
                continue;
            }
        };
        let claims = data.claims;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        if claims
            .get("iat")
            .and_then(|v| v.as_u64())
            .is_some_and(|iat| iat > now + LEEWAY_SECS)
        {
            return Err(ExchangeError::Invalid("issued in the future".into()));
        }
        if !claims_match(&publisher, &claims) {
            last_error = Some(ExchangeError::ClaimsMismatch(repository.to_string()));
            continue;
        }
        let jti = claims
            .get("jti")
            .and_then(|v| v.as_str())
            .ok_or_else(|| ExchangeError::Invalid("no jti claim".into()))?;
        let exp = claims
            .get("exp")
            .and_then(|v| v.as_i64())
            .unwrap_or(i64::MAX);
        if !state.meta.claim_jti(&issuer, jti, exp).await? {
            return Err(ExchangeError::Replayed(jti.to_string()));
        }
        return Ok(publisher);
    }
    Err(last_error.unwrap_or_else(|| ExchangeError::ClaimsMismatch(repository.to_string())))
}
