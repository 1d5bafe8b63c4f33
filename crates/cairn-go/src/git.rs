//! Reading one tag of a git repository, as the go command does for a
//! module version: a shallow fetch of the tag into a scratch repository,
//! then `git archive` of it with the go command's settings: its line-ending
//! options, and `export-ignore` / `export-subst` switched off (the go
//! command writes the same `info/attributes`, so that a module's files do
//! not depend on `.gitattributes`). Runs the `git` program;
//! only the file, git, http(s) and ssh transports are allowed.

use crate::modzip::{Kind, SourceFile, MAX_FILES, MAX_ZIP_FILE};
use cairn_packages::GitSources;
use std::io::Read;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// How long one git command may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(300);

/// A tag's files and the commit it named.
#[derive(Debug)]
pub struct Checkout {
    pub files: Vec<SourceFile>,
    pub commit: String,
}

/// Runs git in `dir`, returning at most `limit` bytes of its output (more
/// is an error, and git is killed): a tag's archive is bounded like a
/// module zip before it is ever held in memory whole.
async fn git(dir: &std::path::Path, args: &[&str]) -> Result<Vec<u8>, String> {
    git_bounded(dir, args, 1 << 20).await
}

async fn git_bounded(dir: &std::path::Path, args: &[&str], limit: u64) -> Result<Vec<u8>, String> {
    use tokio::io::AsyncReadExt;
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ALLOW_PROTOCOL", "file:git:http:https:ssh")
        // No system-wide configuration (URL rewrites, hooks); the server
        // user's own (a credential helper, say) still applies.
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let run = async {
        let mut child = cmd.spawn().map_err(|e| format!("could not run git: {e}"))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err("git's output is not piped".to_string());
        };
        // stderr drains on its own (the first 64 KiB kept), so git never
        // blocks on it.
        let errors = tokio::spawn(async move {
            let mut stderr = stderr;
            let (mut kept, mut buf) = (Vec::new(), [0u8; 8192]);
            while let Ok(n @ 1..) = stderr.read(&mut buf).await {
                if kept.len() < 64 * 1024 {
                    kept.extend_from_slice(&buf[..n]);
                }
            }
            kept
        });
        let mut out = Vec::new();
        stdout
            .take(limit + 1)
            .read_to_end(&mut out)
            .await
            .map_err(|e| format!("reading git's output: {e}"))?;
        if out.len() as u64 > limit {
            let _ = child.kill().await;
            return Err(format!("git {}: more than {limit} bytes", args[0]));
        }
        let status = child.wait().await.map_err(|e| format!("git: {e}"))?;
        let err = errors.await.unwrap_or_default();
        if !status.success() {
            let stderr = String::from_utf8_lossy(&err);
            return Err(format!("git {} failed: {}", args[0], stderr.trim()));
        }
        Ok(out)
    };
    tokio::time::timeout(GIT_TIMEOUT, run)
        .await
        .map_err(|_| format!("git {} timed out", args[0]))?
}

/// The transports a publish may use, by URL scheme.
const REMOTE_SCHEMES: [&str; 4] = ["https://", "http://", "ssh://", "git://"];

/// The host a remote URL names (`scheme://[user@]host[:port]/...`),
/// lower-case.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Checks that `url` is a git URL cairn fetches under `sources`: one of
/// the remote schemes (on an allowed host, when hosts are listed), or
/// `file://` when allowed; never a bare local path, an scp-style address
/// or a transport helper such as `ext::`.
pub fn check_url(url: &str, sources: &GitSources) -> Result<(), String> {
    let remote = REMOTE_SCHEMES.iter().any(|s| url.starts_with(s));
    let file = url.starts_with("file://");
    if url.contains(['\n', '\0', ' ']) || !(remote || file) {
        return Err(format!(
            "{url:?} is not a git URL cairn fetches: use https://, http://, ssh:// or git://"
        ));
    }
    if file && !sources.allow_file {
        return Err(
            "file:// git URLs are refused here (they would read repositories on the server's disk); \
             an operator can publish from them with `cairn go publish`, or allow them with packages.go_allow_file_git"
                .into(),
        );
    }
    if remote && !sources.hosts.is_empty() {
        let host = host_of(url).ok_or_else(|| format!("{url:?} names no host"))?;
        if !sources.hosts.contains(&host) {
            return Err(format!(
                "git host {host} is not one this registry fetches from (packages.go_git_hosts: {})",
                sources.hosts.join(", ")
            ));
        }
    }
    Ok(())
}

