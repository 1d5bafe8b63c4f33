//! Writes a synthetic component index for `bench/components.sh`: ARTIFACTS
//! images (each tagged), each with one SBOM of PER components drawn from a
//! catalogue of packages in five ecosystems, plus log4j-core in one image of
//! a hundred. Keys are cairn's own (`cairn_core::purl`, `version_key`);
//! rows go in with multi-row INSERTs in large transactions, which is how a
//! benchmark fills ten million rows in minutes (the ingestion path itself is
//! measured separately, over HTTP).
//!
//! Usage: component_corpus DATABASE_URL ARTIFACTS PER [NAMES]
//! Prints the catalogue's purls without versions, one per line, for the
//! benchmark to query.

use cairn_core::purl::Purl;
use cairn_store::sbom::stored_vkey;
use sqlx::any::AnyPoolOptions;
use sqlx::Executor;

/// xorshift64*: the same corpus every run, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn catalogue(names: usize) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for i in 0..names {
        let (base, version): (String, fn(u64, u64) -> String) = match i % 5 {
            0 => (
                format!("pkg:maven/org.bench.g{}/lib-{i}", i % 97),
                |a, b| format!("{a}.{b}.0"),
            ),
            1 => (format!("pkg:npm/bench-{i}"), |a, b| format!("{a}.{b}.1")),
            2 => (format!("pkg:pypi/bench-{i}"), |a, b| format!("{a}.{b}")),
            3 => (format!("pkg:golang/example.com/bench/m{i}"), |a, b| {
                format!("v{a}.{b}.0")
            }),
            _ => (format!("pkg:cargo/bench-{i}"), |a, b| format!("{a}.{b}.2")),
        };
        let versions = (0..30u64).map(|v| version(v / 10, v % 10)).collect();
        out.push((base, versions));
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let url = &args[1];
    let artifacts: usize = args[2].parse()?;
    let per: usize = args[3].parse()?;
    let names: usize = args.get(4).map_or(Ok(20_000), |n| n.parse())?;
    // Creates the schema.
    drop(cairn_store::sql::SqlMetaStore::open(url).await?);
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    if url.starts_with("sqlite:") {
        pool.execute("PRAGMA synchronous = OFF; PRAGMA journal_mode = WAL;")
            .await?;
    }
    let catalogue = catalogue(names);
    for (purl, _) in &catalogue {
        println!("{purl}");
    }
    println!("pkg:maven/org.apache.logging.log4j/log4j-core");
    let log4j: Vec<String> = (0..21).map(|m| format!("2.{m}.0")).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let started = std::time::Instant::now();
    let mut rows = 0u64;
    let batch = 500usize;
    for chunk_start in (0..artifacts).step_by(1000) {
        let mut tx = pool.begin().await?;
        for a in chunk_start..(chunk_start + 1000).min(artifacts) {
            let repo = format!("bench/app{}", a % 1000);
            let digest = format!("sha256:{:064x}", a as u128 + 1);
            let source = format!("sha256:{:064x}", (a as u128 + 1) << 64);
            sqlx::query(
                "INSERT INTO manifests (repository, digest, media_type, size, created_at)
                 VALUES ($1, $2, 'application/vnd.oci.image.manifest.v1+json', 1, 0)",
            )
            .bind(&repo)
            .bind(&digest)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO tags (repository, tag, digest, updated_at) VALUES ($1, $2, $3, 0)",
            )
            .bind(&repo)
            .bind(format!("build-{a}"))
            .bind(&digest)
            .execute(&mut *tx)
            .await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO sboms (format, repository, subject, version, source, digest, media_type,
                   sbom_format, spec_version, components, skipped, created_at)
                 VALUES ('oci', $1, $2, '', $3, $3, 'application/spdx+json', 'spdx', 'SPDX-2.3', $4, 0, 0)
                 RETURNING id",
            )
            .bind(&repo)
            .bind(&digest)
            .bind(&source)
            .bind(per as i64)
            .fetch_one(&mut *tx)
            .await?;
            let mut purls = Vec::with_capacity(per + 1);
            let mut seen = std::collections::HashSet::new();
            while purls.len() < per.min(names) {
                let n = rng.below(catalogue.len() as u64) as usize;
                if seen.insert(n) {
                    let (base, versions) = &catalogue[n];
                    let v = &versions[rng.below(versions.len() as u64) as usize];
                    purls.push(format!("{base}@{v}"));
                }
            }
            if a % 100 == 0 {
                let v = &log4j[rng.below(log4j.len() as u64) as usize];
                purls.push(format!("pkg:maven/org.apache.logging.log4j/log4j-core@{v}"));
            }
            for chunk in purls.chunks(batch) {
                let mut sql = String::from(
                    "INSERT INTO sbom_components (sbom_id, ecosystem, name, vkey, version, purl) VALUES ",
                );
                sql.push_str(&cairn_store::sql::values_placeholders(chunk.len(), 6));
                sql.push_str(" ON CONFLICT DO NOTHING");
                let mut q = sqlx::query(&sql);
                for text in chunk {
                    let p = Purl::parse(text)?;
                    let key = p.version_key();
                    q = q
                        .bind(id)
                        .bind(p.ecosystem.clone())
                        .bind(p.name.clone())
                        .bind(stored_vkey(p.version.as_deref(), key.as_ref()))
                        .bind(p.version.clone())
                        .bind(text.clone());
                }
                rows += chunk.len() as u64;
                q.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        if chunk_start % 10_000 == 0 {
            eprintln!(
                "{} artifacts, {rows} occurrences, {:.0} s",
                chunk_start + 1000,
                started.elapsed().as_secs_f64()
            );
        }
    }
    pool.execute("ANALYZE").await?;
    eprintln!(
        "corpus: {artifacts} artifacts, {rows} occurrences in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
