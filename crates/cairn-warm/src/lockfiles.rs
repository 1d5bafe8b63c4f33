//! What a lockfile (or a list) names, as items to fetch: each ecosystem's
//! lockfile read with its own format's crate (JSON, TOML) or line rules.

use anyhow::{bail, Context};
use serde_json::Value;

/// One thing to fetch, with what the lockfile says it must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An npm version; `integrity` is an SRI string (`sha512-…`).
    Npm {
        name: String,
        version: String,
        integrity: Option<String>,
    },
    /// PyPI files of a version: the named files (uv.lock), or those whose
    /// SHA-256 is among `hashes` (requirements.txt), or every file.
    Pypi {
        name: String,
        version: String,
        files: Vec<String>,
        hashes: Vec<String>,
    },
    /// A crate; `checksum` is the hex SHA-256 of the `.crate`.
    Cargo {
        name: String,
        version: String,
        checksum: Option<String>,
    },
    /// A Go module version: `zip` and `go_mod` are go.sum's `h1:` hashes.
    Go {
        module: String,
        version: String,
        zip: Option<String>,
        go_mod: Option<String>,
    },
    /// A Maven artifact: its POM, and its file of `packaging` unless `pom`.
    Maven {
        group: String,
        artifact: String,
        version: String,
        packaging: String,
    },
    /// A container image (`name:tag` or `name@sha256:…`), every platform of
    /// an index or the ones listed.
    Oci {
        reference: String,
        platforms: Vec<String>,
    },
}

impl Item {
    /// The item in words, for progress and reports.
    pub fn label(&self) -> String {
        match self {
            Item::Npm { name, version, .. } => format!("npm {name}@{version}"),
            Item::Pypi { name, version, .. } => format!("pypi {name}=={version}"),
            Item::Cargo { name, version, .. } => format!("cargo {name} {version}"),
            Item::Go {
                module, version, ..
            } => format!("go {module}@{version}"),
            Item::Maven {
                group,
                artifact,
                version,
                ..
            } => format!("maven {group}:{artifact}:{version}"),
            Item::Oci { reference, .. } => format!("oci {reference}"),
        }
    }
}

/// The formats `cairn warm` reads, and how a file names its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// package-lock.json or npm-shrinkwrap.json (lockfile v1, v2 or v3),
    /// pnpm-lock.yaml, or yarn.lock (v1, or berry's).
    Npm,
    /// requirements.txt (with `--hash=`) or uv.lock.
    Pypi,
    /// Cargo.lock.
    Cargo,
    /// go.sum.
    Go,
    /// One `group:artifact:version[:packaging]` per line.
    Maven,
    /// One image reference per line (`name:tag`, `name@sha256:…`),
    /// optionally followed by platforms (`linux/amd64,linux/arm64`).
    Oci,
}

impl Kind {
    /// The format a file's name says, if it says one.
    pub fn of_file(name: &str) -> Option<Kind> {
        let base = name.rsplit('/').next().unwrap_or(name);
        match base {
            "package-lock.json" | "npm-shrinkwrap.json" | "pnpm-lock.yaml" | "yarn.lock" => {
                Some(Kind::Npm)
            }
            "uv.lock" => Some(Kind::Pypi),
            "Cargo.lock" => Some(Kind::Cargo),
            "go.sum" => Some(Kind::Go),
            b if b.starts_with("requirements") && b.ends_with(".txt") => Some(Kind::Pypi),
            _ => None,
        }
    }

    /// A format by its name (`npm`, `pypi`, `cargo`, `go`, `maven`, `oci`).
    pub fn parse(s: &str) -> Option<Kind> {
        [
            Kind::Npm,
            Kind::Pypi,
            Kind::Cargo,
            Kind::Go,
            Kind::Maven,
            Kind::Oci,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Npm => "npm",
            Kind::Pypi => "pypi",
            Kind::Cargo => "cargo",
            Kind::Go => "go",
            Kind::Maven => "maven",
            Kind::Oci => "oci",
        }
    }
}

/// The items `text` (the file `name`) names.
pub fn read(kind: Kind, name: &str, text: &str) -> anyhow::Result<Vec<Item>> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let items = match kind {
        Kind::Npm if base == "pnpm-lock.yaml" => {
            pnpm(text).with_context(|| format!("{name}: not a pnpm lockfile"))?
        }
        Kind::Npm if base == "yarn.lock" => {
            yarn(text).with_context(|| format!("{name}: not a yarn lockfile"))?
        }
        Kind::Npm => npm(text).with_context(|| format!("{name}: not an npm lockfile"))?,
        Kind::Pypi if base == "uv.lock" => {
            uv_lock(text).with_context(|| format!("{name}: not a uv.lock"))?
        }
        Kind::Pypi => requirements(text),
        Kind::Cargo => cargo_lock(text).with_context(|| format!("{name}: not a Cargo.lock"))?,
        Kind::Go => go_sum(text),
        Kind::Maven => maven_list(text)?,
        Kind::Oci => oci_list(text),
    };
    Ok(items)
}

