//! The SBOM part of the suites: indexing, the component queries (exact,
//! range, prefix, any version, pages), replacing, and answers following
//! their subjects' deletes and unpublishes.

use super::{record, seed_manifest, seed_publish};
use crate::sbom::{ComponentQuery, NameMatch, SbomSubject, SbomWrite, VersionMatch};
use crate::{Actor, FileRecord, MetaStore, NewVersion, PublishMode, StoreError};
use cairn_core::sbom::{parse, Limits, Sbom};
use cairn_core::{Digest, Format};
use std::sync::Arc;

fn cyclonedx(purls: &[&str]) -> Sbom {
    let components: Vec<String> = purls
        .iter()
        .map(|p| format!(r#"{{"purl":"{p}"}}"#))
        .collect();
    let doc = format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{}]}}"#,
        components.join(",")
    );
    parse(doc.as_bytes(), Limits::default()).unwrap()
}

fn query(ecosystem: &str, name: NameMatch, versions: VersionMatch) -> ComponentQuery {
    ComponentQuery {
        ecosystem: ecosystem.into(),
        name,
        versions,
        after: None,
        limit: 100,
    }
}

fn range(ecosystem: &str, vers: &str) -> VersionMatch {
    VersionMatch::Range(cairn_core::vers::parse(vers, ecosystem).unwrap())
}

fn exact(name: &str) -> NameMatch {
    NameMatch::Exact(name.into())
}

async fn found(meta: &Arc<dyn MetaStore>, q: &ComponentQuery) -> Vec<(String, String, String)> {
    let page = meta.query_components(q).await.unwrap();
    page.occurrences
        .into_iter()
        .map(|o| {
            (
                o.sbom.subject.repository,
                o.sbom.subject.subject,
                o.version.unwrap_or_default(),
            )
        })
        .collect()
}

