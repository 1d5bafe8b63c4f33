//! Writing: `npm publish` (with `--tag`, scoped names and the `.sigstore`
//! provenance attachment), `npm deprecate`, `npm unpublish` and `npm
//! dist-tag`. The tarball is the truth: its package.json must name the
//! published name and version, and `dist.shasum` / `dist.integrity` are
//! computed here from the stored bytes, never taken from the client; the
//! ones the client declares must match them, or the publish is refused.

use crate::packument::{semver_sorted, sigstore_name, tarball_name};
use crate::{key, NpmApi, NPM};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use cairn_core::lifecycle::Transition;
use cairn_core::package::check_version;
use cairn_core::PackageRef;
use cairn_core::{Action, VersionState};
use cairn_packages::archive::{self, Limits};
use cairn_packages::{PackageError, PackageResult, Request};
use cairn_store::{NewVersion, PackageRecord, PublishMode};
use serde_json::{json, Value};

/// Dependency fields whose packages this version needs at install time
/// (the dependents that block an unpublish).
const RUNTIME_DEPENDENCIES: &[&str] = &["dependencies", "optionalDependencies", "peerDependencies"];

fn ok() -> Response {
    Json(json!({"ok": true})).into_response()
}

/// The digests the client declares (`dist.shasum`, and each `sha512-` or
/// `sha1-` entry of `dist.integrity`) must be the attached tarball's: a
/// mismatch is refused before anything is stored, as a PyPI upload with a
/// wrong `sha256_digest` is. Undeclared digests are computed by cairn.
fn check_declared(manifest: &Value, actual: &cairn_packages::Digests) -> PackageResult<()> {
    let dist = manifest.get("dist");
    let field = |f: &str| dist.and_then(|d| d.get(f)).and_then(Value::as_str);
    let b64 = |hex: &str| {
        base64::engine::general_purpose::STANDARD.encode(hex::decode(hex).unwrap_or_default())
    };
    let mismatch = |what: &str, declared: &str, actual: &str| {
        PackageError::bad(format!(
            "the tarball does not match its declared {what}: declared {declared}, the attachment's is {actual}"
        ))
    };
    if let Some(shasum) = field("shasum") {
        if !shasum.eq_ignore_ascii_case(&actual.sha1_hex) {
            return Err(mismatch("dist.shasum", shasum, &actual.sha1_hex));
        }
    }
    for entry in field("integrity").unwrap_or_default().split_whitespace() {
        // Options after `?` (SRI) are not part of the digest.
        let entry = entry.split('?').next().unwrap_or_default();
        let expected = match entry.split_once('-') {
            Some(("sha512", _)) => actual.sha512_integrity.clone(),
            Some(("sha1", _)) => format!("sha1-{}", b64(&actual.sha1_hex)),
            _ => continue,
        };
        if entry != expected {
            return Err(mismatch("dist.integrity", entry, &expected));
        }
    }
    Ok(())
}

/// A provenance bundle (`npm publish --provenance` or `--provenance-file`)
/// must be a Sigstore bundle whose DSSE statement has one subject, this
/// version (`pkg:npm/<name>@<version>`, a scope's `@` as `%40`) with the
/// tarball's SHA-512 — what npm itself checks before attaching it, and what
/// `npm audit signatures` checks when installing. With a pinned Sigstore
/// trusted root, the bundle's signature must verify against it too (its
/// Fulcio certificate and Rekor entry, offline).
fn check_provenance(
    bundle_name: &str,
    name: &str,
    version: &str,
    sha512_hex: &str,
    data: &str,
    root: Option<&cairn_core::trust::sigstore::TrustedRoot>,
) -> PackageResult<()> {
    let bad = |why: String| PackageError::bad(format!("{bundle_name}: {why}"));
    let bundle: Value =
        serde_json::from_str(data).map_err(|e| bad(format!("not a JSON sigstore bundle: {e}")))?;
    let payload = bundle
        .pointer("/dsseEnvelope/payload")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no dsseEnvelope with a payload".into()))?;
    let subject = cairn_core::trust::evidence::sole_subject(payload, "sha512")
        .map_err(|e| bad(e.to_string()))?;
    let expected = format!("pkg:npm/{}@{version}", name.replacen('@', "%40", 1));
    // A `?repository_url=` qualifier names the registry it was made for.
    let named = subject.name.split('?').next().unwrap_or("");
    if named != expected {
        return Err(bad(format!(
            "the provenance is about {named}, not {expected}"
        )));
    }
    let digest = subject.digest;
    if !digest.eq_ignore_ascii_case(sha512_hex) {
        return Err(bad(format!(
            "the provenance's subject digest is sha512 {digest}, the tarball's is {sha512_hex}"
        )));
    }
    if let Some(root) = root {
        let signed = cairn_core::trust::evidence::bundle(data.as_bytes(), None)
            .map_err(|e| bad(e.to_string()))?;
        for s in &signed {
            root.verify(s).map_err(|e| {
                bad(format!(
                    "the provenance's Sigstore signature does not verify against the trusted root: {e}"
                ))
            })?;
        }
    }
    Ok(())
}

