//! Package names and file names from URLs and uploads: never panic; an
//! accepted key is stable (normalising it again changes nothing) and holds
//! no empty, `.` or `..` path segment.
#![no_main]

use cairn_core::package::{check_version, package_key, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    for f in Format::ALL {
        if let Ok(k) = package_key(f, data) {
            assert!(k.split('/').all(|s| !s.is_empty() && s != "." && s != ".."));
            assert_eq!(package_key(f, &k).ok(), Some(k.clone()));
            let _ = cairn_pypi::upload::check_filename(data, &k, "1.0");
        }
    }
    let _ = check_version(data);
    let _ = cairn_pypi::upload::check_pep440(data);
});
