//! The checksum database of a hosted Go repository, at
//! `/go/<repo>/sumdb/<name>/` — the protocol of sum.golang.org
//! (`/supported`, `/latest`, `/lookup/M@V`, `/tile/H/L/N[.p/W]`,
//! `/tile/H/data/N`), so `GOSUMDB="<name>+<key>"` with `GOPROXY` pointing
//! at the repository checks every module it hosts, with cairn as the only
//! egress. Its name is `<repo>.<suffix>` (one log per repository, signed
//! with one Ed25519 note key every replica shares); `cairn go sumdb-key`
//! prints the `GOSUMDB` value.
//!
//! A module version enters the log the first time the go command looks it
//! up (as sum.golang.org does), with the `h1:` hashes cairn computed when it
//! was published; the log is append-only, and a record never changes, so a
//! zip altered afterwards fails the go command's check (`SECURITY ERROR`).
//! The tree's hashes are worked out from the records, kept per repository
//! as a cache of an append-only list: right on every replica.

use crate::{facts, module, module_key, GoApi, GO};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use cairn_core::tlog::{self, Hash, NoteSigner};
use cairn_core::PackageRef;
use cairn_packages::{PackageError, PackageResult};
use std::collections::HashMap;
use std::sync::Mutex;

/// The key and names of hosted checksum databases.
pub struct HostedSumdb {
    seed: [u8; 32],
    suffix: String,
    /// What this replica has worked out of each repository's log. A cache
    /// of an append-only list: a prefix is right on every replica.
    logs: Mutex<HashMap<String, Log>>,
}

#[derive(Default)]
struct Log {
    /// The record hashes, in id order (a prefix of the log).
    leaves: Vec<Hash>,
    /// The last signed tree note, and its size.
    note: Option<(i64, String)>,
}

impl HostedSumdb {
    /// Databases named `<repo>.<suffix>`, signed with the Ed25519 key of
    /// this 32-byte seed.
    pub fn new(seed: [u8; 32], suffix: &str) -> HostedSumdb {
        HostedSumdb {
            seed,
            suffix: suffix.to_string(),
            logs: Mutex::default(),
        }
    }

    /// The database name of repository `repo`.
    pub fn name(&self, repo: &str) -> String {
        format!("{repo}.{}", self.suffix)
    }

    pub fn signer(&self, repo: &str) -> NoteSigner {
        NoteSigner::new(&self.name(repo), &self.seed)
    }

    /// Runs `f` on this replica's view of `repo`'s log.
    fn with_log<R>(&self, repo: &str, f: impl FnOnce(&mut Log) -> R) -> R {
        let mut logs = self.logs.lock().expect("the lock is never poisoned");
        f(logs.entry(repo.to_string()).or_default())
    }
}

/// go.sum's two lines for a version: the log's record text.
fn record_text(module: &str, version: &str, h1: &str, go_mod_h1: &str) -> String {
    format!("{module} {version} {h1}\n{module} {version}/go.mod {go_mod_h1}\n")
}

fn text(body: impl Into<String>) -> axum::response::Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        body.into(),
    )
        .into_response()
}

