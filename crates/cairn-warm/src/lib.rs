//! Warming caches from lockfiles: what a lockfile (or a list) names
//! (`lockfiles.rs`), fetched through a proxy or virtual repository of a
//! running cairn the way the clients would, with the lockfile's hashes
//! checked against the bytes. A client of the server's own endpoints, so
//! every decision (access, name ownership, cooldown) is the server's; used
//! by `cairn warm` and by the admin API's warm jobs.

mod lockfiles;

pub use lockfiles::{read, Item, Kind};

use base64::Engine;
use futures::StreamExt;
use serde_json::Value;
use sha2::Digest as _;

/// What became of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Missing(String),
    Refused(String),
    Mismatch(String),
    Failed(String),
}

impl Outcome {
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Missing(_) => "missing",
            Outcome::Refused(_) => "refused",
            Outcome::Mismatch(_) => "mismatch",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// A fetch that did not give the bytes: the outcome it stands for.
struct Stop(Outcome);

impl From<reqwest::Error> for Stop {
    fn from(e: reqwest::Error) -> Self {
        Stop(Outcome::Failed(e.to_string()))
    }
}

type Step<T> = Result<T, Stop>;

/// Fetches items through one repository of one cairn.
pub struct Warmer {
    client: reqwest::Client,
    base: String,
    repository: String,
    auth: Option<String>,
}

impl Outcome {
    /// What went wrong, in words (`None` when it went well).
    pub fn message(&self) -> Option<&str> {
        match self {
            Outcome::Ok => None,
            Outcome::Missing(m)
            | Outcome::Refused(m)
            | Outcome::Mismatch(m)
            | Outcome::Failed(m) => Some(m),
        }
    }
}

impl Warmer {
    /// `base` is cairn's URL; `auth` an `Authorization` header value.
    pub fn new(base: &str, repository: &str, auth: Option<String>) -> anyhow::Result<Warmer> {
        Ok(Warmer {
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(600))
                .build()?,
            base: base.trim_end_matches('/').to_string(),
            repository: repository.trim_matches('/').to_string(),
            auth,
        })
    }