/// The package.json of an npm tarball: `package/package.json`, or the one
/// package.json at the top of the tarball's single directory.
pub fn tarball_manifest(tgz: &[u8], limits: Limits) -> PackageResult<Value> {
    let is_manifest = |p: &str| p.matches('/').count() == 1 && p.ends_with("/package.json");
    let contents = archive::read_tar_gz(tgz, limits, is_manifest)
        .map_err(|e| PackageError::bad(format!("invalid tarball: {e}")))?;
    let bytes = contents
        .kept
        .get("package/package.json")
        .or_else(|| {
            (contents.kept.len() == 1)
                .then(|| contents.kept.values().next())
                .flatten()
        })
        .ok_or_else(|| PackageError::bad("invalid tarball: no package/package.json"))?;
    serde_json::from_slice(bytes)
        .map_err(|e| PackageError::bad(format!("invalid package.json in the tarball: {e}")))
}

impl NpmApi {
    /// `PUT /<name>`: a publish when it carries attachments, otherwise a
    /// change of existing versions (deprecate, or unpublish by omission).
    pub(crate) async fn put_package(
        &self,
        req: &Request,
        repo: &str,
        name: &str,
        body: &[u8],
    ) -> PackageResult {
        let doc: Value = serde_json::from_slice(body)
            .map_err(|e| PackageError::bad(format!("invalid JSON: {e}")))?;
        let has_attachments = doc
            .get("_attachments")
            .and_then(Value::as_object)
            .is_some_and(|a| !a.is_empty());
        if has_attachments {
            self.publish(req, repo, name, doc).await
        } else {
            self.update_versions(req, repo, name, doc).await
        }
    }

