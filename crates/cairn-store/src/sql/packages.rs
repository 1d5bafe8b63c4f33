//! The package store's SQL, for both engines (see the parent module for the
//! dialect rules). Version and file rows are never deleted: they are the
//! tombstones behind "a published version is never reused".

use super::gc::{claim, mark_candidates, Claim};
use super::usage::{count_added, count_removed};
use super::{audit, digest, insert_audit, SqlMetaStore, OK};
use crate::now;
use crate::packages::{
    FileRecord, NewVersion, PackageRecord, PackageStore, PublishMode, StagingRecord, StagingState,
    VersionIndex, VersionRecord,
};
use crate::{Actor, AuditRecord, StoreError};
use async_trait::async_trait;
use cairn_core::lifecycle::{
    check_add_file, check_publish, check_transition, transition_message, LifecycleError,
    LifecyclePolicy, Transition, UnpublishFacts, VersionState,
};
use cairn_core::{Format, PackageRef};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

pub(super) fn state(s: &str) -> Result<VersionState, StoreError> {
    VersionState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("version state {s:?}")))
}

fn file_from_row(row: &AnyRow) -> Result<FileRecord, StoreError> {
    Ok(FileRecord {
        filename: row.try_get("filename")?,
        version: row.try_get("version")?,
        digest: digest(row.try_get("digest")?)?,
        size: row.try_get::<i64, _>("size")? as u64,
        metadata: row.try_get("metadata")?,
        companion: row
            .try_get::<Option<String>, _>("companion")?
            .as_deref()
            .map(digest)
            .transpose()?,
        created_at: row.try_get("created_at")?,
    })
}

async fn version_state(
    tx: &mut AnyConnection,
    new: &NewVersion,
) -> Result<Option<VersionState>, StoreError> {
    let s: Option<String> = sqlx::query_scalar(
        "SELECT state FROM package_versions WHERE format = $1 AND repository = $2 AND package = $3 AND version = $4",
    )
    .bind(new.format.as_str())
    .bind(&new.repository)
    .bind(&new.package)
    .bind(&new.version)
    .fetch_optional(&mut *tx)
    .await?;
    s.as_deref().map(state).transpose()
}

