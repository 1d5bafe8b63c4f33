//! Vulnerability advisories and what they affect.
//!
//! Advisories (OSV, parsed by `cairn_core::advisory`) are kept with the
//! intervals of version keys they affect, per (ecosystem, name): the same
//! keys the component index uses, so an advisory finds the SBOM components
//! it affects with index range scans, and a package version finds its
//! advisories with one lookup. Findings are worked out when asked, from
//! what is stored at that moment: an import changes the answers at once,
//! and only the advisories whose `modified` time moved are rewritten.
//!
//! Hosted package versions are matched as packages of their own ecosystem
//! (an npm version of `acme-app` is `pkg:npm/acme-app`), besides whatever
//! their SBOMs name.

use crate::sbom::SbomSubject;
use crate::StoreError;
use async_trait::async_trait;
use cairn_core::advisory::{Advisory, Severity};

/// Where a batch of advisories came from, kept with each.
#[derive(Debug, Clone)]
pub struct AdvisorySource {
    /// e.g. `osv:npm/all.zip`.
    pub source: String,
    /// The data's licence and attribution, e.g. `CC-BY-4.0 (GitHub Advisory Database)`.
    pub licence: String,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportCounts {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// An advisory as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AdvisoryRecord {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: String,
    pub severity: Severity,
    pub score: Option<f64>,
    pub modified: i64,
    pub published: Option<i64>,
    pub withdrawn: Option<i64>,
    pub source: String,
    pub licence: String,
}

/// One artifact affected by one advisory, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    pub advisory: AdvisoryRecord,
    /// The image or package version affected.
    pub artifact: SbomSubject,
    /// The affected package: a component of an SBOM, or the package version itself.
    pub ecosystem: String,
    pub name: String,
    pub version: Option<String>,
    /// The purl as the SBOM wrote it (`None` for the package itself).
    pub purl: Option<String>,
    /// The SBOM the component came from (`None` for the package itself).
    pub sbom: Option<String>,
}

/// Which artifacts a findings report covers.
#[derive(Debug, Clone)]
pub enum FindingScope {
    /// One advisory, everywhere.
    Advisory(String),
    /// One image or package version.
    Artifact(SbomSubject),
    /// Every artifact of a repository (`format` `oci` or a package format).
    Repository { format: String, repository: String },
}

#[async_trait]
pub trait AdvisoryStore: Send + Sync + 'static {
    /// Stores a batch in one transaction: new advisories are added, those
    /// whose `modified` time moved replace what was stored, the rest are
    /// left as they are.
    async fn import_advisories(
        &self,
        batch: &[Advisory],
        from: &AdvisorySource,
    ) -> Result<ImportCounts, StoreError>;

    async fn advisory(&self, id: &str) -> Result<Option<AdvisoryRecord>, StoreError>;

    /// How many advisories are stored, and when the newest was imported
    /// (how old the data is).
    async fn advisory_data(&self) -> Result<(i64, Option<i64>), StoreError>;

    /// The findings in scope, withdrawn advisories left out, subjects that
    /// exist only (most severe first, at most `limit`).
    async fn findings(&self, scope: &FindingScope, limit: u32) -> Result<Vec<Finding>, StoreError>;

    /// Accepts an advisory for the repositories a pattern covers until it
    /// expires (replacing an exception of the same advisory and pattern);
    /// audited as `vuln.exception.set`.
    async fn set_exception(
        &self,
        exception: &cairn_core::vuln_policy::Exception,
        actor: &crate::Actor,
    ) -> Result<(), StoreError>;

    /// Removes one; audited as `vuln.exception.remove`. Whether it existed.
    async fn remove_exception(
        &self,
        advisory: &str,
        repositories: &str,
        actor: &crate::Actor,
    ) -> Result<bool, StoreError>;

    /// The exceptions of these advisories (all of them when empty), expired
    /// ones included (the decision looks at `expires_at`).
    async fn exceptions(
        &self,
        advisories: &[String],
    ) -> Result<Vec<cairn_core::vuln_policy::Exception>, StoreError>;
}
