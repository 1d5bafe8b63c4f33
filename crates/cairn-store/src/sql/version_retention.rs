//! The SQL of retention for language packages (see
//! [`crate::retention::VersionRetentionStore`]).

use super::packages::{bump_revision, lock_version, retire_files, state};
use super::{audit, SqlMetaStore, OK};
use crate::retention::VersionRetentionStore;
use crate::{Actor, StoreError};
use async_trait::async_trait;
use cairn_core::lifecycle::VersionState;
use cairn_core::version_retention::{PackageFacts, VersionFact};
use cairn_core::{Format, PackageRef};
use sqlx::Row;
use std::collections::BTreeMap;

#[async_trait]
impl VersionRetentionStore for SqlMetaStore {
    async fn package_repositories(&self) -> Result<Vec<(Format, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT format, repository FROM packages ORDER BY format, repository",
        )
        .fetch_all(&self.reader)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let f: String = r.try_get("format")?;
            if let Some(format) = Format::parse(&f) {
                out.push((format, r.try_get("repository")?));
            }
        }
        Ok(out)
    }

    async fn retention_facts(
        &self,
        format: Format,
        repository: &str,
    ) -> Result<Vec<PackageFacts>, StoreError> {
        let fmt = format.as_str();
        // Tags and live files by (package, version), then the versions.
        let mut tags: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for r in sqlx::query(
            "SELECT package, tag, version FROM package_tags WHERE format = $1 AND repository = $2",
        )
        .bind(fmt)
        .bind(repository)
        .fetch_all(&self.reader)
        .await?
        {
            tags.entry((r.try_get("package")?, r.try_get("version")?))
                .or_default()
                .push(r.try_get("tag")?);
        }
        let mut files: BTreeMap<(String, String), Vec<(String, i64)>> = BTreeMap::new();
        for r in sqlx::query(
            "SELECT package, version, filename, created_at FROM package_files
             WHERE format = $1 AND repository = $2 AND gone_at IS NULL ORDER BY filename",
        )
        .bind(fmt)
        .bind(repository)
        .fetch_all(&self.reader)
        .await?
        {
            files
                .entry((r.try_get("package")?, r.try_get("version")?))
                .or_default()
                .push((r.try_get("filename")?, r.try_get("created_at")?));
        }
        let mut packages: BTreeMap<String, PackageFacts> = BTreeMap::new();
        for r in sqlx::query(
            "SELECT v.package AS package, p.name AS name, v.version AS version, v.state AS state,
                    v.published_at AS published_at, v.downloaded_at AS downloaded_at
             FROM package_versions v JOIN packages p ON p.format = v.format
                  AND p.repository = v.repository AND p.package = v.package
             WHERE v.format = $1 AND v.repository = $2 ORDER BY v.package, v.version",
        )
        .bind(fmt)
        .bind(repository)
        .fetch_all(&self.reader)
        .await?
        {
            let package: String = r.try_get("package")?;
            let version: String = r.try_get("version")?;
            let key = (package.clone(), version.clone());
            let entry = packages
                .entry(package.clone())
                .or_insert_with(|| PackageFacts {
                    package,
                    name: String::new(),
                    versions: vec![],
                });
            entry.name = r.try_get("name")?;
            entry.versions.push(VersionFact {
                version,
                state: state(r.try_get("state")?)?,
                published_at: r.try_get("published_at")?,
                downloaded_at: r.try_get("downloaded_at")?,
                tags: tags.remove(&key).unwrap_or_default(),
                files: files.remove(&key).unwrap_or_default(),
            });
        }
        Ok(packages.into_values().collect())
    }

    async fn prune_version(
        &self,
        pkg: PackageRef<'_>,
        version: &str,
        why: &str,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let fmt = pkg.format.as_str();
        let mut tx = self.writer.begin().await?;
        lock_version(&mut tx, pkg, version).await?;
        // Its state, and whether a dist-tag points at it now.
        let row = sqlx::query(
            "SELECT v.state AS state,
                    (SELECT COUNT(*) FROM package_tags t WHERE t.format = v.format
                     AND t.repository = v.repository AND t.package = v.package
                     AND t.version = v.version) AS tagged
             FROM package_versions v
             WHERE v.format = $1 AND v.repository = $2 AND v.package = $3 AND v.version = $4",
        )
        .bind(fmt)
        .bind(pkg.repository)
        .bind(pkg.package)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let current = state(row.try_get("state")?)?;
        let tagged: i64 = row.try_get("tagged")?;
        if current == VersionState::Unpublished || tagged > 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE package_versions SET state = 'unpublished', message = $1, changed_at = $2
             WHERE format = $3 AND repository = $4 AND package = $5 AND version = $6",
        )
        .bind(why)
        .bind(crate::now())
        .bind(fmt)
        .bind(pkg.repository)
        .bind(pkg.package)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        let files = retire_files(&mut tx, self.shared_pool, pkg, version, None).await?;
        let detail = format!("{current} -> unpublished, {files} files: {why}");
        self.commit_pruning(tx, pkg, version, "version.retention", &detail, actor)
            .await?;
        Ok(true)
    }

    async fn note_download(&self, pkg: PackageRef<'_>, version: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE package_versions SET downloaded_at = $1
             WHERE format = $2 AND repository = $3 AND package = $4 AND version = $5",
        )
        .bind(crate::now())
        .bind(pkg.format.as_str())
        .bind(pkg.repository)
        .bind(pkg.package)
        .bind(version)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn prune_files(
        &self,
        pkg: PackageRef<'_>,
        version: &str,
        files: &[String],
        why: &str,
        actor: &Actor,
    ) -> Result<usize, StoreError> {
        let mut tx = self.writer.begin().await?;
        let retired = retire_files(&mut tx, self.shared_pool, pkg, version, Some(files)).await?;
        if retired == 0 {
            return Ok(0);
        }
        let detail = format!("{retired} files ({}): {why}", files.join(", "));
        self.commit_pruning(tx, pkg, version, "files.retention", &detail, actor)
            .await?;
        Ok(retired)
    }
}

impl SqlMetaStore {
    /// Ends a pruning transaction: the package's revision moves (every
    /// document listing it changes with this commit), the audit entry.
    async fn commit_pruning(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Any>,
        pkg: PackageRef<'_>,
        version: &str,
        action: &str,
        detail: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        bump_revision(&mut tx, pkg.format, pkg.repository, pkg.package).await?;
        audit(
            &mut tx,
            actor,
            action,
            Some(&pkg.format.resource(pkg.repository)),
            Some(&format!("{}@{version}", pkg.package)),
            OK,
            Some(detail),
        )
        .await?;
        self.commit_package_change(tx).await
    }
}
