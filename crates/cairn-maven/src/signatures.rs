//! Side files that sign another file: `.asc` (OpenPGP, checked against
//! `[[packages.openpgp_keys]]`) and `.sigstore.json` (a Sigstore bundle,
//! checked against the trust configuration's keys and keyless identities,
//! offline). One rule, used at deploy and again at staging close.

use cairn_core::trust::evidence;
use cairn_packages::PackagesConfig;

/// The file a side file signs, when it is a signature.
pub(crate) fn signed_name(filename: &str) -> Option<&str> {
    filename
        .strip_suffix(".asc")
        .or_else(|| filename.strip_suffix(".sigstore.json"))
}

/// Whether nothing is configured to check `filename` with (then it is
/// stored unchecked).
pub(crate) fn unchecked(config: &PackagesConfig, filename: &str) -> bool {
    if filename.ends_with(".asc") {
        config.openpgp.is_empty()
    } else {
        config.trust.is_empty()
    }
}

/// Who made the signature `side` (named `filename`) of `content`, or why
/// nobody configured did.
pub(crate) fn verify(
    config: &PackagesConfig,
    filename: &str,
    side: &[u8],
    content: &[u8],
) -> Result<String, String> {
    if filename.ends_with(".asc") {
        return config.openpgp.verify(side, content);
    }
    let signatures = evidence::file_bundle(side, content).map_err(|e| e.to_string())?;
    let now = cairn_packages::now();
    let mut problems = Vec::new();
    for s in &signatures {
        let found = config.trust.signers_of(s, now);
        if let Some(signer) = found.ids.into_iter().next() {
            return Ok(signer);
        }
        problems.extend(found.problems);
    }
    problems.insert(
        0,
        "no configured signing key or identity made it".to_string(),
    );
    Err(problems.join("; "))
}
