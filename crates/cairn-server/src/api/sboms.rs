//! SBOMs and the component index over the admin API: the component query
//! (`GET /components`), a subject's SBOMs (`GET /sboms`) and attaching an
//! SBOM to a package version (`PUT /sboms`). The resource is named in the
//! query, so each handler decides it through the guard; component answers
//! are filtered by the caller's read access to each one's repository.

use super::{ApiError, ApiResult, Who};
use crate::AppState;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use cairn_core::purl::Purl;
use cairn_core::{Action, Digest, Format};
use cairn_http::Resource;
use cairn_store::sbom::{
    ComponentCursor, ComponentQuery, NameMatch, SbomSubject, SbomWrite, VersionMatch,
};
use serde_json::json;

pub(super) fn bad(message: impl Into<String>) -> ApiError {
    ApiError::Status(StatusCode::BAD_REQUEST, message.into())
}

/// The resource an SBOM subject is, for access decisions.
pub(super) fn resource_of(subject: &SbomSubject) -> Option<(String, Resource)> {
    if subject.format == "oci" {
        return Some(("oci".into(), Resource::repository(&subject.repository)));
    }
    let format = Format::parse(&subject.format)?;
    Some((
        format.as_str().to_string(),
        Resource::package(format, &subject.repository, &subject.subject),
    ))
}