/// package-lock.json: v2/v3 `packages` (keys `node_modules/<name>`, nested
/// ones too), or v1 `dependencies` (nested). Links, the root, bundled and
/// non-registry (git, file) entries are left out.
fn npm(text: &str) -> anyhow::Result<Vec<Item>> {
    let doc: Value = serde_json::from_str(text)?;
    let mut out = Vec::new();
    let from_registry = |e: &Value| {
        e["resolved"].as_str().is_some_and(|r| {
            (r.starts_with("http://") || r.starts_with("https://")) && r.ends_with(".tgz")
        })
    };
    if let Some(packages) = doc["packages"].as_object() {
        for (path, e) in packages {
            let Some(i) = path.rfind("node_modules/") else {
                continue;
            };
            if e["link"].as_bool() == Some(true)
                || e["inBundle"].as_bool() == Some(true)
                || !from_registry(e)
            {
                continue;
            }
            let name = e["name"]
                .as_str()
                .unwrap_or(&path[i + "node_modules/".len()..]);
            if let Some(version) = e["version"].as_str() {
                out.push(Item::Npm {
                    name: name.to_string(),
                    version: version.to_string(),
                    integrity: e["integrity"].as_str().map(str::to_string),
                });
            }
        }
    } else if doc["dependencies"].is_object() {
        fn walk(deps: &Value, out: &mut Vec<Item>) {
            for (name, e) in deps.as_object().into_iter().flatten() {
                let registry = e["resolved"].as_str().is_some_and(|r| r.ends_with(".tgz"));
                if let (Some(version), true, false) = (
                    e["version"].as_str(),
                    registry,
                    e["bundled"].as_bool() == Some(true),
                ) {
                    out.push(Item::Npm {
                        name: name.clone(),
                        version: version.to_string(),
                        integrity: e["integrity"].as_str().map(str::to_string),
                    });
                }
                walk(&e["dependencies"], out);
            }
        }
        walk(&doc["dependencies"], &mut out);
    } else {
        bail!("neither `packages` nor `dependencies`");
    }
    out.sort_by_key(Item::label);
    out.dedup();
    Ok(out)
}

/// pnpm-lock.yaml: `packages` keys `name@version` (v6 with a leading `/`,
/// v9 without; a peer suffix `(…)` dropped) or v5's `/name/version`, with
/// `resolution.integrity`; tarball and git resolutions are left out.
fn pnpm(text: &str) -> anyhow::Result<Vec<Item>> {
    let docs = yaml_rust2::YamlLoader::load_from_str(text)?;
    let doc = docs.first().context("empty")?;
    let packages = doc["packages"].as_hash().context("no `packages`")?;
    let mut out = Vec::new();
    for (key, entry) in packages {
        let Some(key) = key.as_str() else { continue };
        let Some(integrity) = entry["resolution"]["integrity"].as_str() else {
            continue;
        };
        let key = key.strip_prefix('/').unwrap_or(key);
        let key = key.split('(').next().unwrap_or(key);
        let split = match key.rfind('@').filter(|i| *i > 0) {
            Some(i) => Some((&key[..i], &key[i + 1..])),
            // v5: name/version (a scoped name has one more slash).
            None => key.rsplit_once('/'),
        };
        if let Some((name, version)) = split {
            out.push(Item::Npm {
                name: name.to_string(),
                version: version.to_string(),
                integrity: Some(integrity.to_string()),
            });
        }
    }
    out.sort_by_key(Item::label);
    out.dedup();
    Ok(out)
}

