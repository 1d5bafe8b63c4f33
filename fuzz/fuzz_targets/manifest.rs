//! Untrusted manifest bytes, with and without a Content-Type, must never
//! panic the parser, and whatever it accepts must be self-consistent.
#![no_main]

use cairn_core::manifest::{parse_manifest, ManifestKind, MANIFEST_MEDIA_TYPES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (selector, body) = data.split_first().map(|(s, b)| (*s, b)).unwrap_or((0, data));
    let content_type = MANIFEST_MEDIA_TYPES.get(selector as usize % 8).copied();
    if let Ok(m) = parse_manifest(content_type, body) {
        assert!(MANIFEST_MEDIA_TYPES.contains(&m.media_type.as_str()));
        if m.kind == ManifestKind::Index {
            assert!(m.blobs.is_empty());
        } else {
            assert!(m.manifests.is_empty());
        }
    }
});
