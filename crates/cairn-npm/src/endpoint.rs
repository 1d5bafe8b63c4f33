//! The npm registry's paths, parsed into [`Endpoint`]. Paths are below
//! `/npm/<repository>`; a scoped name arrives as `@scope%2fname` (npm's
//! spelling) or `@scope/name`.

use axum::http::Method;

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
    /// `GET` the packument, `PUT` to publish or to change versions.
    Package {
        name: String,
    },
    /// `PUT` a changed packument (unpublish one version); `DELETE` the package.
    PackageRev {
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

impl Endpoint {
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
            [] => only(&[M::GET, M::HEAD, M::PUT], Endpoint::Package { name }),
            ["-rev", _] => only(&[M::PUT, M::DELETE], Endpoint::PackageRev { name }),
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
            Ok(Endpoint::Package {
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
            Endpoint::parse(&Method::POST, "/pkg"),
            Err(ParseError::MethodNotAllowed)
        );
    }
}
