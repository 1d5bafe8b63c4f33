//! Long maintenance jobs started through the admin API (garbage
//! collection, retention, fsck, backup): their state, progress and result
//! in the database, so that any replica answers for a job another runs,
//! and a cancel sent to any replica reaches the one running it.

use crate::{Actor, StoreError};
use async_trait::async_trait;

/// A job as stored. `progress` and `result` are the job's own JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobRecord {
    pub id: String,
    pub kind: String,
    /// `running`, `done`, `failed`, `cancelled`; a running job whose
    /// replica has not written for [`STALE_SECS`] reads `abandoned`.
    pub state: String,
    pub actor: String,
    pub params: serde_json::Value,
    pub progress: Option<serde_json::Value>,
    pub result: Option<serde_json::Value>,
    pub cancel_requested: bool,
    pub started_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

/// A running job's replica writes at least this often; a job silent for
/// longer is reported `abandoned` (its replica died).
pub const STALE_SECS: i64 = 120;

#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Records a job as running, audited as `job.start`.
    async fn start_job(
        &self,
        id: &str,
        kind: &str,
        params: &serde_json::Value,
        actor: &Actor,
    ) -> Result<(), StoreError>;

    /// Writes a running job's progress; returns whether a cancel was asked.
    async fn job_progress(
        &self,
        id: &str,
        progress: &serde_json::Value,
    ) -> Result<bool, StoreError>;

    /// Ends a job (`done`, `failed` or `cancelled`) with its result,
    /// audited as `job.finish`.
    async fn finish_job(
        &self,
        id: &str,
        state: &str,
        result: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Asks a running job to stop (audited as `job.cancel`); false if it
    /// is not running.
    async fn cancel_job(&self, id: &str, actor: &Actor) -> Result<bool, StoreError>;

    async fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError>;

    /// The most recent jobs, newest first.
    async fn jobs(&self, limit: u32) -> Result<Vec<JobRecord>, StoreError>;
}
