//! The SQL of SBOMs and the component index (see [`crate::sbom`]).

use super::gc::{claim, Claim};
use super::usage::{count_added, count_removed};
use super::{audit, now, values_placeholders, SqlMetaStore, OK};
use crate::sbom::{
    exact_vkey, stored_vkey, ComponentCursor, ComponentPage, ComponentQuery, NameMatch, Occurrence,
    SbomRecord, SbomStore, SbomSubject, SbomWrite, VersionMatch,
};
use crate::{Actor, StoreError};
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// Rows per INSERT statement (6 parameters each, well under both engines'
/// limits).
const BATCH: usize = 500;

const SBOM_COLUMNS: &str = "s.id, s.format, s.repository, s.subject, s.version, s.source, s.digest,
    s.media_type, s.sbom_format, s.spec_version, s.components, s.skipped, s.created_at";

fn record(r: &AnyRow) -> Result<SbomRecord, StoreError> {
    Ok(SbomRecord {
        id: r.try_get("id")?,
        subject: SbomSubject {
            format: r.try_get("format")?,
            repository: r.try_get("repository")?,
            subject: r.try_get("subject")?,
            version: r.try_get("version")?,
        },
        source: r.try_get("source")?,
        digest: r.try_get("digest")?,
        media_type: r.try_get("media_type")?,
        sbom_format: r.try_get("sbom_format")?,
        spec_version: r.try_get("spec_version")?,
        components: r.try_get("components")?,
        skipped: r.try_get("skipped")?,
        created_at: r.try_get("created_at")?,
    })
}

/// The condition that the subject of the SBOM `s` exists: a manifest still
/// stored, a proxied manifest still cached, a version not unpublished.
pub(super) const SUBJECT_EXISTS: &str = "CASE
    WHEN s.cache_key IS NOT NULL
      THEN EXISTS (SELECT 1 FROM proxy_cache pc
                   WHERE pc.repository = s.cache_repository AND pc.cache_key = s.cache_key
                     AND pc.status = 200)
    WHEN s.format = 'oci'
      THEN EXISTS (SELECT 1 FROM manifests m
                   WHERE m.repository = s.repository AND m.digest = s.subject)
    ELSE EXISTS (SELECT 1 FROM package_versions v
                 WHERE v.format = s.format AND v.repository = s.repository
                   AND v.package = s.subject AND v.version = s.version
                   AND v.state <> 'unpublished')
  END";

/// Forgets the SBOMs of a proxied manifest whose cache entry is dropped, in
/// the transaction that drops it.
pub(super) async fn forget_cache_entry(
    tx: &mut AnyConnection,
    repository: &str,
    key: &str,
) -> Result<(), StoreError> {
    forget_where(
        tx,
        "cache_repository = $1 AND cache_key = $2",
        &[repository, key],
    )
    .await?;
    Ok(())
}

/// Forgets the SBOMs of a package version whose files are retired (an
/// unpublish), in its transaction; the documents' digests, which the caller
/// lets go of with the files'.
pub(super) async fn forget_version(
    tx: &mut AnyConnection,
    pkg: cairn_core::PackageRef<'_>,
    version: &str,
) -> Result<Vec<String>, StoreError> {
    forget_where(
        tx,
        "format = $1 AND repository = $2 AND subject = $3 AND version = $4",
        &[pkg.format.as_str(), pkg.repository, pkg.package, version],
    )
    .await
}

/// Forgets the SBOMs an OCI manifest carried, in the transaction that
/// deletes it.
pub(super) async fn forget_oci_source(
    tx: &mut AnyConnection,
    repository: &str,
    manifest: &str,
) -> Result<(), StoreError> {
    forget_where(
        tx,
        "format = 'oci' AND repository = $1 AND source = $2",
        &[repository, manifest],
    )
    .await?;
    Ok(())
}

/// Forgets the SBOMs `filter` (a condition on `sboms` with `$1…` for
/// `args`) selects, in the caller's transaction; their documents' digests.
async fn forget_where(
    tx: &mut AnyConnection,
    filter: &str,
    args: &[&str],
) -> Result<Vec<String>, StoreError> {
    let sql = format!("SELECT id, digest FROM sboms WHERE {filter}");
    let mut q = sqlx::query_as::<_, (i64, String)>(&sql);
    for a in args {
        q = q.bind(*a);
    }
    let rows = q.fetch_all(&mut *tx).await?;
    let mut digests = Vec::new();
    for (id, digest) in rows {
        drop_sbom(tx, id).await?;
        digests.push(digest);
    }
    Ok(digests)
}

