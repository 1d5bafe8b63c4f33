//! cairn's pure core: the rules every adapter shares.
//!
//! The rule of this layer: no I/O, no HTTP, no clock. Adapters parse their wire
//! protocol, then ask the core what is valid and what is allowed; stores only
//! persist what the core has accepted. Everything here is a plain function or a
//! plain type, so it is unit- and property-tested without a server.

pub mod access;
pub mod advisory;
pub mod digest;
pub mod lifecycle;
pub mod manifest;
pub mod name;
pub mod package;
pub mod policy;
pub mod purl;
pub mod quota;
pub mod retention;
pub mod routing;
pub mod sbom;
pub mod secrets;
pub mod tlog;
pub mod trust;
pub mod vers;
pub mod version_key;
pub mod version_retention;
pub mod vuln_policy;

pub use access::{Action, Principal};
pub use digest::{Algorithm, Digest, DigestError, Hasher};
pub use lifecycle::{LifecycleError, LifecyclePolicy, Transition, VersionState};
pub use name::{NameError, Reference, RepoName, Tag};
pub use package::{package_key, Format, PackageNameError, PackageRef};

/// Seconds since the Unix epoch (0 on a clock set before it): the one
/// clock every crate's timestamps read.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