pub async fn sbom_suite(meta: Arc<dyn MetaStore>) {
    let who = Actor::local("test");
    // An image, and an SBOM artifact whose subject it is.
    let image = record("team/app", b"image", None);
    let artifact = record("team/app", b"sbom artifact", Some(&image.digest));
    seed_manifest(&meta, &image, &["v1".to_string()], &[], &who)
        .await
        .unwrap();
    seed_manifest(&meta, &artifact, &[], &[], &who)
        .await
        .unwrap();
    let sbom = cyclonedx(&[
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
        "pkg:maven/org.apache.logging.log4j/log4j-api@2.14.1",
        "pkg:npm/lodash@4.17.20",
        "pkg:pypi/Django@4.2.0",
        "pkg:golang/example.com/odd@not-a-version",
    ]);
    let subject = SbomSubject {
        format: "oci".into(),
        repository: "team/app".into(),
        subject: image.digest.to_string(),
        version: String::new(),
    };
    let write = SbomWrite {
        subject: subject.clone(),
        source: artifact.digest.to_string(),
        digest: Digest::sha256_of(b"the document"),
        media_type: "application/vnd.cyclonedx+json".into(),
        sbom: &sbom,
        cache_entry: None,
    };
    let stored = meta.index_sbom(&write, &who).await.unwrap();
    assert_eq!(
        (stored.components, stored.sbom_format.as_str()),
        (5, "cyclonedx")
    );
    assert_eq!(meta.sboms_of(&subject).await.unwrap(), vec![stored.clone()]);

    let log4j = "org.apache.logging.log4j/log4j-core";
    let vulnerable = query(
        "maven",
        exact(log4j),
        range("maven", "vers:maven/>=2.0.0|<2.17.1"),
    );
    let page = meta.query_components(&vulnerable).await.unwrap();
    assert_eq!(page.occurrences.len(), 1);
    let hit = &page.occurrences[0];
    assert_eq!(hit.tags, vec!["v1".to_string()]);
    assert_eq!(hit.sbom.subject.subject, image.digest.to_string());
    assert_eq!(
        hit.purl,
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
    );
    assert!(page.next.is_none());
    let fixed = query("maven", exact(log4j), range("maven", "vers:maven/>=2.17.1"));
    assert!(found(&meta, &fixed).await.is_empty());
    let equal = query(
        "maven",
        exact(log4j),
        VersionMatch::Exact("2.14.1.0".into()),
    );
    assert_eq!(
        found(&meta, &equal).await.len(),
        1,
        "Maven calls 2.14.1.0 and 2.14.1 equal"
    );
    let prefix = query(
        "maven",
        NameMatch::Prefix("org.apache.logging.".into()),
        VersionMatch::Any,
    );
    assert_eq!(found(&meta, &prefix).await.len(), 2);
    let pypi = query("pypi", exact("django"), range("pypi", "vers:pypi/<4.2.1"));
    assert_eq!(found(&meta, &pypi).await.len(), 1);
    // A version the ecosystem cannot order is found exactly, never by a range.
    let odd = query(
        "golang",
        exact("example.com/odd"),
        VersionMatch::Exact("not-a-version".into()),
    );
    assert_eq!(found(&meta, &odd).await.len(), 1);
    let odd_any = query(
        "golang",
        exact("example.com/odd"),
        range("golang", "vers:golang/*"),
    );
    assert!(found(&meta, &odd_any).await.is_empty());

    // Indexing the same source again replaces, it does not add.
    let again = cyclonedx(&["pkg:npm/lodash@4.17.20", "pkg:npm/lodash@4.17.21"]);
    let replaced = meta
        .index_sbom(
            &SbomWrite {
                sbom: &again,
                ..write_again(&write)
            },
            &who,
        )
        .await
        .unwrap();
    assert_eq!(meta.sboms_of(&subject).await.unwrap(), vec![replaced]);
    assert!(meta
        .query_components(&vulnerable)
        .await
        .unwrap()
        .occurrences
        .is_empty());

    // Pages: lodash in more images, read two at a time.
    for i in 0..5u8 {
        let img = record("team/other", &[b'i', i], None);
        let art = record("team/other", &[b's', i], Some(&img.digest));
        seed_manifest(&meta, &img, &[], &[], &who).await.unwrap();
        seed_manifest(&meta, &art, &[], &[], &who).await.unwrap();
        let doc = cyclonedx(&[&format!("pkg:npm/lodash@4.17.{}", 10 + i)]);
        let w = SbomWrite {
            subject: SbomSubject {
                format: "oci".into(),
                repository: "team/other".into(),
                subject: img.digest.to_string(),
                version: String::new(),
            },
            source: art.digest.to_string(),
            digest: Digest::sha256_of(&[b'd', i]),
            media_type: "application/spdx+json".into(),
            sbom: &doc,
            cache_entry: None,
        };
        meta.index_sbom(&w, &who).await.unwrap();
    }
    let mut q = query("npm", exact("lodash"), range("npm", "vers:npm/>=4.17.11"));
    q.limit = 2;
    let mut versions = Vec::new();
    loop {
        let page = meta.query_components(&q).await.unwrap();
        assert!(page.occurrences.len() <= 2);
        versions.extend(page.occurrences.iter().map(|o| o.version.clone().unwrap()));
        match page.next {
            Some(next) => q.after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        versions,
        ["4.17.11", "4.17.12", "4.17.13", "4.17.14", "4.17.20", "4.17.21"]
    );

    // Deleting the subject hides its SBOM; deleting the SBOM artifact
    // forgets it.
    assert!(meta
        .delete_manifest("team/app", &image.digest, &[], &who)
        .await
        .unwrap());
    let lodash = query(
        "npm",
        exact("lodash"),
        VersionMatch::Exact("4.17.21".into()),
    );
    assert!(found(&meta, &lodash).await.is_empty());
    assert!(meta
        .delete_manifest("team/app", &artifact.digest, &[], &who)
        .await
        .unwrap());
    assert!(meta.sboms_of(&subject).await.unwrap().is_empty());
    let gone = meta.index_sbom(&write_again(&write), &who).await;
    assert!(matches!(gone, Err(StoreError::Conflict(_))), "{gone:?}");

    // A package version's SBOM: found while the version is there.
    let tarball = Digest::sha256_of(b"tarball");
    let document = Digest::sha256_of(b"package sbom");
    seed_publish(
        &meta,
        &NewVersion {
            format: Format::Npm,
            repository: "main".into(),
            package: "acme-app".into(),
            name: "acme-app".into(),
            version: "1.0.0".into(),
            metadata: "{}".into(),
            dependencies: vec![],
            files: vec![FileRecord {
                filename: "acme-app-1.0.0.tgz".into(),
                version: "1.0.0".into(),
                digest: tarball,
                size: 7,
                metadata: "{}".into(),
                companion: None,
                created_at: 0,
            }],
            tags: vec!["latest".into()],
            owner: None,
        },
        PublishMode::NewVersion,
        &who,
    )
    .await
    .unwrap();
    meta.intend_blob(&document, 12).await.unwrap();
    let pkg_sbom = cyclonedx(&["pkg:npm/left-pad@1.3.0"]);
    let pkg = SbomSubject {
        format: "npm".into(),
        repository: "main".into(),
        subject: "acme-app".into(),
        version: "1.0.0".into(),
    };
    let pkg_subject = pkg.clone();
    let w = SbomWrite {
        subject: pkg.clone(),
        source: document.to_string(),
        digest: document.clone(),
        media_type: "application/vnd.cyclonedx+json".into(),
        sbom: &pkg_sbom,
        cache_entry: None,
    };
    let before = meta.usage_of_prefix("npm/main").await.unwrap();
    meta.index_sbom(&w, &who).await.unwrap();
    let with_sbom = meta.usage_of_prefix("npm/main").await.unwrap();
    assert_eq!(
        with_sbom.logical,
        before.logical + 12,
        "a package SBOM counts in the repository's storage numbers"
    );
    assert_eq!(
        with_sbom,
        meta.computed_usage_of_prefix("npm/main").await.unwrap()
    );
    let left_pad = query("npm", exact("left-pad"), VersionMatch::Any);
    assert_eq!(
        found(&meta, &left_pad).await,
        vec![("main".into(), "acme-app".into(), "1.3.0".into())]
    );
    // Removed by its digest: the component is no answer any more.
    assert!(meta
        .remove_sbom(&pkg, &document.to_string(), &who)
        .await
        .unwrap());
    assert!(!meta
        .remove_sbom(&pkg, &document.to_string(), &who)
        .await
        .unwrap());
    assert!(found(&meta, &left_pad).await.is_empty());
    assert_eq!(
        meta.blob_state(&document).await.unwrap(),
        Some(crate::gc::BlobState::Candidate),
        "its bytes are the collector's candidate"
    );
    assert_eq!(meta.usage_of_prefix("npm/main").await.unwrap(), before);
    meta.index_sbom(&w, &who).await.unwrap();
    let missing = SbomWrite {
        subject: SbomSubject {
            version: "9.9.9".into(),
            ..pkg
        },
        ..write_again(&w)
    };
    assert!(matches!(
        meta.index_sbom(&missing, &who).await,
        Err(StoreError::Conflict(_))
    ));
    // Unpublishing the version lets go of its SBOMs with its files.
    let acme = cairn_core::PackageRef::new(Format::Npm, "main", "acme-app");
    meta.change_version(
        acme,
        "1.0.0",
        &cairn_core::Transition::Unpublish,
        &cairn_core::LifecyclePolicy::default(),
        true,
        &who,
    )
    .await
    .unwrap();
    assert!(meta.sboms_of(&pkg_subject).await.unwrap().is_empty());
    assert_eq!(
        meta.blob_state(&document).await.unwrap(),
        Some(crate::gc::BlobState::Candidate),
        "an unpublished version's SBOM is the collector's candidate"
    );
    assert_eq!(
        meta.usage_of_prefix("npm/main").await.unwrap(),
        meta.computed_usage_of_prefix("npm/main").await.unwrap()
    );
    proxied(&meta, &who).await;
}

/// An SBOM of a proxied image hangs on the proxy cache entry of the
/// manifest it describes: refused without it, found while it exists,
/// forgotten when it is dropped.
async fn proxied(meta: &Arc<dyn MetaStore>, who: &Actor) {
    let image = Digest::sha256_of(b"proxied image");
    let (cache, key) = (
        "oci/hub".to_string(),
        format!("manifest/library/app@{image}"),
    );
    let doc = cyclonedx(&["pkg:npm/proxied-dep@1.2.3"]);
    let write = SbomWrite {
        subject: SbomSubject {
            format: "oci".into(),
            repository: "hub/app".into(),
            subject: image.to_string(),
            version: String::new(),
        },
        source: Digest::sha256_of(b"proxied referrer").to_string(),
        digest: Digest::sha256_of(b"proxied document"),
        media_type: "application/vnd.cyclonedx+json".into(),
        sbom: &doc,
        cache_entry: Some((cache.clone(), key.clone())),
    };
    assert!(
        matches!(
            meta.index_sbom(&write, who).await,
            Err(StoreError::Conflict(_))
        ),
        "no cache entry, no index"
    );
    super::seed_cached(
        meta,
        &crate::proxy::CachedEntry {
            repository: cache.clone(),
            key: key.clone(),
            status: 200,
            digest: Some(Digest::sha256_of(b"proxied image bytes")),
            size: 19,
            content_type: "application/vnd.oci.image.manifest.v1+json".into(),
            etag: None,
            last_modified: None,
            fetched_at: 1,
            checked_at: 1,
        },
    )
    .await
    .unwrap();
    meta.index_sbom(&write, who).await.unwrap();
    let dep = query("npm", exact("proxied-dep"), range("npm", "vers:npm/<2.0.0"));
    let hits = found(meta, &dep).await;
    assert_eq!(
        hits,
        vec![(
            "hub/app".to_string(),
            image.to_string(),
            "1.2.3".to_string()
        )]
    );
    assert!(meta.drop_cached(&cache, &key).await.unwrap());
    assert!(found(meta, &dep).await.is_empty(), "evicted, not found");
    assert!(
        meta.sboms_of(&write.subject).await.unwrap().is_empty(),
        "the index is forgotten with the entry"
    );
}

fn write_again<'a>(w: &SbomWrite<'a>) -> SbomWrite<'a> {
    SbomWrite {
        subject: w.subject.clone(),
        source: w.source.clone(),
        digest: w.digest.clone(),
        media_type: w.media_type.clone(),
        sbom: w.sbom,
        cache_entry: None,
    }
}
