//! The virtual-repository aggregate's SQL.

use super::{insert_audit, SqlMetaStore};
use crate::audit::{Actor, AuditRecord};
use crate::now;
use crate::virtuals::{Exemption, ExternalAllowance, OwnershipFacts, VirtualStore, WarmJob};
use crate::StoreError;
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

fn from_row(row: &AnyRow) -> Result<ExternalAllowance, StoreError> {
    Ok(ExternalAllowance {
        repository: row.try_get("repository")?,
        package: row.try_get("package")?,
        allowed_by: row.try_get("allowed_by")?,
        allowed_at: row.try_get("allowed_at")?,
        reason: row.try_get("reason")?,
    })
}

#[async_trait]
impl VirtualStore for SqlMetaStore {
    async fn exempt(&self, actor: &Actor, e: &Exemption) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO virtual_exemptions (repository, package, version, allowed_by, allowed_at, reason)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (repository, package, version) DO UPDATE SET
                 allowed_by = excluded.allowed_by, allowed_at = excluded.allowed_at,
                 reason = excluded.reason",
        )
        .bind(&e.repository)
        .bind(&e.package)
        .bind(&e.version)
        .bind(&e.allowed_by)
        .bind(e.allowed_at)
        .bind(&e.reason)
        .execute(&mut *tx)
        .await?;
        let what = match e.version.as_str() {
            "" => e.package.clone(),
            v => format!("{}@{v}", e.package),
        };
        let mut entry = AuditRecord::by(
            actor,
            "virtual.exempt",
            Some(&e.repository),
            Some(&what),
            "ok",
        );
        entry.detail = e.reason.clone();
        insert_audit(&mut *tx, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn unexempt(
        &self,
        actor: &Actor,
        repository: &str,
        package: &str,
        version: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "DELETE FROM virtual_exemptions WHERE repository = $1 AND package = $2 AND version = $3",
        )
        .bind(repository)
        .bind(package)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let what = match version {
            "" => package.to_string(),
            v => format!("{package}@{v}"),
        };
        let entry = AuditRecord::by(
            actor,
            "virtual.unexempt",
            Some(repository),
            Some(&what),
            "ok",
        );
        insert_audit(&mut *tx, &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn exemptions(&self, repository: &str) -> Result<Vec<Exemption>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM virtual_exemptions WHERE repository = $1 ORDER BY package, version",
        )
        .bind(repository)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Exemption {
                    repository: r.try_get("repository")?,
                    package: r.try_get("package")?,
                    version: r.try_get("version")?,
                    allowed_by: r.try_get("allowed_by")?,
                    allowed_at: r.try_get("allowed_at")?,
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }

    async fn create_warm_job(&self, actor: &Actor, job: &WarmJob) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO warm_jobs (id, created_by, repository, state, total, done, report, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&job.id)
        .bind(&job.created_by)
        .bind(&job.repository)
        .bind(&job.state)
        .bind(job.total as i64)
        .bind(job.done as i64)
        .bind(&job.report)
        .bind(job.created_at)
        .bind(job.updated_at)
        .execute(&mut *tx)
        .await?;
        let mut entry = AuditRecord::by(
            actor,
            "warm.start",
            Some(&job.repository),
            Some(&job.id),
            "ok",
        );
        entry.detail = Some(format!("{} item(s)", job.total));
        insert_audit(&mut *tx, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_warm_job(
        &self,
        id: &str,
        state: &str,
        done: u64,
        report: &str,
        updated_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE warm_jobs SET state = $2, done = $3, report = $4, updated_at = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(state)
        .bind(done as i64)
        .bind(report)
        .bind(updated_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn warm_job(&self, id: &str) -> Result<Option<WarmJob>, StoreError> {
        let row = sqlx::query("SELECT * FROM warm_jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| {
            Ok(WarmJob {
                id: r.try_get("id")?,
                created_by: r.try_get("created_by")?,
                repository: r.try_get("repository")?,
                state: r.try_get("state")?,
                total: r.try_get::<i64, _>("total")?.max(0) as u64,
                done: r.try_get::<i64, _>("done")?.max(0) as u64,
                report: r.try_get("report")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .transpose()
    }

    async fn ownership_facts(
        &self,
        format: &str,
        members: &[&str],
        repository: &str,
        package: &str,
    ) -> Result<OwnershipFacts, StoreError> {
        // One row per member that has the package (each with the
        // exception, if any), or one row of NULLs and the exception.
        let placeholders: Vec<String> = (0..members.len()).map(|i| format!("${}", i + 4)).collect();
        let in_members = if members.is_empty() {
            "FALSE".to_string()
        } else {
            format!("p.repository IN ({})", placeholders.join(", "))
        };
        let sql = format!(
            "SELECT p.repository AS member, p.revision AS revision, e.allowed_by AS allowed_by,
                    e.allowed_at AS allowed_at, e.reason AS reason, x.version AS exempt
             FROM (SELECT 1 AS one) AS one
             LEFT JOIN packages p ON p.format = $1 AND p.package = $2 AND {in_members}
             LEFT JOIN virtual_external e ON e.repository = $3 AND e.package = $2
             LEFT JOIN virtual_exemptions x ON x.repository = $3 AND x.package = $2"
        );
        let mut query = sqlx::query(&sql)
            .bind(format)
            .bind(package)
            .bind(repository);
        for m in members {
            query = query.bind(*m);
        }
        let rows = query.fetch_all(&self.reader).await?;
        let mut facts = OwnershipFacts::default();
        for row in &rows {
            let member: Option<String> = row.try_get("member")?;
            let revision: Option<i64> = row.try_get("revision")?;
            if let (Some(m), Some(r)) = (member, revision) {
                if !facts.revisions.iter().any(|(x, _)| *x == m) {
                    facts.revisions.push((m, r));
                }
            }
            let exempt: Option<String> = row.try_get("exempt")?;
            if let Some(v) = exempt.filter(|v| !facts.exempt.contains(v)) {
                facts.exempt.push(v);
            }
            let by: Option<String> = row.try_get("allowed_by")?;
            if let (Some(allowed_by), None) = (by, &facts.exception) {
                facts.exception = Some(ExternalAllowance {
                    repository: repository.to_string(),
                    package: package.to_string(),
                    allowed_by,
                    allowed_at: row.try_get("allowed_at")?,
                    reason: row.try_get("reason")?,
                });
            }
        }
        facts
            .revisions
            .sort_by_key(|(m, _)| members.iter().position(|x| x == m));
        Ok(facts)
    }

    async fn external_allowance(
        &self,
        repository: &str,
        package: &str,
    ) -> Result<Option<ExternalAllowance>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM virtual_external WHERE repository = $1 AND package = $2")
                .bind(repository)
                .bind(package)
                .fetch_optional(&self.reader)
                .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn allow_external(
        &self,
        actor: &Actor,
        repository: &str,
        package: &str,
        reason: Option<&str>,
    ) -> Result<ExternalAllowance, StoreError> {
        let at = now();
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO virtual_external (repository, package, allowed_by, allowed_at, reason)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (repository, package) DO UPDATE SET
                 allowed_by = excluded.allowed_by, allowed_at = excluded.allowed_at,
                 reason = excluded.reason",
        )
        .bind(repository)
        .bind(package)
        .bind(&actor.name)
        .bind(at)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        let mut entry = AuditRecord::by(
            actor,
            "virtual.allow_external",
            Some(repository),
            Some(package),
            "ok",
        );
        entry.detail = reason.map(str::to_string);
        insert_audit(&mut *tx, &entry).await?;
        tx.commit().await?;
        Ok(ExternalAllowance {
            repository: repository.to_string(),
            package: package.to_string(),
            allowed_by: actor.name.clone(),
            allowed_at: at,
            reason: reason.map(str::to_string),
        })
    }

    async fn disallow_external(
        &self,
        actor: &Actor,
        repository: &str,
        package: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done =
            sqlx::query("DELETE FROM virtual_external WHERE repository = $1 AND package = $2")
                .bind(repository)
                .bind(package)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let entry = AuditRecord::by(
            actor,
            "virtual.disallow_external",
            Some(repository),
            Some(package),
            "ok",
        );
        insert_audit(&mut *tx, &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn external_allowances(
        &self,
        repository: &str,
    ) -> Result<Vec<ExternalAllowance>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM virtual_external WHERE repository = $1 ORDER BY package")
                .bind(repository)
                .fetch_all(&self.reader)
                .await?;
        rows.iter().map(from_row).collect()
    }
}
