//! The admin API: users, tokens and the audit log over HTTP, and who may use it.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn users_tokens_and_audit_over_http() {
    let t = TestApp::new().await;
    let admin = t.basic();
    let post = |path: &'static str, auth: String, body: serde_json::Value| {
        let t = &t;
        async move { t.json(Method::POST, path, Some(&auth), body).await }
    };

    // No credential: 401 with a challenge. The admin creates a user.
    let r = t.anon(Method::GET, "/api/v1/audit").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("www-authenticate").is_some());
    let r = post(
        "/api/v1/users",
        admin.clone(),
        json!({"name": "dev", "grants": ["team/**:read,publish"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let password = r.json()["password"].as_str().unwrap().to_string();
    let r = post("/api/v1/users", admin.clone(), json!({"name": "dev"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = post(
        "/api/v1/users",
        admin.clone(),
        json!({"name": "x", "grants": ["team/**:write"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // The user makes a token for itself; it works and is listed; it cannot read the audit log.
    let dev = format!("Basic {}", b64(&format!("dev:{password}")));
    let r = post(
        "/api/v1/tokens",
        dev.clone(),
        json!({"scopes": ["team/app:read,publish"], "description": "ci", "expires_in_days": 7}),
    )
    .await;
    r.assert_status(StatusCode::CREATED);
    let created = r.json();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("cairn_"));
    assert!(created["expires_at"].as_i64().unwrap() > created["created_at"].as_i64().unwrap());
    let bearer = format!("Bearer {token}");
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
    let listed = t
        .send(Method::GET, "/api/v1/tokens", Some(&dev), &[], vec![])
        .await
        .json();
    assert_eq!(listed["tokens"].as_array().unwrap().len(), 1);
    assert!(
        listed["tokens"][0].get("token").is_none(),
        "a listing never shows secrets"
    );
    assert_eq!(
        t.send(Method::GET, "/api/v1/audit", Some(&dev), &[], vec![])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Nor make tokens for someone else.
    let r = post(
        "/api/v1/tokens",
        dev.clone(),
        json!({"user": "admin", "scopes": ["**:delete"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Revoke; the token stops working.
    let id = created["id"].as_str().unwrap();
    let r = t
        .send(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&dev),
            &[],
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        t.send(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&dev),
            &[],
            vec![]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
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
        StatusCode::UNAUTHORIZED
    );

    // The admin narrows the user's grants, and reads the audit log of all of it.
    let r = t
        .send(
            Method::PUT,
            "/api/v1/users/dev/grants",
            Some(&admin),
            &[("content-type", "application/json")],
            json!({"grants": ["team/**:read"]}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let log = t
        .send(
            Method::GET,
            "/api/v1/audit?limit=50",
            Some(&admin),
            &[],
            vec![],
        )
        .await
        .json();
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "user.credential",
        "token.create",
        "token.revoke",
        "user.grants",
        "auth.failed",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let by_dev = t
        .send(
            Method::GET,
            "/api/v1/audit?actor=dev&action=token.create",
            Some(&admin),
            &[],
            vec![],
        )
        .await
        .json();
    assert_eq!(by_dev["entries"].as_array().unwrap().len(), 1);
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// One rule for revoking tokens, through the admin API and npm's own
/// endpoint alike: a user revokes its own tokens, an administrator anyone's,
/// and nobody else's token is even admitted to exist.
#[tokio::test]
async fn an_admin_revokes_any_token_and_a_user_only_its_own_through_every_path() {
    let t = TestApp::new().await;
    let admin = t.basic();
    let r = t
        .json(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            json!({"name": "dev", "grants": ["**:read"]}),
        )
        .await;
    r.assert_status(StatusCode::CREATED);
    let dev_password = r.json()["password"].as_str().unwrap().to_string();
    let dev = format!("Basic {}", b64(&format!("dev:{dev_password}")));
    let id_of = |t: &TestApp, user: &'static str| {
        let meta = t.app.state.meta.clone();
        async move {
            meta.list_tokens(Some(user))
                .await
                .unwrap()
                .into_iter()
                .find(|r| r.revoked_at.is_none())
                .unwrap()
                .id
        }
    };
    let revoke = |path: String, auth: String| {
        let t = &t;
        async move {
            t.send(Method::DELETE, &path, Some(&auth), &[], vec![])
                .await
        }
    };

    // Through the admin API: the user may not revoke the admin's token (it is
    // "not found" to them), the admin revokes the user's.
    let admin_token = t.token("admin", &["**:read"], None).await;
    let admin_id = id_of(&t, "admin").await;
    let dev_token = t.token("dev", &["**:read"], None).await;
    let dev_id = id_of(&t, "dev").await;
    // Both work, so both are in the credential cache.
    for token in [&admin_token, &dev_token] {
        t.send(Method::GET, "/api/v1/tokens", Some(token), &[], vec![])
            .await
            .assert_status(StatusCode::OK);
    }
    revoke(format!("/api/v1/tokens/{admin_id}"), dev.clone())
        .await
        .assert_status(StatusCode::NOT_FOUND);
    revoke(format!("/api/v1/tokens/{dev_id}"), admin.clone())
        .await
        .assert_status(StatusCode::NO_CONTENT);
    // At once, although the token was verified a moment ago.
    t.send(Method::GET, "/api/v1/tokens", Some(&dev_token), &[], vec![])
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    t.send(
        Method::GET,
        "/api/v1/tokens",
        Some(&admin_token),
        &[],
        vec![],
    )
    .await
    .assert_status(StatusCode::OK);

    // Through npm's `npm token revoke`: the same rule.
    let dev_token = t.token("dev", &["**:read"], None).await;
    let dev_id = id_of(&t, "dev").await;
    let npm = |id: &str| format!("/npm/main/-/npm/v1/tokens/token/{id}");
    let r = revoke(npm(&admin_id), dev.clone()).await;
    r.assert_status(StatusCode::NOT_FOUND);
    assert!(r.json()["error"].is_string(), "npm's error shape");
    revoke(npm(&dev_id), admin.clone())
        .await
        .assert_status(StatusCode::NO_CONTENT);
    t.send(
        Method::GET,
        "/npm/main/-/whoami",
        Some(&dev_token),
        &[],
        vec![],
    )
    .await
    .assert_status(StatusCode::UNAUTHORIZED);
    // The user revokes its own, the admin its own.
    let dev_token = t.token("dev", &["**:read"], None).await;
    let dev_id = id_of(&t, "dev").await;
    revoke(npm(&dev_id), dev_token.clone())
        .await
        .assert_status(StatusCode::NO_CONTENT);
    revoke(format!("/api/v1/tokens/{admin_id}"), admin.clone())
        .await
        .assert_status(StatusCode::NO_CONTENT);
    revoke(format!("/api/v1/tokens/{admin_id}"), admin.clone())
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

/// The collector over the admin API: an administrator runs it now and reads
/// the blob counts; a deleted image's blobs go, a kept one's stay.
#[tokio::test]
async fn garbage_collection_over_http() {
    let t = TestApp::new().await;
    let (kept, _) = t.push_image("gc/app", Some("v1"), "").await;
    let (gone, _) = t
        .push_image("gc/app", None, r#","annotations":{"n":"2"}"#)
        .await;
    let layer_of_gone =
        cairn_core::Digest::sha256_of(br#"layer of gc/app ,"annotations":{"n":"2"}"#);
    let r = t
        .admin(Method::DELETE, &format!("/v2/gc/app/manifests/{gone}"))
        .await;
    r.assert_status(StatusCode::ACCEPTED);

    // Only an administrator may run it or look.
    let dev = t.token("admin", &["gc/**:read,publish"], None).await;
    let r = t
        .send(Method::POST, "/api/v1/gc", Some(&dev), &[], vec![])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = t.admin(Method::GET, "/api/v1/gc").await;
    r.assert_status(StatusCode::OK);
    assert!(r.json()["candidate"]["blobs"].as_u64().unwrap() >= 2);
    let r = t.admin(Method::POST, "/api/v1/gc?grace_secs=0").await;
    r.assert_status(StatusCode::OK);
    let report = r.json()["report"].clone();
    // The deleted manifest and its own layer (the config is shared).
    assert_eq!(report["deleted"], 2, "{report}");
    let r = t
        .admin(Method::GET, &format!("/v2/gc/app/blobs/{layer_of_gone}"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t
        .admin(Method::GET, &format!("/v2/gc/app/manifests/{kept}"))
        .await;
    r.assert_status(StatusCode::OK);
    let r = t.admin(Method::GET, "/api/v1/gc").await;
    assert_eq!(r.json()["candidate"]["blobs"], 0);
    assert_eq!(r.json()["deleting"]["blobs"], 0);

    // What is left: the kept image (manifest, config, layer), all exclusive.
    let r = t.admin(Method::GET, "/api/v1/storage?prefix=gc/").await;
    r.assert_status(StatusCode::OK);
    let usage = r.json()["usage"].clone();
    assert_eq!(usage["blobs"], 3, "{usage}");
    assert_eq!(r.json()["uploads"]["open"], 0, "no upload is open");
    // An open upload's staged bytes are counted.
    let auth = t.basic();
    let r = t
        .send(
            Method::POST,
            "/v2/gc/app/blobs/uploads/",
            Some(&auth),
            &[],
            vec![],
        )
        .await;
    r.assert_status(StatusCode::ACCEPTED);
    let location = r.header("location").unwrap().to_string();
    let r = t
        .send(
            Method::PATCH,
            &location,
            Some(&auth),
            &[("content-type", "application/octet-stream")],
            vec![7u8; 1000],
        )
        .await;
    r.assert_status(StatusCode::ACCEPTED);
    let r = t.admin(Method::GET, "/api/v1/storage?prefix=gc/").await;
    assert_eq!(r.json()["uploads"]["open"], 1);
    assert_eq!(r.json()["uploads"]["bytes"], 1000);
    assert_eq!(usage["unique"], usage["exclusive"], "{usage}");
    let r = t.admin(Method::GET, "/api/v1/storage?by=repository").await;
    let repos = r.json()["repositories"].clone();
    assert_eq!(repos[0]["scope"], "gc/app", "{repos}");
    assert_eq!(repos[0]["logical"], usage["logical"]);
}

#[tokio::test]
async fn quotas_over_http() {
    let t = TestApp::new().await;
    t.push_image("team/app", Some("v1"), "").await;
    let auth = t.basic();
    let json = [("content-type", "application/json")];

    // Only an administrator may set one; a bad scope or size is a 400.
    let dev = t.token("admin", &["team/**:read,publish"], None).await;
    let body = br#"{"max_unique_bytes": "1 KiB"}"#.to_vec();
    let r = t
        .send(
            Method::PUT,
            "/api/v1/quotas?scope=team/",
            Some(&dev),
            &json,
            body.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t
        .send(
            Method::PUT,
            "/api/v1/quotas?scope=/x",
            Some(&auth),
            &json,
            body.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t
        .send(
            Method::PUT,
            "/api/v1/quotas?scope=team/",
            Some(&auth),
            &json,
            br#"{"max_unique_bytes": "lots"}"#.to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // What team/ uses now, plus room for nothing more.
    let r = t.admin(Method::GET, "/api/v1/storage?prefix=team/").await;
    let used = r.json()["usage"]["unique"].as_u64().unwrap();
    let body = format!(r#"{{"max_unique_bytes": {used}}}"#).into_bytes();
    let r = t
        .send(
            Method::PUT,
            "/api/v1/quotas?scope=team/",
            Some(&auth),
            &json,
            body,
        )
        .await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.json()["unique"], used);
    let r = t.admin(Method::GET, "/api/v1/quotas").await;
    assert_eq!(r.json()["quotas"][0]["scope"], "team/");
    assert_eq!(r.json()["quotas"][0]["max_unique_bytes"], used);

    // A new blob in the namespace: DENIED with the quota in the message.
    let bytes = b"a layer that does not fit".to_vec();
    let digest = cairn_core::Digest::sha256_of(&bytes).to_string();
    let r = t
        .send(
            Method::POST,
            &format!("/v2/team/other/blobs/uploads/?digest={digest}"),
            Some(&auth),
            &[("content-type", "application/octet-stream")],
            bytes,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let err = r.json();
    assert_eq!(err["errors"][0]["code"], "DENIED", "{err}");
    let message = err["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("quota exceeded for namespace team/"),
        "{message}"
    );
    // The same image again, under another tag, costs nothing.
    t.push_image("team/app", Some("v2"), "").await;
    // Outside the namespace, nothing is limited.
    t.push_image("other/app", Some("v1"), "").await;

    let r = t.admin(Method::GET, "/api/v1/storage?by=namespace").await;
    let namespaces = r.json()["namespaces"].clone();
    assert!(
        namespaces
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["scope"] == "team/" && n["unique"] == used),
        "{namespaces}"
    );
    let r = t.admin(Method::DELETE, "/api/v1/quotas?scope=team/").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = t.admin(Method::DELETE, "/api/v1/quotas?scope=team/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn maintenance_jobs_over_http() {
    let t = TestApp::new().await;
    let (gone, _) = t.push_image("jobs/app", None, "").await;
    let r = t
        .admin(Method::DELETE, &format!("/v2/jobs/app/manifests/{gone}"))
        .await;
    r.assert_status(StatusCode::ACCEPTED);
    let auth = t.basic();
    let json = [("content-type", "application/json")];

    let dev = t.token("admin", &["jobs/**:read,publish"], None).await;
    let body = br#"{"kind": "gc", "grace_secs": 0}"#.to_vec();
    let r = t
        .send(
            Method::POST,
            "/api/v1/jobs",
            Some(&dev),
            &json,
            body.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t
        .send(
            Method::POST,
            "/api/v1/jobs",
            Some(&auth),
            &json,
            br#"{"kind": "wipe"}"#.to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = t
        .send(Method::POST, "/api/v1/jobs", Some(&auth), &json, body)
        .await;
    r.assert_status(StatusCode::ACCEPTED);
    let location = r.header("location").unwrap().to_string();
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/api/v1/jobs/{id}"));
    // It runs in the background: its record says how it ended.
    let mut job = serde_json::Value::Null;
    for _ in 0..200 {
        job = t.admin(Method::GET, &location).await.json();
        if job["state"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["kind"], "gc");
    assert_eq!(job["actor"], "admin");
    assert!(
        job["result"]["report"]["deleted"].as_u64().unwrap() >= 2,
        "{job}"
    );
    let r = t.admin(Method::DELETE, &location).await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "a finished job cannot be cancelled"
    );
    let r = t.admin(Method::GET, "/api/v1/jobs").await;
    assert_eq!(r.json()["jobs"][0]["id"], id.as_str());
    let r = t.admin(Method::GET, "/api/v1/jobs/gc-none").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t.admin(Method::GET, "/api/v1/audit?action=job.start").await;
    let text = String::from_utf8_lossy(&r.body).to_string();
    assert!(text.contains(&id), "{text}");
}

/// Pushes a CycloneDX SBOM naming `purls` as a referrer of `subject` in `repo`.
async fn attach_sbom(t: &TestApp, repo: &str, subject: &str, purls: &[&str]) -> common::Reply {
    let components: Vec<String> = purls
        .iter()
        .map(|p| format!(r#"{{"purl":"{p}"}}"#))
        .collect();
    let doc = format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{}]}}"#,
        components.join(",")
    );
    let layer = t.push_blob(repo, doc.as_bytes()).await;
    let config = t.push_blob(repo, b"{}").await;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.cyclonedx+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.cyclonedx+json","digest":"{layer}","size":{}}}],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{subject}","size":1}}}}"#,
        doc.len()
    );
    let digest = cairn_core::Digest::sha256_of(manifest.as_bytes()).to_string();
    t.put_manifest(repo, &digest, &manifest).await
}

#[tokio::test]
async fn component_answers_follow_read_access() {
    let t = TestApp::with_config(|c| {
        c.auth.anonymous_read = cairn_server::config::AnonymousRead::All(false)
    })
    .await;
    let (public, _) = t.push_image("public/app", Some("v1"), "").await;
    let (secret, _) = t.push_image("secret/app", Some("v1"), "").await;
    for (repo, subject) in [("public/app", &public), ("secret/app", &secret)] {
        attach_sbom(&t, repo, subject, &["pkg:npm/lodash@4.17.20"])
            .await
            .assert_status(StatusCode::CREATED);
    }
    let uri = "/api/v1/components?purl=pkg:npm/lodash&range=vers:npm/%3C4.17.21";
    let repos = |r: &common::Reply| -> Vec<String> {
        r.json()["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["artifact"]["repository"].as_str().unwrap().to_string())
            .collect()
    };
    let admin = t.basic();
    let all = t.send(Method::GET, uri, Some(&admin), &[], vec![]).await;
    all.assert_status(StatusCode::OK);
    assert_eq!(repos(&all), ["public/app", "secret/app"]);
    // A caller who may read only public/** never hears of secret/app.
    let reader = t.token("admin", &["public/**:read"], None).await;
    let some = t.send(Method::GET, uri, Some(&reader), &[], vec![]).await;
    assert_eq!(repos(&some), ["public/app"]);
    let listed = t
        .send(
            Method::GET,
            &format!("/api/v1/sboms?format=oci&repository=secret/app&subject={secret}"),
            Some(&reader),
            &[],
            vec![],
        )
        .await;
    listed.assert_status(StatusCode::FORBIDDEN);
    // Anonymous callers are asked to authenticate.
    t.anon(Method::GET, uri)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    // A malformed SBOM refuses the push; nothing is indexed.
    let bad = attach_sbom(&t, "public/app", &public, &["pkg:npm/x@1\"]"]).await;
    bad.assert_status(StatusCode::BAD_REQUEST);
    assert_eq!(bad.error_code(), "MANIFEST_INVALID");
}

#[tokio::test]
async fn a_cosign_att_layer_with_an_sbom_predicate_is_indexed() {
    use base64::Engine;
    let t = TestApp::new().await;
    let (subject, _) = t.push_image("team/app", Some("v1"), "").await;
    // cosign's legacy layout: a DSSE envelope layer, annotated with its
    // predicate type, in an image tagged sha256-<hex>.att.
    let statement = r#"{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","subject":[],"predicate":{"spdxVersion":"SPDX-2.3","packages":[{"name":"requests","externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:pypi/requests@2.31.0"}]}]}}"#;
    let envelope = format!(
        r#"{{"payloadType":"application/vnd.in-toto+json","payload":"{}","signatures":[{{"keyid":"","sig":"c2ln"}}]}}"#,
        base64::engine::general_purpose::STANDARD.encode(statement)
    );
    let layer = t.push_blob("team/app", envelope.as_bytes()).await;
    let config = t.push_blob("team/app", b"{}").await;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.dsse.envelope.v1+json","digest":"{layer}","size":{},"annotations":{{"predicateType":"https://spdx.dev/Document"}}}}]}}"#,
        envelope.len()
    );
    let tag = format!("{}.att", subject.replace(':', "-"));
    t.put_manifest("team/app", &tag, &manifest)
        .await
        .assert_status(StatusCode::CREATED);
    let r = t
        .send(
            Method::GET,
            "/api/v1/components?purl=pkg:pypi/requests@2.31.0",
            Some(&t.basic()),
            &[],
            vec![],
        )
        .await;
    r.assert_status(StatusCode::OK);
    let results = r.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["artifact"]["digest"], subject.as_str());
    assert_eq!(results[0]["artifact"]["tags"], serde_json::json!(["v1"]));
}

#[tokio::test]
async fn a_signed_leak_report_revokes_the_token() {
    use base64::Engine;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};
    use p256::pkcs8::{EncodePublicKey, LineEnding};
    let signing = SigningKey::from_bytes(&[7u8; 32].into()).unwrap();
    let pem = signing
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let t = TestApp::with_config(|c| {
        c.auth.secret_scanning_keys = vec![cairn_server::config::ReportKey {
            id: "github-1".into(),
            pem: pem.clone(),
        }]
    })
    .await;
    let token = t.token("admin", &["team/**:read"], None).await;
    let secret = token.strip_prefix("Bearer ").unwrap();
    t.send(
        Method::GET,
        "/v2/team/app/tags/list",
        Some(&token),
        &[],
        vec![],
    )
    .await;
    let body = format!(
        r#"[{{"token":"{secret}","type":"cairn_api_token","url":"https://github.com/o/r/blob/x","source":"content"}},{{"token":"cairn_{}","type":"cairn_api_token","url":"","source":"content"}}]"#,
        "z".repeat(43)
    );
    let sign = |b: &str| {
        let sig: Signature = signing.sign(b.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes())
    };
    // Posts the report with the headers GitHub sends.
    let post = |key: &'static str, signature: String| {
        let (t, body) = (&t, body.clone());
        async move {
            let headers = [
                ("content-type", "application/json".to_string()),
                ("github-public-key-identifier", key.to_string()),
                ("github-public-key-signature", signature),
            ];
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            t.send(
                Method::POST,
                "/api/v1/secret-scanning/report",
                None,
                &h,
                body.into_bytes(),
            )
            .await
        }
    };
    // Wrongly signed, or by a key cairn does not trust: nothing happens.
    for (key, signature) in [("github-1", sign("other")), ("github-2", sign(&body))] {
        post(key, signature)
            .await
            .assert_status(StatusCode::UNAUTHORIZED);
    }
    let still = t
        .send(Method::GET, "/api/v1/tokens", Some(&token), &[], vec![])
        .await;
    still.assert_status(StatusCode::OK);
    // Signed by the configured key: the known token is revoked at once.
    let r = post("github-1", sign(&body)).await;
    r.assert_status(StatusCode::OK);
    let labels: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(labels, ["true_positive", "false_positive"]);
    let after = t
        .send(Method::GET, "/api/v1/tokens", Some(&token), &[], vec![])
        .await;
    after.assert_status(StatusCode::UNAUTHORIZED);
}
