//! The SQL of maintenance jobs (see [`crate::jobs`]).

use super::{audit, now, SqlMetaStore, OK};
use crate::jobs::{JobRecord, JobStore, STALE_SECS};
use crate::{Actor, StoreError};
use async_trait::async_trait;
use sqlx::Row;

fn json(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

fn record(r: &sqlx::any::AnyRow) -> Result<JobRecord, StoreError> {
    let mut state: String = r.try_get("state")?;
    let updated_at: i64 = r.try_get("updated_at")?;
    if state == "running" && now() - updated_at > STALE_SECS {
        state = "abandoned".into();
    }
    Ok(JobRecord {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        state,
        actor: r.try_get("actor")?,
        params: json(r.try_get("params")?).unwrap_or_default(),
        progress: json(r.try_get("progress")?),
        result: json(r.try_get("result")?),
        cancel_requested: r.try_get::<i64, _>("cancel_requested")? != 0,
        started_at: r.try_get("started_at")?,
        updated_at,
        finished_at: r.try_get("finished_at")?,
    })
}

#[async_trait]
impl JobStore for SqlMetaStore {
    async fn start_job(
        &self,
        id: &str,
        kind: &str,
        params: &serde_json::Value,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        sqlx::query(
            "INSERT INTO jobs (id, kind, state, actor, params, started_at, updated_at)
             VALUES ($1, $2, 'running', $3, $4, $5, $5)",
        )
        .bind(id)
        .bind(kind)
        .bind(&actor.name)
        .bind(params.to_string())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let detail = format!("{kind} {params}");
        audit(
            &mut tx,
            actor,
            "job.start",
            None,
            Some(id),
            OK,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn job_progress(
        &self,
        id: &str,
        progress: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        sqlx::query("UPDATE jobs SET progress = $1, updated_at = $2 WHERE id = $3")
            .bind(progress.to_string())
            .bind(now())
            .bind(id)
            .execute(&self.writer)
            .await?;
        let cancel: Option<i64> =
            sqlx::query_scalar("SELECT cancel_requested FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.writer)
                .await?;
        Ok(cancel.unwrap_or(0) != 0)
    }

    async fn finish_job(
        &self,
        id: &str,
        state: &str,
        result: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        sqlx::query(
            "UPDATE jobs SET state = $1, result = $2, updated_at = $3, finished_at = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(result.to_string())
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let actor: Option<String> = sqlx::query_scalar("SELECT actor FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let who = Actor::local(&actor.unwrap_or_else(|| "system".into()));
        audit(
            &mut tx,
            &who,
            "job.finish",
            None,
            Some(id),
            state,
            Some(&result.to_string()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn cancel_job(&self, id: &str, actor: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done =
            sqlx::query("UPDATE jobs SET cancel_requested = 1 WHERE id = $1 AND state = 'running'")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() > 0 {
            audit(&mut tx, actor, "job.cancel", None, Some(id), OK, None).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(record).transpose()
    }

    async fn jobs(&self, limit: u32) -> Result<Vec<JobRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM jobs ORDER BY started_at DESC, id DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(record).collect()
    }
}
