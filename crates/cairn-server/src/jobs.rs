//! Long maintenance jobs started through the admin API: garbage
//! collection, retention, fsck and backup run in the background on the
//! replica that was asked, while their state, progress and result live in
//! the database (`cairn_store::jobs`), so any replica answers for them and
//! a cancel sent to any replica reaches the one running the job.
//!
//! The running replica writes the job's latest progress about once a
//! second and reads back whether a cancel was asked; a cancel stops the
//! work at its next safe point (between collector steps and candidates,
//! between retention repositories, between fsck batches). A backup is
//! short and atomic: it is not stopped midway.

use crate::AppState;
use cairn_store::jobs::JobRecord;
use cairn_store::{Actor, BlobStore, MetaStore, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What to run, as the admin API's body says it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum JobRequest {
    /// One collector run (`grace_secs` overrides `gc.grace_secs`).
    Gc {
        #[schemars(range(max = u64::MAX))]
        grace_secs: Option<u64>,
    },
    /// The configured retention policies, carried out now.
    Retention {},
    /// The consistency check; `rehash` reads every blob.
    Fsck {
        #[serde(default)]
        rehash: bool,
    },
    /// A backup into the directory `to` on the server.
    Backup { to: PathBuf },
}

impl JobRequest {
    fn kind(&self) -> &'static str {
        match self {
            JobRequest::Gc { .. } => "gc",
            JobRequest::Retention {} => "retention",
            JobRequest::Fsck { .. } => "fsck",
            JobRequest::Backup { .. } => "backup",
        }
    }

    fn params(&self) -> Value {
        match self {
            JobRequest::Gc { grace_secs } => json!({ "grace_secs": grace_secs }),
            JobRequest::Retention {} => json!({}),
            JobRequest::Fsck { rehash } => json!({ "rehash": rehash }),
            JobRequest::Backup { to } => json!({ "to": to }),
        }
    }
}

/// Everything a job needs, taken from the server's state.
struct Context {
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    gc: cairn_store::collector::GcSettings,
    retention: cairn_core::retention::Policies,
    tag_rules: Vec<cairn_core::policy::TagRule>,
    max_deletions: u64,
}

/// Records the job and starts it in the background; answers its record.
pub async fn start(
    state: &AppState,
    request: JobRequest,
    actor: &Actor,
) -> Result<JobRecord, StoreError> {
    let id = format!(
        "{}-{}",
        request.kind(),
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    state
        .meta
        .start_job(&id, request.kind(), &request.params(), actor)
        .await?;
    let ctx = Context {
        meta: state.meta.clone(),
        blobs: state.blob_store.clone(),
        gc: state.config.gc.settings(),
        retention: state.retention.clone(),
        tag_rules: state.tag_rules.clone(),
        max_deletions: state.config.gc.retention_max_deletions,
    };
    let job = id.clone();
    tokio::spawn(async move { run(ctx, job, request, CancellationToken::new()).await });
    state
        .meta
        .job(&id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("job {id} vanished")))
}

