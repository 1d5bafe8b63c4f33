//! The virtual-repository part of the metadata suite: owners' exceptions
//! to name ownership, each change audited.

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
}
