//! Parsing an OCI request path into a typed [`Endpoint`]. Repository names
//! contain slashes, so the path is matched from its end.

use axum::http::Method;
use cairn_core::{Action, Digest, NameError, Reference, RepoName};
use cairn_http::{Access, Resource};

/// One OCI endpoint, with the method folded in: each variant is one
/// operation, so it declares exactly the access it needs ([`Endpoint::access`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET|HEAD /v2/`
    Base,
    /// `GET /v2/_catalog`
    Catalog,
    /// `GET /v2/<name>/tags/list`
    Tags { name: RepoName },
    /// `GET|HEAD /v2/<name>/manifests/<reference>`
    GetManifest {
        name: RepoName,
        reference: Reference,
    },
    /// `PUT /v2/<name>/manifests/<reference>`
    PutManifest {
        name: RepoName,
        reference: Reference,
    },
    /// `DELETE /v2/<name>/manifests/<reference>`
    DeleteManifest {
        name: RepoName,
        reference: Reference,
    },
    /// `GET|HEAD /v2/<name>/blobs/<digest>`
    GetBlob { name: RepoName, digest: Digest },
    /// `DELETE /v2/<name>/blobs/<digest>`
    DeleteBlob { name: RepoName, digest: Digest },
    /// `POST /v2/<name>/blobs/uploads/`: a session, a monolithic upload or a mount.
    StartUpload { name: RepoName },
    /// `GET /v2/<name>/blobs/uploads/<id>`
    UploadStatus { name: RepoName, id: String },
    /// `PATCH /v2/<name>/blobs/uploads/<id>`
    PatchUpload { name: RepoName, id: String },
    /// `PUT /v2/<name>/blobs/uploads/<id>?digest=`
    FinishUpload { name: RepoName, id: String },
    /// `DELETE /v2/<name>/blobs/uploads/<id>`
    CancelUpload { name: RepoName, id: String },
    /// `GET /v2/<name>/referrers/<digest>`
    Referrers { name: RepoName, digest: Digest },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// No OCI endpoint has this path.
    NotFound,
    /// The path names an endpoint that does not take this method.
    MethodNotAllowed,
    Name(NameError),
    /// A blob or referrers digest that does not parse.
    Digest(String),
}

impl From<NameError> for ParseError {
    fn from(e: NameError) -> Self {
        ParseError::Name(e)
    }
}

fn allow(method: &Method, allowed: &[Method]) -> Result<(), ParseError> {
    if allowed.contains(method) {
        Ok(())
    } else {
        Err(ParseError::MethodNotAllowed)
    }
}

