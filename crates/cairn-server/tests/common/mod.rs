//! `TestApp`: a cairn application on a temporary data directory, driven
//! in-process through its router (no sockets).

#![allow(dead_code)]

pub mod packages;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::Engine;
use cairn_server::{App, Config};
use tower::ServiceExt;

pub struct TestApp {
    pub app: App,
    pub admin_secret: String,
    _dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn assert_status(&self, status: StatusCode) {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// The first OCI error code of an error body.
    pub fn error_code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(edit: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        edit(&mut config);
        let app = App::build(config).await.unwrap();
        let admin_secret = app
            .new_admin_secret
            .clone()
            .expect("first start creates the admin");
        TestApp {
            app,
            admin_secret,
            _dir: dir,
        }
    }

    pub fn basic(&self) -> String {
        let raw = format!("admin:{}", self.admin_secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// A new API token of `user` limited to `scopes` (valid for `ttl` seconds,
    /// or forever), made by the operator, as a Bearer Authorization value.
    pub async fn token(&self, user: &str, scopes: &[&str], ttl: Option<u64>) -> String {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        let (_, secret) = self
            .app
            .state
            .identity
            .create_token(
                cairn_server::identity::Manager::Operator,
                &cairn_store::Actor::local("test"),
                Some(user),
                "test",
                &scopes,
                ttl,
            )
            .await
            .unwrap();
        format!("Bearer {secret}")
    }

    /// Sends a request; `auth` is a full Authorization header value.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        auth: Option<&str>,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "registry.test");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Body::from(body.into())).unwrap();
        let resp = self.app.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Sends a JSON body with `method`.
    pub async fn json(
        &self,
        method: Method,
        uri: &str,
        auth: Option<&str>,
        body: serde_json::Value,
    ) -> Reply {
        self.send(
            method,
            uri,
            auth,
            &[("content-type", "application/json")],
            body.to_string().into_bytes(),
        )
        .await
    }

    /// GET/HEAD/DELETE without a body, as admin.
    pub async fn admin(&self, method: Method, uri: &str) -> Reply {
        let auth = self.basic();
        self.send(method, uri, Some(&auth), &[], Vec::new()).await
    }

    pub async fn anon(&self, method: Method, uri: &str) -> Reply {
        self.send(method, uri, None, &[], Vec::new()).await
    }

    /// Pushes a blob monolithically and returns its digest.
    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = cairn_core::Digest::sha256_of(bytes).to_string();
        let auth = self.basic();
        let r = self
            .send(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/?digest={digest}"),
                Some(&auth),
                &[],
                bytes.to_vec(),
            )
            .await;
        r.assert_status(StatusCode::CREATED);
        digest
    }

    /// Pushes an OCI image manifest over the given config and layers; returns (digest, bytes).
    pub async fn push_image(
        &self,
        repo: &str,
        reference: Option<&str>,
        extra: &str,
    ) -> (String, Vec<u8>) {
        let config = self.push_blob(repo, b"{}").await;
        let layer = self
            .push_blob(repo, format!("layer of {repo} {extra}").as_bytes())
            .await;
        let layer_size = format!("layer of {repo} {extra}").len();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{layer_size}}}]{extra}}}"#
        );
        let digest = cairn_core::Digest::sha256_of(manifest.as_bytes()).to_string();
        let r = self
            .put_manifest(repo, reference.unwrap_or(&digest), &manifest)
            .await;
        r.assert_status(StatusCode::CREATED);
        (digest, manifest.into_bytes())
    }

    /// The digest a tag points to, as the admin sees it ("" if none).
    pub async fn anon_as_admin_digest(&self, repo: &str, tag: &str) -> String {
        let r = self
            .admin(Method::HEAD, &format!("/v2/{repo}/manifests/{tag}"))
            .await;
        r.header("docker-content-digest")
            .unwrap_or_default()
            .to_string()
    }

    pub async fn put_manifest(&self, repo: &str, reference: &str, manifest: &str) -> Reply {
        let auth = self.basic();
        self.send(
            Method::PUT,
            &format!("/v2/{repo}/manifests/{reference}"),
            Some(&auth),
            &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
            manifest.as_bytes().to_vec(),
        )
        .await
    }
}
