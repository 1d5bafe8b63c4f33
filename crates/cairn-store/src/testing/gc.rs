//! The garbage-collection part of the suites: the blob rows' states, the
//! claim every referencing write makes, the collector's decision, writers
//! racing the collector, and whole runs over a real blob store.

use super::body;
use crate::collector::{fsck, Collector, GcReport, GcSettings};
use crate::gc::{BlobState, Verdict};
use crate::{Actor, BlobStore, Blobs, ManifestRecord, MetaStore, StoreError};
use cairn_core::Digest;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// An image manifest record in `repo` whose bytes are `bytes`.
pub fn manifest(repo: &str, bytes: &[u8]) -> ManifestRecord {
    ManifestRecord {
        repository: repo.into(),
        digest: Digest::sha256_of(bytes),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: bytes.len() as u64,
        subject: None,
        artifact_type: None,
        annotations: None,
    }
}

/// [`manifest`], its bytes stored through `blobs` (as a push leaves them).
pub(crate) async fn stored_manifest(blobs: &Blobs, repo: &str, bytes: &[u8]) -> ManifestRecord {
    let m = manifest(repo, bytes);
    blobs
        .put_bytes(&m.digest, bytes.to_vec().into())
        .await
        .unwrap();
    m
}

/// Collector runs with no grace until no candidate is left; returns what
/// they deleted. On PostgreSQL a candidate waits for every older
/// transaction in the cluster to end (other tests' too), so one run may
/// leave it for the next: this waits for progress, not for a time.
async fn settle(meta: &Arc<dyn MetaStore>, store: &Arc<dyn BlobStore>) -> GcReport {
    let c = Collector::new(
        meta.clone(),
        store.clone(),
        GcSettings {
            grace_secs: 0,
            upload_ttl_secs: 3600,
        },
    );
    let mut total = GcReport::default();
    for _ in 0..200 {
        let r = c.run(&CancellationToken::new(), &|_, _| {}).await.unwrap();
        total.deleted += r.deleted;
        total.deleted_bytes += r.deleted_bytes;
        let counts = meta.blob_counts().await.unwrap();
        if counts.candidates == 0 && counts.deleting == 0 {
            return total;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "candidates left after 200 runs: {:?}",
        meta.blob_counts().await
    );
}

/// A whole fsck run (`rehash`, `repair` as asked), its report.
async fn check(
    meta: &dyn MetaStore,
    store: &dyn BlobStore,
    rehash: bool,
    repair: bool,
) -> crate::collector::FsckReport {
    fsck(
        meta,
        store,
        rehash,
        repair,
        &CancellationToken::new(),
        &|_| {},
    )
    .await
    .unwrap()
}

/// Stores a manifest that refers to `refs`, all of them stored.
pub async fn put_referring(
    meta: &(impl AsRef<dyn MetaStore> + ?Sized),
    m: &ManifestRecord,
    refs: &[Digest],
) -> Result<Vec<crate::TagChange>, StoreError> {
    meta.as_ref()
        .put_manifest(m, refs, refs, &[], &[], &Actor::local("test"))
        .await
}

/// Decides every due candidate as a collector would, with no grace period;
/// returns the digests condemned (their rows forgotten, as after deleting
/// the objects).
async fn collect_once(meta: &dyn MetaStore) -> Vec<Digest> {
    meta.assign_horizons().await.unwrap();
    let mut gone = Vec::new();
    for d in meta.due_candidates(crate::now() + 1, 1000).await.unwrap() {
        if let Verdict::Condemned { .. } = meta.condemn(&d).await.unwrap() {
            meta.forget_blob(&d).await.unwrap();
            gone.push(d);
        }
    }
    gone
}

/// [`collect_once`] until no candidate is left: on PostgreSQL a candidate
/// waits for every older transaction in the cluster (other tests' too).
pub(super) async fn collect(meta: &dyn MetaStore) -> Vec<Digest> {
    let mut gone = Vec::new();
    for _ in 0..200 {
        gone.extend(collect_once(meta).await);
        if meta.blob_counts().await.unwrap().candidates == 0 {
            return gone;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("candidates left after 200 passes");
}

pub async fn gc_store_suite(meta: Arc<dyn MetaStore>) {
    let who = Actor::local("test");
    // What the earlier suites left unreferenced goes first, so that what
    // follows sees only its own blobs.
    collect(&*meta).await;
    let layer = Digest::sha256_of(b"gc layer");
    let m = manifest("gc/app", b"gc manifest 1");

    // A new blob is a candidate until something references it.
    assert_eq!(meta.intend_blob(&layer, 8).await.unwrap(), None);
    assert_eq!(
        meta.blob_state(&layer).await.unwrap(),
        Some(BlobState::Candidate)
    );
    meta.link_blob("gc/app", &layer, 8, &who).await.unwrap();
    assert_eq!(
        meta.blob_state(&layer).await.unwrap(),
        Some(BlobState::Candidate),
        "a link alone does not keep a blob"
    );
    meta.intend_blob(&m.digest, m.size).await.unwrap();
    put_referring(&meta, &m, std::slice::from_ref(&layer))
        .await
        .unwrap();
    assert_eq!(
        meta.blob_state(&layer).await.unwrap(),
        Some(BlobState::Live)
    );
    assert_eq!(
        meta.blob_state(&m.digest).await.unwrap(),
        Some(BlobState::Live)
    );
    // Live blobs are never candidates, so nothing is collected.
    assert!(collect(&*meta).await.is_empty());

    // Deleting the manifest marks it and its layer; both go.
    assert!(meta
        .delete_manifest("gc/app", &m.digest, &[], &who)
        .await
        .unwrap());
    assert_eq!(
        meta.blob_state(&layer).await.unwrap(),
        Some(BlobState::Candidate)
    );
    let mut gone = collect(&*meta).await;
    gone.sort_by_key(|d| d.to_string());
    let mut want = vec![layer.clone(), m.digest.clone()];
    want.sort_by_key(|d| d.to_string());
    assert_eq!(gone, want);
    assert_eq!(meta.blob_state(&layer).await.unwrap(), None);
    assert_eq!(
        meta.linked_blob("gc/app", &layer).await.unwrap(),
        None,
        "the collector removes the links of what it deletes"
    );

    // A writer naming a collected blob is refused, and keeps nothing.
    meta.intend_blob(&m.digest, m.size).await.unwrap();
    let err = put_referring(&meta, &m, std::slice::from_ref(&layer))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BlobUnknown(ref d) if *d == layer.to_string()));
    assert!(meta.manifest("gc/app", &m.digest).await.unwrap().is_none());
    let err = meta.link_blob("gc/app", &layer, 8, &who).await.unwrap_err();
    assert!(matches!(err, StoreError::BlobUnknown(_)));

    // A blob marked deleting (a collector between its two steps) refuses
    // writers too, and refuses to be published again until it is gone.
    meta.intend_blob(&layer, 8).await.unwrap();
    meta.assign_horizons().await.unwrap();
    assert_eq!(
        meta.condemn(&layer).await.unwrap(),
        Verdict::Condemned { size: 8 }
    );
    assert_eq!(
        meta.intend_blob(&layer, 8).await.unwrap(),
        Some(BlobState::Deleting)
    );
    let err = put_referring(&meta, &m, std::slice::from_ref(&layer))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BlobUnknown(_)));
    assert_eq!(meta.deleting_blobs(10).await.unwrap(), vec![layer.clone()]);
    meta.forget_blob(&layer).await.unwrap();
    assert!(meta.deleting_blobs(10).await.unwrap().is_empty());

    // A candidate that something references is kept (live again).
    let shared = Digest::sha256_of(b"gc shared");
    let a = manifest("gc/a", b"gc manifest a");
    let b = manifest("gc/b", b"gc manifest b");
    meta.intend_blob(&shared, 9).await.unwrap();
    for x in [&a, &b] {
        meta.intend_blob(&x.digest, x.size).await.unwrap();
        put_referring(&meta, x, std::slice::from_ref(&shared))
            .await
            .unwrap();
    }
    meta.delete_manifest("gc/a", &a.digest, &[], &who)
        .await
        .unwrap();
    // (The refused manifest's own bytes above were never referenced: they go too.)
    let mut gone = collect(&*meta).await;
    gone.sort_by_key(|d| d.to_string());
    let mut want = vec![m.digest.clone(), a.digest.clone()];
    want.sort_by_key(|d| d.to_string());
    assert_eq!(gone, want);
    assert_eq!(
        meta.blob_state(&shared).await.unwrap(),
        Some(BlobState::Live)
    );

    // Package files and proxy entries are references too.
    let cached = Digest::sha256_of(b"gc cached");
    let entry = crate::CachedEntry {
        repository: "npm/gc".into(),
        key: "doc".into(),
        status: 200,
        digest: Some(cached.clone()),
        size: 9,
        content_type: "application/json".into(),
        etag: None,
        last_modified: None,
        fetched_at: 1,
        checked_at: 1,
    };
    super::seed_cached(&meta, &entry).await.unwrap();
    assert_eq!(
        meta.blob_state(&cached).await.unwrap(),
        Some(BlobState::Live)
    );
    // Replacing the entry's bytes marks the old ones; dropping it, the new.
    let newer = Digest::sha256_of(b"gc cached 2");
    let second = crate::CachedEntry {
        digest: Some(newer.clone()),
        ..entry.clone()
    };
    super::seed_cached(&meta, &second).await.unwrap();
    assert_eq!(collect(&*meta).await, vec![cached.clone()]);
    meta.drop_cached("npm/gc", "doc").await.unwrap();
    assert_eq!(collect(&*meta).await, vec![newer.clone()]);

    // Nothing dangles after all that.
    let dangling = meta.dangling_references(10).await.unwrap();
    assert!(dangling.is_empty(), "{dangling:?}");

    retention_deletes_only_what_is_unchanged(&meta).await;
    writers_race_the_collector(meta.clone()).await;
}