impl GoApi {
    /// Serves `path` of the checksum database `name` of hosted `repo`.
    pub(crate) async fn hosted_sumdb(&self, repo: &str, name: &str, path: &str) -> PackageResult {
        let Some(db) = self.sumdb.as_ref() else {
            return Err(PackageError::not_found(format!(
                "{repo} serves no checksum database"
            )));
        };
        if name != db.name(repo) {
            return Err(PackageError::not_found(format!(
                "no checksum database {name} here: {repo}'s is {}",
                db.name(repo)
            )));
        }
        let meta = &self.packages.meta;
        if path == "supported" {
            return Ok(StatusCode::OK.into_response());
        }
        if path == "latest" {
            let size = meta.sumdb_size(repo).await?;
            return Ok(text(self.signed_tree(db, repo, size).await?));
        }
        if let Some(wanted) = path.strip_prefix("lookup/") {
            let (escaped_path, escaped_version) = wanted
                .rsplit_once('@')
                .ok_or_else(|| PackageError::bad("invalid module@version syntax"))?;
            let (Some(module), Some(version)) = (
                module::unescape(escaped_path),
                module::unescape(escaped_version),
            ) else {
                return Err(PackageError::bad("invalid module@version syntax"));
            };
            let key = module_key(&module)?;
            let pkg = meta.package(PackageRef::new(GO, repo, &key)).await?;
            let Some(f) = pkg
                .as_ref()
                .and_then(|p| p.version(&version))
                .and_then(facts)
            else {
                return Err(PackageError::not_found(format!(
                    "not found: {module}@{version} is not hosted in {repo}"
                )));
            };
            let data = record_text(&module, &version, &f.h1, &f.go_mod_h1);
            let id = meta.sumdb_record(repo, &module, &version, &data).await?;
            // The record as stored (the first lookup's), never recomputed.
            let stored = meta.sumdb_records(repo, id, 1).await?;
            let stored = stored.into_iter().next().unwrap_or(data);
            let size = meta.sumdb_size(repo).await?.max(id + 1);
            let signed = self.signed_tree(db, repo, size).await?;
            return Ok(text(format!("{id}\n{stored}\n{signed}")));
        }
        if path.starts_with("tile/") {
            let tile =
                tlog::parse_tile(path).ok_or_else(|| PackageError::bad("invalid tile syntax"))?;
            let size = meta.sumdb_size(repo).await?;
            if !tile.within(size as u64) {
                return Err(PackageError::not_found(format!(
                    "tile {path} is beyond the log's {size} records"
                )));
            }
            if tile.l < 0 {
                let start = (tile.n << tile.h) as i64;
                let records = meta.sumdb_records(repo, start, i64::from(tile.w)).await?;
                let body: String = records.iter().map(|r| format!("{r}\n")).collect();
                return Ok(text(body));
            }
            self.load_leaves(db, repo, size).await?;
            let data = db.with_log(repo, |log| tile.hash_data(&log.leaves));
            return Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/octet-stream")],
                data,
            )
                .into_response());
        }
        Err(PackageError::not_found(format!(
            "no {path} in a checksum database"
        )))
    }

    /// Makes sure the cache holds the hashes of `repo`'s first `size`
    /// records, reading only the records it lacks.
    async fn load_leaves(&self, db: &HostedSumdb, repo: &str, size: i64) -> PackageResult<()> {
        let have = db.with_log(repo, |log| log.leaves.len() as i64);
        if have >= size {
            return Ok(());
        }
        let more = self
            .packages
            .meta
            .sumdb_records(repo, have, size - have)
            .await?;
        if have + (more.len() as i64) < size {
            return Err(PackageError::Conflict(format!(
                "the checksum database of {repo} lacks records below {size}"
            )));
        }
        let hashes: Vec<Hash> = more
            .iter()
            .map(|r| tlog::record_hash(r.as_bytes()))
            .collect();
        db.with_log(repo, |log| {
            // Another request may have extended it meanwhile: append only
            // what is still missing.
            let known = log.leaves.len() as i64;
            if known < size {
                let from = (known - have).max(0) as usize;
                log.leaves.extend_from_slice(&hashes[from..]);
            }
        });
        Ok(())
    }

    /// The signed tree note of `repo`'s log at `size` records.
    /// Signed once per size on each replica (Ed25519 signatures are
    /// deterministic: every replica signs the same note).
    async fn signed_tree(&self, db: &HostedSumdb, repo: &str, size: i64) -> PackageResult<String> {
        if let Some(note) = db.with_log(repo, |log| {
            log.note
                .as_ref()
                .filter(|(n, _)| *n == size)
                .map(|(_, note)| note.clone())
        }) {
            return Ok(note);
        }
        self.load_leaves(db, repo, size).await?;
        let root = db.with_log(repo, |log| tlog::tree_hash(&log.leaves[..size as usize]));
        let note = db
            .signer(repo)
            .sign(&tlog::tree_note_text(size as u64, &root));
        db.with_log(repo, |log| {
            if log.note.as_ref().is_none_or(|(n, _)| *n < size) {
                log.note = Some((size, note.clone()));
            }
        });
        Ok(note)
    }
}