impl Endpoint {
    /// Parses the part of the path after `/v2`, e.g. `/library/alpine/manifests/3`.
    pub fn parse(method: &Method, path: &str) -> Result<Endpoint, ParseError> {
        use Method as M;
        let rest = path.strip_prefix('/').unwrap_or(path);
        if rest.is_empty() {
            allow(method, &[M::GET, M::HEAD])?;
            return Ok(Endpoint::Base);
        }
        if rest == "_catalog" {
            allow(method, &[M::GET])?;
            return Ok(Endpoint::Catalog);
        }
        if let Some(name) = rest.strip_suffix("/tags/list") {
            allow(method, &[M::GET])?;
            return Ok(Endpoint::Tags {
                name: RepoName::parse(name)?,
            });
        }
        if let Some((name, id)) = rest.rsplit_once("/blobs/uploads/") {
            let name = RepoName::parse(name)?;
            if id.is_empty() {
                allow(method, &[M::POST])?;
                return Ok(Endpoint::StartUpload { name });
            }
            if id.contains('/') {
                return Err(ParseError::NotFound);
            }
            let id = id.to_string();
            return match *method {
                M::GET => Ok(Endpoint::UploadStatus { name, id }),
                M::PATCH => Ok(Endpoint::PatchUpload { name, id }),
                M::PUT => Ok(Endpoint::FinishUpload { name, id }),
                M::DELETE => Ok(Endpoint::CancelUpload { name, id }),
                _ => Err(ParseError::MethodNotAllowed),
            };
        }
        if let Some(name) = rest.strip_suffix("/blobs/uploads") {
            allow(method, &[M::POST])?;
            return Ok(Endpoint::StartUpload {
                name: RepoName::parse(name)?,
            });
        }
        let parse_digest = |s: &str| {
            s.parse::<Digest>()
                .map_err(|e| ParseError::Digest(e.to_string()))
        };
        if let Some((name, reference)) = rest.rsplit_once("/manifests/") {
            if reference.contains('/') {
                return Err(ParseError::NotFound);
            }
            allow(method, &[M::GET, M::HEAD, M::PUT, M::DELETE])?;
            let name = RepoName::parse(name)?;
            let reference = Reference::parse(reference)?;
            return Ok(match *method {
                M::PUT => Endpoint::PutManifest { name, reference },
                M::DELETE => Endpoint::DeleteManifest { name, reference },
                _ => Endpoint::GetManifest { name, reference },
            });
        }
        if let Some((name, digest)) = rest.rsplit_once("/blobs/") {
            if digest.contains('/') {
                return Err(ParseError::NotFound);
            }
            allow(method, &[M::GET, M::HEAD, M::DELETE])?;
            let name = RepoName::parse(name)?;
            let digest = parse_digest(digest)?;
            return Ok(match *method {
                M::DELETE => Endpoint::DeleteBlob { name, digest },
                _ => Endpoint::GetBlob { name, digest },
            });
        }
        if let Some((name, digest)) = rest.rsplit_once("/referrers/") {
            if digest.contains('/') {
                return Err(ParseError::NotFound);
            }
            allow(method, &[M::GET])?;
            let name = RepoName::parse(name)?;
            return Ok(Endpoint::Referrers {
                name,
                digest: parse_digest(digest)?,
            });
        }
        Err(ParseError::NotFound)
    }

    /// The repository the endpoint acts on, if any.
    pub fn repository(&self) -> Option<&RepoName> {
        use Endpoint as E;
        match self {
            E::Base | E::Catalog => None,
            E::Tags { name }
            | E::GetManifest { name, .. }
            | E::PutManifest { name, .. }
            | E::DeleteManifest { name, .. }
            | E::GetBlob { name, .. }
            | E::DeleteBlob { name, .. }
            | E::StartUpload { name }
            | E::UploadStatus { name, .. }
            | E::PatchUpload { name, .. }
            | E::FinishUpload { name, .. }
            | E::CancelUpload { name, .. }
            | E::Referrers { name, .. } => Some(name),
        }
    }

    /// The same endpoint on the repository `name` (a virtual repository's
    /// request as its member serves it).
    pub fn renamed(self, name: RepoName) -> Endpoint {
        use Endpoint as E;
        match self {
            E::Base => E::Base,
            E::Catalog => E::Catalog,
            E::Tags { .. } => E::Tags { name },
            E::GetManifest { reference, .. } => E::GetManifest { name, reference },
            E::PutManifest { reference, .. } => E::PutManifest { name, reference },
            E::DeleteManifest { reference, .. } => E::DeleteManifest { name, reference },
            E::GetBlob { digest, .. } => E::GetBlob { name, digest },
            E::DeleteBlob { digest, .. } => E::DeleteBlob { name, digest },
            E::StartUpload { .. } => E::StartUpload { name },
            E::UploadStatus { id, .. } => E::UploadStatus { name, id },
            E::PatchUpload { id, .. } => E::PatchUpload { name, id },
            E::FinishUpload { id, .. } => E::FinishUpload { name, id },
            E::CancelUpload { id, .. } => E::CancelUpload { name, id },
            E::Referrers { digest, .. } => E::Referrers { name, digest },
        }
    }

