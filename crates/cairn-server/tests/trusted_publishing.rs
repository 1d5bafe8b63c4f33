//! Trusted publishing against a real OIDC issuer on loopback: the test runs
//! its own issuer (discovery document and JWKS over HTTP, signing with a
//! test-only RSA key in tests/fixtures) and exchanges its tokens at
//! `/api/v1/oidc/exchange`.

mod common;

use axum::http::{Method, StatusCode};
use axum::routing::get;
use base64::Engine;
use common::packages::*;
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
    r.assert_status(StatusCode::CREATED);
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
    r.assert_status(StatusCode::OK);
    let minted = r.json();
    assert!(minted["expires_in"].as_u64().unwrap() <= 1800);
    let bearer = format!("Bearer {}", minted["token"].as_str().unwrap());
    // The same token as the password of any user name (Maven's settings.xml);
    // a wrong one is refused like a wrong password.
    {
        use base64::Engine;
        let basic = |secret: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("ci:{secret}"))
            )
        };
        let token = minted["token"].as_str().unwrap();
        let path = "/v2/team/app/blobs/uploads/";
        let r = t
            .send(Method::POST, path, Some(&basic(token)), &[], vec![])
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        let forged = format!("{token}x");
        let r = t
            .send(Method::POST, path, Some(&basic(&forged)), &[], vec![])
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
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
            // The token is the credential: one that cannot be read is none.
            StatusCode::UNAUTHORIZED,
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