/// Checks the lifecycle rules for `new` and writes it; any refusal is
/// returned before anything is written. The files' blobs are claimed last
/// (see `gc::claim`): a file whose blob is being collected refuses it all.
async fn write_version(
    tx: &mut AnyConnection,
    postgres: bool,
    new: &NewVersion,
    mode: PublishMode,
) -> Result<(), StoreError> {
    let fmt = new.format.as_str();
    let created = sqlx::query(
        "INSERT INTO packages (format, repository, package, name, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (format, repository, package) DO NOTHING",
    )
    .bind(fmt)
    .bind(&new.repository)
    .bind(&new.package)
    .bind(&new.name)
    .bind(now())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    if created {
        if let Some(owner) = &new.owner {
            sqlx::query(
                "INSERT INTO package_owners (format, repository, package, owner) VALUES ($1, $2, $3, $4)",
            )
            .bind(fmt)
            .bind(&new.repository)
            .bind(&new.package)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        }
    }
    let existing = version_state(tx, new).await?;
    match mode {
        PublishMode::NewVersion => check_publish(&new.name, &new.version, existing)?,
        PublishMode::AddFiles => {
            for f in &new.files {
                let existed: Option<i64> = sqlx::query_scalar(
                    "SELECT size FROM package_files WHERE format = $1 AND repository = $2 AND package = $3 AND filename = $4",
                )
                .bind(fmt)
                .bind(&new.repository)
                .bind(&new.package)
                .bind(&f.filename)
                .fetch_optional(&mut *tx)
                .await?;
                check_add_file(
                    &new.name,
                    &new.version,
                    existing,
                    &f.filename,
                    existed.is_some(),
                )?;
            }
        }
    }
    let at = now();
    if existing.is_none() {
        // DO NOTHING, then check: a concurrent publisher of the same version
        // (on PostgreSQL) loses here instead of failing on the key.
        let inserted = sqlx::query(
            "INSERT INTO package_versions (format, repository, package, version, state, message, metadata, published_at, changed_at)
             VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $7)
             ON CONFLICT (format, repository, package, version) DO NOTHING",
        )
        .bind(fmt)
        .bind(&new.repository)
        .bind(&new.package)
        .bind(&new.version)
        .bind(VersionState::Active.as_str())
        .bind(&new.metadata)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 && mode == PublishMode::NewVersion {
            return Err(LifecycleError::VersionExists {
                package: new.name.clone(),
                version: new.version.clone(),
            }
            .into());
        }
        if inserted.rows_affected() == 1 {
            sqlx::query(
                "UPDATE packages SET version_list = version_list || $1
                 WHERE format = $2 AND repository = $3 AND package = $4",
            )
            .bind(format!("{}\n", new.version))
            .bind(fmt)
            .bind(&new.repository)
            .bind(&new.package)
            .execute(&mut *tx)
            .await?;
        }
        for dep in &new.dependencies {
            sqlx::query(
                "INSERT INTO package_dependencies (format, repository, package, version, dependency)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(fmt)
            .bind(&new.repository)
            .bind(&new.package)
            .bind(&new.version)
            .bind(dep)
            .execute(&mut *tx)
            .await?;
        }
    }
    for f in &new.files {
        let inserted = sqlx::query(
            "INSERT INTO package_files (format, repository, package, filename, version, digest, size, metadata, created_at, companion)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (format, repository, package, filename) DO NOTHING",
        )
        .bind(fmt)
        .bind(&new.repository)
        .bind(&new.package)
        .bind(&f.filename)
        .bind(&new.version)
        .bind(f.digest.to_string())
        .bind(f.size as i64)
        .bind(&f.metadata)
        .bind(at)
        .bind(f.companion.as_ref().map(|d| d.to_string()))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(LifecycleError::FileExists {
                filename: f.filename.clone(),
            }
            .into());
        }
    }
    for tag in &new.tags {
        upsert_tag(
            tx,
            new.format,
            &new.repository,
            &new.package,
            tag,
            &new.version,
        )
        .await?;
    }
    let digests: Vec<String> = new
        .files
        .iter()
        .flat_map(|f| std::iter::once(&f.digest).chain(&f.companion))
        .map(|d| d.to_string())
        .collect();
    let sizes = claim(tx, postgres, &digests, Claim::Reference).await?;
    let scope = format!("{fmt}/{}", new.repository);
    count_added(tx, postgres, &scope, &sizes, true).await
}

/// Locks a version's row (a no-op update), so that concurrent changes of
/// one version (a state change, a retention deletion) run one after another.
pub(super) async fn lock_version(
    tx: &mut AnyConnection,
    pkg: PackageRef<'_>,
    version: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE package_versions SET changed_at = changed_at
         WHERE format = $1 AND repository = $2 AND package = $3 AND version = $4",
    )
    .bind(pkg.format.as_str())
    .bind(pkg.repository)
    .bind(pkg.package)
    .bind(version)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Lets go of the bytes of a version's files (all of them, or the ones
/// named), in the transaction that unpublishes or prunes them: their rows
/// stay (a download answers 410 Gone, a filename is never reused) with
/// `gone_at` set, and their blobs become the collector's candidates and
/// leave the repository's storage numbers. The number of files retired.
pub(super) async fn retire_files(
    tx: &mut AnyConnection,
    postgres: bool,
    pkg: PackageRef<'_>,
    version: &str,
    only: Option<&[String]>,
) -> Result<usize, StoreError> {
    let fmt = pkg.format.as_str();
    let rows = sqlx::query(
        "SELECT filename, digest, companion FROM package_files
         WHERE format = $1 AND repository = $2 AND package = $3 AND version = $4 AND gone_at IS NULL",
    )
    .bind(fmt)
    .bind(pkg.repository)
    .bind(pkg.package)
    .bind(version)
    .fetch_all(&mut *tx)
    .await?;
    let mut digests = Vec::new();
    let mut retired = 0;
    for row in rows {
        let filename: String = row.try_get("filename")?;
        if only.is_some_and(|names| !names.contains(&filename)) {
            continue;
        }
        sqlx::query(
            "UPDATE package_files SET gone_at = $1
             WHERE format = $2 AND repository = $3 AND package = $4 AND filename = $5",
        )
        .bind(now())
        .bind(fmt)
        .bind(pkg.repository)
        .bind(pkg.package)
        .bind(&filename)
        .execute(&mut *tx)
        .await?;
        retired += 1;
        digests.push(row.try_get::<String, _>("digest")?);
        if let Some(c) = row.try_get::<Option<String>, _>("companion")? {
            digests.push(c);
        }
    }
    if only.is_none() {
        // The whole version goes: its SBOMs with it.
        digests.extend(super::sbom::forget_version(tx, pkg, version).await?);
    }
    mark_candidates(tx, &digests).await?;
    let scope = format!("{fmt}/{}", pkg.repository);
    count_removed(tx, postgres, &scope, &digests).await?;
    Ok(retired)
}

