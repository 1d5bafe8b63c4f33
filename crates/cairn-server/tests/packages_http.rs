//! In-process HTTP tests of the language-package adapters' refusals: every
//! one is checked in the protocol's own error shape, and shown to leave
//! nothing behind. (The happy paths run with the real clients in tests/e2e.)

mod common;

use axum::http::{Method, StatusCode};
use base64::Engine;
use common::packages::*;
use common::TestApp;
use serde_json::json;

async fn npm_publish(app: &TestApp, auth: &str, doc: serde_json::Value) -> common::Reply {
    let name = doc["name"].as_str().unwrap().replace('/', "%2f");
    app.json(Method::PUT, &format!("/npm/main/{name}"), Some(auth), doc)
        .await
}

fn npm_error(r: &common::Reply) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn npm_refusals_in_npm_shape() {
    let app = TestApp::with_config(|c| {
        c.packages.max_upload_bytes = 64 * 1024;
        c.packages.repositories = vec![cairn_server::config::RepositoryPolicySettings {
            pattern: "npm/frozen".into(),
            allow_unpublish: Some(false),
            ..Default::default()
        }];
    })
    .await;
    let admin = app.basic();

    // The digests are cairn's, not the client's.
    let good = npm_tarball("lib", "1.0.0");
    let r = npm_publish(
        &app,
        &admin,
        npm_publish_doc("lib", "1.0.0", &good, json!({})),
    )
    .await;
    r.assert_status(StatusCode::OK);
    let pack = app.anon(Method::GET, "/npm/main/lib").await.json();
    let dist = &pack["versions"]["1.0.0"]["dist"];
    let sha512 = <sha2::Sha512 as sha2::Digest>::digest(&good);
    assert_eq!(
        dist["integrity"],
        format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(sha512)
        )
    );
    assert_eq!(dist["shasum"].as_str().map(str::len), Some(40));
    assert_eq!(
        dist["tarball"],
        "http://registry.test/npm/main/lib/-/lib-1.0.0.tgz"
    );
    let tgz = app.anon(Method::GET, "/npm/main/lib/-/lib-1.0.0.tgz").await;
    assert_eq!(tgz.body, good);

    // Bad packages: 400 with a reason, and nothing stored.
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not a tarball", b"plain bytes".to_vec(), "invalid tarball"),
        (
            "wrong name inside",
            npm_tarball("other", "2.0.0"),
            "names other@2.0.0",
        ),
        (
            "path traversal",
            tar_gz(&[
                (
                    "package/package.json",
                    br#"{"name":"lib","version":"2.0.0"}"#,
                ),
                ("../../etc/x", b"x"),
            ]),
            "unsafe path",
        ),
        (
            "no package.json",
            tar_gz(&[("package/index.js", b"x")]),
            "no package/package.json",
        ),
    ];
    for (what, tgz, why) in cases {
        let r = npm_publish(
            &app,
            &admin,
            npm_publish_doc("lib", "2.0.0", &tgz, json!({})),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}");
        assert!(npm_error(&r).contains(why), "{what}: {}", npm_error(&r));
    }
    // Declared digests that are not the tarball's: refused, as PyPI
    // refuses a wrong sha256_digest.
    let tgz = npm_tarball("lib", "2.0.0");
    for (field, value, why) in [
        (
            "shasum",
            "0000000000000000000000000000000000000000",
            "dist.shasum",
        ),
        ("integrity", "sha512-Zm9yZ2Vk", "dist.integrity"),
    ] {
        let mut doc = npm_publish_doc("lib", "2.0.0", &tgz, json!({}));
        doc["versions"]["2.0.0"]["dist"][field] = json!(value);
        let r = npm_publish(&app, &admin, doc).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "a forged {field}");
        assert!(npm_error(&r).contains(why), "{field}: {}", npm_error(&r));
    }
    let r = app
        .json(
            Method::PUT,
            "/npm/main/lib",
            Some(&admin),
            json!({"name": "lib", "_attachments": {"x": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "malformed document");
    let r = app
        .send(
            Method::PUT,
            "/npm/main/lib",
            Some(&admin),
            &[("content-type", "application/json")],
            "{not json",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let versions = app.anon(Method::GET, "/npm/main/lib").await.json()["versions"].clone();
    assert_eq!(
        versions.as_object().unwrap().len(),
        1,
        "nothing of the refused publishes was stored"
    );

    // Oversized: 413 before the body is read.
    let big = vec![b'x'; 70 * 1024];
    let r = app
        .send(
            Method::PUT,
            "/npm/main/lib",
            Some(&admin),
            &[("content-type", "application/json")],
            big,
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(npm_error(&r).contains("limit"));

    // Who may publish: anonymous 401, read-only 403, nothing stored.
    let doc = npm_publish_doc("lib", "3.0.0", &npm_tarball("lib", "3.0.0"), json!({}));
    let r = app
        .json(Method::PUT, "/npm/main/lib", None, doc.clone())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("www-authenticate").is_some());
    let reader = token(&app, &["npm/**:read"]).await;
    let r = npm_publish(&app, &reader, doc.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        npm_error(&r).contains("may not publish npm/main"),
        "{}",
        npm_error(&r)
    );
    let r = npm_publish(&app, "Bearer cairn_not_a_real_token", doc).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(npm_error(&r), "invalid credentials");
    assert!(app.anon(Method::GET, "/npm/main/lib/3.0.0").await.status == StatusCode::NOT_FOUND);

    // Unpublish refused where the repository forbids it; an admin override works and is audited.
    let r = app
        .json(
            Method::PUT,
            "/npm/frozen/keep",
            Some(&admin),
            npm_publish_doc("keep", "1.0.0", &npm_tarball("keep", "1.0.0"), json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.admin(Method::DELETE, "/npm/frozen/keep/-rev/1-0").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        npm_error(&r).contains("unpublishing is disabled for this repository; deprecate or yank"),
        "{}",
        npm_error(&r)
    );
    // Downloaded once, so what the path resolves to is kept; the unpublish
    // must still stop the next download at once.
    app.anon(Method::GET, "/npm/frozen/keep/-/keep-1.0.0.tgz")
        .await
        .assert_status(StatusCode::OK);
    let r = app
        .json(
            Method::POST,
            "/api/v1/packages/npm/frozen/keep/versions/1.0.0",
            Some(&admin),
            json!({"action": "unpublish", "force": true}),
        )
        .await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.json()["state"], "unpublished");
    let gone = app
        .anon(Method::GET, "/npm/frozen/keep/-/keep-1.0.0.tgz")
        .await;
    assert_eq!(gone.status, StatusCode::GONE);
    let audit = app
        .admin(Method::GET, "/api/v1/audit?action=version.unpublish")
        .await
        .json();
    let details: Vec<String> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {}", e["outcome"], e["detail"]))
        .collect();
    assert!(
        details.iter().any(|d| d.contains("admin override")),
        "{details:?}"
    );
    assert!(details.iter().any(|d| d.contains("denied")), "{details:?}");
    // A yank token may not override.
    let yanker = token(&app, &["npm/**:read,yank"]).await;
    let r = app
        .json(
            Method::POST,
            "/api/v1/packages/npm/main/lib/versions/1.0.0",
            Some(&yanker),
            json!({"action": "unpublish", "force": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// A Sigstore bundle whose DSSE statement names `purl` with `sha512_hex`.
fn provenance(purl: &str, sha512_hex: &str) -> String {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": purl, "digest": {"sha512": sha512_hex}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {},
    });
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {},
        "dsseEnvelope": {
            "payload": base64::engine::general_purpose::STANDARD.encode(statement.to_string()),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": "c2ln"}],
        },
    })
    .to_string()
}

#[tokio::test]
async fn npm_provenance_must_be_about_the_tarball() {
    let app = TestApp::with_config(|_| {}).await;
    let admin = app.basic();
    let tgz = npm_tarball("@acme/prov", "1.0.0");
    let sha512 = hex::encode(<sha2::Sha512 as sha2::Digest>::digest(&tgz));
    let with_bundle = |bundle: String| {
        let mut doc = npm_publish_doc("@acme/prov", "1.0.0", &tgz, json!({}));
        doc["_attachments"]["@acme/prov-1.0.0.sigstore"] = json!({
            "content_type": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "data": bundle,
            "length": 0,
        });
        doc
    };
    for (bundle, why) in [
        (
            provenance("pkg:npm/%40acme/other@1.0.0", &sha512),
            "is about pkg:npm/%40acme/other@1.0.0",
        ),
        (
            provenance("pkg:npm/%40acme/prov@1.0.0", &"0".repeat(128)),
            "subject digest",
        ),
        ("{}".to_string(), "no dsseEnvelope"),
    ] {
        let r = npm_publish(&app, &admin, with_bundle(bundle)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}");
        assert!(npm_error(&r).contains(why), "{why}: {}", npm_error(&r));
    }
    assert_eq!(
        app.anon(Method::GET, "/npm/main/@acme%2fprov").await.status,
        StatusCode::NOT_FOUND,
        "nothing of the refused publishes was stored"
    );
    let r = npm_publish(
        &app,
        &admin,
        with_bundle(provenance("pkg:npm/%40acme/prov@1.0.0", &sha512)),
    )
    .await;
    r.assert_status(StatusCode::OK);
    let pack = app.anon(Method::GET, "/npm/main/@acme%2fprov").await.json();
    let url = pack["versions"]["1.0.0"]["dist"]["attestations"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        url.ends_with("/npm/main/-/npm/v1/attestations/@acme/prov@1.0.0"),
        "{url}"
    );
    let r = app
        .anon(
            Method::GET,
            "/npm/main/-/npm/v1/attestations/@acme%2fprov@1.0.0",
        )
        .await;
    r.assert_status(StatusCode::OK);
}

#[tokio::test]
async fn npm_unpublish_window() {
    let app = TestApp::with_config(|c| c.packages.unpublish_window_hours = 0).await;
    let admin = app.basic();
    let r = npm_publish(
        &app,
        &admin,
        npm_publish_doc("late", "1.0.0", &npm_tarball("late", "1.0.0"), json!({})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .admin(Method::DELETE, "/npm/main/late/-/late-1.0.0.tgz/-rev/1-0")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        npm_error(&r).contains("allowed only within 0 hours of publishing"),
        "{}",
        npm_error(&r)
    );
    assert_eq!(
        app.anon(Method::GET, "/npm/main/late/-/late-1.0.0.tgz")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn pypi_refusals_in_status_lines() {
    let app = TestApp::new().await;
    let admin = app.basic();
    let pkg_info = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n";
    let sdist = tar_gz(&[("demo-1.0/PKG-INFO", pkg_info)]);
    let sha = cairn_core::Digest::sha256_of(&sdist).hex().to_string();
    let upload = |fields: Vec<(&'static str, String)>, filename: &'static str, content: Vec<u8>| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (ct, body) = twine_form(&fields, filename, &content);
            app.send(
                Method::POST,
                "/pypi/main/",
                Some(&admin),
                &[("content-type", &ct)],
                body,
            )
            .await
        }
    };
    let base = |sha: &str| {
        vec![
            (":action", "file_upload".to_string()),
            ("name", "demo".into()),
            ("version", "1.0".into()),
            ("sha256_digest", sha.to_string()),
        ]
    };

    type Case = (
        Vec<(&'static str, String)>,
        &'static str,
        Vec<u8>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            base(&"0".repeat(64)),
            "demo-1.0.tar.gz",
            sdist.clone(),
            "sha256_digest",
        ),
        (
            base(&sha),
            "other-1.0.tar.gz",
            sdist.clone(),
            "names project",
        ),
        (
            base(&sha),
            "../demo-1.0.tar.gz",
            sdist.clone(),
            "not a plain file name",
        ),
        (
            base(
                cairn_core::Digest::sha256_of(&tar_gz(&[(
                    "demo-1.0/PKG-INFO",
                    b"Name: demo\nVersion: 2.0\n",
                )]))
                .hex(),
            ),
            "demo-1.0.tar.gz",
            tar_gz(&[("demo-1.0/PKG-INFO", b"Name: demo\nVersion: 2.0\n")]),
            "names demo 2.0",
        ),
    ];
    for (fields, filename, content, why) in cases {
        let r = upload(fields, filename, content).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}");
        assert!(
            String::from_utf8_lossy(&r.body).contains(why),
            "{why}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    assert_eq!(
        app.anon(Method::GET, "/pypi/main/simple/demo/")
            .await
            .status,
        StatusCode::NOT_FOUND,
        "nothing stored"
    );

    let r = upload(base(&sha), "demo-1.0.tar.gz", sdist.clone()).await;
    r.assert_status(StatusCode::OK);
    let r = upload(base(&sha), "demo-1.0.tar.gz", sdist.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&r.body).starts_with("File already exists"));
    let (ct, body) = twine_form(
        &[("name", "demo"), ("version", "1.1")],
        "demo-1.1.tar.gz",
        b"x",
    );
    let r = app
        .send(
            Method::POST,
            "/pypi/main/",
            None,
            &[("content-type", &ct)],
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .send(
            Method::POST,
            "/pypi/main/",
            Some(&admin),
            &[("content-type", "text/plain")],
            "x",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Any spelling of the name finds the project.
    for spelling in ["Demo", "DEMO", "demo"] {
        assert_eq!(
            app.anon(Method::GET, &format!("/pypi/main/simple/{spelling}/"))
                .await
                .status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn cargo_refusals_in_cargo_shape() {
    let app = TestApp::new().await;
    let admin = app.basic();
    let publish = |auth: String, name: &'static str, toml_name: &'static str| {
        let app = &app;
        async move {
            let body = cargo_body(
                json!({"name": name, "vers": "1.0.0", "deps": [], "features": {}}),
                &krate(name, "1.0.0", toml_name),
            );
            app.send(
                Method::PUT,
                "/cargo/main/api/v1/crates/new",
                Some(&auth),
                &[],
                body,
            )
            .await
        }
    };
    let detail = |r: &common::Reply| {
        r.json()["errors"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let r = publish(admin.clone(), "good", "bad").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(detail(&r).contains("names bad 1.0.0"), "{}", detail(&r));
    let r = app
        .send(
            Method::PUT,
            "/cargo/main/api/v1/crates/new",
            Some(&admin),
            &[],
            vec![9, 0, 0, 0, b'{'],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.anon(Method::GET, "/cargo/main/index/go/od/good")
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        publish(admin.clone(), "good", "good").await.status,
        StatusCode::OK
    );
    let r = publish(admin.clone(), "good", "good").await;
    assert!(
        detail(&r).starts_with("crate version already exists"),
        "{}",
        detail(&r)
    );
    // Same crate under another spelling.
    let r = publish(admin.clone(), "Good", "Good").await;
    assert!(
        detail(&r).contains("already exists as good"),
        "{}",
        detail(&r)
    );
    // A publisher who is not an owner.
    let other = app
        .json(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            json!({"name": "mallory", "grants": ["cargo/**:read,publish"]}),
        )
        .await;
    other.assert_status(StatusCode::CREATED);
    let r = app
        .json(
            Method::POST,
            "/api/v1/tokens",
            Some(&admin),
            json!({"user": "mallory", "description": "m", "scopes": ["cargo/**:read,publish"]}),
        )
        .await;
    let mallory = r.json()["token"].as_str().unwrap().to_string();
    let body = cargo_body(
        json!({"name": "good", "vers": "1.0.1", "deps": [], "features": {}}),
        &krate("good", "1.0.1", "good"),
    );
    let r = app
        .send(
            Method::PUT,
            "/cargo/main/api/v1/crates/new",
            Some(&mallory),
            &[],
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(detail(&r).contains("not an owner"), "{}", detail(&r));
    // Index: ETag and 304.
    let idx = app.anon(Method::GET, "/cargo/main/index/go/od/good").await;
    let etag = idx.header("etag").unwrap().to_string();
    let again = app
        .send(
            Method::GET,
            "/cargo/main/index/go/od/good",
            None,
            &[("if-none-match", &etag)],
            Vec::new(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(String::from_utf8_lossy(&idx.body).lines().count(), 1);
}

/// Rendered metadata is reused only while the package is unchanged: every
/// change (a dist-tag, a deprecation, a new version) is seen by the next
/// GET, with a new ETag, and the old ETag no longer answers 304.
#[tokio::test]
async fn metadata_is_never_served_stale() {
    let t = TestApp::new().await;
    let admin = t.basic();
    let tgz = npm_tarball("fresh", "1.0.0");
    let r = npm_publish(
        &t,
        &admin,
        npm_publish_doc("fresh", "1.0.0", &tgz, json!({})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let get = |etag: Option<String>| {
        let t = &t;
        async move {
            let headers: Vec<(&str, &str)> = etag
                .as_deref()
                .map(|e| vec![("if-none-match", e)])
                .unwrap_or_default();
            t.send(Method::GET, "/npm/main/fresh", None, &headers, vec![])
                .await
        }
    };
    let first = get(None).await;
    let etag = first.header("etag").unwrap().to_string();
    assert_eq!(
        get(Some(etag.clone())).await.status,
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        get(None).await.body,
        first.body,
        "an unchanged package renders the same"
    );

    let r = t
        .send(
            Method::PUT,
            "/npm/main/-/package/fresh/dist-tags/beta",
            Some(&admin),
            &[("content-type", "application/json")],
            b"\"1.0.0\"".to_vec(),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.status);
    let after_tag = get(Some(etag.clone())).await;
    assert_eq!(
        after_tag.status,
        StatusCode::OK,
        "the old ETag must not match"
    );
    assert_eq!(after_tag.json()["dist-tags"]["beta"], "1.0.0");

    let tgz = npm_tarball("fresh", "1.1.0");
    let r = npm_publish(
        &t,
        &admin,
        npm_publish_doc("fresh", "1.1.0", &tgz, json!({})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let after_publish = get(None).await.json();
    assert!(after_publish["versions"]["1.1.0"].is_object());
    assert_ne!(after_publish["dist-tags"], after_tag.json()["dist-tags"]);
}

/// A token for `dev` with `scopes`, as an Authorization header.
async fn dev_token(app: &TestApp, scopes: &[&str]) -> String {
    app.token("dev", scopes, None).await
}

async fn denied_writes(app: &TestApp, action: &str) -> usize {
    app.app
        .state
        .meta
        .audit_log(&cairn_store::AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == action && e.outcome.starts_with("denied"))
        .count()
}

/// Go and Maven: who may read and publish (repository and package
/// grants), refusals in the protocol's plain-text shape with a Basic
/// challenge, refused writes audited and leaving nothing behind.
#[tokio::test]
async fn go_and_maven_access_and_refusals() {
    let app = TestApp::with_config(|c| {
        c.auth.anonymous_read = cairn_server::config::AnonymousRead::Only(vec!["public/**".into()])
    })
    .await;
    let local = cairn_store::Actor::local("test");
    let meta = &app.app.state.meta;
    meta.put_user("dev", &cairn_server::auth::hash_secret("pw"), &local)
        .await
        .unwrap();
    meta.set_user_grants("dev", &["*/team:read,publish".to_string()], &local)
        .await
        .unwrap();
    let read_only = dev_token(&app, &["*/team:read"]).await;
    let other_module = dev_token(&app, &["go/team/example.com/other:read,publish"]).await;
    let this_module = dev_token(&app, &["go/team/example.com/a:read,publish"]).await;
    let other_artifact = dev_token(&app, &["maven/team/org.example:other:read,publish"]).await;
    let this_artifact = dev_token(&app, &["maven/team/org.example:a:read,publish"]).await;

    // Go: a module zip uploaded by PUT.
    let files = cairn_go::modzip::ModuleFiles::from([
        ("go.mod".to_string(), b"module example.com/a\n".to_vec()),
        ("a.go".to_string(), b"package a\n".to_vec()),
    ]);
    let zip = cairn_go::modzip::create("example.com/a", "v1.0.0", &files).unwrap();
    let upload = "/go/team/example.com/a/@v/v1.0.0.zip";
    let list = "/go/team/example.com/a/@v/list";
    let anon = app.send(Method::PUT, upload, None, &[], zip.clone()).await;
    anon.assert_status(StatusCode::UNAUTHORIZED);
    assert_eq!(
        anon.header("www-authenticate"),
        Some("Basic realm=\"cairn\"")
    );
    assert!(String::from_utf8_lossy(&anon.body).contains("authentication required"));
    for (who, auth) in [
        ("read-only", &read_only),
        ("another module's", &other_module),
    ] {
        let r = app
            .send(Method::PUT, upload, Some(auth), &[], zip.clone())
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who} token");
    }
    assert_eq!(denied_writes(&app, "go.publish").await, 2);
    app.send(Method::GET, list, Some(&app.basic()), &[], vec![])
        .await
        .assert_status(StatusCode::NOT_FOUND);
    app.send(Method::GET, list, None, &[], vec![])
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    // A zip whose entries are not under module@version/ is refused, naming the entry.
    let wrong = cairn_go::modzip::create("example.com/a", "v9.9.9", &files).unwrap();
    let r = app
        .send(Method::PUT, upload, Some(&this_module), &[], wrong)
        .await;
    r.assert_status(StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&r.body).contains("does not have prefix"));
    let r = app
        .send(Method::PUT, upload, Some(&this_module), &[], zip.clone())
        .await;
    r.assert_status(StatusCode::CREATED);
    let r = app
        .send(Method::GET, list, Some(&read_only), &[], vec![])
        .await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.body, b"v1.0.0\n");
    // Another version under a path whose major version does not match.
    let r = app
        .send(
            Method::PUT,
            "/go/team/example.com/a/@v/v2.0.0.zip",
            Some(&this_module),
            &[],
            zip,
        )
        .await;
    r.assert_status(StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&r.body).contains("/v2"));

    // Publishing from git: only remote URLs over HTTP (file:// would read
    // the server's disk), and never a transport helper.
    for (url, says) in [
        ("file:///srv/git/secret.git", "file:// git URLs are refused"),
        ("ext::sh -c touch% /tmp/pwned", "is not a git URL"),
        ("/srv/git/secret.git", "is not a git URL"),
    ] {
        let body = json!({"module": "example.com/b", "version": "v1.0.0", "git": url});
        let r = app
            .json(Method::POST, "/go/team/-/publish", Some(&this_module), body)
            .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{url}: the token is for another module"
        );
        let r = app
            .json(
                Method::POST,
                "/go/team/-/publish",
                Some(&app.basic()),
                json!({"module": "example.com/b", "version": "v1.0.0", "git": url}),
            )
            .await;
        r.assert_status(StatusCode::BAD_REQUEST);
        assert!(String::from_utf8_lossy(&r.body).contains(says), "{url}");
    }

    // Maven: a jar deployed by PUT.
    let jar = "/maven/team/org/example/a/1.0/a-1.0.jar";
    let anon = app.send(Method::PUT, jar, None, &[], b"jar".to_vec()).await;
    anon.assert_status(StatusCode::UNAUTHORIZED);
    assert_eq!(
        anon.header("www-authenticate"),
        Some("Basic realm=\"cairn\"")
    );
    for (who, auth) in [
        ("read-only", &read_only),
        ("another artifact's", &other_artifact),
    ] {
        let r = app
            .send(Method::PUT, jar, Some(auth), &[], b"jar".to_vec())
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who} token");
    }
    assert_eq!(denied_writes(&app, "maven.publish").await, 2);
    app.send(Method::GET, jar, Some(&app.basic()), &[], vec![])
        .await
        .assert_status(StatusCode::NOT_FOUND);
    app.send(Method::PUT, jar, Some(&this_artifact), &[], b"jar".to_vec())
        .await
        .assert_status(StatusCode::CREATED);
    let r = app
        .send(Method::GET, jar, Some(&read_only), &[], vec![])
        .await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.body, b"jar");
    let again = app
        .send(
            Method::PUT,
            jar,
            Some(&this_artifact),
            &[],
            b"other".to_vec(),
        )
        .await;
    again.assert_status(StatusCode::CONFLICT);
    assert!(String::from_utf8_lossy(&again.body).contains("releases are immutable"));
    let r = app
        .send(Method::GET, jar, Some(&read_only), &[], vec![])
        .await;
    assert_eq!(r.body, b"jar", "a refused re-deploy changed the release");
    let meta_xml = app
        .send(
            Method::GET,
            "/maven/team/org/example/a/maven-metadata.xml",
            Some(&read_only),
            &[],
            vec![],
        )
        .await;
    meta_xml.assert_status(StatusCode::OK);
    assert!(String::from_utf8_lossy(&meta_xml.body).contains("<release>1.0</release>"));
    app.send(
        Method::GET,
        "/maven/team/org/example/a/1.0/../../../x",
        Some(&read_only),
        &[],
        vec![],
    )
    .await
    .assert_status(StatusCode::NOT_FOUND);
}

/// Maven staging with required signatures, through HTTP: a close without
/// `.asc` files is refused naming each unsigned file and leaves the staging
/// repository open; with them it closes, and a release lands every file.
#[tokio::test]
async fn maven_staging_requires_signatures() {
    let app = TestApp::with_config(|c| {
        c.packages.repositories = vec![cairn_server::config::RepositoryPolicySettings {
            pattern: "maven/signed".into(),
            maven_versions: Some("release".into()),
            maven_staging: true,
            maven_require: vec!["signatures".into()],
            ..Default::default()
        }];
    })
    .await;
    let admin = app.basic();
    let stage = "/maven/signed/-/staging/s1/org/example/lib/1.0";
    let pom = b"<project><groupId>org.example</groupId><artifactId>lib</artifactId><version>1.0</version></project>";
    // Straight into the repository: refused, it takes releases through staging.
    let r = app
        .send(
            Method::PUT,
            "/maven/signed/org/example/lib/1.0/lib-1.0.pom",
            Some(&admin),
            &[],
            pom.to_vec(),
        )
        .await;
    r.assert_status(StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&r.body).contains("through staging"));
    for (name, body) in [
        ("lib-1.0.pom", pom.to_vec()),
        ("lib-1.0.jar", b"jar".to_vec()),
    ] {
        app.send(
            Method::PUT,
            &format!("{stage}/{name}"),
            Some(&admin),
            &[],
            body,
        )
        .await
        .assert_status(StatusCode::CREATED);
    }
    let close = "/api/v1/maven/signed/staging/s1/close";
    let r = app
        .send(Method::POST, close, Some(&admin), &[], vec![])
        .await;
    r.assert_status(StatusCode::BAD_REQUEST);
    let why = String::from_utf8_lossy(&r.body).to_string();
    assert!(why.contains("lib-1.0.jar has no .asc signature"), "{why}");
    assert!(why.contains("lib-1.0.pom has no .asc signature"), "{why}");
    // Still open: the signatures can be added, then it closes.
    for name in ["lib-1.0.pom.asc", "lib-1.0.jar.asc"] {
        let sig = b"-----BEGIN PGP SIGNATURE-----\n...\n-----END PGP SIGNATURE-----\n".to_vec();
        app.send(
            Method::PUT,
            &format!("{stage}/{name}"),
            Some(&admin),
            &[],
            sig,
        )
        .await
        .assert_status(StatusCode::CREATED);
    }
    app.send(Method::POST, close, Some(&admin), &[], vec![])
        .await
        .assert_status(StatusCode::OK);
    app.send(
        Method::POST,
        "/api/v1/maven/signed/staging/s1/release",
        Some(&admin),
        &[],
        vec![],
    )
    .await
    .assert_status(StatusCode::OK);
    for name in ["lib-1.0.pom", "lib-1.0.jar", "lib-1.0.jar.asc"] {
        let path = format!("/maven/signed/org/example/lib/1.0/{name}");
        app.send(Method::GET, &path, None, &[], vec![])
            .await
            .assert_status(StatusCode::OK);
    }
    let sha1 = app
        .send(
            Method::GET,
            "/maven/signed/org/example/lib/1.0/lib-1.0.jar.asc.sha1",
            None,
            &[],
            vec![],
        )
        .await;
    sha1.assert_status(StatusCode::OK);
    assert_eq!(sha1.body.len(), 40, "a .sha1 of the signature");
}

/// `packages.go_git_hosts` limits which hosts a Go publish fetches from.
#[tokio::test]
async fn go_publish_fetches_only_from_allowed_hosts() {
    let app = TestApp::with_config(|c| {
        c.packages.go_git_hosts = vec!["Git.Example.com".into(), "127.0.0.1".into()]
    })
    .await;
    let publish = |url: &str| json!({"module": "example.com/b", "version": "v1.0.0", "git": url});
    for url in [
        "https://169.254.169.254/latest",
        "https://git.example.com@evil.test/b.git",
    ] {
        let r = app
            .json(
                Method::POST,
                "/go/main/-/publish",
                Some(&app.basic()),
                publish(url),
            )
            .await;
        r.assert_status(StatusCode::BAD_REQUEST);
        assert!(
            String::from_utf8_lossy(&r.body).contains("is not one this registry fetches from"),
            "{url}"
        );
    }
    // An allowed host passes the check (then git finds nothing listening).
    let r = app
        .json(
            Method::POST,
            "/go/main/-/publish",
            Some(&app.basic()),
            publish("https://127.0.0.1:9/b.git"),
        )
        .await;
    r.assert_status(StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&r.body).contains("fetching tag v1.0.0"));
}
