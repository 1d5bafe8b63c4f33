//! Manifests by tag or digest: PUT, GET, HEAD, DELETE.

use crate::blobs::{etag_matches, DOCKER_CONTENT_DIGEST, IMMUTABLE};
use crate::error::{OciError, OciResult};
use crate::{OciApi, Request};
use axum::body::Body;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::IntoResponse;
use bytes::Bytes;
use cairn_core::manifest::{parse_manifest, ManifestKind};
use cairn_core::{Digest, Reference, RepoName, Tag};
use cairn_store::{ManifestRecord, StoreError};
use futures::TryStreamExt;

const OCI_SUBJECT: HeaderName = HeaderName::from_static("oci-subject");
const OCI_TAG: HeaderName = HeaderName::from_static("oci-tag");

impl OciApi {
    /// Reads a request body, refusing it once it passes `limit` bytes.
    async fn read_limited(&self, body: Body, limit: usize) -> Result<Bytes, OciError> {
        let too_large = || OciError::too_large(format!("manifest exceeds the {limit}-byte limit"));
        let mut stream = body.into_data_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| OciError::manifest_invalid(format!("could not read the body: {e}")))?
        {
            if buf.len() + chunk.len() > limit {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.into())
    }

    pub(crate) async fn put_manifest(
        &self,
        name: &RepoName,
        reference: &Reference,
        req: &Request,
        body: Body,
    ) -> OciResult {
        let limit = self.config.max_manifest_bytes;
        if req.content_length().is_some_and(|n| n > limit as u64) {
            return Err(OciError::too_large(format!(
                "manifest exceeds the {limit}-byte limit"
            )));
        }
        // `?tag=` parameters (OCI 1.1): tags set in the same transaction,
        // each acknowledged with an `OCI-Tag` response header.
        let mut tags = Vec::new();
        for t in req.query_all("tag") {
            tags.push(Tag::parse(&t).map_err(|e| OciError::manifest_invalid(e.to_string()))?);
        }
        let param_tags = tags.clone();
        let wanted_digest = match req.query("digest") {
            Some(d) => Some(d.parse::<Digest>()?),
            None => None,
        };
        let content_type = req.header(header::CONTENT_TYPE).map(str::to_string);
        let expected_len = req.content_length();
        let bytes = self.read_limited(body, limit).await?;
        if expected_len.is_some_and(|n| n != bytes.len() as u64) {
            return Err(OciError::size_invalid(
                "body length does not match Content-Length",
            ));
        }
        // The digest the client names (in the path, or `?digest=` beside a
        // tag) must be the digest of the bytes; a tag alone means sha256.
        let claimed = match reference {
            Reference::Digest(d) => Some(d.clone()),
            Reference::Tag(t) => {
                tags.push(t.clone());
                wanted_digest
            }
        };
        let digest = match claimed {
            Some(d) => {
                let actual = Digest::of(d.algorithm(), &bytes);
                if actual != d {
                    return Err(OciError::digest_invalid(format!(
                        "manifest digest is {actual}, not {d}"
                    )));
                }
                actual
            }
            None => Digest::sha256_of(&bytes),
        };
        let parsed = parse_manifest(content_type.as_deref(), &bytes)
            .map_err(|e| OciError::manifest_invalid(e.to_string()))?;
        let stored = self.check_references(name, &parsed).await?;
        self.refuse_secrets(name, &digest, &parsed, &req.actor())
            .await?;
        let sbom = match crate::sbom::carried(&parsed, &tags) {
            Some(carried) => match self
                .read_sbom(&carried, &crate::signatures::LayerSource::Stored)
                .await
            {
                Ok(doc) => Some((carried, doc)),
                Err(e) if carried.claimed => return Err(e),
                Err(e) => {
                    tracing::warn!(repository = %name, error = %e.message, "an artifact typed as an SBOM is stored without being indexed");
                    None
                }
            },
            None => None,
        };

        // Blob first, metadata second: the bytes are durable before any
        // record points at them.
        self.blobs.put_bytes(&digest, bytes.clone()).await?;
        self.manifest_cache.insert(digest.clone(), bytes.clone());
        let record = ManifestRecord {
            repository: name.to_string(),
            digest: digest.clone(),
            media_type: parsed.media_type.clone(),
            size: bytes.len() as u64,
            subject: parsed.subject.as_ref().map(|s| s.digest.clone()),
            artifact_type: parsed.artifact_type.clone(),
            annotations: parsed
                .annotations
                .as_ref()
                .map(|a| serde_json::to_string(a).expect("string map")),
        };
        let tag_names: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        let changes = self
            .meta
            .put_manifest(
                &record,
                &parsed.references(),
                &stored,
                &tag_names,
                &self.config.tag_rules,
                &req.actor(),
            )
            .await
            .map_err(|e| match e {
                // Collected between the check above and this write: the
                // client uploads it again.
                e @ StoreError::BlobUnknown(_) => OciError::manifest_blob_unknown(e.to_string()),
                e => e.into(),
            })?;
        if let Some((carried, doc)) = &sbom {
            self.index_sbom(name, &digest, carried, doc, None, &req.actor())
                .await?;
        }
        if crate::signatures::is_signature_artifact(&parsed) {
            self.record_signatures(name.as_str(), &digest, &parsed)
                .await?;
        }
        self.attest_push(
            name,
            &digest,
            &parsed,
            bytes.len() as u64,
            &tag_names,
            &req.actor(),
        )
        .await;
        for (tag, change) in tag_names.iter().zip(&changes) {
            tracing::info!(repository = %name, %tag, %digest, ?change, "tag set");
        }
        tracing::info!(repository = %name, %digest, media_type = %parsed.media_type, "manifest stored");
        let mut resp = (
            StatusCode::CREATED,
            [
                (header::LOCATION, format!("/v2/{name}/manifests/{digest}")),
                (DOCKER_CONTENT_DIGEST, digest.to_string()),
                (header::CONTENT_LENGTH, "0".to_string()),
            ],
        )
            .into_response();
        for tag in &param_tags {
            resp.headers_mut()
                .append(OCI_TAG, tag.as_str().parse().expect("tag header"));
        }
        if let Some(subject) = &parsed.subject {
            resp.headers_mut().insert(
                OCI_SUBJECT,
                subject.digest.to_string().parse().expect("digest header"),
            );
        }
        Ok(resp)
    }

