//! Trusted publishing against a real OIDC issuer on loopback: the test runs
//! its own issuer (discovery document and JWKS over HTTP, signing with a
//! test-only RSA key in tests/fixtures) and exchanges its tokens at
//! `/api/v1/oidc/exchange`.

mod common;

use axum::http::{Method, StatusCode};
use axum::routing::get;
use common::TestApp;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const KEY_PEM: &str = include_str!("fixtures/oidc-test-key.pem");
const KEY_N: &str = include_str!("fixtures/oidc-test-key.n");

/// Serves /.well-known/openid-configuration and /jwks; returns the issuer URL.
async fn start_issuer() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let discovery = json!({ "issuer": url, "jwks_uri": format!("{url}/jwks") });
    let jwks = json!({ "keys": [{ "kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": KEY_N.trim(), "e": "AQAB" }] });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(discovery) }),
        )
        .route("/jwks", get(move || async move { axum::Json(jwks) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sign(kid: &str, claims: serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(KEY_PEM.as_bytes()).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn oidc_tokens_become_short_lived_publish_tokens_for_one_repository() {
    let issuer = start_issuer().await;
    let t = TestApp::new().await;
    let admin = t.basic();
    let json_post = |path: &'static str, auth: Option<String>, body: serde_json::Value| {
        let t = &t;
        async move { t.json(Method::POST, path, auth.as_deref(), body).await }
    };
    let r = json_post(
        "/api/v1/publishers",
        Some(admin.clone()),
        json!({ "repository": "team/app", "issuer": issuer, "audience": "cairn",
                "claims": { "repository": "org/app", "workflow": "release.yml" } }),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    // Only admins register publishers.
    let r = json_post(
        "/api/v1/publishers",
        None,
        json!({ "repository": "x", "issuer": issuer, "audience": "a" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let good = |jti: &str| {
        json!({ "iss": issuer, "aud": "cairn", "exp": now() + 300, "iat": now(), "nbf": now() - 5,
                "jti": jti, "sub": "repo:org/app", "repository": "org/app", "workflow": "release.yml" })
    };
    let exchange = |token: String, repository: &'static str| {
        json_post(
            "/api/v1/oidc/exchange",
            None,
            json!({ "token": token, "repository": repository }),
        )
    };

    // The happy path: a publish token for team/app, and nothing else.
    let r = exchange(sign("k1", good("j-1")), "team/app").await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let minted = r.json();
    assert!(minted["expires_in"].as_u64().unwrap() <= 1800);
    let bearer = format!("Bearer {}", minted["token"].as_str().unwrap());
    assert_eq!(
        t.send(
            Method::POST,
            "/v2/team/app/blobs/uploads/",
            Some(&bearer),
            &[],
            vec![]
        )
        .await
        .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        t.send(
            Method::POST,
            "/v2/team/other/blobs/uploads/",
            Some(&bearer),
            &[],
            vec![]
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.send(
            Method::DELETE,
            "/v2/team/app/manifests/latest",
            Some(&bearer),
            &[],
            vec![]
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );

    // Replaying the same jti is refused.
    let r = exchange(sign("k1", good("j-1")), "team/app").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("already exchanged"));

    // Each broken property is refused with a reason.
    let mut wrong_aud = good("j-2");
    wrong_aud["aud"] = json!("someone-else");
    let mut expired = good("j-3");
    expired["exp"] = json!(now() - 600);
    let mut wrong_repo = good("j-4");
    wrong_repo["repository"] = json!("org/evil");
    let mut wrong_workflow = good("j-5");
    wrong_workflow["workflow"] = json!("pull_request.yml");
    let mut future = good("j-6");
    future["nbf"] = json!(now() + 600);
    let cases = [
        (
            "wrong audience",
            sign("k1", wrong_aud),
            "team/app",
            StatusCode::UNAUTHORIZED,
        ),
        (
            "expired",
            sign("k1", expired),
            "team/app",
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong repository claim",
            sign("k1", wrong_repo),
            "team/app",
            StatusCode::FORBIDDEN,
        ),
        (
            "wrong workflow",
            sign("k1", wrong_workflow),
            "team/app",
            StatusCode::FORBIDDEN,
        ),
        (
            "not yet valid",
            sign("k1", future),
            "team/app",
            StatusCode::UNAUTHORIZED,
        ),
        (
            "unknown key",
            sign("k-unknown", good("j-7")),
            "team/app",
            StatusCode::UNAUTHORIZED,
        ),
        (
            "no publisher for the repository",
            sign("k1", good("j-8")),
            "team/other",
            StatusCode::FORBIDDEN,
        ),
        (
            "not a JWT",
            "not-a-jwt".to_string(),
            "team/app",
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (what, token, repository, status) in cases {
        let r = exchange(token, repository).await;
        assert_eq!(
            r.status,
            status,
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }

    // Every exchange, granted or refused, is in the audit log.
    let log = t
        .send(
            Method::GET,
            "/api/v1/audit?action=oidc.exchange&limit=100",
            Some(&admin),
            &[],
            vec![],
        )
        .await
        .json();
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 10);
    assert_eq!(entries.iter().filter(|e| e["outcome"] == "ok").count(), 1);
}
