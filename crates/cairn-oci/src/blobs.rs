//! Blob reads, deletes and uploads (monolithic, chunked, streamed, mounts).

use crate::error::{upload_range, OciError, OciResult};
use crate::{OciApi, Request};
use axum::body::Body;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use cairn_core::access::authorize;
use cairn_core::{Action, Digest, RepoName};
use cairn_store::ByteStream;
use futures::{StreamExt, TryStreamExt};

pub(crate) const DOCKER_CONTENT_DIGEST: HeaderName =
    HeaderName::from_static("docker-content-digest");
const DOCKER_UPLOAD_UUID: HeaderName = HeaderName::from_static("docker-upload-uuid");
/// Content addressed by digest never changes: let every cache keep it.
pub(crate) const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The request body as a byte stream for the store.
fn body_stream(body: Body) -> ByteStream {
    body.into_data_stream()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, e.to_string()))
        .boxed()
}

/// Whether an `If-None-Match` header matches this digest's ETag.
pub(crate) fn etag_matches(req: &Request, digest: &Digest) -> bool {
    let etag = format!("\"{digest}\"");
    req.header(header::IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// Parses `Range: bytes=a-b` (also `a-` and `-n`) against a blob of `size` bytes,
/// returning the half-open range to serve.
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // multiple ranges are not served
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.saturating_sub(n), size)
        }
        (a, "") => (a.parse().ok()?, size),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.saturating_add(1).min(size),
        ),
    };
    (start < end && start < size).then_some((start, end))
}

impl OciApi {
    pub(crate) async fn get_blob(
        &self,
        name: &RepoName,
        digest: &Digest,
        req: &Request,
    ) -> OciResult {
        let size = self
            .meta
            .linked_blob(name.as_str(), digest)
            .await?
            .ok_or_else(|| OciError::blob_unknown(format!("blob {digest} is not in {name}")))?;
        self.refuse_held(digest).await?;
        self.serve_blob(digest, size, req).await
    }

    /// Serves a stored blob the repository holds: a 304 for its ETag, a
    /// redirect to the object store when enabled, a range, or the bytes.
    pub(crate) async fn serve_blob(&self, digest: &Digest, size: u64, req: &Request) -> OciResult {
        let d = digest.to_string();
        let etag = format!("\"{d}\"");
        let common = [
            (DOCKER_CONTENT_DIGEST, d.as_str()),
            (header::ETAG, etag.as_str()),
            (header::CACHE_CONTROL, IMMUTABLE),
            (header::ACCEPT_RANGES, "bytes"),
        ];
        if etag_matches(req, digest) {
            return Ok((StatusCode::NOT_MODIFIED, common).into_response());
        }
        // With redirects enabled, bytes come straight from the object store.
        if req.method == axum::http::Method::GET {
            if let Some(url) = self.blobs.store().download_url(digest).await? {
                let mut resp = (StatusCode::TEMPORARY_REDIRECT, common).into_response();
                resp.headers_mut().insert(
                    header::LOCATION,
                    url.parse()
                        .map_err(|_| OciError::internal("unusable download URL"))?,
                );
                // The URL expires; the redirect itself must not be cached for long.
                resp.headers_mut()
                    .insert(header::CACHE_CONTROL, "no-store".parse().expect("header"));
                return Ok(resp);
            }
        }
        let range = match req.header(header::RANGE) {
            Some(r) => Some(parse_range(r, size).ok_or_else(|| {
                OciError::range_invalid(format!("range {r:?} cannot be served from {size} bytes"))
                    .with_header(header::CONTENT_RANGE, &format!("bytes */{size}"))
            })?),
            None => None,
        };
        let (status, len) = match range {
            Some((start, end)) => (StatusCode::PARTIAL_CONTENT, end - start),
            None => (StatusCode::OK, size),
        };
        let mut resp = if req.method == axum::http::Method::HEAD {
            Response::new(Body::empty())
        } else {
            let stream = self
                .blobs
                .store()
                .read(digest, range)
                .await?
                .ok_or_else(|| {
                    OciError::blob_unknown(format!("blob {digest} is missing from storage"))
                })?;
            Response::new(Body::from_stream(stream))
        };
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        for (k, v) in common {
            h.insert(k, v.parse().expect("header"));
        }
        h.insert(
            header::CONTENT_TYPE,
            "application/octet-stream".parse().expect("header"),
        );
        h.insert(header::CONTENT_LENGTH, len.into());
        if let Some((start, end)) = range {
            let cr = format!("bytes {start}-{}/{size}", end - 1);
            h.insert(header::CONTENT_RANGE, cr.parse().expect("header"));
        }
        Ok(resp)
    }

