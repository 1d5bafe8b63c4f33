//! The authorization matrices for the OCI endpoints and for the npm, PyPI
//! and Cargo endpoints: every kind of caller × every kind of action,
//! asserting the status and that a refused request changed nothing.

mod common;

use axum::http::{Method, StatusCode};
use cairn_server::config::AnonymousRead;
use common::TestApp;
use serde_json::json;

struct Caller {
    name: &'static str,
    auth: Option<String>,
}

async fn token(t: &TestApp, user: &str, scopes: &[&str], ttl: Option<u64>) -> String {
    t.token(user, scopes, ttl).await
}

#[tokio::test]
async fn oci_authorization_matrix() {
    let t = TestApp::with_config(|c| {
        c.auth.anonymous_read = AnonymousRead::Only(vec!["public/**".into()])
    })
    .await;
    let meta = &t.app.state.meta;
    // A user who may read and publish under team/**, and delete nothing.
    meta.put_user(
        "dev",
        &cairn_server::auth::hash_secret("dev-password-0123456789"),
        &cairn_store::Actor::local("test"),
    )
    .await
    .unwrap();
    meta.set_user_grants(
        "dev",
        &["team/**:read,publish,yank".to_string()],
        &cairn_store::Actor::local("test"),
    )
    .await
    .unwrap();

    let revoked = token(&t, "dev", &["team/**:read,publish"], None).await;
    let revoked_id = meta.list_tokens(Some("dev")).await.unwrap()[0].id.clone();
    meta.revoke_token(&revoked_id, 1, &cairn_store::Actor::local("test"))
        .await
        .unwrap();
    let callers = [
        Caller {
            name: "anonymous",
            auth: None,
        },
        Caller {
            name: "read-only token",
            auth: Some(token(&t, "dev", &["team/**:read"], None).await),
        },
        Caller {
            name: "publish token for another repository",
            auth: Some(token(&t, "dev", &["team/other:read,publish"], None).await),
        },
        Caller {
            name: "publish token",
            auth: Some(token(&t, "dev", &["team/**:read,publish"], None).await),
        },
        Caller {
            name: "yank token",
            auth: Some(token(&t, "dev", &["team/**:read,yank"], None).await),
        },
        // Asks for delete, which its user does not have: the token cannot exceed it.
        Caller {
            name: "over-scoped token",
            auth: Some(token(&t, "dev", &["**:read,publish,delete"], None).await),
        },
        Caller {
            name: "admin",
            auth: Some(t.basic()),
        },
        Caller {
            name: "expired token",
            auth: Some(token(&t, "dev", &["team/**:read,publish"], Some(0)).await),
        },
        Caller {
            name: "revoked token",
            auth: Some(revoked),
        },
    ];

    // (caller, read, publish, delete) expectations: A = allowed.
    use StatusCode as S;
    const A: StatusCode = StatusCode::OK;
    let expect: [(&str, StatusCode, StatusCode, StatusCode); 9] = [
        (
            "anonymous",
            S::UNAUTHORIZED,
            S::UNAUTHORIZED,
            S::UNAUTHORIZED,
        ),
        ("read-only token", A, S::FORBIDDEN, S::FORBIDDEN),
        (
            "publish token for another repository",
            S::FORBIDDEN,
            S::FORBIDDEN,
            S::FORBIDDEN,
        ),
        ("publish token", A, A, S::FORBIDDEN),
        ("yank token", A, S::FORBIDDEN, S::FORBIDDEN),
        ("over-scoped token", A, A, S::FORBIDDEN),
        ("admin", A, A, A),
        (
            "expired token",
            S::UNAUTHORIZED,
            S::UNAUTHORIZED,
            S::UNAUTHORIZED,
        ),
        (
            "revoked token",
            S::UNAUTHORIZED,
            S::UNAUTHORIZED,
            S::UNAUTHORIZED,
        ),
    ];

    for (caller, (name, read, publish, delete)) in callers.iter().zip(expect) {
        assert_eq!(caller.name, name);
        // Fresh content per caller, pushed by the admin.
        let repo = "team/app";
        let (digest, manifest) = t
            .push_image(
                repo,
                Some("stable"),
                &format!(r#","annotations":{{"for":"{name}"}}"#),
            )
            .await;
        let auth = caller.auth.as_deref();
        let ok = |s: StatusCode, expected: StatusCode| {
            if expected == A {
                s.is_success()
            } else {
                s == expected
            }
        };

        // read: manifest, blob list, tags
        for path in [
            format!("/v2/{repo}/manifests/stable"),
            format!("/v2/{repo}/tags/list"),
        ] {
            let r = t.send(Method::GET, &path, auth, &[], vec![]).await;
            assert!(ok(r.status, read), "{name}: GET {path} -> {}", r.status);
            if r.status == S::UNAUTHORIZED {
                assert!(
                    r.header("www-authenticate").is_some(),
                    "{name}: 401 without a challenge"
                );
            }
        }

        // publish: start an upload, and move the tag
        let r = t
            .send(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/"),
                auth,
                &[],
                vec![],
            )
            .await;
        assert!(ok(r.status, publish), "{name}: POST upload -> {}", r.status);
        let moved = String::from_utf8(manifest.clone())
            .unwrap()
            .replace(r#""for""#, r#""moved-by""#);
        let r = t
            .send(
                Method::PUT,
                &format!("/v2/{repo}/manifests/stable"),
                auth,
                &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                moved.into_bytes(),
            )
            .await;
        assert!(
            ok(r.status, publish),
            "{name}: PUT manifest -> {}",
            r.status
        );
        let now = t.anon_as_admin_digest(repo, "stable").await;
        if publish == A {
            assert_ne!(now, digest, "{name}: allowed PUT did not move the tag");
        } else {
            assert_eq!(now, digest, "{name}: a refused PUT moved the tag");
        }

        // delete: the manifest by digest
        let target = if publish == A {
            now.clone()
        } else {
            digest.clone()
        };
        let r = t
            .send(
                Method::DELETE,
                &format!("/v2/{repo}/manifests/{target}"),
                auth,
                &[],
                vec![],
            )
            .await;
        assert!(
            ok(r.status, delete),
            "{name}: DELETE manifest -> {}",
            r.status
        );
        let still_there = t
            .admin(Method::HEAD, &format!("/v2/{repo}/manifests/{target}"))
            .await
            .status
            == S::OK;
        assert_eq!(
            still_there,
            delete != A,
            "{name}: DELETE outcome does not match its status"
        );
    }

    // The audit log saw it all: changes with their credential, refusals, failed logins.
    let log = |action: &str| {
        let meta = t.app.state.meta.clone();
        let action = action.to_string();
        async move {
            meta.audit_log(&cairn_store::AuditFilter {
                action: Some(action),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
        }
    };
    let moves = log("tag.move").await;
    assert!(
        moves.iter().any(|e| e.actor == "dev"
            && e.credential.is_some()
            && e.repository.as_deref() == Some("team/app")),
        "{moves:?}"
    );
    assert!(moves
        .iter()
        .any(|e| e.actor == "admin" && e.credential.is_none()));
    let refused = log("oci.publish").await;
    assert!(
        refused
            .iter()
            .any(|e| e.actor == "dev" && e.outcome.starts_with("denied")),
        "{refused:?}"
    );
    let refused_deletes = log("oci.delete").await;
    assert!(!refused_deletes.is_empty());
    let failed = log("auth.failed").await;
    assert!(
        failed.iter().any(|e| e.outcome == "Expired")
            && failed.iter().any(|e| e.outcome == "Revoked"),
        "{failed:?}"
    );
    assert!(log("manifest.delete")
        .await
        .iter()
        .any(|e| e.actor == "admin"));

    // Anonymous reads are a per-repository setting.
    t.push_image("public/tool", Some("v1"), "").await;
    assert_eq!(
        t.anon(Method::GET, "/v2/public/tool/manifests/v1")
            .await
            .status,
        S::OK
    );
    let catalog = t.anon(Method::GET, "/v2/_catalog").await.json();
    assert_eq!(
        catalog["repositories"],
        serde_json::json!(["public/tool"]),
        "the catalog shows only readable repositories"
    );

    // Automatic mounts (no `from`) only take blobs from repositories the caller may read.
    let secret_blob = t.push_blob("private/secret", b"private bytes").await;
    let public_blob = t.push_blob("public/tool", b"public bytes").await;
    let publisher = token(&t, "dev", &["team/**:read,publish"], None).await;
    let mount = |d: &str| format!("/v2/team/app/blobs/uploads/?mount={d}");
    let r = t
        .send(
            Method::POST,
            &mount(&secret_blob),
            Some(&publisher),
            &[],
            vec![],
        )
        .await;
    assert_eq!(
        r.status,
        S::ACCEPTED,
        "a private blob was mounted by digest alone"
    );
    assert_eq!(
        t.admin(Method::HEAD, &format!("/v2/team/app/blobs/{secret_blob}"))
            .await
            .status,
        S::NOT_FOUND
    );
    let r = t
        .send(
            Method::POST,
            &mount(&public_blob),
            Some(&publisher),
            &[],
            vec![],
        )
        .await;
    assert_eq!(r.status, S::CREATED);

    // API tokens work as Basic passwords too (docker login -u anything -p TOKEN).
    let bearer = token(&t, "dev", &["team/**:read"], None).await;
    let secret = bearer.trim_start_matches("Bearer ");
    let basic = format!("Basic {}", base64_encode(&format!("ci:{secret}")));
    assert_eq!(
        t.send(
            Method::GET,
            "/v2/team/app/tags/list",
            Some(&basic),
            &[],
            vec![]
        )
        .await
        .status,
        S::OK
    );

    // The token endpoint issues only what the credential allows.
    let r = t
        .send(
            Method::GET,
            "/auth/token?service=cairn&scope=repository:team/app:pull,push,delete",
            Some(&bearer),
            &[],
            vec![],
        )
        .await;
    let jwt = r.json()["token"].as_str().unwrap().to_string();
    let r = t
        .send(
            Method::POST,
            "/v2/team/app/blobs/uploads/",
            Some(&format!("Bearer {jwt}")),
            &[],
            vec![],
        )
        .await;
    assert_eq!(
        r.status,
        S::UNAUTHORIZED,
        "a read-only token must not yield a push token"
    );
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("insufficient_scope"));
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// One package format's operations in the matrix, as requests.
#[derive(Clone, Copy, PartialEq)]
enum Fmt {
    Npm,
    Pypi,
    Cargo,
}

impl Fmt {
    /// What an administrator sees of pkg-a: compared before and after a
    /// refused request, which must change nothing.
    async fn snapshot(self, t: &TestApp) -> Vec<u8> {
        let path = match self {
            Fmt::Npm => "/npm/team/pkg-a",
            Fmt::Pypi => "/pypi/team/simple/pkg-a/",
            Fmt::Cargo => "/cargo/team/index/pk/g-/pkg-a",
        };
        let admin = t.basic();
        let accept = [("accept", "application/vnd.pypi.simple.v1+json")];
        let r = t
            .send(Method::GET, path, Some(&admin), &accept, vec![])
            .await;
        assert_eq!(r.status, StatusCode::OK, "snapshot {path}");
        r.body
    }

    async fn read(self, t: &TestApp, auth: Option<&str>) -> StatusCode {
        let path = match self {
            Fmt::Npm => "/npm/team/pkg-a",
            Fmt::Pypi => "/pypi/team/simple/pkg-a/",
            Fmt::Cargo => "/cargo/team/index/pk/g-/pkg-a",
        };
        t.send(Method::GET, path, auth, &[], vec![]).await.status
    }

    async fn publish(self, t: &TestApp, auth: Option<&str>, version: &str) -> StatusCode {
        let r = match self {
            Fmt::Npm => {
                let tgz = common::packages::npm_tarball("pkg-a", version);
                let doc = common::packages::npm_publish_doc("pkg-a", version, &tgz, json!({}));
                t.json(Method::PUT, "/npm/team/pkg-a", auth, doc).await
            }
            Fmt::Pypi => {
                let (ct, body) = common::packages::pypi_sdist_form("pkg-a", version);
                let headers = [("content-type", ct.as_str())];
                t.send(Method::POST, "/pypi/team/legacy/", auth, &headers, body)
                    .await
            }
            Fmt::Cargo => {
                let body = common::packages::cargo_publish_body("pkg-a", version);
                t.send(
                    Method::PUT,
                    "/cargo/team/api/v1/crates/new",
                    auth,
                    &[],
                    body,
                )
                .await
            }
        };
        r.status
    }

    /// Pulls back version 1.0.0 the format's own way (npm deprecate, cargo
    /// yank, PyPI's yank through the API) and, when that worked, restores it.
    async fn yank(self, t: &TestApp, auth: Option<&str>, by: &str) -> StatusCode {
        match self {
            Fmt::Npm => {
                let mut doc: serde_json::Value =
                    serde_json::from_slice(&self.snapshot(t).await).unwrap();
                doc["versions"]["1.0.0"]["deprecated"] = json!(format!("deprecated by {by}"));
                doc.as_object_mut().unwrap().remove("_attachments");
                t.json(Method::PUT, "/npm/team/pkg-a", auth, doc)
                    .await
                    .status
            }
            Fmt::Pypi => {
                let path = "/api/v1/packages/pypi/team/pkg-a/versions/1.0.0";
                let status = t
                    .json(Method::POST, path, auth, json!({"action": "yank"}))
                    .await
                    .status;
                if status.is_success() {
                    let undo = t
                        .json(Method::POST, path, auth, json!({"action": "unyank"}))
                        .await;
                    assert!(undo.status.is_success(), "{by}: unyank");
                }
                status
            }
            Fmt::Cargo => {
                let path = "/cargo/team/api/v1/crates/pkg-a/1.0.0";
                let status = t
                    .send(Method::DELETE, &format!("{path}/yank"), auth, &[], vec![])
                    .await
                    .status;
                if status.is_success() {
                    let undo = t
                        .send(Method::PUT, &format!("{path}/unyank"), auth, &[], vec![])
                        .await;
                    assert!(undo.status.is_success(), "{by}: unyank");
                }
                status
            }
        }
    }
}

/// The authorization matrix for the npm, PyPI and Cargo endpoints: every
/// kind of caller × read, publish and yank in each format's own protocol,
/// asserting the status and that a refused request changed nothing.
#[tokio::test]
async fn package_authorization_matrix() {
    let t = TestApp::with_config(|c| {
        c.auth.anonymous_read = AnonymousRead::Only(vec!["public/**".into()])
    })
    .await;
    let meta = &t.app.state.meta;
    let local = cairn_store::Actor::local("test");
    meta.put_user("dev", &cairn_server::auth::hash_secret("pw"), &local)
        .await
        .unwrap();
    meta.set_user_grants("dev", &["*/team:read,publish,yank".to_string()], &local)
        .await
        .unwrap();
    // pkg-a 1.0.0 in each format, published by dev (so dev owns the crate).
    let seed = token(&t, "dev", &["*/team:read,publish,yank"], None).await;
    for fmt in [Fmt::Npm, Fmt::Pypi, Fmt::Cargo] {
        let status = fmt.publish(&t, Some(&seed), "1.0.0").await;
        assert!(status.is_success(), "seeding: {status}");
    }
    let revoked = token(&t, "dev", &["*/team:read,publish"], None).await;
    let id = meta.list_tokens(Some("dev")).await.unwrap();
    let revoked_id = id
        .iter()
        .find(|tk| tk.scopes == ["*/team:read,publish"])
        .unwrap()
        .id
        .clone();
    meta.revoke_token(&revoked_id, 1, &local).await.unwrap();

    use StatusCode as S;
    const A: StatusCode = StatusCode::OK;
    const N: StatusCode = StatusCode::UNAUTHORIZED;
    const F: StatusCode = StatusCode::FORBIDDEN;
    // (caller, credential, read, publish, yank); A = allowed.
    let matrix: Vec<(&str, Option<String>, S, S, S)> = vec![
        ("anonymous", None, N, N, N),
        (
            "read-only token",
            Some(token(&t, "dev", &["*/team:read"], None).await),
            A,
            F,
            F,
        ),
        (
            "publish token for another repository",
            Some(token(&t, "dev", &["*/other:read,publish"], None).await),
            F,
            F,
            F,
        ),
        (
            "publish token",
            Some(token(&t, "dev", &["*/team:read,publish"], None).await),
            A,
            A,
            F,
        ),
        (
            "publish token for exactly this package",
            Some(token(&t, "dev", &["*/team/pkg-a:read,publish"], None).await),
            A,
            A,
            F,
        ),
        (
            "publish token for another package",
            Some(token(&t, "dev", &["*/team/pkg-b:read,publish"], None).await),
            F,
            F,
            F,
        ),
        (
            "yank token",
            Some(token(&t, "dev", &["*/team:read,yank"], None).await),
            A,
            F,
            A,
        ),
        ("admin", Some(t.basic()), A, A, A),
        (
            "expired token",
            Some(token(&t, "dev", &["*/team:read,publish,yank"], Some(0)).await),
            N,
            N,
            N,
        ),
        ("revoked token", Some(revoked), N, N, N),
    ];

    let mut next = 0;
    for fmt in [Fmt::Npm, Fmt::Pypi, Fmt::Cargo] {
        let f = match fmt {
            Fmt::Npm => "npm",
            Fmt::Pypi => "pypi",
            Fmt::Cargo => "cargo",
        };
        for (name, auth, read, publish, yank) in &matrix {
            let auth = auth.as_deref();
            let matches = |got: S, want: S| {
                if want == A {
                    got.is_success()
                } else {
                    got == want
                }
            };
            let got = fmt.read(&t, auth).await;
            assert!(matches(got, *read), "{f} read by {name}: {got}");

            next += 1;
            let before = fmt.snapshot(&t).await;
            let got = fmt.publish(&t, auth, &format!("1.0.{next}")).await;
            assert!(matches(got, *publish), "{f} publish by {name}: {got}");
            if *publish != A {
                assert_eq!(
                    fmt.snapshot(&t).await,
                    before,
                    "{f}: refused publish by {name}"
                );
            }

            let before = fmt.snapshot(&t).await;
            let got = fmt.yank(&t, auth, name).await;
            assert!(matches(got, *yank), "{f} yank by {name}: {got}");
            if *yank != A {
                assert_eq!(
                    fmt.snapshot(&t).await,
                    before,
                    "{f}: refused yank by {name}"
                );
            }
        }
    }
    // Every write refused to a known caller is in the audit log: per format,
    // 4 refused publishes and 5 refused yanks (the callers who failed to
    // authenticate are audited as failed logins instead).
    let denied: Vec<_> = meta
        .audit_log(&cairn_store::AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.outcome.starts_with("denied"))
        .filter(|e| e.action.ends_with(".publish") || e.action.ends_with(".yank"))
        .collect();
    for f in ["npm", "pypi", "cargo"] {
        let of = |action: &str| {
            denied
                .iter()
                .filter(|e| e.action == format!("{f}.{action}"))
                .count()
        };
        assert_eq!((of("publish"), of("yank")), (4, 5), "{f}: {denied:#?}");
    }
}
