//! `cargo publish`: the body is a little-endian u32 length and the JSON
//! metadata, then a u32 length and the `.crate` tarball. The tarball is the
//! truth: its `Cargo.toml` must name the published crate and version. The
//! index line is built here from the metadata, and its `cksum` from the
//! stored bytes.

use crate::{crate_file, key, CargoApi, CARGO};
use axum::response::IntoResponse;
use axum::Json;
use cairn_core::package::check_version;
use cairn_core::Action;
use cairn_core::PackageRef;
use cairn_packages::archive::{self, Limits};
use cairn_packages::{PackageError, PackageResult, Request};
use cairn_store::{NewVersion, PublishMode};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The publish metadata cargo sends (the fields cairn uses).
#[derive(Debug, Deserialize)]
pub struct PublishMeta {
    pub name: String,
    pub vers: String,
    #[serde(default)]
    pub deps: Vec<PublishDep>,
    #[serde(default)]
    pub features: Map<String, Value>,
    pub description: Option<String>,
    pub links: Option<String>,
    pub rust_version: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PublishDep {
    pub name: String,
    pub version_req: String,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default = "yes")]
    pub default_features: bool,
    pub target: Option<String>,
    pub kind: Option<String>,
    pub registry: Option<String>,
    pub explicit_name_in_toml: Option<String>,
}

fn yes() -> bool {
    true
}

/// Splits a publish body into the metadata JSON and the `.crate` bytes.
pub fn split_body(body: &[u8]) -> PackageResult<(PublishMeta, &[u8])> {
    let bad = |m: &str| PackageError::bad(format!("invalid publish body: {m}"));
    let take = |at: usize| -> PackageResult<(usize, usize)> {
        let len = body
            .get(at..at + 4)
            .ok_or_else(|| bad("truncated length"))?;
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        let end = (at + 4)
            .checked_add(len)
            .filter(|e| *e <= body.len())
            .ok_or_else(|| bad("a length beyond the body"))?;
        Ok((at + 4, end))
    };
    let (js, je) = take(0)?;
    let meta: PublishMeta =
        serde_json::from_slice(&body[js..je]).map_err(|e| bad(&format!("metadata: {e}")))?;
    let (cs, ce) = take(je)?;
    if ce != body.len() {
        return Err(bad("trailing bytes after the crate"));
    }
    Ok((meta, &body[cs..ce]))
}

/// Checks that the crate's `Cargo.toml` names `name` and `version`.
pub fn check_crate(
    crate_bytes: &[u8],
    name: &str,
    version: &str,
    limits: Limits,
) -> PackageResult<()> {
    let manifest_path = format!("{name}-{version}/Cargo.toml");
    let contents = archive::read_tar_gz(crate_bytes, limits, |p| p == manifest_path)
        .map_err(|e| PackageError::bad(format!("invalid .crate: {e}")))?;
    let prefix = format!("{name}-{version}/");
    if let Some(stray) = contents.paths.iter().find(|p| !p.starts_with(&prefix)) {
        return Err(PackageError::bad(format!(
            "invalid .crate: {stray} is outside {prefix}"
        )));
    }
    let toml_bytes = contents
        .kept
        .get(&manifest_path)
        .ok_or_else(|| PackageError::bad(format!("invalid .crate: no {manifest_path}")))?;
    let doc: toml::Table = std::str::from_utf8(toml_bytes)
        .map_err(|e| PackageError::bad(format!("Cargo.toml is not UTF-8: {e}")))?
        .parse()
        .map_err(|e| PackageError::bad(format!("invalid Cargo.toml in the .crate: {e}")))?;
    let package = doc.get("package").and_then(|p| p.as_table());
    let field = |k: &str| {
        package
            .and_then(|p| p.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or("?")
    };
    if field("name") != name || field("version") != version {
        return Err(PackageError::bad(format!(
            "the .crate's Cargo.toml names {} {}, but the metadata names {name} {version}",
            field("name"),
            field("version")
        )));
    }
    Ok(())
}

/// The sparse-index entry of a version (without `yanked`, which is state).
pub fn index_entry(meta: &PublishMeta, cksum: &str) -> Value {
    let deps: Vec<Value> = meta
        .deps
        .iter()
        .map(|d| {
            // The index names a dependency by its name in Cargo.toml and
            // gives the real crate in `package` when it was renamed.
            let (name, package) = match &d.explicit_name_in_toml {
                Some(alias) => (alias.clone(), Some(d.name.clone())),
                None => (d.name.clone(), None),
            };
            json!({
                "name": name,
                "req": d.version_req,
                "features": d.features,
                "optional": d.optional,
                "default_features": d.default_features,
                "target": d.target,
                "kind": d.kind.as_deref().unwrap_or("normal"),
                "registry": d.registry,
                "package": package,
            })
        })
        .collect();
    // Features using `dep:` or `?/` go to `features2` (index format v2),
    // so that older cargo versions ignore what they cannot read.
    let (mut features, mut features2) = (Map::new(), Map::new());
    for (k, v) in &meta.features {
        let new_syntax = v.as_array().is_some_and(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .any(|s| s.starts_with("dep:") || s.contains("?/"))
        });
        if new_syntax {
            &mut features2
        } else {
            &mut features
        }
        .insert(k.clone(), v.clone());
    }
    let mut entry = json!({
        "name": meta.name,
        "vers": meta.vers,
        "deps": deps,
        "cksum": cksum,
        "features": features,
        "links": meta.links,
        "rust_version": meta.rust_version,
    });
    if !features2.is_empty() {
        entry["features2"] = Value::Object(features2);
        entry["v"] = json!(2);
    }
    entry
}

