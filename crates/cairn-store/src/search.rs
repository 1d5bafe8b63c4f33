//! Search across every format: names (packages and image repositories),
//! manifest digests by prefix, one version of one package (a purl), and
//! manifest annotations. What a caller may read is decided above this
//! (the admin API's search handler, through the guard).

use crate::error::StoreError;
use async_trait::async_trait;

/// One thing found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SearchHit {
    /// `package`, `version`, `repository` (an image repository) or `manifest`.
    pub kind: &'static str,
    /// `npm`, `pypi`, `cargo`, `go`, `maven`, or `oci`.
    pub format: String,
    pub repository: String,
    /// A package's name (as published), empty for images.
    pub name: String,
    /// The package key (normalised name) the package's URLs use.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub package: String,
    /// The version found, or a package's last five versions in publishing order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The tags naming a manifest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Created or published, Unix seconds.
    pub at: i64,
    /// A version's lifecycle state (`active`, `yanked`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

#[async_trait]
pub trait SearchStore: Send + Sync + 'static {
    /// Packages and image repositories whose name contains `text` (no case).
    async fn search_names(&self, text: &str, limit: u32) -> Result<Vec<SearchHit>, StoreError>;
    /// Manifests whose digest starts with `prefix` (`sha256:...`), with their tags.
    async fn search_digest(&self, prefix: &str, limit: u32) -> Result<Vec<SearchHit>, StoreError>;
    /// The versions `version` of the package `key` of `format` in any repository.
    async fn search_version(
        &self,
        format: &str,
        key: &str,
        version: &str,
        limit: u32,
    ) -> Result<Vec<SearchHit>, StoreError>;
    /// Manifests whose annotations contain `text`.
    async fn search_annotations(
        &self,
        text: &str,
        limit: u32,
    ) -> Result<Vec<SearchHit>, StoreError>;
}
