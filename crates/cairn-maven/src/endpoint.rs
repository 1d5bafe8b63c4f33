//! Maven repository paths below `/maven/<repository>`, with an optional
//! staging repository (`-/staging/<id>/`), parsed into [`Endpoint`].

use crate::layout::{self, MavenPath, Target};
use crate::{check_staging_id, staging_repository};
use axum::http::Method;
use cairn_core::{Action, Format};
use cairn_http::{Access, Resource};
use cairn_packages::{split_repository, PackageError, PackageResult};

/// Where the request's files are: the repository, or one of its staging repositories.
#[derive(Debug, Clone)]
pub struct Place {
    pub repository: String,
    pub staging: Option<String>,
}

impl Place {
    /// The store repository holding the files.
    pub fn store(&self) -> String {
        match &self.staging {
            Some(id) => staging_repository(&self.repository, id),
            None => self.repository.clone(),
        }
    }
}

/// One Maven request: the place, the artifact's store key
/// (`group:artifact`) and the parsed layout path.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// `GET|HEAD` a file, a checksum or a metadata document.
    Get {
        place: Place,
        key: String,
        path: MavenPath,
    },
    /// `PUT` a file, a checksum or a signature of one artifact.
    Deploy {
        place: Place,
        key: String,
        path: MavenPath,
    },
    /// `PUT` artifact- or group-level `maven-metadata.xml`: read and
    /// discarded (cairn writes metadata), and the path may be a group's (a
    /// plugin's deploy sends one).
    DeployMetadata {
        place: Place,
        key: String,
        path: MavenPath,
    },
}

impl cairn_http::Endpoint for Endpoint {
    fn name(&self) -> &'static str {
        match self {
            Endpoint::Get { path, .. } => match (&path.target, path.checksum) {
                (_, Some(_)) => "checksum",
                (Target::File { .. }, None) => "file",
                (_, None) => "metadata",
            },
            Endpoint::Deploy { .. } => "deploy",
            Endpoint::DeployMetadata { .. } => "deploy_metadata",
        }
    }
}

impl Endpoint {
    /// Parses `path` (below `/maven`, starting with the repository).
    pub fn parse(method: &Method, path: &str) -> PackageResult<Endpoint> {
        let (repository, rest) = split_repository(path)?;
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let (staging, rest) = match rest.strip_prefix("-/staging/") {
            Some(r) => {
                let (id, r) = r.split_once('/').unwrap_or((r, ""));
                check_staging_id(id)?;
                (Some(id.to_string()), r)
            }
            None => (None, rest),
        };
        let place = Place {
            repository,
            staging,
        };
        let path = layout::parse(rest).ok_or_else(|| {
            PackageError::not_found(format!("{rest}: not a Maven repository path"))
        })?;
        let (group, artifact) = match &path.target {
            Target::File { gav, .. } | Target::SnapshotMetadata { gav } => {
                (&gav.group, &gav.artifact)
            }
            Target::ArtifactMetadata { group, artifact } => (group, artifact),
        };
        let key = crate::key(group, artifact)?;
        match *method {
            Method::GET | Method::HEAD => Ok(Endpoint::Get { place, key, path }),
            Method::PUT => match path.target {
                Target::ArtifactMetadata { .. } => {
                    Ok(Endpoint::DeployMetadata { place, key, path })
                }
                _ => Ok(Endpoint::Deploy { place, key, path }),
            },
            Method::DELETE => Err(PackageError::MethodNotAllowed(
                "files are not deleted: releases are permanent (deprecate a version instead)"
                    .into(),
            )),
            _ => Err(PackageError::MethodNotAllowed(
                "use GET, HEAD or PUT".into(),
            )),
        }
    }

    /// Where the request's files are.
    pub fn place(&self) -> &Place {
        match self {
            Endpoint::Get { place, .. }
            | Endpoint::Deploy { place, .. }
            | Endpoint::DeployMetadata { place, .. } => place,
        }
    }

    pub fn place_mut(&mut self) -> &mut Place {
        match self {
            Endpoint::Get { place, .. }
            | Endpoint::Deploy { place, .. }
            | Endpoint::DeployMetadata { place, .. } => place,
        }
    }

    /// What the endpoint needs: a read or a publish of the artifact in the
    /// repository (staging included); discarded metadata only a credential
    /// that could publish in the repository.
    pub fn access(&self) -> Access {
        let maven = Format::Maven;
        match self {
            Endpoint::Get { place, key, .. } => Access::On(
                Action::Read,
                Resource::package(maven, &place.repository, key),
            ),
            Endpoint::Deploy { place, key, .. } => Access::On(
                Action::Publish,
                Resource::package(maven, &place.repository, key),
            ),
            Endpoint::DeployMetadata { place, .. } => Access::Caller(
                Action::Publish,
                Resource::packages(maven, &place.repository),
            ),
        }
    }
}
