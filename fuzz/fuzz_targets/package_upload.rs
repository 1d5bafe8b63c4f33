//! Untrusted package uploads: the archive readers (tar.gz and zip), npm's
//! tarball check, PyPI's metadata extraction, Cargo's publish framing and
//! .crate check. None may panic; every path an archive reader accepts is
//! relative and free of `..`.
#![no_main]

use cairn_packages::archive::{check_path, read_tar_gz, read_zip, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_total: 1 << 20,
        max_entries: 1000,
        max_kept: 1 << 16,
    };
    for contents in [read_tar_gz(data, limits, |_| true), read_zip(data, limits, |_| true)]
        .into_iter()
        .flatten()
    {
        for p in &contents.paths {
            assert!(check_path(p).is_ok() && !p.starts_with('/'));
            assert!(!p.split('/').any(|s| s == ".."));
        }
        assert!(contents.kept.values().all(|v| v.len() as u64 <= limits.max_kept));
    }
    let _ = cairn_npm::tarball_manifest(data, limits);
    for dist in [cairn_pypi::upload::Dist::Wheel, cairn_pypi::upload::Dist::Sdist] {
        let _ = cairn_pypi::upload::core_metadata(dist, data, limits);
    }
    let _ = cairn_pypi::upload::parse_core_metadata(&String::from_utf8_lossy(data));
    let _ = cairn_cargo::publish::split_body(data);
    let _ = cairn_cargo::publish::check_crate(data, "a", "1.0.0", limits);
});
