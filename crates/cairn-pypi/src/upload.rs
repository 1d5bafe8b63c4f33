//! The legacy upload API (`:action=file_upload`, multipart), as twine sends
//! it. The file is the truth: its core metadata (a wheel's
//! `*.dist-info/METADATA`, an sdist's `PKG-INFO`) must name the uploaded
//! project and version, the digests the client sends must match the bytes,
//! and a wheel's METADATA is stored beside it for PEP 658.

use crate::{PypiApi, PYPI};
use axum::response::IntoResponse;
use bytes::Bytes;
use cairn_core::package::{check_version, pep503_normalize};
use cairn_core::{package_key, Action};
use cairn_packages::archive::{self, Limits};
use cairn_packages::{PackageError, PackageResult, Request};
use cairn_store::{FileRecord, NewVersion, PublishMode};
use md5::Digest as _;
use serde_json::json;
use std::collections::HashMap;
use std::sync::OnceLock;

/// The form of one upload: every text field (repeatable ones joined) and the file.
#[derive(Debug, Default)]
pub struct UploadForm {
    pub fields: HashMap<String, Vec<String>>,
    pub filename: String,
    pub content: Bytes,
}

impl UploadForm {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// Parses a multipart/form-data body.
pub async fn parse_form(content_type: &str, body: Bytes) -> PackageResult<UploadForm> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| PackageError::bad(format!("expected multipart/form-data: {e}")))?;
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = UploadForm::default();
    let bad = |e: multer::Error| PackageError::bad(format!("invalid multipart body: {e}"));
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "content" {
            form.filename = field.file_name().unwrap_or_default().to_string();
            form.content = field.bytes().await.map_err(bad)?;
        } else {
            let value = field.text().await.map_err(bad)?;
            form.fields.entry(name).or_default().push(value);
        }
    }
    Ok(form)
}

/// Core metadata headers (RFC 822 style): the first value of each.
pub fn parse_core_metadata(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.is_empty() {
            break; // the description body follows
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.entry(k.trim().to_ascii_lowercase())
                .or_insert_with(|| v.trim().to_string());
        }
    }
    out
}

/// A canonical PEP 440 version (what twine sends after normalising).
pub fn check_pep440(version: &str) -> PackageResult<()> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"^([1-9][0-9]*!)?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*((a|b|rc)(0|[1-9][0-9]*))?(\.post(0|[1-9][0-9]*))?(\.dev(0|[1-9][0-9]*))?(\+[a-z0-9]+(\.[a-z0-9]+)*)?$",
        )
        .expect("a valid regex")
    });
    check_version(version).map_err(PackageError::bad)?;
    if !re.is_match(version) {
        return Err(PackageError::bad(format!(
            "{version:?} is not a canonical PEP 440 version"
        )));
    }
    Ok(())
}

/// What a distribution file is, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dist {
    Wheel,
    Sdist,
}

/// Checks a file name against the project and version and says what it is:
/// `{name}-{version}(-{build})?-{py}-{abi}-{plat}.whl` or
/// `{name}-{version}.tar.gz` / `.zip`, the name normalising to `key`.
pub fn check_filename(filename: &str, key: &str, version: &str) -> PackageResult<Dist> {
    let bad = |why: &str| {
        PackageError::bad(format!(
            "invalid distribution file name {filename:?}: {why}"
        ))
    };
    if filename.is_empty()
        || filename.len() > 255
        || filename.contains(['/', '\\', '\0'])
        || filename.starts_with('.')
    {
        return Err(bad("not a plain file name"));
    }
    let (stem, dist) = if let Some(stem) = filename.strip_suffix(".whl") {
        (stem, Dist::Wheel)
    } else if let Some(stem) = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))
    {
        (stem, Dist::Sdist)
    } else {
        return Err(bad("expected .whl, .tar.gz or .zip"));
    };
    let (name, file_version) = match dist {
        Dist::Wheel => {
            let parts: Vec<&str> = stem.split('-').collect();
            if !(5..=6).contains(&parts.len()) {
                return Err(bad("a wheel is NAME-VERSION(-BUILD)-PY-ABI-PLATFORM.whl"));
            }
            (parts[0].to_string(), parts[1].to_string())
        }
        Dist::Sdist => {
            let (name, v) = stem
                .rsplit_once('-')
                .ok_or_else(|| bad("an sdist is NAME-VERSION.tar.gz"))?;
            (name.to_string(), v.to_string())
        }
    };
    if pep503_normalize(&name) != key {
        return Err(bad(&format!("it names project {name:?}, not {key:?}")));
    }
    if file_version != version && file_version.replace('_', "-") != version {
        return Err(bad(&format!(
            "it names version {file_version:?}, not {version:?}"
        )));
    }
    Ok(dist)
}

