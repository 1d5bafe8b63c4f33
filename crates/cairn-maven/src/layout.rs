//! The Maven 2 repository layout: `group/as/dirs/artifact/version/file`,
//! `group/as/dirs/artifact/maven-metadata.xml` (artifact level) and
//! `.../artifact/1.0-SNAPSHOT/maven-metadata.xml` (snapshot level), each
//! optionally with a checksum suffix.

/// Checksum files cairn serves (and verifies when uploaded) for every file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl Checksum {
    pub const ALL: [Checksum; 4] = [
        Checksum::Md5,
        Checksum::Sha1,
        Checksum::Sha256,
        Checksum::Sha512,
    ];

    pub fn extension(self) -> &'static str {
        match self {
            Checksum::Md5 => "md5",
            Checksum::Sha1 => "sha1",
            Checksum::Sha256 => "sha256",
            Checksum::Sha512 => "sha512",
        }
    }

    /// The lower-case hex digest of `bytes`.
    pub fn of(self, bytes: &[u8]) -> String {
        use sha2::Digest;
        match self {
            Checksum::Md5 => hex::encode(md5::Md5::digest(bytes)),
            Checksum::Sha1 => hex::encode(sha1::Sha1::digest(bytes)),
            Checksum::Sha256 => hex::encode(sha2::Sha256::digest(bytes)),
            Checksum::Sha512 => hex::encode(sha2::Sha512::digest(bytes)),
        }
    }
}

/// Coordinates of one version of an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gav {
    pub group: String,
    pub artifact: String,
    pub version: String,
}

impl Gav {
    /// The package key: `groupId:artifactId`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.group, self.artifact)
    }

    pub fn is_snapshot(&self) -> bool {
        is_snapshot(&self.version)
    }
}

pub fn is_snapshot(version: &str) -> bool {
    version.ends_with("-SNAPSHOT")
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An artifact file (jar, pom, classifier, `.asc`, ...).
    File { gav: Gav, filename: String },
    /// `group/artifact/maven-metadata.xml`.
    ArtifactMetadata { group: String, artifact: String },
    /// `group/artifact/1.0-SNAPSHOT/maven-metadata.xml`.
    SnapshotMetadata { gav: Gav },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MavenPath {
    pub target: Target,
    /// Set when the path is the target's checksum file.
    pub checksum: Option<Checksum>,
}

fn segment_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && !s.starts_with('.')
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._-+~".contains(&c))
}

/// Parses a path below the repository (no leading `/`). `None` for
/// anything outside the layout: empty, `.`/`..` or hidden segments,
/// characters outside `[A-Za-z0-9._+~-]`, a file whose name does not start
/// with `artifact-version` (or, for snapshots, `artifact-baseVersion-`).
pub fn parse(path: &str) -> Option<MavenPath> {
    let segs: Vec<&str> = path.split('/').collect();
    if segs.len() < 3 || !segs.iter().all(|s| segment_ok(s)) {
        return None;
    }
    let (last, dirs) = segs.split_last()?;
    let (name, checksum) = Checksum::ALL
        .into_iter()
        .find_map(|c| {
            last.strip_suffix(&format!(".{}", c.extension()))
                .map(|n| (n, Some(c)))
        })
        .unwrap_or((last, None));
    let n = dirs.len();
    // Group directories are the groupId's dot-separated parts, so they
    // hold no dots themselves (`org.example/` is not `org/example/`).
    let group_dirs = if name == "maven-metadata.xml" && !is_snapshot(dirs[n - 1]) {
        &dirs[..n - 1]
    } else {
        &dirs[..n.saturating_sub(2)]
    };
    if group_dirs.iter().any(|d| d.contains('.')) {
        return None;
    }
    if name == "maven-metadata.xml" {
        if n >= 3 && is_snapshot(dirs[n - 1]) {
            let gav = Gav {
                group: dirs[..n - 2].join("."),
                artifact: dirs[n - 2].to_string(),
                version: dirs[n - 1].to_string(),
            };
            return Some(MavenPath {
                target: Target::SnapshotMetadata { gav },
                checksum,
            });
        }
        return Some(MavenPath {
            target: Target::ArtifactMetadata {
                group: dirs[..n - 1].join("."),
                artifact: dirs[n - 1].to_string(),
            },
            checksum,
        });
    }
    if n < 3 {
        return None;
    }
    let gav = Gav {
        group: dirs[..n - 2].join("."),
        artifact: dirs[n - 2].to_string(),
        version: dirs[n - 1].to_string(),
    };
    let release_prefix = format!("{}-{}", gav.artifact, gav.version);
    let snapshot_prefix = gav
        .version
        .strip_suffix("-SNAPSHOT")
        .map(|base| format!("{}-{base}-", gav.artifact));
    let named_for_version = name
        .strip_prefix(&release_prefix)
        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('-'))
        || snapshot_prefix.is_some_and(|p| name.starts_with(&p));
    if !named_for_version {
        return None;
    }
    Some(MavenPath {
        target: Target::File {
            gav,
            filename: name.to_string(),
        },
        checksum,
    })
}

