//! The package store: language packages (npm, PyPI, Cargo, ...), their
//! versions, files, lifecycle states, dist-tags and owners.
//!
//! One shape for every format: a package (filed under its canonical key,
//! see [`cairn_core::package_key`]) has versions; a version has a state, a
//! format-specific metadata document (JSON text the adapter owns) and files;
//! a file points at a content-addressed blob. The lifecycle rules come from
//! [`cairn_core::lifecycle`] and are checked inside the write's transaction.

use crate::audit::Actor;
use crate::error::StoreError;
use async_trait::async_trait;
use cairn_core::lifecycle::{LifecyclePolicy, Transition, VersionState};
use cairn_core::{Digest, Format, PackageRef};
use std::collections::BTreeMap;

/// One file of a version: an npm tarball, a wheel or sdist, a `.crate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub filename: String,
    pub version: String,
    pub digest: Digest,
    pub size: u64,
    /// Format-specific facts about the file (JSON text), e.g. PyPI's
    /// `requires-python` or the digest of a wheel's METADATA.
    pub metadata: String,
    /// A second blob served beside this file and kept alive by it (a
    /// wheel's METADATA, PEP 658).
    pub companion: Option<Digest>,
    /// Seconds since the epoch (set by the store on publish).
    pub created_at: i64,
}

/// A version as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    pub version: String,
    pub state: VersionState,
    /// The yank reason or deprecation message.
    pub message: Option<String>,
    /// The format's metadata document for this version (JSON text).
    pub metadata: String,
    pub published_at: i64,
    pub changed_at: i64,
    pub files: Vec<FileRecord>,
}

/// A package with everything about it, versions in publishing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRecord {
    /// The canonical key.
    pub package: String,
    /// The name as first published.
    pub name: String,
    pub created_at: i64,
    /// Changes with every change to the package (see
    /// [`PackageStore::package_revision`]).
    pub revision: i64,
    pub versions: Vec<VersionRecord>,
    /// Dist-tags (npm): tag → version.
    pub tags: BTreeMap<String, String>,
}

impl PackageRecord {
    pub fn version(&self, version: &str) -> Option<&VersionRecord> {
        self.versions.iter().find(|v| v.version == version)
    }
}

/// A package's versions by name, cheap to read however many there are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionIndex {
    /// As [`PackageRecord::revision`].
    pub revision: i64,
    /// When the package last changed (seconds since the epoch).
    pub updated_at: i64,
    /// Every version ever published (tombstones included), in publishing order.
    pub versions: Vec<String>,
    /// The versions that are not active: their state and message.
    pub not_active: BTreeMap<String, (VersionState, Option<String>)>,
}

impl VersionIndex {
    pub fn state(&self, version: &str) -> VersionState {
        self.not_active
            .get(version)
            .map(|(s, _)| *s)
            .unwrap_or(VersionState::Active)
    }
}

/// A version to publish (or, for formats with several files per version,
/// files to add to one).
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub format: Format,
    pub repository: String,
    /// The canonical key.
    pub package: String,
    /// The name as the publisher spelled it (kept from the first publish).
    pub name: String,
    pub version: String,
    pub metadata: String,
    /// Keys of the packages (same format) this version depends on.
    pub dependencies: Vec<String>,
    pub files: Vec<FileRecord>,
    /// Dist-tags to point at this version.
    pub tags: Vec<String>,
    /// Recorded as an owner when the package is new.
    pub owner: Option<String>,
}

/// Where a staging repository is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagingState {
    /// Accepting deploys.
    Open,
    /// Validated and frozen: may be released or dropped.
    Closed,
    /// Promoted into its repository (final).
    Released,
    /// Abandoned (final).
    Dropped,
}

impl StagingState {
    pub fn as_str(self) -> &'static str {
        match self {
            StagingState::Open => "open",
            StagingState::Closed => "closed",
            StagingState::Released => "released",
            StagingState::Dropped => "dropped",
        }
    }

    pub fn parse(s: &str) -> Option<StagingState> {
        [
            StagingState::Open,
            StagingState::Closed,
            StagingState::Released,
            StagingState::Dropped,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// A staging repository of `repository` (the one it releases into).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagingRecord {
    pub format: Format,
    pub repository: String,
    pub id: String,
    pub state: StagingState,
    /// Why the last close failed, or what the last change did.
    pub detail: Option<String>,
    pub created_at: i64,
    pub changed_at: i64,
}

/// How a publish treats an existing version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishMode {
    /// npm, Cargo: the version must never have existed.
    NewVersion,
    /// PyPI: files may be added to a live version, under new file names.
    AddFiles,
}

