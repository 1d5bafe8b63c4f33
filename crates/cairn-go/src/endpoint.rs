//! The GOPROXY protocol's paths below `/go/<repository>`, and cairn's
//! publish endpoint, parsed into [`Endpoint`].

use crate::module;
use axum::http::Method;
use cairn_core::{package_key, Action, Format};
use cairn_http::{Access, Resource};
use cairn_packages::{PackageError, PackageResult};

/// What a request is for, parsed from the path below `/go/<repo>`.
#[derive(Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET $module/@v/list`
    List {
        module: String,
    },
    Latest {
        module: String,
    },
    Info {
        module: String,
        version: String,
    },
    Mod {
        module: String,
        version: String,
    },
    Zip {
        module: String,
        version: String,
    },
    /// `PUT $module/@v/$version.zip`
    Upload {
        module: String,
        version: String,
    },
    /// `POST /-/publish`
    Publish,
    /// `GET /sumdb/<name>/<path>`: the checksum database `name`
    /// (`supported`, `latest`, `lookup/…`, `tile/…`): through a proxy
    /// repository, its upstream's; in a hosted repository, the repository's
    /// own (`sumdb.rs`), and 404 for any other name.
    Sumdb {
        name: String,
        path: String,
    },
}

impl Endpoint {
    /// `None` for anything that is not a GOPROXY path (a 404, so that a
    /// `GOPROXY` list falls through).
    pub fn parse(method: &Method, rest: &str) -> Option<Endpoint> {
        let rest = rest.strip_prefix('/')?;
        if rest == "-/publish" {
            return (method == Method::POST).then_some(Endpoint::Publish);
        }
        let reading = method == Method::GET || method == Method::HEAD;
        if let Some(sumdb) = rest.strip_prefix("sumdb/") {
            let (name, path) = sumdb.split_once('/')?;
            let safe = |s: &str| {
                !s.is_empty()
                    && s.split('/')
                        .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
                    && s.bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#' && b != b'\\')
            };
            return (reading && safe(name) && !name.contains('/') && safe(path)).then(|| {
                Endpoint::Sumdb {
                    name: name.to_string(),
                    path: path.to_string(),
                }
            });
        }
        if let Some(escaped) = rest.strip_suffix("/@latest") {
            let module = module::unescape(escaped)?;
            return reading.then_some(Endpoint::Latest { module });
        }
        let (escaped, file) = rest.split_once("/@v/")?;
        let module = module::unescape(escaped)?;
        if file == "list" {
            return reading.then_some(Endpoint::List { module });
        }
        let (version, ext) = file.rsplit_once('.')?;
        let version = module::unescape(version)?;
        match (ext, reading, method == Method::PUT) {
            ("info", true, _) => Some(Endpoint::Info { module, version }),
            ("mod", true, _) => Some(Endpoint::Mod { module, version }),
            ("zip", true, _) => Some(Endpoint::Zip { module, version }),
            ("zip", _, true) => Some(Endpoint::Upload { module, version }),
            _ => None,
        }
    }
}

impl cairn_http::Endpoint for Endpoint {
    fn name(&self) -> &'static str {
        match self {
            Endpoint::List { .. } => "list",
            Endpoint::Latest { .. } => "latest",
            Endpoint::Info { .. } => "info",
            Endpoint::Mod { .. } => "mod",
            Endpoint::Zip { .. } => "zip",
            Endpoint::Upload { .. } => "zip_upload",
            Endpoint::Publish => "publish",
            Endpoint::Sumdb { .. } => "sumdb",
        }
    }
}

impl Endpoint {
    /// What the endpoint needs from its caller in `repo`. A publish from
    /// git names its module in the body: it needs a caller who could
    /// publish, and the handler checks the module once it has read it. A
    /// module path that is no module's is a 404, so a GOPROXY list falls
    /// through; an upload's is a 400.
    pub fn access(&self, repo: &str) -> PackageResult<Access> {
        let go = Format::Go;
        let on = |action, module: &str, bad: fn(String) -> PackageError| {
            let key = package_key(go, module).map_err(|e| bad(e.to_string()))?;
            Ok(Access::On(action, Resource::package(go, repo, &key)))
        };
        match self {
            Endpoint::List { module }
            | Endpoint::Latest { module }
            | Endpoint::Info { module, .. }
            | Endpoint::Mod { module, .. }
            | Endpoint::Zip { module, .. } => on(Action::Read, module, |e| {
                PackageError::not_found(format!("not found: {e}"))
            }),
            Endpoint::Upload { module, .. } => {
                on(Action::Publish, module, PackageError::BadRequest)
            }
            Endpoint::Sumdb { .. } => Ok(Access::On(Action::Read, Resource::packages(go, repo))),
            Endpoint::Publish => Ok(Access::Caller(
                Action::Publish,
                Resource::packages(go, repo),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn parses_goproxy_paths() {
        let get = Method::GET;
        assert_eq!(
            Endpoint::parse(&get, "/example.com/!foo/@v/list"),
            Some(Endpoint::List {
                module: "example.com/Foo".into()
            })
        );
        assert_eq!(
            Endpoint::parse(&get, "/example.com/foo/@v/v1.0.0-!r!c1.info"),
            Some(Endpoint::Info {
                module: "example.com/foo".into(),
                version: "v1.0.0-RC1".into()
            })
        );
        assert_eq!(
            Endpoint::parse(&get, "/example.com/foo/@latest"),
            Some(Endpoint::Latest {
                module: "example.com/foo".into()
            })
        );
        assert_eq!(
            Endpoint::parse(&Method::PUT, "/example.com/foo/@v/v1.0.0.zip"),
            Some(Endpoint::Upload {
                module: "example.com/foo".into(),
                version: "v1.0.0".into()
            })
        );
        assert_eq!(Endpoint::parse(&get, "/example.com/Foo/@v/list"), None);
        assert_eq!(
            Endpoint::parse(&get, "/example.com/foo/@v/v1.0.0.exe"),
            None
        );
        assert_eq!(
            Endpoint::parse(&Method::PUT, "/example.com/foo/@v/v1.0.0.mod"),
            None
        );
        assert_eq!(Endpoint::parse(&get, "/-/publish"), None);
    }
}
