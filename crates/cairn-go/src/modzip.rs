//! Module zips as the go command makes and checks them
//! (golang.org/x/mod/zip): which files of a source tree belong in the zip,
//! the `<module>@<version>/` prefix, file-name and case-collision rules,
//! size limits, and the `h1:` hash (golang.org/x/mod/sumdb/dirhash) that
//! go.sum records. The hash covers the names and contents of the files, not
//! the zip's bytes, so a zip built here and one built by the go command
//! from the same tree have the same `h1:`.

use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};

/// Largest module zip, and largest total of its files (x/mod/zip).
pub const MAX_ZIP_FILE: u64 = 500 << 20;
/// Largest go.mod and LICENSE.
pub const MAX_GO_MOD: u64 = 16 << 20;
pub const MAX_LICENSE: u64 = 16 << 20;
/// Most files one module may hold (a bound on work, not a go rule).
pub const MAX_FILES: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("{0}")]
    Module(String),
}

fn file_err(path: &str, reason: impl Into<String>) -> ZipError {
    ZipError::File {
        path: path.to_string(),
        reason: reason.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Regular,
    Symlink,
    Other,
}

/// A file of a source tree, its path relative to the module root.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub kind: Kind,
    pub data: Vec<u8>,
}

/// A module's files as they go in its zip (paths without the prefix),
/// sorted by path.
pub type ModuleFiles = BTreeMap<String, Vec<u8>>;

const BAD_WINDOWS_NAMES: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// module.CheckFilePath: clean relative `/`-separated elements of letters,
/// digits and `!#$%&()+,-.=@[]^_{}~ `, none all dots, ending in a dot, or a
/// name Windows reserves.
pub fn check_file_path(path: &str) -> Result<(), String> {
    if path.is_empty() || path.starts_with('/') || path.ends_with('/') || path.contains("//") {
        return Err("not a clean relative path".into());
    }
    for elem in path.split('/') {
        if elem.chars().all(|c| c == '.') {
            return Err(format!("invalid path element {elem:?}"));
        }
        if elem.ends_with('.') {
            return Err("trailing dot in path element".into());
        }
        let ok = |c: char| {
            c.is_ascii_alphanumeric()
                || "!#$%&()+,-.=@[]^_{}~ ".contains(c)
                || (!c.is_ascii() && c.is_alphabetic())
        };
        if let Some(c) = elem.chars().find(|c| !ok(*c)) {
            return Err(format!("invalid char {c:?}"));
        }
        let short = elem.split('.').next().unwrap_or(elem);
        if BAD_WINDOWS_NAMES
            .iter()
            .any(|bad| bad.eq_ignore_ascii_case(short))
        {
            return Err(format!("{short:?} disallowed as path element on Windows"));
        }
    }
    Ok(())
}

/// Refuses two entries whose names differ only in case, a file that is also
/// a directory, and a file listed twice.
#[derive(Default)]
struct Collisions(HashMap<String, (String, bool)>);

impl Collisions {
    fn check(&mut self, p: &str, is_dir: bool) -> Result<(), String> {
        let fold = p.to_lowercase();
        match self.0.get(&fold) {
            Some((other, _)) if other != p => {
                return Err(format!(
                    "case-insensitive file name collision: {other:?} and {p:?}"
                ))
            }
            Some((_, other_dir)) if *other_dir != is_dir => {
                return Err(format!("entry {p:?} is both a file and a directory"))
            }
            Some(_) if !is_dir => return Err(format!("multiple entries for file {p:?}")),
            Some(_) => {}
            None => {
                self.0.insert(fold, (p.to_string(), is_dir));
            }
        }
        match p.rsplit_once('/') {
            Some((parent, _)) => self.check(parent, true),
            None => Ok(()),
        }
    }
}

/// isVendoredPackage, including the go1.24 change (which applies only to
/// modules whose go.mod says `go 1.24` or later, so older sums still hold).
fn is_vendored(name: &str, go_1_24: bool) -> bool {
    if go_1_24 && name == "vendor/modules.txt" {
        return true;
    }
    let i = if let Some(rest) = name.strip_prefix("vendor/") {
        name.len() - rest.len()
    } else if let Some(j) = name.find("/vendor/") {
        if go_1_24 {
            j + "/vendor/".len()
        } else {
            "/vendor/".len()
        }
    } else {
        return false;
    };
    name.get(i..).is_some_and(|rest| rest.contains('/'))
}

