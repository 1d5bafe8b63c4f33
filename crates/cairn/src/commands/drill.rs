//! `cairn dr-drill`: proves a backup restores. It restores the backup into
//! a scratch database (never the registry's own), starts a second cairn on
//! that database and the registry's blob store, fetches a sample of every
//! format through it the way each client does, checking every digest, and
//! prints the recovery time and every gap (docs/backup.md, "The DR drill").
//!
//! The second cairn only reads: its collector is off and no orphan is
//! adopted, since blobs newer than the backup are orphans to it and must
//! stay the live registry's.

use super::{load_config, CommonArgs};
use cairn_core::Format;
use cairn_store::backup::{read_manifest, restore_snapshot, verify_backup, DrillSample};
use cairn_warm::{Item, Outcome, Warmer};
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args)]
pub(crate) struct DrillArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// A backup's directory (DIR/<id>).
    dir: PathBuf,
    /// Where the scratch database goes for a SQLite backup (a new
    /// directory; removed afterwards unless --keep).
    #[arg(long)]
    scratch: Option<PathBuf>,
    /// The scratch database for a PostgreSQL backup: an empty database,
    /// never the registry's own.
    #[arg(long)]
    scratch_database_url: Option<String>,
    /// How many tags, and how many versions of each package format, to fetch.
    #[arg(long, default_value_t = 20)]
    sample: u32,
    /// Keep the scratch database afterwards.
    #[arg(long)]
    keep: bool,
    #[command(flatten)]
    tools: super::backup::Tools,
}

pub(crate) async fn dr_drill(args: DrillArgs) -> anyhow::Result<()> {
    let live = load_config(&args.common, None)?;
    let live_url = cairn_store::database_url(&live.data_dir, live.database_url.as_deref());
    let manifest = read_manifest(&args.dir)?;
    let scratch_dir = match &args.scratch {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("cairn-drill-{}", manifest.id)),
    };
    let scratch_url = match (&args.scratch_database_url, manifest.engine.as_str()) {
        (Some(url), _) => url.clone(),
        (None, "sqlite") => format!("sqlite://{}", scratch_dir.join("cairn.db").display()),
        (None, engine) => anyhow::bail!(
            "a {engine} backup needs --scratch-database-url: an empty database to restore into"
        ),
    };
    if scratch_url == live_url {
        anyhow::bail!("the scratch database is the registry's own ({live_url}): give another");
    }
    if cairn_store::backup::holds_registry(&scratch_url).await? {
        anyhow::bail!(
            "the scratch database {scratch_url} already holds a registry: give an empty one"
        );
    }

    let started = Instant::now();
    eprintln!("drill: restoring backup {} into {scratch_url}", manifest.id);
    restore_snapshot(&args.dir, &scratch_url, &args.tools.pg()).await?;
    let restored = started.elapsed();

    // The backup's blobs, against the registry's blob store.
    let (blob_store, _) =
        cairn_store::open(&live.data_dir, &live.storage, live.database_url.as_deref()).await?;
    let (_, missing) = verify_backup(&args.dir, &*blob_store, false).await?;

    // The second cairn: the scratch database, the live blob store, reads only.
    let mut config = cairn_server::Config {
        data_dir: live.data_dir.clone(),
        storage: live.storage.clone(),
        packages: live.packages.clone(),
        oci: live.oci.clone(),
        database_url: Some(scratch_url.clone()),
        ..Default::default()
    };
    config.gc.enabled = false;
    config.auth.anonymous_read = cairn_server::config::AnonymousRead::All(true);
    let app = cairn_server::App::build(config).await?;
    let meta = app.state.meta.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(cairn_server::run(listener, app, async {
        let _ = stopped.await;
    }));
    wait_ready(&base).await?;
    let ready = started.elapsed();
    eprintln!(
        "drill: restored in {:.2} s, a second cairn serves it at {base} after {:.2} s",
        restored.as_secs_f64(),
        ready.as_secs_f64()
    );

    let sample = meta.drill_sample(args.sample).await?;
    let mut counts: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    let mut gaps: Vec<String> = missing.iter().map(|m| format!("blob store: {m}")).collect();
    for s in &sample {
        let (kind, repository, item) = item_of(s);
        let warmer = Warmer::new(&base, &repository, None)?;
        let results = warmer.run(vec![item], 1, |_, _| {}).await;
        let entry = counts.entry(kind).or_default();
        entry.0 += 1;
        for (label, outcome) in results {
            match outcome {
                Outcome::Ok => entry.1 += 1,
                other => gaps.push(format!(
                    "{label} in {repository}: {} ({})",
                    other.word(),
                    other.message().unwrap_or_default()
                )),
            }
        }
    }
    let _ = stop.send(());
    let _ = server.await;
    if !args.keep && args.scratch_database_url.is_none() {
        let _ = std::fs::remove_dir_all(&scratch_dir);
    }

    let fetched: Vec<String> = counts
        .iter()
        .map(|(k, (n, ok))| format!("{k} {ok}/{n}"))
        .collect();
    println!(
        "dr-drill of backup {}: recovery time {:.2} s (restore {:.2} s); fetched and verified: {}; {} blobs checked; {} gaps; {:.1} s in all",
        manifest.id,
        ready.as_secs_f64(),
        restored.as_secs_f64(),
        if fetched.is_empty() { "nothing".to_string() } else { fetched.join(", ") },
        manifest.blobs,
        gaps.len(),
        started.elapsed().as_secs_f64()
    );
    for g in &gaps {
        println!("  gap: {g}");
    }
    if !gaps.is_empty() {
        anyhow::bail!("the drill found {} gaps", gaps.len());
    }
    Ok(())
}

