//! Parsing an OCI request path into a typed [`Endpoint`]. Repository names
//! contain slashes, so the path is matched from its end.

use axum::http::Method;
use cairn_core::{Digest, NameError, Reference, RepoName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /v2/`
    Base,
    /// `GET /v2/_catalog`
    Catalog,
    /// `GET /v2/<name>/tags/list`
    Tags { name: RepoName },
    /// `GET|HEAD|PUT|DELETE /v2/<name>/manifests/<reference>`
    Manifest {
        name: RepoName,
        reference: Reference,
    },
    /// `GET|HEAD|DELETE /v2/<name>/blobs/<digest>`
    Blob { name: RepoName, digest: Digest },
    /// `POST /v2/<name>/blobs/uploads/`
    StartUpload { name: RepoName },
    /// `GET|PATCH|PUT|DELETE /v2/<name>/blobs/uploads/<id>`
    Upload { name: RepoName, id: String },
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
            allow(method, &[M::GET, M::PATCH, M::PUT, M::DELETE])?;
            return Ok(Endpoint::Upload {
                name,
                id: id.to_string(),
            });
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
            return Ok(Endpoint::Manifest { name, reference });
        }
        if let Some((name, digest)) = rest.rsplit_once("/blobs/") {
            if digest.contains('/') {
                return Err(ParseError::NotFound);
            }
            allow(method, &[M::GET, M::HEAD, M::DELETE])?;
            let name = RepoName::parse(name)?;
            return Ok(Endpoint::Blob {
                name,
                digest: parse_digest(digest)?,
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
        match self {
            Endpoint::Base | Endpoint::Catalog => None,
            Endpoint::Tags { name }
            | Endpoint::Manifest { name, .. }
            | Endpoint::Blob { name, .. }
            | Endpoint::StartUpload { name }
            | Endpoint::Upload { name, .. }
            | Endpoint::Referrers { name, .. } => Some(name),
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
            Ok(Endpoint::Manifest { name, reference: Reference::Tag(_) }) if name.as_str() == "blobs"
        ));
        assert!(matches!(
            Endpoint::parse(&get, &format!("/x/blobs/y/blobs/{D}")),
            Ok(Endpoint::Blob { name, .. }) if name.as_str() == "x/blobs/y"
        ));
        assert!(matches!(
            Endpoint::parse(&Method::POST, "/a/blobs/uploads/"),
            Ok(Endpoint::StartUpload { .. })
        ));
        assert!(
            matches!(Endpoint::parse(&Method::PATCH, "/a/blobs/uploads/123-abc"), Ok(Endpoint::Upload { id, .. }) if id == "123-abc")
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
