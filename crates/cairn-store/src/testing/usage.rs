//! The kept storage numbers and quotas: the sums kept as writes happen
//! agree with the numbers worked out from the references, and a quota
//! refuses exactly the writes that would pass it, with nothing stored.

use super::gc::{manifest, put_referring, stored_manifest};
use crate::{Actor, BlobStore, Blobs, MetaStore, StoreError};
use cairn_core::Digest;
use std::sync::Arc;

/// Asserts that the kept numbers of each namespace in `prefixes` equal the
/// ones worked out from the references.
pub async fn assert_kept_numbers_agree(meta: &Arc<dyn MetaStore>, prefixes: &[&str], when: &str) {
    for p in prefixes {
        let kept = meta.usage_of_prefix(p).await.unwrap();
        let computed = meta.computed_usage_of_prefix(p).await.unwrap();
        assert_eq!(kept, computed, "{when}: prefix {p:?}");
    }
    // Each repository too, against its own computation.
    for u in meta.usage_by_repository("").await.unwrap() {
        let computed = meta.computed_usage_of_prefix(&u.scope).await.unwrap();
        assert_eq!(
            (u.logical, u.unique, u.blobs),
            (computed.logical, computed.unique, computed.blobs),
            "{when}: repository {}",
            u.scope
        );
    }
}

async fn blob(blobs: &Blobs, label: &str, size: usize) -> Digest {
    let bytes: Vec<u8> = label.bytes().cycle().take(size).collect();
    let d = Digest::sha256_of(&bytes);
    blobs.put_bytes(&d, bytes.into()).await.unwrap();
    d
}

fn version(repository: &str, v: &str, d: &Digest, size: u64) -> crate::NewVersion {
    crate::NewVersion {
        format: cairn_core::Format::Npm,
        repository: repository.into(),
        package: "quota-pkg".into(),
        name: "quota-pkg".into(),
        version: v.into(),
        metadata: "{}".into(),
        dependencies: vec![],
        files: vec![crate::FileRecord {
            filename: format!("quota-pkg-{v}.tgz"),
            version: v.into(),
            digest: d.clone(),
            size,
            metadata: "{}".into(),
            companion: None,
            created_at: 0,
        }],
        tags: vec![],
        owner: None,
    }
}