/// Chooses the files of a source tree that go in the module zip, as
/// x/mod/zip's checkFiles does: drops nested modules (directories with
/// their own go.mod), vendored packages, `.hg_archival.txt`, symlinks and
/// other irregular files; refuses bad names, case collisions and
/// oversized files.
pub fn select(files: Vec<SourceFile>) -> Result<ModuleFiles, ZipError> {
    if files.len() > MAX_FILES {
        return Err(ZipError::Module(format!(
            "more than {MAX_FILES} files in the module"
        )));
    }
    let mut module_dirs: HashSet<String> = HashSet::new();
    let mut go_version = None;
    for f in &files {
        let (dir, base) = match f.path.rsplit_once('/') {
            Some((d, b)) => (format!("{d}/"), b),
            None => (String::new(), f.path.as_str()),
        };
        if base.eq_ignore_ascii_case("go.mod") && f.kind == Kind::Regular {
            if dir.is_empty() && base == "go.mod" {
                let text = String::from_utf8_lossy(&f.data);
                go_version = crate::gomod::parse(&text).ok().and_then(|m| m.go);
            }
            module_dirs.insert(dir);
        }
    }
    let go_1_24 = crate::gomod::go_at_least(go_version.as_deref(), 24);
    let in_submodule = |p: &str| {
        let mut p = p;
        while let Some((dir, _)) = p.rsplit_once('/') {
            if module_dirs.contains(&format!("{dir}/")) {
                return true;
            }
            p = dir;
        }
        false
    };
    let mut collisions = Collisions::default();
    let mut budget = MAX_ZIP_FILE;
    let mut out = ModuleFiles::new();
    for f in files {
        let p = f.path.as_str();
        if is_vendored(p, go_1_24) || in_submodule(p) || p == ".hg_archival.txt" {
            continue;
        }
        check_file_path(p).map_err(|e| file_err(p, e))?;
        if p.eq_ignore_ascii_case("go.mod") && p != "go.mod" {
            return Err(file_err(p, "go.mod files must have lowercase names"));
        }
        collisions.check(p, false).map_err(|e| file_err(p, e))?;
        if f.kind != Kind::Regular {
            continue;
        }
        let size = f.data.len() as u64;
        budget = budget.checked_sub(size).ok_or_else(|| {
            ZipError::Module(format!(
                "module source tree too large (max size is {MAX_ZIP_FILE} bytes)"
            ))
        })?;
        if (p == "go.mod" && size > MAX_GO_MOD) || (p == "LICENSE" && size > MAX_LICENSE) {
            return Err(file_err(p, "file too large (max size is 16 MiB)"));
        }
        out.insert(f.path, f.data);
    }
    Ok(out)
}

/// The zip of a module's files, each under `<module>@<version>/`.
pub fn create(module: &str, version: &str, files: &ModuleFiles) -> Result<Vec<u8>, ZipError> {
    let io = |e: zip::result::ZipError| ZipError::Module(format!("writing the zip: {e}"));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (path, data) in files {
        zip.start_file(format!("{module}@{version}/{path}"), options)
            .map_err(io)?;
        zip.write_all(data)
            .map_err(|e| ZipError::Module(format!("writing the zip: {e}")))?;
    }
    Ok(zip.finish().map_err(io)?.into_inner())
}

/// Reads an uploaded module zip as the go command checks one (checkZip):
/// every entry under `<module>@<version>/`, valid clean names, no case
/// collisions, go.mod only at the root, the size limits — counted while
/// decompressing, so a zip bomb stops at the limit.
pub fn read(module: &str, version: &str, bytes: &[u8]) -> Result<ModuleFiles, ZipError> {
    if bytes.len() as u64 > MAX_ZIP_FILE {
        return Err(ZipError::Module(format!(
            "module zip file is too large (limit is {MAX_ZIP_FILE} bytes)"
        )));
    }
    let bad = |e: zip::result::ZipError| ZipError::Module(format!("not a valid zip: {e}"));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(bad)?;
    if archive.len() > MAX_FILES {
        return Err(ZipError::Module(format!("more than {MAX_FILES} entries")));
    }
    let prefix = format!("{module}@{version}/");
    let mut collisions = Collisions::default();
    let mut budget = MAX_ZIP_FILE;
    let mut out = ModuleFiles::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(bad)?;
        let raw = entry.name().to_string();
        let name = raw
            .strip_prefix(&prefix)
            .ok_or_else(|| file_err(&raw, format!("path does not have prefix {prefix:?}")))?;
        if name.is_empty() {
            continue;
        }
        let (name, is_dir) = match name.strip_suffix('/') {
            Some(dir) => (dir, true),
            None => (name, false),
        };
        check_file_path(name).map_err(|e| file_err(&raw, e))?;
        collisions
            .check(name, is_dir)
            .map_err(|e| file_err(&raw, e))?;
        if is_dir {
            continue;
        }
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.eq_ignore_ascii_case("go.mod") && name != "go.mod" {
            return Err(file_err(&raw, "go.mod file not in module root directory"));
        }
        let limit = match name {
            "go.mod" => MAX_GO_MOD,
            "LICENSE" => MAX_LICENSE,
            _ => budget,
        }
        .min(budget);
        let mut data = Vec::new();
        (&mut entry)
            .take(limit + 1)
            .read_to_end(&mut data)
            .map_err(|e| file_err(&raw, format!("reading: {e}")))?;
        if data.len() as u64 > limit {
            return Err(file_err(
                &raw,
                "too large (module contents are limited to 500 MiB, go.mod and LICENSE to 16 MiB)",
            ));
        }
        budget -= data.len() as u64;
        out.insert(name.to_string(), data);
    }
    Ok(out)
}

