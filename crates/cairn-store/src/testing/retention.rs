//! Retention of package versions and Maven snapshot builds carried out on
//! a real store: what the plan names goes (unpublished, its bytes to the
//! collector), everything listing the package changes with it, a preview
//! after equals nothing, and what changed since the plan stays.

use super::gc::collect as collect_all;
use crate::retention::{apply, preview};
use crate::{Actor, BlobStore, Blobs, FileRecord, MetaStore, NewVersion, PublishMode};
use cairn_core::retention::Policies;
use cairn_core::{Digest, Format, PackageRef, VersionState};
use std::sync::Arc;

fn policies(configs: serde_json::Value) -> Policies {
    let configs: Vec<cairn_core::retention::RetentionConfig> =
        serde_json::from_value(configs).unwrap();
    Policies::compile(&configs).unwrap()
}

async fn file(blobs: &Blobs, name: &str, version: &str) -> FileRecord {
    let bytes = format!("bytes of {name}").into_bytes();
    let digest = Digest::sha256_of(&bytes);
    let size = bytes.len() as u64;
    blobs.put_bytes(&digest, bytes.into()).await.unwrap();
    FileRecord {
        filename: name.into(),
        version: version.into(),
        digest,
        size,
        metadata: "{}".into(),
        companion: None,
        created_at: 0,
    }
}

fn new_version(
    format: Format,
    repo: &str,
    name: &str,
    v: &str,
    files: Vec<FileRecord>,
    tags: &[&str],
) -> NewVersion {
    NewVersion {
        format,
        repository: repo.into(),
        package: cairn_core::package_key(format, name).unwrap(),
        name: name.into(),
        version: v.into(),
        metadata: "{}".into(),
        dependencies: vec![],
        files,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        owner: None,
    }
}