/// The core metadata file inside a distribution: `(path, bytes)`.
pub fn core_metadata(dist: Dist, bytes: &[u8], limits: Limits) -> PackageResult<(String, Vec<u8>)> {
    let contents = match dist {
        Dist::Wheel => archive::read_zip(bytes, limits, |p| {
            let mut parts = p.split('/');
            matches!((parts.next(), parts.next(), parts.next()), (Some(d), Some("METADATA"), None) if d.ends_with(".dist-info"))
        }),
        Dist::Sdist => archive::read_tar_gz(bytes, limits, |p| p.matches('/').count() == 1 && p.ends_with("/PKG-INFO")),
    }
    .map_err(|e| PackageError::bad(format!("invalid distribution: {e}")))?;
    let mut kept = contents.kept.into_iter();
    match (kept.next(), kept.next()) {
        (Some(found), None) => Ok(found),
        (None, _) => Err(PackageError::bad(match dist {
            Dist::Wheel => "invalid wheel: no *.dist-info/METADATA",
            Dist::Sdist => "invalid sdist: no PKG-INFO",
        })),
        _ => Err(PackageError::bad(
            "invalid distribution: more than one metadata file",
        )),
    }
}

impl PypiApi {
    pub(crate) async fn upload(
        &self,
        req: &Request,
        repo: &str,
        body: axum::body::Body,
    ) -> PackageResult {
        let p = &self.packages;
        let content_type = req
            .header(axum::http::header::CONTENT_TYPE)
            .unwrap_or_default()
            .to_string();
        let bytes = p.read_body(req, body).await?;
        let form = parse_form(&content_type, bytes).await?;
        if form.field(":action").is_some_and(|a| a != "file_upload") {
            return Err(PackageError::bad(format!(
                "unsupported :action {:?}",
                form.field(":action")
            )));
        }
        let name = form
            .field("name")
            .ok_or_else(|| PackageError::bad("the name field is missing"))?;
        let version = form
            .field("version")
            .ok_or_else(|| PackageError::bad("the version field is missing"))?;
        let key = package_key(PYPI, name).map_err(|e| PackageError::bad(e.to_string()))?;
        p.check(req, PYPI, repo, Some(&key), Action::Publish)
            .await?;
        check_pep440(version)?;
        if form.content.is_empty() {
            return Err(PackageError::bad(
                "the content field (the file) is missing or empty",
            ));
        }
        let dist = check_filename(&form.filename, &key, version)?;

        // The digests the client sent must be those of the bytes received.
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&form.content));
        if let Some(sent) = form.field("sha256_digest") {
            if !sent.eq_ignore_ascii_case(&sha256) {
                return Err(PackageError::bad(format!(
                    "sha256_digest {sent} does not match the file ({sha256})"
                )));
            }
        }
        if let Some(sent) = form.field("md5_digest") {
            let md5 = hex::encode(md5::Md5::digest(&form.content));
            if !sent.eq_ignore_ascii_case(&md5) {
                return Err(PackageError::bad(format!(
                    "md5_digest {sent} does not match the file ({md5})"
                )));
            }
        }

        let limits = Limits {
            max_total: p.config.max_upload_bytes.saturating_mul(8),
            ..Limits::default()
        };
        let (meta_path, meta_bytes) = core_metadata(dist, &form.content, limits)?;
        let headers = parse_core_metadata(&String::from_utf8_lossy(&meta_bytes));
        let meta_name = headers.get("name").map(String::as_str).unwrap_or_default();
        let meta_version = headers
            .get("version")
            .map(String::as_str)
            .unwrap_or_default();
        if pep503_normalize(meta_name) != key || meta_version != version {
            return Err(PackageError::bad(format!(
                "{meta_path} names {meta_name} {meta_version}, not {name} {version}"
            )));
        }
        let requires_python = form
            .field("requires_python")
            .map(str::to_string)
            .or_else(|| headers.get("requires-python").cloned());

        let mut file_meta = json!({
            "requires_python": requires_python,
            "packagetype": form.field("filetype"),
        });
        if let Some(attestations) = form.field("attestations") {
            file_meta["provenance"] = crate::provenance::provenance_of(
                attestations,
                &form.filename,
                &sha256,
                req.auth.principal.name(),
                p.config.trust.sigstore_root().as_deref(),
            )?;
        }
        p.refuse_secrets(
            &req.actor(),
            cairn_core::PackageRef::new(PYPI, repo, &key),
            cairn_packages::secrets::Publish::File {
                filename: &form.filename,
                bytes: &form.content,
            },
        )
        .await?;
        let mut companion = None;
        let mut metadata_file = None;
        if dist == Dist::Wheel {
            let stored = p.store(Bytes::from(meta_bytes)).await?;
            file_meta["metadata_digest"] = json!(stored.digests.sha256.to_string());
            companion = Some(stored.digests.sha256.clone());
            metadata_file = Some(stored);
        }
        let stored = p.store(form.content.clone()).await?;
        let dependencies: Vec<String> = form
            .fields
            .get("requires_dist")
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let end = r
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
                    .unwrap_or(r.len());
                package_key(PYPI, &r[..end]).ok()
            })
            .collect();
        let new = NewVersion {
            format: PYPI,
            repository: repo.to_string(),
            package: key.clone(),
            name: meta_name.to_string(),
            version: version.to_string(),
            metadata:
                json!({ "summary": form.field("summary"), "requires_python": requires_python })
                    .to_string(),
            dependencies,
            files: vec![FileRecord {
                companion,
                ..stored.record(&form.filename, version, file_meta)
            }],
            tags: vec![],
            owner: Some(req.auth.principal.name().to_string()),
        };
        let held: Vec<&cairn_packages::StoredFile> = std::iter::once(&stored)
            .chain(metadata_file.as_ref())
            .collect();
        p.publish(&new, &held, PublishMode::AddFiles, &req.actor())
            .await?;
        tracing::info!(project = %key, version, file = %form.filename, repository = repo, "pypi upload");
        Ok((axum::http::StatusCode::OK, "OK\n").into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn file_names() {
        assert_eq!(
            check_filename("demo_pkg-1.0-py3-none-any.whl", "demo-pkg", "1.0").unwrap(),
            Dist::Wheel
        );
        assert_eq!(
            check_filename("Demo.Pkg-1.0.tar.gz", "demo-pkg", "1.0").unwrap(),
            Dist::Sdist
        );
        for bad in [
            "../demo-1.0.tar.gz",
            "demo-1.1.tar.gz",
            "other-1.0.tar.gz",
            "demo-1.0.exe",
            "demo-1.0-py3.whl",
        ] {
            assert!(check_filename(bad, "demo", "1.0").is_err(), "{bad}");
        }
        assert!(check_pep440("1.0.post1").is_ok());
        assert!(check_pep440("1.0-1").is_err());
        let m = parse_core_metadata(
            "Metadata-Version: 2.1\nName: Demo\nVersion: 1.0\n\nName: not this\n",
        );
        assert_eq!(m["name"], "Demo");
    }

    proptest! {
        #[test]
        fn metadata_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = parse_core_metadata(&String::from_utf8_lossy(&bytes));
            let _ = core_metadata(Dist::Wheel, &bytes, Limits::default());
            let _ = core_metadata(Dist::Sdist, &bytes, Limits::default());
        }

        #[test]
        fn accepted_file_names_are_plain(name in "[a-zA-Z0-9._/-]{1,30}") {
            if check_filename(&name, "demo", "1.0").is_ok() {
                prop_assert!(!name.contains('/') && !name.starts_with('.'));
            }
        }
    }
}
