//! Conformance suites for the storage traits. Every backend runs the same
//! suite: call [`blob_store_suite`] / [`meta_store_suite`] from the backend's
//! own test with a fresh, empty store.

use crate::blob::BlobStore;
use crate::blobs::{Blobs, UploadError};
use crate::{ManifestRecord, MetaStore, StoreError, TagChange};
use bytes::Bytes;
use cairn_core::policy::{PolicyError, TagRule, TagRuleConfig};
use cairn_core::Digest;
use futures::{stream, StreamExt, TryStreamExt};
use std::sync::Arc;

mod advisory;
mod gc;
mod packages;
mod proxy;
mod retention;
mod sbom;
mod signature;
mod usage;
mod virtuals;
mod web_login;
pub use advisory::advisory_suite;
pub use gc::{
    backup_suite, collector_suite, gc_store_suite, manifest, put_referring, storage_suite,
};
pub use packages::package_store_suite;
pub use proxy::proxy_store_suite;
pub use retention::version_retention_suite;
pub use sbom::sbom_suite;
pub use signature::{attestation_suite, signature_suite, sumdb_suite};
pub use usage::{assert_kept_numbers_agree, quota_suite};
pub use virtuals::virtual_store_suite;

/// Stores a manifest as the server does: its row in `blobs` first (as the
/// blob write makes it), then the manifest, which names no other blobs.
pub(crate) async fn seed_manifest(
    meta: impl AsRef<dyn MetaStore>,
    m: &ManifestRecord,
    tags: &[String],
    rules: &[TagRule],
    who: &crate::Actor,
) -> Result<Vec<TagChange>, StoreError> {
    let meta = meta.as_ref();
    meta.intend_blob(&m.digest, m.size).await?;
    meta.put_manifest(m, &[], &[], tags, rules, who).await
}

/// Publishes as the server does: the files' blob rows first.
pub(crate) async fn seed_publish(
    meta: impl AsRef<dyn MetaStore>,
    v: &crate::NewVersion,
    mode: crate::PublishMode,
    who: &crate::Actor,
) -> Result<(), StoreError> {
    let meta = meta.as_ref();
    for f in &v.files {
        meta.intend_blob(&f.digest, f.size).await?;
    }
    meta.publish(v, mode, who).await
}

/// Caches as a proxy does: the entry's blob row first.
pub(crate) async fn seed_cached(
    meta: impl AsRef<dyn MetaStore>,
    e: &crate::CachedEntry,
) -> Result<(), StoreError> {
    let meta = meta.as_ref();
    if let Some(d) = &e.digest {
        meta.intend_blob(d, e.size).await?;
    }
    meta.put_cached(e).await
}

fn body(parts: &[&'static [u8]]) -> crate::ByteStream {
    let parts = parts.to_vec();
    let parts = parts.to_vec();
    stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p)))).boxed()
}

async fn read_all(store: &dyn BlobStore, d: &Digest, range: Option<(u64, u64)>) -> Option<Vec<u8>> {
    let s = store.read(d, range).await.unwrap()?;
    let chunks: Vec<Bytes> = s.try_collect().await.unwrap();
    Some(chunks.concat())
}

/// Exercises a [`BlobStore`] through [`Blobs`]: verified puts, chunked
/// uploads, ranges, rollback of a failed chunk, digest mismatch, dedupe.
/// A SQLite metadata store under `dir`, as the blob rows' ledger for suites
/// and tests that exercise only blobs.
pub async fn sqlite_ledger(dir: &std::path::Path) -> Arc<dyn crate::GcStore> {
    let url = format!("sqlite://{}", dir.join("ledger.db").display());
    Arc::new(
        crate::sql::SqlMetaStore::open(&url)
            .await
            .expect("a SQLite store"),
    )
}

