//! cairn's own publish attestations: per published file, a Sigstore bundle
//! of an in-toto statement signed with the registry's key
//! (`cairn_core::trust::registry`), recorded after the publish commits.

use crate::StoreError;
use async_trait::async_trait;

/// One file's publish attestation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PublishAttestation {
    pub format: String,
    pub repository: String,
    /// The package's canonical key.
    pub package: String,
    pub version: String,
    pub filename: String,
    /// The file's digest (`sha256:<hex>`), the statement's subject.
    pub digest: String,
    /// The Sigstore bundle (JSON text).
    pub bundle: String,
    pub created_at: i64,
}

#[async_trait]
pub trait AttestationStore: Send + Sync + 'static {
    /// Records an attestation; one already recorded for the file is kept
    /// (a file is published once).
    async fn record_publish_attestation(&self, a: &PublishAttestation) -> Result<(), StoreError>;

    /// The attestations of a package version's files, by file name.
    async fn publish_attestations(
        &self,
        format: &str,
        repository: &str,
        package: &str,
        version: &str,
    ) -> Result<Vec<PublishAttestation>, StoreError>;
}