async fn drop_sbom(tx: &mut AnyConnection, id: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sbom_components WHERE sbom_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sboms WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

#[async_trait]
impl SbomStore for SqlMetaStore {
    async fn index_sbom(
        &self,
        write: &SbomWrite<'_>,
        actor: &Actor,
    ) -> Result<SbomRecord, StoreError> {
        let s = &write.subject;
        let mut tx = self.writer.begin().await?;
        // Lock what the SBOM hangs on (a no-op update): a delete of it then
        // runs before this (and this finds nothing) or after (and forgets
        // what this indexed).
        let held = if let Some((repository, key)) = &write.cache_entry {
            sqlx::query(
                "UPDATE proxy_cache SET checked_at = checked_at
                 WHERE repository = $1 AND cache_key = $2 AND status = 200",
            )
            .bind(repository)
            .bind(key)
        } else if s.format == "oci" {
            sqlx::query("UPDATE manifests SET size = size WHERE repository = $1 AND digest = $2")
                .bind(&s.repository)
                .bind(&write.source)
        } else {
            sqlx::query(
                "UPDATE package_versions SET changed_at = changed_at
                 WHERE format = $1 AND repository = $2 AND package = $3 AND version = $4
                   AND state <> 'unpublished'",
            )
            .bind(&s.format)
            .bind(&s.repository)
            .bind(&s.subject)
            .bind(&s.version)
        }
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() == 0 {
            return Err(StoreError::Conflict(match &write.cache_entry {
                Some((repository, key)) => format!("{key} is not cached in {repository}"),
                None if s.format == "oci" => {
                    format!("manifest {} is not in {}", write.source, s.repository)
                }
                None => format!(
                    "{} {} is not in {}/{}",
                    s.subject, s.version, s.format, s.repository
                ),
            }));
        }
        let old: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM sboms WHERE format = $1 AND repository = $2 AND source = $3
               AND subject = $4 AND version = $5",
        )
        .bind(&s.format)
        .bind(&s.repository)
        .bind(&write.source)
        .bind(&s.subject)
        .bind(&s.version)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = old {
            drop_sbom(&mut tx, id).await?;
        }
        let digest = write.digest.to_string();
        let sbom = write.sbom;
        let row = sqlx::query(&format!(
            "INSERT INTO sboms (format, repository, subject, version, source, digest, media_type,
                sbom_format, spec_version, components, skipped, created_at, cache_repository,
                cache_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             RETURNING {}",
            SBOM_COLUMNS.replace("s.", "")
        ))
        .bind(&s.format)
        .bind(&s.repository)
        .bind(&s.subject)
        .bind(&s.version)
        .bind(&write.source)
        .bind(&digest)
        .bind(&write.media_type)
        .bind(sbom.format.as_str())
        .bind(&sbom.spec_version)
        .bind(sbom.components.len() as i64)
        .bind(sbom.skipped as i64)
        .bind(now())
        .bind(write.cache_entry.as_ref().map(|(r, _)| r.clone()))
        .bind(write.cache_entry.as_ref().map(|(_, k)| k.clone()))
        .fetch_one(&mut *tx)
        .await?;
        let stored = record(&row)?;
        if s.format != "oci" {
            // The store keeps a package SBOM's bytes: a reference like a
            // file's (claimed after the row that references them), counted
            // in the repository's storage numbers and quota.
            let sizes = claim(
                &mut tx,
                self.shared_pool,
                std::slice::from_ref(&digest),
                Claim::Reference,
            )
            .await?;
            let scope = format!("{}/{}", s.format, s.repository);
            count_added(&mut tx, self.shared_pool, &scope, &sizes, true).await?;
        }
        for chunk in sbom.components.chunks(BATCH) {
            let mut sql = String::from(
                "INSERT INTO sbom_components (sbom_id, ecosystem, name, vkey, version, purl) VALUES ",
            );
            sql.push_str(&values_placeholders(chunk.len(), 6));
            // Two versions the ecosystem calls equal ("1.0", "1.0.0") are
            // one occurrence.
            sql.push_str(" ON CONFLICT DO NOTHING");
            let mut q = sqlx::query(&sql);
            for c in chunk {
                let p = &c.parsed;
                q = q
                    .bind(stored.id)
                    .bind(&p.ecosystem)
                    .bind(&p.name)
                    .bind(stored_vkey(p.version.as_deref(), c.version_key.as_ref()))
                    .bind(p.version.clone())
                    .bind(&c.purl);
            }
            q.execute(&mut *tx).await?;
        }
        let detail = format!(
            "{} {} {}: {} components, {} skipped",
            sbom.format.as_str(),
            sbom.spec_version,
            digest,
            sbom.components.len(),
            sbom.skipped
        );
        let artifact = if s.format == "oci" {
            s.subject.clone()
        } else {
            format!("{}@{}", s.subject, s.version)
        };
        let repo = if s.format == "oci" {
            s.repository.clone()
        } else {
            format!("{}/{}", s.format, s.repository)
        };
        audit(
            &mut tx,
            actor,
            "sbom.index",
            Some(&repo),
            Some(&artifact),
            OK,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn remove_sbom(
        &self,
        s: &SbomSubject,
        digest: &str,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        if s.format == "oci" {
            return Ok(false);
        }
        let mut tx = self.writer.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM sboms WHERE format = $1 AND repository = $2 AND subject = $3
               AND version = $4 AND digest = $5",
        )
        .bind(&s.format)
        .bind(&s.repository)
        .bind(&s.subject)
        .bind(&s.version)
        .bind(digest)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(false);
        };
        drop_sbom(&mut tx, id).await?;
        // The collector re-checks every reference before it deletes.
        let freed = [digest.to_string()];
        super::gc::mark_candidates(&mut tx, &freed).await?;
        let scope = format!("{}/{}", s.format, s.repository);
        count_removed(&mut tx, self.shared_pool, &scope, &freed).await?;
        let artifact = format!("{}@{}", s.subject, s.version);
        let repo = format!("{}/{}", s.format, s.repository);
        audit(
            &mut tx,
            actor,
            "sbom.remove",
            Some(&repo),
            Some(&artifact),
            OK,
            Some(digest),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn sboms_of(&self, subject: &SbomSubject) -> Result<Vec<SbomRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SBOM_COLUMNS} FROM sboms s
             WHERE s.format = $1 AND s.repository = $2 AND s.subject = $3 AND s.version = $4
             ORDER BY s.id"
        ))
        .bind(&subject.format)
        .bind(&subject.repository)
        .bind(&subject.subject)
        .bind(&subject.version)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(record).collect()
    }

    async fn query_components(&self, query: &ComponentQuery) -> Result<ComponentPage, StoreError> {
        enum Arg {
            Text(String),
            Bytes(Vec<u8>),
            Int(i64),
        }
        let mut args: Vec<Arg> = vec![Arg::Text(query.ecosystem.clone())];
        let push = |args: &mut Vec<Arg>, a: Arg| {
            args.push(a);
            format!("${}", args.len())
        };
        let mut wheres = vec!["c.ecosystem = $1".to_string()];
        match &query.name {
            NameMatch::Exact(n) => {
                let p = push(&mut args, Arg::Text(n.clone()));
                wheres.push(format!("c.name = {p}"));
            }
            NameMatch::Prefix(n) => {
                let lo = push(&mut args, Arg::Text(n.clone()));
                let hi = push(&mut args, Arg::Text(format!("{n}\u{10FFFF}")));
                wheres.push(format!("c.name >= {lo} AND c.name < {hi}"));
            }
        }
        match &query.versions {
            VersionMatch::Any => {}
            VersionMatch::Exact(v) => {
                let p = push(&mut args, Arg::Bytes(exact_vkey(&query.ecosystem, v)));
                wheres.push(format!("c.vkey = {p}"));
            }
            VersionMatch::Range(range) => {
                let mut any = Vec::new();
                for interval in &range.intervals {
                    let (lo_op, lo) = match &interval.lower {
                        None => (">=", vec![0x01]),
                        Some(b) => (
                            if b.inclusive { ">=" } else { ">" },
                            [&[0x01], b.key.as_bytes()].concat(),
                        ),
                    };
                    let (hi_op, hi) = match &interval.upper {
                        None => ("<", vec![0x02]),
                        Some(b) => (
                            if b.inclusive { "<=" } else { "<" },
                            [&[0x01], b.key.as_bytes()].concat(),
                        ),
                    };
                    let lo = push(&mut args, Arg::Bytes(lo));
                    let hi = push(&mut args, Arg::Bytes(hi));
                    any.push(format!("(c.vkey {lo_op} {lo} AND c.vkey {hi_op} {hi})"));
                }
                if any.is_empty() {
                    return Ok(ComponentPage {
                        occurrences: Vec::new(),
                        next: None,
                    });
                }
                wheres.push(format!("({})", any.join(" OR ")));
                for key in &range.excluded {
                    let p = push(&mut args, Arg::Bytes([&[0x01], key.as_bytes()].concat()));
                    wheres.push(format!("c.vkey <> {p}"));
                }
            }
        }
        if let Some(after) = &query.after {
            let n = push(&mut args, Arg::Text(after.name.clone()));
            let k = push(&mut args, Arg::Bytes(after.vkey.clone()));
            let i = push(&mut args, Arg::Int(after.sbom_id));
            wheres.push(format!("(c.name, c.vkey, c.sbom_id) > ({n}, {k}, {i})"));
        }
        // Only subjects that exist: a manifest still stored, a version not
        // unpublished.
        wheres.push(SUBJECT_EXISTS.to_string());
        let limit = query.limit.clamp(1, 1000) as i64;
        let l = push(&mut args, Arg::Int(limit + 1));
        let sql = format!(
            "SELECT c.ecosystem AS c_ecosystem, c.name AS c_name, c.vkey AS c_vkey,
                    c.version AS c_version, c.purl AS c_purl, {SBOM_COLUMNS}
             FROM sbom_components c JOIN sboms s ON s.id = c.sbom_id
             WHERE {}
             ORDER BY c.name, c.vkey, c.sbom_id
             LIMIT {l}",
            wheres.join(" AND ")
        );
        let mut q = sqlx::query(&sql);
        for a in args {
            q = match a {
                Arg::Text(t) => q.bind(t),
                Arg::Bytes(b) => q.bind(b),
                Arg::Int(i) => q.bind(i),
            };
        }
        let rows = q.fetch_all(&self.reader).await?;
        let mut occurrences = Vec::new();
        let mut next = None;
        for (i, r) in rows.iter().enumerate() {
            if i as i64 == limit {
                break;
            }
            let sbom = record(r)?;
            let name: String = r.try_get("c_name")?;
            let vkey: Vec<u8> = r.try_get("c_vkey")?;
            if i as i64 == limit - 1 && rows.len() as i64 > limit {
                next = Some(ComponentCursor {
                    name: name.clone(),
                    vkey,
                    sbom_id: sbom.id,
                });
            }
            occurrences.push(Occurrence {
                ecosystem: r.try_get("c_ecosystem")?,
                name,
                version: r.try_get("c_version")?,
                purl: r.try_get("c_purl")?,
                sbom,
                tags: Vec::new(),
            });
        }
        self.tag_occurrences(&mut occurrences).await?;
        Ok(ComponentPage { occurrences, next })
    }
}