/// One file of a snapshot version, named `artifact-base-yyyyMMdd.HHmmss-N[-classifier].ext`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    /// `yyyyMMdd.HHmmss`
    pub timestamp: String,
    pub build: u64,
    pub classifier: Option<String>,
    pub extension: String,
}

/// Reads a timestamped snapshot file name; `None` for other names.
pub fn snapshot_file(gav: &Gav, filename: &str) -> Option<SnapshotFile> {
    let base = gav.version.strip_suffix("-SNAPSHOT")?;
    let rest = filename.strip_prefix(&format!("{}-{base}-", gav.artifact))?;
    let (date, rest) = rest.split_at_checked(8)?;
    let rest = rest.strip_prefix('.')?;
    let (clock, rest) = rest.split_at_checked(6)?;
    let rest = rest.strip_prefix('-')?;
    if !date
        .bytes()
        .chain(clock.bytes())
        .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let build: u64 = rest[..digits].parse().ok()?;
    let rest = &rest[digits..];
    let (classifier, extension) = if let Some(r) = rest.strip_prefix('-') {
        let (c, e) = r.split_once('.')?;
        (Some(c.to_string()), e)
    } else {
        (None, rest.strip_prefix('.')?)
    };
    if extension.is_empty() {
        return None;
    }
    Some(SnapshotFile {
        timestamp: format!("{date}.{clock}"),
        build,
        classifier,
        extension: extension.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn gav(g: &str, a: &str, v: &str) -> Gav {
        Gav {
            group: g.into(),
            artifact: a.into(),
            version: v.into(),
        }
    }

    #[test]
    fn parses_the_layout() {
        let p = parse("org/example/demo/1.0/demo-1.0-sources.jar.sha1").unwrap();
        assert_eq!(
            p.target,
            Target::File {
                gav: gav("org.example", "demo", "1.0"),
                filename: "demo-1.0-sources.jar".into()
            }
        );
        assert_eq!(p.checksum, Some(Checksum::Sha1));
        assert_eq!(
            parse("org/example/demo/maven-metadata.xml").unwrap().target,
            Target::ArtifactMetadata {
                group: "org.example".into(),
                artifact: "demo".into()
            }
        );
        assert_eq!(
            parse("org/example/demo/1.0-SNAPSHOT/maven-metadata.xml.md5")
                .unwrap()
                .target,
            Target::SnapshotMetadata {
                gav: gav("org.example", "demo", "1.0-SNAPSHOT")
            }
        );
        assert!(parse("org/example/demo/1.0-SNAPSHOT/demo-1.0-20261126.101010-1.jar").is_some());
        assert!(parse("org/example/demo/1.0/other-1.0.jar").is_none());
        assert!(parse("org/example/demo/1.0/demo-1.00.jar").is_none());
        assert!(parse("org/../demo/1.0/demo-1.0.jar").is_none());
        assert!(parse("org/example/demo/1.0/.hidden").is_none());
        assert!(parse("org//demo/1.0/demo-1.0.jar").is_none());
        assert!(parse("demo/1.0").is_none());
        assert!(parse("org.example/demo/1.0/demo-1.0.jar").is_none());
    }

    #[test]
    fn reads_snapshot_file_names() {
        let g = gav("org.example", "demo", "1.0-SNAPSHOT");
        assert_eq!(
            snapshot_file(&g, "demo-1.0-20261126.101010-12-sources.jar.asc"),
            Some(SnapshotFile {
                timestamp: "20261126.101010".into(),
                build: 12,
                classifier: Some("sources".into()),
                extension: "jar.asc".into()
            })
        );
        assert_eq!(
            snapshot_file(&g, "demo-1.0-20261126.101010-3.pom")
                .unwrap()
                .classifier,
            None
        );
        assert!(snapshot_file(&g, "demo-1.0-SNAPSHOT.jar").is_none());
        assert!(snapshot_file(&g, "demo-1.0-2026112x.101010-3.pom").is_none());
    }

    proptest! {
        /// No parsed path holds a segment that could leave the repository.
        #[test]
        fn parsed_paths_are_safe(path in "[a-zA-Z0-9./_-]{0,60}") {
            if let Some(p) = parse(&path) {
                let (group, artifact) = match &p.target {
                    Target::File { gav, .. } | Target::SnapshotMetadata { gav } => (gav.group.clone(), gav.artifact.clone()),
                    Target::ArtifactMetadata { group, artifact } => (group.clone(), artifact.clone()),
                };
                prop_assert!(group.split('.').all(|s| !s.is_empty()));
                prop_assert!(!artifact.starts_with('.') && !artifact.contains('/'));
            }
        }
    }
}