pub async fn blob_store_suite(store: Arc<dyn BlobStore>, ledger: Arc<dyn crate::GcStore>) {
    let blobs = Blobs::new(store.clone(), ledger.clone());
    let hello = Digest::sha256_of(b"hello world");

    // Monolithic put, read, range read.
    assert_eq!(store.stat(&hello).await.unwrap(), None);
    assert_eq!(
        blobs
            .put(&hello, Some(11), body(&[b"hello ", b"world"]))
            .await
            .unwrap(),
        11
    );
    assert_eq!(store.stat(&hello).await.unwrap(), Some(11));
    assert_eq!(
        read_all(&*store, &hello, None).await.unwrap(),
        b"hello world"
    );
    assert_eq!(
        read_all(&*store, &hello, Some((6, 11))).await.unwrap(),
        b"world"
    );
    // Putting the same bytes again is harmless.
    blobs
        .put_bytes(&hello, Bytes::from_static(b"hello world"))
        .await
        .unwrap();

    // A digest mismatch publishes nothing.
    let other = Digest::sha256_of(b"other");
    let err = blobs
        .put(&other, None, body(&[b"not other"]))
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::DigestMismatch { .. }));
    assert_eq!(store.stat(&other).await.unwrap(), None);

    // A declared length that the body does not match stores nothing.
    let err = blobs
        .put(&other, Some(3), body(&[b"other"]))
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::LengthMismatch { .. }));
    assert_eq!(store.stat(&other).await.unwrap(), None);

    // Chunked upload, with an out-of-order chunk and a failed chunk rolled back.
    let id = blobs.start().await.unwrap();
    assert_eq!(
        blobs
            .append(&id, Some(0), Some(6), body(&[b"hello "]))
            .await
            .unwrap(),
        6
    );
    let err = blobs
        .append(&id, Some(3), None, body(&[b"xx"]))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        UploadError::OutOfOrder {
            size: 6,
            requested: 3
        }
    ));
    let failing = stream::iter(vec![
        Ok(Bytes::from_static(b"wor")),
        Err(std::io::Error::other("client went away")),
    ])
    .boxed();
    assert!(blobs.append(&id, None, None, failing).await.is_err());
    assert_eq!(blobs.size(&id).await.unwrap(), 6);
    assert_eq!(
        blobs
            .append(&id, None, None, body(&[b"world"]))
            .await
            .unwrap(),
        11
    );
    // Not visible until finished.
    let sha512 = Digest::of(cairn_core::Algorithm::Sha512, b"hello world");
    assert_eq!(store.stat(&sha512).await.unwrap(), None);
    // A sha512 digest is verified by re-reading the staged bytes.
    assert_eq!(blobs.finish(&id, &sha512).await.unwrap(), 11);
    assert_eq!(
        read_all(&*store, &sha512, None).await.unwrap(),
        b"hello world"
    );
    assert!(matches!(blobs.size(&id).await, Err(UploadError::NotFound)));

    // A second Blobs (another replica) can finish an upload the first began.
    let id = blobs.start().await.unwrap();
    blobs
        .append(&id, None, None, body(&[b"hello "]))
        .await
        .unwrap();
    let replica = Blobs::new(store.clone(), ledger.clone());
    replica
        .append(&id, Some(6), None, body(&[b"world"]))
        .await
        .unwrap();
    let mismatch = Digest::sha256_of(b"hello");
    assert!(matches!(
        replica.finish(&id, &mismatch).await,
        Err(UploadError::DigestMismatch { .. })
    ));

    // A second append to an upload while one is in flight is refused, not interleaved.
    let blobs = Arc::new(Blobs::new(store.clone(), ledger.clone()));
    let id = blobs.start().await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(1);
    let slow = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed();
    let first = {
        let (blobs, id) = (blobs.clone(), id.clone());
        tokio::spawn(async move { blobs.append(&id, Some(0), None, slow).await })
    };
    tx.send(Ok(Bytes::from_static(b"first "))).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let second = blobs.append(&id, Some(0), None, body(&[b"second"])).await;
    assert!(
        matches!(second, Err(UploadError::OutOfOrder { .. })),
        "{second:?}"
    );
    tx.send(Ok(Bytes::from_static(b"writer"))).await.unwrap();
    drop(tx);
    assert_eq!(first.await.unwrap().unwrap(), 12);
    let d = Digest::sha256_of(b"first writer");
    assert_eq!(blobs.finish(&id, &d).await.unwrap(), 12);

    // Empty blobs, abort, delete.
    let empty = Digest::sha256_of(b"");
    blobs.put(&empty, Some(0), body(&[])).await.unwrap();
    assert_eq!(store.stat(&empty).await.unwrap(), Some(0));
    let id = blobs.start().await.unwrap();
    blobs.abort(&id).await.unwrap();
    assert!(matches!(blobs.size(&id).await, Err(UploadError::NotFound)));
    store.delete(&hello).await.unwrap();
    assert_eq!(store.stat(&hello).await.unwrap(), None);
    assert!(store.read(&hello, None).await.unwrap().is_none());
    store.ping().await.unwrap();
}

