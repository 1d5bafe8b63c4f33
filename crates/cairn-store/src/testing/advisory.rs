//! The advisory part of the suites: imports (added, updated, unchanged),
//! and findings by advisory, by artifact and by repository, among SBOM
//! components and hosted package versions; withdrawn advisories and
//! deleted subjects find nothing.

use super::{record, seed_manifest, seed_publish};
use crate::advisory::{AdvisorySource, FindingScope};
use crate::sbom::{SbomSubject, SbomWrite};
use crate::{Actor, FileRecord, MetaStore, NewVersion, PublishMode};
use cairn_core::advisory::parse_osv;
use cairn_core::sbom::{parse, Limits};
use cairn_core::{Digest, Format};
use std::sync::Arc;

fn osv(
    id: &str,
    modified: &str,
    eco: &str,
    name: &str,
    events: &str,
    extra: &str,
) -> cairn_core::advisory::Advisory {
    let doc = format!(
        r#"{{"id":"{id}","modified":"{modified}","summary":"{id} summary","database_specific":{{"severity":"HIGH"}},{extra}
            "affected":[{{"package":{{"ecosystem":"{eco}","name":"{name}"}},
                          "ranges":[{{"type":"ECOSYSTEM","events":{events}}}]}}]}}"#
    );
    parse_osv(doc.as_bytes()).unwrap()
}

async fn publish(meta: &Arc<dyn MetaStore>, name: &str, version: &str) {
    publish_as(meta, Format::Npm, name, version).await
}

async fn publish_as(meta: &Arc<dyn MetaStore>, format: Format, name: &str, version: &str) {
    let who = Actor::local("test");
    seed_publish(
        meta,
        &NewVersion {
            format,
            repository: "main".into(),
            package: name.into(),
            name: name.into(),
            version: version.into(),
            metadata: "{}".into(),
            dependencies: vec![],
            files: vec![FileRecord {
                filename: format!("{name}-{version}.tgz"),
                version: version.into(),
                digest: Digest::sha256_of(format!("{name}{version}").as_bytes()),
                size: 9,
                metadata: "{}".into(),
                companion: None,
                created_at: 0,
            }],
            tags: vec![],
            owner: None,
        },
        PublishMode::NewVersion,
        &who,
    )
    .await
    .unwrap();
}

