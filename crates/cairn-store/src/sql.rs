//! The SQL metadata store, for SQLite (the embedded default) and PostgreSQL.
//!
//! All SQL lives in this file and its child `packages`, written once in the dialect both engines share
//! (`$N` placeholders, `ON CONFLICT`, `BIGINT`) and run through sqlx's `Any`
//! driver; only the schema migrations differ per engine
//! (`migrations/sqlite`, `migrations/postgres`).
//!
//! Rules that guard a write (tag immutability) are checked in the write's
//! transaction, and the write itself is a compare-and-swap on the value that
//! was checked: if a concurrent writer changed the row in between, the
//! statement touches nothing and the check runs again. That keeps the rule
//! race-free on PostgreSQL's READ COMMITTED as well as on SQLite, where a
//! single-connection writer pool serialises writers anyway.
//!
//! The package store's SQL is in the child module `packages`.

mod packages;

use crate::meta::{
    now, Actor, AuditFilter, AuditRecord, ManifestRecord, MetaStore, PublisherRecord, StoreError,
    TagChange, TokenRecord, UserRecord,
};
use async_trait::async_trait;
use cairn_core::policy::{check_tag_change, TagRule};
use cairn_core::Digest;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Executor, Row};
use std::str::FromStr;
use std::time::Duration;

pub struct SqlMetaStore {
    reader: AnyPool,
    writer: AnyPool,
    /// Package changes this process has committed ([`PackageStore::local_package_changes`]).
    package_changes: std::sync::atomic::AtomicU64,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(format!("migration failed: {e}"))
    }
}

fn digest(s: &str) -> Result<Digest, StoreError> {
    Digest::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn manifest_from_row(row: &AnyRow) -> Result<ManifestRecord, StoreError> {
    let subject: Option<String> = row.try_get("subject")?;
    Ok(ManifestRecord {
        repository: row.try_get("repository")?,
        digest: digest(row.try_get("digest")?)?,
        media_type: row.try_get("media_type")?,
        size: row.try_get::<i64, _>("size")? as u64,
        subject: subject.as_deref().map(digest).transpose()?,
        artifact_type: row.try_get("artifact_type")?,
        annotations: row.try_get("annotations")?,
    })
}

fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).expect("a list of strings")
}

fn json_list(text: String) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(&text)
        .map_err(|e| StoreError::Corrupt(format!("grant list {text:?}: {e}")))
}

fn token_from_row(row: &AnyRow) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        id: row.try_get("id")?,
        user: row.try_get("user_name")?,
        description: row.try_get("description")?,
        secret_hash: row.try_get("secret_hash")?,
        scopes: json_list(row.try_get("scopes")?)?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// The outcome of a change that was made.
const OK: &str = "ok";

/// Appends an audit entry inside the caller's transaction.
async fn audit(
    tx: &mut AnyConnection,
    actor: &Actor,
    action: &str,
    repository: Option<&str>,
    artifact: Option<&str>,
    outcome: &str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    let entry = AuditRecord {
        detail: detail.map(str::to_string),
        ..AuditRecord::by(actor, action, repository, artifact, outcome)
    };
    insert_audit(&mut *tx, &entry).await
}

async fn insert_audit<'e, E>(conn: E, e: &AuditRecord) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO audit_log (at, actor, credential, source, action, repository, artifact, outcome, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(if e.at > 0 { e.at } else { now() })
    .bind(&e.actor)
    .bind(&e.credential)
    .bind(&e.source)
    .bind(&e.action)
    .bind(&e.repository)
    .bind(&e.artifact)
    .bind(&e.outcome)
    .bind(&e.detail)
    .execute(conn)
    .await?;
    Ok(())
}

fn audit_from_row(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        credential: row.try_get("credential")?,
        source: row.try_get("source")?,
        action: row.try_get("action")?,
        repository: row.try_get("repository")?,
        artifact: row.try_get("artifact")?,
        outcome: row.try_get("outcome")?,
        detail: row.try_get("detail")?,
    })
}

impl SqlMetaStore {
    /// Records a change the rules refused; nothing else of the request was kept.
    async fn audit_refusal(
        &self,
        actor: &Actor,
        action: &str,
        repository: &str,
        artifact: &str,
        why: &StoreError,
    ) -> Result<(), StoreError> {
        let outcome = format!("denied: {why}");
        let entry = AuditRecord::by(actor, action, Some(repository), Some(artifact), &outcome);
        insert_audit(&self.writer, &entry).await
    }
}

/// Adds a query parameter to a database URL.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