    async fn publish(&self, req: &Request, repo: &str, name: &str, doc: Value) -> PackageResult {
        let p = &self.packages;
        let key = key(name)?;
        p.check(req, NPM, repo, Some(&key), Action::Publish).await?;
        if doc.get("name").and_then(Value::as_str) != Some(name) {
            return Err(PackageError::bad(format!(
                "the document's name does not match the URL's ({name})"
            )));
        }
        let versions = doc
            .get("versions")
            .and_then(Value::as_object)
            .ok_or_else(|| PackageError::bad("no versions"))?;
        let [(version, manifest)] = versions.iter().collect::<Vec<_>>()[..] else {
            return Err(PackageError::bad("a publish carries exactly one version"));
        };
        check_version(version).map_err(PackageError::bad)?;
        let semver = semver::Version::parse(version)
            .map_err(|e| PackageError::bad(format!("invalid version {version:?}: {e}")))?;
        let attachments = doc["_attachments"]
            .as_object()
            .expect("checked by the caller");
        // npm names attachments after the full name (`@scope/pkg-1.0.0.tgz`);
        // cairn files them under the bare name, as tarball URLs spell it.
        let file = tarball_name(name, version);
        let attached = |file: &str, ext: &str| {
            let full = format!("{name}-{version}.{ext}");
            [full, file.to_string()]
                .into_iter()
                .find(|k| attachments.contains_key(k))
        };
        let tarball_key = attached(&file, "tgz").ok_or_else(|| {
            PackageError::bad(format!(
                "the tarball attachment {name}-{version}.tgz is missing"
            ))
        })?;
        let tarball = &attachments[&tarball_key];
        let tgz = base64::engine::general_purpose::STANDARD
            .decode(
                tarball
                    .get("data")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            )
            .map_err(|e| PackageError::bad(format!("attachment {file} is not base64: {e}")))?;
        if tarball
            .get("length")
            .and_then(Value::as_u64)
            .is_some_and(|l| l != tgz.len() as u64)
        {
            return Err(PackageError::bad(format!(
                "attachment {file}: length does not match its data"
            )));
        }
        let limits = Limits {
            max_total: p.config.max_upload_bytes.saturating_mul(8),
            ..Limits::default()
        };
        let inner = tarball_manifest(&tgz, limits)?;
        let inner_version = inner
            .get("version")
            .and_then(Value::as_str)
            .and_then(|v| semver::Version::parse(v).ok());
        if inner.get("name").and_then(Value::as_str) != Some(name)
            || inner_version.as_ref() != Some(&semver)
        {
            return Err(PackageError::bad(format!(
                "the tarball's package.json names {}@{}, not {name}@{version}",
                inner.get("name").and_then(Value::as_str).unwrap_or("?"),
                inner.get("version").and_then(Value::as_str).unwrap_or("?"),
            )));
        }

        let digests = cairn_packages::digests_of(&tgz);
        check_declared(manifest, &digests)?;
        let bundle_name = sigstore_name(name, version);
        let bundle_key = attached(&bundle_name, "sigstore");
        // The provenance must be about this tarball, checked before anything
        // is stored.
        let bundle_data = match bundle_key.as_ref().map(|k| &attachments[k]) {
            Some(bundle) => {
                let data = bundle
                    .get("data")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                check_provenance(
                    &bundle_name,
                    name,
                    version,
                    &digests.sha512_hex,
                    data,
                    p.config.trust.sigstore_root().as_deref(),
                )?;
                Some(data)
            }
            None => None,
        };
        let tarball_name = format!("{name}-{version}.tgz");
        p.refuse_secrets(
            &req.actor(),
            PackageRef::new(NPM, repo, &key),
            cairn_packages::secrets::Publish::File {
                filename: &tarball_name,
                bytes: &tgz,
            },
        )
        .await?;
        let stored = p.store(tgz.into()).await?;
        let mut files = vec![stored.record(&file, version, json!({}))];
        let bundle = match bundle_data {
            Some(data) => {
                let bundle = p.store(data.as_bytes().to_vec().into()).await?;
                files.push(bundle.record(&bundle_name, version, json!({"kind": "provenance"})));
                Some(bundle)
            }
            None => None,
        };
        if let Some(other) = attachments
            .keys()
            .find(|k| **k != tarball_key && Some(*k) != bundle_key.as_ref())
        {
            return Err(PackageError::bad(format!("unexpected attachment {other}")));
        }

        let mut manifest = manifest.clone();
        let obj = manifest
            .as_object_mut()
            .ok_or_else(|| PackageError::bad("a version is a JSON object"))?;
        obj.insert(
            "dist".into(),
            json!({
                "shasum": stored.digests.sha1_hex,
                "integrity": stored.digests.sha512_integrity,
            }),
        );
        obj.remove("deprecated");
        let mut dependencies: Vec<String> = RUNTIME_DEPENDENCIES
            .iter()
            .filter_map(|f| obj.get(*f).and_then(Value::as_object))
            .flat_map(|deps| deps.keys())
            .filter_map(|d| crate::key(d).ok())
            .collect();
        dependencies.sort();
        dependencies.dedup();
        let mut tags: Vec<String> = doc
            .get("dist-tags")
            .and_then(Value::as_object)
            .map(|t| {
                t.iter()
                    .filter(|(_, v)| v.as_str() == Some(version))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        if tags.is_empty() {
            tags.push("latest".into());
        }
        let new = NewVersion {
            format: NPM,
            repository: repo.to_string(),
            package: key.clone(),
            name: name.to_string(),
            version: version.clone(),
            metadata: manifest.to_string(),
            dependencies,
            files,
            tags,
            owner: Some(req.auth.principal.name().to_string()),
        };
        let held: Vec<&cairn_packages::StoredFile> =
            std::iter::once(&stored).chain(bundle.as_ref()).collect();
        p.publish(&new, &held, PublishMode::NewVersion, &req.actor())
            .await?;
        tracing::info!(package = name, version = %version, repository = repo, "npm publish");
        Ok(Json(json!({"ok": true, "id": name})).into_response())
    }

    /// `npm deprecate` (a version's `deprecated` changed) and the first step
    /// of `npm unpublish name@version` (the version is missing).
    async fn update_versions(
        &self,
        req: &Request,
        repo: &str,
        name: &str,
        doc: Value,
    ) -> PackageResult {
        let p = &self.packages;
        p.check(req, NPM, repo, Some(&key(name)?), Action::Yank)
            .await?;
        let pkg = self.live_package(repo, name).await?;
        let sent = doc
            .get("versions")
            .and_then(Value::as_object)
            .ok_or_else(|| PackageError::bad("no versions"))?;
        let policy = p.policy(NPM, repo);
        let actor = req.actor();
        let mut unpublished_any = false;
        for v in pkg.versions.iter().filter(|v| v.state.serves_bytes()) {
            let transition = match sent.get(&v.version) {
                None => Some(Transition::Unpublish),
                Some(m) => {
                    let wanted = m.get("deprecated").and_then(Value::as_str).unwrap_or("");
                    match (v.state, wanted) {
                        (VersionState::Deprecated, "") => Some(Transition::Undeprecate),
                        (_, "") => None,
                        (VersionState::Deprecated, msg) if v.message.as_deref() == Some(msg) => {
                            None
                        }
                        (_, msg) => Some(Transition::Deprecate {
                            message: msg.to_string(),
                        }),
                    }
                }
            };
            if let Some(t) = transition {
                unpublished_any |= t == Transition::Unpublish;
                p.meta
                    .change_version(
                        PackageRef::new(NPM, repo, &pkg.package),
                        &v.version,
                        &t,
                        &policy,
                        false,
                        &actor,
                    )
                    .await?;
            }
        }
        if unpublished_any {
            self.repair_latest(req, repo, &pkg.package).await?;
        }
        Ok(ok())
    }

    /// After an unpublish took `latest` away, points it at the highest live version.
    async fn repair_latest(&self, req: &Request, repo: &str, key: &str) -> PackageResult<()> {
        let Some(pkg) = self
            .packages
            .meta
            .package(PackageRef::new(NPM, repo, key))
            .await?
        else {
            return Ok(());
        };
        if pkg.tags.contains_key("latest") {
            return Ok(());
        }
        let highest = semver_sorted(&pkg.versions)
            .into_iter()
            .rev()
            .find(|v| v.state.serves_bytes());
        if let Some(v) = highest {
            self.packages
                .meta
                .set_dist_tag(
                    PackageRef::new(NPM, repo, key),
                    "latest",
                    Some(&v.version),
                    &req.actor(),
                )
                .await?;
        }
        Ok(())
    }

    /// `DELETE /<name>/-rev/<rev>`: `npm unpublish <name> --force`, every
    /// live version, oldest first (so the window refuses before anything changes).
    /// The endpoint declares `yank` on the package; the guard has decided it.
    pub(crate) async fn unpublish_package(
        &self,
        req: &Request,
        repo: &str,
        name: &str,
    ) -> PackageResult {
        let p = &self.packages;
        let pkg: PackageRecord = self.live_package(repo, name).await?;
        let policy = p.policy(NPM, repo);
        for v in pkg.versions.iter().filter(|v| v.state.serves_bytes()) {
            p.meta
                .change_version(
                    PackageRef::new(NPM, repo, &pkg.package),
                    &v.version,
                    &Transition::Unpublish,
                    &policy,
                    false,
                    &req.actor(),
                )
                .await?;
        }
        Ok(ok())
    }

    /// `DELETE /<name>/-/<file>/-rev/<rev>`: the last step of `npm unpublish
    /// name@version`; unpublishes the file's version if it is still live.
    /// The endpoint declares `yank` on the package; the guard has decided it.
    pub(crate) async fn delete_tarball(
        &self,
        req: &Request,
        repo: &str,
        name: &str,
        file: &str,
    ) -> PackageResult {
        let p = &self.packages;
        let key = key(name)?;
        let Some((record, state)) = p
            .meta
            .package_file(PackageRef::new(NPM, repo, &key), file)
            .await?
        else {
            return Err(PackageError::not_found(format!("no file {file}")));
        };
        if state.serves_bytes() {
            let policy = p.policy(NPM, repo);
            p.meta
                .change_version(
                    PackageRef::new(NPM, repo, &key),
                    &record.version,
                    &Transition::Unpublish,
                    &policy,
                    false,
                    &req.actor(),
                )
                .await?;
            self.repair_latest(req, repo, &key).await?;
        }
        Ok(ok())
    }

    /// `npm dist-tag add` (PUT or POST, the body a JSON string) and `rm`.
    /// The endpoint declares `publish` on the package; the guard has decided it.
    pub(crate) async fn change_dist_tag(
        &self,
        req: &Request,
        repo: &str,
        name: &str,
        tag: &str,
        body: &[u8],
    ) -> PackageResult {
        let p = &self.packages;
        let key = key(name)?;
        if semver::Version::parse(tag).is_ok() || tag.is_empty() || tag.contains('/') {
            return Err(PackageError::bad(format!(
                "invalid dist-tag {tag:?}: a tag may not be a version"
            )));
        }
        let actor = req.actor();
        if req.method == axum::http::Method::DELETE {
            if tag == "latest" {
                return Err(PackageError::bad(
                    "the latest tag cannot be removed; point it at another version",
                ));
            }
            if !p
                .meta
                .set_dist_tag(PackageRef::new(NPM, repo, &key), tag, None, &actor)
                .await?
            {
                return Err(PackageError::not_found(format!(
                    "no dist-tag {tag} on {name}"
                )));
            }
        } else {
            let version: String = serde_json::from_slice(body)
                .map_err(|_| PackageError::bad("the body is the version, as a JSON string"))?;
            p.meta
                .set_dist_tag(
                    PackageRef::new(NPM, repo, &key),
                    tag,
                    Some(&version),
                    &actor,
                )
                .await?;
        }
        Ok(ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary bytes as a tarball are refused cleanly, never a panic.
        #[test]
        fn tarball_manifest_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = tarball_manifest(&bytes, Limits::default());
        }
    }
}