    /// Every blob an image manifest names, and every manifest an index names,
    /// must already be in the repository, unless the repository takes sparse
    /// manifests (`oci.sparse_repositories`); a blob that is there must have
    /// the size its descriptor says. The subject need not exist.
    /// Checks that what the manifest names is stored (except what may be
    /// absent: non-distributable layers, and anything in a sparse
    /// repository); returns the digests found stored, which the store
    /// claims when it records the manifest.
    async fn check_references(
        &self,
        name: &RepoName,
        parsed: &cairn_core::manifest::ParsedManifest,
    ) -> Result<Vec<Digest>, OciError> {
        let sparse = self.config.sparse.matches(name.as_str());
        let mut stored = Vec::new();
        for blob in parsed.blobs.iter().filter(|b| !b.may_be_absent()) {
            match self.meta.linked_blob(name.as_str(), &blob.digest).await? {
                None if sparse => continue,
                None => {
                    return Err(OciError::manifest_blob_unknown(format!(
                        "blob {} is not in {name}: push it first",
                        blob.digest
                    )))
                }
                Some(size) if size != blob.size => {
                    return Err(OciError::manifest_invalid(format!(
                        "descriptor of {} says {} bytes, the blob has {size}",
                        blob.digest, blob.size
                    )))
                }
                Some(_) => {}
            }
            stored.push(blob.digest.clone());
        }
        if parsed.kind == ManifestKind::Index && !sparse {
            for m in &parsed.manifests {
                if self
                    .meta
                    .manifest(name.as_str(), &m.digest)
                    .await?
                    .is_none()
                {
                    return Err(OciError::manifest_blob_unknown(format!(
                        "manifest {} is not in {name}: push it first",
                        m.digest
                    )));
                }
                stored.push(m.digest.clone());
            }
        }
        Ok(stored)
    }

    /// The manifest record a reference names in a repository, in one lookup.
    pub(crate) async fn find_manifest(
        &self,
        name: &RepoName,
        reference: &Reference,
    ) -> Result<ManifestRecord, OciError> {
        let record = match reference {
            Reference::Digest(d) => self.meta.manifest(name.as_str(), d).await?,
            Reference::Tag(t) => self.meta.tagged_manifest(name.as_str(), t.as_str()).await?,
        };
        record.ok_or_else(|| {
            OciError::manifest_unknown(format!("manifest {reference} is not in {name}"))
        })
    }

    /// A manifest's bytes: from the in-memory cache, which is safe to share
    /// across repositories and replicas because it is keyed by digest, or
    /// else read whole from the blob store (manifests are size-limited).
    pub(crate) async fn manifest_bytes(&self, digest: &Digest) -> Result<Bytes, OciError> {
        if let Some(bytes) = self.manifest_cache.get(digest) {
            return Ok(bytes);
        }
        let bytes = self.blobs.read_whole(digest).await?.ok_or_else(|| {
            OciError::internal(format!("manifest {digest} is missing from storage"))
        })?;
        self.manifest_cache.insert(digest.clone(), bytes.clone());
        Ok(bytes)
    }