pub(super) async fn may(
    state: &AppState,
    who: &Who,
    action: Action,
    subject: &SbomSubject,
) -> bool {
    let Some((format, resource)) = resource_of(subject) else {
        return false;
    };
    let caller = (&who.principal, &who.actor, "/api/v1/sboms");
    state
        .guard
        .decide_for(caller, &format, action, &resource)
        .await
        .is_ok()
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ComponentParams {
    /// `pkg:TYPE/NAMESPACE/NAME[@VERSION]`: one package, one version of it.
    purl: Option<String>,
    /// With `prefix`: every name of this purl type starting with it.
    r#type: Option<String>,
    prefix: Option<String>,
    /// `vers:TYPE/...`: the versions to match.
    range: Option<String>,
    #[schemars(range(max = u32::MAX))]
    limit: Option<u32>,
    cursor: Option<String>,
}

pub(super) async fn components(state: &AppState, who: &Who, p: ComponentParams) -> ApiResult {
    let (ecosystem, name, exact) = match (&p.purl, &p.r#type, &p.prefix) {
        (Some(purl), None, None) => {
            let purl = Purl::parse(purl).map_err(|e| bad(e.to_string()))?;
            (purl.ecosystem, NameMatch::Exact(purl.name), purl.version)
        }
        (None, Some(ty), Some(prefix)) => {
            let ty = ty.to_ascii_lowercase();
            if prefix.is_empty() {
                return Err(bad("the prefix is empty"));
            }
            (ty, NameMatch::Prefix(prefix.clone()), None)
        }
        _ => {
            return Err(bad(
                "ask with purl=pkg:TYPE/NAME (and range=vers:...), or with type= and prefix=",
            ))
        }
    };
    let versions = match (&p.range, exact) {
        (Some(_), Some(_)) => return Err(bad("give a version in the purl or a range, not both")),
        (Some(range), None) => VersionMatch::Range(
            cairn_core::vers::parse(range, &ecosystem).map_err(|e| bad(e.to_string()))?,
        ),
        (None, Some(v)) => VersionMatch::Exact(v),
        (None, None) => VersionMatch::Any,
    };
    let after = match &p.cursor {
        Some(c) => Some(
            ComponentCursor::decode(c)
                .ok_or_else(|| bad("the cursor is not one this server gave"))?,
        ),
        None => None,
    };
    let query = ComponentQuery {
        ecosystem,
        name,
        versions,
        after,
        limit: p.limit.unwrap_or(100).clamp(1, 1000),
    };
    let page = state.meta.query_components(&query).await?;
    let mut results = Vec::new();
    for o in page.occurrences {
        if !may(state, who, Action::Read, &o.sbom.subject).await {
            continue;
        }
        let artifact = if o.sbom.subject.format == "oci" {
            json!({"format": "oci", "repository": o.sbom.subject.repository,
                   "digest": o.sbom.subject.subject, "tags": o.tags})
        } else {
            json!({"format": o.sbom.subject.format, "repository": o.sbom.subject.repository,
                   "package": o.sbom.subject.subject, "version": o.sbom.subject.version})
        };
        results.push(json!({
            "component": {"purl": o.purl, "ecosystem": o.ecosystem, "name": o.name, "version": o.version},
            "artifact": artifact,
            "sbom": {"id": o.sbom.id, "digest": o.sbom.digest, "source": o.sbom.source,
                     "format": o.sbom.sbom_format, "spec_version": o.sbom.spec_version},
        }));
    }
    let next = page.next.map(|c| c.encode());
    Ok(Json(json!({"results": results, "next": next})).into_response())
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SubjectParams {
    /// `oci`, or a package format.
    #[schemars(extend("enum" = ["oci", "npm", "pypi", "cargo", "go", "maven"]))]
    pub(super) format: String,
    #[schemars(length(min = 1))]
    pub(super) repository: String,
    /// A manifest digest (`format=oci`).
    subject: Option<String>,
    /// A package name (with `version`).
    package: Option<String>,
    version: Option<String>,
    /// The SBOM document's digest (removing one).
    digest: Option<String>,
}

impl SubjectParams {
    /// Whether the query names one subject (else: a whole repository).
    pub(super) fn names_one(&self) -> bool {
        self.subject.is_some() || self.package.is_some()
    }

    /// The subject a lookup names: a query that names none (no digest, no
    /// version, a name no package can have) finds nothing, a 404 saying why.
    pub(super) fn lookup(&self) -> Result<SbomSubject, ApiError> {
        self.subject().map_err(|e| match e {
            ApiError::Status(StatusCode::BAD_REQUEST, m) => ApiError::Status(
                StatusCode::NOT_FOUND,
                format!("the query names nothing: {m}"),
            ),
            e => e,
        })
    }

    /// The subject the query names (an attachment's: 400 when it names none).
    pub(super) fn subject(&self) -> Result<SbomSubject, ApiError> {
        if self.repository.is_empty() {
            return Err(bad("repository= names the repository"));
        }
        if self.format == "oci" {
            let digest = self
                .subject
                .as_deref()
                .ok_or_else(|| bad("subject= names the manifest digest"))?;
            digest.parse::<Digest>().map_err(|e| bad(e.to_string()))?;
            return Ok(SbomSubject {
                format: "oci".into(),
                repository: self.repository.clone(),
                subject: digest.to_string(),
                version: String::new(),
            });
        }
        let format = Format::parse(&self.format)
            .ok_or_else(|| bad(format!("no format {:?}", self.format)))?;
        let (Some(package), Some(version)) = (&self.package, &self.version) else {
            return Err(bad("package= and version= name the package version"));
        };
        let key = cairn_core::package_key(format, package).map_err(|e| bad(e.to_string()))?;
        Ok(SbomSubject {
            format: format.as_str().into(),
            repository: self.repository.clone(),
            subject: key,
            version: version.clone(),
        })
    }
}

pub(super) async fn list(state: &AppState, who: &Who, p: SubjectParams) -> ApiResult {
    let subject = p.lookup()?;
    if !may(state, who, Action::Read, &subject).await {
        return Err(ApiError::Status(
            StatusCode::FORBIDDEN,
            format!("{} may not read it", who.principal.name()),
        ));
    }
    let sboms = state.meta.sboms_of(&subject).await?;
    Ok(Json(json!({ "sboms": sboms })).into_response())
}

pub(super) async fn document(state: &AppState, who: &Who, p: SubjectParams) -> ApiResult {
    let subject = p.lookup()?;
    let digest = p
        .digest
        .as_deref()
        .ok_or_else(|| bad("digest= names the SBOM document"))?;
    if !may(state, who, Action::Read, &subject).await {
        return Err(ApiError::Status(
            StatusCode::FORBIDDEN,
            format!("{} may not read it", who.principal.name()),
        ));
    }
    let not_found = || ApiError::Status(StatusCode::NOT_FOUND, format!("no SBOM {digest} of it"));
    let record = state
        .meta
        .sboms_of(&subject)
        .await?
        .into_iter()
        .find(|r| r.digest == digest)
        .ok_or_else(not_found)?;
    let d: Digest = record.digest.parse().map_err(|_| not_found())?;
    let stream = state
        .packages
        .blobs
        .store()
        .read(&d, None)
        .await
        .map_err(|e| ApiError::Status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .ok_or_else(|| {
            ApiError::Status(
                StatusCode::NOT_FOUND,
                format!("the bytes of SBOM {digest} are not stored (see cairn fsck)"),
            )
        })?;
    let mut resp = Body::from_stream(stream).into_response();
    if let Ok(v) = record.media_type.parse() {
        resp.headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, v);
    }
    if let Ok(v) = format!("\"{digest}\"").parse() {
        resp.headers_mut().insert(axum::http::header::ETAG, v);
    }
    Ok(resp)
}

pub(super) async fn attach(state: &AppState, who: &Who, p: SubjectParams, body: Body) -> ApiResult {
    let subject = p.subject()?;
    if subject.format == "oci" {
        return Err(bad(
            "attach an SBOM to an image as a referrer (oras attach, cosign attach sbom)",
        ));
    }
    if !may(state, who, Action::Publish, &subject).await {
        return Err(ApiError::Status(
            StatusCode::FORBIDDEN,
            format!(
                "{} may not publish {} in {}/{}",
                who.principal.name(),
                subject.subject,
                subject.format,
                subject.repository
            ),
        ));
    }
    let bytes =
        super::body_bytes_within(body, state.config.packages.max_upload_bytes as usize).await?;
    let sbom = cairn_core::sbom::parse(bytes.as_ref(), cairn_core::sbom::Limits::default())
        .map_err(|e| ApiError::Status(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let digest = Digest::sha256_of(&bytes);
    let media_type = match sbom.format {
        cairn_core::sbom::SbomFormat::Spdx => "application/spdx+json",
        cairn_core::sbom::SbomFormat::CycloneDx => "application/vnd.cyclonedx+json",
    };
    // Blob first, metadata second.
    state
        .packages
        .blobs
        .put_bytes(&digest, bytes)
        .await
        .map_err(|e| ApiError::Status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let write = SbomWrite {
        subject,
        source: digest.to_string(),
        digest: digest.clone(),
        media_type: media_type.into(),
        sbom: &sbom,
        cache_entry: None,
    };
    let record = state
        .meta
        .index_sbom(&write, &who.actor)
        .await
        .map_err(|e| match e {
            cairn_store::StoreError::Conflict(m) => ApiError::Status(StatusCode::NOT_FOUND, m),
            e => e.into(),
        })?;
    tracing::info!(subject = ?record.subject, components = record.components, "SBOM attached");
    Ok((StatusCode::CREATED, Json(json!(record))).into_response())
}

pub(super) async fn remove(state: &AppState, who: &Who, p: SubjectParams) -> ApiResult {
    let subject = p.lookup()?;
    if subject.format == "oci" {
        return Err(bad(
            "an image's SBOM goes with its artifact: delete that manifest",
        ));
    }
    let digest = p
        .digest
        .as_deref()
        .ok_or_else(|| bad("digest= names the SBOM document"))?;
    if !may(state, who, Action::Delete, &subject).await {
        return Err(ApiError::Status(
            StatusCode::FORBIDDEN,
            format!(
                "{} may not delete in {}/{}",
                who.principal.name(),
                subject.format,
                subject.repository
            ),
        ));
    }
    if state.meta.remove_sbom(&subject, digest, &who.actor).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            format!(
                "no SBOM {digest} of {}@{}",
                subject.subject, subject.version
            ),
        ))
    }
}
