//! Cargo's paths below `/cargo/<repository>`, parsed into [`Endpoint`]:
//! the sparse index under `index/`, the web API under `api/v1/`.

use axum::http::Method;
use cairn_core::{package_key, Action, Format, PackageNameError};
use cairn_http::{Access, Resource};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Config,
    /// An index file (`1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd`); holds the name.
    IndexFile {
        name: String,
    },
    Publish,
    Yank {
        name: String,
        version: String,
    },
    Unyank {
        name: String,
        version: String,
    },
    /// `GET .../owners`
    Owners {
        name: String,
    },
    /// `PUT|DELETE .../owners`: add or remove owners.
    ChangeOwners {
        name: String,
    },
    Search,
    Download {
        name: String,
        version: String,
    },
}

/// crates.io's trusted-publishing exchange below `/cargo/<repository>`
/// (`POST /api/v1/trusted_publishing/tokens`): an identity operation,
/// served by the server's identity service; the OIDC token is the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedPublishing;

impl TrustedPublishing {
    /// `path` below the repository; `None` for the registry's.
    pub fn parse(method: &Method, path: &str) -> Option<TrustedPublishing> {
        (*method == Method::POST && path == "/api/v1/trusted_publishing/tokens")
            .then_some(TrustedPublishing)
    }
}

impl cairn_http::Endpoint for TrustedPublishing {
    fn name(&self) -> &'static str {
        "oidc_exchange"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    NotFound,
    MethodNotAllowed,
}

/// The index directory of a (lower-case) crate name, as the sparse protocol spells it.
pub fn index_dir(name: &str) -> String {
    match name.len() {
        1 => "1".into(),
        2 => "2".into(),
        3 => format!("3/{}", &name[..1]),
        _ => format!("{}/{}", &name[..2], &name[2..4]),
    }
}

impl cairn_http::Endpoint for Endpoint {
    fn name(&self) -> &'static str {
        match self {
            Endpoint::Config => "config",
            Endpoint::IndexFile { .. } => "index_file",
            Endpoint::Publish => "publish",
            Endpoint::Yank { .. } => "yank",
            Endpoint::Unyank { .. } => "unyank",
            Endpoint::Owners { .. } => "owners",
            Endpoint::ChangeOwners { .. } => "owners_change",
            Endpoint::Search => "search",
            Endpoint::Download { .. } => "download",
        }
    }
}

impl Endpoint {
    /// What the endpoint needs from its caller in `repo`. The index's
    /// `config.json` answers anyone (it says whether reads need a token); a
    /// publish names its crate in the body, so it needs a caller who could
    /// publish and the handler checks the crate once it has read it.
    pub fn access(&self, repo: &str) -> Result<Access, PackageNameError> {
        let cargo = Format::Cargo;
        let on_crate = |action, name: &str| -> Result<Access, PackageNameError> {
            let key = package_key(cargo, name)?;
            Ok(Access::On(action, Resource::package(cargo, repo, &key)))
        };
        let repository = Resource::packages(cargo, repo);
        match self {
            Endpoint::Config => Ok(Access::Anyone),
            // A name that is no crate's is answered 404 by the handler, to
            // anyone who may read the repository.
            Endpoint::IndexFile { name } => {
                on_crate(Action::Read, name).or(Ok(Access::On(Action::Read, repository)))
            }
            Endpoint::Search => Ok(Access::On(Action::Read, repository)),
            Endpoint::Publish => Ok(Access::Caller(Action::Publish, repository)),
            Endpoint::Owners { name } | Endpoint::Download { name, .. } => {
                on_crate(Action::Read, name)
            }
            Endpoint::ChangeOwners { name } => on_crate(Action::Publish, name),
            Endpoint::Yank { name, .. } | Endpoint::Unyank { name, .. } => {
                on_crate(Action::Yank, name)
            }
        }
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
        use Method as M;
        let (e, allowed): (Endpoint, &[Method]) = match s[..] {
            ["index", "config.json"] => (Endpoint::Config, &[M::GET, M::HEAD]),
            ["index", ref rest @ .., name] if !rest.is_empty() => {
                // The directory must be the one the name belongs in.
                if rest.join("/") != index_dir(&name.to_ascii_lowercase()) || name.contains('.') {
                    return Err(ParseError::NotFound);
                }
                (
                    Endpoint::IndexFile {
                        name: name.to_string(),
                    },
                    &[M::GET, M::HEAD],
                )
            }
            ["api", "v1", "crates", "new"] => (Endpoint::Publish, &[M::PUT]),
            ["api", "v1", "crates"] => (Endpoint::Search, &[M::GET]),
            ["api", "v1", "crates", name, "owners"] if *method == M::GET => (
                Endpoint::Owners {
                    name: name.to_string(),
                },
                &[M::GET],
            ),
            ["api", "v1", "crates", name, "owners"] => (
                Endpoint::ChangeOwners {
                    name: name.to_string(),
                },
                &[M::PUT, M::DELETE],
            ),
            ["api", "v1", "crates", name, version, "yank"] => (
                Endpoint::Yank {
                    name: name.to_string(),
                    version: version.to_string(),
                },
                &[M::DELETE],
            ),
            ["api", "v1", "crates", name, version, "unyank"] => (
                Endpoint::Unyank {
                    name: name.to_string(),
                    version: version.to_string(),
                },
                &[M::PUT],
            ),
            ["api", "v1", "crates", name, version, "download"] => (
                Endpoint::Download {
                    name: name.to_string(),
                    version: version.to_string(),
                },
                &[M::GET, M::HEAD],
            ),
            _ => return Err(ParseError::NotFound),
        };
        if allowed.contains(method) {
            Ok(e)
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
        let get = Method::GET;
        assert_eq!(
            Endpoint::parse(&get, "/index/config.json"),
            Ok(Endpoint::Config)
        );
        assert_eq!(
            Endpoint::parse(&get, "/index/1/a"),
            Ok(Endpoint::IndexFile { name: "a".into() })
        );
        assert_eq!(
            Endpoint::parse(&get, "/index/3/f/foo"),
            Ok(Endpoint::IndexFile { name: "foo".into() })
        );
        assert_eq!(
            Endpoint::parse(&get, "/index/se/rd/Serde"),
            Ok(Endpoint::IndexFile {
                name: "Serde".into()
            })
        );
        assert_eq!(
            Endpoint::parse(&get, "/index/xx/yy/serde"),
            Err(ParseError::NotFound)
        );
        assert_eq!(
            Endpoint::parse(&Method::DELETE, "/api/v1/crates/foo/1.0.0/yank"),
            Ok(Endpoint::Yank {
                name: "foo".into(),
                version: "1.0.0".into()
            })
        );
        assert_eq!(
            Endpoint::parse(&Method::PUT, "/api/v1/crates/new"),
            Ok(Endpoint::Publish)
        );
        assert_eq!(
            Endpoint::parse(&get, "/api/v1/crates/new"),
            Err(ParseError::MethodNotAllowed)
        );
        assert_eq!(index_dir("serde"), "se/rd");
    }
}
