//! Every endpoint of every adapter, and the access it declares to the one
//! guard in front of the handlers. A new endpoint cannot be added without a
//! declaration (the adapters' matches are exhaustive); this table says what
//! each declaration must be, so a write endpoint declared as a read, or a
//! package endpoint declared on the wrong resource, fails here.

mod common;

use axum::http::{HeaderMap, Method};
use cairn_core::access::RequestAuth;
use cairn_core::{Action, Principal};
use cairn_http::{Access, Adapter, Endpoint as _, Request, Resource};
use common::TestApp;

/// The access a row expects: `None` for [`Access::Anyone`], else the
/// action, whether only a caller is checked before the body, and the
/// resource names (repository, then package).
type Want = Option<(Action, bool, &'static str, Option<&'static str>)>;

const R: Action = Action::Read;
const P: Action = Action::Publish;
const Y: Action = Action::Yank;
const D: Action = Action::Delete;

fn on(action: Action, repository: &'static str, package: Option<&'static str>) -> Want {
    Some((action, false, repository, package))
}

fn caller(action: Action, repository: &'static str) -> Want {
    Some((action, true, repository, None))
}

fn request(method: &Method, path: &str) -> Request {
    Request {
        method: method.clone(),
        uri: path.parse().unwrap(),
        headers: HeaderMap::new(),
        auth: RequestAuth {
            principal: Principal::Anonymous,
            realm: String::new(),
            service: String::new(),
            source: None,
        },
        base_url: String::new(),
    }
}

fn check<A: Adapter>(adapter: &A, rows: &[(Method, &str, &str, Want)]) {
    for (method, path, name, want) in rows {
        let req = request(method, path);
        let Ok((endpoint, access)) = adapter.parse(&req, path) else {
            panic!("{} {method} {path}: does not parse", adapter.format());
        };
        assert_eq!(endpoint.name(), *name, "{method} {path}");
        let expected = match want {
            None => Access::Anyone,
            Some((action, only_caller, repository, package)) => {
                let resource = Resource {
                    repository: repository.to_string(),
                    package: package.map(str::to_string),
                };
                if *only_caller {
                    Access::Caller(*action, resource)
                } else {
                    Access::On(*action, resource)
                }
            }
        };
        assert_eq!(access, expected, "{} {method} {path}", adapter.format());
        // Whatever changes something needs more than a read, and never nothing,
        // except the logins and pings a client makes before it has rights.
        let writes = ![Method::GET, Method::HEAD].contains(method);
        if writes {
            assert!(
                matches!(&access, Access::On(a, _) | Access::Caller(a, _) if *a != Action::Read),
                "{} {method} {path} changes something but declares {access:?}",
                adapter.format()
            );
        }
    }
}