    /// Fetches `items`, `jobs` at a time; `done` hears of each as it
    /// finishes. The outcomes, by item label.
    pub async fn run(
        &self,
        items: Vec<Item>,
        jobs: usize,
        done: impl Fn(&Item, &Outcome),
    ) -> Vec<(String, Outcome)> {
        let done = &done;
        futures::stream::iter(items)
            .map(|item| async move {
                let outcome = match self.warm(&item).await {
                    Ok(()) => Outcome::Ok,
                    Err(Stop(o)) => o,
                };
                done(&item, &outcome);
                (item.label(), outcome)
            })
            .buffer_unordered(jobs.max(1))
            .collect()
            .await
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Whether `bytes` match an SRI string (`sha512-…`, `sha1-…`, several
/// separated by spaces: any one).
fn sri_matches(sri: &str, bytes: &[u8]) -> Option<bool> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut known = false;
    for part in sri.split_whitespace() {
        let (alg, value) = part.split_once('-')?;
        let digest = match alg {
            "sha512" => b64.encode(sha2::Sha512::digest(bytes)),
            "sha256" => b64.encode(sha2::Sha256::digest(bytes)),
            "sha1" => b64.encode(sha1::Sha1::digest(bytes)),
            _ => continue,
        };
        known = true;
        if digest == value {
            return Some(true);
        }
    }
    known.then_some(false)
}

impl Warmer {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GETs `url` (absolute, or a path on cairn): the body, or the outcome
    /// its status means (404/410: missing; 403: refused, with the message).
    async fn get(&self, url: &str, accept: Option<&str>) -> Step<(bytes::Bytes, Option<String>)> {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            self.url(url)
        };
        let mut req = self.client.get(&url);
        if let Some(a) = &self.auth {
            req = req.header(reqwest::header::AUTHORIZATION, a);
        }
        if let Some(a) = accept {
            req = req.header(reqwest::header::ACCEPT, a);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.bytes().await?;
        if status.is_success() {
            return Ok((body, content_type));
        }
        let text = String::from_utf8_lossy(&body);
        let message = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| {
                v["error"]
                    .as_str()
                    .or(v["errors"][0]["message"].as_str())
                    .or(v["errors"][0]["detail"].as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| text.trim().chars().take(500).collect());
        let message = format!("{status} from {url}: {message}");
        Err(Stop(match status.as_u16() {
            403 => Outcome::Refused(message),
            404 | 410 => Outcome::Missing(message),
            _ => Outcome::Failed(message),
        }))
    }

    /// Fetches one item.
    async fn warm(&self, item: &Item) -> Step<()> {
        match item {
            Item::Npm {
                name,
                version,
                integrity,
            } => self.npm(name, version, integrity.as_deref()).await,
            Item::Pypi {
                name,
                version,
                files,
                hashes,
            } => self.pypi(name, version, files, hashes).await,
            Item::Cargo {
                name,
                version,
                checksum,
            } => self.cargo(name, version, checksum.as_deref()).await,
            Item::Go {
                module,
                version,
                zip,
                go_mod,
            } => {
                self.go(module, version, zip.as_deref(), go_mod.as_deref())
                    .await
            }
            Item::Maven {
                group,
                artifact,
                version,
                packaging,
            } => self.maven(group, artifact, version, packaging).await,
            Item::Oci {
                reference,
                platforms,
            } => self.oci(reference, platforms).await,
        }
    }

    async fn npm(&self, name: &str, version: &str, integrity: Option<&str>) -> Step<()> {
        let repo = &self.repository;
        let path_name = name.replacen('/', "%2f", 1);
        let bare = name.rsplit('/').next().unwrap_or(name);
        let (body, _) = self.get(&format!("/npm/{repo}/{path_name}"), None).await?;
        let packument: Value = serde_json::from_slice(&body)
            .map_err(|e| Stop(Outcome::Failed(format!("packument of {name}: {e}"))))?;
        let dist = &packument["versions"][version]["dist"];
        let Some(tarball) = dist["tarball"].as_str() else {
            // Not listed: the tarball's own answer says why (a refusal
            // names its rule).
            self.get(&format!("/npm/{repo}/{name}/-/{bare}-{version}.tgz"), None)
                .await?;
            return Err(Stop(Outcome::Missing(format!(
                "{name}@{version} is not in the packument"
            ))));
        };
        let (bytes, _) = self.get(tarball, None).await?;
        let want = integrity.or(dist["integrity"].as_str());
        match want.and_then(|sri| sri_matches(sri, &bytes)) {
            Some(false) => Err(Stop(Outcome::Mismatch(format!(
                "the tarball does not match {}",
                want.unwrap_or_default()
            )))),
            _ => Ok(()),
        }
    }

    async fn pypi(
        &self,
        name: &str,
        version: &str,
        files: &[String],
        hashes: &[String],
    ) -> Step<()> {
        let repo = &self.repository;
        let key = cairn_core::package_key(cairn_core::Format::Pypi, name)
            .map_err(|e| Stop(Outcome::Failed(e.to_string())))?;
        let (body, _) = self
            .get(
                &format!("/pypi/{repo}/simple/{key}/"),
                Some("application/vnd.pypi.simple.v1+json"),
            )
            .await?;
        let page: Value = serde_json::from_slice(&body)
            .map_err(|e| Stop(Outcome::Failed(format!("page of {name}: {e}"))))?;
        let listed: Vec<&Value> = page["files"].as_array().into_iter().flatten().collect();
        let version_of = |f: &str| -> Option<String> {
            let v = match f.strip_suffix(".whl") {
                Some(stem) => stem.split('-').nth(1)?.to_string(),
                None => {
                    let stem = [".tar.gz", ".zip", ".tar.bz2"]
                        .iter()
                        .find_map(|e| f.strip_suffix(e))?;
                    stem.rsplit_once('-')?.1.to_string()
                }
            };
            Some(v)
        };
        let chosen: Vec<&Value> = listed
            .iter()
            .copied()
            .filter(|f| {
                let filename = f["filename"].as_str().unwrap_or_default();
                let sha = f["hashes"]["sha256"].as_str().unwrap_or_default();
                if !files.is_empty() {
                    files.iter().any(|n| n == filename)
                } else {
                    version_of(filename).as_deref() == Some(version)
                        && (hashes.is_empty() || hashes.iter().any(|h| h == sha))
                }
            })
            .collect();
        if chosen.is_empty() {
            // A file the lockfile names answers why it is not listed.
            if let Some(f) = files.first() {
                self.get(&format!("/pypi/{repo}/files/{key}/{f}"), None)
                    .await?;
            }
            let detail = if hashes.is_empty() {
                ""
            } else {
                " with the lockfile's hashes"
            };
            return Err(Stop(Outcome::Missing(format!(
                "no file of {name} {version}{detail} on the page (not there, or held back)"
            ))));
        }
        for f in chosen {
            let url = f["url"].as_str().unwrap_or_default();
            let (bytes, _) = self.get(url, None).await?;
            let got = sha256_hex(&bytes);
            let page_sha = f["hashes"]["sha256"].as_str();
            let locked = hashes.is_empty() || hashes.contains(&got);
            if page_sha.is_some_and(|h| h != got) || !locked {
                return Err(Stop(Outcome::Mismatch(format!(
                    "{} has sha256 {got}, not what the lockfile says",
                    f["filename"].as_str().unwrap_or_default()
                ))));
            }
        }
        Ok(())
    }

    async fn cargo(&self, name: &str, version: &str, checksum: Option<&str>) -> Step<()> {
        let repo = &self.repository;
        let lower = name.to_ascii_lowercase();
        let dir = match lower.len() {
            1 => "1".to_string(),
            2 => "2".to_string(),
            3 => format!("3/{}", &lower[..1]),
            _ => format!("{}/{}", &lower[..2], &lower[2..4]),
        };
        // The index file too: an offline build reads it first.
        self.get(&format!("/cargo/{repo}/index/{dir}/{lower}"), None)
            .await?;
        let (bytes, _) = self
            .get(
                &format!("/cargo/{repo}/api/v1/crates/{name}/{version}/download"),
                None,
            )
            .await?;
        match checksum {
            Some(c) if !c.eq_ignore_ascii_case(&sha256_hex(&bytes)) => Err(Stop(
                Outcome::Mismatch(format!("the .crate does not match the checksum {c}")),
            )),
            _ => Ok(()),
        }
    }

    async fn go(
        &self,
        module: &str,
        version: &str,
        zip: Option<&str>,
        go_mod: Option<&str>,
    ) -> Step<()> {
        let repo = &self.repository;
        let escaped = |s: &str| cairn_go::module::escape(s);
        let base = format!("/go/{repo}/{}/@v/{}", escaped(module), escaped(version));
        self.get(&format!("{base}.info"), None).await?;
        let (mod_bytes, _) = self.get(&format!("{base}.mod"), None).await?;
        if let Some(h) = go_mod {
            if cairn_go::modzip::go_mod_hash(&mod_bytes) != h {
                return Err(Stop(Outcome::Mismatch(format!(
                    "go.mod does not match {h}"
                ))));
            }
        }
        if let Some(h) = zip {
            let (bytes, _) = self.get(&format!("{base}.zip"), None).await?;
            let files = cairn_go::modzip::read(module, version, &bytes)
                .map_err(|e| Stop(Outcome::Failed(format!("the module zip: {e}"))))?;
            if cairn_go::modzip::zip_hash(module, version, &files) != h {
                return Err(Stop(Outcome::Mismatch(format!(
                    "the zip does not match {h}"
                ))));
            }
        }
        Ok(())
    }

    async fn maven(&self, group: &str, artifact: &str, version: &str, packaging: &str) -> Step<()> {
        let repo = &self.repository;
        let dir = format!("/maven/{repo}/{}/{artifact}", group.replace('.', "/"));
        // The artifact's metadata, for version ranges resolved offline.
        self.get(&format!("{dir}/maven-metadata.xml"), None).await?;
        let mut files = vec![format!("{artifact}-{version}.pom")];
        if packaging != "pom" {
            files.push(format!("{artifact}-{version}.{packaging}"));
        }
        for f in files {
            let (bytes, _) = self.get(&format!("{dir}/{version}/{f}"), None).await?;
            let (sha1, _) = self.get(&format!("{dir}/{version}/{f}.sha1"), None).await?;
            let want = String::from_utf8_lossy(&sha1);
            let want = want
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let got = hex::encode(sha1::Sha1::digest(&bytes));
            if got != want {
                return Err(Stop(Outcome::Mismatch(format!(
                    "{f} does not match its .sha1 {want}"
                ))));
            }
        }
        Ok(())
    }

    async fn oci(&self, reference: &str, platforms: &[String]) -> Step<()> {
        const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
        let (name, reference) = match reference.split_once('@') {
            Some((n, d)) => (n, d.to_string()),
            None => match reference.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
                Some((n, t)) => (n, t.to_string()),
                None => (reference, "latest".to_string()),
            },
        };
        let repo = if self.repository.is_empty() {
            format!("/v2/{name}")
        } else {
            format!("/v2/{}/{name}", self.repository)
        };
        let (bytes, content_type) = self
            .get(&format!("{repo}/manifests/{reference}"), Some(ACCEPT))
            .await?;
        let check = |bytes: &[u8], digest: &str| -> Step<()> {
            let got = format!("sha256:{}", sha256_hex(bytes));
            if digest.starts_with("sha256:") && got != digest {
                return Err(Stop(Outcome::Mismatch(format!(
                    "{digest} reads back as {got}"
                ))));
            }
            Ok(())
        };
        if reference.starts_with("sha256:") {
            check(&bytes, &reference)?;
        }
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|e| Stop(Outcome::Failed(format!("manifest of {name}: {e}"))))?;
        let is_index = doc["manifests"].is_array()
            || content_type
                .as_deref()
                .is_some_and(|t| t.contains("index") || t.contains("list"));
        let mut manifests = Vec::new();
        if is_index {
            for m in doc["manifests"].as_array().into_iter().flatten() {
                let p = &m["platform"];
                let platform = format!(
                    "{}/{}",
                    p["os"].as_str().unwrap_or_default(),
                    p["architecture"].as_str().unwrap_or_default()
                );
                if !platforms.is_empty() && !platforms.iter().any(|w| w == &platform) {
                    continue;
                }
                let digest = m["digest"].as_str().unwrap_or_default().to_string();
                let (child, _) = self
                    .get(&format!("{repo}/manifests/{digest}"), Some(ACCEPT))
                    .await?;
                check(&child, &digest)?;
                manifests.push(serde_json::from_slice::<Value>(&child).unwrap_or_default());
            }
        } else {
            manifests.push(doc);
        }
        for m in manifests {
            let blobs = m["config"].as_object().into_iter().chain(
                m["layers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l.as_object()),
            );
            for b in blobs {
                let digest = b.get("digest").and_then(|d| d.as_str()).unwrap_or_default();
                let (bytes, _) = self.get(&format!("{repo}/blobs/{digest}"), None).await?;
                check(&bytes, digest)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sri_strings_are_checked_by_any_known_algorithm() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let sri = format!("sha512-{}", b64.encode(sha2::Sha512::digest(b"x")));
        assert_eq!(sri_matches(&sri, b"x"), Some(true));
        assert_eq!(sri_matches(&sri, b"y"), Some(false));
        assert_eq!(sri_matches("md5-abc", b"x"), None);
        let both = format!("sha1-{} {sri}", b64.encode(sha1::Sha1::digest(b"y")));
        assert_eq!(sri_matches(&both, b"x"), Some(true));
    }
}