impl SqlMetaStore {
    /// Opens the database at `url` (`sqlite://PATH` or `postgres://...`),
    /// creating a SQLite file if needed, and applies the migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        if url.starts_with("sqlite:") {
            Self::open_sqlite(url).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::open_postgres(url).await
        } else {
            Err(StoreError::Database(format!(
                "unsupported database URL {url:?}: use sqlite://PATH or postgres://..."
            )))
        }
    }

    async fn open_sqlite(url: &str) -> Result<Self, StoreError> {
        let pragmas = |pool: AnyPoolOptions| {
            pool.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers run beside the writer; FULL puts a
                    // commit on disk before it is acknowledged.
                    conn.execute("PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL;")
                        .await
                        .map(|_| ())
                })
            })
        };
        let writer = pragmas(AnyPoolOptions::new().max_connections(1))
            .connect(&with_param(url, "mode=rwc"))
            .await?;
        writer.execute("PRAGMA journal_mode = WAL").await?;
        sqlx::migrate!("migrations/sqlite").run(&writer).await?;
        let reader = pragmas(AnyPoolOptions::new().max_connections(8))
            .connect(&with_param(url, "mode=ro"))
            .await?;
        Ok(SqlMetaStore {
            reader,
            writer,
            package_changes: Default::default(),
        })
    }

    async fn open_postgres(url: &str) -> Result<Self, StoreError> {
        // One direct connection first: its error says why (refused, auth,
        // unknown database) where a pool would only report a timeout.
        sqlx::Connection::close(<AnyConnection as sqlx::Connection>::connect(url).await?).await?;
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(SqlMetaStore {
            reader: pool.clone(),
            writer: pool,
            package_changes: Default::default(),
        })
    }
}

async fn ensure_repository(tx: &mut AnyConnection, repository: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO repositories (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(repository)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn current_tag(
    tx: &mut AnyConnection,
    repository: &str,
    tag: &str,
) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT digest FROM tags WHERE repository = $1 AND tag = $2")
            .bind(repository)
            .bind(tag)
            .fetch_optional(&mut *tx)
            .await?,
    )
}

/// Points `tag` at `new` if the rules allow it, as a compare-and-swap on the
/// value the rules were checked against; retried if a concurrent writer got
/// there first (the retry sees the committed value and checks it).
async fn set_tag(
    tx: &mut AnyConnection,
    rules: &[TagRule],
    repo: &str,
    tag: &str,
    new: &str,
) -> Result<TagChange, StoreError> {
    loop {
        let current = current_tag(tx, repo, tag).await?;
        check_tag_change(rules, repo, tag, current.as_deref(), Some(new))?;
        let swapped = match &current {
            Some(c) if c == new => return Ok(TagChange::Unchanged),
            None => sqlx::query(
                "INSERT INTO tags (repository, tag, digest, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (repository, tag) DO NOTHING",
            )
            .bind(repo)
            .bind(tag)
            .bind(new)
            .bind(now())
            .execute(&mut *tx)
            .await?,
            Some(c) => sqlx::query(
                "UPDATE tags SET digest = $1, updated_at = $2 WHERE repository = $3 AND tag = $4 AND digest = $5",
            )
            .bind(new)
            .bind(now())
            .bind(repo)
            .bind(tag)
            .bind(c)
            .execute(&mut *tx)
            .await?,
        };
        if swapped.rows_affected() == 1 {
            return Ok(match current {
                None => TagChange::Created,
                Some(c) => TagChange::Moved { from: digest(&c)? },
            });
        }
    }
}