/// yarn.lock: v1's own format (`version "…"`, `resolved "…"`, `integrity
/// …` under each entry's header), or berry's YAML (`resolution:
/// "name@npm:version"`; its `checksum` is of yarn's own zip, so there is no
/// hash to check the tarball against).
fn yarn(text: &str) -> anyhow::Result<Vec<Item>> {
    let mut out = Vec::new();
    if text.contains("__metadata:") {
        let docs = yaml_rust2::YamlLoader::load_from_str(text)?;
        let doc = docs.first().context("empty")?;
        for (_, entry) in doc.as_hash().context("not a map")? {
            let Some(resolution) = entry["resolution"].as_str() else {
                continue;
            };
            let Some(at) = resolution.find("@npm:").filter(|i| *i > 0) else {
                continue;
            };
            out.push(Item::Npm {
                name: resolution[..at].to_string(),
                version: resolution[at + "@npm:".len()..].to_string(),
                integrity: None,
            });
        }
    } else {
        let mut header: Option<String> = None;
        let (mut version, mut resolved, mut integrity) = (None, None, None);
        let flush = |header: &Option<String>,
                     version: &Option<String>,
                     resolved: &Option<String>,
                     integrity: &Option<String>,
                     out: &mut Vec<Item>| {
            let (Some(h), Some(v), Some(r)) = (header, version, resolved) else {
                return;
            };
            if !r.contains(".tgz") {
                return;
            }
            let spec = h.split(", ").next().unwrap_or(h).trim_matches('"');
            if let Some(i) = spec.rfind('@').filter(|i| *i > 0) {
                out.push(Item::Npm {
                    name: spec[..i].to_string(),
                    version: v.clone(),
                    integrity: integrity.clone(),
                });
            }
        };
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if !line.starts_with(' ') {
                flush(&header, &version, &resolved, &integrity, &mut out);
                header = line.strip_suffix(':').map(str::to_string);
                (version, resolved, integrity) = (None, None, None);
                continue;
            }
            let line = line.trim();
            let value = |k: &str| {
                line.strip_prefix(k)
                    .map(|v| v.trim().trim_matches('"').to_string())
            };
            if let Some(v) = value("version ") {
                version = Some(v);
            } else if let Some(v) = value("resolved ") {
                resolved = Some(v);
            } else if let Some(v) = value("integrity ") {
                integrity = Some(v);
            }
        }
        flush(&header, &version, &resolved, &integrity, &mut out);
    }
    out.sort_by_key(Item::label);
    out.dedup();
    Ok(out)
}

/// requirements.txt: `name==version` lines with their `--hash=sha256:…`
/// options (continued over `\` line ends); other lines (comments, options,
/// ranges, URLs) are left out.
fn requirements(text: &str) -> Vec<Item> {
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let line = line.split(" #").next().unwrap_or(line).trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
            continue;
        }
        let mut words = line.split_whitespace();
        let Some(spec) = words.next() else { continue };
        let spec = spec.split(';').next().unwrap_or(spec);
        let Some((name, version)) = spec.split_once("==") else {
            continue;
        };
        let name = name.split('[').next().unwrap_or(name).trim();
        let hashes = line
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("--hash=sha256:"))
            .map(str::to_ascii_lowercase)
            .collect();
        out.push(Item::Pypi {
            name: name.to_string(),
            version: version.trim().to_string(),
            files: vec![],
            hashes,
        });
    }
    out
}

/// uv.lock: `[[package]]` entries from a registry, with their sdist's and
/// wheels' file names and hashes.
fn uv_lock(text: &str) -> anyhow::Result<Vec<Item>> {
    let doc: toml::Table = text.parse()?;
    let mut out = Vec::new();
    for p in doc
        .get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let from_registry = p.get("source").and_then(|s| s.get("registry")).is_some();
        let (Some(name), Some(version), true) = (
            p.get("name").and_then(|v| v.as_str()),
            p.get("version").and_then(|v| v.as_str()),
            from_registry,
        ) else {
            continue;
        };
        let mut files = Vec::new();
        let mut hashes = Vec::new();
        let dists = p.get("sdist").into_iter().chain(
            p.get("wheels")
                .and_then(|w| w.as_array())
                .into_iter()
                .flatten(),
        );
        for d in dists {
            if let Some(url) = d.get("url").and_then(|u| u.as_str()) {
                let file = url.rsplit('/').next().unwrap_or(url);
                files.push(file.split(['#', '?']).next().unwrap_or(file).to_string());
            }
            if let Some(h) = d
                .get("hash")
                .and_then(|h| h.as_str())
                .and_then(|h| h.strip_prefix("sha256:"))
            {
                hashes.push(h.to_ascii_lowercase());
            }
        }
        out.push(Item::Pypi {
            name: name.to_string(),
            version: version.to_string(),
            files,
            hashes,
        });
    }
    Ok(out)
}

