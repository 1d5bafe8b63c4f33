//! The proxy cache's SQL.

use super::gc::{claim, mark_candidates, Claim};
use super::usage::{count_added, count_removed};
use super::{digest, SqlMetaStore};
use crate::proxy::{CachedEntry, ProxiedVersion, ProxyStore};
use crate::StoreError;
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

fn entry_from_row(row: &AnyRow) -> Result<CachedEntry, StoreError> {
    let d: Option<String> = row.try_get("digest")?;
    Ok(CachedEntry {
        repository: row.try_get("repository")?,
        key: row.try_get("cache_key")?,
        status: row.try_get::<i64, _>("status")? as u16,
        digest: d.as_deref().map(digest).transpose()?,
        size: row.try_get::<i64, _>("size")?.max(0) as u64,
        content_type: row.try_get("content_type")?,
        etag: row.try_get("etag")?,
        last_modified: row.try_get("last_modified")?,
        fetched_at: row.try_get("fetched_at")?,
        checked_at: row.try_get("checked_at")?,
    })
}

/// The first-seen times recorded for `key`.
async fn seen_versions(
    pool: &sqlx::AnyPool,
    repository: &str,
    key: &str,
) -> Result<std::collections::HashMap<String, i64>, StoreError> {
    let rows = sqlx::query(
        "SELECT version, seen_at FROM proxy_versions_seen WHERE repository = $1 AND cache_key = $2",
    )
    .bind(repository)
    .bind(key)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("version")?, r.try_get("seen_at")?)))
        .collect()
}

#[async_trait]
impl ProxyStore for SqlMetaStore {
    async fn cached(&self, repository: &str, key: &str) -> Result<Option<CachedEntry>, StoreError> {
        let row = sqlx::query("SELECT * FROM proxy_cache WHERE repository = $1 AND cache_key = $2")
            .bind(repository)
            .bind(key)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(entry_from_row).transpose()
    }

