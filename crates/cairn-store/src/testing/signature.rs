//! The signature-verdict part of the suites: recording, the per-version
//! lookup, re-evaluation listing, index parents and tags, and verdicts
//! leaving with their signature artifact.

use super::{record, seed_manifest};
use crate::{Actor, MetaStore};
use cairn_core::trust::Verdict;
use std::sync::Arc;

fn verdict(subject: &str, signer: &str, predicate: &str, signature: &str) -> Verdict {
    Verdict {
        subject: subject.into(),
        signer: signer.into(),
        predicate_type: predicate.into(),
        signature: signature.into(),
    }
}

pub async fn signature_suite(meta: Arc<dyn MetaStore>) {
    let who = Actor::local("test");
    let child = record("prod/app", b"child", None);
    let index = record("prod/app", b"index", None);
    let sig = record("prod/app", b"signature", Some(&index.digest));
    seed_manifest(&meta, &child, &[], &[], &who).await.unwrap();
    meta.intend_blob(&index.digest, index.size).await.unwrap();
    meta.put_manifest(
        &index,
        std::slice::from_ref(&child.digest),
        &[],
        &["v1".to_string()],
        &[],
        &who,
    )
    .await
    .unwrap();
    seed_manifest(&meta, &sig, &[], &[], &who).await.unwrap();
    let (c, i, s) = (
        child.digest.to_string(),
        index.digest.to_string(),
        sig.digest.to_string(),
    );

    assert_eq!(
        meta.indexes_listing("prod/app", &c).await.unwrap(),
        vec![i.clone()]
    );
    assert!(meta.indexes_listing("other", &c).await.unwrap().is_empty());
    assert_eq!(
        meta.tags_naming("prod/app", &[c.clone(), i.clone()])
            .await
            .unwrap(),
        vec!["v1".to_string()]
    );
    assert!(meta
        .tags_naming("prod/app", std::slice::from_ref(&c))
        .await
        .unwrap()
        .is_empty());

    let signed = vec![
        verdict(&i, "ci", "", &s),
        verdict(&i, "ci", "https://slsa.dev/provenance/v1", &s),
    ];
    meta.record_signature("prod/app", &s, "v-one", &signed)
        .await
        .unwrap();
    // Recording again replaces, never doubles.
    meta.record_signature("prod/app", &s, "v-one", &signed)
        .await
        .unwrap();
    // The index's verdicts answer for its child too.
    for subject in [&c, &i] {
        let found = meta.verdicts("prod/app", subject, "v-one").await.unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0], signed[0]);
    }
    assert!(meta
        .verdicts("prod/app", &i, "v-two")
        .await
        .unwrap()
        .is_empty());
    assert!(meta
        .verdicts("other/app", &i, "v-one")
        .await
        .unwrap()
        .is_empty());

    // A new trust version lists the artifact until it is evaluated under it.
    assert!(meta
        .unevaluated_signatures("v-one", 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        meta.unevaluated_signatures("v-two", 10).await.unwrap(),
        vec![("prod/app".to_string(), s.clone())]
    );
    meta.record_signature("prod/app", &s, "v-two", &[])
        .await
        .unwrap();
    assert!(meta
        .unevaluated_signatures("v-two", 10)
        .await
        .unwrap()
        .is_empty());
    assert!(meta
        .verdicts("prod/app", &i, "v-two")
        .await
        .unwrap()
        .is_empty());

    // A signature whose manifest is not stored is not recorded.
    meta.record_signature("prod/app", "sha256:00", "v-one", &signed)
        .await
        .unwrap();
    assert_eq!(
        meta.verdicts("prod/app", &i, "v-one").await.unwrap().len(),
        2
    );

    // Deleting the signature artifact takes its verdicts.
    assert!(meta
        .delete_manifest("prod/app", &sig.digest, &[], &who)
        .await
        .unwrap());
    assert!(meta
        .verdicts("prod/app", &i, "v-one")
        .await
        .unwrap()
        .is_empty());
    assert!(meta
        .unevaluated_signatures("v-three", 10)
        .await
        .unwrap()
        .is_empty());

    // A proxy repository's verdicts: no artifact of its own, a check time
    // per trust version, verdicts added to (never duplicated).
    let (up, child) = ("sha256:up".to_string(), "sha256:child".to_string());
    assert_eq!(
        meta.proxied_signatures_checked("hub/app", &up, "v-one")
            .await
            .unwrap(),
        None
    );
    meta.record_proxied_verdicts("hub/app", &up, "v-one", &[])
        .await
        .unwrap();
    let first = meta
        .proxied_signatures_checked("hub/app", &up, "v-one")
        .await
        .unwrap();
    assert!(first.is_some());
    assert!(meta
        .verdicts("hub/app", &up, "v-one")
        .await
        .unwrap()
        .is_empty());
    let found = [
        verdict(&up, "ci", "", "sha256:s"),
        verdict(&child, "ci", "", "sha256:s"),
    ];
    for _ in 0..2 {
        meta.record_proxied_verdicts("hub/app", &up, "v-one", &found)
            .await
            .unwrap();
    }
    assert_eq!(
        meta.verdicts("hub/app", &up, "v-one").await.unwrap(),
        vec![found[0].clone()]
    );
    assert_eq!(
        meta.verdicts("hub/app", &child, "v-one").await.unwrap(),
        vec![found[1].clone()]
    );
    assert!(meta
        .verdicts("hub/app", &up, "v-two")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        meta.proxied_signatures_checked("hub/app", &up, "v-two")
            .await
            .unwrap(),
        None
    );
}