impl CargoApi {
    pub(crate) async fn publish(
        &self,
        req: &Request,
        repo: &str,
        body: axum::body::Body,
    ) -> PackageResult {
        let p = &self.packages;
        let bytes = p.read_body(req, body).await?;
        let (meta, crate_bytes) = split_body(&bytes)?;
        let key = key(&meta.name)?;
        p.check(req, CARGO, repo, Some(&key), Action::Publish)
            .await?;
        check_version(&meta.vers).map_err(PackageError::bad)?;
        semver::Version::parse(&meta.vers)
            .map_err(|e| PackageError::bad(format!("invalid version {:?}: {e}", meta.vers)))?;
        if let Some(existing) = p.meta.package(PackageRef::new(CARGO, repo, &key)).await? {
            if existing.name != meta.name {
                return Err(PackageError::bad(format!(
                    "crate {} already exists as {}: names that differ only in case or -/_ are one crate",
                    meta.name, existing.name
                )));
            }
            self.require_owner(req, repo, &key).await?;
        }
        let limits = Limits {
            max_total: p.config.max_upload_bytes.saturating_mul(8),
            ..Limits::default()
        };
        check_crate(crate_bytes, &meta.name, &meta.vers, limits)?;
        let crate_name = format!("{}-{}.crate", meta.name, meta.vers);
        p.refuse_secrets(
            &req.actor(),
            PackageRef::new(CARGO, repo, &key),
            cairn_packages::secrets::Publish::File {
                filename: &crate_name,
                bytes: crate_bytes,
            },
        )
        .await?;
        let stored = p.store(bytes.slice_ref(crate_bytes)).await?;
        let entry = index_entry(&meta, stored.digests.sha256.hex());
        let dependencies = meta
            .deps
            .iter()
            .filter(|d| d.registry.is_none())
            .filter_map(|d| crate::key(&d.name).ok())
            .collect();
        let file = crate_file(&key, &meta.vers);
        let new = NewVersion {
            format: CARGO,
            repository: repo.to_string(),
            package: key.clone(),
            name: meta.name.clone(),
            version: meta.vers.clone(),
            metadata: json!({"index": entry, "description": meta.description}).to_string(),
            dependencies,
            files: vec![stored.record(&file, &meta.vers, json!({}))],
            tags: vec![],
            owner: Some(req.auth.principal.name().to_string()),
        };
        p.publish(&new, &[&stored], PublishMode::NewVersion, &req.actor())
            .await?;
        tracing::info!(krate = %meta.name, version = %meta.vers, repository = repo, "cargo publish");
        Ok(
            Json(
                json!({"warnings": {"invalid_categories": [], "invalid_badges": [], "other": []}}),
            )
            .into_response(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary bodies and crates are refused cleanly, never a panic.
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = split_body(&bytes);
            let _ = check_crate(&bytes, "a", "1.0.0", Limits::default());
        }
    }

    #[test]
    fn body_framing() {
        let json = br#"{"name":"a","vers":"1.0.0"}"#;
        let mut body = (json.len() as u32).to_le_bytes().to_vec();
        body.extend_from_slice(json);
        body.extend_from_slice(&3u32.to_le_bytes());
        body.extend_from_slice(b"abc");
        let (meta, krate) = split_body(&body).unwrap();
        assert_eq!((meta.name.as_str(), krate), ("a", &b"abc"[..]));
        body.push(0);
        assert!(split_body(&body).is_err());
        assert!(split_body(&[255, 255, 255, 255]).is_err());
    }
}