#[tokio::test]
async fn every_endpoint_declares_its_access() {
    let t = TestApp::new().await;
    let s = &t.app.state;
    let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let (get, head, put, post, patch, delete) = (
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::POST,
        Method::PATCH,
        Method::DELETE,
    );

    check(
        &s.oci,
        &[
            (get.clone(), "/", "base", None),
            (get.clone(), "/_catalog", "catalog", None),
            (get.clone(), "/a/b/tags/list", "tags", on(R, "a/b", None)),
            (
                get.clone(),
                "/a/manifests/v1",
                "manifest_get",
                on(R, "a", None),
            ),
            (
                head.clone(),
                "/a/manifests/v1",
                "manifest_get",
                on(R, "a", None),
            ),
            (
                put.clone(),
                "/a/manifests/v1",
                "manifest_put",
                on(P, "a", None),
            ),
            (
                delete.clone(),
                "/a/manifests/v1",
                "manifest_delete",
                on(D, "a", None),
            ),
            (
                get.clone(),
                &format!("/a/blobs/{d}"),
                "blob_get",
                on(R, "a", None),
            ),
            (
                delete.clone(),
                &format!("/a/blobs/{d}"),
                "blob_delete",
                on(D, "a", None),
            ),
            (
                post.clone(),
                "/a/blobs/uploads/",
                "upload_start",
                on(P, "a", None),
            ),
            (
                get.clone(),
                "/a/blobs/uploads/u1",
                "upload_status",
                on(P, "a", None),
            ),
            (
                patch.clone(),
                "/a/blobs/uploads/u1",
                "upload_patch",
                on(P, "a", None),
            ),
            (
                put.clone(),
                "/a/blobs/uploads/u1",
                "upload_finish",
                on(P, "a", None),
            ),
            (
                delete.clone(),
                "/a/blobs/uploads/u1",
                "upload_cancel",
                on(P, "a", None),
            ),
            (
                get.clone(),
                &format!("/a/referrers/{d}"),
                "referrers",
                on(R, "a", None),
            ),
        ],
    );

    let pkg = Some("npm/main/@s/p");
    check(
        &s.npm,
        &[
            (get.clone(), "/main/-/ping", "ping", None),
            (get.clone(), "/main/-/whoami", "whoami", None),
            (get.clone(), "/main/-/npm/v1/keys", "keys", None),
            (
                get.clone(),
                "/main/-/package/@s%2fp/visibility",
                "visibility",
                on(R, "npm/main", pkg),
            ),
            (
                get.clone(),
                "/main/-/v1/search",
                "search",
                on(R, "npm/main", None),
            ),
            (
                get.clone(),
                "/main/@s%2fp",
                "packument",
                on(R, "npm/main", pkg),
            ),
            (
                get.clone(),
                "/main/@s/p/1.0.0",
                "version",
                on(R, "npm/main", pkg),
            ),
            (
                get.clone(),
                "/main/@s/p/-/p-1.0.0.tgz",
                "tarball",
                on(R, "npm/main", pkg),
            ),
            (
                put.clone(),
                "/main/@s%2fp",
                "package_put",
                caller(P, "npm/main"),
            ),
            (
                put.clone(),
                "/main/@s%2fp/-rev/3-a",
                "package_put",
                caller(P, "npm/main"),
            ),
            (
                delete.clone(),
                "/main/@s%2fp/-rev/3-a",
                "package_unpublish",
                on(Y, "npm/main", pkg),
            ),
            (
                delete.clone(),
                "/main/@s/p/-/p-1.0.0.tgz/-rev/3-a",
                "tarball_unpublish",
                on(Y, "npm/main", pkg),
            ),
            (
                get.clone(),
                "/main/-/package/@s%2fp/dist-tags",
                "dist_tags",
                on(R, "npm/main", pkg),
            ),
            (
                put.clone(),
                "/main/-/package/@s%2fp/dist-tags/beta",
                "dist_tag_change",
                on(P, "npm/main", pkg),
            ),
            (
                delete.clone(),
                "/main/-/package/@s%2fp/dist-tags/beta",
                "dist_tag_change",
                on(P, "npm/main", pkg),
            ),
            (
                get.clone(),
                "/main/-/npm/v1/attestations/@s%2fp@1.0.0",
                "attestations",
                on(R, "npm/main", pkg),
            ),
        ],
    );

    let proj = Some("pypi/main/demo-pkg");
    check(
        &s.pypi,
        &[
            (post.clone(), "/main/", "upload", caller(P, "pypi/main")),
            (
                post.clone(),
                "/main/legacy/",
                "upload",
                caller(P, "pypi/main"),
            ),
            (
                get.clone(),
                "/main/simple/",
                "simple_index",
                on(R, "pypi/main", None),
            ),
            (
                get.clone(),
                "/main/simple/Demo_Pkg/",
                "simple_project",
                on(R, "pypi/main", proj),
            ),
            (
                get.clone(),
                "/main/files/demo-pkg/demo_pkg-1.0-py3-none-any.whl",
                "file",
                on(R, "pypi/main", proj),
            ),
            (
                get.clone(),
                "/main/files/demo-pkg/demo_pkg-1.0-py3-none-any.whl.metadata",
                "metadata",
                on(R, "pypi/main", proj),
            ),
        ],
    );

    let krate = Some("cargo/main/demo-crate");
    check(
        &s.cargo,
        &[
            (get.clone(), "/main/index/config.json", "config", None),
            (
                get.clone(),
                "/main/index/de/mo/demo_crate",
                "index_file",
                on(R, "cargo/main", krate),
            ),
            (
                put.clone(),
                "/main/api/v1/crates/new",
                "publish",
                caller(P, "cargo/main"),
            ),
            (
                get.clone(),
                "/main/api/v1/crates",
                "search",
                on(R, "cargo/main", None),
            ),
            (
                delete.clone(),
                "/main/api/v1/crates/demo_crate/1.0.0/yank",
                "yank",
                on(Y, "cargo/main", krate),
            ),
            (
                put.clone(),
                "/main/api/v1/crates/demo_crate/1.0.0/unyank",
                "unyank",
                on(Y, "cargo/main", krate),
            ),
            (
                get.clone(),
                "/main/api/v1/crates/demo_crate/owners",
                "owners",
                on(R, "cargo/main", krate),
            ),
            (
                put.clone(),
                "/main/api/v1/crates/demo_crate/owners",
                "owners_change",
                on(P, "cargo/main", krate),
            ),
            (
                delete.clone(),
                "/main/api/v1/crates/demo_crate/owners",
                "owners_change",
                on(P, "cargo/main", krate),
            ),
            (
                get.clone(),
                "/main/api/v1/crates/demo_crate/1.0.0/download",
                "download",
                on(R, "cargo/main", krate),
            ),
        ],
    );

    let module = Some("go/main/example.com/lib");
    check(
        &s.go,
        &[
            (
                get.clone(),
                "/main/example.com/lib/@v/list",
                "list",
                on(R, "go/main", module),
            ),
            (
                get.clone(),
                "/main/example.com/lib/@latest",
                "latest",
                on(R, "go/main", module),
            ),
            (
                get.clone(),
                "/main/example.com/lib/@v/v1.0.0.info",
                "info",
                on(R, "go/main", module),
            ),
            (
                get.clone(),
                "/main/example.com/lib/@v/v1.0.0.mod",
                "mod",
                on(R, "go/main", module),
            ),
            (
                get.clone(),
                "/main/example.com/lib/@v/v1.0.0.zip",
                "zip",
                on(R, "go/main", module),
            ),
            (
                put.clone(),
                "/main/example.com/lib/@v/v1.0.0.zip",
                "zip_upload",
                on(P, "go/main", module),
            ),
            (
                post.clone(),
                "/main/-/publish",
                "publish",
                caller(P, "go/main"),
            ),
        ],
    );

    let artifact = Some("maven/releases/org.example:lib");
    let jar = "/releases/org/example/lib/1.0/lib-1.0.jar";
    check(
        &s.maven,
        &[
            (get.clone(), jar, "file", on(R, "maven/releases", artifact)),
            (
                head.clone(),
                &format!("{jar}.sha1"),
                "checksum",
                on(R, "maven/releases", artifact),
            ),
            (
                get.clone(),
                "/releases/org/example/lib/maven-metadata.xml",
                "metadata",
                on(R, "maven/releases", artifact),
            ),
            (
                put.clone(),
                jar,
                "deploy",
                on(P, "maven/releases", artifact),
            ),
            (
                put.clone(),
                &format!("/releases/-/staging/s1{}", &jar["/releases".len()..]),
                "deploy",
                on(P, "maven/releases", artifact),
            ),
            (
                put.clone(),
                "/releases/org/example/lib/maven-metadata.xml",
                "deploy_metadata",
                caller(P, "maven/releases"),
            ),
        ],
    );
}