/// Runs a recorded job to its end: progress written about once a second,
/// a cancel asked through the database (or `cancel`) honoured, the result
/// and final state recorded.
async fn run(ctx: Context, id: String, request: JobRequest, cancel: CancellationToken) {
    let latest = Arc::new(Mutex::new(json!({ "step": "starting" })));
    // A job cancelled before it starts does nothing.
    if let Ok(true) = ctx
        .meta
        .job_progress(&id, &json!({ "step": "starting" }))
        .await
    {
        cancel.cancel();
    }
    let finished = CancellationToken::new();
    let watcher = {
        let (meta, id, latest, cancel, finished) = (
            ctx.meta.clone(),
            id.clone(),
            latest.clone(),
            cancel.clone(),
            finished.clone(),
        );
        tokio::spawn(async move {
            loop {
                let progress = latest.lock().map(|p| p.clone()).unwrap_or_default();
                match meta.job_progress(&id, &progress).await {
                    Ok(true) => cancel.cancel(),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(job = %id, error = %e, "writing a job's progress"),
                }
                tokio::select! {
                    _ = finished.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        })
    };
    let note = move |v: Value| {
        if let Ok(mut p) = latest.lock() {
            *p = v;
        }
    };
    tracing::info!(job = %id, kind = request.kind(), "job started");
    let outcome = work(&ctx, &request, &cancel, &note).await;
    finished.cancel();
    let _ = watcher.await;
    let (state, result) = match outcome {
        Ok(result) if cancel.is_cancelled() => ("cancelled", result),
        Ok(result) => ("done", result),
        Err(e) => ("failed", json!({ "error": e })),
    };
    tracing::info!(job = %id, kind = request.kind(), state, "job ended");
    if let Err(e) = ctx.meta.finish_job(&id, state, &result).await {
        tracing::error!(job = %id, error = %e, "recording a job's end");
    }
}

async fn work(
    ctx: &Context,
    request: &JobRequest,
    cancel: &CancellationToken,
    note: &(dyn Fn(Value) + Send + Sync),
) -> Result<Value, String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    match request {
        JobRequest::Gc { grace_secs } => {
            let mut settings = ctx.gc;
            if let Some(g) = grace_secs {
                settings.grace_secs = *g;
            }
            let collector = cairn_store::collector::Collector::new(
                ctx.meta.clone(),
                ctx.blobs.clone(),
                settings,
            );
            let report = collector
                .run(cancel, &|step, r| {
                    note(json!({ "step": step, "report": r }))
                })
                .await
                .map_err(|e| text(&e))?;
            Ok(json!({ "report": report }))
        }
        JobRequest::Retention {} => {
            note(json!({ "step": "planning and deleting" }));
            let (plans, report) = cairn_store::retention::apply(
                &*ctx.meta,
                &ctx.retention,
                &ctx.tag_rules,
                cairn_packages::now(),
                ctx.max_deletions,
                cancel,
            )
            .await
            .map_err(|e| text(&e))?;
            Ok(json!({ "plans": plans, "report": report }))
        }
        JobRequest::Fsck { rehash } => {
            let total = ctx.meta.blob_counts().await.map_err(|e| text(&e))?;
            let rows = total.live + total.candidates + total.deleting;
            let report = cairn_store::collector::fsck(
                &*ctx.meta,
                &*ctx.blobs,
                *rehash,
                false,
                cancel,
                &|r| note(json!({ "step": "checking blobs", "checked": r.rows, "of": rows })),
            )
            .await
            .map_err(|e| text(&e))?;
            Ok(json!({ "clean": report.clean(), "report": report }))
        }
        JobRequest::Backup { to } => {
            note(json!({ "step": "taking the snapshot" }));
            let (dir, made) = cairn_store::backup::create_backup(
                ctx.meta.clone(),
                ctx.blobs.clone(),
                to,
                &Default::default(),
            )
            .await
            .map_err(|e| format!("{e:#}"))?;
            Ok(json!({ "dir": dir, "backup": made }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn context(dir: &std::path::Path) -> Context {
        let url = format!("sqlite://{}", dir.join("m.db").display());
        let meta = cairn_store::sql::SqlMetaStore::open(&url).await.unwrap();
        let blobs = cairn_store::fs::FsBlobStore::open(dir.join("blobs"))
            .await
            .unwrap();
        Context {
            meta: Arc::new(meta),
            blobs: Arc::new(blobs),
            gc: Default::default(),
            retention: Default::default(),
            tag_rules: vec![],
            max_deletions: 10,
        }
    }

    #[tokio::test]
    async fn a_job_runs_to_its_end_or_stops_when_cancelled_through_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path()).await;
        let meta = ctx.meta.clone();
        let who = Actor::local("test");
        let request = JobRequest::Fsck { rehash: true };
        meta.start_job("j1", "fsck", &request.params(), &who)
            .await
            .unwrap();
        run(ctx, "j1".into(), request.clone(), CancellationToken::new()).await;
        let job = meta.job("j1").await.unwrap().unwrap();
        assert_eq!(job.state, "done", "{job:?}");
        assert_eq!(job.result.unwrap()["clean"], true);
        assert!(
            !meta.cancel_job("j1", &who).await.unwrap(),
            "a finished job is not running"
        );

        // Cancelled from another replica (through the database) before it ran.
        let ctx = context(dir.path()).await;
        meta.start_job("j2", "gc", &json!({}), &who).await.unwrap();
        assert!(meta.cancel_job("j2", &who).await.unwrap());
        let request = JobRequest::Gc {
            grace_secs: Some(0),
        };
        run(ctx, "j2".into(), request, CancellationToken::new()).await;
        let job = meta.job("j2").await.unwrap().unwrap();
        assert_eq!(job.state, "cancelled", "{job:?}");
        assert_eq!(job.result.unwrap()["report"]["cancelled"], true);
        let entries = meta
            .audit_log(&cairn_store::AuditFilter {
                action: Some("job.finish".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn requests_read_as_the_api_documents_them() {
        let r: JobRequest = serde_json::from_str(r#"{"kind": "gc", "grace_secs": 0}"#).unwrap();
        assert!(matches!(
            r,
            JobRequest::Gc {
                grace_secs: Some(0)
            }
        ));
        let r: JobRequest = serde_json::from_str(r#"{"kind": "fsck"}"#).unwrap();
        assert!(matches!(r, JobRequest::Fsck { rehash: false }));
        assert!(serde_json::from_str::<JobRequest>(r#"{"kind": "format-disk"}"#).is_err());
        assert!(serde_json::from_str::<JobRequest>(r#"{"kind": "backup"}"#).is_err());
    }
}