/// Marks a package changed, in the transaction of the change.
pub(super) async fn bump_revision(
    tx: &mut AnyConnection,
    format: Format,
    repository: &str,
    package: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE packages SET revision = revision + 1, updated_at = $4
         WHERE format = $1 AND repository = $2 AND package = $3",
    )
    .bind(format.as_str())
    .bind(repository)
    .bind(package)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn upsert_tag(
    tx: &mut AnyConnection,
    format: Format,
    repository: &str,
    package: &str,
    tag: &str,
    version: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO package_tags (format, repository, package, tag, version) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (format, repository, package, tag) DO UPDATE SET version = excluded.version",
    )
    .bind(format.as_str())
    .bind(repository)
    .bind(package)
    .bind(tag)
    .bind(version)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// `package@version` of live versions of other packages that depend on `package`.
async fn dependents(
    tx: &mut AnyConnection,
    format: Format,
    package: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT d.package || '@' || d.version FROM package_dependencies d
         JOIN package_versions v ON v.format = d.format AND v.repository = d.repository
              AND v.package = d.package AND v.version = d.version
         WHERE d.format = $1 AND d.dependency = $2 AND d.package <> $2 AND v.state <> $3
         ORDER BY 1 LIMIT 10",
    )
    .bind(format.as_str())
    .bind(package)
    .bind(VersionState::Unpublished.as_str())
    .fetch_all(&mut *tx)
    .await?)
}