    pub(crate) async fn delete_blob(
        &self,
        name: &RepoName,
        digest: &Digest,
        req: &Request,
    ) -> OciResult {
        // Only the repository's link goes; the bytes stay for other
        // repositories until garbage collection finds them unreferenced.
        if !self
            .meta
            .unlink_blob(name.as_str(), digest, &req.actor())
            .await?
        {
            return Err(OciError::blob_unknown(format!(
                "blob {digest} is not in {name}"
            )));
        }
        tracing::info!(repository = %name, %digest, "blob deleted");
        Ok(StatusCode::ACCEPTED.into_response())
    }

    /// `POST /v2/<name>/blobs/uploads/`: mount, monolithic upload, or a new session.
    pub(crate) async fn start_upload(
        &self,
        name: &RepoName,
        req: &Request,
        body: Body,
    ) -> OciResult {
        if let Some(mount) = req.query("mount") {
            let digest: Digest = mount.parse()?;
            if let Some(resp) = self
                .try_mount(name, &digest, req.query("from"), req)
                .await?
            {
                return Ok(resp);
            }
        } else if let Some(d) = req.query("digest") {
            let digest: Digest = d.parse()?;
            let expected = req.content_length();
            let size = self.blobs.put(&digest, expected, body_stream(body)).await?;
            return self.blob_created(name, &digest, size, req).await;
        }
        let id = self.blobs.start().await?;
        self.meta.create_upload(&id, name.as_str()).await?;
        Ok(upload_accepted(name, &id, 0))
    }

