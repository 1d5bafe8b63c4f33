//! Rate limiting per credential and per source address, by route class.
//!
//! Three classes: reads (GET and HEAD), writes (everything else), and failed
//! authentications (per source address: after too many, that source is
//! answered 429 until its budget refills, which slows down password
//! guessing). A limited request gets 429 with `Retry-After`, and every
//! limited class reports `RateLimit-Limit` / `RateLimit-Remaining`.

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use serde::Deserialize;
use std::num::NonZeroU32;

/// `[rate_limit]`: off by default (loopback development); see docs/security.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// Reads per minute per credential (or per address, for anonymous callers).
    pub reads_per_minute: u32,
    /// Writes per minute per credential (or per address).
    pub writes_per_minute: u32,
    /// Failed authentications per minute per address before it is answered 429.
    pub auth_failures_per_minute: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: false,
            reads_per_minute: 6000,
            writes_per_minute: 1200,
            auth_failures_per_minute: 10,
        }
    }
}

type Limiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// The route classes that are limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    Read,
    Write,
}

impl RouteClass {
    pub fn of(method: &Method) -> RouteClass {
        if method == Method::GET || method == Method::HEAD {
            RouteClass::Read
        } else {
            RouteClass::Write
        }
    }
}

pub struct RateLimits {
    reads: Limiter,
    writes: Limiter,
    auth_failures: Limiter,
}

/// A request over its budget: answered 429.
#[derive(Debug)]
pub struct Limited {
    limit: u32,
    retry_after_secs: u64,
}

impl IntoResponse for Limited {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"errors": [{
            "code": "TOOMANYREQUESTS",
            "message": format!("rate limit exceeded; retry in {} s", self.retry_after_secs),
            "detail": null,
        }]});
        let mut resp = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert("retry-after", HeaderValue::from(self.retry_after_secs));
        h.insert("ratelimit-limit", HeaderValue::from(self.limit));
        h.insert("ratelimit-remaining", HeaderValue::from(0u32));
        resp
    }
}

/// The budget left after an accepted request, for its response headers.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub limit: u32,
    pub remaining: u32,
}

impl Budget {
    pub fn apply(self, resp: &mut Response) {
        resp.headers_mut()
            .insert("ratelimit-limit", HeaderValue::from(self.limit));
        resp.headers_mut()
            .insert("ratelimit-remaining", HeaderValue::from(self.remaining));
    }
}

fn limiter(per_minute: u32) -> Limiter {
    let n = NonZeroU32::new(per_minute.max(1)).expect("non-zero");
    RateLimiter::keyed(Quota::per_minute(n)).with_middleware::<StateInformationMiddleware>()
}

fn check(limiter: &Limiter, key: &str, limit: u32) -> Result<Budget, Limited> {
    match limiter.check_key(&key.to_string()) {
        Ok(state) => Ok(Budget {
            limit,
            remaining: state.remaining_burst_capacity(),
        }),
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Err(Limited {
                limit,
                retry_after_secs: wait.as_secs() + 1,
            })
        }
    }
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Option<RateLimits> {
        config.enabled.then(|| RateLimits {
            reads: limiter(config.reads_per_minute),
            writes: limiter(config.writes_per_minute),
            auth_failures: limiter(config.auth_failures_per_minute),
        })
    }

    /// Spends one request of `class` for `key` (a credential, or an address).
    pub fn request(
        &self,
        config: &RateLimitConfig,
        class: RouteClass,
        key: &str,
    ) -> Result<Budget, Limited> {
        match class {
            RouteClass::Read => check(&self.reads, key, config.reads_per_minute),
            RouteClass::Write => check(&self.writes, key, config.writes_per_minute),
        }
    }

    /// Records a failed authentication from `source`; past the budget the
    /// answer becomes 429 instead of 401.
    pub fn auth_failure(&self, config: &RateLimitConfig, source: &str) -> Result<(), Limited> {
        check(&self.auth_failures, source, config.auth_failures_per_minute).map(|_| ())
    }
}
