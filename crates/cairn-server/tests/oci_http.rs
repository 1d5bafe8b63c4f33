//! In-process tests of every OCI endpoint and error code.

mod common;

use axum::http::{Method, StatusCode};
use cairn_core::policy::TagRuleConfig;
use common::TestApp;

const EMPTY_SHA256: &str =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[tokio::test]
async fn base_challenges_anonymous_and_accepts_credentials() {
    let t = TestApp::new().await;
    let r = t.anon(Method::GET, "/v2/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="http://registry.test/auth/token",service="cairn""#)
    );
    assert_eq!(t.admin(Method::GET, "/v2/").await.status, StatusCode::OK);
    let bad = t
        .send(
            Method::GET,
            "/v2/",
            Some("Basic YWRtaW46bm9wZQ=="),
            &[],
            vec![],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad.error_code(), "UNAUTHORIZED");
}

#[tokio::test]
async fn token_flow_grants_only_what_the_caller_may_do() {
    let t = TestApp::new().await;
    // Anonymous writes are challenged with the scope they need.
    let r = t
        .send(Method::POST, "/v2/app/blobs/uploads/", None, &[], vec![])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains(r#"scope="repository:app:pull,push""#));

    // An anonymous token carries pull only; it cannot push.
    let anon = t
        .anon(
            Method::GET,
            "/auth/token?service=cairn&scope=repository:app:pull,push",
        )
        .await;
    let anon_token = anon.json()["token"].as_str().unwrap().to_string();
    let r = t
        .send(
            Method::POST,
            "/v2/app/blobs/uploads/",
            Some(&format!("Bearer {anon_token}")),
            &[],
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("insufficient_scope"));

    // The admin's token for that scope can push, and only to that repository.
    let basic = t.basic();
    let tok = t
        .send(
            Method::GET,
            "/auth/token?service=cairn&scope=repository:app:pull,push",
            Some(&basic),
            &[],
            vec![],
        )
        .await;
    assert_eq!(tok.status, StatusCode::OK);
    let bearer = format!("Bearer {}", tok.json()["access_token"].as_str().unwrap());
    let r = t
        .send(
            Method::POST,
            "/v2/app/blobs/uploads/",
            Some(&bearer),
            &[],
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = t
        .send(
            Method::POST,
            "/v2/other/blobs/uploads/",
            Some(&bearer),
            &[],
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = t
        .send(Method::GET, "/v2/", Some("Bearer not.a.jwt"), &[], vec![])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = t
        .send(
            Method::GET,
            "/auth/token?scope=repository:app:push",
            Some("Basic YWRtaW46eA=="),
            &[],
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn blob_reads_with_ranges_and_caching_headers() {
    let t = TestApp::new().await;
    let d = t.push_blob("lib/app", b"0123456789").await;
    let uri = format!("/v2/lib/app/blobs/{d}");
    let r = t.anon(Method::GET, &uri).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, b"0123456789");
    assert_eq!(r.header("docker-content-digest"), Some(d.as_str()));
    assert_eq!(r.header("etag"), Some(format!("\"{d}\"").as_str()));
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let h = t.anon(Method::HEAD, &uri).await;
    assert_eq!(
        (h.status, h.header("content-length")),
        (StatusCode::OK, Some("10"))
    );
    assert!(h.body.is_empty());

    let r = t
        .send(Method::GET, &uri, None, &[("range", "bytes=2-5")], vec![])
        .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.body, b"2345");
    assert_eq!(r.header("content-range"), Some("bytes 2-5/10"));
    let r = t
        .send(Method::GET, &uri, None, &[("range", "bytes=20-")], vec![])
        .await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    let r = t
        .send(
            Method::GET,
            &uri,
            None,
            &[("if-none-match", &format!("\"{d}\""))],
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);

    // A blob is only visible in repositories that hold it.
    let r = t.anon(Method::GET, &format!("/v2/other/blobs/{d}")).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::NOT_FOUND, "BLOB_UNKNOWN")
    );
}

#[tokio::test]
async fn bad_uploads_store_nothing() {
    let t = TestApp::new().await;
    let auth = t.basic();
    let wrong = cairn_core::Digest::sha256_of(b"something else").to_string();
    let r = t
        .send(
            Method::POST,
            &format!("/v2/app/blobs/uploads/?digest={wrong}"),
            Some(&auth),
            &[],
            b"payload".to_vec(),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::BAD_REQUEST, "DIGEST_INVALID")
    );
    assert_eq!(
        t.anon(Method::HEAD, &format!("/v2/app/blobs/{wrong}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let right = cairn_core::Digest::sha256_of(b"payload").to_string();
    let r = t
        .send(
            Method::POST,
            &format!("/v2/app/blobs/uploads/?digest={right}"),
            Some(&auth),
            &[("content-length", "99")],
            b"payload".to_vec(),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::BAD_REQUEST, "SIZE_INVALID")
    );
    assert_eq!(
        t.anon(Method::HEAD, &format!("/v2/app/blobs/{right}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    for bad in ["md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:xyz"] {
        let r = t
            .send(
                Method::POST,
                &format!("/v2/app/blobs/uploads/?digest={bad}"),
                Some(&auth),
                &[],
                vec![],
            )
            .await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (StatusCode::BAD_REQUEST, "DIGEST_INVALID"),
            "{bad}"
        );
    }
    let r = t.anon(Method::GET, "/v2/Bad/Name/tags/list").await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::BAD_REQUEST, "NAME_INVALID")
    );
    let r = t
        .anon(Method::GET, &format!("/v2/{}/tags/list", "a".repeat(300)))
        .await;
    assert_eq!(r.error_code(), "NAME_INVALID");
    let r = t.anon(Method::GET, "/v2/app/nothing-here").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn chunked_upload_resume_and_cancel() {
    let t = TestApp::new().await;
    let auth = t.basic();
    let start = t
        .send(
            Method::POST,
            "/v2/app/blobs/uploads/",
            Some(&auth),
            &[],
            vec![],
        )
        .await;
    assert_eq!(start.status, StatusCode::ACCEPTED);
    let loc = start.header("location").unwrap().to_string();
    assert_eq!(start.header("range"), Some("0-0"));

    let r = t
        .send(
            Method::PATCH,
            &loc,
            Some(&auth),
            &[("content-range", "0-4")],
            b"hello".to_vec(),
        )
        .await;
    assert_eq!(
        (r.status, r.header("range")),
        (StatusCode::ACCEPTED, Some("0-4"))
    );
    // Out of order: refused with the current range so the client can resume.
    let r = t
        .send(
            Method::PATCH,
            &loc,
            Some(&auth),
            &[("content-range", "9-10")],
            b"xx".to_vec(),
        )
        .await;
    assert_eq!(
        (r.status, r.header("range")),
        (StatusCode::RANGE_NOT_SATISFIABLE, Some("0-4"))
    );
    // Content-Range length not matching the body.
    let r = t
        .send(
            Method::PATCH,
            &loc,
            Some(&auth),
            &[("content-range", "5-9")],
            b"ab".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t.admin(Method::GET, &loc).await;
    assert_eq!(
        (r.status, r.header("range")),
        (StatusCode::NO_CONTENT, Some("0-4"))
    );
    // Streamed chunk without Content-Range, then finish with a last chunk.
    let r = t
        .send(Method::PATCH, &loc, Some(&auth), &[], b" wor".to_vec())
        .await;
    assert_eq!(r.header("range"), Some("0-8"));
    let d = cairn_core::Digest::sha256_of(b"hello world").to_string();
    let r = t
        .send(
            Method::PUT,
            &format!("{loc}?digest={d}"),
            Some(&auth),
            &[("content-length", "2")],
            b"ld".to_vec(),
        )
        .await;
    r.assert_status(StatusCode::CREATED);
    assert_eq!(r.header("docker-content-digest"), Some(d.as_str()));
    assert_eq!(
        t.anon(Method::GET, &format!("/v2/app/blobs/{d}"))
            .await
            .body,
        b"hello world"
    );
    // A finished session is gone.
    let r = t
        .send(Method::PATCH, &loc, Some(&auth), &[], b"x".to_vec())
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN")
    );
    let r = t
        .admin(
            Method::GET,
            "/v2/app/blobs/uploads/00000000-0000-0000-0000-000000000000",
        )
        .await;
    assert_eq!(r.error_code(), "BLOB_UPLOAD_UNKNOWN");

    // Another session finished with a wrong digest publishes nothing; cancel works.
    let loc = t
        .send(
            Method::POST,
            "/v2/app/blobs/uploads/",
            Some(&auth),
            &[],
            vec![],
        )
        .await
        .header("location")
        .unwrap()
        .to_string();
    t.send(Method::PATCH, &loc, Some(&auth), &[], b"abc".to_vec())
        .await;
    let r = t
        .send(
            Method::PUT,
            &format!("{loc}?digest={EMPTY_SHA256}"),
            Some(&auth),
            &[],
            vec![],
        )
        .await;
    assert_eq!(r.error_code(), "DIGEST_INVALID");
    assert_eq!(
        t.anon(Method::HEAD, &format!("/v2/app/blobs/{EMPTY_SHA256}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let loc = t
        .send(
            Method::POST,
            "/v2/app/blobs/uploads/",
            Some(&auth),
            &[],
            vec![],
        )
        .await
        .header("location")
        .unwrap()
        .to_string();
    assert_eq!(
        t.admin(Method::DELETE, &loc).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.admin(Method::GET, &loc).await.status,
        StatusCode::NOT_FOUND
    );
    // A session belongs to its repository.
    let loc = t
        .send(
            Method::POST,
            "/v2/app/blobs/uploads/",
            Some(&auth),
            &[],
            vec![],
        )
        .await
        .header("location")
        .unwrap()
        .to_string();
    let foreign = loc.replace("/v2/app/", "/v2/other/");
    assert_eq!(
        t.admin(Method::GET, &foreign).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn cross_repository_and_automatic_mounts() {
    let t = TestApp::new().await;
    let auth = t.basic();
    let d = t.push_blob("src", b"shared layer").await;
    let r = t
        .send(
            Method::POST,
            &format!("/v2/dst/blobs/uploads/?mount={d}&from=src"),
            Some(&auth),
            &[],
            vec![],
        )
        .await;
    assert_eq!(
        (r.status, r.header("location")),
        (
            StatusCode::CREATED,
            Some(format!("/v2/dst/blobs/{d}").as_str())
        )
    );
    let r = t
        .send(
            Method::POST,
            &format!("/v2/auto/blobs/uploads/?mount={d}"),
            Some(&auth),
            &[],
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // Not mountable: a regular upload session starts instead.
    let r = t
        .send(
            Method::POST,
            &format!("/v2/dst2/blobs/uploads/?mount={d}&from=nowhere"),
            Some(&auth),
            &[],
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(
        t.anon(Method::GET, &format!("/v2/auto/blobs/{d}"))
            .await
            .body,
        b"shared layer"
    );
}

#[tokio::test]
async fn manifests_by_tag_and_digest() {
    let t = TestApp::new().await;
    let (digest, bytes) = t.push_image("lib/app", Some("v1"), "").await;
    for reference in ["v1", digest.as_str()] {
        let r = t
            .anon(Method::GET, &format!("/v2/lib/app/manifests/{reference}"))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body, bytes);
        assert_eq!(
            r.header("content-type"),
            Some("application/vnd.oci.image.manifest.v1+json")
        );
        assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
    }
    let by_digest = t
        .anon(Method::GET, &format!("/v2/lib/app/manifests/{digest}"))
        .await;
    assert_eq!(
        by_digest.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let r = t.anon(Method::HEAD, "/v2/lib/app/manifests/v1").await;
    assert_eq!(
        (r.status, r.header("content-length")),
        (StatusCode::OK, Some(bytes.len().to_string().as_str()))
    );
    let r = t
        .send(
            Method::GET,
            "/v2/lib/app/manifests/v1",
            None,
            &[("if-none-match", &format!("\"{digest}\""))],
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    let r = t.anon(Method::GET, "/v2/lib/app/manifests/nope").await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN")
    );

    // Delete the tag, then the manifest.
    assert_eq!(
        t.admin(Method::DELETE, "/v2/lib/app/manifests/v1")
            .await
            .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        t.anon(Method::GET, "/v2/lib/app/manifests/v1").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.anon(Method::GET, &format!("/v2/lib/app/manifests/{digest}"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        t.admin(Method::DELETE, &format!("/v2/lib/app/manifests/{digest}"))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        t.anon(Method::GET, &format!("/v2/lib/app/manifests/{digest}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.admin(Method::DELETE, &format!("/v2/lib/app/manifests/{digest}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.anon(Method::DELETE, "/v2/lib/app/manifests/v1")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn bad_manifests_are_refused_and_not_stored() {
    let t = TestApp::with_config(|c| c.oci.max_manifest_bytes = 2048).await;
    let config = t.push_blob("app", b"{}").await;
    let missing = cairn_core::Digest::sha256_of(b"never pushed").to_string();
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{missing}","size":12}}]}}"#
    );
    let r = t.put_manifest("app", "t", &m).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN")
    );
    let r = t.put_manifest("app", "t", "{not json").await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::BAD_REQUEST, "MANIFEST_INVALID")
    );
    let big = format!(
        r#"{{"schemaVersion":2,"annotations":{{"x":"{}"}}}}"#,
        "a".repeat(4096)
    );
    let r = t.put_manifest("app", "t", &big).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "SIZE_INVALID")
    );
    let r = t
        .put_manifest("app", EMPTY_SHA256, &m.replace(&missing, &config))
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::BAD_REQUEST, "DIGEST_INVALID")
    );
    let r = t.put_manifest("app", "bad:tag:", "{}").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t.put_manifest("app", ".hidden", "{}").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        t.anon(Method::GET, "/v2/app/manifests/t").await.status,
        StatusCode::NOT_FOUND
    );
    let r = t.anon(Method::GET, "/v2/app/tags/list").await;
    assert_eq!(r.json()["tags"], serde_json::json!([]));
}

#[tokio::test]
async fn referrers_with_subject_and_filter() {
    let t = TestApp::new().await;
    let (subject, bytes) = t.push_image("app", Some("v1"), "").await;
    let subj = format!(
        r#","artifactType":"application/spdx+json","subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{subject}","size":{}}},"annotations":{{"org.example":"sbom"}}"#,
        bytes.len()
    );
    let config = t.push_blob("app", b"{}").await;
    let sbom = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{config}","size":2}},"layers":[]{subj}}}"#
    );
    let sbom_digest = cairn_core::Digest::sha256_of(sbom.as_bytes()).to_string();
    let r = t.put_manifest("app", &sbom_digest, &sbom).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("oci-subject"), Some(subject.as_str()));

    let r = t
        .anon(Method::GET, &format!("/v2/app/referrers/{subject}"))
        .await;
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.oci.image.index.v1+json")
    );
    let list = r.json();
    assert_eq!(list["manifests"][0]["digest"], sbom_digest.as_str());
    assert_eq!(
        list["manifests"][0]["artifactType"],
        "application/spdx+json"
    );
    assert_eq!(list["manifests"][0]["annotations"]["org.example"], "sbom");
    let r = t
        .anon(
            Method::GET,
            &format!("/v2/app/referrers/{subject}?artifactType=application/other"),
        )
        .await;
    assert_eq!(r.header("oci-filters-applied"), Some("artifactType"));
    assert_eq!(r.json()["manifests"], serde_json::json!([]));
    let r = t.anon(Method::GET, "/v2/app/referrers/sha256:nope").await;
    assert_eq!(r.error_code(), "DIGEST_INVALID");
}

#[tokio::test]
async fn tag_list_and_catalog_paginate() {
    let t = TestApp::new().await;
    let (digest, bytes) = t.push_image("app", Some("a"), "").await;
    let m = String::from_utf8(bytes).unwrap();
    for tag in ["c", "b"] {
        assert_eq!(
            t.put_manifest("app", tag, &m).await.status,
            StatusCode::CREATED
        );
    }
    t.push_image("zeta", Some("x"), "").await;
    let r = t.anon(Method::GET, "/v2/app/tags/list?n=2").await;
    assert_eq!(r.json()["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(
        r.header("link"),
        Some(r#"</v2/app/tags/list?n=2&last=b>; rel="next""#)
    );
    let r = t.anon(Method::GET, "/v2/app/tags/list?n=2&last=b").await;
    assert_eq!(r.json()["tags"], serde_json::json!(["c"]));
    assert!(r.header("link").is_none());
    let r = t.anon(Method::GET, "/v2/nothing/tags/list").await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::NOT_FOUND, "NAME_UNKNOWN")
    );
    let r = t.anon(Method::GET, "/v2/app/tags/list?n=x").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t.anon(Method::GET, "/v2/_catalog?n=1").await;
    assert_eq!(r.json()["repositories"], serde_json::json!(["app"]));
    assert_eq!(
        r.header("link"),
        Some(r#"</v2/_catalog?n=1&last=app>; rel="next""#)
    );
    let r = t.anon(Method::GET, "/v2/_catalog?n=1&last=app").await;
    assert_eq!(r.json()["repositories"], serde_json::json!(["zeta"]));
    let _ = digest;
}

#[tokio::test]
async fn immutable_tags_cannot_move_or_be_deleted() {
    let t = TestApp::with_config(|c| {
        c.oci.immutable_tags.push(TagRuleConfig {
            name: "prod-semver".into(),
            repositories: "prod/**".into(),
            tags: r"^v?\d+\.\d+\.\d+$".into(),
        })
    })
    .await;
    let (first, _) = t.push_image("prod/api", Some("v1.0.0"), "").await;
    let (_, other) = t
        .push_image("prod/api", Some("latest"), r#","annotations":{"n":"2"}"#)
        .await;
    let r = t
        .put_manifest("prod/api", "v1.0.0", std::str::from_utf8(&other).unwrap())
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::FORBIDDEN, "DENIED")
    );
    assert!(r.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("prod-semver"));
    let r = t
        .admin(Method::DELETE, "/v2/prod/api/manifests/v1.0.0")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t
        .admin(Method::DELETE, &format!("/v2/prod/api/manifests/{first}"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t.anon(Method::GET, "/v2/prod/api/manifests/v1.0.0").await;
    assert_eq!(r.header("docker-content-digest"), Some(first.as_str()));
    // Mutable tags still move.
    let (_, again) = t.push_image("prod/api", Some("v1.0.1"), "").await;
    assert_eq!(
        t.put_manifest("prod/api", "latest", std::str::from_utf8(&again).unwrap())
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let t = TestApp::new().await;
    assert_eq!(t.anon(Method::GET, "/healthz").await.status, StatusCode::OK);
    assert_eq!(t.anon(Method::GET, "/readyz").await.status, StatusCode::OK);
    let tags = t.anon(Method::GET, "/v2/app/tags/list").await;
    // Every response names its request; a client's own id is kept.
    assert_eq!(tags.header("x-request-id").map(str::len), Some(32));
    let r = t
        .send(
            Method::GET,
            "/npm/main/left-pad",
            None,
            &[("x-request-id", "ci-run-7")],
            vec![],
        )
        .await;
    assert_eq!(r.header("x-request-id"), Some("ci-run-7"));
    t.anon(
        Method::GET,
        "/maven/releases/org/example/lib/1.0/lib-1.0.jar",
    )
    .await;
    let r = t.anon(Method::GET, "/metrics").await;
    let text = String::from_utf8(r.body).unwrap();
    assert!(text.contains("cairn_http_requests_total"), "{text}");
    // Metrics tell the formats and their endpoints apart.
    for labels in [
        r#"format="oci",endpoint="tags""#,
        r#"format="npm",endpoint="packument""#,
        r#"format="maven",endpoint="file""#,
        r#"format="server",endpoint="health""#,
    ] {
        assert!(text.contains(labels), "{labels} in {text}");
    }
    // Gauges read from the stores: what is stored, open uploads, the pools.
    for gauge in [
        "cairn_stored_blobs ",
        "cairn_stored_bytes ",
        "cairn_open_uploads ",
        r#"cairn_db_pool_connections{pool="reader",state="open"}"#,
    ] {
        assert!(text.contains(gauge), "{gauge} in {text}");
    }
}

#[tokio::test]
async fn anonymous_reads_can_be_switched_off() {
    let t = TestApp::with_config(|c| {
        c.auth.anonymous_read = cairn_server::config::AnonymousRead::All(false)
    })
    .await;
    t.push_image("app", Some("v1"), "").await;
    let r = t.anon(Method::GET, "/v2/app/manifests/v1").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains(r#"scope="repository:app:pull""#));
    assert_eq!(
        t.anon(Method::GET, "/v2/_catalog").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.admin(Method::GET, "/v2/app/manifests/v1").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn docker_schema2_manifest_and_manifest_list() {
    let t = TestApp::new().await;
    let config = t.push_blob("legacy", b"{}").await;
    let layer = t.push_blob("legacy", b"docker layer").await;
    let image = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{layer}","size":12}}]}}"#
    );
    let auth = t.basic();
    let put = |reference: String, body: String, content_type: &'static str| {
        let auth = auth.clone();
        let t = &t;
        async move {
            t.send(
                Method::PUT,
                &format!("/v2/legacy/manifests/{reference}"),
                Some(&auth),
                &[("content-type", content_type)],
                body.into_bytes(),
            )
            .await
        }
    };
    let image_type = "application/vnd.docker.distribution.manifest.v2+json";
    let r = put("amd64".into(), image.clone(), image_type).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let image_digest = r.header("docker-content-digest").unwrap().to_string();
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{{"mediaType":"{image_type}","digest":"{image_digest}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
        image.len()
    );
    let list_type = "application/vnd.docker.distribution.manifest.list.v2+json";
    assert_eq!(
        put("latest".into(), list.clone(), list_type).await.status,
        StatusCode::CREATED
    );
    let r = t.anon(Method::GET, "/v2/legacy/manifests/latest").await;
    assert_eq!(r.header("content-type"), Some(list_type));
    assert_eq!(r.body, list.as_bytes());
    // A list naming a manifest the repository does not hold is refused.
    let dangling = list.replace(
        &image_digest,
        &cairn_core::Digest::sha256_of(b"nope").to_string(),
    );
    let r = put("broken".into(), dangling, list_type).await;
    assert_eq!(r.error_code(), "MANIFEST_BLOB_UNKNOWN");
    // The Content-Type must agree with the body's mediaType.
    let r = put("mismatch".into(), image, list_type).await;
    assert_eq!(r.error_code(), "MANIFEST_INVALID");
}