impl SqlMetaStore {
    /// Fills in the tags of OCI subjects, one query for the page.
    async fn tag_occurrences(&self, occurrences: &mut [Occurrence]) -> Result<(), StoreError> {
        let mut subjects: Vec<(String, String)> = occurrences
            .iter()
            .filter(|o| o.sbom.subject.format == "oci")
            .map(|o| {
                (
                    o.sbom.subject.repository.clone(),
                    o.sbom.subject.subject.clone(),
                )
            })
            .collect();
        subjects.sort();
        subjects.dedup();
        if subjects.is_empty() {
            return Ok(());
        }
        let mut sql = String::from("SELECT repository, digest, tag FROM tags WHERE ");
        for i in 0..subjects.len() {
            if i > 0 {
                sql.push_str(" OR ");
            }
            sql.push_str(&format!(
                "(repository = ${} AND digest = ${})",
                2 * i + 1,
                2 * i + 2
            ));
        }
        sql.push_str(" ORDER BY tag");
        let mut q = sqlx::query(&sql);
        for (repo, digest) in &subjects {
            q = q.bind(repo).bind(digest);
        }
        let rows = q.fetch_all(&self.reader).await?;
        for r in rows {
            let (repo, digest, tag): (String, String, String) = (
                r.try_get("repository")?,
                r.try_get("digest")?,
                r.try_get("tag")?,
            );
            for o in occurrences.iter_mut().filter(|o| {
                o.sbom.subject.format == "oci"
                    && o.sbom.subject.repository == repo
                    && o.sbom.subject.subject == digest
            }) {
                o.tags.push(tag.clone());
            }
        }
        Ok(())
    }
}
