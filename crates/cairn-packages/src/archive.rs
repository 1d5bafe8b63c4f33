//! Reading package archives (npm `.tgz`, `.crate`, sdists, wheels) as the
//! untrusted input they are: every entry path is checked (no absolute paths,
//! no `..`, no backslashes or NULs), the entry count and the decompressed
//! size are bounded, and only the few small files an adapter asks for are
//! kept in memory.

use std::collections::BTreeMap;
use std::io::Read;

/// Bounds for reading one archive.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Total decompressed bytes.
    pub max_total: u64,
    pub max_entries: u64,
    /// Largest single file kept in memory (a manifest such as package.json).
    pub max_kept: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total: 512 * 1024 * 1024,
            max_entries: 100_000,
            max_kept: 8 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("the archive is not a valid {kind}: {reason}")]
    Malformed { kind: &'static str, reason: String },
    #[error("unsafe path in the archive: {0:?}")]
    UnsafePath(String),
    #[error("the archive decompresses to more than {0} bytes")]
    TooBig(u64),
    #[error("the archive has more than {0} entries")]
    TooManyEntries(u64),
    #[error("{0:?} in the archive is larger than {1} bytes")]
    EntryTooBig(String, u64),
    #[error("the archive holds {0:?} twice, differing only in case")]
    CaseCollision(String),
}

/// An archive's entry paths and the kept files' contents.
#[derive(Debug, Default)]
pub struct Contents {
    /// Every regular file's path, in archive order.
    pub paths: Vec<String>,
    /// Path → bytes, for the paths `keep` selected.
    pub kept: BTreeMap<String, Vec<u8>>,
}

/// Checks one entry path: relative, no `..`, no `\`, no NUL, not empty.
pub fn check_path(path: &str) -> Result<(), ArchiveError> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.contains('\0')
        || path.split('/').any(|seg| seg == "..")
        || (path.len() >= 2 && path.as_bytes()[1] == b':');
    if bad {
        return Err(ArchiveError::UnsafePath(path.to_string()));
    }
    Ok(())
}

/// Reads a gzip-compressed tar archive. `keep(path)` selects the files to
/// return in full.
pub fn read_tar_gz(
    bytes: &[u8],
    limits: Limits,
    keep: impl Fn(&str) -> bool,
) -> Result<Contents, ArchiveError> {
    let mut out = Contents::default();
    walk_tar_gz(bytes, limits, |path, size, data| {
        if keep(path) {
            out.kept
                .insert(path.to_string(), read_kept(path, size, data, limits, TAR)?);
        }
        out.paths.push(path.to_string());
        Ok(())
    })?;
    Ok(out)
}

const TAR: &str = "gzip-compressed tar archive";
const ZIP: &str = "zip archive";

/// A kept file's bytes, at most `limits.max_kept` of them.
fn read_kept(
    path: &str,
    size: u64,
    data: &mut dyn Read,
    limits: Limits,
    kind: &'static str,
) -> Result<Vec<u8>, ArchiveError> {
    if size > limits.max_kept {
        return Err(ArchiveError::EntryTooBig(path.to_string(), limits.max_kept));
    }
    let mut buf = Vec::with_capacity(size.min(limits.max_kept) as usize);
    data.take(limits.max_kept + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ArchiveError::Malformed {
            kind,
            reason: e.to_string(),
        })?;
    if buf.len() as u64 > limits.max_kept {
        return Err(ArchiveError::EntryTooBig(path.to_string(), limits.max_kept));
    }
    Ok(buf)
}