pub async fn version_retention_suite(meta: Arc<dyn MetaStore>, store: Arc<dyn BlobStore>) {
    let who = Actor::local("test");
    let blobs = Blobs::new(store.clone(), meta.clone());
    // npm: a release, three betas (one tagged `next`), the newest `latest`.
    for (v, tags) in [
        ("1.0.0", &[][..]),
        ("1.1.0-beta.1", &[][..]),
        ("1.1.0-beta.2", &["next"][..]),
        ("1.1.0-beta.3", &[][..]),
        ("1.1.0", &["latest"][..]),
    ] {
        let f = file(&blobs, &format!("ret-pkg-{v}.tgz"), v).await;
        let nv = new_version(Format::Npm, "ret", "ret-pkg", v, vec![f], tags);
        meta.publish(&nv, PublishMode::NewVersion, &who)
            .await
            .unwrap();
    }
    // Maven: three builds of one snapshot, and another snapshot released.
    let mut builds = Vec::new();
    for n in 1..=3u32 {
        let mut files = Vec::new();
        for ext in ["jar", "pom"] {
            files.push(
                file(
                    &blobs,
                    &format!("lib-1.0-20240101.12000{n}-{n}.{ext}"),
                    "1.0-SNAPSHOT",
                )
                .await,
            );
        }
        let nv = new_version(
            Format::Maven,
            "snaps",
            "org.ret:lib",
            "1.0-SNAPSHOT",
            files.clone(),
            &[],
        );
        meta.publish(&nv, PublishMode::AddFiles, &who)
            .await
            .unwrap();
        builds.push(files);
    }
    let f = file(&blobs, "lib-0.9-20230101.120000-1.jar", "0.9-SNAPSHOT").await;
    let nv = new_version(
        Format::Maven,
        "snaps",
        "org.ret:lib",
        "0.9-SNAPSHOT",
        vec![f],
        &[],
    );
    meta.publish(&nv, PublishMode::AddFiles, &who)
        .await
        .unwrap();
    let f = file(&blobs, "lib-0.9.jar", "0.9").await;
    let nv = new_version(Format::Maven, "snaps", "org.ret:lib", "0.9", vec![f], &[]);
    meta.publish(&nv, PublishMode::NewVersion, &who)
        .await
        .unwrap();

    let p = policies(serde_json::json!([
        {"name": "betas", "format": "npm", "repositories": ["ret"], "keep_last": 2},
        {"name": "snapshots", "format": "maven", "repositories": ["snaps"],
         "snapshots": {"keep_last": 1, "remove_released": true}},
    ]));
    let now = crate::now() + 1;
    let planned = preview(&*meta, &p, &[], now).await.unwrap();
    let text = serde_json::to_string(&planned).unwrap();
    assert_eq!(planned.len(), 2, "{text}");
    assert_eq!(planned[0].repository, "maven/snaps");
    assert_eq!(planned[1].repository, "npm/ret");
    // npm: beta.3 is among the two newest (with 1.1.0 when that was
    // published a second later), beta.2 is tagged, the releases are
    // protected: only beta.1 goes.
    assert!(
        text.contains(r#""package":"ret-pkg","version":"1.1.0-beta.1""#),
        "{text}"
    );
    assert_eq!(planned[1].actions.len(), 1, "{text}");
    // Maven: builds 1 and 2 of 1.0-SNAPSHOT, and 0.9-SNAPSHOT (released).
    assert_eq!(planned[0].actions.len(), 3, "{text}");

    // Cancelled before it starts: nothing is deleted.
    let stop = tokio_util::sync::CancellationToken::new();
    stop.cancel();
    let (_, report) = apply(&*meta, &p, &[], now, 100, &stop).await.unwrap();
    assert!(report.cancelled && report.versions_deleted + report.files_deleted == 0);
    assert_eq!(preview(&*meta, &p, &[], now).await.unwrap().len(), 2);
    let go = tokio_util::sync::CancellationToken::new();
    let (_, report) = apply(&*meta, &p, &[], now, 100, &go).await.unwrap();
    assert_eq!(
        (
            report.versions_deleted,
            report.files_deleted,
            report.skipped
        ),
        (2, 4, 0),
        "{report:?}"
    );
    assert!(
        preview(&*meta, &p, &[], now).await.unwrap().is_empty(),
        "preview equals execution"
    );

    // What lists the package changed with it.
    let npm = PackageRef {
        format: Format::Npm,
        repository: "ret",
        package: "ret-pkg",
    };
    let rec = meta.package(npm).await.unwrap().unwrap();
    let beta1 = rec
        .versions
        .iter()
        .find(|v| v.version == "1.1.0-beta.1")
        .unwrap();
    assert_eq!(beta1.state, VersionState::Unpublished);
    assert!(beta1.files.is_empty());
    assert!(beta1
        .message
        .as_deref()
        .unwrap()
        .contains("policy \"betas\""));
    let (_, state) = meta
        .package_file(npm, "ret-pkg-1.1.0-beta.1.tgz")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        state,
        VersionState::Unpublished,
        "a download is told it is gone"
    );
    let maven = PackageRef {
        format: Format::Maven,
        repository: "snaps",
        package: "org.ret:lib",
    };
    let rec = meta.package(maven).await.unwrap().unwrap();
    let snap = rec
        .versions
        .iter()
        .find(|v| v.version == "1.0-SNAPSHOT")
        .unwrap();
    let left: Vec<&str> = snap.files.iter().map(|f| f.filename.as_str()).collect();
    assert_eq!(
        left,
        [
            "lib-1.0-20240101.120003-3.jar",
            "lib-1.0-20240101.120003-3.pom"
        ]
    );
    assert!(
        meta.package_file(maven, "lib-1.0-20240101.120001-1.jar")
            .await
            .unwrap()
            .is_none(),
        "a pruned build is not found"
    );

    // A download is recorded as use.
    meta.note_download(npm, "1.1.0").await.unwrap();
    let facts = meta.retention_facts(Format::Npm, "ret").await.unwrap();
    let v = facts[0]
        .versions
        .iter()
        .find(|v| v.version == "1.1.0")
        .unwrap();
    assert!(v.downloaded_at.is_some_and(|at| at >= now - 5), "{v:?}");
    assert!(
        facts[0]
            .versions
            .iter()
            .filter(|v| v.downloaded_at.is_some())
            .count()
            == 1
    );

    // A version tagged since the plan stays.
    meta.set_dist_tag(npm, "keep", Some("1.1.0-beta.3"), &who)
        .await
        .unwrap();
    assert!(!meta
        .prune_version(npm, "1.1.0-beta.3", "test", &who)
        .await
        .unwrap());

    // The collector frees the pruned bytes and nothing else.
    let gone = collect_all(&*meta).await;
    let pruned: Vec<Digest> = builds[..2]
        .iter()
        .flatten()
        .map(|f| f.digest.clone())
        .collect();
    for d in &pruned {
        assert!(gone.contains(d), "{d} collected");
    }
    for f in &builds[2] {
        assert!(!gone.contains(&f.digest));
    }
    super::assert_kept_numbers_agree(&meta, &["", "npm/", "maven/"], "after retention").await;
    let audit = meta
        .audit_log(&crate::AuditFilter {
            action: Some("version.retention".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert!(audit.iter().all(|a| a.actor.starts_with("retention/")));
}