/// Package operations. Each method is one transaction, appending its audit
/// entry (naming `actor`) in that transaction; refusals are audited too.
#[async_trait]
pub trait PackageStore: Send + Sync + 'static {
    /// Publishes a version (or adds files to one), its dependencies and
    /// dist-tags. Refused with [`StoreError::Lifecycle`] if the version or a
    /// file name exists or ever existed.
    async fn publish(
        &self,
        new: &NewVersion,
        mode: PublishMode,
        actor: &Actor,
    ) -> Result<(), StoreError>;

    /// A package with its versions (tombstones included), files and tags.
    async fn package(&self, pkg: PackageRef<'_>) -> Result<Option<PackageRecord>, StoreError>;

    /// The package's version names in publishing order and the states of
    /// those that are not active: two small reads, however many versions.
    async fn version_index(&self, pkg: PackageRef<'_>) -> Result<Option<VersionIndex>, StoreError>;

    /// [`PackageStore::package`] without the files (each version's `files`
    /// is empty): what a version list needs, at a fraction of the cost for
    /// packages with many files.
    async fn package_versions(
        &self,
        pkg: PackageRef<'_>,
    ) -> Result<Option<PackageRecord>, StoreError>;

    /// How many package changes (publish, state change, dist-tag, staging
    /// release) this process has committed. A cache that remembers this
    /// count with an entry, read before the entry's data, knows the entry is
    /// stale on this replica as soon as the count moves.
    fn local_package_changes(&self) -> u64;

    /// The package's current revision (`None` if there is no such package):
    /// one lookup that tells whether a [`PackageRecord`] read earlier, and
    /// anything rendered from it, is still current.
    async fn package_revision(&self, pkg: PackageRef<'_>) -> Result<Option<i64>, StoreError>;

    /// One file of a package, with the state of its version.
    async fn package_file(
        &self,
        pkg: PackageRef<'_>,
        filename: &str,
    ) -> Result<Option<(FileRecord, VersionState)>, StoreError>;

    /// Moves a version through the lifecycle (yank, deprecate, unpublish,
    /// and back), checked by [`cairn_core::lifecycle::check_transition`]
    /// against `policy` and the packages that depend on this one. An
    /// unpublish also removes the dist-tags pointing at the version.
    #[allow(clippy::too_many_arguments)]
    async fn change_version(
        &self,
        pkg: PackageRef<'_>,
        version: &str,
        transition: &Transition,
        policy: &LifecyclePolicy,
        admin_override: bool,
        actor: &Actor,
    ) -> Result<VersionState, StoreError>;

    /// Points a dist-tag at a live version, or removes it (`version: None`).
    /// Returns whether anything changed.
    async fn set_dist_tag(
        &self,
        pkg: PackageRef<'_>,
        tag: &str,
        version: Option<&str>,
        actor: &Actor,
    ) -> Result<bool, StoreError>;

    /// Versions (not unpublished) of other packages of the same format, in
    /// any repository, that depend on the package `package` (a key): at
    /// most `limit`, as (repository, package, version), ordered. Callers
    /// show only the repositories the reader may read.
    async fn dependents_of(
        &self,
        format: Format,
        package: &str,
        limit: u32,
    ) -> Result<Vec<(String, String, String)>, StoreError>;

    /// The owners of a package (who may publish new versions of it, where
    /// the format has owners).
    async fn owners(&self, pkg: PackageRef<'_>) -> Result<Vec<String>, StoreError>;

    /// Adds and removes owners.
    async fn change_owners(
        &self,
        pkg: PackageRef<'_>,
        add: &[String],
        remove: &[String],
        actor: &Actor,
    ) -> Result<(), StoreError>;

    /// A staging repository, if it exists.
    async fn staging(
        &self,
        format: Format,
        repository: &str,
        id: &str,
    ) -> Result<Option<StagingRecord>, StoreError>;

    /// The staging repositories of a repository, by id.
    async fn stagings(
        &self,
        format: Format,
        repository: &str,
    ) -> Result<Vec<StagingRecord>, StoreError>;

    /// Creates the staging repository `id` (open) unless it exists; returns it as stored.
    async fn open_staging(
        &self,
        format: Format,
        repository: &str,
        id: &str,
        actor: &Actor,
    ) -> Result<StagingRecord, StoreError>;

    /// Moves a staging repository from `from` to `to` (compare-and-swap:
    /// `false`, and nothing changed, if it was not in `from`).
    #[allow(clippy::too_many_arguments)]
    async fn set_staging_state(
        &self,
        format: Format,
        repository: &str,
        id: &str,
        from: StagingState,
        to: StagingState,
        detail: Option<&str>,
        actor: &Actor,
    ) -> Result<bool, StoreError>;

    /// Releases a closed staging repository: in one transaction, adds every
    /// file of `versions` (each naming `repository`) under the lifecycle
    /// rules and marks the staging repository released. Any refusal (a
    /// file that exists, a state that is no longer `closed`) leaves
    /// everything as it was.
    async fn release_staging(
        &self,
        format: Format,
        repository: &str,
        id: &str,
        versions: &[NewVersion],
        actor: &Actor,
    ) -> Result<(), StoreError>;

    /// Keys of packages whose key or name contains `query` (case-insensitive),
    /// in key order, at most `limit`.
    async fn search_packages(
        &self,
        format: Format,
        repository: &str,
        query: &str,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;
}