/// Trusted publishing for packages, at the endpoints the ecosystems' own
/// clients and CI actions call: the minted token publishes exactly the one
/// package its publisher names, in each client's credential form.
#[tokio::test]
async fn package_publishers_mint_tokens_for_one_package_at_each_clients_endpoint() {
    let issuer = start_issuer().await;
    let t = TestApp::new().await;
    let admin = t.basic();
    let claims = |jti: &str, aud: &str, repo: &str| {
        json!({ "iss": issuer, "aud": aud, "exp": now() + 300, "iat": now(), "jti": jti,
                "sub": format!("repo:{repo}"), "repository": repo })
    };
    let register = |repository: &str, package: Option<&str>, audience: &str, repo: &str| {
        json!({ "repository": repository, "package": package, "issuer": issuer,
                "audience": audience, "claims": { "repository": repo } })
    };
    for body in [
        register(
            "npm/main",
            Some("@acme/widget"),
            "npm:registry.test",
            "org/widget",
        ),
        register("pypi/main", Some("Demo_Pkg"), "pypi", "org/demo"),
        register("cargo/main", Some("demo_crate"), "cargo", "org/crate"),
    ] {
        let r = t
            .json(Method::POST, "/api/v1/publishers", Some(&admin), body)
            .await;
        r.assert_status(StatusCode::CREATED);
    }
    // Registration refuses what could never work or would be too broad.
    for (what, body) in [
        (
            "a package of a non-package repository",
            register("team/app", Some("x"), "a", "org/x"),
        ),
        (
            "an invalid package name",
            register("cargo/main", Some("no spaces"), "a", "org/x"),
        ),
        (
            "no claim rules",
            json!({ "repository": "npm/main", "issuer": issuer, "audience": "a", "claims": {} }),
        ),
    ] {
        let r = t
            .json(Method::POST, "/api/v1/publishers", Some(&admin), body)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}");
    }
    let listed = t
        .admin(Method::GET, "/api/v1/publishers?repository=npm/main")
        .await
        .json();
    assert_eq!(listed["publishers"][0]["package"], "@acme/widget");

    // npm: the OIDC token is the bearer credential of the exchange, which
    // npm makes at the host's root.
    let npm_exchange = |name: &'static str, bearer: Option<String>| {
        let t = &t;
        async move {
            t.send(
                Method::POST,
                &format!("/-/npm/v1/oidc/token/exchange/package/{name}"),
                bearer.as_deref(),
                &[],
                vec![],
            )
            .await
        }
    };
    let id = sign("k1", claims("n-1", "npm:registry.test", "org/widget"));
    let r = npm_exchange("@acme%2fwidget", Some(format!("Bearer {id}"))).await;
    r.assert_status(StatusCode::CREATED);
    let npm_token = format!("Bearer {}", r.json()["token"].as_str().unwrap());
    let publish = |name: &str, auth: &str| {
        let doc = npm_publish_doc(name, "1.0.0", &npm_tarball(name, "1.0.0"), json!({}));
        let path = format!("/npm/main/{}", name.replace('/', "%2f"));
        let t = &t;
        let auth = auth.to_string();
        async move { t.json(Method::PUT, &path, Some(&auth), doc).await }
    };
    assert_eq!(
        publish("@acme/widget", &npm_token).await.status,
        StatusCode::OK
    );
    let r = publish("@acme/other", &npm_token).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("may not publish"));
    // The same OIDC token cannot be exchanged twice, none for a package
    // without a publisher, and never without a credential.
    let r = npm_exchange("@acme%2fwidget", Some(format!("Bearer {id}"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("already exchanged"));
    let other = sign("k1", claims("n-2", "npm:registry.test", "org/widget"));
    let r = npm_exchange("@acme%2fother", Some(format!("Bearer {other}"))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        npm_exchange("@acme%2fwidget", None).await.status,
        StatusCode::UNAUTHORIZED
    );

    // PyPI: the audience endpoint names the publishers' audience; the
    // minted token works as twine's `__token__` password.
    for path in ["/_/oidc/audience", "/pypi/main/_/oidc/audience"] {
        assert_eq!(t.anon(Method::GET, path).await.json()["audience"], "pypi");
    }
    let mint = |token: String| {
        let t = &t;
        async move {
            t.json(
                Method::POST,
                "/_/oidc/mint-token",
                None,
                json!({ "token": token }),
            )
            .await
        }
    };
    let r = mint(sign("k1", claims("p-1", "pypi", "org/demo"))).await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.json()["success"], true);
    let minted = r.json()["token"].as_str().unwrap().to_string();
    let pypi_basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("__token__:{minted}"))
    );
    let upload = |name: &str| {
        let (ct, body) = pypi_sdist_form(name, "1.0");
        let t = &t;
        let auth = pypi_basic.clone();
        async move {
            t.send(
                Method::POST,
                "/pypi/main/legacy/",
                Some(&auth),
                &[("content-type", &ct)],
                body,
            )
            .await
        }
    };
    let r = upload("demo-pkg").await;
    r.assert_status(StatusCode::OK);
    assert_eq!(upload("other-pkg").await.status, StatusCode::FORBIDDEN);
    let r = mint(sign("k1", claims("p-2", "not-pypi", "org/demo"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["errors"][0]["code"], "invalid-token");

    // Cargo: crates.io's exchange; cargo sends the token as the whole
    // Authorization header. A crate with owners accepts its own publisher.
    let cargo_publish = |name: &'static str, vers: &'static str, auth: String| {
        let body = cargo_publish_body(name, vers);
        let t = &t;
        async move {
            t.send(
                Method::PUT,
                "/cargo/main/api/v1/crates/new",
                Some(&auth),
                &[],
                body,
            )
            .await
        }
    };
    let r = cargo_publish("demo_crate", "0.1.0", admin.clone()).await;
    r.assert_status(StatusCode::OK);
    let r = t
        .json(
            Method::POST,
            "/cargo/main/api/v1/trusted_publishing/tokens",
            None,
            json!({ "jwt": sign("k1", claims("c-1", "cargo", "org/crate")) }),
        )
        .await;
    r.assert_status(StatusCode::OK);
    let cargo_token = r.json()["token"].as_str().unwrap().to_string();
    let r = cargo_publish("demo_crate", "0.2.0", cargo_token.clone()).await;
    r.assert_status(StatusCode::OK);
    let r = cargo_publish("other_crate", "0.1.0", cargo_token).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json()["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("may not publish"));
    let r = t
        .json(
            Method::POST,
            "/cargo/main/api/v1/trusted_publishing/tokens",
            None,
            json!({ "jwt": sign("k1", claims("c-2", "cargo", "org/someone-else")) }),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json()["errors"][0]["detail"].is_string());

    // Every exchange is audited, with the package when the client named one,
    // and publishes by minted tokens are audited as their publisher.
    let log = t
        .admin(Method::GET, "/api/v1/audit?action=oidc.exchange&limit=100")
        .await
        .json();
    let entries = log["entries"].as_array().unwrap();
    // (The exchange without any credential is refused before it is one.)
    assert_eq!(entries.len(), 7, "{entries:#?}");
    assert_eq!(entries.iter().filter(|e| e["outcome"] == "ok").count(), 3);
    assert!(entries
        .iter()
        .any(|e| e["artifact"] == "@acme/widget" && e["outcome"] == "ok"));
    let publishes = t
        .admin(Method::GET, "/api/v1/audit?repository=cargo/main&limit=100")
        .await
        .json();
    assert!(publishes["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["actor"].as_str().unwrap().starts_with("oidc:")
            && e["artifact"] == "demo-crate@0.2.0"
            && e["outcome"] == "ok"));
}