#[async_trait]
impl MetaStore for SqlMetaStore {
    async fn link_blob(
        &self,
        repository: &str,
        digest: &Digest,
        size: u64,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        ensure_repository(&mut tx, repository).await?;
        let added = sqlx::query(
            "INSERT INTO blob_links (repository, digest, size, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (repository, digest) DO NOTHING",
        )
        .bind(repository)
        .bind(digest.to_string())
        .bind(size as i64)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if added.rows_affected() > 0 {
            let d = digest.to_string();
            audit(
                &mut tx,
                actor,
                "blob.push",
                Some(repository),
                Some(&d),
                OK,
                None,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn linked_blob(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<Option<u64>, StoreError> {
        let size: Option<i64> =
            sqlx::query_scalar("SELECT size FROM blob_links WHERE repository = $1 AND digest = $2")
                .bind(repository)
                .bind(digest.to_string())
                .fetch_optional(&self.reader)
                .await?;
        Ok(size.map(|s| s as u64))
    }

    async fn blob_holders(
        &self,
        digest: &Digest,
        limit: u32,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT repository, size FROM blob_links WHERE digest = $1 ORDER BY repository LIMIT $2",
        )
        .bind(digest.to_string())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("repository")?,
                    r.try_get::<i64, _>("size")? as u64,
                ))
            })
            .collect()
    }

    async fn unlink_blob(
        &self,
        repository: &str,
        digest: &Digest,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let d = digest.to_string();
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("DELETE FROM blob_links WHERE repository = $1 AND digest = $2")
            .bind(repository)
            .bind(&d)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            audit(
                &mut tx,
                actor,
                "blob.delete",
                Some(repository),
                Some(&d),
                OK,
                None,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_manifest(
        &self,
        record: &ManifestRecord,
        tags: &[String],
        rules: &[TagRule],
        actor: &Actor,
    ) -> Result<Vec<TagChange>, StoreError> {
        let repo = record.repository.as_str();
        let new = record.digest.to_string();
        let mut tx = self.writer.begin().await?;
        ensure_repository(&mut tx, repo).await?;
        // An upsert, not DO NOTHING: it locks an existing row, which
        // serialises this with a concurrent delete_manifest of the same digest.
        sqlx::query(
            "INSERT INTO manifests (repository, digest, media_type, size, subject, artifact_type, annotations, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (repository, digest) DO UPDATE SET size = excluded.size",
        )
        .bind(repo)
        .bind(&new)
        .bind(&record.media_type)
        .bind(record.size as i64)
        .bind(record.subject.as_ref().map(|d| d.to_string()))
        .bind(&record.artifact_type)
        .bind(&record.annotations)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            actor,
            "manifest.put",
            Some(repo),
            Some(&new),
            OK,
            None,
        )
        .await?;
        let mut changes = Vec::with_capacity(tags.len());
        for tag in tags {
            let change = match set_tag(&mut tx, rules, repo, tag, &new).await {
                Ok(change) => change,
                Err(e) => {
                    drop(tx); // nothing of this request is kept
                    self.audit_refusal(actor, "manifest.put", repo, &new, &e)
                        .await?;
                    return Err(e);
                }
            };
            let artifact = format!("{tag} -> {new}");
            match &change {
                TagChange::Created => {
                    audit(
                        &mut tx,
                        actor,
                        "tag.create",
                        Some(repo),
                        Some(&artifact),
                        OK,
                        None,
                    )
                    .await?
                }
                TagChange::Moved { from } => {
                    let was = format!("was {from}");
                    audit(
                        &mut tx,
                        actor,
                        "tag.move",
                        Some(repo),
                        Some(&artifact),
                        OK,
                        Some(&was),
                    )
                    .await?
                }
                TagChange::Unchanged => {}
            }
            changes.push(change);
        }
        tx.commit().await?;
        Ok(changes)
    }

    async fn manifest(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<Option<ManifestRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM manifests WHERE repository = $1 AND digest = $2")
            .bind(repository)
            .bind(digest.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(manifest_from_row).transpose()
    }

    async fn resolve_tag(&self, repository: &str, tag: &str) -> Result<Option<Digest>, StoreError> {
        let d: Option<String> =
            sqlx::query_scalar("SELECT digest FROM tags WHERE repository = $1 AND tag = $2")
                .bind(repository)
                .bind(tag)
                .fetch_optional(&self.reader)
                .await?;
        d.as_deref().map(digest).transpose()
    }

    async fn tagged_manifest(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Option<ManifestRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT m.* FROM tags t JOIN manifests m ON m.repository = t.repository AND m.digest = t.digest
             WHERE t.repository = $1 AND t.tag = $2",
        )
        .bind(repository)
        .bind(tag)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(manifest_from_row).transpose()
    }

    async fn delete_manifest(
        &self,
        repository: &str,
        digest: &Digest,
        rules: &[TagRule],
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let d = digest.to_string();
        let mut tx = self.writer.begin().await?;
        // Lock the manifest's row (a no-op update), as put_manifest does with
        // its upsert: a concurrent tagging of this manifest and this delete
        // then run one after the other, so no tag is left on a deleted one.
        sqlx::query("UPDATE manifests SET size = size WHERE repository = $1 AND digest = $2")
            .bind(repository)
            .bind(&d)
            .execute(&mut *tx)
            .await?;
        let tags: Vec<String> =
            sqlx::query_scalar("SELECT tag FROM tags WHERE repository = $1 AND digest = $2")
                .bind(repository)
                .bind(&d)
                .fetch_all(&mut *tx)
                .await?;
        for tag in &tags {
            if let Err(e) = check_tag_change(rules, repository, tag, Some(&d), None) {
                drop(tx);
                let e = StoreError::from(e);
                self.audit_refusal(actor, "manifest.delete", repository, &d, &e)
                    .await?;
                return Err(e);
            }
        }
        sqlx::query("DELETE FROM tags WHERE repository = $1 AND digest = $2")
            .bind(repository)
            .bind(&d)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM manifests WHERE repository = $1 AND digest = $2")
            .bind(repository)
            .bind(&d)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            let detail = (!tags.is_empty()).then(|| format!("untagged {}", tags.join(", ")));
            audit(
                &mut tx,
                actor,
                "manifest.delete",
                Some(repository),
                Some(&d),
                OK,
                detail.as_deref(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_tag(
        &self,
        repository: &str,
        tag: &str,
        rules: &[TagRule],
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let Some(current) = current_tag(&mut tx, repository, tag).await? else {
            return Ok(false);
        };
        let artifact = format!("{tag} -> {current}");
        if let Err(e) = check_tag_change(rules, repository, tag, Some(&current), None) {
            drop(tx);
            let e = StoreError::from(e);
            self.audit_refusal(actor, "tag.delete", repository, &artifact, &e)
                .await?;
            return Err(e);
        }
        // Compare-and-swap: delete only the value that was checked.
        let done =
            sqlx::query("DELETE FROM tags WHERE repository = $1 AND tag = $2 AND digest = $3")
                .bind(repository)
                .bind(tag)
                .bind(&current)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            // Moved concurrently since the check: decide again on the new value.
            drop(tx);
            return Box::pin(self.delete_tag(repository, tag, rules, actor)).await;
        }
        audit(
            &mut tx,
            actor,
            "tag.delete",
            Some(repository),
            Some(&artifact),
            OK,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn list_tags(
        &self,
        repository: &str,
        last: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT tag FROM tags WHERE repository = $1 AND tag > $2 ORDER BY tag LIMIT $3",
        )
        .bind(repository)
        .bind(last.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn repository_exists(&self, repository: &str) -> Result<bool, StoreError> {
        let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM repositories WHERE name = $1")
            .bind(repository)
            .fetch_one(&self.reader)
            .await?;
        Ok(found > 0)
    }

    async fn list_repositories(
        &self,
        last: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT $2",
        )
        .bind(last.unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn referrers(
        &self,
        repository: &str,
        subject: &Digest,
    ) -> Result<Vec<ManifestRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM manifests WHERE repository = $1 AND subject = $2 ORDER BY digest",
        )
        .bind(repository)
        .bind(subject.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(manifest_from_row).collect()
    }

    async fn create_upload(&self, id: &str, repository: &str) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        ensure_repository(&mut tx, repository).await?;
        sqlx::query("INSERT INTO uploads (id, repository, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(repository)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn upload_repository(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT repository FROM uploads WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn delete_upload(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query("SELECT name, secret_hash, grants FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| {
            Ok(UserRecord {
                name: r.try_get("name")?,
                secret_hash: r.try_get("secret_hash")?,
                grants: json_list(r.try_get("grants")?)?,
            })
        })
        .transpose()
    }

    async fn put_user(
        &self,
        name: &str,
        secret_hash: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO users (name, secret_hash, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET secret_hash = excluded.secret_hash",
        )
        .bind(name)
        .bind(secret_hash)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            actor,
            "user.credential",
            None,
            Some(name),
            OK,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_user_grants(
        &self,
        name: &str,
        grants: &[String],
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("UPDATE users SET grants = $1 WHERE name = $2")
            .bind(to_json(grants))
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            let detail = to_json(grants);
            audit(
                &mut tx,
                actor,
                "user.grants",
                None,
                Some(name),
                OK,
                Some(&detail),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_group(
        &self,
        name: &str,
        grants: &[String],
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO groups (name, grants, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET grants = excluded.grants",
        )
        .bind(name)
        .bind(to_json(grants))
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let detail = to_json(grants);
        audit(
            &mut tx,
            actor,
            "group.grants",
            None,
            Some(name),
            OK,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_group_member(
        &self,
        group: &str,
        user: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO group_members (group_name, user_name) VALUES ($1, $2)
             ON CONFLICT (group_name, user_name) DO NOTHING",
        )
        .bind(group)
        .bind(user)
        .execute(&mut *tx)
        .await?;
        let artifact = format!("{user} in {group}");
        audit(
            &mut tx,
            actor,
            "group.member",
            None,
            Some(&artifact),
            OK,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn group_grants_of(&self, user: &str) -> Result<Vec<String>, StoreError> {
        let lists: Vec<String> = sqlx::query_scalar(
            "SELECT g.grants FROM groups g JOIN group_members m ON m.group_name = g.name
             WHERE m.user_name = $1 ORDER BY g.name",
        )
        .bind(user)
        .fetch_all(&self.reader)
        .await?;
        let mut all = Vec::new();
        for list in lists {
            all.extend(json_list(list)?);
        }
        Ok(all)
    }

    async fn create_token(&self, t: &TokenRecord, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, user_name, description, secret_hash, scopes, created_at, expires_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&t.id)
        .bind(&t.user)
        .bind(&t.description)
        .bind(&t.secret_hash)
        .bind(to_json(&t.scopes))
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(t.revoked_at)
        .execute(&mut *tx)
        .await?;
        let detail = format!("for {}: {}", t.user, t.scopes.join(" "));
        audit(
            &mut tx,
            actor,
            "token.create",
            None,
            Some(&t.id),
            OK,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM api_tokens WHERE secret_hash = $1")
            .bind(secret_hash)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn list_tokens(&self, user: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        let rows =
            match user {
                Some(u) => sqlx::query(
                    "SELECT * FROM api_tokens WHERE user_name = $1 ORDER BY created_at DESC, id",
                )
                .bind(u)
                .fetch_all(&self.reader)
                .await?,
                None => {
                    sqlx::query("SELECT * FROM api_tokens ORDER BY created_at DESC, id")
                        .fetch_all(&self.reader)
                        .await?
                }
            };
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_token(&self, id: &str, at: i64, actor: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            audit(&mut tx, actor, "token.revoke", None, Some(id), OK, None).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_publisher(&self, p: &PublisherRecord, actor: &Actor) -> Result<(), StoreError> {
        let claims = serde_json::to_string(&p.claims).expect("a string map");
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO trusted_publishers
             (id, repository, issuer, audience, claims, created_at, package)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&p.id)
        .bind(&p.repository)
        .bind(&p.issuer)
        .bind(&p.audience)
        .bind(&claims)
        .bind(now())
        .bind(&p.package)
        .execute(&mut *tx)
        .await?;
        let package = p.package.as_deref().unwrap_or("*");
        let detail = format!("{} aud={} package={package} {claims}", p.issuer, p.audience);
        audit(
            &mut tx,
            actor,
            "publisher.add",
            Some(&p.repository),
            Some(&p.id),
            OK,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn publishers(&self, repository: &str) -> Result<Vec<PublisherRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM trusted_publishers WHERE repository = $1 ORDER BY id")
                .bind(repository)
                .fetch_all(&self.reader)
                .await?;
        rows.iter().map(publisher_of_row).collect()
    }

    async fn all_publishers(&self) -> Result<Vec<PublisherRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM trusted_publishers ORDER BY repository, id")
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(publisher_of_row).collect()
    }

    async fn claim_jti(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        // Forget ids whose tokens have expired anyway.
        sqlx::query("DELETE FROM oidc_seen_jti WHERE expires_at < $1")
            .bind(now() - 3600)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "INSERT INTO oidc_seen_jti (issuer, jti, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (issuer, jti) DO NOTHING",
        )
        .bind(issuer)
        .bind(jti)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn append_audit(&self, e: &AuditRecord) -> Result<(), StoreError> {
        insert_audit(&self.writer, e).await
    }

    async fn audit_log(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        // Unset filters compare a column with itself, which keeps the SQL one
        // statement for both engines (NULL columns use COALESCE).
        let rows = sqlx::query(
            "SELECT * FROM audit_log
             WHERE ($1 IS NULL OR actor = $1)
               AND ($2 IS NULL OR repository = $2)
               AND ($3 IS NULL OR action = $3)
               AND id < $4
             ORDER BY id DESC LIMIT $5",
        )
        .bind(&f.actor)
        .bind(&f.repository)
        .bind(&f.action)
        .bind(f.before_id.unwrap_or(i64::MAX))
        .bind(i64::from(f.limit.max(1)))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String, StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await?;
        let stored: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }
}

fn publisher_of_row(r: &AnyRow) -> Result<PublisherRecord, StoreError> {
    let claims: String = r.try_get("claims")?;
    Ok(PublisherRecord {
        id: r.try_get("id")?,
        repository: r.try_get("repository")?,
        package: r.try_get("package")?,
        issuer: r.try_get("issuer")?,
        audience: r.try_get("audience")?,
        claims: serde_json::from_str(&claims)
            .map_err(|e| StoreError::Corrupt(format!("publisher claims: {e}")))?,
    })
}
