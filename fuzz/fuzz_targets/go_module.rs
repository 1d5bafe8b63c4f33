//! Uploaded Go module zips and go.mod files: never panic; every file read
//! from a zip has a valid, non-escaping path; proxy-escaping round-trips.
#![no_main]

use cairn_go::{gomod, module, modzip};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(files) = modzip::read("example.com/m", "v1.0.0", data) {
        for path in files.keys() {
            assert!(modzip::check_file_path(path).is_ok());
        }
        let _ = modzip::zip_hash("example.com/m", "v1.0.0", &files);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = gomod::parse(text);
        if let Some(path) = module::unescape(text) {
            assert_eq!(module::unescape(&module::escape(&path)), Some(path));
        }
        let _ = module::Version::parse(text);
    }
});