/// Cargo.lock: `[[package]]` entries from a registry (not path or git
/// dependencies), with their checksums.
fn cargo_lock(text: &str) -> anyhow::Result<Vec<Item>> {
    let doc: toml::Table = text.parse()?;
    let mut out = Vec::new();
    for p in doc
        .get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let source = p.get("source").and_then(|s| s.as_str()).unwrap_or("");
        if !(source.starts_with("registry+") || source.starts_with("sparse+")) {
            continue;
        }
        if let (Some(name), Some(version)) = (
            p.get("name").and_then(|v| v.as_str()),
            p.get("version").and_then(|v| v.as_str()),
        ) {
            out.push(Item::Cargo {
                name: name.to_string(),
                version: version.to_string(),
                checksum: p
                    .get("checksum")
                    .and_then(|c| c.as_str())
                    .map(str::to_string),
            });
        }
    }
    Ok(out)
}

/// go.sum: `<module> <version> h1:…` (the zip) and `<module>
/// <version>/go.mod h1:…` lines, one item per module version.
fn go_sum(text: &str) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::new();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        let (Some(module), Some(version), Some(hash)) = (w.next(), w.next(), w.next()) else {
            continue;
        };
        let (version, is_mod) = match version.strip_suffix("/go.mod") {
            Some(v) => (v, true),
            None => (version, false),
        };
        let existing = out.iter_mut().find(
            |i| matches!(i, Item::Go { module: m, version: v, .. } if m == module && v == version),
        );
        let item = match existing {
            Some(i) => i,
            None => {
                out.push(Item::Go {
                    module: module.to_string(),
                    version: version.to_string(),
                    zip: None,
                    go_mod: None,
                });
                out.last_mut().expect("just pushed")
            }
        };
        if let Item::Go { zip, go_mod, .. } = item {
            if is_mod {
                *go_mod = Some(hash.to_string());
            } else {
                *zip = Some(hash.to_string());
            }
        }
    }
    out
}

fn maven_list(text: &str) -> anyhow::Result<Vec<Item>> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split(':').collect();
        let (group, artifact, version, packaging) = match parts[..] {
            [g, a, v] => (g, a, v, "jar"),
            [g, a, v, p] => (g, a, v, p),
            _ => bail!("{line:?}: expected group:artifact:version[:packaging]"),
        };
        out.push(Item::Maven {
            group: group.to_string(),
            artifact: artifact.to_string(),
            version: version.to_string(),
            packaging: packaging.to_string(),
        });
    }
    Ok(out)
}

