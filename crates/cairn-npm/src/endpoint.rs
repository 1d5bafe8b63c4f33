//! The npm registry's paths, parsed into [`Endpoint`]. Paths are below
//! `/npm/<repository>`; a scoped name arrives as `@scope%2fname` (npm's
//! spelling) or `@scope/name`.

use axum::http::Method;
use cairn_core::{package_key, Action, Format};
use cairn_http::{Access, Resource};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Ping,
    Whoami,
    Search,
    DistTags {
        name: String,
    },
    DistTag {
        name: String,
        tag: String,
    },
    Attestations {
        name: String,
        version: String,
    },
    /// `GET /-/npm/v1/keys`: the registry's signing keys (public).
    Keys,
    /// `GET /-/package/<name>/visibility`: whether anonymous callers may
    /// read the package (npm asks before publishing with provenance).
    Visibility {
        name: String,
    },
    /// `GET|HEAD` the packument.
    Packument {
        name: String,
    },
    /// `PUT` a packument: publish (with attachments), or change versions
    /// (deprecate, unpublish one); `PUT .../-rev/<rev>` too.
    PutPackage {
        name: String,
    },
    /// `DELETE .../-rev/<rev>`: unpublish the whole package.
    UnpublishPackage {
        name: String,
    },
    Tarball {
        name: String,
        file: String,
    },
    /// `DELETE` a tarball (the second step of `npm unpublish name@version`).
    TarballRev {
        name: String,
        file: String,
    },
    Version {
        name: String,
        version: String,
    },
}

/// What npm asks of a registry about who its user is, below
/// `/npm/<repository>`: logging in, its token commands and the
/// trusted-publishing exchange. They are identity operations, served by the
/// server's identity service rather than by the registry's handlers; each
/// authenticates its caller itself (a password, an OIDC token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// `PUT /-/user/org.couchdb.user:<name>`: `npm login` / `npm adduser`.
    User { name: String },
    /// `GET /-/npm/v1/tokens`: `npm token list`.
    ListTokens,
    /// `POST /-/npm/v1/tokens`: `npm token create`.
    CreateToken,
    /// `DELETE /-/npm/v1/tokens/token/<id>`: `npm token revoke`.
    RevokeToken { id: String },
    /// `POST /-/npm/v1/oidc/token/exchange/package/<name>`: trusted publishing.
    OidcExchange { package: String },
    /// `GET /-/npm/v1/user`: `npm profile get` (and the two-factor state).
    Profile,
    /// `POST /-/npm/v1/user`: `npm profile enable-2fa` / `disable-2fa`.
    SetProfile,
    /// `POST /-/v1/login`: `npm login` with `auth-type=web` (npm's default)
    /// starts a web sign-in.
    WebLogin,
}

impl Login {
    /// Parses `path` (below the repository, starting with `/`); `None` for
    /// anything else, which is the registry's.
    pub fn parse(method: &Method, path: &str) -> Option<Login> {
        let rest = path.strip_prefix("/-/")?;
        use Method as M;
        if let Some(name) = rest.strip_prefix("user/org.couchdb.user:") {
            return (*method == M::PUT).then(|| Login::User { name: decode(name) });
        }
        if let Some(id) = rest.strip_prefix("npm/v1/tokens/token/") {
            return (*method == M::DELETE).then(|| Login::RevokeToken { id: decode(id) });
        }
        if let Some(name) = rest.strip_prefix("npm/v1/oidc/token/exchange/package/") {
            let package = decode(name);
            return (*method == M::POST).then_some(Login::OidcExchange { package });
        }
        match (method, rest) {
            (&M::GET, "npm/v1/tokens") => Some(Login::ListTokens),
            (&M::POST, "npm/v1/tokens") => Some(Login::CreateToken),
            (&M::GET, "npm/v1/user") => Some(Login::Profile),
            (&M::POST, "npm/v1/user") => Some(Login::SetProfile),
            (&M::POST, "v1/login") => Some(Login::WebLogin),
            _ => None,
        }
    }
}

