//! Signature verdicts: which configured signer signed which manifest, under
//! which version of the trust configuration (see `cairn_core::trust`).
//!
//! The OCI adapter verifies a signature artifact when it is pushed and
//! records the artifact with its verdicts; a pull-time policy reads the
//! verdicts of the manifest and of the indexes listing it — index lookups
//! only. When the trust configuration changes, the artifacts not yet
//! evaluated under the new version are listed
//! ([`SignatureStore::unevaluated_signatures`]) and evaluated again. A
//! deleted signature artifact takes its verdicts with it.

use crate::StoreError;
use async_trait::async_trait;
use cairn_core::trust::Verdict;

#[async_trait]
pub trait SignatureStore: Send + Sync + 'static {
    /// Records the signature artifact `signature` of `repository` as
    /// evaluated under `trust_version`, with these verdicts (replacing the
    /// verdicts it had under that version). Nothing is recorded when the
    /// artifact's manifest is no longer stored.
    async fn record_signature(
        &self,
        repository: &str,
        signature: &str,
        trust_version: &str,
        verdicts: &[Verdict],
    ) -> Result<(), StoreError>;

    /// The verdicts under `trust_version` for `digest` in `repository` and
    /// for the indexes there that list it (one indexed query: what every
    /// pull under a signature policy asks).
    async fn verdicts(
        &self,
        repository: &str,
        digest: &str,
        trust_version: &str,
    ) -> Result<Vec<Verdict>, StoreError>;

    /// Up to `limit` recorded signature artifacts `(repository, digest)` not
    /// evaluated under `trust_version`.
    async fn unevaluated_signatures(
        &self,
        trust_version: &str,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// The manifests of `repository` that list `digest` (an index's children).
    async fn indexes_listing(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<String>, StoreError>;

    /// The tags of `repository` naming any of `digests`.
    async fn tags_naming(
        &self,
        repository: &str,
        digests: &[String],
    ) -> Result<Vec<String>, StoreError>;

    /// Records that the upstream's signatures of `subject` in the proxy
    /// repository `repository` were checked under `trust_version` now, with
    /// the verdicts they earned (added to any recorded before).
    async fn record_proxied_verdicts(
        &self,
        repository: &str,
        subject: &str,
        trust_version: &str,
        verdicts: &[Verdict],
    ) -> Result<(), StoreError>;

    /// When the upstream's signatures of `subject` were last checked under
    /// `trust_version` (Unix seconds).
    async fn proxied_signatures_checked(
        &self,
        repository: &str,
        subject: &str,
        trust_version: &str,
    ) -> Result<Option<i64>, StoreError>;
}