/// Fetches `tag` from the repository at `url` (checked by [`check_url`]
/// first) and lists its files.
pub async fn checkout(url: &str, tag: &str, sources: &GitSources) -> Result<Checkout, String> {
    check_url(url, sources)?;
    let scratch = tempfile::tempdir().map_err(|e| format!("scratch directory: {e}"))?;
    let dir = scratch.path();
    git(dir, &["init", "-q", "--bare"]).await?;
    let attributes = dir.join("info");
    std::fs::create_dir_all(&attributes)
        .and_then(|_| {
            std::fs::write(
                attributes.join("attributes"),
                "* -export-subst -export-ignore\n",
            )
        })
        .map_err(|e| format!("scratch repository: {e}"))?;
    let refspec = format!("refs/tags/{tag}");
    git(
        dir,
        &[
            "fetch",
            "-q",
            "--depth=1",
            "--no-tags",
            "--end-of-options",
            url,
            &refspec,
        ],
    )
    .await
    .map_err(|e| format!("fetching tag {tag} from {url}: {e}"))?;
    let commit = git(dir, &["rev-parse", "--verify", "FETCH_HEAD^{commit}"]).await?;
    let commit = String::from_utf8_lossy(&commit).trim().to_string();
    // The tar of a tree within the zip limit is a little larger than it
    // (a 512-byte header per file, padding): allow for that.
    let tar_limit = MAX_ZIP_FILE + 1024 * MAX_FILES as u64;
    let tar = git_bounded(
        dir,
        &[
            "-c",
            "core.autocrlf=input",
            "-c",
            "core.eol=lf",
            "archive",
            "--format=tar",
            &commit,
        ],
        tar_limit,
    )
    .await
    .map_err(|e| format!("{e} (module source trees are limited to {MAX_ZIP_FILE} bytes)"))?;
    Ok(Checkout {
        files: read_tar(&tar)?,
        commit,
    })
}

/// The files of `git archive`'s tar, bounded like a module zip.
fn read_tar(bytes: &[u8]) -> Result<Vec<SourceFile>, String> {
    let mut archive = tar::Archive::new(bytes);
    let mut files = vec![];
    let mut total = 0u64;
    let entries = archive.entries().map_err(|e| format!("git archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("git archive: {e}"))?;
        let kind = match entry.header().entry_type() {
            tar::EntryType::Directory | tar::EntryType::XGlobalHeader => continue,
            tar::EntryType::Regular => Kind::Regular,
            tar::EntryType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        };
        let path = entry
            .path()
            .map_err(|e| format!("git archive: {e}"))?
            .to_string_lossy()
            .into_owned();
        let mut data = Vec::new();
        if kind == Kind::Regular {
            let room = MAX_ZIP_FILE - total;
            entry
                .by_ref()
                .take(room + 1)
                .read_to_end(&mut data)
                .map_err(|e| format!("git archive: {e}"))?;
            if data.len() as u64 > room {
                return Err(format!(
                    "module source tree too large (max size is {MAX_ZIP_FILE} bytes)"
                ));
            }
            total += data.len() as u64;
        }
        files.push(SourceFile { path, kind, data });
        if files.len() > MAX_FILES {
            return Err(format!("more than {MAX_FILES} files at the tag"));
        }
    }
    Ok(files)
}

/// The files of a module in directory `dir` of a tree, paths made relative
/// to it; with the tree's root `LICENSE` when the directory has none (what
/// the go command does for a module in a subdirectory).
pub fn subdirectory(files: Vec<SourceFile>, dir: &str) -> Vec<SourceFile> {
    let prefix = format!("{dir}/");
    let mut license = None;
    let mut out = Vec::new();
    for mut f in files {
        if let Some(rest) = f.path.strip_prefix(&prefix) {
            f.path = rest.to_string();
            out.push(f);
        } else if f.path == "LICENSE" && f.kind == Kind::Regular {
            license = Some(f);
        }
    }
    if !out.iter().any(|f| f.path == "LICENSE") {
        out.extend(license);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> SourceFile {
        SourceFile {
            path: path.into(),
            kind: Kind::Regular,
            data: path.as_bytes().to_vec(),
        }
    }

    #[test]
    fn urls() {
        let any = GitSources::default();
        let operator = GitSources::operator();
        assert!(check_url("https://git.example.com/x.git", &any).is_ok());
        assert!(check_url("ssh://git@example.com/x.git", &any).is_ok());
        assert!(check_url("file:///srv/x.git", &any).is_err());
        assert!(check_url("file:///srv/x.git", &operator).is_ok());
        for bad in [
            "/srv/x.git",
            "git@example.com:x.git",
            "ext::sh -c id",
            "-u",
            "fd::3",
        ] {
            assert!(check_url(bad, &operator).is_err(), "{bad}");
        }
        let listed = GitSources {
            allow_file: false,
            hosts: vec!["git.example.com".into(), "::1".into()],
        };
        assert!(check_url("https://GIT.example.com/x.git", &listed).is_ok());
        assert!(check_url("ssh://git@git.example.com:2222/x.git", &listed).is_ok());
        assert!(check_url("https://user:pw@git.example.com/x", &listed).is_ok());
        assert!(check_url("https://[::1]:8443/x.git", &listed).is_ok());
        assert!(check_url("https://169.254.169.254/latest", &listed).is_err());
        assert!(check_url("https://git.example.com.evil.test/x", &listed).is_err());
        assert!(check_url("https://git.example.com@evil.test/x", &listed).is_err());
    }

    #[test]
    fn a_subdirectory_gets_the_root_license() {
        let tree = vec![
            file("LICENSE"),
            file("go.mod"),
            file("sub/go.mod"),
            file("sub/s.go"),
        ];
        let sub: Vec<String> = subdirectory(tree, "sub")
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(sub, ["go.mod", "s.go", "LICENSE"]);
        let own = vec![file("LICENSE"), file("sub/LICENSE"), file("sub/go.mod")];
        let sub = subdirectory(own, "sub");
        assert_eq!(sub.iter().filter(|f| f.path == "LICENSE").count(), 1);
        assert_eq!(sub[0].data, b"sub/LICENSE");
    }
}