impl cairn_http::Endpoint for Login {
    fn name(&self) -> &'static str {
        match self {
            Login::User { .. } => "login",
            Login::ListTokens => "token_list",
            Login::CreateToken => "token_create",
            Login::RevokeToken { .. } => "token_revoke",
            Login::OidcExchange { .. } => "oidc_exchange",
            Login::Profile => "profile",
            Login::SetProfile => "profile_set",
            Login::WebLogin => "web_login",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    NotFound,
    MethodNotAllowed,
}

fn decode(seg: &str) -> String {
    percent_encoding::percent_decode_str(seg)
        .decode_utf8_lossy()
        .into_owned()
}

impl cairn_http::Endpoint for Endpoint {
    fn name(&self) -> &'static str {
        match self {
            Endpoint::Ping => "ping",
            Endpoint::Whoami => "whoami",
            Endpoint::Search => "search",
            Endpoint::DistTags { .. } => "dist_tags",
            Endpoint::DistTag { .. } => "dist_tag_change",
            Endpoint::Attestations { .. } => "attestations",
            Endpoint::Keys => "keys",
            Endpoint::Visibility { .. } => "visibility",
            Endpoint::Packument { .. } => "packument",
            Endpoint::PutPackage { .. } => "package_put",
            Endpoint::UnpublishPackage { .. } => "package_unpublish",
            Endpoint::Tarball { .. } => "tarball",
            Endpoint::TarballRev { .. } => "tarball_unpublish",
            Endpoint::Version { .. } => "version",
        }
    }
}

impl Endpoint {
    /// What the endpoint needs from its caller in `repo`. A packument `PUT`
    /// publishes or changes versions depending on its body, so it needs a
    /// caller who could publish, and the handler checks the package once
    /// it has read what the body does.
    pub fn access(&self, repo: &str) -> Result<Access, cairn_core::PackageNameError> {
        let on_package = |action, name: &str| -> Result<Access, cairn_core::PackageNameError> {
            let key = package_key(Format::Npm, name)?;
            Ok(Access::On(
                action,
                Resource::package(Format::Npm, repo, &key),
            ))
        };
        let repository = Resource::packages(Format::Npm, repo);
        match self {
            Endpoint::Ping | Endpoint::Whoami | Endpoint::Keys => Ok(Access::Anyone),
            Endpoint::Search => Ok(Access::On(Action::Read, repository)),
            Endpoint::Packument { name }
            | Endpoint::Version { name, .. }
            | Endpoint::Tarball { name, .. }
            | Endpoint::DistTags { name }
            | Endpoint::Attestations { name, .. }
            | Endpoint::Visibility { name } => on_package(Action::Read, name),
            Endpoint::PutPackage { .. } => Ok(Access::Caller(Action::Publish, repository)),
            Endpoint::DistTag { name, .. } => on_package(Action::Publish, name),
            Endpoint::UnpublishPackage { name } | Endpoint::TarballRev { name, .. } => {
                on_package(Action::Yank, name)
            }
        }
    }

    /// Parses `path` (below the repository, starting with `/`).
    pub fn parse(method: &Method, path: &str) -> Result<Endpoint, ParseError> {
        let segs: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(decode)
            .collect();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let only = |allowed: &[Method], e: Endpoint| {
            if allowed.contains(method) {
                Ok(e)
            } else {
                Err(ParseError::MethodNotAllowed)
            }
        };
        use Method as M;
        if s.first() == Some(&"-") {
            return match &s[1..] {
                ["ping"] => only(&[M::GET], Endpoint::Ping),
                ["whoami"] => only(&[M::GET], Endpoint::Whoami),
                ["v1", "search"] => only(&[M::GET], Endpoint::Search),
                ["package", rest @ ..] => {
                    let (name, rest) = split_name(rest).ok_or(ParseError::NotFound)?;
                    match rest {
                        ["dist-tags"] => only(&[M::GET], Endpoint::DistTags { name }),
                        ["visibility"] => only(&[M::GET], Endpoint::Visibility { name }),
                        ["dist-tags", tag] => only(
                            &[M::PUT, M::POST, M::DELETE],
                            Endpoint::DistTag {
                                name,
                                tag: tag.to_string(),
                            },
                        ),
                        _ => Err(ParseError::NotFound),
                    }
                }
                ["npm", "v1", "keys"] => only(&[M::GET], Endpoint::Keys),
                ["npm", "v1", "attestations", spec @ ..] => {
                    let spec = spec.join("/");
                    let at = spec
                        .rfind('@')
                        .filter(|i| *i > 0)
                        .ok_or(ParseError::NotFound)?;
                    only(
                        &[M::GET],
                        Endpoint::Attestations {
                            name: spec[..at].to_string(),
                            version: spec[at + 1..].to_string(),
                        },
                    )
                }
                _ => Err(ParseError::NotFound),
            };
        }
        let (name, rest) = split_name(&s).ok_or(ParseError::NotFound)?;
        match rest {
            [] if *method == M::PUT => Ok(Endpoint::PutPackage { name }),
            [] => only(&[M::GET, M::HEAD], Endpoint::Packument { name }),
            ["-rev", _] if *method == M::PUT => Ok(Endpoint::PutPackage { name }),
            ["-rev", _] => only(&[M::DELETE], Endpoint::UnpublishPackage { name }),
            ["-", file] => only(
                &[M::GET, M::HEAD],
                Endpoint::Tarball {
                    name,
                    file: file.to_string(),
                },
            ),
            ["-", file, "-rev", _] => only(
                &[M::DELETE],
                Endpoint::TarballRev {
                    name,
                    file: file.to_string(),
                },
            ),
            [version] => only(
                &[M::GET, M::HEAD],
                Endpoint::Version {
                    name,
                    version: version.to_string(),
                },
            ),
            _ => Err(ParseError::NotFound),
        }
    }
}

