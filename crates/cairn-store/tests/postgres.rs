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

#[tokio::test]
async fn collector_on_postgres() {
    let url = fresh_database("collector").await;
    let meta = SqlMetaStore::open(&url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = cairn_store::fs::FsBlobStore::open(dir.path().join("blobs"))
        .await
        .unwrap();
    cairn_store::testing::collector_suite(Arc::new(meta), Arc::new(store)).await;
}

/// A store on `url` holding one image in `repo`: a manifest naming one
/// layer, both stored. The store, the layer, the manifest.
async fn one_image(
    url: &str,
    repo: &str,
) -> (
    Arc<dyn cairn_store::MetaStore>,
    cairn_core::Digest,
    cairn_store::ManifestRecord,
) {
    use cairn_store::GcStore;
    let meta = SqlMetaStore::open(url).await.unwrap();
    let layer_bytes = format!("layer of {repo}");
    let layer = cairn_core::Digest::sha256_of(layer_bytes.as_bytes());
    let first = cairn_store::testing::manifest(repo, format!("manifest of {repo}").as_bytes());
    meta.intend_blob(&layer, layer_bytes.len() as u64)
        .await
        .unwrap();
    meta.intend_blob(&first.digest, first.size).await.unwrap();
    let meta: Arc<dyn cairn_store::MetaStore> = Arc::new(meta);
    cairn_store::testing::put_referring(&meta, &first, std::slice::from_ref(&layer))
        .await
        .unwrap();
    (meta, layer, first)
}

/// The horizon, step by step: a writer that read a blob as live before an
/// event marked it, and has not committed yet, keeps the collector from
/// deciding that blob until it ends; its reference is then seen.
#[tokio::test]
async fn a_candidate_waits_for_writers_that_could_miss_its_mark() {
    use cairn_store::{Actor, Verdict};
    let url = fresh_database("horizon").await;
    let (meta, layer, first) = one_image(&url, "h/app").await;
    let who = Actor::local("test");

    // A writer (plain SQL on its own connection, as put_manifest does it):
    // its transaction id first, then it reads the layer's row as live.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let mut writer = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()::text")
        .fetch_one(&mut *writer)
        .await
        .unwrap();
    let state: String = sqlx::query_scalar("SELECT state FROM blobs WHERE digest = $1")
        .bind(layer.to_string())
        .fetch_one(&mut *writer)
        .await
        .unwrap();
    assert_eq!(state, "live");

    // Now an event marks the layer, and a collector gives it a horizon.
    meta.delete_manifest("h/app", &first.digest, &[], &who)
        .await
        .unwrap();
    meta.assign_horizons().await.unwrap();
    let due = meta.due_candidates(i64::MAX, 10).await.unwrap();
    assert!(
        !due.contains(&layer),
        "decided while a writer that read it as live is open"
    );

    // The writer commits its reference; the collector then keeps the layer.
    sqlx::query("INSERT INTO manifest_blobs (repository, manifest, digest) VALUES ('h/app', 'sha256:00', $1)")
        .bind(layer.to_string())
        .execute(&mut *writer)
        .await
        .unwrap();
    writer.commit().await.unwrap();
    let mut verdict = None;
    for _ in 0..200 {
        if meta
            .due_candidates(i64::MAX, 10)
            .await
            .unwrap()
            .contains(&layer)
        {
            verdict = Some(meta.condemn(&layer).await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(verdict, Some(Verdict::Kept));
}

/// The storage numbers' race on PostgreSQL: a writer that has added a
/// reference and holds its scope rows (shared, as `count_added` takes them)
/// makes a remover dropping the scope's other reference wait, so the remover
/// sees the writer's reference and keeps the rows. Without the locks the
/// remover would drop them and the numbers would miss the writer's blob.
#[tokio::test]
async fn a_remover_waits_for_a_writer_holding_the_scope_rows() {
    use cairn_store::Actor;
    let url = fresh_database("scope_race").await;
    let (meta, layer, first) = one_image(&url, "race/app").await;
    let who = Actor::local("test");

    // A writer (plain SQL on its own connection, as put_manifest does it):
    // its reference, then the shared locks on the scope rows it finds.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let mut writer = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO manifest_blobs (repository, manifest, digest) VALUES ('race/app', 'sha256:00', $1)",
    )
    .bind(layer.to_string())
    .execute(&mut *writer)
    .await
    .unwrap();
    let locked: Vec<String> = sqlx::query_scalar(
        "SELECT scope FROM scope_blobs WHERE digest = $1 AND scope IN ('', 'race/', 'race/app')
         ORDER BY scope FOR SHARE",
    )
    .bind(layer.to_string())
    .fetch_all(&mut *writer)
    .await
    .unwrap();
    assert_eq!(locked, ["", "race/", "race/app"]);

    // The remover: the first manifest goes, the repository's only
    // committed reference to the layer.
    let remover = {
        let (meta, who, digest) = (meta.clone(), who.clone(), first.digest.clone());
        tokio::spawn(async move { meta.delete_manifest("race/app", &digest, &[], &who).await })
    };
    // Until it ends or waits for a lock (the state decides, not a delay).
    loop {
        if remover.is_finished() {
            break;
        }
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    writer.commit().await.unwrap();
    assert!(remover.await.unwrap().unwrap());
    for scope in ["", "race/"] {
        let kept = meta.usage_of_prefix(scope).await.unwrap();
        let computed = meta.computed_usage_of_prefix(scope).await.unwrap();
        assert_eq!(kept, computed, "scope {scope:?}");
    }
    assert_eq!(
        meta.usage_of_prefix("race/").await.unwrap().blobs,
        1,
        "the layer"
    );
}

#[tokio::test]
async fn backup_on_postgres() {
    let url = fresh_database("backup").await;
    let restore = fresh_database("restored").await;
    let meta = SqlMetaStore::open(&url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = cairn_store::fs::FsBlobStore::open(dir.path().join("blobs"))
        .await
        .unwrap();
    cairn_store::testing::backup_suite(Arc::new(meta), Arc::new(store), &restore).await;
}

#[tokio::test]
async fn quotas_on_postgres() {
    let url = fresh_database("quotas").await;
    let meta = SqlMetaStore::open(&url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = cairn_store::fs::FsBlobStore::open(dir.path().join("blobs"))
        .await
        .unwrap();
    cairn_store::testing::quota_suite(Arc::new(meta), Arc::new(store)).await;
}

#[tokio::test]
async fn storage_numbers_on_postgres() {
    let url = fresh_database("storage").await;
    let meta = SqlMetaStore::open(&url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = cairn_store::fs::FsBlobStore::open(dir.path().join("blobs"))
        .await
        .unwrap();
    cairn_store::testing::storage_suite(Arc::new(meta), Arc::new(store)).await;
}

#[tokio::test]
async fn version_retention_on_postgres() {
    let url = fresh_database("version_retention").await;
    let meta = SqlMetaStore::open(&url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = cairn_store::fs::FsBlobStore::open(dir.path().join("blobs"))
        .await
        .unwrap();
    cairn_store::testing::version_retention_suite(Arc::new(meta), Arc::new(store)).await;
}

#[tokio::test]
async fn sboms_on_postgres() {
    let url = fresh_database("sboms").await;
    let meta = SqlMetaStore::open(&url).await.unwrap();
    cairn_store::testing::sbom_suite(Arc::new(meta)).await;
}

#[tokio::test]
async fn sumdb_on_postgres() {
    let url = fresh_database("sumdb").await;
    let meta = SqlMetaStore::open(&url).await.unwrap();
    cairn_store::testing::sumdb_suite(Arc::new(meta)).await;
}

#[tokio::test]
async fn signatures_on_postgres() {
    let url = fresh_database("signatures").await;
    let meta = SqlMetaStore::open(&url).await.unwrap();
    cairn_store::testing::signature_suite(Arc::new(meta)).await;
}

#[tokio::test]
async fn attestations_on_postgres() {
    let url = fresh_database("attestations").await;
    let meta = SqlMetaStore::open(&url).await.unwrap();
    cairn_store::testing::attestation_suite(Arc::new(meta)).await;
}

#[tokio::test]
async fn advisories_on_postgres() {
    let url = fresh_database("advisories").await;
    let meta = SqlMetaStore::open(&url).await.unwrap();
    cairn_store::testing::advisory_suite(Arc::new(meta)).await;
}