    /// Mounts `digest` into `name` from `from`, or from any repository when
    /// `from` is absent. `None` means the blob is not available to mount.
    async fn try_mount(
        &self,
        name: &RepoName,
        digest: &Digest,
        from: Option<String>,
        req: &Request,
    ) -> Result<Option<Response>, OciError> {
        let size = match from.as_deref().map(RepoName::parse) {
            Some(Ok(from)) => {
                if self.check(req, from.as_str(), Action::Read).await.is_err() {
                    return Ok(None);
                }
                self.meta.linked_blob(from.as_str(), digest).await?
            }
            Some(Err(_)) => None,
            // No `from`: mount from any repository holding the blob that the
            // caller may read, so a digest never leaks a private repository's blob.
            None => self
                .meta
                .blob_holders(digest, 100)
                .await?
                .into_iter()
                .find(|(repo, _)| {
                    authorize(&self.config.access, &req.auth.principal, repo, Action::Read).is_ok()
                })
                .map(|(_, size)| size),
        };
        let Some(size) = size else { return Ok(None) };
        if self.blobs.store().stat(digest).await?.is_none() {
            return Ok(None);
        }
        match self.blob_created(name, digest, size, req).await {
            Ok(resp) => Ok(Some(resp)),
            // Being garbage-collected: the client uploads it instead.
            Err(e) if e.code == "BLOB_UNKNOWN" => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn blob_created(
        &self,
        name: &RepoName,
        digest: &Digest,
        size: u64,
        req: &Request,
    ) -> OciResult {
        self.meta
            .link_blob(name.as_str(), digest, size, &req.actor())
            .await?;
        metrics::counter!("cairn_blob_bytes_received_total").increment(size);
        tracing::info!(repository = %name, %digest, size, "blob stored");
        let location = format!("/v2/{name}/blobs/{digest}");
        Ok((
            StatusCode::CREATED,
            [
                (header::LOCATION, location),
                (DOCKER_CONTENT_DIGEST, digest.to_string()),
                (header::CONTENT_LENGTH, "0".to_string()),
            ],
        )
            .into_response())
    }

    /// Checks that upload `id` exists and belongs to `name`.
    async fn owned_upload(&self, name: &RepoName, id: &str) -> Result<(), OciError> {
        match self.meta.upload_repository(id).await? {
            Some(repo) if repo == name.as_str() => Ok(()),
            _ => Err(OciError::blob_upload_unknown(format!(
                "upload {id} is not in progress in {name}"
            ))),
        }
    }

    pub(crate) async fn upload_status(&self, name: &RepoName, id: &str) -> OciResult {
        self.owned_upload(name, id).await?;
        let size = self.blobs.size(id).await?;
        let mut resp = upload_accepted(name, id, size);
        *resp.status_mut() = StatusCode::NO_CONTENT;
        Ok(resp)
    }

    /// `PATCH`: appends a chunk (`Content-Range: start-end`) or streams the body.
    pub(crate) async fn patch_upload(
        &self,
        name: &RepoName,
        id: &str,
        req: &Request,
        body: Body,
    ) -> OciResult {
        self.owned_upload(name, id).await?;
        let (offset, expected) = chunk_bounds(req)?;
        let size = self
            .blobs
            .append(id, offset, expected, body_stream(body))
            .await?;
        self.meta.touch_upload(id, size).await?;
        Ok(upload_accepted(name, id, size))
    }

    /// `PUT ?digest=`: appends an optional last chunk, verifies, publishes.
    pub(crate) async fn finish_upload(
        &self,
        name: &RepoName,
        id: &str,
        req: &Request,
        body: Body,
    ) -> OciResult {
        self.owned_upload(name, id).await?;
        let digest: Digest = req
            .query("digest")
            .ok_or_else(|| OciError::digest_invalid("the digest query parameter is required"))?
            .parse::<Digest>()?;
        let (offset, expected) = chunk_bounds(req)?;
        let has_body = req.content_length().is_some_and(|n| n > 0)
            || req.headers.contains_key(header::TRANSFER_ENCODING);
        if has_body {
            self.blobs
                .append(id, offset, expected, body_stream(body))
                .await?;
        }
        let size = match self.blobs.finish(id, &digest).await {
            Ok(size) => size,
            Err(e) => {
                if matches!(e, cairn_store::UploadError::DigestMismatch { .. }) {
                    self.meta.delete_upload(id).await?;
                }
                return Err(e.into());
            }
        };
        self.meta.delete_upload(id).await?;
        self.blob_created(name, &digest, size, req).await
    }

    pub(crate) async fn cancel_upload(&self, name: &RepoName, id: &str) -> OciResult {
        self.owned_upload(name, id).await?;
        self.blobs.abort(id).await?;
        self.meta.delete_upload(id).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

/// Where a chunk starts and how long it is, from `Content-Range` (and
/// `Content-Length`, which must agree with it): `(None, _)` means "append".
fn chunk_bounds(req: &Request) -> Result<(Option<u64>, Option<u64>), OciError> {
    let Some(r) = req.header(header::CONTENT_RANGE) else {
        return Ok((None, req.content_length()));
    };
    let (start, end) = parse_content_range(r)
        .ok_or_else(|| OciError::range_invalid(format!("invalid Content-Range {r:?}")))?;
    let len = end - start + 1;
    if req.content_length().is_some_and(|cl| cl != len) {
        return Err(OciError::range_invalid(
            "Content-Length does not match Content-Range",
        ));
    }
    Ok((Some(start), Some(len)))
}

/// `Content-Range: <start>-<end>` (the OCI form), also accepting `bytes <start>-<end>/<total>`.
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let v = value.trim();
    let v = v.strip_prefix("bytes ").unwrap_or(v);
    let v = v.split('/').next()?;
    let (a, b) = v.split_once('-')?;
    let (start, end): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (end >= start).then_some((start, end))
}

fn upload_accepted(name: &RepoName, id: &str, size: u64) -> Response {
    (
        StatusCode::ACCEPTED,
        [
            (header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}")),
            (header::RANGE, upload_range(size)),
            (DOCKER_UPLOAD_UUID, id.to_string()),
            (header::CONTENT_LENGTH, "0".to_string()),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-4", 10), Some((0, 5)));
        assert_eq!(parse_range("bytes=5-", 10), Some((5, 10)));
        assert_eq!(parse_range("bytes=-3", 10), Some((7, 10)));
        assert_eq!(parse_range("bytes=8-100", 10), Some((8, 10)));
        assert_eq!(parse_range("bytes=10-", 10), None);
        assert_eq!(parse_range("bytes=0-1,3-4", 10), None);
        assert_eq!(parse_range("items=0-1", 10), None);
        assert_eq!(parse_content_range("0-9"), Some((0, 9)));
        assert_eq!(parse_content_range("bytes 10-19/*"), Some((10, 19)));
        assert_eq!(parse_content_range("9-0"), None);
    }
}
