//! PyPI's paths below `/pypi/<repository>`, parsed into [`Endpoint`].

use axum::http::Method;
use cairn_core::{package_key, Action, Format, PackageNameError};
use cairn_http::{Access, Resource};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /` or `POST /legacy/`: the upload API twine speaks.
    Upload,
    /// `GET /simple/`: every project.
    Index,
    /// `GET /simple/<project>/`, under any spelling of the name.
    Project { project: String },
    /// `GET /files/<project>/<filename>`.
    File { project: String, filename: String },
    /// `GET /files/<project>/<filename>.metadata` (PEP 658).
    Metadata { project: String, filename: String },
    /// `GET /integrity/<project>/<version>/<filename>/provenance` (PEP 740).
    Provenance {
        project: String,
        version: String,
        filename: String,
    },
}

/// PyPI's trusted-publishing endpoints below `/pypi/<repository>` (and at
/// the host's root): identity operations, served by the server's identity
/// service; the OIDC token is the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// `GET /_/oidc/audience`
    OidcAudience,
    /// `POST /_/oidc/mint-token`
    MintToken,
}

impl Login {
    /// `path` below the repository (or the host's root); `None` for the registry's.
    pub fn parse(method: &Method, path: &str) -> Option<Login> {
        match (method, path.trim_start_matches('/')) {
            (&Method::GET, "_/oidc/audience") => Some(Login::OidcAudience),
            (&Method::POST, "_/oidc/mint-token") => Some(Login::MintToken),
            _ => None,
        }
    }
}

impl cairn_http::Endpoint for Login {
    fn name(&self) -> &'static str {
        match self {
            Login::OidcAudience => "oidc_audience",
            Login::MintToken => "oidc_mint",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    NotFound,
    MethodNotAllowed,
}

impl cairn_http::Endpoint for Endpoint {
    fn name(&self) -> &'static str {
        match self {
            Endpoint::Upload => "upload",
            Endpoint::Index => "simple_index",
            Endpoint::Project { .. } => "simple_project",
            Endpoint::File { .. } => "file",
            Endpoint::Metadata { .. } => "metadata",
            Endpoint::Provenance { .. } => "provenance",
        }
    }
}

impl Endpoint {
    /// What the endpoint needs from its caller in `repo`. An upload names
    /// its project in the body: it needs a caller who could publish, and the
    /// handler checks the project once it has read the form.
    pub fn access(&self, repo: &str) -> Result<Access, PackageNameError> {
        let pypi = Format::Pypi;
        Ok(match self {
            Endpoint::Upload => Access::Caller(Action::Publish, Resource::packages(pypi, repo)),
            Endpoint::Index => Access::On(Action::Read, Resource::packages(pypi, repo)),
            Endpoint::Project { project }
            | Endpoint::File { project, .. }
            | Endpoint::Metadata { project, .. }
            | Endpoint::Provenance { project, .. } => {
                let key = package_key(pypi, project)?;
                Access::On(Action::Read, Resource::package(pypi, repo, &key))
            }
        })
    }

    pub fn parse(method: &Method, path: &str) -> Result<Endpoint, ParseError> {
        let segs: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let (endpoint, allowed): (Endpoint, &[Method]) = match s[..] {
            [] | ["legacy"] => (Endpoint::Upload, &[Method::POST]),
            ["simple"] => (Endpoint::Index, &[Method::GET, Method::HEAD]),
            ["simple", project] => (
                Endpoint::Project {
                    project: project.to_string(),
                },
                &[Method::GET, Method::HEAD],
            ),
            ["integrity", project, version, file, "provenance"] => (
                Endpoint::Provenance {
                    project: project.to_string(),
                    version: version.to_string(),
                    filename: file.to_string(),
                },
                &[Method::GET, Method::HEAD],
            ),
            ["files", project, file] => {
                let e = match file.strip_suffix(".metadata") {
                    Some(wheel) => Endpoint::Metadata {
                        project: project.to_string(),
                        filename: wheel.to_string(),
                    },
                    None => Endpoint::File {
                        project: project.to_string(),
                        filename: file.to_string(),
                    },
                };
                (e, &[Method::GET, Method::HEAD])
            }
            _ => return Err(ParseError::NotFound),
        };
        if allowed.contains(method) {
            Ok(endpoint)
        } else {
            Err(ParseError::MethodNotAllowed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(Endpoint::parse(&Method::POST, "/"), Ok(Endpoint::Upload));
        assert_eq!(
            Endpoint::parse(&Method::POST, "/legacy/"),
            Ok(Endpoint::Upload)
        );
        assert_eq!(
            Endpoint::parse(&Method::GET, "/simple/"),
            Ok(Endpoint::Index)
        );
        assert_eq!(
            Endpoint::parse(&Method::GET, "/simple/Demo.Pkg/"),
            Ok(Endpoint::Project {
                project: "Demo.Pkg".into()
            })
        );
        assert_eq!(
            Endpoint::parse(
                &Method::GET,
                "/files/demo/demo-1.0-py3-none-any.whl.metadata"
            ),
            Ok(Endpoint::Metadata {
                project: "demo".into(),
                filename: "demo-1.0-py3-none-any.whl".into()
            })
        );
        assert_eq!(
            Endpoint::parse(&Method::GET, "/"),
            Err(ParseError::MethodNotAllowed)
        );
        assert_eq!(
            Endpoint::parse(&Method::GET, "/other"),
            Err(ParseError::NotFound)
        );
    }
}