    async fn put_cached(&self, e: &CachedEntry) -> Result<(), StoreError> {
        let digest = e.digest.as_ref().map(|d| d.to_string());
        let mut tx = self.writer.begin().await?;
        let previous: Option<Option<String>> = sqlx::query_scalar(
            "SELECT digest FROM proxy_cache WHERE repository = $1 AND cache_key = $2",
        )
        .bind(&e.repository)
        .bind(&e.key)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO proxy_cache (repository, cache_key, status, digest, size, content_type,
                 etag, last_modified, fetched_at, checked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (repository, cache_key) DO UPDATE SET
                 status = excluded.status,
                 fetched_at = CASE WHEN proxy_cache.digest = excluded.digest
                     THEN proxy_cache.fetched_at ELSE excluded.fetched_at END,
                 digest = excluded.digest,
                 size = excluded.size,
                 content_type = excluded.content_type,
                 etag = excluded.etag,
                 last_modified = excluded.last_modified,
                 checked_at = excluded.checked_at",
        )
        .bind(&e.repository)
        .bind(&e.key)
        .bind(i64::from(e.status))
        .bind(&digest)
        .bind(e.size as i64)
        .bind(&e.content_type)
        .bind(&e.etag)
        .bind(&e.last_modified)
        .bind(e.fetched_at)
        .bind(e.checked_at)
        .execute(&mut *tx)
        .await?;
        // Blob rows in digest order, as everywhere: claiming the new bytes
        // and marking the old ones lock two rows.
        let old = previous
            .flatten()
            .filter(|old| Some(old) != digest.as_ref());
        let mark_first = matches!((&old, &digest), (Some(o), Some(d)) if o < d);
        if mark_first {
            mark_candidates(&mut tx, old.as_slice()).await?;
        }
        let mut sizes = Default::default();
        if let Some(d) = &digest {
            sizes = claim(
                &mut tx,
                self.shared_pool,
                std::slice::from_ref(d),
                Claim::Reference,
            )
            .await?;
        }
        if !mark_first {
            mark_candidates(&mut tx, old.as_slice()).await?;
        }
        // Proxy caches are counted, not limited: a quota never breaks a
        // pull. Scope rows in digest order too, as above.
        if mark_first {
            count_removed(&mut tx, self.shared_pool, &e.repository, old.as_slice()).await?;
        }
        count_added(&mut tx, self.shared_pool, &e.repository, &sizes, false).await?;
        if !mark_first {
            count_removed(&mut tx, self.shared_pool, &e.repository, old.as_slice()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn revalidated(
        &self,
        repository: &str,
        key: &str,
        checked_at: i64,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE proxy_cache SET checked_at = $3,
                 etag = COALESCE($4, etag), last_modified = COALESCE($5, last_modified)
             WHERE repository = $1 AND cache_key = $2",
        )
        .bind(repository)
        .bind(key)
        .bind(checked_at)
        .bind(etag)
        .bind(last_modified)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn drop_cached(&self, repository: &str, key: &str) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let previous: Option<Option<String>> = sqlx::query_scalar(
            "SELECT digest FROM proxy_cache WHERE repository = $1 AND cache_key = $2",
        )
        .bind(repository)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM proxy_cache WHERE repository = $1 AND cache_key = $2")
            .bind(repository)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        super::sbom::forget_cache_entry(&mut tx, repository, key).await?;
        sqlx::query("DELETE FROM proxied_versions WHERE cache_repository = $1 AND cache_key = $2")
            .bind(repository)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        if let Some(old) = previous.flatten() {
            mark_candidates(&mut tx, std::slice::from_ref(&old)).await?;
            count_removed(&mut tx, self.shared_pool, repository, &[old]).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn note_proxied_version(
        &self,
        repository: &str,
        key: &str,
        v: &ProxiedVersion,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO proxied_versions
               (cache_repository, cache_key, format, repository, package, version)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (cache_repository, cache_key) DO UPDATE SET
               format = excluded.format, repository = excluded.repository,
               package = excluded.package, version = excluded.version",
        )
        .bind(repository)
        .bind(key)
        .bind(&v.format)
        .bind(&v.repository)
        .bind(&v.package)
        .bind(&v.version)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn note_cached_use(&self, repository: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE proxy_cache SET used_at = $3 WHERE repository = $1 AND cache_key = $2")
            .bind(repository)
            .bind(key)
            .bind(crate::now())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn idle_cached(
        &self,
        repository: &str,
        before: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT cache_key FROM proxy_cache
             WHERE repository = $1 AND COALESCE(used_at, fetched_at) < $2
             ORDER BY COALESCE(used_at, fetched_at), cache_key LIMIT $3",
        )
        .bind(repository)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?)
    }

    async fn list_cached(
        &self,
        repository: &str,
        prefix: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<CachedEntry>, StoreError> {
        // A prefix range rather than LIKE, so no key character is special.
        let rows = sqlx::query(
            "SELECT * FROM proxy_cache
             WHERE repository = $1 AND cache_key > $2 AND cache_key >= $3
               AND substr(cache_key, 1, CAST($4 AS INTEGER)) = $3
             ORDER BY cache_key LIMIT $5",
        )
        .bind(repository)
        .bind(after)
        .bind(prefix)
        .bind(prefix.chars().count() as i64)
        .bind(i64::from(limit.max(1)))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    fn shared_by_replicas(&self) -> bool {
        // SQLite is the embedded, one-process store; PostgreSQL is shared.
        self.shared_pool
    }

    async fn lease_fill(
        &self,
        repository: &str,
        key: &str,
        owner: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO proxy_fills (repository, cache_key, owner, expires_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (repository, cache_key) DO UPDATE SET
                 owner = excluded.owner, expires_at = excluded.expires_at
             WHERE proxy_fills.expires_at < $5 OR proxy_fills.owner = excluded.owner",
        )
        .bind(repository)
        .bind(key)
        .bind(owner)
        .bind(expires_at_ms)
        .bind(now_ms)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn fill_holder(
        &self,
        repository: &str,
        key: &str,
        now_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT owner FROM proxy_fills
             WHERE repository = $1 AND cache_key = $2 AND expires_at >= $3",
        )
        .bind(repository)
        .bind(key)
        .bind(now_ms)
        .fetch_optional(&self.writer)
        .await?)
    }

    async fn release_fill(
        &self,
        repository: &str,
        key: &str,
        owner: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM proxy_fills WHERE repository = $1 AND cache_key = $2 AND owner = $3",
        )
        .bind(repository)
        .bind(key)
        .bind(owner)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn cached_usage(&self, repository: &str) -> Result<(u64, u64), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes
             FROM proxy_cache WHERE repository = $1 AND status = 200",
        )
        .bind(repository)
        .fetch_one(&self.reader)
        .await?;
        let count =
            |c: &str| -> Result<u64, StoreError> { Ok(row.try_get::<i64, _>(c)?.max(0) as u64) };
        Ok((count("n")?, count("bytes")?))
    }

    async fn versions_seen(
        &self,
        repository: &str,
        key: &str,
        versions: &[String],
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let mut seen = seen_versions(&self.reader, repository, key).await?;
        let missing: Vec<&String> = versions.iter().filter(|v| !seen.contains_key(*v)).collect();
        if !missing.is_empty() {
            let at = if seen.is_empty() { 0 } else { now };
            let mut tx = self.writer.begin().await?;
            for v in missing {
                sqlx::query(
                    "INSERT INTO proxy_versions_seen (repository, cache_key, version, seen_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(repository)
                .bind(key)
                .bind(v)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            // Another replica may have recorded some first: its times stand.
            seen = seen_versions(&self.writer, repository, key).await?;
        }
        Ok(versions
            .iter()
            .map(|v| seen.get(v).copied().unwrap_or(now))
            .collect())
    }
}
