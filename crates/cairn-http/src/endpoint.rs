//! What an endpoint declares: its name, and the access it needs.

use cairn_core::{Action, Format};

/// What a grant is matched against: a repository (`team/app`, `npm/main`)
/// and, for one package of it, the package's own name (`npm/main/left-pad`).
/// A grant on either covers the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub repository: String,
    pub package: Option<String>,
}

impl Resource {
    /// A whole repository, named as grants name it.
    pub fn repository(name: impl Into<String>) -> Resource {
        Resource {
            repository: name.into(),
            package: None,
        }
    }

    /// A language-package repository (`npm/main`).
    pub fn packages(format: Format, repository: &str) -> Resource {
        Resource::repository(format.resource(repository))
    }

    /// One package of a language-package repository, by its normalised key.
    pub fn package(format: Format, repository: &str, key: &str) -> Resource {
        Resource {
            repository: format.resource(repository),
            package: Some(format.package_resource(repository, key)),
        }
    }

    /// The names a grant may match.
    pub fn names(&self) -> Vec<&str> {
        let mut names = vec![self.repository.as_str()];
        names.extend(self.package.as_deref());
        names
    }

    /// The most specific name: the package's, else the repository's.
    pub fn name(&self) -> &str {
        self.package.as_deref().unwrap_or(&self.repository)
    }
}

/// The access an endpoint needs, decided before its handler runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No right: the endpoint answers anyone (a ping), or only shows what
    /// the caller may read (the OCI catalog), or is itself a login.
    Anyone,
    /// `action` on the resource.
    On(Action, Resource),
    /// A caller who may `action` something in the resource's repository:
    /// one without a credential is refused before the body is read, and
    /// the handler decides on the package the body names (through the same
    /// guard) once it has read it.
    Caller(Action, Resource),
}

/// A parsed request, as an adapter declares it.
pub trait Endpoint {
    /// A short, stable, low-cardinality name (`manifest_put`, `packument`)
    /// for logs, spans and metrics.
    fn name(&self) -> &'static str;
}

/// Which endpoint of which format served a request: set on the response by
/// the guard, read by the server's logging and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointLabel {
    pub format: &'static str,
    pub endpoint: &'static str,
}