    /// The vulnerability policy covering the repository, if any, on the
    /// manifest `digest`: by tag or by digest, GET or HEAD, hosted or
    /// proxied, the same decision. A refusal is `DENIED`; the warning a
    /// publisher's read carries is returned.
    pub(crate) async fn vuln_check(
        &self,
        req: &Request,
        name: &RepoName,
        digest: &Digest,
    ) -> Result<Option<String>, OciError> {
        if self.vulns.is_open() {
            return Ok(None);
        }
        let subject = cairn_store::sbom::SbomSubject {
            format: "oci".into(),
            repository: name.to_string(),
            subject: digest.to_string(),
            version: String::new(),
        };
        let resource = cairn_http::Resource::repository(name.as_str());
        match self
            .vulns
            .check(&req.auth.principal, &resource, subject)
            .await?
        {
            cairn_core::vuln_policy::Verdict::Refuse(why) => Err(OciError::denied(why)),
            cairn_core::vuln_policy::Verdict::ServeWithWarning(why) => Ok(Some(why)),
            cairn_core::vuln_policy::Verdict::Serve => Ok(None),
        }
    }

    pub(crate) async fn get_manifest(
        &self,
        name: &RepoName,
        reference: &Reference,
        req: &Request,
    ) -> OciResult {
        let record = self.find_manifest(name, reference).await?;
        let digest = record.digest.clone();
        self.refuse_held(&digest).await?;
        let warning = self.vuln_check(req, name, &digest).await?;
        // The signature policy covering the repository, if any: the same
        // decision for every way of reading the manifest.
        let mut body = None;
        let mut unsigned = None;
        if cairn_core::trust::policy_for(&self.signatures.policies, name.as_str()).is_some() {
            let bytes = self.manifest_bytes(&digest).await?;
            unsigned = self
                .signature_check(req, name.as_str(), reference, &digest, &bytes)
                .await?;
            body = Some(bytes);
        }
        if req.method == axum::http::Method::GET {
            self.note_pull(name.as_str(), &digest);
        }
        let by_digest = matches!(reference, Reference::Digest(_));
        let d = digest.to_string();
        let headers = [
            (header::CONTENT_TYPE, record.media_type.clone()),
            (DOCKER_CONTENT_DIGEST, d.clone()),
            (header::ETAG, format!("\"{d}\"")),
            (
                header::CACHE_CONTROL,
                if by_digest {
                    IMMUTABLE.to_string()
                } else {
                    "no-cache".to_string()
                },
            ),
            (header::CONTENT_LENGTH, record.size.to_string()),
        ];
        let warn = |mut resp: axum::response::Response| {
            if let Some(v) = warning.as_deref().and_then(|w| w.parse().ok()) {
                resp.headers_mut()
                    .insert(cairn_http::vulns::WARNING_HEADER, v);
            }
            if let Some(v) = unsigned.as_deref().and_then(|w| w.parse().ok()) {
                resp.headers_mut()
                    .insert(crate::signatures::UNSIGNED_HEADER, v);
            }
            resp
        };
        if etag_matches(req, &digest) {
            let mut resp = (StatusCode::NOT_MODIFIED, headers).into_response();
            resp.headers_mut().remove(header::CONTENT_LENGTH);
            return Ok(warn(resp));
        }
        if req.method == axum::http::Method::HEAD {
            return Ok(warn((StatusCode::OK, headers).into_response()));
        }
        let bytes = match body {
            Some(b) => b,
            None => self.manifest_bytes(&digest).await?,
        };
        Ok(warn((StatusCode::OK, headers, bytes).into_response()))
    }

    /// Removes the tag `tag` of `name` (the manifest stays), under the tag
    /// rules (an immutable tag is refused), audited as `actor`'s: a
    /// client's `DELETE /v2/<name>/manifests/<tag>`, or the admin API's.
    /// Whether the tag existed.
    pub async fn untag(
        &self,
        name: &RepoName,
        tag: &str,
        actor: &cairn_store::Actor,
    ) -> Result<bool, OciError> {
        Ok(self
            .meta
            .delete_tag(name.as_str(), tag, &self.config.tag_rules, actor)
            .await?)
    }

    pub(crate) async fn delete_manifest(
        &self,
        name: &RepoName,
        reference: &Reference,
        req: &Request,
    ) -> OciResult {
        let rules = &self.config.tag_rules;
        let found = match reference {
            Reference::Tag(t) => self.untag(name, t.as_str(), &req.actor()).await?,
            Reference::Digest(d) => {
                self.meta
                    .delete_manifest(name.as_str(), d, rules, &req.actor())
                    .await?
            }
        };
        if !found {
            return Err(OciError::manifest_unknown(format!(
                "{reference} is not in {name}"
            )));
        }
        tracing::info!(repository = %name, %reference, "manifest reference deleted");
        Ok(StatusCode::ACCEPTED.into_response())
    }
}
