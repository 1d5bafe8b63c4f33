//! One proxy repository's upstream: the HTTP client, the credentials (sent
//! to the upstream's own origin and nowhere else), the circuit breaker,
//! and the translation of its answers into what the cache acts on.

use crate::breaker::Breaker;
use crate::{ProxyError, ProxySettings};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use std::time::Duration;

/// What the upstream answered.
pub(crate) enum Answer {
    /// 200: the body is still to be read.
    Body(reqwest::Response),
    /// 304: the cached copy is current; the headers may carry new validators.
    NotModified(HeaderMap),
    /// 404 or 410.
    NotFound,
}

pub struct Upstream {
    base: Url,
    client: reqwest::Client,
    authorization: Option<HeaderValue>,
    breaker: Breaker,
    /// Tokens from the upstream's Bearer challenges (OCI registries).
    tokens: crate::token::Tokens,
    /// What the upstream last said of its pull budget (Docker Hub's
    /// `ratelimit-remaining`); -1 when it says nothing.
    remaining: std::sync::atomic::AtomicI64,
    /// At or below this many, optional refreshes stop.
    floor: i64,
    /// `FORMAT/REPOSITORY`, for logs and metrics.
    pub(crate) label: String,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        f.debug_struct("Upstream")
            .field("base", &self.base.as_str())
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    pub fn new(settings: &ProxySettings, label: String) -> Result<Upstream, String> {
        let mut base = Url::parse(&settings.upstream).map_err(|e| {
            format!(
                "proxy {}: upstream {:?}: {e}",
                settings.name, settings.upstream
            )
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!(
                "proxy {}: the upstream must be http or https",
                settings.name
            ));
        }
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let authorization = settings
            .authorization()?
            .map(|v| {
                let mut v = HeaderValue::from_str(&v).map_err(|_| {
                    format!(
                        "proxy {}: credentials are not a header value",
                        settings.name
                    )
                })?;
                v.set_sensitive(true);
                Ok::<_, String>(v)
            })
            .transpose()?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(settings.connect_timeout_secs.max(1)))
            .read_timeout(Duration::from_secs(settings.timeout_secs.max(1)))
            .user_agent(concat!("cairn/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("proxy {}: {e}", settings.name))?;
        Ok(Upstream {
            base,
            client,
            authorization,
            breaker: Breaker::new(settings.failures_to_open),
            tokens: Default::default(),
            remaining: std::sync::atomic::AtomicI64::new(-1),
            floor: settings.ratelimit_floor as i64,
            label,
        })
    }

    /// The upstream's base URL (always ending in `/`).
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `path` (relative, without a leading `/`) below the base URL.
    pub fn url(&self, path: &str) -> Url {
        self.base
            .join(path.trim_start_matches('/'))
            .unwrap_or_else(|_| self.base.clone())
    }

    /// Whether `url` is on the upstream's own origin (where credentials go).
    pub fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    pub(crate) fn circuit_open(&self) -> bool {
        self.breaker.is_open()
    }

    fn unavailable(&self, reason: impl Into<String>) -> ProxyError {
        ProxyError::Unavailable {
            upstream: self.base.to_string(),
            reason: reason.into(),
        }
    }

    /// One GET, conditional when `validators` are given. Failures (refused
    /// connections, timeouts, 5xx, 429, anything unexpected) count against
    /// the breaker and come back as [`ProxyError::Unavailable`].
    pub(crate) async fn get(
        &self,
        url: &Url,
        accept: &str,
        validators: Option<(Option<&str>, Option<&str>)>,
    ) -> Result<Answer, ProxyError> {
        self.send(reqwest::Method::GET, url, accept, validators)
            .await
    }

    /// One HEAD (an OCI tag's digest, which Docker Hub does not count
    /// against its pull limit).
    pub(crate) async fn head(&self, url: &Url, accept: &str) -> Result<Answer, ProxyError> {
        self.send(reqwest::Method::HEAD, url, accept, None).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &Url,
        accept: &str,
        validators: Option<(Option<&str>, Option<&str>)>,
    ) -> Result<Answer, ProxyError> {
        self.breaker.allow().map_err(|r| self.unavailable(r))?;
        let build = |authorization: Option<&HeaderValue>| {
            let mut request = self.client.request(method.clone(), url.clone());
            if !accept.is_empty() {
                request = request.header(header::ACCEPT, accept);
            }
            if let Some((etag, last_modified)) = validators {
                if let Some(e) = etag {
                    request = request.header(header::IF_NONE_MATCH, e);
                }
                if let Some(m) = last_modified {
                    request = request.header(header::IF_MODIFIED_SINCE, m);
                }
            }
            if let Some(auth) = authorization {
                request = request.header(header::AUTHORIZATION, auth.clone());
            }
            request
        };
        let same_origin = self.same_origin(url);
        let first = self
            .tokens
            .cached(url)
            .or_else(|| self.authorization.clone().filter(|_| same_origin));
        let mut response = self.attempt(build(first.as_ref())).await?;
        // A registry's Bearer challenge: a token from its realm, then once more.
        if response.status() == StatusCode::UNAUTHORIZED && same_origin {
            if let Some(challenge) = crate::token::Challenge::of(response.headers()) {
                let (token, ttl) = self
                    .tokens
                    .fetch(
                        &self.client,
                        &challenge,
                        self.authorization.as_ref(),
                        &self.base,
                    )
                    .await
                    .map_err(|e| {
                        self.breaker.failure(None);
                        self.unavailable(e)
                    })?;
                self.tokens.remember(url, &challenge, token.clone(), ttl);
                response = self.attempt(build(Some(&token))).await?;
            }
        }
        self.note_budget(response.headers());
        let status = response.status();
        self.count(status.as_str());
        match status {
            StatusCode::OK => {
                self.breaker.success();
                Ok(Answer::Body(response))
            }
            StatusCode::NOT_MODIFIED => {
                self.breaker.success();
                Ok(Answer::NotModified(response.headers().clone()))
            }
            StatusCode::NOT_FOUND | StatusCode::GONE => {
                self.breaker.success();
                Ok(Answer::NotFound)
            }
            StatusCode::TOO_MANY_REQUESTS => {
                let wait = retry_after(response.headers()).unwrap_or(Duration::from_secs(60));
                self.breaker.failure(Some(wait));
                tracing::warn!(upstream = %self.label, retry_after_secs = wait.as_secs(),
                    "upstream is rate limiting; no requests until Retry-After passes");
                Err(self.unavailable(format!(
                    "rate limited (429), retry after {} s",
                    wait.as_secs()
                )))
            }
            s => {
                let wait = retry_after(response.headers()).filter(|_| s.is_server_error());
                self.breaker.failure(wait);
                Err(self.unavailable(format!("answered {s}")))
            }
        }
    }

    async fn attempt(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ProxyError> {
        request.send().await.map_err(|e| {
            self.breaker.failure(None);
            self.count("error");
            self.unavailable(error_chain(&e))
        })
    }

    /// Reads `ratelimit-remaining: 76;w=21600` (Docker Hub's pull budget).
    fn note_budget(&self, headers: &HeaderMap) {
        let Some(remaining) = headers
            .get("ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .and_then(|n| n.trim().parse::<i64>().ok())
        else {
            return;
        };
        let before = self
            .remaining
            .swap(remaining, std::sync::atomic::Ordering::Relaxed);
        metrics::gauge!("cairn_proxy_upstream_ratelimit_remaining", "repository" => self.label.clone())
            .set(remaining as f64);
        if remaining <= self.floor && (before < 0 || before > self.floor) {
            tracing::warn!(upstream = %self.label, remaining, floor = self.floor,
                "the upstream's pull budget is near its floor: optional refreshes stop");
        }
    }

    /// Whether the upstream's pull budget is at or below the floor, so that
    /// only requests that cannot be served from the cache reach it.
    pub(crate) fn near_limit(&self) -> bool {
        let remaining = self.remaining.load(std::sync::atomic::Ordering::Relaxed);
        remaining >= 0 && remaining <= self.floor
    }

    fn count(&self, status: &str) {
        metrics::counter!("cairn_proxy_upstream_responses_total",
            "repository" => self.label.clone(), "status" => status.to_string())
        .increment(1);
        metrics::gauge!("cairn_proxy_circuit_open", "repository" => self.label.clone())
            .set(if self.breaker.is_open() { 1.0 } else { 0.0 });
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// An error with its causes, for a log line or a client message.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
