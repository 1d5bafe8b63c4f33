//! Request bodies of the package clients (npm, twine, cargo), built by
//! hand so tests can also forge broken ones.

use super::TestApp;
use axum::http::{Method, StatusCode};
use base64::Engine;
use serde_json::json;

/// A .tar.gz holding `files`; names are written raw, so unsafe ones get through.
pub fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// The document `npm publish` sends.
pub fn npm_publish_doc(
    name: &str,
    version: &str,
    tgz: &[u8],
    deps: serde_json::Value,
) -> serde_json::Value {
    json!({
        "_id": name, "name": name,
        "dist-tags": {"latest": version},
        "versions": {version: {"name": name, "version": version, "dependencies": deps,
                               "dist": {"integrity": format!("sha512-{}",
                                   base64::engine::general_purpose::STANDARD
                                       .encode(<sha2::Sha512 as sha2::Digest>::digest(tgz)))}}},
        "_attachments": {format!("{name}-{version}.tgz"): {
            "content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(tgz),
            "length": tgz.len(),
        }},
    })
}

pub fn npm_tarball(name: &str, version: &str) -> Vec<u8> {
    let pkg = json!({"name": name, "version": version}).to_string();
    tar_gz(&[
        ("package/package.json", pkg.as_bytes()),
        ("package/index.js", b"1"),
    ])
}

pub async fn token(app: &TestApp, scopes: &[&str]) -> String {
    let auth = app.basic();
    let r = app
        .json(
            Method::POST,
            "/api/v1/tokens",
            Some(&auth),
            json!({"description": "t", "scopes": scopes}),
        )
        .await;
    r.assert_status(StatusCode::CREATED);
    format!("Bearer {}", r.json()["token"].as_str().unwrap())
}

/// A multipart body as twine sends it.
pub fn twine_form(fields: &[(&str, &str)], filename: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "cairnboundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The body `cargo publish` sends.
pub fn cargo_body(meta: serde_json::Value, krate: &[u8]) -> Vec<u8> {
    let meta = meta.to_string();
    let mut body = (meta.len() as u32).to_le_bytes().to_vec();
    body.extend_from_slice(meta.as_bytes());
    body.extend_from_slice(&(krate.len() as u32).to_le_bytes());
    body.extend_from_slice(krate);
    body
}

pub fn krate(name: &str, version: &str, toml_name: &str) -> Vec<u8> {
    let toml = format!("[package]\nname = \"{toml_name}\"\nversion = \"{version}\"\n");
    tar_gz(&[
        (&format!("{name}-{version}/Cargo.toml"), toml.as_bytes()),
        (&format!("{name}-{version}/src/lib.rs"), b""),
    ])
}

/// twine's upload form for a minimal sdist of `name` `version`.
pub fn pypi_sdist_form(name: &str, version: &str) -> (String, Vec<u8>) {
    let stem = format!("{}-{version}", name.replace('-', "_"));
    let pkg_info = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    twine_form(
        &[
            (":action", "file_upload"),
            ("name", name),
            ("version", version),
            ("metadata_version", "2.1"),
        ],
        &format!("{stem}.tar.gz"),
        &tar_gz(&[(&format!("{stem}/PKG-INFO"), pkg_info.as_bytes())]),
    )
}

/// The body `cargo publish` sends for a minimal crate `name` `vers`.
pub fn cargo_publish_body(name: &str, vers: &str) -> Vec<u8> {
    let meta = json!({"name": name, "vers": vers, "deps": [], "features": {}, "authors": [],
                      "description": null, "license": "MIT", "links": null});
    cargo_body(meta, &krate(name, vers, name))
}
