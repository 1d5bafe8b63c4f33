//! The registry token flow, as a client: an upstream that answers `401`
//! with `WWW-Authenticate: Bearer realm=…,service=…,scope=…` is asked again
//! with a token from that realm (fetched with the configured credentials,
//! or anonymously). Tokens are kept per scope until shortly before they
//! expire, so a busy repository costs one token request per expiry.

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::Url;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A Bearer challenge's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
}

impl Challenge {
    pub(crate) fn of(headers: &HeaderMap) -> Option<Challenge> {
        let value = headers.get(header::WWW_AUTHENTICATE)?.to_str().ok()?;
        let rest = value
            .trim()
            .strip_prefix("Bearer ")
            .or_else(|| value.trim().strip_prefix("bearer "))?;
        let mut params = HashMap::new();
        let mut s = rest.trim();
        while !s.is_empty() {
            let (key, after) = s.split_once('=')?;
            let key = key
                .trim()
                .trim_start_matches(',')
                .trim()
                .to_ascii_lowercase();
            let after = after.trim_start();
            let (val, remaining) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            params.insert(key, val.to_string());
            s = remaining.trim_start().trim_start_matches(',').trim_start();
        }
        Some(Challenge {
            realm: params.remove("realm")?,
            service: params.remove("service"),
            scope: params.remove("scope"),
        })
    }
}

/// Tokens by scope, and which scope a repository path last needed.
#[derive(Default)]
pub(crate) struct Tokens {
    by_scope: Mutex<HashMap<String, (HeaderValue, Instant)>>,
}

/// A token is used until this long before it expires.
const MARGIN: Duration = Duration::from_secs(10);

/// The scope an OCI path needs to be read: `/v2/<name>/(manifests|blobs|tags|referrers)/…`.
fn scope_of(url: &Url) -> Option<String> {
    let path = url.path().strip_prefix("/v2/")?;
    let at = ["/manifests/", "/blobs/", "/tags/", "/referrers/"]
        .iter()
        .filter_map(|m| path.rfind(m))
        .min()?;
    Some(format!("repository:{}:pull", &path[..at]))
}

impl Tokens {
    pub(crate) fn cached(&self, url: &Url) -> Option<HeaderValue> {
        let scope = scope_of(url)?;
        let map = self.by_scope.lock().expect("tokens");
        map.get(&scope)
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(t, _)| t.clone())
    }

    pub(crate) fn remember(
        &self,
        url: &Url,
        challenge: &Challenge,
        token: HeaderValue,
        ttl: Duration,
    ) {
        let Some(scope) = challenge.scope.clone().or_else(|| scope_of(url)) else {
            return;
        };
        let until = Instant::now() + ttl.saturating_sub(MARGIN);
        self.by_scope
            .lock()
            .expect("tokens")
            .insert(scope, (token, until));
    }

    /// A token for the challenge, fetched from its realm. Credentials go to
    /// the realm only over HTTPS or on the upstream's own origin.
    pub(crate) async fn fetch(
        &self,
        client: &reqwest::Client,
        challenge: &Challenge,
        credentials: Option<&HeaderValue>,
        upstream: &Url,
    ) -> Result<(HeaderValue, Duration), String> {
        let mut realm = Url::parse(&challenge.realm)
            .map_err(|e| format!("token realm {:?}: {e}", challenge.realm))?;
        if !matches!(realm.scheme(), "http" | "https") {
            return Err(format!("token realm {:?} is not http(s)", challenge.realm));
        }
        {
            let mut q = realm.query_pairs_mut();
            if let Some(s) = &challenge.service {
                q.append_pair("service", s);
            }
            if let Some(s) = &challenge.scope {
                q.append_pair("scope", s);
            }
        }
        let mut request = client.get(realm.clone());
        let trusted = realm.scheme() == "https" || realm.origin() == upstream.origin();
        if let (Some(c), true) = (credentials, trusted) {
            if c.to_str().is_ok_and(|v| v.starts_with("Basic ")) {
                request = request.header(header::AUTHORIZATION, c.clone());
            }
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("token request: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("the token realm answered {}", response.status()));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| format!("the token realm's answer: {e}"))?;
        let token = body["token"]
            .as_str()
            .or_else(|| body["access_token"].as_str())
            .ok_or("the token realm's answer has no token")?;
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "the token is not a header value".to_string())?;
        value.set_sensitive(true);
        // The spec's default lifetime is 60 s.
        let ttl = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(60).max(1));
        Ok((value, ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_and_scopes() {
        let mut h = HeaderMap::new();
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#),
        );
        let c = Challenge::of(&h).unwrap();
        assert_eq!(c.realm, "https://auth.docker.io/token");
        assert_eq!(c.service.as_deref(), Some("registry.docker.io"));
        assert_eq!(c.scope.as_deref(), Some("repository:library/alpine:pull"));
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"x\""),
        );
        assert_eq!(Challenge::of(&h), None);
        let u = Url::parse("https://r.example/v2/team/app/blobs/sha256:ab").unwrap();
        assert_eq!(scope_of(&u).as_deref(), Some("repository:team/app:pull"));
    }
}
