//! SBOMs and the component index: which artifacts contain which packages.
//!
//! An SBOM is attached to a subject — an OCI manifest by digest, or a
//! package version — and indexed when it arrives: one row per distinct
//! component, keyed by (ecosystem, name, version key), so that "who ships
//! log4j-core >= 2.0.0, < 2.17.1" is one range scan of one index
//! ([`ComponentQuery`]). Answers only name subjects that exist: an SBOM of a
//! deleted manifest or an unpublished version is not an answer.

use crate::{Actor, StoreError};
use async_trait::async_trait;
use cairn_core::sbom::Sbom;
use cairn_core::vers::VersRange;
use cairn_core::version_key::{Scheme, VersionKey};
use cairn_core::Digest;

/// What an SBOM describes. `format` is `oci` (then `subject` is a manifest
/// digest and `version` is empty) or a package format (then `subject` is
/// the package key and `version` the version).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SbomSubject {
    pub format: String,
    pub repository: String,
    pub subject: String,
    pub version: String,
}

/// An SBOM to index.
pub struct SbomWrite<'a> {
    pub subject: SbomSubject,
    /// Where it came from: the SBOM artifact's manifest digest (OCI), or the
    /// document's own digest (a package SBOM, whose bytes the store keeps).
    pub source: String,
    /// The document's digest.
    pub digest: Digest,
    pub media_type: String,
    pub sbom: &'a Sbom,
    /// For an SBOM of a proxied image: the proxy cache entry (repository,
    /// key) of the manifest it describes, which holds the index as a stored
    /// manifest holds a pushed image's (indexed only while the entry
    /// exists; forgotten when it is dropped).
    pub cache_entry: Option<(String, String)>,
}

/// An indexed SBOM.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SbomRecord {
    pub id: i64,
    #[serde(flatten)]
    pub subject: SbomSubject,
    pub source: String,
    pub digest: String,
    pub media_type: String,
    pub sbom_format: String,
    pub spec_version: String,
    pub components: i64,
    pub skipped: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameMatch {
    Exact(String),
    /// Names starting with this (never a substring or a pattern).
    Prefix(String),
}

#[derive(Debug, Clone)]
pub enum VersionMatch {
    Any,
    /// Equal in the ecosystem's order (`1.0` finds `1.0.0` in Maven).
    Exact(String),
    Range(VersRange),
}

/// Where a page ends; the next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentCursor {
    pub name: String,
    pub vkey: Vec<u8>,
    pub sbom_id: i64,
}

impl ComponentCursor {
    /// An opaque text form for URLs.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}.{}",
            hex::encode(&self.name),
            hex::encode(&self.vkey),
            self.sbom_id
        )
    }

    pub fn decode(text: &str) -> Option<ComponentCursor> {
        let mut parts = text.split('.');
        let name = String::from_utf8(hex::decode(parts.next()?).ok()?).ok()?;
        let vkey = hex::decode(parts.next()?).ok()?;
        let sbom_id = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(ComponentCursor {
            name,
            vkey,
            sbom_id,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ComponentQuery {
    pub ecosystem: String,
    pub name: NameMatch,
    pub versions: VersionMatch,
    pub after: Option<ComponentCursor>,
    pub limit: u32,
}

/// One artifact containing a matching component.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Occurrence {
    pub ecosystem: String,
    pub name: String,
    pub version: Option<String>,
    pub purl: String,
    pub sbom: SbomRecord,
    /// The tags of an OCI subject (none for packages).
    pub tags: Vec<String>,
}

pub struct ComponentPage {
    pub occurrences: Vec<Occurrence>,
    /// Set when there may be more.
    pub next: Option<ComponentCursor>,
}

/// The stored version key of a component: 0x00 for no version, 0x01 and
/// the ordered key, or 0x02 and the text of a version its ecosystem cannot
/// order (found by exact and any-version queries only).
pub fn stored_vkey(version: Option<&str>, key: Option<&VersionKey>) -> Vec<u8> {
    match (version, key) {
        (None, _) => vec![0x00],
        (Some(_), Some(k)) => [&[0x01], k.as_bytes()].concat(),
        (Some(v), None) => [&[0x02], v.as_bytes()].concat(),
    }
}

/// The stored key an exact version query looks for.
pub fn exact_vkey(ecosystem: &str, version: &str) -> Vec<u8> {
    let key = Scheme::for_purl_type(ecosystem).and_then(|s| s.key(version).ok());
    stored_vkey(Some(version), key.as_ref())
}

#[async_trait]
pub trait SbomStore: Send + Sync + 'static {
    /// Indexes an SBOM of its subject, replacing what the same source
    /// indexed for it before; all of it or nothing, audited as
    /// `sbom.index`. The subject must exist (an OCI SBOM's source manifest,
    /// a package SBOM's version: `StoreError::Conflict` otherwise); a
    /// package SBOM's document blob is claimed like any reference.
    async fn index_sbom(
        &self,
        write: &SbomWrite<'_>,
        actor: &Actor,
    ) -> Result<SbomRecord, StoreError>;

    /// Removes a package version's SBOM (by the document's digest) with its
    /// components; its bytes become the collector's candidate. Audited as
    /// `sbom.remove`. Whether it was there. (An image's SBOM goes with its
    /// artifact's manifest.)
    async fn remove_sbom(
        &self,
        subject: &SbomSubject,
        digest: &str,
        actor: &Actor,
    ) -> Result<bool, StoreError>;

    /// The SBOMs indexed for a subject.
    async fn sboms_of(&self, subject: &SbomSubject) -> Result<Vec<SbomRecord>, StoreError>;

    /// One page of the artifacts containing a matching component, in
    /// (name, version, SBOM) order.
    async fn query_components(&self, query: &ComponentQuery) -> Result<ComponentPage, StoreError>;
}

/// Reads an SBOM document from a blob stream without holding it: the
/// bytes go through the core's streaming parser on a blocking thread.
pub async fn parse_stream(
    stream: crate::ByteStream,
    limits: cairn_core::sbom::Limits,
) -> Result<Sbom, cairn_core::sbom::SbomError> {
    let reader = tokio_util::io::StreamReader::new(stream);
    tokio::task::spawn_blocking(move || {
        let sync = tokio_util::io::SyncIoBridge::new(reader);
        cairn_core::sbom::parse(std::io::BufReader::new(sync), limits)
    })
    .await
    .unwrap_or_else(|e| {
        Err(cairn_core::sbom::SbomError::Malformed(format!(
            "reader failed: {e}"
        )))
    })
}
