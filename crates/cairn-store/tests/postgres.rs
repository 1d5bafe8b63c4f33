//! Runs the metadata suite against PostgreSQL. Needs a server:
//! `POSTGRES_TEST_URL` is an admin URL (scripts/test.sh starts a
//! throwaway cluster with scripts/start-postgres.sh and sets it). Each test
//! creates its own database.

use cairn_store::sql::SqlMetaStore;
use cairn_store::testing::meta_store_suite;
use sqlx::Executor;
use std::sync::Arc;

/// A fresh, empty database on the test server; returns its URL.
async fn fresh_database(name: &str) -> String {
    let admin = std::env::var("POSTGRES_TEST_URL").expect(
        "POSTGRES_TEST_URL is not set: start PostgreSQL with scripts/start-postgres.sh DIR \
         and export the URL it prints (scripts/test.sh does this)",
    );
    let db = format!("cairn_{name}_{}", std::process::id());
    let pool = sqlx::PgPool::connect(&admin)
        .await
        .expect("connect to PostgreSQL");
    pool.execute(format!("DROP DATABASE IF EXISTS {db}").as_str())
        .await
        .unwrap();
    pool.execute(format!("CREATE DATABASE {db}").as_str())
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').expect("URL with a database name");
    format!("{base}/{db}")
}

#[tokio::test]
async fn postgres_meta_store() {
    let url = fresh_database("suite").await;
    let meta = SqlMetaStore::open(&url).await.unwrap();
    meta_store_suite(Arc::new(meta)).await;
    // The audit log refuses changes even to a database superuser's plain SQL.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    for sql in [
        "UPDATE audit_log SET outcome = 'ok'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn postgres_migrations_are_idempotent() {
    let url = fresh_database("reopen").await;
    drop(SqlMetaStore::open(&url).await.unwrap());
    let again = SqlMetaStore::open(&url).await.unwrap();
    meta_store_suite(Arc::new(again)).await;
}
