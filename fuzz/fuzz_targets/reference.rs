//! Repository names and references from URLs: never panic, and an accepted
//! name never contains an empty, `.` or `..` path segment.
#![no_main]

use cairn_core::{Reference, RepoName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    if let Ok(name) = RepoName::parse(data) {
        assert!(!name.as_str().split('/').any(|c| c.is_empty() || c == "." || c == ".."));
    }
    let _ = Reference::parse(data);
});
