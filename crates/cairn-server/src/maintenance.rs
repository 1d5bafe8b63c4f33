//! Work a server does on a timer beside serving: the garbage collector and
//! upload expiry ([`cairn_store::collector`]). Every replica may run it;
//! runs on several replicas at once are safe (each decision is one
//! transaction in the shared database).

use crate::AppState;
use cairn_store::collector::Collector;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Runs the collector every `gc.interval_secs` until `stop` is cancelled;
/// a run in progress stops at its next step.
pub(crate) fn spawn_collector(
    state: Arc<AppState>,
    stop: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    let config = state.config.gc.clone();
    if !config.enabled {
        tracing::info!("garbage collection is off on this replica (gc.enabled = false)");
        return None;
    }
    let collector = Collector::new(
        state.meta.clone(),
        state.blob_store.clone(),
        config.settings(),
    );
    let every = Duration::from_secs(config.interval_secs.max(1));
    Some(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            if !state.retention.is_empty() {
                run_retention(&state).await;
            }
            evict_proxy_caches(&state).await;
            let started = std::time::Instant::now();
            match collector.run(&stop, &|_, _| {}).await {
                Ok(report) if report.changed() || report.errors > 0 => tracing::info!(
                    deleted = report.deleted,
                    deleted_bytes = report.deleted_bytes,
                    kept = report.kept,
                    uploads_expired = report.uploads_expired,
                    manifests_indexed = report.manifests_indexed,
                    errors = report.errors,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "garbage collection run"
                ),
                Ok(_) => tracing::debug!("garbage collection run: nothing to do"),
                Err(e) => {
                    tracing::warn!(error = %e, "garbage collection run failed; the next one retries")
                }
            }
        }
    }))
}

/// Carries out the retention policies once (before a collector run, which
/// then collects what they freed).
async fn run_retention(state: &AppState) {
    let result = cairn_store::retention::apply(
        &*state.meta,
        &state.retention,
        &state.tag_rules,
        cairn_packages::now(),
        state.config.gc.retention_max_deletions,
        &tokio_util::sync::CancellationToken::new(),
    )
    .await;
    match result {
        Ok((_, r))
            if r.tags_deleted
                + r.manifests_deleted
                + r.versions_deleted
                + r.files_deleted
                + r.skipped
                > 0
                || r.capped =>
        {
            for (kind, n) in [
                ("tag", r.tags_deleted),
                ("manifest", r.manifests_deleted),
                ("version", r.versions_deleted),
                ("file", r.files_deleted),
            ] {
                metrics::counter!("cairn_retention_deleted_total", "kind" => kind).increment(n);
            }
            tracing::info!(
                tags_deleted = r.tags_deleted,
                manifests_deleted = r.manifests_deleted,
                versions_deleted = r.versions_deleted,
                files_deleted = r.files_deleted,
                skipped = r.skipped,
                capped = r.capped,
                "retention run"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "retention run failed; the next one retries"),
    }
}

/// Drops what each proxy with `evict_after_days` has not served for that
/// long (before a collector run, which then frees the bytes), at most
/// `gc.retention_max_deletions` entries per proxy and run.
async fn evict_proxy_caches(state: &AppState) {
    let max = state.config.gc.retention_max_deletions.min(u32::MAX as u64) as u32;
    let now = cairn_packages::now();
    for proxy in state.oci.proxies().chain(state.packages.proxies()) {
        if proxy.settings().evict_after_days.is_none() {
            continue;
        }
        match proxy.evict_idle(now, max).await {
            Ok(n) => metrics::counter!("cairn_proxy_evicted_total", "repository" => proxy.repository().to_string())
                .increment(n),
            Err(e) => tracing::warn!(repository = %proxy.repository(), error = %e,
                "evicting idle proxy cache entries failed; the next run retries"),
        }
    }
}

/// How often a replica looks for signature artifacts its trust
/// configuration has not evaluated (pushed through a replica with another
/// configuration, or stored before the keys changed).
const SIGNATURE_SWEEP: Duration = Duration::from_secs(60);

/// Evaluates the recorded signature artifacts under this replica's trust
/// configuration: at start (a changed key re-evaluates what is stored,
/// never a pull), then every minute. Several replicas may do it at once.
/// The same minute reloads the npm registry's signing keys (a key rotated
/// with `cairn npm rotate-key` signs on every replica within a minute).
pub(crate) fn spawn_trust_sweep(
    state: Arc<AppState>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let started = std::time::Instant::now();
            let mut total = 0u64;
            loop {
                if stop.is_cancelled() {
                    return;
                }
                match state.oci.evaluate_signatures(200).await {
                    Ok(0) => break,
                    Ok(n) => {
                        total += u64::from(n);
                        tracing::info!(
                            evaluated = total,
                            "re-evaluating stored signatures under the trust configuration"
                        );
                    }
                    Err(e) => {
                        tracing::warn!(error = %e.message, "re-evaluating stored signatures failed; the next sweep retries");
                        break;
                    }
                }
            }
            match crate::npm_registry_keys(state.meta.as_ref()).await {
                Ok(keys) => state.registry_signer.set(Arc::new(keys)),
                Err(e) => {
                    tracing::warn!(error = %e, "reloading the npm registry keys failed; the loaded ones keep signing")
                }
            }
            if total > 0 {
                metrics::counter!("cairn_signatures_reevaluated_total").increment(total);
                tracing::info!(
                    evaluated = total,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "stored signatures evaluated under the current trust configuration"
                );
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(SIGNATURE_SWEEP) => {}
            }
        }
    })
}
