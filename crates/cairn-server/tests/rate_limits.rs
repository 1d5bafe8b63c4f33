//! Rate limits: a burst past the budget gets 429 with the standard headers,
//! budgets are per credential, and repeated failed logins are slowed down.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;

#[tokio::test]
async fn bursts_are_limited_per_credential_and_failed_logins_slow_down() {
    let t = TestApp::with_config(|c| {
        c.rate_limit.enabled = true;
        c.rate_limit.reads_per_minute = 5;
        c.rate_limit.writes_per_minute = 2;
        c.rate_limit.auth_failures_per_minute = 3;
    })
    .await;
    let admin = t.basic();

    // Reads: five fit, with a falling RateLimit-Remaining, the sixth is refused.
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let r = t.send(Method::GET, "/v2/", Some(&admin), &[], vec![]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("ratelimit-limit"), Some("5"));
        remaining.push(
            r.header("ratelimit-remaining")
                .unwrap()
                .parse::<u32>()
                .unwrap(),
        );
    }
    assert_eq!(remaining, vec![4, 3, 2, 1, 0]);
    let r = t.send(Method::GET, "/v2/", Some(&admin), &[], vec![]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.error_code(), "TOOMANYREQUESTS");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));

    // Another caller (anonymous, by address) has its own budget.
    assert_eq!(
        t.anon(Method::GET, "/v2/_catalog").await.status,
        StatusCode::OK
    );

    // Writes have their own, smaller budget.
    for _ in 0..2 {
        let r = t
            .send(
                Method::POST,
                "/v2/app/blobs/uploads/",
                Some(&admin),
                &[],
                vec![],
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
    let r = t
        .send(
            Method::POST,
            "/v2/app/blobs/uploads/",
            Some(&admin),
            &[],
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);

    // Failed logins: three get 401, then the source is answered 429.
    let wrong = "Basic YWRtaW46d3Jvbmc="; // admin:wrong
    for _ in 0..3 {
        let r = t.send(Method::GET, "/v2/", Some(wrong), &[], vec![]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = t.send(Method::GET, "/v2/", Some(wrong), &[], vec![]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after").is_some());
}

#[tokio::test]
async fn off_by_default() {
    let t = TestApp::new().await;
    for _ in 0..50 {
        let r = t.anon(Method::GET, "/v2/_catalog").await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.header("ratelimit-limit").is_none());
    }
}
