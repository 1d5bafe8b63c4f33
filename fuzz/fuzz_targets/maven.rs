//! Maven repository paths and POMs: never panic; a parsed path never holds
//! a segment that could leave the repository.
#![no_main]

use cairn_maven::{layout, pom};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(p) = layout::parse(text) {
            assert!(!text.split('/').any(|s| s == ".." || s == "." || s.is_empty()));
            if let layout::Target::File { gav, filename } = &p.target {
                let _ = layout::snapshot_file(gav, filename);
            }
        }
    }
    let _ = pom::parse(data);
});
