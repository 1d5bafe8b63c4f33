//! When something was last used (an image pulled, a package version
//! downloaded), written for retention policies without a write per
//! request: each replica writes a thing's use at most once per
//! [`UseNotes::EVERY_SECS`], in the background, never delaying the answer.

use std::future::Future;

/// A replica's memory of the uses it wrote recently (only a cache: another
/// replica writing the same use again costs one more write, nothing else).
pub struct UseNotes {
    written: quick_cache::sync::Cache<String, i64>,
}

impl Default for UseNotes {
    fn default() -> Self {
        UseNotes {
            written: quick_cache::sync::Cache::new(100_000),
        }
    }
}

impl UseNotes {
    /// A use is written at most this often per thing and replica.
    pub const EVERY_SECS: i64 = 3600;

    /// Runs `write` in the background unless this replica wrote the use of
    /// `key` within [`Self::EVERY_SECS`]; `what` names it in a failure's log line.
    pub fn note<F>(&self, key: String, what: &'static str, write: F)
    where
        F: Future<Output = Result<(), crate::StoreError>> + Send + 'static,
    {
        let now = crate::now();
        if self
            .written
            .get(&key)
            .is_some_and(|at| now - at < Self::EVERY_SECS)
        {
            return;
        }
        self.written.insert(key.clone(), now);
        tokio::spawn(async move {
            if let Err(e) = write.await {
                tracing::warn!(%key, error = %e, "recording {what}");
            }
        });
    }
}