async fn wait_ready(base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            anyhow::bail!("the drill's cairn did not become ready at {base}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A sample as the item `cairn warm` fetches: its kind, the repository to
/// fetch it through, and the item with the digests it must hash to.
fn item_of(s: &DrillSample) -> (&'static str, String, Item) {
    match s {
        DrillSample::Image { repository, tag } => (
            "oci",
            String::new(),
            Item::Oci {
                reference: format!("{repository}:{tag}"),
                platforms: vec![],
            },
        ),
        DrillSample::Version {
            format,
            repository,
            name,
            version,
            files,
        } => {
            let sha256 = |i: usize| files.get(i).map(|(_, d)| d.hex().to_string());
            let item = match format {
                Format::Npm => Item::Npm {
                    name: name.clone(),
                    version: version.clone(),
                    integrity: files.first().map(|(_, d)| {
                        use base64::Engine;
                        let raw = hex::decode(d.hex()).unwrap_or_default();
                        format!(
                            "sha256-{}",
                            base64::engine::general_purpose::STANDARD.encode(raw)
                        )
                    }),
                },
                Format::Pypi => Item::Pypi {
                    name: name.clone(),
                    version: version.clone(),
                    files: files.iter().map(|(f, _)| f.clone()).collect(),
                    hashes: files.iter().map(|(_, d)| d.hex().to_string()).collect(),
                },
                Format::Cargo => Item::Cargo {
                    name: name.clone(),
                    version: version.clone(),
                    checksum: sha256(0),
                },
                Format::Go => Item::Go {
                    module: name.clone(),
                    version: version.clone(),
                    zip: None,
                    go_mod: None,
                },
                Format::Maven => {
                    let (group, artifact) = name.split_once(':').unwrap_or((name, name));
                    let packaging = files
                        .iter()
                        .filter_map(|(f, _)| f.rsplit_once('.').map(|(_, ext)| ext))
                        .find(|ext| {
                            !matches!(*ext, "pom" | "sha1" | "md5" | "sha256" | "sha512" | "asc")
                        })
                        .unwrap_or("pom");
                    Item::Maven {
                        group: group.to_string(),
                        artifact: artifact.to_string(),
                        version: version.clone(),
                        packaging: packaging.to_string(),
                    }
                }
            };
            (format.as_str(), repository.clone(), item)
        }
    }
}