/// The Go checksum database's log: dense ids from 0, one record per module
/// version however often (and however concurrently) it is asked for.
pub async fn sumdb_suite(meta: Arc<dyn MetaStore>) {
    assert_eq!(meta.sumdb_size("main").await.unwrap(), 0);
    let a = meta
        .sumdb_record("main", "example.com/a", "v1.0.0", "a\n")
        .await
        .unwrap();
    assert_eq!(a, 0);
    let again = meta
        .sumdb_record("main", "example.com/a", "v1.0.0", "ignored\n")
        .await
        .unwrap();
    assert_eq!(again, 0, "a module version is recorded once");
    // Concurrent appends: distinct, dense ids.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let meta = meta.clone();
        tasks.push(tokio::spawn(async move {
            meta.sumdb_record(
                "main",
                &format!("example.com/m{i}"),
                "v1.0.0",
                &format!("m{i}\n"),
            )
            .await
            .unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    assert_eq!(ids, (1..9).collect::<Vec<i64>>());
    assert_eq!(meta.sumdb_size("main").await.unwrap(), 9);
    assert_eq!(meta.sumdb_size("other").await.unwrap(), 0);
    let texts = meta.sumdb_records("main", 0, 2).await.unwrap();
    assert_eq!(texts[0], "a\n");
    assert_eq!(texts.len(), 2);
    assert_eq!(meta.sumdb_records("main", 8, 5).await.unwrap().len(), 1);
}

/// Publish attestations: recorded once per file, listed by version.
pub async fn attestation_suite(meta: Arc<dyn MetaStore>) {
    use crate::attestation::PublishAttestation;
    let a = |filename: &str, bundle: &str| PublishAttestation {
        format: "pypi".into(),
        repository: "main".into(),
        package: "demo".into(),
        version: "1.0".into(),
        filename: filename.into(),
        digest: format!("sha256:{}", "ab".repeat(32)),
        bundle: bundle.into(),
        created_at: 1_700_000_000,
    };
    meta.record_publish_attestation(&a("demo-1.0.tar.gz", "{\"first\":1}"))
        .await
        .unwrap();
    meta.record_publish_attestation(&a("demo-1.0-py3-none-any.whl", "{}"))
        .await
        .unwrap();
    // A second record for the same file keeps the first.
    meta.record_publish_attestation(&a("demo-1.0.tar.gz", "{\"second\":2}"))
        .await
        .unwrap();
    let listed = meta
        .publish_attestations("pypi", "main", "demo", "1.0")
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].filename, "demo-1.0-py3-none-any.whl");
    assert_eq!(listed[1], a("demo-1.0.tar.gz", "{\"first\":1}"));
    assert!(meta
        .publish_attestations("pypi", "main", "demo", "2.0")
        .await
        .unwrap()
        .is_empty());
    assert!(meta
        .publish_attestations("npm", "main", "demo", "1.0")
        .await
        .unwrap()
        .is_empty());
}