    /// What the endpoint needs from its caller. The base answers anyone
    /// (with a challenge for anonymous callers, which is how clients learn
    /// where to get a token); the catalog lists only what the caller may
    /// read; a mount also needs a read of the source, checked by its handler.
    pub fn access(&self) -> Access {
        use Endpoint as E;
        let action = match self {
            E::Base | E::Catalog => return Access::Anyone,
            E::Tags { .. } | E::GetManifest { .. } | E::GetBlob { .. } | E::Referrers { .. } => {
                Action::Read
            }
            E::PutManifest { .. }
            | E::StartUpload { .. }
            | E::UploadStatus { .. }
            | E::PatchUpload { .. }
            | E::FinishUpload { .. }
            | E::CancelUpload { .. } => Action::Publish,
            E::DeleteManifest { .. } | E::DeleteBlob { .. } => Action::Delete,
        };
        let name = self
            .repository()
            .expect("every other endpoint names a repository");
        Access::On(action, Resource::repository(name.as_str()))
    }
}

impl cairn_http::Endpoint for Endpoint {
    fn name(&self) -> &'static str {
        use Endpoint as E;
        match self {
            E::Base => "base",
            E::Catalog => "catalog",
            E::Tags { .. } => "tags",
            E::GetManifest { .. } => "manifest_get",
            E::PutManifest { .. } => "manifest_put",
            E::DeleteManifest { .. } => "manifest_delete",
            E::GetBlob { .. } => "blob_get",
            E::DeleteBlob { .. } => "blob_delete",
            E::StartUpload { .. } => "upload_start",
            E::UploadStatus { .. } => "upload_status",
            E::PatchUpload { .. } => "upload_patch",
            E::FinishUpload { .. } => "upload_finish",
            E::CancelUpload { .. } => "upload_cancel",
            E::Referrers { .. } => "referrers",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_every_endpoint() {
        let get = Method::GET;
        assert_eq!(Endpoint::parse(&get, "/"), Ok(Endpoint::Base));
        assert_eq!(Endpoint::parse(&get, "/_catalog"), Ok(Endpoint::Catalog));
        assert!(
            matches!(Endpoint::parse(&get, "/a/b/tags/list"), Ok(Endpoint::Tags { name }) if name.as_str() == "a/b")
        );
        assert!(matches!(
            Endpoint::parse(&get, "/blobs/manifests/latest"),
            Ok(Endpoint::GetManifest { name, reference: Reference::Tag(_) }) if name.as_str() == "blobs"
        ));
        assert!(matches!(
            Endpoint::parse(&get, &format!("/x/blobs/y/blobs/{D}")),
            Ok(Endpoint::GetBlob { name, .. }) if name.as_str() == "x/blobs/y"
        ));
        assert!(matches!(
            Endpoint::parse(&Method::POST, "/a/blobs/uploads/"),
            Ok(Endpoint::StartUpload { .. })
        ));
        assert!(
            matches!(Endpoint::parse(&Method::PATCH, "/a/blobs/uploads/123-abc"), Ok(Endpoint::PatchUpload { id, .. }) if id == "123-abc")
        );
        assert!(matches!(
            Endpoint::parse(&get, &format!("/a/referrers/{D}")),
            Ok(Endpoint::Referrers { .. })
        ));
    }

    #[test]
    fn refuses_bad_paths() {
        let get = Method::GET;
        assert_eq!(
            Endpoint::parse(&get, "/a/nothing"),
            Err(ParseError::NotFound)
        );
        assert!(matches!(
            Endpoint::parse(&get, "/A/manifests/x"),
            Err(ParseError::Name(_))
        ));
        assert!(matches!(
            Endpoint::parse(&get, "/a/../b/manifests/x"),
            Err(ParseError::Name(_))
        ));
        assert!(matches!(
            Endpoint::parse(&get, "/a/blobs/md5:abc"),
            Err(ParseError::Digest(_))
        ));
        assert_eq!(
            Endpoint::parse(&Method::POST, "/a/manifests/x"),
            Err(ParseError::MethodNotAllowed)
        );
    }
}