/// The admin API declares its access the same way.
#[test]
fn every_admin_endpoint_declares_its_access() {
    use cairn_server::api::AdminEndpoint;
    let registry = || Access::On(Action::Admin, Resource::repository("_registry"));
    let staging = |action| Access::On(action, Resource::repository("maven/releases"));
    let rows: Vec<(Method, &str, &str, Access, bool)> = vec![
        // Every hit is decided as a read: anonymous readers search too.
        (Method::GET, "/search", "search", Access::Anyone, false),
        // A sign-in's body is its credential; the session is the caller's own.
        (
            Method::POST,
            "/session",
            "session_sign_in",
            Access::Anyone,
            false,
        ),
        (
            Method::GET,
            "/session",
            "session_info",
            Access::Anyone,
            true,
        ),
        (
            Method::DELETE,
            "/session",
            "session_sign_out",
            Access::Anyone,
            true,
        ),
        (Method::GET, "/tokens", "token_list", Access::Anyone, true),
        (
            Method::POST,
            "/tokens",
            "token_create",
            Access::Anyone,
            true,
        ),
        (
            Method::DELETE,
            "/tokens/abc",
            "token_revoke",
            Access::Anyone,
            true,
        ),
        (Method::POST, "/users", "user_create", registry(), true),
        (
            Method::PUT,
            "/users/dev/grants",
            "user_grants",
            registry(),
            true,
        ),
        // A person's second factor: the identity service decides whose.
        (
            Method::GET,
            "/users/dev/totp",
            "totp_status",
            Access::Anyone,
            true,
        ),
        (
            Method::POST,
            "/users/dev/totp",
            "totp_start",
            Access::Anyone,
            true,
        ),
        (
            Method::POST,
            "/users/dev/totp/confirm",
            "totp_confirm",
            Access::Anyone,
            true,
        ),
        (
            Method::DELETE,
            "/users/dev/totp",
            "totp_disable",
            Access::Anyone,
            true,
        ),
        (
            Method::POST,
            "/users/dev/totp/recovery-codes",
            "totp_recovery_codes",
            Access::Anyone,
            true,
        ),
        (Method::GET, "/audit", "audit", registry(), true),
        (Method::GET, "/gc", "gc_status", registry(), true),
        (Method::POST, "/gc", "gc_run", registry(), true),
        (Method::GET, "/storage", "storage", registry(), true),
        (Method::GET, "/quotas", "quota_list", registry(), true),
        (Method::GET, "/jobs", "job_list", registry(), true),
        (Method::POST, "/jobs", "job_start", registry(), true),
        (Method::GET, "/jobs/gc-1", "job", registry(), true),
        (Method::DELETE, "/jobs/gc-1", "job_cancel", registry(), true),
        (Method::PUT, "/quotas", "quota_set", registry(), true),
        // The resource is in the query: the handlers decide it (and filter
        // component answers by read access) through the guard.
        (
            Method::GET,
            "/components",
            "components",
            Access::Anyone,
            true,
        ),
        (Method::GET, "/sboms", "sbom_list", Access::Anyone, true),
        // Anyone who may read the package (anonymous too), decided by the
        // handler; the keys are public.
        (
            Method::GET,
            "/attestations",
            "attestation_list",
            Access::Anyone,
            false,
        ),
        (
            Method::GET,
            "/attestations/keys",
            "attestation_keys",
            Access::Anyone,
            false,
        ),
        (Method::PUT, "/sboms", "sbom_attach", Access::Anyone, true),
        (
            Method::DELETE,
            "/sboms",
            "sbom_remove",
            Access::Anyone,
            true,
        ),
        (
            Method::GET,
            "/advisories/GHSA-1",
            "advisory",
            Access::Anyone,
            true,
        ),
        (Method::GET, "/findings", "findings", Access::Anyone, true),
        (
            Method::GET,
            "/policy/explain",
            "policy_explain",
            Access::Anyone,
            true,
        ),
        (
            Method::GET,
            "/vuln-exceptions",
            "vuln_exception_list",
            registry(),
            true,
        ),
        (
            Method::PUT,
            "/vuln-exceptions",
            "vuln_exception_set",
            registry(),
            true,
        ),
        (
            Method::DELETE,
            "/vuln-exceptions",
            "vuln_exception_remove",
            registry(),
            true,
        ),
        (
            Method::GET,
            "/quarantine",
            "quarantine_list",
            registry(),
            true,
        ),
        (
            Method::POST,
            "/quarantine/sha256:ab/release",
            "quarantine_release",
            registry(),
            true,
        ),
        (
            Method::POST,
            "/secret-scanning/report",
            "secret_report",
            Access::Anyone,
            false,
        ),
        (Method::DELETE, "/quotas", "quota_remove", registry(), true),
        (
            Method::GET,
            "/retention",
            "retention_preview",
            registry(),
            true,
        ),
        (
            Method::POST,
            "/retention",
            "retention_apply",
            registry(),
            true,
        ),
        (
            Method::GET,
            "/publishers",
            "publisher_list",
            registry(),
            true,
        ),
        (
            Method::POST,
            "/publishers",
            "publisher_add",
            registry(),
            true,
        ),
        (
            Method::POST,
            "/oidc/exchange",
            "oidc_exchange",
            Access::Anyone,
            false,
        ),
        (
            Method::POST,
            "/packages/npm/main/left-pad/versions/1.0.0",
            "version_change",
            Access::Anyone,
            true,
        ),
        (
            Method::GET,
            "/maven/releases/staging",
            "staging_list",
            staging(R),
            true,
        ),
        (
            Method::POST,
            "/maven/releases/staging/s1/close",
            "staging_change",
            staging(P),
            true,
        ),
        (
            Method::GET,
            "/proxies/npm/npmjs/cache",
            "proxy_cache",
            Access::On(R, Resource::repository("npm/npmjs")),
            true,
        ),
        (
            Method::DELETE,
            "/proxies/npm/npmjs/cache/tarball/left-pad/left-pad-1.0.0.tgz",
            "proxy_cache_drop",
            Access::On(Action::Admin, Resource::repository("npm/npmjs")),
            true,
        ),
        (
            Method::GET,
            "/proxies/oci/hub/cache",
            "proxy_cache",
            Access::On(R, Resource::repository("hub")),
            true,
        ),
    ];
    for (method, path, name, access, credential) in rows {
        let e = AdminEndpoint::parse(&method, path).unwrap();
        assert_eq!(e.name(), name, "{method} {path}");
        assert_eq!(e.access(), access, "{method} {path}");
        assert_eq!(e.needs_credential(), credential, "{method} {path}");
    }
    assert!(AdminEndpoint::parse(&Method::GET, "/users").is_err());
    assert!(AdminEndpoint::parse(&Method::GET, "/nothing").is_err());
    assert_eq!(
        AdminEndpoint::parse(&Method::DELETE, "/proxies/npm/npmjs/cache/tarball/a/b.tgz"),
        Ok(AdminEndpoint::DropProxyEntry {
            format: Some(cairn_core::Format::Npm),
            repository: "npmjs".into(),
            key: "tarball/a/b.tgz".into(),
        })
    );
}
