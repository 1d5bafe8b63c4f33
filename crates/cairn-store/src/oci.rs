//! The OCI metadata aggregate: blobs linked to repositories, manifests,
//! tags, referrers and upload sessions.

use crate::audit::Actor;
use crate::error::StoreError;
use async_trait::async_trait;
use cairn_core::policy::TagRule;
use cairn_core::Digest;

/// A manifest stored in a repository. Its bytes are the blob named by `digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    pub repository: String,
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    /// The manifest this one refers to (OCI 1.1 `subject`), for the referrers API.
    pub subject: Option<Digest>,
    pub artifact_type: Option<String>,
    /// The manifest's annotations as a JSON object, if it has any.
    pub annotations: Option<String>,
}

/// What happened to a tag when it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagChange {
    Created,
    Unchanged,
    Moved { from: Digest },
}

/// OCI metadata. Each method is one transaction; tag rules are checked
/// inside it, and every change appends its audit entry (naming `actor`) in
/// that transaction too.
#[async_trait]
pub trait OciStore: Send + Sync + 'static {
    /// Records that `repository` holds the blob `digest`.
    async fn link_blob(
        &self,
        repository: &str,
        digest: &Digest,
        size: u64,
        actor: &Actor,
    ) -> Result<(), StoreError>;
    /// Size of `digest` if `repository` holds it.
    async fn linked_blob(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<Option<u64>, StoreError>;
    /// Repositories holding `digest`, with its size (for automatic mounts).
    async fn blob_holders(
        &self,
        digest: &Digest,
        limit: u32,
    ) -> Result<Vec<(String, u64)>, StoreError>;
    /// Removes a blob from a repository. Returns whether it was there.
    async fn unlink_blob(
        &self,
        repository: &str,
        digest: &Digest,
        actor: &Actor,
    ) -> Result<bool, StoreError>;

    /// Stores a manifest (idempotently) with what it refers to (`references`:
    /// config, layers, an index's children) and points `tags` at it, checking
    /// `rules` for every tag that would move. `stored` are the references
    /// the caller found stored (all of them, except what a manifest may
    /// name without it: non-distributable layers, a sparse repository's).
    /// Refused with [`StoreError::BlobUnknown`] if the manifest's bytes or
    /// one of `stored` is not stored any more (garbage-collected meanwhile).
    async fn put_manifest(
        &self,
        record: &ManifestRecord,
        references: &[Digest],
        stored: &[Digest],
        tags: &[String],
        rules: &[TagRule],
        actor: &Actor,
    ) -> Result<Vec<TagChange>, StoreError>;
    async fn manifest(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<Option<ManifestRecord>, StoreError>;
    async fn resolve_tag(&self, repository: &str, tag: &str) -> Result<Option<Digest>, StoreError>;
    /// The manifest a tag points to, in one lookup (the hot path of pulls).
    async fn tagged_manifest(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Option<ManifestRecord>, StoreError>;
    /// Deletes a manifest and the tags that point to it (refused if a rule
    /// protects one of them). Returns whether it existed.
    async fn delete_manifest(
        &self,
        repository: &str,
        digest: &Digest,
        rules: &[TagRule],
        actor: &Actor,
    ) -> Result<bool, StoreError>;
    /// Deletes a manifest only if no tag points to it (a retention policy's
    /// delete: a tag pushed onto it since the plan keeps it). Returns
    /// whether it was deleted.
    async fn delete_untagged_manifest(
        &self,
        repository: &str,
        digest: &Digest,
        actor: &Actor,
    ) -> Result<bool, StoreError>;
    /// Deletes a tag only if it still points to `digest` (a retention
    /// policy's delete: a tag moved since the plan stays). Returns whether
    /// it was deleted.
    async fn delete_tag_at(
        &self,
        repository: &str,
        tag: &str,
        digest: &Digest,
        rules: &[TagRule],
        actor: &Actor,
    ) -> Result<bool, StoreError>;
    /// A repository's tags and manifests, for retention policies.
    async fn inventory(
        &self,
        repository: &str,
    ) -> Result<cairn_core::retention::Inventory, StoreError>;
    /// When a manifest was pushed to a repository and last pulled from it
    /// (pulls are noted at most hourly), if the repository holds it.
    async fn manifest_times(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<Option<(i64, Option<i64>)>, StoreError>;
    /// Records that a manifest was pulled now (callers throttle it).
    async fn note_pull(&self, repository: &str, digest: &Digest) -> Result<(), StoreError>;
    /// Deletes one tag, leaving its manifest. Returns whether it existed.
    async fn delete_tag(
        &self,
        repository: &str,
        tag: &str,
        rules: &[TagRule],
        actor: &Actor,
    ) -> Result<bool, StoreError>;
    /// Tags in lexical order after `last`, at most `limit`.
    async fn list_tags(
        &self,
        repository: &str,
        last: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;
    /// Whether the repository has ever held anything.
    async fn repository_exists(&self, repository: &str) -> Result<bool, StoreError>;
    /// Repository names in lexical order after `last`, at most `limit`.
    async fn list_repositories(
        &self,
        last: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;
    /// Manifests in `repository` whose subject is `subject`.
    async fn referrers(
        &self,
        repository: &str,
        subject: &Digest,
    ) -> Result<Vec<ManifestRecord>, StoreError>;

    /// Records an upload session and the repository it belongs to.
    async fn create_upload(&self, id: &str, repository: &str) -> Result<(), StoreError>;
    async fn upload_repository(&self, id: &str) -> Result<Option<String>, StoreError>;
    async fn delete_upload(&self, id: &str) -> Result<(), StoreError>;
}