/// dirhash.Hash1 over `(name, contents)` pairs.
pub fn hash1<'a>(files: impl IntoIterator<Item = (String, &'a [u8])>) -> String {
    let mut files: Vec<(String, &[u8])> = files.into_iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut summary = Sha256::new();
    for (name, data) in files {
        summary.update(format!("{}  {name}\n", hex::encode(Sha256::digest(data))));
    }
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(summary.finalize())
    )
}

/// The `h1:` of a module's zip, as go.sum records it.
pub fn zip_hash(module: &str, version: &str, files: &ModuleFiles) -> String {
    hash1(
        files
            .iter()
            .map(|(p, d)| (format!("{module}@{version}/{p}"), d.as_slice())),
    )
}

/// The `h1:` of a version's go.mod (`<module> <version>/go.mod h1:...`).
pub fn go_mod_hash(go_mod: &[u8]) -> String {
    hash1([("go.mod".to_string(), go_mod)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn file(path: &str, data: &str) -> SourceFile {
        SourceFile {
            path: path.into(),
            kind: Kind::Regular,
            data: data.as_bytes().to_vec(),
        }
    }

    #[test]
    fn selects_what_the_go_command_keeps() {
        let files = vec![
            file("go.mod", "module example.com/m\n\ngo 1.21\n"),
            file("m.go", "package m\n"),
            file("sub/go.mod", "module example.com/m/sub\n"),
            file("sub/s.go", "package sub\n"),
            file("vendor/modules.txt", "# vendored\n"),
            file("vendor/example.com/dep/d.go", "package dep\n"),
            file("pkg/vendor/vendor.go", "package vendor\n"),
            file(".hg_archival.txt", "x"),
            SourceFile {
                path: "link".into(),
                kind: Kind::Symlink,
                data: b"m.go".to_vec(),
            },
        ];
        let kept: Vec<String> = select(files).unwrap().into_keys().collect();
        // Before go 1.24, vendor/modules.txt stays and pkg/vendor/vendor.go
        // is (wrongly, but checksums depend on it) treated as vendored.
        assert_eq!(kept, ["go.mod", "m.go", "vendor/modules.txt"]);

        let files = vec![
            file("go.mod", "module example.com/m\n\ngo 1.24\n"),
            file("vendor/modules.txt", "# vendored\n"),
            file("pkg/vendor/vendor.go", "package vendor\n"),
        ];
        let kept: Vec<String> = select(files).unwrap().into_keys().collect();
        assert_eq!(kept, ["go.mod", "pkg/vendor/vendor.go"]);
    }

    #[test]
    fn refuses_bad_names_and_collisions() {
        assert!(select(vec![file("a/../b", "")]).is_err());
        assert!(select(vec![file("README", ""), file("readme", "")]).is_err());
        assert!(select(vec![file("Go.mod", "")]).is_err());
        assert!(select(vec![file("con.txt", "")]).is_err());
        assert!(select(vec![file("a\"b", "")]).is_err());
        assert!(select(vec![file("x", ""), file("X/y", "")]).is_err());
    }

    #[test]
    fn zips_round_trip_and_checks_prefix() {
        let files = select(vec![
            file("go.mod", "module example.com/m\n"),
            file("a/b.go", "package a\n"),
        ])
        .unwrap();
        let zip = create("example.com/m", "v1.0.0", &files).unwrap();
        assert_eq!(read("example.com/m", "v1.0.0", &zip).unwrap(), files);
        assert!(read("example.com/m", "v1.0.1", &zip).is_err());
        assert!(read("example.com/m", "v1.0.0", b"not a zip").is_err());
        let nested = create(
            "example.com/m",
            "v1.0.0",
            &ModuleFiles::from([("a/go.mod".to_string(), b"x".to_vec())]),
        )
        .unwrap();
        assert!(read("example.com/m", "v1.0.0", &nested).is_err());
    }

    #[test]
    fn hashes_match_the_go_command() {
        // `go mod download -json rsc.io/quote@v1.5.2` reports
        // GoModSum h1:LzX7hefJvL54yjefDEDHNONDjII0t9xZLPXsUe+TKr0=
        // for its go.mod, which is exactly this text.
        assert_eq!(
            go_mod_hash(b"module \"rsc.io/quote\"\n\nrequire \"rsc.io/sampler\" v1.3.0\n"),
            "h1:LzX7hefJvL54yjefDEDHNONDjII0t9xZLPXsUe+TKr0="
        );
    }

    proptest! {
        /// Whatever the bytes, reading an upload never panics and never
        /// yields a path that escapes the module.
        #[test]
        fn reading_arbitrary_bytes_is_safe(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(files) = read("example.com/m", "v1.0.0", &bytes) {
                for p in files.keys() {
                    prop_assert!(check_file_path(p).is_ok());
                }
            }
        }

        #[test]
        fn selected_paths_are_valid(paths in proptest::collection::vec("[a-zA-Z0-9./ _-]{1,12}", 0..8)) {
            let files = paths.iter().map(|p| file(p, "x")).collect();
            if let Ok(kept) = select(files) {
                let mut folded = HashSet::new();
                for p in kept.keys() {
                    prop_assert!(check_file_path(p).is_ok());
                    prop_assert!(folded.insert(p.to_lowercase()));
                }
            }
        }
    }
}