fn oci_list(text: &str) -> Vec<Item> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut w = l.split_whitespace();
            let reference = w.next().unwrap_or_default().to_string();
            let platforms = w
                .next()
                .map(|p| p.split(',').map(str::to_string).collect())
                .unwrap_or_default();
            Item::Oci {
                reference,
                platforms,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_lockfiles_v1_and_v3() {
        let v3 = r#"{"lockfileVersion":3,"packages":{
            "":{"name":"app"},
            "node_modules/a":{"version":"1.0.0","resolved":"https://r/a/-/a-1.0.0.tgz","integrity":"sha512-x"},
            "node_modules/a/node_modules/@s/b":{"version":"2.0.0","resolved":"https://r/@s/b/-/b-2.0.0.tgz"},
            "node_modules/c":{"link":true,"resolved":"../c"},
            "node_modules/d":{"version":"1.0.0","resolved":"git+ssh://x"}}}"#;
        let items = read(Kind::Npm, "package-lock.json", v3).unwrap();
        let labels: Vec<String> = items.iter().map(Item::label).collect();
        assert_eq!(labels, ["npm @s/b@2.0.0", "npm a@1.0.0"]);
        let v1 = r#"{"lockfileVersion":1,"dependencies":{"a":{"version":"1.0.0","resolved":"https://r/a-1.0.0.tgz",
            "dependencies":{"b":{"version":"2.0.0","resolved":"https://r/b-2.0.0.tgz","integrity":"sha1-x"}}}}}"#;
        assert_eq!(read(Kind::Npm, "package-lock.json", v1).unwrap().len(), 2);
        assert!(read(Kind::Npm, "package-lock.json", "{}").is_err());
    }

    #[test]
    fn pnpm_and_yarn_lockfiles() {
        let pnpm9 = "lockfileVersion: '9.0'\npackages:\n  '@s/b@2.0.0':\n    resolution: {integrity: sha512-b}\n  a@1.0.0(react@18.0.0):\n    resolution: {integrity: sha512-a}\n  c@1.0.0:\n    resolution: {tarball: https://x/c.tgz}\nsnapshots: {}\n";
        let items = read(Kind::Npm, "pnpm-lock.yaml", pnpm9).unwrap();
        assert_eq!(
            items.iter().map(Item::label).collect::<Vec<_>>(),
            ["npm @s/b@2.0.0", "npm a@1.0.0"]
        );
        let pnpm5 = "lockfileVersion: 5.4\npackages:\n  /left-pad/1.3.0:\n    resolution: {integrity: sha512-x}\n";
        assert_eq!(
            read(Kind::Npm, "pnpm-lock.yaml", pnpm5).unwrap()[0].label(),
            "npm left-pad@1.3.0"
        );
        let v1 = "# yarn lockfile v1\n\n\"@s/b@^2.0.0\", \"@s/b@~2.0\":\n  version \"2.0.1\"\n  resolved \"https://r/@s/b/-/b-2.0.1.tgz#abc\"\n  integrity sha512-b\n\nleft-pad@^1.0.0:\n  version \"1.3.0\"\n  resolved \"https://r/left-pad/-/left-pad-1.3.0.tgz\"\n  dependencies:\n    x \"^1\"\n";
        let items = read(Kind::Npm, "yarn.lock", v1).unwrap();
        assert_eq!(
            items,
            [
                Item::Npm {
                    name: "@s/b".into(),
                    version: "2.0.1".into(),
                    integrity: Some("sha512-b".into())
                },
                Item::Npm {
                    name: "left-pad".into(),
                    version: "1.3.0".into(),
                    integrity: None
                },
            ]
        );
        let berry = "__metadata:\n  version: 6\n\n\"left-pad@npm:^1.0.0\":\n  version: 1.3.0\n  resolution: \"left-pad@npm:1.3.0\"\n  checksum: ab\n\n\"app@workspace:.\":\n  version: 0.0.0-use.local\n  resolution: \"app@workspace:.\"\n";
        assert_eq!(
            read(Kind::Npm, "yarn.lock", berry).unwrap(),
            [Item::Npm {
                name: "left-pad".into(),
                version: "1.3.0".into(),
                integrity: None
            }]
        );
    }

    #[test]
    fn requirements_with_hashes_and_continuations() {
        let text = "# pinned\nDemo_Pkg[extra]==1.0 ; python_version >= '3.8' \\\n    --hash=sha256:AA \\\n    --hash=sha256:bb\n-r other.txt\nloose>=1\n";
        assert_eq!(
            read(Kind::Pypi, "requirements.txt", text).unwrap(),
            [Item::Pypi {
                name: "Demo_Pkg".into(),
                version: "1.0".into(),
                files: vec![],
                hashes: vec!["aa".into(), "bb".into()]
            }]
        );
    }

    #[test]
    fn uv_cargo_go_maven_and_oci() {
        let uv = r#"
[[package]]
name = "demo"
version = "1.0"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://f/demo-1.0.tar.gz", hash = "sha256:AB", size = 1 }
wheels = [{ url = "https://f/demo-1.0-py3-none-any.whl", hash = "sha256:cd", size = 1 }]
[[package]]
name = "app"
version = "0.1"
source = { editable = "." }
"#;
        let items = read(Kind::Pypi, "uv.lock", uv).unwrap();
        assert_eq!(items.len(), 1);
        assert!(matches!(&items[0], Item::Pypi { files, hashes, .. }
            if files == &["demo-1.0.tar.gz", "demo-1.0-py3-none-any.whl"] && hashes == &["ab", "cd"]));
        let lock = "[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"ff\"\n";
        assert_eq!(read(Kind::Cargo, "Cargo.lock", lock).unwrap().len(), 1);
        let sum = "example.com/m v1.0.0 h1:zip=\nexample.com/m v1.0.0/go.mod h1:mod=\nexample.com/n v0.1.0/go.mod h1:n=\n";
        let go = read(Kind::Go, "go.sum", sum).unwrap();
        assert_eq!(go.len(), 2);
        assert!(
            matches!(&go[0], Item::Go { zip: Some(z), go_mod: Some(m), .. } if z == "h1:zip=" && m == "h1:mod=")
        );
        assert!(matches!(&go[1], Item::Go { zip: None, .. }));
        let maven = read(Kind::Maven, "list", "org.a:b:1.0\norg.a:c:2.0:pom\n").unwrap();
        assert_eq!(maven.len(), 2);
        assert!(read(Kind::Maven, "list", "nonsense\n").is_err());
        let oci = read(
            Kind::Oci,
            "images",
            "library/alpine:3 linux/amd64,linux/arm64\napp@sha256:ab\n",
        )
        .unwrap();
        assert!(matches!(&oci[0], Item::Oci { platforms, .. } if platforms.len() == 2));
        assert_eq!(Kind::of_file("x/requirements-dev.txt"), Some(Kind::Pypi));
        assert_eq!(Kind::of_file("images.txt"), None);
    }
}