impl SqlMetaStore {
    /// Commits a transaction that changed what a package serves, then counts
    /// it for this process's caches (committed first: a reader that sees the
    /// new count reads the new state).
    pub(super) async fn commit_package_change(
        &self,
        tx: sqlx::Transaction<'_, sqlx::Any>,
    ) -> Result<(), StoreError> {
        tx.commit().await?;
        self.package_changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    async fn refuse(
        &self,
        actor: &Actor,
        action: &str,
        resource: &str,
        artifact: &str,
        e: StoreError,
    ) -> StoreError {
        let entry = AuditRecord::by(
            actor,
            action,
            Some(resource),
            Some(artifact),
            &format!("denied: {e}"),
        );
        if let Err(audit_err) = insert_audit(&self.writer, &entry).await {
            return audit_err;
        }
        e
    }
}

#[async_trait]
impl PackageStore for SqlMetaStore {
    fn local_package_changes(&self) -> u64 {
        self.package_changes
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn publish(
        &self,
        new: &NewVersion,
        mode: PublishMode,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let resource = new.format.resource(&new.repository);
        let artifact = format!("{}@{}", new.package, new.version);
        let mut tx = self.writer.begin().await?;
        match write_version(&mut tx, self.shared_pool, new, mode).await {
            Ok(()) => {
                bump_revision(&mut tx, new.format, &new.repository, &new.package).await?;
                let files: Vec<&str> = new.files.iter().map(|f| f.filename.as_str()).collect();
                let detail = format!("files: {}", files.join(", "));
                audit(
                    &mut tx,
                    actor,
                    "package.publish",
                    Some(&resource),
                    Some(&artifact),
                    OK,
                    Some(&detail),
                )
                .await?;
                self.commit_package_change(tx).await?;
                Ok(())
            }
            Err(e) => {
                drop(tx);
                Err(self
                    .refuse(actor, "package.publish", &resource, &artifact, e)
                    .await)
            }
        }
    }

    async fn package(&self, pkg: PackageRef<'_>) -> Result<Option<PackageRecord>, StoreError> {
        let PackageRef {
            format,
            repository,
            package,
        } = pkg;
        load_package(self, format, repository, package, true).await
    }

    async fn version_index(&self, pkg: PackageRef<'_>) -> Result<Option<VersionIndex>, StoreError> {
        let PackageRef {
            format,
            repository,
            package,
        } = pkg;
        let fmt = format.as_str();
        let Some(head) = sqlx::query(
            "SELECT revision, updated_at, version_list FROM packages
             WHERE format = $1 AND repository = $2 AND package = $3",
        )
        .bind(fmt)
        .bind(repository)
        .bind(package)
        .fetch_optional(&self.reader)
        .await?
        else {
            return Ok(None);
        };
        // Only the versions that are not active: few, whatever the package's size.
        let changed = sqlx::query(
            "SELECT version, state, message FROM package_versions
             WHERE format = $1 AND repository = $2 AND package = $3 AND state <> $4",
        )
        .bind(fmt)
        .bind(repository)
        .bind(package)
        .bind(VersionState::Active.as_str())
        .fetch_all(&self.reader)
        .await?;
        let mut not_active = BTreeMap::new();
        for row in &changed {
            let message: Option<String> = row.try_get("message")?;
            not_active.insert(
                row.try_get("version")?,
                (state(row.try_get("state")?)?, message),
            );
        }
        let list: String = head.try_get("version_list")?;
        Ok(Some(VersionIndex {
            revision: head.try_get("revision")?,
            updated_at: head.try_get("updated_at")?,
            versions: list.lines().map(str::to_string).collect(),
            not_active,
        }))
    }

    async fn package_versions(
        &self,
        pkg: PackageRef<'_>,
    ) -> Result<Option<PackageRecord>, StoreError> {
        let PackageRef {
            format,
            repository,
            package,
        } = pkg;
        load_package(self, format, repository, package, false).await
    }

    async fn package_revision(&self, pkg: PackageRef<'_>) -> Result<Option<i64>, StoreError> {
        let PackageRef {
            format,
            repository,
            package,
        } = pkg;
        Ok(sqlx::query_scalar(
            "SELECT revision FROM packages WHERE format = $1 AND repository = $2 AND package = $3",
        )
        .bind(format.as_str())
        .bind(repository)
        .bind(package)
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn package_file(
        &self,
        pkg: PackageRef<'_>,
        filename: &str,
    ) -> Result<Option<(FileRecord, VersionState)>, StoreError> {
        let PackageRef {
            format,
            repository,
            package,
        } = pkg;
        let row = sqlx::query(
            "SELECT f.*, v.state FROM package_files f
             JOIN package_versions v ON v.format = f.format AND v.repository = f.repository
                  AND v.package = f.package AND v.version = f.version
             WHERE f.format = $1 AND f.repository = $2 AND f.package = $3 AND f.filename = $4
               AND (f.gone_at IS NULL OR v.state = 'unpublished')",
        )
        .bind(format.as_str())
        .bind(repository)
        .bind(package)
        .bind(filename)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| Ok((file_from_row(&r)?, state(r.try_get("state")?)?)))
            .transpose()
    }

    async fn change_version(
        &self,
        pkg: PackageRef<'_>,
        version: &str,
        transition: &Transition,
        policy: &LifecyclePolicy,
        admin_override: bool,
        actor: &Actor,
    ) -> Result<VersionState, StoreError> {
        let PackageRef {
            format,
            repository,
            package,
        } = pkg;
        let fmt = format.as_str();
        let resource = format.resource(repository);
        let artifact = format!("{package}@{version}");
        let mut tx = self.writer.begin().await?;
        let decided = async {
            lock_version(&mut tx, pkg, version).await?;
            let row = sqlx::query(
                "SELECT state, published_at FROM package_versions
                 WHERE format = $1 AND repository = $2 AND package = $3 AND version = $4",
            )
            .bind(fmt)
            .bind(repository)
            .bind(package)
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| LifecycleError::NoSuchVersion {
                package: package.to_string(),
                version: version.to_string(),
            })?;
            let current = state(row.try_get("state")?)?;
            let facts = UnpublishFacts {
                now: now(),
                published_at: row.try_get("published_at")?,
                dependents: if *transition == Transition::Unpublish {
                    dependents(&mut tx, format, package).await?
                } else {
                    vec![]
                },
                admin_override,
            };
            let next = check_transition(package, version, current, transition, policy, &facts)?;
            Ok::<_, StoreError>((current, next))
        }
        .await;
        let (current, next) = match decided {
            Ok(d) => d,
            Err(e) => {
                drop(tx);
                return Err(self
                    .refuse(actor, transition.action(), &resource, &artifact, e)
                    .await);
            }
        };
        sqlx::query(
            "UPDATE package_versions SET state = $1, message = $2, changed_at = $3
             WHERE format = $4 AND repository = $5 AND package = $6 AND version = $7",
        )
        .bind(next.as_str())
        .bind(transition_message(transition))
        .bind(now())
        .bind(fmt)
        .bind(repository)
        .bind(package)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        if next == VersionState::Unpublished {
            sqlx::query(
                "DELETE FROM package_tags WHERE format = $1 AND repository = $2 AND package = $3 AND version = $4",
            )
            .bind(fmt)
            .bind(repository)
            .bind(package)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            retire_files(&mut tx, self.shared_pool, pkg, version, None).await?;
        }
        let mut detail = format!("{current} -> {next}");
        if let Some(m) = transition_message(transition) {
            detail.push_str(&format!(": {m}"));
        }
        if admin_override {
            detail.push_str(" (admin override)");
        }
        bump_revision(&mut tx, format, repository, package).await?;
        audit(
            &mut tx,
            actor,
            transition.action(),
            Some(&resource),
            Some(&artifact),
            OK,
            Some(&detail),
        )
        .await?;
        self.commit_package_change(tx).await?;
        Ok(next)
    }

    async fn set_dist_tag(
        &self,
        pkg: PackageRef<'_>,
        tag: &str,
        version: Option<&str>,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let PackageRef {
            format,
            repository,
            package,
        } = pkg;
        let fmt = format.as_str();
        let resource = format.resource(repository);
        let mut tx = self.writer.begin().await?;
        let changed = match version {
            Some(version) => {
                let live: Option<String> = sqlx::query_scalar(
                    "SELECT state FROM package_versions
                     WHERE format = $1 AND repository = $2 AND package = $3 AND version = $4",
                )
                .bind(fmt)
                .bind(repository)
                .bind(package)
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
                if live.as_deref().map(state).transpose()?.is_none_or(|s| !s.serves_bytes()) {
                    drop(tx);
                    return Err(LifecycleError::NoSuchVersion {
                        package: package.to_string(),
                        version: version.to_string(),
                    }
                    .into());
                }
                upsert_tag(&mut tx, format, repository, package, tag, version).await?;
                true
            }
            None => {
                sqlx::query(
                    "DELETE FROM package_tags WHERE format = $1 AND repository = $2 AND package = $3 AND tag = $4",
                )
                .bind(fmt)
                .bind(repository)
                .bind(package)
                .bind(tag)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0
            }
        };
        if changed {
            let artifact = format!("{package}:{tag} -> {}", version.unwrap_or("(removed)"));
            bump_revision(&mut tx, format, repository, package).await?;
            audit(
                &mut tx,
                actor,
                "package.dist_tag",
                Some(&resource),
                Some(&artifact),
                OK,
                None,
            )
            .await?;
        }
        self.commit_package_change(tx).await?;
        Ok(changed)
    }

    async fn dependents_of(
        &self,
        format: Format,
        package: &str,
        limit: u32,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.repository AS repository, d.package AS package, d.version AS version
             FROM package_dependencies d
             JOIN package_versions v ON v.format = d.format AND v.repository = d.repository
                  AND v.package = d.package AND v.version = d.version
             WHERE d.format = $1 AND d.dependency = $2 AND d.package <> $2 AND v.state <> $3
             ORDER BY d.repository, d.package, v.published_at DESC LIMIT $4",
        )
        .bind(format.as_str())
        .bind(package)
        .bind(VersionState::Unpublished.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("repository")?,
                    r.try_get("package")?,
                    r.try_get("version")?,
                ))
            })
            .collect()
    }

    async fn owners(&self, pkg: PackageRef<'_>) -> Result<Vec<String>, StoreError> {
        let PackageRef {
            format,
            repository,
            package,
        } = pkg;
        Ok(sqlx::query_scalar(
            "SELECT owner FROM package_owners WHERE format = $1 AND repository = $2 AND package = $3 ORDER BY owner",
        )
        .bind(format.as_str())
        .bind(repository)
        .bind(package)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn change_owners(
        &self,
        pkg: PackageRef<'_>,
        add: &[String],
        remove: &[String],
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let PackageRef {
            format,
            repository,
            package,
        } = pkg;
        let fmt = format.as_str();
        let resource = format.resource(repository);
        let mut tx = self.writer.begin().await?;
        for owner in add {
            sqlx::query(
                "INSERT INTO package_owners (format, repository, package, owner) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
            )
            .bind(fmt)
            .bind(repository)
            .bind(package)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        }
        for owner in remove {
            sqlx::query(
                "DELETE FROM package_owners WHERE format = $1 AND repository = $2 AND package = $3 AND owner = $4",
            )
            .bind(fmt)
            .bind(repository)
            .bind(package)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        }
        let detail = format!(
            "added [{}], removed [{}]",
            add.join(", "),
            remove.join(", ")
        );
        audit(
            &mut tx,
            actor,
            "package.owners",
            Some(&resource),
            Some(package),
            OK,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn staging(
        &self,
        format: Format,
        repository: &str,
        id: &str,
    ) -> Result<Option<StagingRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM staging_repositories WHERE format = $1 AND repository = $2 AND id = $3",
        )
        .bind(format.as_str())
        .bind(repository)
        .bind(id)
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref()
            .map(|r| staging_from_row(format, r))
            .transpose()
    }

    async fn stagings(
        &self,
        format: Format,
        repository: &str,
    ) -> Result<Vec<StagingRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM staging_repositories WHERE format = $1 AND repository = $2 ORDER BY id",
        )
        .bind(format.as_str())
        .bind(repository)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|r| staging_from_row(format, r)).collect()
    }

    async fn open_staging(
        &self,
        format: Format,
        repository: &str,
        id: &str,
        actor: &Actor,
    ) -> Result<StagingRecord, StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        let created = sqlx::query(
            "INSERT INTO staging_repositories (format, repository, id, state, detail, created_at, changed_at)
             VALUES ($1, $2, $3, $4, NULL, $5, $5) ON CONFLICT (format, repository, id) DO NOTHING",
        )
        .bind(format.as_str())
        .bind(repository)
        .bind(id)
        .bind(StagingState::Open.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if created {
            let resource = format.resource(repository);
            audit(
                &mut tx,
                actor,
                "staging.open",
                Some(&resource),
                Some(id),
                OK,
                None,
            )
            .await?;
        }
        tx.commit().await?;
        self.staging(format, repository, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("staging repository {id} vanished")))
    }

    async fn set_staging_state(
        &self,
        format: Format,
        repository: &str,
        id: &str,
        from: StagingState,
        to: StagingState,
        detail: Option<&str>,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let changed = move_staging(&mut tx, format, repository, id, from, to, detail).await?;
        if changed {
            let resource = format.resource(repository);
            let action = format!("staging.{}", to.as_str());
            audit(
                &mut tx,
                actor,
                &action,
                Some(&resource),
                Some(id),
                OK,
                detail,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn release_staging(
        &self,
        format: Format,
        repository: &str,
        id: &str,
        versions: &[NewVersion],
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let resource = format.resource(repository);
        let mut tx = self.writer.begin().await?;
        let released = StagingState::Released;
        let detail = format!("{} version(s) released", versions.len());
        if !move_staging(
            &mut tx,
            format,
            repository,
            id,
            StagingState::Closed,
            released,
            Some(&detail),
        )
        .await?
        {
            return Err(StoreError::Conflict(format!(
                "staging repository {id} is not closed"
            )));
        }
        for new in versions {
            if new.format != format || new.repository != repository {
                return Err(StoreError::Corrupt(format!(
                    "a release of staging repository {id} names another repository"
                )));
            }
            write_version(&mut tx, self.shared_pool, new, PublishMode::AddFiles).await?;
            bump_revision(&mut tx, format, repository, &new.package).await?;
            let artifact = format!("{}@{}", new.package, new.version);
            audit(
                &mut tx,
                actor,
                "package.publish",
                Some(&resource),
                Some(&artifact),
                OK,
                Some(&format!("released from staging {id}")),
            )
            .await?;
        }
        audit(
            &mut tx,
            actor,
            "staging.released",
            Some(&resource),
            Some(id),
            OK,
            Some(&detail),
        )
        .await?;
        self.commit_package_change(tx).await?;
        Ok(())
    }

    async fn search_packages(
        &self,
        format: Format,
        repository: &str,
        query: &str,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let pattern = format!(
            "%{}%",
            query
                .to_lowercase()
                .replace(['\\', '%'], "")
                .replace('_', "\\_")
        );
        Ok(sqlx::query_scalar(
            "SELECT package FROM packages WHERE format = $1 AND repository = $2
             AND (LOWER(package) LIKE $3 ESCAPE '\\' OR LOWER(name) LIKE $3 ESCAPE '\\')
             ORDER BY package LIMIT $4",
        )
        .bind(format.as_str())
        .bind(repository)
        .bind(pattern)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?)
    }
}

fn staging_from_row(format: Format, r: &AnyRow) -> Result<StagingRecord, StoreError> {
    let state: String = r.try_get("state")?;
    Ok(StagingRecord {
        format,
        repository: r.try_get("repository")?,
        id: r.try_get("id")?,
        state: StagingState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("staging state {state:?}")))?,
        detail: r.try_get("detail")?,
        created_at: r.try_get("created_at")?,
        changed_at: r.try_get("changed_at")?,
    })
}