/// Takes a package name off the front of the segments: `name`, or
/// `@scope/name` whether the slash was encoded or not.
fn split_name<'a, 'b>(s: &'a [&'b str]) -> Option<(String, &'a [&'b str])> {
    let first = *s.first()?;
    if first.is_empty() {
        return None;
    }
    if first.starts_with('@') && !first.contains('/') {
        let second = s.get(1).filter(|x| !x.is_empty())?;
        return Some((format!("{first}/{second}"), &s[2..]));
    }
    Some((first.to_string(), &s[1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let get = Method::GET;
        assert_eq!(
            Endpoint::parse(&get, "/@scope%2fpkg"),
            Ok(Endpoint::Packument {
                name: "@scope/pkg".into()
            })
        );
        assert_eq!(
            Endpoint::parse(&get, "/@scope/pkg/-/pkg-1.0.0.tgz"),
            Ok(Endpoint::Tarball {
                name: "@scope/pkg".into(),
                file: "pkg-1.0.0.tgz".into()
            })
        );
        assert_eq!(
            Endpoint::parse(&Method::DELETE, "/pkg/-/pkg-1.0.0.tgz/-rev/3-abc"),
            Ok(Endpoint::TarballRev {
                name: "pkg".into(),
                file: "pkg-1.0.0.tgz".into()
            })
        );
        assert_eq!(
            Endpoint::parse(&Method::PUT, "/-/package/@s%2fp/dist-tags/beta"),
            Ok(Endpoint::DistTag {
                name: "@s/p".into(),
                tag: "beta".into()
            })
        );
        assert_eq!(
            Endpoint::parse(&get, "/-/npm/v1/attestations/@s%2fp@1.0.0"),
            Ok(Endpoint::Attestations {
                name: "@s/p".into(),
                version: "1.0.0".into()
            })
        );
        assert_eq!(
            Endpoint::parse(&get, "/pkg/latest"),
            Ok(Endpoint::Version {
                name: "pkg".into(),
                version: "latest".into()
            })
        );
        assert_eq!(Endpoint::parse(&get, "/"), Err(ParseError::NotFound));
        assert_eq!(
            Login::parse(&Method::PUT, "/-/user/org.couchdb.user:dev"),
            Some(Login::User { name: "dev".into() })
        );
        assert_eq!(
            Login::parse(
                &Method::POST,
                "/-/npm/v1/oidc/token/exchange/package/@s%2fp"
            ),
            Some(Login::OidcExchange {
                package: "@s/p".into()
            })
        );
        assert_eq!(Login::parse(&Method::DELETE, "/-/npm/v1/tokens"), None);
        assert_eq!(Login::parse(&get, "/left-pad"), None);
        assert_eq!(
            Endpoint::parse(&Method::POST, "/pkg"),
            Err(ParseError::MethodNotAllowed)
        );
    }
}