/// Quotas on a namespace and on a package repository: what fits is stored,
/// what references only blobs the scope has costs nothing, what would pass
/// the quota is refused with nothing stored and the numbers unchanged, and
/// writers racing into one scope never take it past its quota.
pub async fn quota_suite(meta: Arc<dyn MetaStore>, store: Arc<dyn BlobStore>) {
    let who = Actor::local("test");
    let blobs = Blobs::new(store.clone(), meta.clone());
    meta.set_quota("quota/", 10_000, &who).await.unwrap();
    let quotas = meta.quotas().await.unwrap();
    assert!(quotas
        .iter()
        .any(|q| q.scope == "quota/" && q.max_unique_bytes == 10_000 && q.unique == 0));

    // 6000 bytes of layer, plus the manifest's own bytes.
    let layer = blob(&blobs, "quota layer a ", 6000).await;
    let first = stored_manifest(&blobs, "quota/a", b"quota manifest one").await;
    put_referring(&meta, &first, std::slice::from_ref(&layer))
        .await
        .unwrap();
    let used = meta.usage_of_prefix("quota/").await.unwrap();
    assert_eq!(used.unique, 6000 + first.size);

    // Another repository of the namespace, the same layer: only its
    // manifest's bytes are new.
    let second = stored_manifest(&blobs, "quota/b", b"quota manifest two").await;
    put_referring(&meta, &second, std::slice::from_ref(&layer))
        .await
        .unwrap();
    let used = meta.usage_of_prefix("quota/").await.unwrap();
    assert_eq!(used.unique, 6000 + first.size + second.size);
    assert_eq!(used.logical, 12000 + first.size + second.size);

    // A new 5000-byte layer does not fit: refused, nothing kept.
    let big = blob(&blobs, "quota layer b ", 5000).await;
    let third = stored_manifest(&blobs, "quota/a", b"quota manifest three").await;
    let err = meta
        .put_manifest(
            &third,
            std::slice::from_ref(&big),
            std::slice::from_ref(&big),
            &["v3".to_string()],
            &[],
            &who,
        )
        .await
        .unwrap_err();
    let StoreError::Quota(q) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(q.scope, "quota/");
    assert_eq!(q.used, used.unique);
    assert!(err
        .to_string()
        .contains("quota exceeded for namespace quota/"));
    assert!(meta
        .manifest("quota/a", &third.digest)
        .await
        .unwrap()
        .is_none());
    assert!(meta.resolve_tag("quota/a", "v3").await.unwrap().is_none());
    assert_eq!(meta.usage_of_prefix("quota/").await.unwrap(), used);
    // Its upload is refused early too, and the refusal is audited.
    let err = meta
        .link_blob("quota/a", &big, 5000, &who)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Quota(_)), "{err:?}");
    assert!(meta.linked_blob("quota/a", &big).await.unwrap().is_none());
    // A blob the namespace has already costs nothing.
    meta.link_blob("quota/c", &layer, 6000, &who).await.unwrap();

    // Raised, the same write goes through.
    meta.set_quota("quota/", 20_000, &who).await.unwrap();
    put_referring(&meta, &third, std::slice::from_ref(&big))
        .await
        .unwrap();
    // Lowered below use: writes that add nothing still pass, deletes too.
    meta.set_quota("quota/", 1, &who).await.unwrap();
    let fourth = manifest("quota/b", b"quota manifest one");
    assert_eq!(fourth.digest, first.digest);
    put_referring(&meta, &fourth, std::slice::from_ref(&layer))
        .await
        .unwrap();
    assert!(meta
        .delete_manifest("quota/a", &third.digest, &[], &who)
        .await
        .unwrap());
    assert!(meta.remove_quota("quota/", &who).await.unwrap());
    assert!(!meta.remove_quota("quota/", &who).await.unwrap());

    // A package repository's quota, in npm's scope `npm/<repository>`.
    let tarball = blob(&blobs, "quota tarball ", 3000).await;
    meta.set_quota("npm/quota-npm", 2000, &who).await.unwrap();
    let err = meta
        .publish(
            &version("quota-npm", "1.0.0", &tarball, 3000),
            crate::PublishMode::NewVersion,
            &who,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Quota(_)), "{err:?}");
    let pkg = cairn_core::PackageRef {
        format: cairn_core::Format::Npm,
        repository: "quota-npm",
        package: "quota-pkg",
    };
    assert!(meta.package(pkg).await.unwrap().is_none(), "nothing stored");
    meta.set_quota("npm/quota-npm", 3000, &who).await.unwrap();
    meta.publish(
        &version("quota-npm", "1.0.0", &tarball, 3000),
        crate::PublishMode::NewVersion,
        &who,
    )
    .await
    .unwrap();

    // Writers racing into one namespace never pass its quota: eight
    // images of 1000 new bytes each, room for three of them.
    meta.set_quota("race/", 3 * 1000 + 3 * 64, &who)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let layer = blob(&blobs, &format!("race layer {i} "), 1000).await;
        let body = format!("race manifest {i} {:060}", 0);
        let body = &body.as_bytes()[..64];
        let m = stored_manifest(&blobs, &format!("race/r{i}"), body).await;
        let meta = meta.clone();
        tasks.push(tokio::spawn(async move {
            put_referring(&meta, &m, &[layer]).await
        }));
    }
    let mut stored = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => stored += 1,
            Err(StoreError::Quota(_)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(stored, 3, "exactly three fit");
    let race = meta.usage_of_prefix("race/").await.unwrap();
    assert_eq!(race.unique, 3 * 1064);

    let entries = meta
        .audit_log(&crate::AuditFilter {
            action: Some("quota.set".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(entries.len() >= 5, "{entries:?}");
    assert_kept_numbers_agree(&meta, &["", "quota/", "npm/", "race/"], "after quotas").await;
    let namespaces = meta.usage_by_namespace("").await.unwrap();
    for ns in ["quota/", "npm/", "race/"] {
        let listed = namespaces.iter().find(|u| u.scope == ns).unwrap();
        assert_eq!(*listed, meta.usage_of_prefix(ns).await.unwrap());
    }

    // Writers and deleters on shared blobs at once: the kept numbers still
    // agree with the references afterwards.
    let shared = blob(&blobs, "churn shared ", 700).await;
    let mut tasks = Vec::new();
    for w in 0..6 {
        let mut images = Vec::new();
        for k in 0..8 {
            let own = blob(&blobs, &format!("churn {w} {k} "), 100 + k).await;
            let body = format!("churn manifest {w} {k}");
            let m = stored_manifest(&blobs, &format!("churn/r{}", w % 3), body.as_bytes()).await;
            images.push((m, own));
        }
        let (meta, shared, who) = (meta.clone(), shared.clone(), who.clone());
        tasks.push(tokio::spawn(async move {
            let mut previous: Option<crate::ManifestRecord> = None;
            for (m, own) in images {
                put_referring(&meta, &m, &[shared.clone(), own])
                    .await
                    .unwrap();
                if let Some(p) = previous.take() {
                    meta.delete_manifest(&p.repository, &p.digest, &[], &who)
                        .await
                        .unwrap();
                }
                previous = Some(m);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_kept_numbers_agree(&meta, &["", "churn/"], "after concurrent churn").await;
    meta.remove_quota("npm/quota-npm", &who).await.unwrap();
    meta.remove_quota("race/", &who).await.unwrap();
}