/// Visits every regular file of a gzip-compressed tar archive with its
/// declared size and its bytes as a reader, under every check of
/// [`read_tar_gz`].
pub fn walk_tar_gz(
    bytes: &[u8],
    limits: Limits,
    mut visit: impl FnMut(&str, u64, &mut dyn Read) -> Result<(), ArchiveError>,
) -> Result<(), ArchiveError> {
    let malformed = |e: std::io::Error| ArchiveError::Malformed {
        kind: "gzip-compressed tar archive",
        reason: e.to_string(),
    };
    // Bound the decompressed stream itself (file data plus tar's headers and
    // padding), so a bomb stops at the bound whatever the headers claim.
    let bound = limits.max_total + (limits.max_entries + 2) * 1024;
    let read = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let gz = Counted {
        inner: flate2::read::GzDecoder::new(bytes).take(bound),
        read: read.clone(),
    };
    let mut archive = tar::Archive::new(gz);
    let mut total = 0u64;
    let mut count = 0u64;
    let mut seen_lower = std::collections::HashSet::new();
    for entry in archive.entries().map_err(malformed)? {
        let mut entry = entry.map_err(|e| {
            if read.get() >= bound {
                ArchiveError::TooBig(limits.max_total)
            } else {
                malformed(e)
            }
        })?;
        count += 1;
        if count > limits.max_entries {
            return Err(ArchiveError::TooManyEntries(limits.max_entries));
        }
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = path.trim_start_matches("./").to_string();
        check_path(&path)?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            // Links are never followed and never extracted; their targets are checked anyway.
            if let Some(target) = entry.link_name_bytes() {
                check_path(&String::from_utf8_lossy(&target))?;
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let size = entry.header().size().map_err(malformed)?;
        total += size;
        if total > limits.max_total {
            return Err(ArchiveError::TooBig(limits.max_total));
        }
        if !seen_lower.insert(path.to_lowercase()) {
            return Err(ArchiveError::CaseCollision(path));
        }
        visit(&path, size, &mut entry)?;
    }
    Ok(())
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Reads a zip archive (a wheel). `keep(path)` selects the files to return.
pub fn read_zip(
    bytes: &[u8],
    limits: Limits,
    keep: impl Fn(&str) -> bool,
) -> Result<Contents, ArchiveError> {
    let mut out = Contents::default();
    walk_zip(bytes, limits, |path, size, data| {
        if keep(path) {
            out.kept
                .insert(path.to_string(), read_kept(path, size, data, limits, ZIP)?);
        }
        out.paths.push(path.to_string());
        Ok(())
    })?;
    Ok(out)
}

/// Visits every file of a zip archive with its declared size and its bytes
/// as a reader, under every check of [`read_zip`].
pub fn walk_zip(
    bytes: &[u8],
    limits: Limits,
    mut visit: impl FnMut(&str, u64, &mut dyn Read) -> Result<(), ArchiveError>,
) -> Result<(), ArchiveError> {
    let malformed = |e: zip::result::ZipError| ArchiveError::Malformed {
        kind: "zip archive",
        reason: e.to_string(),
    };
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(malformed)?;
    if zip.len() as u64 > limits.max_entries {
        return Err(ArchiveError::TooManyEntries(limits.max_entries));
    }
    let mut total = 0u64;
    let mut seen_lower = std::collections::HashSet::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).map_err(malformed)?;
        let path = file.name().to_string();
        check_path(&path)?;
        if file.is_dir() {
            continue;
        }
        // The declared size may lie: the read below is bounded too.
        total += file.size();
        if total > limits.max_total {
            return Err(ArchiveError::TooBig(limits.max_total));
        }
        if !seen_lower.insert(path.to_lowercase()) {
            return Err(ArchiveError::CaseCollision(path));
        }
        let size = file.size();
        visit(&path, size, &mut file)?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A .tar.gz with the given files.
    pub fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        for (path, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // Write the raw name so that unsafe paths reach the reader.
            h.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn reads_and_keeps() {
        let t = tar_gz(&[("package/package.json", b"{}"), ("package/index.js", b"x")]);
        let c = read_tar_gz(&t, Limits::default(), |p| p.ends_with("package.json")).unwrap();
        assert_eq!(c.paths, vec!["package/package.json", "package/index.js"]);
        assert_eq!(c.kept["package/package.json"], b"{}");
    }

    #[test]
    fn refuses_unsafe_paths_and_bombs() {
        for bad in ["../etc/passwd", "/abs", "a/../../b", "a\\b"] {
            let t = tar_gz(&[(bad, b"x")]);
            assert!(
                matches!(
                    read_tar_gz(&t, Limits::default(), |_| false),
                    Err(ArchiveError::UnsafePath(_))
                ),
                "{bad}"
            );
        }
        let zeros = vec![0u8; 1 << 20];
        let t = tar_gz(&[("a", &zeros), ("b", &zeros)]);
        let small = Limits {
            max_total: 1 << 20,
            ..Limits::default()
        };
        assert_eq!(
            read_tar_gz(&t, small, |_| false).unwrap_err(),
            ArchiveError::TooBig(1 << 20)
        );
        let many = tar_gz(&[("a", b""), ("b", b""), ("c", b"")]);
        let few = Limits {
            max_entries: 2,
            ..Limits::default()
        };
        assert_eq!(
            read_tar_gz(&many, few, |_| false).unwrap_err(),
            ArchiveError::TooManyEntries(2)
        );
        let twice = tar_gz(&[("p/README", b""), ("p/readme", b"")]);
        assert!(matches!(
            read_tar_gz(&twice, Limits::default(), |_| false),
            Err(ArchiveError::CaseCollision(_))
        ));
        assert!(matches!(
            read_tar_gz(b"not gzip", Limits::default(), |_| false),
            Err(ArchiveError::Malformed { .. })
        ));
        assert!(matches!(
            read_zip(b"not zip", Limits::default(), |_| false),
            Err(ArchiveError::Malformed { .. })
        ));
    }

    proptest! {
        /// Arbitrary bytes never panic the readers.
        #[test]
        fn arbitrary_bytes_are_refused_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = read_tar_gz(&bytes, Limits::default(), |_| true);
            let _ = read_zip(&bytes, Limits::default(), |_| true);
        }

        /// A path accepted by check_path never escapes its directory.
        #[test]
        fn accepted_paths_stay_inside(path in "[a-z./\\\\]{1,20}") {
            if check_path(&path).is_ok() {
                prop_assert!(!path.starts_with('/'));
                prop_assert!(!path.split('/').any(|s| s == ".."));
            }
        }
    }
}
