//! The package-store part of the metadata suite: publishing, immutability
//! and tombstones, the lifecycle with its policy, dist-tags, owners, search,
//! concurrent publishers, and the audit entries of each.

use super::seed_publish;
use crate::packages::{FileRecord, NewVersion, PublishMode, StagingState};
use crate::{Actor, AuditFilter, MetaStore, StoreError};
use cairn_core::lifecycle::{LifecycleError, LifecyclePolicy, Transition, VersionState};
use cairn_core::PackageRef;
use cairn_core::{Digest, Format};
use std::sync::Arc;

fn file(name: &str, version: &str) -> FileRecord {
    FileRecord {
        filename: name.to_string(),
        version: version.to_string(),
        digest: Digest::sha256_of(name.as_bytes()),
        size: name.len() as u64,
        metadata: "{}".into(),
        companion: None,
        created_at: 0,
    }
}

fn version(format: Format, package: &str, v: &str, deps: &[&str]) -> NewVersion {
    NewVersion {
        format,
        repository: "main".into(),
        package: package.to_string(),
        name: package.to_string(),
        version: v.to_string(),
        metadata: format!(r#"{{"version":"{v}"}}"#),
        dependencies: deps.iter().map(|s| s.to_string()).collect(),
        files: vec![file(&format!("{package}-{v}.tgz"), v)],
        tags: vec!["latest".into()],
        owner: Some("tester".into()),
    }
}

fn lifecycle(e: Result<impl std::fmt::Debug, StoreError>) -> LifecycleError {
    match e {
        Err(StoreError::Lifecycle(l)) => l,
        other => panic!("expected a lifecycle refusal, got {other:?}"),
    }
}

pub async fn package_store_suite(meta: Arc<dyn MetaStore>, who: &Actor) {
    let npm = Format::Npm;
    let nv = PublishMode::NewVersion;
    seed_publish(&meta, &version(npm, "lib", "1.0.0", &[]), nv, who)
        .await
        .unwrap();
    seed_publish(&meta, &version(npm, "lib", "1.1.0", &[]), nv, who)
        .await
        .unwrap();
    let pkg = meta
        .package(PackageRef::new(npm, "main", "lib"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pkg.versions.len(), 2);
    let index = meta
        .version_index(PackageRef::new(npm, "main", "lib"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(index.versions, ["1.0.0", "1.1.0"]);
    assert_eq!(index.revision, pkg.revision);
    assert!(index.not_active.is_empty() && index.updated_at > 0);
    let light = meta
        .package_versions(PackageRef::new(npm, "main", "lib"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(light.versions.len(), 2);
    assert!(light.versions.iter().all(|v| v.files.is_empty()));
    assert_eq!(pkg.tags.get("latest").map(String::as_str), Some("1.1.0"));
    assert_eq!(
        pkg.version("1.0.0").unwrap().files[0].filename,
        "lib-1.0.0.tgz"
    );
    // The revision: one lookup, the same as the record's, moved by each change.
    assert_eq!(
        meta.package_revision(PackageRef::new(npm, "main", "lib"))
            .await
            .unwrap(),
        Some(pkg.revision)
    );
    assert!(
        pkg.revision >= 2,
        "two publishes, revision {}",
        pkg.revision
    );
    assert_eq!(
        meta.package_revision(PackageRef::new(npm, "main", "nope"))
            .await
            .unwrap(),
        None
    );
    assert!(meta
        .package(PackageRef::new(npm, "other", "lib"))
        .await
        .unwrap()
        .is_none());
    assert!(meta
        .package(PackageRef::new(Format::Cargo, "main", "lib"))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        meta.owners(PackageRef::new(npm, "main", "lib"))
            .await
            .unwrap(),
        vec!["tester"]
    );

    // The same version again is refused, with nothing changed.
    let mut again = version(npm, "lib", "1.0.0", &[]);
    again.files = vec![file("other-bytes.tgz", "1.0.0")];
    assert!(matches!(
        lifecycle(seed_publish(&meta, &again, nv, who).await),
        LifecycleError::VersionExists { .. }
    ));
    let after = meta
        .package(PackageRef::new(npm, "main", "lib"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, pkg);

    // Files: found with their version's state.
    let (f, s) = meta
        .package_file(PackageRef::new(npm, "main", "lib"), "lib-1.0.0.tgz")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((f.version.as_str(), s), ("1.0.0", VersionState::Active));
    assert!(meta
        .package_file(PackageRef::new(npm, "main", "lib"), "nope.tgz")
        .await
        .unwrap()
        .is_none());

    // Deprecate and undeprecate; yank and unyank.
    let policy = LifecyclePolicy::default();
    let dep = Transition::Deprecate {
        message: "use 1.1".into(),
    };
    assert_eq!(
        meta.change_version(
            PackageRef::new(npm, "main", "lib"),
            "1.0.0",
            &dep,
            &policy,
            false,
            who
        )
        .await
        .unwrap(),
        VersionState::Deprecated
    );
    let revision_before = after.revision;
    let pkg = meta
        .package(PackageRef::new(npm, "main", "lib"))
        .await
        .unwrap()
        .unwrap();
    let v = pkg.version("1.0.0").unwrap();
    assert_eq!(
        (v.state, v.message.as_deref()),
        (VersionState::Deprecated, Some("use 1.1"))
    );
    assert!(
        pkg.revision > revision_before,
        "a deprecation moves the revision"
    );
    meta.set_dist_tag(
        PackageRef::new(npm, "main", "lib"),
        "beta",
        Some("1.0.0"),
        who,
    )
    .await
    .unwrap();
    let tagged = meta
        .package_revision(PackageRef::new(npm, "main", "lib"))
        .await
        .unwrap();
    assert!(tagged > Some(pkg.revision), "a dist-tag moves the revision");
    meta.set_dist_tag(PackageRef::new(npm, "main", "lib"), "beta", None, who)
        .await
        .unwrap();
    meta.change_version(
        PackageRef::new(npm, "main", "lib"),
        "1.0.0",
        &Transition::Undeprecate,
        &policy,
        false,
        who,
    )
    .await
    .unwrap();
    assert!(matches!(
        lifecycle(
            meta.change_version(
                PackageRef::new(npm, "main", "lib"),
                "9.9.9",
                &Transition::Unyank,
                &policy,
                false,
                who
            )
            .await
        ),
        LifecycleError::NoSuchVersion { .. }
    ));

    // Dependents block an unpublish; the admin override does not care.
    seed_publish(&meta, &version(npm, "app", "2.0.0", &["lib"]), nv, who)
        .await
        .unwrap();
    let refused = lifecycle(
        meta.change_version(
            PackageRef::new(npm, "main", "lib"),
            "1.1.0",
            &Transition::Unpublish,
            &policy,
            false,
            who,
        )
        .await,
    );
    assert!(
        matches!(&refused, LifecycleError::HasDependents { dependents, .. } if dependents == "app@2.0.0"),
        "{refused:?}"
    );
    assert_eq!(
        meta.dependents_of(npm, "lib", 10).await.unwrap(),
        [("main".to_string(), "app".to_string(), "2.0.0".to_string())]
    );
    assert!(meta
        .dependents_of(Format::Pypi, "lib", 10)
        .await
        .unwrap()
        .is_empty());
    assert!(meta.dependents_of(npm, "app", 10).await.unwrap().is_empty());
    // A package that depends on itself (an older version) does not block itself.
    assert_eq!(
        meta.change_version(
            PackageRef::new(npm, "main", "app"),
            "2.0.0",
            &Transition::Unpublish,
            &policy,
            false,
            who
        )
        .await
        .unwrap(),
        VersionState::Unpublished
    );
    // app@2.0.0 is gone, so lib has no live dependents now.
    assert!(meta.dependents_of(npm, "lib", 10).await.unwrap().is_empty());
    assert_eq!(
        meta.change_version(
            PackageRef::new(npm, "main", "lib"),
            "1.1.0",
            &Transition::Unpublish,
            &policy,
            false,
            who
        )
        .await
        .unwrap(),
        VersionState::Unpublished
    );
    let pkg = meta
        .package(PackageRef::new(npm, "main", "lib"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        pkg.version("1.1.0").unwrap().state,
        VersionState::Unpublished
    );
    assert!(
        !pkg.tags.contains_key("latest"),
        "tags leave with the version"
    );
    // The tombstone: never again, and nothing changes it.
    assert!(matches!(
        lifecycle(seed_publish(&meta, &version(npm, "lib", "1.1.0", &[]), nv, who).await),
        LifecycleError::VersionTombstoned { .. }
    ));
    assert!(matches!(
        lifecycle(
            meta.change_version(
                PackageRef::new(npm, "main", "lib"),
                "1.1.0",
                &Transition::Unyank,
                &policy,
                true,
                who
            )
            .await
        ),
        LifecycleError::AlreadyUnpublished { .. }
    ));
    // A repository that forbids unpublishing.
    let frozen = LifecyclePolicy {
        allow_unpublish: false,
        ..policy.clone()
    };
    assert!(matches!(
        lifecycle(
            meta.change_version(
                PackageRef::new(npm, "main", "lib"),
                "1.0.0",
                &Transition::Unpublish,
                &frozen,
                false,
                who
            )
            .await
        ),
        LifecycleError::UnpublishForbidden
    ));

    // Dist-tags point only at live versions.
    assert!(meta
        .set_dist_tag(
            PackageRef::new(npm, "main", "lib"),
            "stable",
            Some("1.0.0"),
            who
        )
        .await
        .unwrap());
    assert!(matches!(
        lifecycle(
            meta.set_dist_tag(
                PackageRef::new(npm, "main", "lib"),
                "beta",
                Some("1.1.0"),
                who
            )
            .await
        ),
        LifecycleError::NoSuchVersion { .. }
    ));
    assert!(meta
        .set_dist_tag(PackageRef::new(npm, "main", "lib"), "stable", None, who)
        .await
        .unwrap());
    assert!(!meta
        .set_dist_tag(PackageRef::new(npm, "main", "lib"), "stable", None, who)
        .await
        .unwrap());

    // PyPI-style: files added to a version under new names only.
    let py = Format::Pypi;
    let af = PublishMode::AddFiles;
    let mut sdist = version(py, "demo", "1.0", &[]);
    sdist.files = vec![file("demo-1.0.tar.gz", "1.0")];
    seed_publish(&meta, &sdist, af, who).await.unwrap();
    let mut wheel = sdist.clone();
    wheel.files = vec![file("demo-1.0-py3-none-any.whl", "1.0")];
    seed_publish(&meta, &wheel, af, who).await.unwrap();
    assert!(matches!(
        lifecycle(seed_publish(&meta, &sdist, af, who).await),
        LifecycleError::FileExists { .. }
    ));
    let pkg = meta
        .package(PackageRef::new(py, "main", "demo"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pkg.versions.len(), 1);
    assert_eq!(pkg.versions[0].files.len(), 2);

    // Owners and search.
    meta.change_owners(
        PackageRef::new(Format::Npm, "main", "lib"),
        &["alice".into()],
        &["tester".into()],
        who,
    )
    .await
    .unwrap();
    assert_eq!(
        meta.owners(PackageRef::new(npm, "main", "lib"))
            .await
            .unwrap(),
        vec!["alice"]
    );
    assert_eq!(
        meta.search_packages(npm, "main", "LI", 10).await.unwrap(),
        vec!["lib"]
    );
    assert_eq!(
        meta.search_packages(npm, "main", "", 10).await.unwrap(),
        vec!["app", "lib"]
    );
    assert!(
        meta.search_packages(npm, "main", "%", 10)
            .await
            .unwrap()
            .len()
            == 2
    );
    assert!(meta
        .search_packages(npm, "main", "zzz", 10)
        .await
        .unwrap()
        .is_empty());

    // Concurrent publishers of one version: exactly one wins.
    let mut racers = Vec::new();
    for i in 0..8 {
        let meta = meta.clone();
        let who = who.clone();
        racers.push(tokio::spawn(async move {
            let mut v = version(Format::Cargo, "race", "0.1.0", &[]);
            v.files = vec![file(&format!("race-{i}.crate"), "0.1.0")];
            seed_publish(&meta, &v, PublishMode::NewVersion, &who).await
        }));
    }
    let mut wins = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Lifecycle(LifecycleError::VersionExists { .. })) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(wins, 1);
    let race = meta
        .package(PackageRef::new(Format::Cargo, "main", "race"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(race.versions[0].files.len(), 1);

    // Every change and refusal above is in the audit log.
    let log = meta
        .audit_log(&AuditFilter {
            repository: Some("npm/main".into()),
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    let count = |action: &str, ok: bool| {
        log.iter()
            .filter(|e| e.action == action && (e.outcome == "ok") == ok)
            .count()
    };
    assert_eq!(count("package.publish", true), 3);
    assert_eq!(count("package.publish", false), 2);
    assert_eq!(count("version.unpublish", true), 2);
    assert_eq!(count("version.unpublish", false), 2);
    assert_eq!(count("version.deprecate", true), 1);
    assert_eq!(count("package.dist_tag", true), 4);
    assert!(log.iter().all(|e| e.actor == who.name));
    staging_suite(&meta, who).await;
}

/// Staging repositories: open once, state moves only from the expected
/// state, and a release publishes all versions in one transaction or none.
async fn staging_suite(meta: &Arc<dyn MetaStore>, who: &Actor) {
    let mvn = Format::Maven;
    let (open, closed) = (StagingState::Open, StagingState::Closed);
    let first = meta.open_staging(mvn, "rel", "s1", who).await.unwrap();
    assert_eq!(first.state, open);
    assert_eq!(
        meta.open_staging(mvn, "rel", "s1", who).await.unwrap(),
        first
    );
    let release = |v: &str, file: &str| NewVersion {
        repository: "rel".into(),
        files: vec![self::file(file, v)],
        tags: vec![],
        ..version(mvn, "g:a", v, &[])
    };
    // Not closed yet: refused, nothing published.
    let both = [release("1.0", "a-1.0.jar"), release("1.1", "a-1.1.jar")];
    for v in &both {
        for f in &v.files {
            meta.intend_blob(&f.digest, f.size).await.unwrap();
        }
    }
    assert!(matches!(
        meta.release_staging(mvn, "rel", "s1", &both, who).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(meta
        .package(PackageRef::new(mvn, "rel", "g:a"))
        .await
        .unwrap()
        .is_none());
    assert!(!meta
        .set_staging_state(mvn, "rel", "s1", closed, open, None, who)
        .await
        .unwrap());
    assert!(meta
        .set_staging_state(mvn, "rel", "s1", open, closed, None, who)
        .await
        .unwrap());
    // One release file exists already: the whole release is refused.
    seed_publish(
        &meta,
        &release("1.1", "a-1.1.jar"),
        PublishMode::AddFiles,
        who,
    )
    .await
    .unwrap();
    assert!(matches!(
        lifecycle(meta.release_staging(mvn, "rel", "s1", &both, who).await),
        LifecycleError::FileExists { .. }
    ));
    let pkg = meta
        .package(PackageRef::new(mvn, "rel", "g:a"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        pkg.version("1.0").is_none(),
        "a refused release left 1.0 behind"
    );
    assert_eq!(
        meta.staging(mvn, "rel", "s1").await.unwrap().unwrap().state,
        closed
    );
    meta.release_staging(mvn, "rel", "s1", &both[..1], who)
        .await
        .unwrap();
    let pkg = meta
        .package(PackageRef::new(mvn, "rel", "g:a"))
        .await
        .unwrap()
        .unwrap();
    assert!(pkg.version("1.0").is_some());
    let s1 = meta.staging(mvn, "rel", "s1").await.unwrap().unwrap();
    assert_eq!(s1.state, StagingState::Released);
    assert_eq!(meta.stagings(mvn, "rel").await.unwrap(), vec![s1]);

    // The version index: publishing order, a version listed once however
    // many files it gets, states of the versions that are not active.
    seed_publish(
        &meta,
        &release("1.0", "a-1.0.pom"),
        PublishMode::AddFiles,
        who,
    )
    .await
    .unwrap();
    let yank = Transition::Yank {
        reason: Some("broken".into()),
    };
    let policy = LifecyclePolicy::default();
    meta.change_version(
        PackageRef::new(mvn, "rel", "g:a"),
        "1.1",
        &yank,
        &policy,
        false,
        who,
    )
    .await
    .unwrap();
    let index = meta
        .version_index(PackageRef::new(mvn, "rel", "g:a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(index.versions, ["1.1", "1.0"]);
    assert_eq!(index.state("1.1"), VersionState::Yanked);
    assert_eq!(index.state("1.0"), VersionState::Active);
    assert_eq!(index.not_active["1.1"].1.as_deref(), Some("broken"));
    assert!(meta
        .version_index(PackageRef::new(mvn, "rel", "g:none"))
        .await
        .unwrap()
        .is_none());
}