/// Compare-and-swap of a staging repository's state, in `tx`.
async fn move_staging(
    tx: &mut AnyConnection,
    format: Format,
    repository: &str,
    id: &str,
    from: StagingState,
    to: StagingState,
    detail: Option<&str>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE staging_repositories SET state = $1, detail = $2, changed_at = $3
         WHERE format = $4 AND repository = $5 AND id = $6 AND state = $7",
    )
    .bind(to.as_str())
    .bind(detail)
    .bind(now())
    .bind(format.as_str())
    .bind(repository)
    .bind(id)
    .bind(from.as_str())
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A package with its versions and tags, and their files when `with_files`.
async fn load_package(
    store: &SqlMetaStore,
    format: Format,
    repository: &str,
    package: &str,
    with_files: bool,
) -> Result<Option<PackageRecord>, StoreError> {
    let fmt = format.as_str();
    let Some(head) = sqlx::query(
            "SELECT name, created_at, revision FROM packages WHERE format = $1 AND repository = $2 AND package = $3",
        )
        .bind(fmt)
        .bind(repository)
        .bind(package)
        .fetch_optional(&store.reader)
        .await?
        else {
            return Ok(None);
        };
    let files = if with_files {
        sqlx::query(
            "SELECT * FROM package_files WHERE format = $1 AND repository = $2 AND package = $3
                 AND gone_at IS NULL ORDER BY created_at, filename",
        )
        .bind(fmt)
        .bind(repository)
        .bind(package)
        .fetch_all(&store.reader)
        .await?
    } else {
        vec![]
    };
    let mut by_version: BTreeMap<String, Vec<FileRecord>> = BTreeMap::new();
    for row in &files {
        let f = file_from_row(row)?;
        by_version.entry(f.version.clone()).or_default().push(f);
    }
    let rows = sqlx::query(
        "SELECT version, state, message, metadata, published_at, changed_at FROM package_versions
             WHERE format = $1 AND repository = $2 AND package = $3 ORDER BY published_at, version",
    )
    .bind(fmt)
    .bind(repository)
    .bind(package)
    .fetch_all(&store.reader)
    .await?;
    let mut versions = Vec::with_capacity(rows.len());
    for row in &rows {
        let version: String = row.try_get("version")?;
        versions.push(VersionRecord {
            files: by_version.remove(&version).unwrap_or_default(),
            version,
            state: state(row.try_get("state")?)?,
            message: row.try_get("message")?,
            metadata: row.try_get("metadata")?,
            published_at: row.try_get("published_at")?,
            changed_at: row.try_get("changed_at")?,
        });
    }
    let tags = sqlx::query(
            "SELECT tag, version FROM package_tags WHERE format = $1 AND repository = $2 AND package = $3",
        )
        .bind(fmt)
        .bind(repository)
        .bind(package)
        .fetch_all(&store.reader)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("tag")?, r.try_get("version")?)))
        .collect::<Result<_, StoreError>>()?;
    Ok(Some(PackageRecord {
        package: package.to_string(),
        name: head.try_get("name")?,
        created_at: head.try_get("created_at")?,
        revision: head.try_get("revision")?,
        versions,
        tags,
    }))
}
