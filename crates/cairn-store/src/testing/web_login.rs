//! The web-login part of the metadata suite: started, pending, approved
//! once, taken once (with the right secret only), expired.

use crate::web_login::{Taken, WebLogin};
use crate::{Actor, AuditFilter, MetaStore};
use std::sync::Arc;

fn login(id: &str, now: i64) -> WebLogin {
    WebLogin {
        id: id.into(),
        secret_hash: format!("hash-of-{id}"),
        client: "npm".into(),
        source: Some("127.0.0.1".into()),
        created_at: now,
        expires_at: now + 600,
        approved_by: None,
        second_factor: false,
        approved_at: None,
        consumed_at: None,
    }
}

pub async fn web_login_suite(meta: &Arc<dyn MetaStore>, who: &Actor) {
    let now = 1_800_000_000;
    meta.start_web_login(&login("w1", now)).await.unwrap();
    let stored = meta.web_login("w1").await.unwrap().unwrap();
    assert_eq!(stored, login("w1", now));
    assert!(meta.web_login("nope").await.unwrap().is_none());

    // Pending until approved; a wrong secret reads as no such login.
    assert_eq!(
        meta.take_web_login("w1", "hash-of-w1", now + 1)
            .await
            .unwrap(),
        Taken::Pending
    );
    assert_eq!(
        meta.take_web_login("w1", "wrong", now + 1).await.unwrap(),
        Taken::Gone
    );
    assert!(meta
        .approve_web_login("w1", "alice", true, now + 2, who)
        .await
        .unwrap());
    assert!(
        !meta
            .approve_web_login("w1", "mallory", false, now + 3, who)
            .await
            .unwrap(),
        "approved once"
    );
    assert_eq!(
        meta.take_web_login("w1", "wrong", now + 4).await.unwrap(),
        Taken::Gone
    );
    assert_eq!(
        meta.take_web_login("w1", "hash-of-w1", now + 4)
            .await
            .unwrap(),
        Taken::Approved {
            user: "alice".into(),
            second_factor: true,
            client: "npm".into(),
        }
    );
    assert_eq!(
        meta.take_web_login("w1", "hash-of-w1", now + 5)
            .await
            .unwrap(),
        Taken::Gone,
        "taken once"
    );
    let audited = meta
        .audit_log(&AuditFilter {
            action: Some("session.web_approve".into()),
            artifact: Some("w1".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audited.len(), 1);

    // Expired: neither approved nor taken.
    meta.start_web_login(&login("w2", now)).await.unwrap();
    assert!(!meta
        .approve_web_login("w2", "alice", false, now + 601, who)
        .await
        .unwrap());
    assert_eq!(
        meta.take_web_login("w2", "hash-of-w2", now + 601)
            .await
            .unwrap(),
        Taken::Gone
    );
    meta.start_web_login(&login("w3", now)).await.unwrap();
    assert!(meta
        .approve_web_login("w3", "alice", false, now + 10, who)
        .await
        .unwrap());
    assert_eq!(
        meta.take_web_login("w3", "hash-of-w3", now + 700)
            .await
            .unwrap(),
        Taken::Gone
    );
}