pub async fn advisory_suite(meta: Arc<dyn MetaStore>) {
    let who = Actor::local("test");
    let image = record("team/app", b"vulnerable image", None);
    let artifact = record("team/app", b"its sbom", Some(&image.digest));
    seed_manifest(&meta, &image, &["v1".to_string()], &[], &who)
        .await
        .unwrap();
    seed_manifest(&meta, &artifact, &[], &[], &who)
        .await
        .unwrap();
    let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
        {"purl":"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"},
        {"purl":"pkg:npm/lodash@4.17.20"},{"purl":"pkg:npm/left-pad@1.3.0"}]}"#;
    let sbom = parse(&doc[..], Limits::default()).unwrap();
    let image_subject = SbomSubject {
        format: "oci".into(),
        repository: "team/app".into(),
        subject: image.digest.to_string(),
        version: String::new(),
    };
    meta.index_sbom(
        &SbomWrite {
            subject: image_subject.clone(),
            source: artifact.digest.to_string(),
            digest: Digest::sha256_of(doc),
            media_type: "application/vnd.cyclonedx+json".into(),
            sbom: &sbom,
            cache_entry: None,
        },
        &who,
    )
    .await
    .unwrap();
    publish(&meta, "lodash", "4.17.15").await;
    publish(&meta, "lodash", "4.17.21").await;

    let log4shell = osv(
        "GHSA-jfh8-c2jp-5v3q",
        "2024-01-01T00:00:00Z",
        "Maven",
        "org.apache.logging.log4j:log4j-core",
        r#"[{"introduced":"2.13.0"},{"fixed":"2.15.0"},{"introduced":"2.0-beta9"},{"fixed":"2.3.1"}]"#,
        r#""severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"}],"#,
    );
    let lodash = osv(
        "GHSA-lodash",
        "2024-01-01T00:00:00Z",
        "npm",
        "lodash",
        r#"[{"introduced":"0"},{"fixed":"4.17.21"}]"#,
        "",
    );
    let withdrawn = osv(
        "GHSA-gone",
        "2024-01-01T00:00:00Z",
        "npm",
        "left-pad",
        r#"[{"introduced":"0"}]"#,
        r#""withdrawn":"2024-02-01T00:00:00Z","#,
    );
    let from = AdvisorySource {
        source: "osv:test".into(),
        licence: "CC-BY-4.0 (test)".into(),
    };
    let counts = meta
        .import_advisories(&[log4shell.clone(), lodash.clone(), withdrawn], &from)
        .await
        .unwrap();
    assert_eq!((counts.added, counts.updated, counts.unchanged), (3, 0, 0));
    let stored = meta.advisory("GHSA-jfh8-c2jp-5v3q").await.unwrap().unwrap();
    assert_eq!(stored.severity, cairn_core::advisory::Severity::Critical);
    assert_eq!(stored.licence, "CC-BY-4.0 (test)");
    assert_eq!(meta.advisory_data().await.unwrap().0, 3);

    let by = |id: &str| FindingScope::Advisory(id.to_string());
    let f = meta
        .findings(&by("GHSA-jfh8-c2jp-5v3q"), 100)
        .await
        .unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].artifact, image_subject);
    assert_eq!(f[0].version.as_deref(), Some("2.14.1"));
    let mut f: Vec<(String, String)> = meta
        .findings(&by("GHSA-lodash"), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.artifact.format, f.version.unwrap()))
        .collect();
    f.sort();
    assert_eq!(
        f,
        [
            ("npm".to_string(), "4.17.15".to_string()),
            ("oci".into(), "4.17.20".into())
        ],
        "the SBOM's component and the hosted version; 4.17.21 is fixed"
    );

    // A Go module whose namespace has capitals: the advisory names it as
    // written, the index lowercases the namespace, the hosted path is found.
    publish_as(&meta, Format::Go, "github.com/Sirupsen/logrus", "v1.0.0").await;
    publish_as(&meta, Format::Go, "github.com/sirupsen/logrus", "v1.0.0").await;
    let logrus = osv(
        "GO-2024-logrus",
        "2024-01-01T00:00:00Z",
        "Go",
        "github.com/Sirupsen/logrus",
        r#"[{"introduced":"0"},{"fixed":"1.9.0"}]"#,
        "",
    );
    meta.import_advisories(&[logrus], &from).await.unwrap();
    let mut modules: Vec<String> = meta
        .findings(&by("GO-2024-logrus"), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.artifact.subject)
        .collect();
    modules.sort();
    assert_eq!(
        modules,
        ["github.com/Sirupsen/logrus", "github.com/sirupsen/logrus"],
        "both spellings index as one name (the purl lowercases the namespace)"
    );

    // A version a proxy repository cached is listed while its file is.
    let (cache, key) = ("npm/npmjs", "tarball/lodash/lodash-4.17.10.tgz");
    super::seed_cached(
        &meta,
        &crate::CachedEntry {
            repository: cache.into(),
            key: key.into(),
            status: 200,
            digest: Some(Digest::sha256_of(b"lodash 4.17.10")),
            size: 14,
            content_type: "application/octet-stream".into(),
            etag: None,
            last_modified: None,
            fetched_at: 1,
            checked_at: 1,
        },
    )
    .await
    .unwrap();
    let proxied = crate::ProxiedVersion {
        format: "npm".into(),
        repository: "npmjs".into(),
        package: "lodash".into(),
        version: "4.17.10".into(),
    };
    meta.note_proxied_version(cache, key, &proxied)
        .await
        .unwrap();
    meta.note_proxied_version(cache, key, &proxied)
        .await
        .unwrap();
    let listed = |f: Vec<crate::advisory::Finding>| -> Vec<(String, String)> {
        f.into_iter()
            .filter(|f| f.artifact.repository == "npmjs")
            .map(|f| (f.artifact.subject, f.artifact.version))
            .collect()
    };
    let lodash_10 = vec![("lodash".to_string(), "4.17.10".to_string())];
    assert_eq!(
        listed(meta.findings(&by("GHSA-lodash"), 100).await.unwrap()),
        lodash_10,
        "the advisory's findings list the proxied version"
    );
    let proxy_repo = FindingScope::Repository {
        format: "npm".into(),
        repository: "npmjs".into(),
    };
    assert_eq!(
        listed(meta.findings(&proxy_repo, 100).await.unwrap()),
        lodash_10,
        "so does the proxy repository's report"
    );
    assert!(meta.drop_cached(cache, key).await.unwrap());
    assert!(
        listed(meta.findings(&by("GHSA-lodash"), 100).await.unwrap()).is_empty(),
        "an evicted file's version is not listed"
    );
    assert!(
        meta.findings(&by("GHSA-gone"), 100)
            .await
            .unwrap()
            .is_empty(),
        "withdrawn"
    );

    let on_image = meta
        .findings(&FindingScope::Artifact(image_subject.clone()), 100)
        .await
        .unwrap();
    let ids: Vec<&str> = on_image.iter().map(|f| f.advisory.id.as_str()).collect();
    assert_eq!(
        ids,
        ["GHSA-jfh8-c2jp-5v3q", "GHSA-lodash"],
        "most severe first"
    );
    let repo = FindingScope::Repository {
        format: "npm".into(),
        repository: "main".into(),
    };
    let in_repo = meta.findings(&repo, 100).await.unwrap();
    assert_eq!(in_repo.len(), 1);
    assert_eq!(in_repo[0].artifact.version, "4.17.15");

    // The same data again changes nothing; a newer revision replaces.
    let again = meta
        .import_advisories(&[log4shell.clone(), lodash], &from)
        .await
        .unwrap();
    assert_eq!((again.added, again.updated, again.unchanged), (0, 0, 2));
    let narrowed = osv(
        "GHSA-lodash",
        "2024-06-01T00:00:00Z",
        "npm",
        "lodash",
        r#"[{"introduced":"4.17.16"},{"fixed":"4.17.21"}]"#,
        "",
    );
    let updated = meta.import_advisories(&[narrowed], &from).await.unwrap();
    assert_eq!((updated.added, updated.updated), (0, 1));
    let f = meta.findings(&by("GHSA-lodash"), 100).await.unwrap();
    assert_eq!(f.len(), 1, "4.17.15 is no longer affected");

    // Exceptions: set (replacing the same advisory and pattern), listed, removed.
    let e = cairn_core::vuln_policy::Exception {
        advisory: "GHSA-lodash".into(),
        repositories: "npm/*".into(),
        expires_at: 2_000_000_000,
        reason: "not reachable".into(),
    };
    meta.set_exception(&e, &who).await.unwrap();
    meta.set_exception(
        &cairn_core::vuln_policy::Exception {
            reason: "still not reachable".into(),
            ..e.clone()
        },
        &who,
    )
    .await
    .unwrap();
    let listed = meta
        .exceptions(&["GHSA-lodash".to_string(), "GHSA-x".to_string()])
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].reason, "still not reachable");
    assert_eq!(meta.exceptions(&[]).await.unwrap().len(), 1);
    assert!(meta
        .remove_exception("GHSA-lodash", "npm/*", &who)
        .await
        .unwrap());
    assert!(!meta
        .remove_exception("GHSA-lodash", "npm/*", &who)
        .await
        .unwrap());
    assert!(meta.exceptions(&[]).await.unwrap().is_empty());

    // Quarantined bytes: held (once, however often held), listed, released.
    let held = crate::quarantine::QuarantineRecord {
        digest: Digest::sha256_of(b"leaky").to_string(),
        repository: "npm/held".into(),
        what: "leaky-1.0.0.tgz".into(),
        findings: "package/a.js line 1 matches the aws-access-key-id rule".into(),
        actor: "test".into(),
        created_at: 1,
    };
    meta.quarantine(&held, &who).await.unwrap();
    meta.quarantine(&held, &who).await.unwrap();
    assert!(meta
        .is_quarantined(&Digest::sha256_of(b"leaky"))
        .await
        .unwrap());
    assert!(!meta
        .is_quarantined(&Digest::sha256_of(b"clean"))
        .await
        .unwrap());
    assert_eq!(meta.quarantined().await.unwrap(), vec![held.clone()]);
    assert!(meta.release(&held.digest, &who).await.unwrap());
    assert!(!meta.release(&held.digest, &who).await.unwrap());
    assert!(!meta
        .is_quarantined(&Digest::sha256_of(b"leaky"))
        .await
        .unwrap());

    // A deleted image is no finding.
    assert!(meta
        .delete_manifest("team/app", &image.digest, &[], &who)
        .await
        .unwrap());
    assert!(meta
        .findings(&by("GHSA-jfh8-c2jp-5v3q"), 100)
        .await
        .unwrap()
        .is_empty());
}
