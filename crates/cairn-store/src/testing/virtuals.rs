//! The virtual-repository part of the metadata suite: owners' exceptions
//! to name ownership, each change audited.

use super::seed_publish;
use crate::{Actor, AuditFilter, MetaStore, NewVersion, PublishMode};
use cairn_core::{Format, PackageRef};
use std::sync::Arc;

pub async fn virtual_store_suite(meta: Arc<dyn MetaStore>) {
    let owner = Actor {
        name: "owner".into(),
        credential: None,
        source: None,
    };
    let repo = "npm/all";
    assert_eq!(
        meta.external_allowance(repo, "left-pad").await.unwrap(),
        None
    );
    let made = meta
        .allow_external(&owner, repo, "left-pad", Some("we use the public one"))
        .await
        .unwrap();
    assert_eq!(
        meta.external_allowance(repo, "left-pad").await.unwrap(),
        Some(made.clone())
    );
    assert_eq!(
        meta.external_allowance("pypi/all", "left-pad")
            .await
            .unwrap(),
        None
    );
    // What the plan reads in one query: the exception, and which members
    // have the package at which revision, in the order asked.
    let facts = |members: Vec<&'static str>| {
        let meta = meta.clone();
        async move {
            meta.ownership_facts("npm", &members, repo, "left-pad")
                .await
                .unwrap()
        }
    };
    assert_eq!(facts(vec![]).await.exception, Some(made.clone()));
    let f = facts(vec!["m1"]).await;
    assert!(f.revisions.is_empty());
    assert_eq!(f.exception, Some(made.clone()));
    for r in ["m1", "m2"] {
        let v = NewVersion {
            format: Format::Npm,
            repository: r.into(),
            package: "left-pad".into(),
            name: "left-pad".into(),
            version: "1.0.0".into(),
            metadata: "{}".into(),
            dependencies: vec![],
            files: vec![],
            tags: vec![],
            owner: None,
        };
        seed_publish(&meta, &v, PublishMode::NewVersion, &owner)
            .await
            .unwrap();
    }
    let mut want = Vec::new();
    for r in ["m2", "m1"] {
        let rev = meta
            .package_revision(PackageRef::new(Format::Npm, r, "left-pad"))
            .await
            .unwrap()
            .unwrap();
        want.push((r.to_string(), rev));
    }
    assert_eq!(facts(vec!["m2", "none", "m1"]).await.revisions, want);
    let other = meta
        .ownership_facts("pypi", &["m1"], "pypi/all", "left-pad")
        .await
        .unwrap();
    assert_eq!(other, Default::default());
    // Made again: replaced, not doubled.
    meta.allow_external(&owner, repo, "left-pad", None)
        .await
        .unwrap();
    meta.allow_external(&owner, repo, "a-first", None)
        .await
        .unwrap();
    let listed = meta.external_allowances(repo).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|a| a.package.as_str())
            .collect::<Vec<_>>(),
        ["a-first", "left-pad"]
    );
    assert_eq!(listed[1].reason, None);
    assert!(meta
        .disallow_external(&owner, repo, "left-pad")
        .await
        .unwrap());
    assert!(!meta
        .disallow_external(&owner, repo, "left-pad")
        .await
        .unwrap());
    assert_eq!(
        meta.external_allowance(repo, "left-pad").await.unwrap(),
        None
    );
    // Every change is in the audit log; the refused removal is not.
    let audit = meta
        .audit_log(&AuditFilter {
            repository: Some(repo.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .filter(|e| e.action.starts_with("virtual."))
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(actions.len(), 4, "{actions:?}");
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "virtual.disallow_external")
            .count(),
        1
    );

    // Warm jobs: created (audited), progressed, read back.
    let job = crate::WarmJob {
        id: "job-1".into(),
        created_by: "owner".into(),
        repository: "npm/all".into(),
        state: "running".into(),
        total: 3,
        done: 0,
        report: "{}".into(),
        created_at: 10,
        updated_at: 10,
    };
    meta.create_warm_job(&owner, &job).await.unwrap();
    assert_eq!(meta.warm_job("job-1").await.unwrap(), Some(job.clone()));
    meta.update_warm_job("job-1", "done", 3, "{\"ok\":3}", 20)
        .await
        .unwrap();
    let read = meta.warm_job("job-1").await.unwrap().unwrap();
    assert_eq!(
        (
            read.state.as_str(),
            read.done,
            read.report.as_str(),
            read.updated_at
        ),
        ("done", 3, "{\"ok\":3}", 20)
    );
    assert_eq!(meta.warm_job("job-2").await.unwrap(), None);
    let audit = meta
        .audit_log(&AuditFilter {
            action: Some("warm.start".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);

    // Cooldown exemptions: one version, or every version; read with the
    // ownership facts; audited.
    let exemption = |version: &str| crate::Exemption {
        repository: "npm/all".into(),
        package: "left-pad".into(),
        version: version.into(),
        allowed_by: "owner".into(),
        allowed_at: 30,
        reason: Some("urgent fix".into()),
    };
    meta.exempt(&owner, &exemption("1.3.1")).await.unwrap();
    meta.exempt(&owner, &exemption("")).await.unwrap();
    let f = facts(vec!["m1", "m2"]).await;
    let mut exempt = f.exempt.clone();
    exempt.sort();
    assert_eq!(exempt, ["", "1.3.1"]);
    assert_eq!(
        f.revisions.len(),
        2,
        "rows multiplied by exemptions are counted once"
    );
    assert_eq!(meta.exemptions("npm/all").await.unwrap().len(), 2);
    assert!(meta
        .unexempt(&owner, "npm/all", "left-pad", "")
        .await
        .unwrap());
    assert!(!meta
        .unexempt(&owner, "npm/all", "left-pad", "")
        .await
        .unwrap());
    assert_eq!(facts(vec![]).await.exempt, ["1.3.1"]);
    let audit = meta
        .audit_log(&AuditFilter {
            action: Some("virtual.exempt".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 2);
}