/// What retention needs of the store: the inventory (tags with their push
/// time, manifests with pulls, subjects and children), and deletes that
/// leave alone what changed since the plan.
async fn retention_deletes_only_what_is_unchanged(meta: &Arc<dyn MetaStore>) {
    let who = Actor::local("test");
    let child = manifest("ret/app", b"ret child");
    let index = manifest("ret/app", b"ret index");
    let mut sig = manifest("ret/app", b"ret signature");
    sig.subject = Some(index.digest.clone());
    for m in [&child, &index, &sig] {
        meta.intend_blob(&m.digest, m.size).await.unwrap();
    }
    put_referring(&meta, &child, &[]).await.unwrap();
    let children = [child.digest.clone()];
    meta.put_manifest(&index, &children, &children, &["v1".into()], &[], &who)
        .await
        .unwrap();
    put_referring(&meta, &sig, &[]).await.unwrap();
    meta.note_pull("ret/app", &child.digest).await.unwrap();

    let inv = meta.inventory("ret/app").await.unwrap();
    assert_eq!(inv.tags.len(), 1);
    assert_eq!(inv.tags[0].tag, "v1");
    let fact = |d: &Digest| {
        inv.manifests
            .iter()
            .find(|m| m.digest == d.to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(fact(&index.digest).children, vec![child.digest.to_string()]);
    assert_eq!(fact(&sig.digest).subject, Some(index.digest.to_string()));
    assert!(fact(&child.digest).pulled_at.is_some());
    assert!(fact(&index.digest).pulled_at.is_none());
    let (pushed, pulled) = meta
        .manifest_times("ret/app", &child.digest)
        .await
        .unwrap()
        .expect("the child is held");
    assert!(pushed > 0 && pulled.is_some());
    assert_eq!(
        meta.manifest_times("ret/app", &index.digest)
            .await
            .unwrap()
            .map(|t| t.1),
        Some(None)
    );
    assert!(meta
        .manifest_times("other/app", &child.digest)
        .await
        .unwrap()
        .is_none());

    // A tag moved since the plan stays; one still where planned goes.
    assert!(!meta
        .delete_tag_at("ret/app", "v1", &child.digest, &[], &who)
        .await
        .unwrap());
    // A manifest tagged since the plan stays.
    assert!(!meta
        .delete_untagged_manifest("ret/app", &index.digest, &who)
        .await
        .unwrap());
    assert!(meta
        .delete_tag_at("ret/app", "v1", &index.digest, &[], &who)
        .await
        .unwrap());
    assert!(meta
        .delete_untagged_manifest("ret/app", &index.digest, &who)
        .await
        .unwrap());
    assert!(meta
        .manifest("ret/app", &index.digest)
        .await
        .unwrap()
        .is_none());
}

/// Writers keep referencing one blob while others delete what references
/// it and a collector keeps deciding it, with no grace at all: every
/// write either lands with the blob still stored or is refused, and no
/// reference is ever left to a collected blob.
async fn writers_race_the_collector(meta: Arc<dyn MetaStore>) {
    let layer = Digest::sha256_of(b"gc race layer");
    let stop = CancellationToken::new();
    let collector = {
        let (meta, stop) = (meta.clone(), stop.clone());
        tokio::spawn(async move {
            let mut condemned = 0;
            while !stop.is_cancelled() {
                condemned += collect_once(&*meta).await.len();
                tokio::task::yield_now().await;
            }
            condemned
        })
    };
    let mut writers = Vec::new();
    for w in 0..4 {
        let (meta, layer) = (meta.clone(), layer.clone());
        writers.push(tokio::spawn(async move {
            let who = Actor::local("racer");
            let (mut landed, mut refused) = (0, 0);
            for i in 0..40 {
                let m = manifest(&format!("race/{w}"), format!("race {w} {i}").as_bytes());
                // As the server does: the blobs' rows before the bytes
                // (waiting out a deletion in progress), then the manifest.
                while meta.intend_blob(&layer, 13).await.unwrap() == Some(BlobState::Deleting) {
                    tokio::task::yield_now().await;
                }
                meta.intend_blob(&m.digest, m.size).await.unwrap();
                match meta
                    .put_manifest(
                        &m,
                        std::slice::from_ref(&layer),
                        std::slice::from_ref(&layer),
                        &[],
                        &[],
                        &who,
                    )
                    .await
                {
                    Ok(_) => landed += 1,
                    Err(StoreError::BlobUnknown(_)) => refused += 1,
                    Err(e) => panic!("{e}"),
                }
                if i % 2 == 0 {
                    meta.delete_manifest(&m.repository, &m.digest, &[], &who)
                        .await
                        .unwrap();
                }
                let dangling = meta.dangling_references(10).await.unwrap();
                assert!(dangling.is_empty(), "{dangling:?}");
            }
            (landed, refused)
        }));
    }
    let mut landed = 0;
    for w in writers {
        landed += w.await.unwrap().0;
    }
    stop.cancel();
    collector.await.unwrap();
    assert!(landed > 0);
    assert!(meta.dangling_references(10).await.unwrap().is_empty());
    // Every kept manifest still finds its layer stored.
    for w in 0..4 {
        for i in (1..40).step_by(2) {
            let m = manifest(&format!("race/{w}"), format!("race {w} {i}").as_bytes());
            if meta
                .manifest(&m.repository, &m.digest)
                .await
                .unwrap()
                .is_some()
            {
                assert_ne!(meta.blob_state(&layer).await.unwrap(), None);
                assert_ne!(
                    meta.blob_state(&layer).await.unwrap(),
                    Some(BlobState::Deleting)
                );
            }
        }
    }
}

/// Whole collector runs over a blob store: what is unreferenced goes (its
/// object and row), what is referenced stays, idle uploads expire, a run
/// killed between its steps is finished by the next, and fsck agrees.
pub async fn collector_suite(meta: Arc<dyn MetaStore>, store: Arc<dyn BlobStore>) {
    let who = Actor::local("test");
    let blobs = Blobs::new(store.clone(), meta.clone());
    let now = GcSettings {
        grace_secs: 0,
        upload_ttl_secs: 3600,
    };
    let run = |settings: GcSettings| {
        let c = Collector::new(meta.clone(), store.clone(), settings);
        async move { c.run(&CancellationToken::new(), &|_, _| {}).await.unwrap() }
    };
    let settle = || settle(&meta, &store);

    let layer = Digest::sha256_of(b"collector layer");
    blobs
        .put(&layer, Some(15), body(&[b"collector layer"]))
        .await
        .unwrap();
    let keep = Digest::sha256_of(b"collector keep");
    blobs
        .put(&keep, Some(14), body(&[b"collector keep"]))
        .await
        .unwrap();
    let m = stored_manifest(&blobs, "col/app", b"collector manifest").await;
    let refs = [layer.clone(), keep.clone()];
    put_referring(&meta, &m, &refs).await.unwrap();
    let stray = Digest::sha256_of(b"collector stray");
    blobs
        .put(&stray, Some(15), body(&[b"collector stray"]))
        .await
        .unwrap();
    meta.link_blob("col/app", &stray, 15, &who).await.unwrap();

    // Within the grace period nothing goes.
    let report = run(GcSettings {
        grace_secs: 3600,
        ..now
    })
    .await;
    assert_eq!(report.deleted, 0);
    assert!(store.stat(&stray).await.unwrap().is_some());

    // Without it, the stray upload goes; the referenced blobs stay.
    let report = settle().await;
    assert_eq!(report.deleted, 1, "{report:?}");
    assert_eq!(report.deleted_bytes, 15);
    assert!(store.stat(&stray).await.unwrap().is_none());
    assert!(store.stat(&layer).await.unwrap().is_some());
    assert!(meta.linked_blob("col/app", &stray).await.unwrap().is_none());

    // A second manifest shares `keep`; deleting the first frees only its own.
    let m2 = stored_manifest(&blobs, "col/other", b"collector manifest 2").await;
    put_referring(&meta, &m2, std::slice::from_ref(&keep))
        .await
        .unwrap();
    meta.delete_manifest("col/app", &m.digest, &[], &who)
        .await
        .unwrap();
    let report = settle().await;
    assert_eq!(report.deleted, 2, "{report:?}");
    assert!(store.stat(&layer).await.unwrap().is_none());
    assert!(store.stat(&m.digest).await.unwrap().is_none());
    assert!(store.stat(&keep).await.unwrap().is_some());

    // A collector killed after deciding, before deleting the object: the
    // row stays "deleting", writers are refused, and the next run finishes.
    meta.delete_manifest("col/other", &m2.digest, &[], &who)
        .await
        .unwrap();
    meta.assign_horizons().await.unwrap();
    let mut condemned = 0;
    for _ in 0..200 {
        for d in meta.due_candidates(crate::now() + 1, 10).await.unwrap() {
            if let Verdict::Condemned { .. } = meta.condemn(&d).await.unwrap() {
                condemned += 1;
            }
        }
        if condemned == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(condemned, 2);
    assert!(store.stat(&keep).await.unwrap().is_some());
    let report = settle().await;
    assert!(store.stat(&keep).await.unwrap().is_none(), "{report:?}");
    assert!(meta.deleting_blobs(10).await.unwrap().is_empty());

    // Idle uploads expire; fresh ones stay.
    let idle = blobs.start().await.unwrap();
    meta.create_upload(&idle, "col/app").await.unwrap();
    let report = run(GcSettings {
        grace_secs: 0,
        upload_ttl_secs: 0,
    })
    .await;
    // The TTL is 0 but the cutoff is "before now": wait out the second.
    if report.uploads_expired == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let report = run(GcSettings {
            grace_secs: 0,
            upload_ttl_secs: 0,
        })
        .await;
        assert_eq!(report.uploads_expired, 1, "{report:?}");
    }
    assert!(meta.upload_repository(&idle).await.unwrap().is_none());
    assert!(store.upload_size(&idle).await.unwrap().is_none());
    let fresh = blobs.start().await.unwrap();
    assert_eq!(run(now).await.uploads_expired, 0);
    assert!(store.upload_size(&fresh).await.unwrap().is_some());
    blobs.abort(&fresh).await.unwrap();

    // fsck: clean; then an orphan object is found and adopted by repair,
    // and a missing object is reported.
    let report = check(&*meta, &*store, true, false).await;
    assert!(report.clean(), "{report:?}");
    let orphan = Digest::sha256_of(b"orphan bytes");
    // Published straight into the store, as a crash before its row would leave it.
    let id = crate::blobs::uuid_v4();
    store.create_upload(&id).await.unwrap();
    store
        .append_upload(&id, 0, body(&[b"orphan bytes"]))
        .await
        .unwrap();
    store.commit_upload(&id, &orphan).await.unwrap();
    let report = check(&*meta, &*store, false, true).await;
    assert_eq!(report.orphans, vec![orphan.to_string()]);
    assert_eq!(report.adopted, 1);
    assert_eq!(
        meta.blob_state(&orphan).await.unwrap(),
        Some(BlobState::Candidate)
    );
    settle().await;
    assert!(store.stat(&orphan).await.unwrap().is_none());
    let kept = stored_manifest(&blobs, "col/kept", b"kept manifest").await;
    put_referring(&meta, &kept, &[]).await.unwrap();
    store.delete(&kept.digest).await.unwrap();
    let report = check(&*meta, &*store, false, false).await;
    assert_eq!(report.missing.len(), 1, "{report:?}");
    assert!(!report.clean());
}

/// Backups and the restore horizon: a backup holds what its snapshot
/// references, so a manifest deleted after it keeps its blobs until the
/// backup is released; restoring the snapshot into another database gives
/// back the manifest with its blobs; a running backup pauses decisions.
pub async fn backup_suite(meta: Arc<dyn MetaStore>, store: Arc<dyn BlobStore>, restore_url: &str) {
    use crate::backup::{after_restore, create_backup, restore_snapshot, verify_backup, PgTools};
    let who = Actor::local("test");
    let blobs = Blobs::new(store.clone(), meta.clone());
    let tools = PgTools::default();
    let settle = || settle(&meta, &store);

    let layer = Digest::sha256_of(b"backup layer");
    blobs
        .put_bytes(&layer, b"backup layer".to_vec().into())
        .await
        .unwrap();
    let m = stored_manifest(&blobs, "bk/app", b"backup manifest").await;
    let refs = [layer.clone()];
    meta.put_manifest(&m, &refs, &refs, &["v1".into()], &[], &who)
        .await
        .unwrap();

    let root = std::env::temp_dir().join(format!("cairn-backup-suite-{}", crate::blobs::uuid_v4()));
    let (dir, made) = create_backup(meta.clone(), store.clone(), &root, &tools)
        .await
        .unwrap();
    assert_eq!(made.blobs, 2, "{made:?}");
    let (_, problems) = verify_backup(&dir, &*store, true).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let listed = meta.backups().await.unwrap();
    assert_eq!(listed[0].id, made.id);
    assert_eq!(listed[0].state, "done");

    // Deleted after the backup: held, so nothing goes.
    meta.delete_manifest("bk/app", &m.digest, &[], &who)
        .await
        .unwrap();
    settle().await;
    assert!(store.stat(&layer).await.unwrap().is_some());
    assert!(store.stat(&m.digest).await.unwrap().is_some());

    // A running backup pauses every decision.
    let stray = Digest::sha256_of(b"backup stray");
    blobs
        .put_bytes(&stray, b"backup stray".to_vec().into())
        .await
        .unwrap();
    meta.begin_backup("running-one", "/nowhere").await.unwrap();
    meta.assign_horizons().await.unwrap();
    let mut paused = false;
    for _ in 0..200 {
        if meta
            .due_candidates(crate::now() + 1, 10)
            .await
            .unwrap()
            .contains(&stray)
        {
            paused = meta.condemn(&stray).await.unwrap() == Verdict::Paused;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(paused);
    meta.fail_backup("running-one").await.unwrap();
    settle().await;
    assert!(store.stat(&stray).await.unwrap().is_none());

    // Restored into another database: the manifest is back, with its blobs.
    let manifest_file = restore_snapshot(&dir, restore_url, &tools).await.unwrap();
    let restored: Arc<dyn MetaStore> =
        Arc::new(crate::sql::SqlMetaStore::open(restore_url).await.unwrap());
    after_restore(&*restored, &dir, &manifest_file)
        .await
        .unwrap();
    assert!(restored
        .manifest("bk/app", &m.digest)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        restored.resolve_tag("bk/app", "v1").await.unwrap(),
        Some(m.digest.clone())
    );
    let report = check(&*restored, &*store, false, false).await;
    assert!(
        report.missing.is_empty() && report.dangling.is_empty(),
        "{report:?}"
    );
    let restored_backups = restored.backups().await.unwrap();
    assert!(restored_backups
        .iter()
        .any(|b| b.id == made.id && b.state == "done"));

    // Released: what only the backup held goes.
    assert!(meta.release_backup(&made.id).await.unwrap());
    settle().await;
    assert!(store.stat(&layer).await.unwrap().is_none());
    assert!(store.stat(&m.digest).await.unwrap().is_none());
    std::fs::remove_dir_all(&root).unwrap();
}

/// Storage numbers over random graphs of repositories, manifests, package
/// files and shared blobs (seeded, so a failure repeats): for every scope
/// and prefix, exclusive ≤ unique ≤ logical; the repositories' exclusive
/// bytes add up to at most the registry's unique bytes; and deleting a
/// repository's images, then collecting, frees exactly its exclusive bytes.
pub async fn storage_suite(meta: Arc<dyn MetaStore>, store: Arc<dyn BlobStore>) {
    let who = Actor::local("test");
    let blobs = Blobs::new(store.clone(), meta.clone());
    let settle = || async { settle(&meta, &store).await.deleted_bytes };
    settle().await;
    for seed in 1..=4u64 {
        let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        // A pool of blobs, some shared by many manifests and files.
        let mut pool = Vec::new();
        for b in 0..12 {
            let size = 1 + next(4000) as usize;
            let bytes: Vec<u8> = format!("seed {seed} blob {b} ")
                .into_bytes()
                .into_iter()
                .cycle()
                .take(size.max(16))
                .collect();
            let d = Digest::sha256_of(&bytes);
            blobs.put_bytes(&d, bytes.into()).await.unwrap();
            pool.push(d);
        }
        let repos: Vec<String> = (0..3).map(|r| format!("prop{seed}/r{r}")).collect();
        let mut images: Vec<(String, Digest)> = Vec::new();
        for (i, repo) in repos.iter().enumerate() {
            for m in 0..1 + next(3) {
                let mut refs: Vec<Digest> = (0..1 + next(4))
                    .map(|_| pool[next(12) as usize].clone())
                    .collect();
                refs.sort_by_key(|d| d.to_string());
                refs.dedup();
                let body = format!("seed {seed} repo {i} manifest {m} {refs:?}");
                let rec = stored_manifest(&blobs, repo, body.as_bytes()).await;
                put_referring(&meta, &rec, &refs).await.unwrap();
                images.push((repo.clone(), rec.digest));
            }
        }
        // A package repository sharing some of the same blobs.
        let mut npm_files = Vec::new();
        for v in 0..1 + next(3) {
            let d = pool[next(12) as usize].clone();
            let size = store.stat(&d).await.unwrap().unwrap();
            let new = crate::NewVersion {
                format: cairn_core::Format::Npm,
                repository: format!("prop{seed}"),
                package: "pkg".into(),
                name: "pkg".into(),
                version: format!("1.0.{v}"),
                metadata: "{}".into(),
                dependencies: vec![],
                files: vec![crate::FileRecord {
                    filename: format!("pkg-1.0.{v}.tgz"),
                    version: format!("1.0.{v}"),
                    digest: d,
                    size,
                    metadata: "{}".into(),
                    companion: None,
                    created_at: 0,
                }],
                tags: vec![],
                owner: None,
            };
            meta.publish(&new, crate::PublishMode::NewVersion, &who)
                .await
                .unwrap();
            npm_files.push(new.files[0].clone());
        }
        settle().await; // the pool's unreferenced blobs go first
        let namespace = format!("prop{seed}/");
        let agree = [namespace.as_str(), "", "npm/"];
        super::assert_kept_numbers_agree(&meta, &agree, "after writes").await;

        let everything = meta.usage_of_prefix("").await.unwrap();
        let by_repo = meta.usage_by_repository("").await.unwrap();
        for u in by_repo.iter().chain([&everything]) {
            assert!(u.exclusive <= u.unique && u.unique <= u.logical, "{u:?}");
        }
        for prefix in [format!("prop{seed}/"), repos[0].clone(), "npm/".into()] {
            let u = meta.usage_of_prefix(&prefix).await.unwrap();
            assert!(u.exclusive <= u.unique && u.unique <= u.logical, "{u:?}");
        }
        let sum_exclusive: u64 = by_repo.iter().map(|u| u.exclusive).sum();
        assert!(
            sum_exclusive <= everything.unique,
            "{by_repo:?} {everything:?}"
        );
        let logical: u64 = by_repo.iter().map(|u| u.logical).sum();
        assert_eq!(logical, everything.logical);

        // Deleting one repository's images frees exactly its exclusive bytes.
        let victim = &repos[0];
        let expected = meta.usage_of_prefix(victim).await.unwrap().exclusive;
        for (repo, d) in images.iter().filter(|(r, _)| r == victim) {
            meta.delete_manifest(repo, d, &[], &who).await.unwrap();
        }
        let freed = settle().await;
        assert_eq!(
            freed, expected,
            "seed {seed}: freed {freed}, exclusive was {expected}"
        );
        assert_eq!(meta.usage_of_prefix(victim).await.unwrap().logical, 0);
        super::assert_kept_numbers_agree(&meta, &agree, "after deletes").await;
        // Rebuilt from the references, the numbers are the same.
        let before = meta.usage_by_repository("").await.unwrap();
        meta.recount_usage().await.unwrap();
        assert_eq!(meta.usage_by_repository("").await.unwrap(), before);
        super::assert_kept_numbers_agree(&meta, &agree, "after a recount").await;

        // An unpublished version's file keeps its row (a download is told
        // it is gone) but not its bytes: it frees the repository's
        // exclusive bytes for it.
        let pkg = cairn_core::PackageRef {
            format: cairn_core::Format::Npm,
            repository: &format!("prop{seed}"),
            package: "pkg",
        };
        let expected = meta
            .usage_of_prefix(&format!("npm/prop{seed}"))
            .await
            .unwrap();
        for f in &npm_files {
            meta.change_version(
                pkg,
                &f.version,
                &cairn_core::Transition::Unpublish,
                &cairn_core::LifecyclePolicy::default(),
                true,
                &who,
            )
            .await
            .unwrap();
            let (_, state) = meta.package_file(pkg, &f.filename).await.unwrap().unwrap();
            assert_eq!(state, cairn_core::VersionState::Unpublished);
        }
        let freed = settle().await;
        assert_eq!(freed, expected.exclusive, "seed {seed}: unpublished files");
        let after = meta
            .usage_of_prefix(&format!("npm/prop{seed}"))
            .await
            .unwrap();
        assert_eq!((after.logical, after.blobs), (0, 0), "{after:?}");
        super::assert_kept_numbers_agree(&meta, &agree, "after unpublishing").await;
        let report = check(&*meta, &*store, false, false).await;
        assert!(
            report.dangling.is_empty() && report.missing.is_empty(),
            "{report:?}"
        );
    }
}