fn record(repo: &str, bytes: &[u8], subject: Option<&Digest>) -> ManifestRecord {
    ManifestRecord {
        repository: repo.to_string(),
        digest: Digest::sha256_of(bytes),
        media_type: cairn_core::manifest::OCI_MANIFEST.to_string(),
        size: bytes.len() as u64,
        subject: subject.cloned(),
        artifact_type: Some("application/x-test".into()),
        annotations: Some(r#"{"a":"b"}"#.into()),
    }
}

/// Exercises a [`MetaStore`]: blob links, manifests, tags and their rules,
/// pagination, referrers, uploads, users and settings.
pub async fn meta_store_suite(meta: Arc<dyn MetaStore>) {
    let who = crate::Actor {
        name: "tester".into(),
        credential: Some("tok1".into()),
        source: Some("127.0.0.1".into()),
    };
    let d1 = Digest::sha256_of(b"blob1");
    assert_eq!(meta.usage().await.unwrap(), crate::Usage::default());
    assert!(!meta.pools().is_empty());
    meta.intend_blob(&d1, 5).await.unwrap();
    meta.link_blob("a/b", &d1, 5, &who).await.unwrap();
    meta.link_blob("a/b", &d1, 5, &who).await.unwrap();
    // A blob is counted once however often it is referred to.
    let usage = meta.usage().await.unwrap();
    assert_eq!((usage.blobs, usage.bytes, usage.open_uploads), (1, 5, 0));
    assert_eq!(meta.linked_blob("a/b", &d1).await.unwrap(), Some(5));
    assert_eq!(meta.linked_blob("other", &d1).await.unwrap(), None);
    assert_eq!(
        meta.blob_holders(&d1, 10).await.unwrap(),
        vec![("a/b".to_string(), 5)]
    );
    assert!(meta.unlink_blob("a/b", &d1, &who).await.unwrap());
    assert!(!meta.unlink_blob("a/b", &d1, &who).await.unwrap());

    let rules = [TagRule::compile(&TagRuleConfig {
        name: "frozen".into(),
        repositories: "prod/**".into(),
        tags: r"^v\d+$".into(),
    })
    .unwrap()];
    let m1 = record("prod/app", b"m1", None);
    let m2 = record("prod/app", b"m2", Some(&m1.digest));
    let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        seed_manifest(&meta, &m1, &tags(&["v1", "latest"]), &rules, &who)
            .await
            .unwrap(),
        vec![TagChange::Created, TagChange::Created]
    );
    assert_eq!(
        seed_manifest(&meta, &m1, &tags(&["v1"]), &rules, &who)
            .await
            .unwrap(),
        vec![TagChange::Unchanged]
    );
    assert_eq!(
        seed_manifest(&meta, &m2, &tags(&["latest"]), &rules, &who)
            .await
            .unwrap(),
        vec![TagChange::Moved {
            from: m1.digest.clone()
        }]
    );
    let err = seed_manifest(&meta, &m2, &tags(&["v1"]), &rules, &who)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::Policy(PolicyError::ImmutableTag { .. })
    ));
    assert_eq!(
        meta.resolve_tag("prod/app", "v1").await.unwrap(),
        Some(m1.digest.clone())
    );
    assert_eq!(
        meta.tagged_manifest("prod/app", "latest").await.unwrap(),
        Some(m2.clone())
    );
    assert_eq!(
        meta.tagged_manifest("prod/app", "nope").await.unwrap(),
        None
    );
    assert!(meta
        .delete_tag("prod/app", "v1", &rules, &who)
        .await
        .is_err());
    assert!(meta
        .delete_manifest("prod/app", &m1.digest, &rules, &who)
        .await
        .is_err());
    assert_eq!(
        meta.manifest("prod/app", &m2.digest).await.unwrap(),
        Some(m2.clone())
    );
    assert_eq!(
        meta.referrers("prod/app", &m1.digest).await.unwrap(),
        vec![m2.clone()]
    );

    // Tag pagination is lexical.
    for t in ["c", "a", "b"] {
        seed_manifest(
            &meta,
            &record("dev/app", b"x", None),
            &tags(&[t]),
            &rules,
            &who,
        )
        .await
        .unwrap();
    }
    assert_eq!(
        meta.list_tags("dev/app", None, 2).await.unwrap(),
        tags(&["a", "b"])
    );
    assert_eq!(
        meta.list_tags("dev/app", Some("b"), 10).await.unwrap(),
        tags(&["c"])
    );
    assert!(meta.delete_tag("dev/app", "c", &rules, &who).await.unwrap());
    assert!(!meta.delete_tag("dev/app", "c", &rules, &who).await.unwrap());
    let x = Digest::sha256_of(b"x");
    assert!(meta
        .delete_manifest("dev/app", &x, &rules, &who)
        .await
        .unwrap());
    assert_eq!(meta.resolve_tag("dev/app", "a").await.unwrap(), None);
    assert!(meta.repository_exists("dev/app").await.unwrap());
    assert!(!meta.repository_exists("nope").await.unwrap());
    assert_eq!(
        meta.list_repositories(None, 2).await.unwrap(),
        tags(&["a/b", "dev/app"])
    );
    assert_eq!(
        meta.list_repositories(Some("dev/app"), 2).await.unwrap(),
        tags(&["prod/app"])
    );
    // Byte-wise order on every backend: upper case sorts before lower case.
    for t in ["b", "B", "a-1", "a"] {
        seed_manifest(
            &meta,
            &record("order/app", b"o", None),
            &tags(&[t]),
            &rules,
            &who,
        )
        .await
        .unwrap();
    }
    assert_eq!(
        meta.list_tags("order/app", None, 10).await.unwrap(),
        tags(&["B", "a", "a-1", "b"])
    );

    // Concurrent writers racing for one immutable tag: exactly one wins.
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let meta = meta.clone();
            let rules = rules.clone();
            let who = who.clone();
            let m = record("prod/race", format!("racer {i}").as_bytes(), None);
            tokio::spawn(async move {
                seed_manifest(&meta, &m, &["v9".to_string()], &rules, &who).await
            })
        })
        .collect();
    let mut won = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(changes) => {
                assert_eq!(changes, vec![TagChange::Created]);
                won += 1;
            }
            Err(StoreError::Policy(PolicyError::ImmutableTag { .. })) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(won, 1, "exactly one writer may create an immutable tag");

    // Tagging a manifest while it is being deleted never leaves a tag on a
    // deleted manifest.
    for i in 0..20 {
        let m = record("race/del", format!("m{i}").as_bytes(), None);
        seed_manifest(&meta, &m, &[], &[], &who).await.unwrap();
        let (a, b) = (meta.clone(), meta.clone());
        let (m2, who2, tag) = (m.clone(), who.clone(), format!("t{i}"));
        let tagger = tokio::spawn(async move { seed_manifest(&a, &m2, &[tag], &[], &who2).await });
        let digest = m.digest.clone();
        let who3 = who.clone();
        let deleter =
            tokio::spawn(async move { b.delete_manifest("race/del", &digest, &[], &who3).await });
        tagger.await.unwrap().unwrap();
        deleter.await.unwrap().unwrap();
        if let Some(d) = meta
            .resolve_tag("race/del", &format!("t{i}"))
            .await
            .unwrap()
        {
            assert!(
                meta.manifest("race/del", &d).await.unwrap().is_some(),
                "tag t{i} points at a deleted manifest"
            );
        }
    }

    meta.create_upload("u1", "up/repo").await.unwrap();
    assert_eq!(
        meta.upload_repository("u1").await.unwrap().as_deref(),
        Some("up/repo")
    );
    meta.delete_upload("u1").await.unwrap();
    assert_eq!(meta.upload_repository("u1").await.unwrap(), None);

    assert_eq!(meta.user("admin").await.unwrap(), None);
    meta.put_user("admin", "h1", &who).await.unwrap();
    meta.put_user("admin", "h2", &who).await.unwrap();
    assert_eq!(meta.user("admin").await.unwrap().unwrap().secret_hash, "h2");
    // Grants on users and groups; API tokens.
    let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(meta
        .set_user_grants("admin", &list(&["a/**:read"]), &who)
        .await
        .unwrap());
    assert!(!meta
        .set_user_grants("nobody", &list(&["a/**:read"]), &who)
        .await
        .unwrap());
    meta.put_user("admin", "h3", &who).await.unwrap();
    assert_eq!(
        meta.user("admin").await.unwrap().unwrap().grants,
        list(&["a/**:read"])
    );
    meta.put_group("devs", &list(&["team/**:read,publish"]), &who)
        .await
        .unwrap();
    meta.put_group("ops", &list(&["**:delete"]), &who)
        .await
        .unwrap();
    meta.add_group_member("devs", "admin", &who).await.unwrap();
    meta.add_group_member("devs", "admin", &who).await.unwrap();
    meta.add_group_member("ops", "someone-else", &who)
        .await
        .unwrap();
    assert_eq!(
        meta.group_grants_of("admin").await.unwrap(),
        list(&["team/**:read,publish"])
    );
    // A person an identity provider vouches for: made on the first sign-in,
    // with the provider's groups; the next sign-in's groups replace those
    // (an administrator's membership stays); a local user is never taken over.
    let sso = "oidc:https://id.example";
    meta.sign_in_external("carol", sso, &list(&["devs", "ops"]), &who)
        .await
        .unwrap();
    let carol = meta.user("carol").await.unwrap().unwrap();
    assert_eq!(carol.source, sso);
    assert!(carol.secret_hash.is_empty());
    assert_eq!(
        meta.group_grants_of("carol").await.unwrap(),
        list(&["team/**:read,publish", "**:delete"])
    );
    meta.put_group("readers", &list(&["**:read"]), &who)
        .await
        .unwrap();
    meta.add_group_member("readers", "carol", &who)
        .await
        .unwrap();
    meta.sign_in_external("carol", sso, &list(&["devs"]), &who)
        .await
        .unwrap();
    assert_eq!(
        meta.group_grants_of("carol").await.unwrap(),
        list(&["team/**:read,publish", "**:read"])
    );
    assert_eq!(
        meta.user("admin").await.unwrap().unwrap().source,
        crate::LOCAL_USERS
    );
    for (name, source) in [("admin", sso), ("carol", "ldap")] {
        let err = meta
            .sign_in_external(name, source, &list(&["ops"]), &who)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    }
    assert_eq!(
        meta.group_grants_of("admin").await.unwrap(),
        list(&["team/**:read,publish"])
    );
    let token = crate::TokenRecord {
        id: "t1".into(),
        user: "admin".into(),
        description: "ci".into(),
        secret_hash: "sha256:abc".into(),
        scopes: list(&["team/app:publish"]),
        created_at: 100,
        expires_at: Some(200),
        revoked_at: None,
        session: true,
        second_factor: true,
    };
    meta.create_token(&token, &who).await.unwrap();
    assert_eq!(
        meta.token_by_hash("sha256:abc").await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(meta.token_by_hash("sha256:nope").await.unwrap(), None);
    assert_eq!(meta.token("t1").await.unwrap(), Some(token.clone()));
    assert_eq!(meta.token("t2").await.unwrap(), None);
    assert_eq!(
        meta.list_tokens(Some("admin")).await.unwrap(),
        vec![token.clone()]
    );
    assert_eq!(meta.list_tokens(Some("other")).await.unwrap(), vec![]);
    // Two-factor enrolment: pending, enabled with recovery codes, the
    // sign-in steps claimed once, a recovery code used once (within its
    // grace for one command), disabled.
    assert_eq!(meta.totp("admin").await.unwrap(), None);
    assert!(meta.start_totp("admin", "AAAA", &who).await.unwrap());
    assert!(meta.start_totp("admin", "BBBB", &who).await.unwrap());
    let pending = meta.totp("admin").await.unwrap().unwrap();
    assert_eq!(
        (pending.secret.as_str(), pending.enabled_at),
        ("BBBB", None)
    );
    assert!(!meta
        .replace_recovery_codes("admin", &list(&["x"]), &who)
        .await
        .unwrap());
    assert!(meta
        .enable_totp("admin", &list(&["r1", "r2"]), &who)
        .await
        .unwrap());
    assert!(!meta
        .enable_totp("admin", &list(&["r3"]), &who)
        .await
        .unwrap());
    assert!(!meta.start_totp("admin", "CCCC", &who).await.unwrap());
    assert!(meta
        .totp("admin")
        .await
        .unwrap()
        .unwrap()
        .enabled_at
        .is_some());
    assert_eq!(meta.recovery_codes_left("admin").await.unwrap(), 2);
    assert!(meta.claim_totp_step("admin", 10).await.unwrap());
    assert!(!meta.claim_totp_step("admin", 10).await.unwrap());
    assert!(!meta.claim_totp_step("admin", 9).await.unwrap());
    assert!(meta.claim_totp_step("admin", 11).await.unwrap());
    assert!(meta.use_recovery_code("admin", "r1", 0).await.unwrap());
    assert!(meta.use_recovery_code("admin", "r1", 0).await.unwrap());
    assert!(!meta
        .use_recovery_code("admin", "r1", i64::MAX)
        .await
        .unwrap());
    assert!(!meta.use_recovery_code("admin", "nope", 0).await.unwrap());
    assert!(!meta.use_recovery_code("other", "r2", 0).await.unwrap());
    assert_eq!(meta.recovery_codes_left("admin").await.unwrap(), 1);
    assert!(meta
        .replace_recovery_codes("admin", &list(&["r9"]), &who)
        .await
        .unwrap());
    assert!(!meta.use_recovery_code("admin", "r2", 0).await.unwrap());
    assert_eq!(meta.recovery_codes_left("admin").await.unwrap(), 1);
    assert!(meta.disable_totp("admin", &who).await.unwrap());
    assert!(!meta.disable_totp("admin", &who).await.unwrap());
    assert_eq!(meta.totp("admin").await.unwrap(), None);
    assert_eq!(meta.recovery_codes_left("admin").await.unwrap(), 0);
    assert!(meta.revoke_token("t1", 150, &who).await.unwrap());
    assert!(!meta.revoke_token("t1", 160, &who).await.unwrap());
    assert_eq!(
        meta.token_by_hash("sha256:abc")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(150)
    );

    // Every change above left an audit entry naming its actor; refusals too.
    let all = |action: &str| crate::AuditFilter {
        action: Some(action.to_string()),
        limit: 1000,
        ..Default::default()
    };
    let pushes = meta.audit_log(&all("blob.push")).await.unwrap();
    assert_eq!(pushes.len(), 1, "re-linking a blob is not a second push");
    assert_eq!(pushes[0].repository.as_deref(), Some("a/b"));
    assert_eq!(pushes[0].credential.as_deref(), Some("tok1"));
    assert_eq!(pushes[0].source.as_deref(), Some("127.0.0.1"));
    assert!(pushes[0].at > 0);
    let moves = meta.audit_log(&all("tag.move")).await.unwrap();
    assert!(moves
        .iter()
        .any(|e| e.repository.as_deref() == Some("prod/app")
            && e.detail
                .as_deref()
                .is_some_and(|d| d.starts_with("was sha256:"))));
    let refused = meta.audit_log(&all("manifest.put")).await.unwrap();
    assert!(
        refused
            .iter()
            .any(|e| e.outcome.starts_with("denied:") && e.outcome.contains("frozen")),
        "{refused:?}"
    );
    let deletes = meta.audit_log(&all("tag.delete")).await.unwrap();
    assert!(
        deletes.iter().any(|e| e.outcome == "ok")
            && deletes.iter().any(|e| e.outcome.starts_with("denied:"))
    );
    for action in [
        "blob.delete",
        "manifest.delete",
        "tag.create",
        "user.credential",
        "user.grants",
        "group.grants",
        "group.member",
        "token.create",
        "token.revoke",
    ] {
        assert!(
            !meta.audit_log(&all(action)).await.unwrap().is_empty(),
            "no {action} entry"
        );
    }
    meta.append_audit(&crate::AuditRecord {
        actor: "mallory".into(),
        source: Some("10.0.0.9".into()),
        action: "auth.failed".into(),
        outcome: "invalid credentials".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let by_actor = meta
        .audit_log(&crate::AuditFilter {
            actor: Some("mallory".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_actor.len(), 1);
    assert_eq!(by_actor[0].action, "auth.failed");
    // Newest first, and pages backwards by id.
    let page = meta
        .audit_log(&crate::AuditFilter {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 2);
    assert!(page[0].id > page[1].id);
    assert_eq!(page[0].actor, "mallory");
    let older = meta
        .audit_log(&crate::AuditFilter {
            before_id: Some(page[1].id),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(older[0].id < page[1].id);
    let in_repo = meta
        .audit_log(&crate::AuditFilter {
            repository: Some("dev/app".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        !in_repo.is_empty()
            && in_repo
                .iter()
                .all(|e| e.repository.as_deref() == Some("dev/app"))
    );

    // Trusted publishers and one-time OIDC token ids.
    let publisher = crate::PublisherRecord {
        id: "p1".into(),
        repository: "team/app".into(),
        package: None,
        issuer: "https://issuer.example".into(),
        audience: "cairn".into(),
        claims: [("repository".to_string(), "org/app".to_string())]
            .into_iter()
            .collect(),
    };
    meta.add_publisher(&publisher, &who).await.unwrap();
    let for_one = crate::PublisherRecord {
        id: "p2".into(),
        repository: "npm/default".into(),
        package: Some("@acme/widget".into()),
        ..publisher.clone()
    };
    meta.add_publisher(&for_one, &who).await.unwrap();
    assert_eq!(
        meta.publishers("team/app").await.unwrap(),
        vec![publisher.clone()]
    );
    assert_eq!(
        meta.publishers("npm/default").await.unwrap(),
        vec![for_one.clone()]
    );
    assert_eq!(
        meta.all_publishers().await.unwrap(),
        vec![for_one, publisher.clone()]
    );
    assert_eq!(meta.publishers("team/other").await.unwrap(), vec![]);
    assert!(meta
        .claim_jti("https://issuer.example", "j1", i64::MAX)
        .await
        .unwrap());
    assert!(!meta
        .claim_jti("https://issuer.example", "j1", i64::MAX)
        .await
        .unwrap());
    assert!(meta
        .claim_jti("https://other.example", "j1", i64::MAX)
        .await
        .unwrap());

    assert_eq!(meta.setting_or_insert("k", "v1").await.unwrap(), "v1");
    assert_eq!(meta.setting_or_insert("k", "v2").await.unwrap(), "v1");
    meta.ping().await.unwrap();

    package_store_suite(meta.clone(), &who).await;
    web_login::web_login_suite(&meta, &who).await;
    proxy_store_suite(meta.clone()).await;
    virtual_store_suite(meta.clone()).await;
    gc_store_suite(meta.clone()).await;
}
