//! The OCI aggregate's SQL: blob links, manifests, tags, referrers, uploads.

use super::gc::{claim, mark_candidates, record_manifest_refs, Claim};
use super::usage::{count_added, count_removed, room_for};
use super::{audit, digest, now, SqlMetaStore, OK};
use crate::{Actor, ManifestRecord, OciStore, StoreError, TagChange};
use async_trait::async_trait;
use cairn_core::policy::{check_tag_change, TagRule};
use cairn_core::Digest;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

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
impl OciStore for SqlMetaStore {
    async fn link_blob(
        &self,
        repository: &str,
        digest: &Digest,
        size: u64,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        if let Err(e) = room_for(&self.reader, repository, &digest.to_string(), size).await {
            let e = StoreError::Quota(e);
            self.audit_refusal(actor, "blob.push", repository, &digest.to_string(), &e)
                .await?;
            return Err(e);
        }
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
        claim(
            &mut tx,
            self.shared_pool,
            &[digest.to_string()],
            Claim::Link,
        )
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
            mark_candidates(&mut tx, std::slice::from_ref(&d)).await?;
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
        references: &[Digest],
        stored: &[Digest],
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
        let refs: Vec<String> = references.iter().map(Digest::to_string).collect();
        record_manifest_refs(&mut tx, repo, &new, &refs).await?;
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
        // Last, after every row this write takes (manifest, tags): blob
        // rows are locked after tag rows everywhere, as delete_manifest does.
        let mut named: Vec<String> = stored.iter().map(Digest::to_string).collect();
        named.push(new.clone());
        let sizes = claim(&mut tx, self.shared_pool, &named, Claim::Reference).await?;
        if let Err(e) = count_added(&mut tx, self.shared_pool, repo, &sizes, true).await {
            drop(tx);
            if matches!(e, StoreError::Quota(_)) {
                self.audit_refusal(actor, "manifest.put", repo, &new, &e)
                    .await?;
            }
            return Err(e);
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
        self.remove_manifest(repository, digest, rules, actor, false)
            .await
    }

    async fn delete_untagged_manifest(
        &self,
        repository: &str,
        digest: &Digest,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        self.remove_manifest(repository, digest, &[], actor, true)
            .await
    }

    async fn delete_tag_at(
        &self,
        repository: &str,
        tag: &str,
        digest: &Digest,
        rules: &[TagRule],
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let d = digest.to_string();
        let artifact = format!("{tag} -> {d}");
        if let Err(e) = check_tag_change(rules, repository, tag, Some(&d), None) {
            let e = StoreError::from(e);
            self.audit_refusal(actor, "tag.delete", repository, &artifact, &e)
                .await?;
            return Err(e);
        }
        let mut tx = self.writer.begin().await?;
        let done =
            sqlx::query("DELETE FROM tags WHERE repository = $1 AND tag = $2 AND digest = $3")
                .bind(repository)
                .bind(tag)
                .bind(&d)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() > 0 {
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
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn inventory(
        &self,
        repository: &str,
    ) -> Result<cairn_core::retention::Inventory, StoreError> {
        use cairn_core::retention::{Inventory, ManifestFact, TagFact};
        let tags = sqlx::query("SELECT tag, digest, updated_at FROM tags WHERE repository = $1")
            .bind(repository)
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(|r| {
                Ok(TagFact {
                    tag: r.try_get("tag")?,
                    digest: r.try_get("digest")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // An index's children: its references that are manifests here.
        let mut children: std::collections::HashMap<String, Vec<String>> = Default::default();
        for r in sqlx::query(
            "SELECT r.manifest AS manifest, r.digest AS digest FROM manifest_blobs r
             JOIN manifests m ON m.repository = r.repository AND m.digest = r.digest
             WHERE r.repository = $1",
        )
        .bind(repository)
        .fetch_all(&self.reader)
        .await?
        {
            children
                .entry(r.try_get("manifest")?)
                .or_default()
                .push(r.try_get("digest")?);
        }
        let manifests = sqlx::query(
            "SELECT digest, created_at, pulled_at, subject FROM manifests WHERE repository = $1",
        )
        .bind(repository)
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(|r| {
            let digest: String = r.try_get("digest")?;
            Ok(ManifestFact {
                children: children.remove(&digest).unwrap_or_default(),
                digest,
                created_at: r.try_get("created_at")?,
                pulled_at: r.try_get("pulled_at")?,
                subject: r.try_get("subject")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Inventory { tags, manifests })
    }

    async fn manifest_times(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<Option<(i64, Option<i64>)>, StoreError> {
        let row = sqlx::query(
            "SELECT created_at, pulled_at FROM manifests WHERE repository = $1 AND digest = $2",
        )
        .bind(repository)
        .bind(digest.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| Ok((r.try_get("created_at")?, r.try_get("pulled_at")?)))
            .transpose()
    }

    async fn note_pull(&self, repository: &str, digest: &Digest) -> Result<(), StoreError> {
        sqlx::query("UPDATE manifests SET pulled_at = $3 WHERE repository = $1 AND digest = $2")
            .bind(repository)
            .bind(digest.to_string())
            .bind(now())
            .execute(&self.writer)
            .await?;
        Ok(())
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
        sqlx::query(
            "INSERT INTO uploads (id, repository, created_at, touched_at) VALUES ($1, $2, $3, $3)",
        )
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
}

impl SqlMetaStore {
    /// Deletes a manifest with its tags (`only_untagged`: only if it has none).
    async fn remove_manifest(
        &self,
        repository: &str,
        digest: &Digest,
        rules: &[TagRule],
        actor: &Actor,
        only_untagged: bool,
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
        if only_untagged && !tags.is_empty() {
            return Ok(false);
        }
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
        let mut freed: Vec<String> = sqlx::query_scalar(
            "SELECT digest FROM manifest_blobs WHERE repository = $1 AND manifest = $2",
        )
        .bind(repository)
        .bind(&d)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM manifest_blobs WHERE repository = $1 AND manifest = $2")
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
            freed.push(d.clone());
            super::sbom::forget_oci_source(&mut tx, repository, &d).await?;
            super::signature::forget_signature(&mut tx, repository, &d).await?;
            mark_candidates(&mut tx, &freed).await?;
            count_removed(&mut tx, self.shared_pool, repository, &freed).await?;
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
}
