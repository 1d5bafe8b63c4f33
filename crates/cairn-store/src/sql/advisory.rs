//! The SQL of advisories and findings (see [`crate::advisory`]).

use super::{audit, now, values_placeholders, SqlMetaStore, OK};
use crate::advisory::{
    AdvisoryRecord, AdvisorySource, AdvisoryStore, Finding, FindingScope, ImportCounts,
};
use crate::sbom::SbomSubject;
use crate::{Actor, StoreError};
use async_trait::async_trait;
use cairn_core::advisory::{Advisory, Severity};
use cairn_core::version_key::Scheme;
use cairn_core::vuln_policy::Exception;
use sqlx::any::AnyRow;
use sqlx::Row;

/// The condition that the proxied version `pv`'s file is still cached.
const PROXIED_CACHED: &str = "EXISTS (SELECT 1 FROM proxy_cache pc
    WHERE pc.repository = pv.cache_repository AND pc.cache_key = pv.cache_key AND pc.status = 200)";

const ADVISORY_COLUMNS: &str = "a.id, a.aliases, a.summary, a.severity, a.score, a.modified,
    a.published, a.withdrawn, a.source, a.licence";

fn record(r: &AnyRow) -> Result<AdvisoryRecord, StoreError> {
    let aliases: String = r.try_get("aliases")?;
    let severity: String = r.try_get("severity")?;
    Ok(AdvisoryRecord {
        id: r.try_get("id")?,
        aliases: serde_json::from_str(&aliases).unwrap_or_default(),
        summary: r.try_get("summary")?,
        severity: Severity::parse(&severity).unwrap_or(Severity::Unknown),
        score: r.try_get("score")?,
        modified: r.try_get("modified")?,
        published: r.try_get("published")?,
        withdrawn: r.try_get("withdrawn")?,
        source: r.try_get("source")?,
        licence: r.try_get("licence")?,
    })
}

/// One stored range: (lo, lo inclusive, hi, hi inclusive) in the component
/// index's `vkey` terms, for one package.
struct RangeRow {
    ecosystem: String,
    name: String,
    lo: Vec<u8>,
    lo_inclusive: i64,
    hi: Vec<u8>,
    hi_inclusive: i64,
}

/// The range rows of an advisory's affected versions.
fn ranges(a: &Advisory) -> Vec<RangeRow> {
    let mut out = Vec::new();
    for p in &a.affected {
        let row = |lo, lo_inclusive, hi, hi_inclusive| RangeRow {
            ecosystem: p.ecosystem.clone(),
            name: p.name.clone(),
            lo,
            lo_inclusive,
            hi,
            hi_inclusive,
        };
        for i in &p.intervals {
            let (lo, lo_inc) = match &i.lower {
                None => (vec![0x01], 1),
                Some(b) => ([&[0x01], b.key.as_bytes()].concat(), b.inclusive as i64),
            };
            let (hi, hi_inc) = match &i.upper {
                None => (vec![0x02], 0),
                Some(b) => ([&[0x01], b.key.as_bytes()].concat(), b.inclusive as i64),
            };
            out.push(row(lo, lo_inc, hi, hi_inc));
        }
        for (text, key) in &p.versions {
            let point = crate::sbom::stored_vkey(Some(text), key.as_ref());
            out.push(row(point.clone(), 1, point, 1));
        }
    }
    out
}

/// Whether a stored vkey lies in a stored range.
fn within(vkey: &[u8], lo: &[u8], lo_inc: bool, hi: &[u8], hi_inc: bool) -> bool {
    (vkey > lo || (lo_inc && vkey == lo)) && (vkey < hi || (hi_inc && vkey == hi))
}

#[async_trait]
impl AdvisoryStore for SqlMetaStore {
    async fn import_advisories(
        &self,
        batch: &[Advisory],
        from: &AdvisorySource,
    ) -> Result<ImportCounts, StoreError> {
        let mut counts = ImportCounts::default();
        let mut tx = self.writer.begin().await?;
        for a in batch {
            let stored: Option<i64> =
                sqlx::query_scalar("SELECT modified FROM advisories WHERE id = $1")
                    .bind(&a.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match stored {
                Some(m) if m >= a.modified => {
                    counts.unchanged += 1;
                    continue;
                }
                Some(_) => {
                    sqlx::query("DELETE FROM advisory_ranges WHERE advisory_id = $1")
                        .bind(&a.id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM advisories WHERE id = $1")
                        .bind(&a.id)
                        .execute(&mut *tx)
                        .await?;
                    counts.updated += 1;
                }
                None => counts.added += 1,
            }
            sqlx::query(
                "INSERT INTO advisories (id, aliases, summary, severity, score, modified, published,
                    withdrawn, source, licence, imported_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&a.id)
            .bind(serde_json::to_string(&a.aliases).expect("strings"))
            .bind(&a.summary)
            .bind(a.severity.as_str())
            .bind(a.score)
            .bind(a.modified)
            .bind(a.published)
            .bind(a.withdrawn)
            .bind(&from.source)
            .bind(&from.licence)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            for chunk in ranges(a).chunks(200) {
                let mut sql = String::from(
                    "INSERT INTO advisory_ranges (advisory_id, ecosystem, name, lo, lo_inclusive, hi, hi_inclusive) VALUES ",
                );
                sql.push_str(&values_placeholders(chunk.len(), 7));
                let mut q = sqlx::query(&sql);
                for row in chunk {
                    q = q
                        .bind(&a.id)
                        .bind(&row.ecosystem)
                        .bind(&row.name)
                        .bind(row.lo.clone())
                        .bind(row.lo_inclusive)
                        .bind(row.hi.clone())
                        .bind(row.hi_inclusive);
                }
                q.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    async fn advisory(&self, id: &str) -> Result<Option<AdvisoryRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ADVISORY_COLUMNS} FROM advisories a WHERE a.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(record).transpose()
    }

    async fn advisory_data(&self) -> Result<(i64, Option<i64>), StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n, MAX(imported_at) AS newest FROM advisories")
            .fetch_one(&self.reader)
            .await?;
        Ok((row.try_get("n")?, row.try_get("newest")?))
    }

    async fn findings(&self, scope: &FindingScope, limit: u32) -> Result<Vec<Finding>, StoreError> {
        let limit = limit.clamp(1, 10_000) as i64;
        let mut out = self.sbom_findings(scope, limit).await?;
        out.extend(self.package_findings(scope, limit).await?);
        out.sort_by(|a, b| {
            b.advisory
                .severity
                .cmp(&a.advisory.severity)
                .then_with(|| a.advisory.id.cmp(&b.advisory.id))
                .then_with(|| a.artifact.repository.cmp(&b.artifact.repository))
                .then_with(|| a.artifact.subject.cmp(&b.artifact.subject))
        });
        out.truncate(limit as usize);
        Ok(out)
    }

    async fn set_exception(&self, e: &Exception, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM vuln_exceptions WHERE advisory_id = $1 AND repositories = $2")
            .bind(&e.advisory)
            .bind(&e.repositories)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO vuln_exceptions (advisory_id, repositories, reason, expires_at, actor, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&e.advisory)
        .bind(&e.repositories)
        .bind(&e.reason)
        .bind(e.expires_at)
        .bind(&actor.name)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let detail = format!("{} until {}: {}", e.repositories, e.expires_at, e.reason);
        audit(
            &mut tx,
            actor,
            "vuln.exception.set",
            None,
            Some(&e.advisory),
            OK,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_exception(
        &self,
        advisory: &str,
        repositories: &str,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done =
            sqlx::query("DELETE FROM vuln_exceptions WHERE advisory_id = $1 AND repositories = $2")
                .bind(advisory)
                .bind(repositories)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() > 0 {
            audit(
                &mut tx,
                actor,
                "vuln.exception.remove",
                None,
                Some(advisory),
                OK,
                Some(repositories),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn exceptions(&self, advisories: &[String]) -> Result<Vec<Exception>, StoreError> {
        self.exceptions_impl(advisories).await
    }
}

impl SqlMetaStore {
    async fn exceptions_impl(&self, advisories: &[String]) -> Result<Vec<Exception>, StoreError> {
        let rows = if advisories.is_empty() {
            sqlx::query("SELECT advisory_id, repositories, reason, expires_at FROM vuln_exceptions ORDER BY advisory_id")
                .fetch_all(&self.reader)
                .await?
        } else {
            let list: Vec<String> = (1..=advisories.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT advisory_id, repositories, reason, expires_at FROM vuln_exceptions
                 WHERE advisory_id IN ({}) ORDER BY advisory_id",
                list.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for a in advisories {
                q = q.bind(a);
            }
            q.fetch_all(&self.reader).await?
        };
        rows.iter()
            .map(|r| {
                Ok(Exception {
                    advisory: r.try_get("advisory_id")?,
                    repositories: r.try_get("repositories")?,
                    reason: r.try_get("reason")?,
                    expires_at: r.try_get("expires_at")?,
                })
            })
            .collect()
    }

    /// Findings among SBOM components: one join, each advisory range
    /// meeting the components of its package in the index.
    async fn sbom_findings(
        &self,
        scope: &FindingScope,
        limit: i64,
    ) -> Result<Vec<Finding>, StoreError> {
        let (filter, args): (&str, Vec<String>) = match scope {
            FindingScope::Advisory(id) => ("r.advisory_id = $1", vec![id.clone()]),
            FindingScope::Artifact(s) => (
                "s.format = $1 AND s.repository = $2 AND s.subject = $3 AND s.version = $4",
                vec![
                    s.format.clone(),
                    s.repository.clone(),
                    s.subject.clone(),
                    s.version.clone(),
                ],
            ),
            FindingScope::Repository { format, repository } => (
                "s.format = $1 AND s.repository = $2",
                vec![format.clone(), repository.clone()],
            ),
        };
        let sql = format!(
            "SELECT {ADVISORY_COLUMNS}, s.format AS s_format, s.repository AS s_repository,
                    s.subject AS s_subject, s.version AS s_version, s.digest AS s_digest,
                    c.ecosystem AS c_ecosystem, c.name AS c_name, c.version AS c_version, c.purl AS c_purl
             FROM advisory_ranges r
             JOIN advisories a ON a.id = r.advisory_id
             JOIN sbom_components c ON c.ecosystem = r.ecosystem AND c.name = r.name
                  AND c.vkey >= r.lo AND c.vkey <= r.hi
             JOIN sboms s ON s.id = c.sbom_id
             WHERE {filter} AND a.withdrawn IS NULL
               AND (r.lo_inclusive = 1 OR c.vkey <> r.lo)
               AND (r.hi_inclusive = 1 OR c.vkey <> r.hi)
               AND {SUBJECT_EXISTS}
             LIMIT {limit}",
            SUBJECT_EXISTS = super::sbom::SUBJECT_EXISTS
        );
        let mut q = sqlx::query(&sql);
        for a in args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.reader).await?;
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            let f = Finding {
                advisory: record(r)?,
                artifact: SbomSubject {
                    format: r.try_get("s_format")?,
                    repository: r.try_get("s_repository")?,
                    subject: r.try_get("s_subject")?,
                    version: r.try_get("s_version")?,
                },
                ecosystem: r.try_get("c_ecosystem")?,
                name: r.try_get("c_name")?,
                version: r.try_get("c_version")?,
                purl: Some(r.try_get("c_purl")?),
                sbom: Some(r.try_get("s_digest")?),
            };
            // Two ranges of one advisory can hold one version: one finding.
            if seen.insert((
                f.advisory.id.clone(),
                f.artifact.clone().subject,
                f.artifact.repository.clone(),
                f.purl.clone(),
                f.sbom.clone(),
            )) {
                out.push(f);
            }
        }
        Ok(out)
    }

    /// Findings on package versions themselves: hosted ones, and those a
    /// proxy repository has cached files of.
    async fn package_findings(
        &self,
        scope: &FindingScope,
        limit: i64,
    ) -> Result<Vec<Finding>, StoreError> {
        // The package versions in scope, with the ranges of their packages.
        let versions: Vec<(String, String, String, String)> = match scope {
            FindingScope::Advisory(id) => {
                let packages: Vec<(String, String)> = sqlx::query_as(
                    "SELECT DISTINCT ecosystem, name FROM advisory_ranges WHERE advisory_id = $1",
                )
                .bind(id)
                .fetch_all(&self.reader)
                .await?;
                let mut out = Vec::new();
                for (eco, name) in packages {
                    let Some((format, key)) = cairn_core::purl::package_of(&eco, &name) else {
                        continue;
                    };
                    // A Go module's namespace is indexed lowercased: the
                    // hosted paths are looked up without case, and kept
                    // when they index as the advisory's name.
                    let go = format == cairn_core::Format::Go;
                    let (package, proxied_package, probe) = if go {
                        (
                            "lower(package)",
                            "lower(pv.package)",
                            key.to_ascii_lowercase(),
                        )
                    } else {
                        ("package", "pv.package", key.clone())
                    };
                    let rows: Vec<(String, String, String)> = sqlx::query_as(&format!(
                        "SELECT package, repository, version FROM package_versions
                         WHERE format = $1 AND {package} = $2 AND state <> 'unpublished'"
                    ))
                    .bind(format.as_str())
                    .bind(&probe)
                    .fetch_all(&self.reader)
                    .await?;
                    let proxied: Vec<(String, String, String)> = sqlx::query_as(&format!(
                        "SELECT DISTINCT pv.package, pv.repository, pv.version FROM proxied_versions pv
                         WHERE pv.format = $1 AND {proxied_package} = $2 AND {PROXIED_CACHED}"
                    ))
                    .bind(format.as_str())
                    .bind(&probe)
                    .fetch_all(&self.reader)
                    .await?;
                    out.extend(
                        rows.into_iter()
                            .chain(proxied)
                            .filter(|(pkg, _, _)| {
                                !go || cairn_core::purl::of_package(format, pkg).1 == name
                            })
                            .map(|(pkg, repo, v)| (format.as_str().to_string(), repo, pkg, v)),
                    );
                }
                out
            }
            FindingScope::Artifact(s) if s.format != "oci" => vec![(
                s.format.clone(),
                s.repository.clone(),
                s.subject.clone(),
                s.version.clone(),
            )],
            FindingScope::Repository { format, repository } if format != "oci" => {
                let mut rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT package, version FROM package_versions
                     WHERE format = $1 AND repository = $2 AND state <> 'unpublished'",
                )
                .bind(format)
                .bind(repository)
                .fetch_all(&self.reader)
                .await?;
                let proxied: Vec<(String, String)> = sqlx::query_as(&format!(
                    "SELECT DISTINCT pv.package, pv.version FROM proxied_versions pv
                     WHERE pv.format = $1 AND pv.repository = $2 AND {PROXIED_CACHED}"
                ))
                .bind(format)
                .bind(repository)
                .fetch_all(&self.reader)
                .await?;
                rows.extend(proxied);
                rows.into_iter()
                    .map(|(p, v)| (format.clone(), repository.clone(), p, v))
                    .collect()
            }
            _ => Vec::new(),
        };
        let mut out = Vec::new();
        let mut ranges_of = std::collections::HashMap::new();
        for (format, repository, package, version) in versions {
            let Some(fmt) = cairn_core::Format::parse(&format) else {
                continue;
            };
            let (eco, name) = cairn_core::purl::of_package(fmt, &package);
            let key = Scheme::for_purl_type(eco).and_then(|s| s.key(&version).ok());
            let vkey = crate::sbom::stored_vkey(Some(&version), key.as_ref());
            if let std::collections::hash_map::Entry::Vacant(slot) =
                ranges_of.entry((eco, name.clone()))
            {
                let mut sql = format!(
                    "SELECT {ADVISORY_COLUMNS}, r.lo, r.lo_inclusive, r.hi, r.hi_inclusive
                     FROM advisory_ranges r JOIN advisories a ON a.id = r.advisory_id
                     WHERE r.ecosystem = $1 AND r.name = $2 AND a.withdrawn IS NULL"
                );
                if let FindingScope::Advisory(_) = scope {
                    sql.push_str(" AND r.advisory_id = $3");
                }
                let mut q = sqlx::query(&sql).bind(eco).bind(&name);
                if let FindingScope::Advisory(id) = scope {
                    q = q.bind(id);
                }
                let rows = q.fetch_all(&self.reader).await?;
                let mut ranges = Vec::new();
                for r in &rows {
                    let lo: Vec<u8> = r.try_get("lo")?;
                    let hi: Vec<u8> = r.try_get("hi")?;
                    let lo_inc: i64 = r.try_get("lo_inclusive")?;
                    let hi_inc: i64 = r.try_get("hi_inclusive")?;
                    ranges.push((record(r)?, lo, lo_inc == 1, hi, hi_inc == 1));
                }
                slot.insert(ranges);
            }
            let mut matched = std::collections::HashSet::new();
            for (advisory, lo, lo_inc, hi, hi_inc) in &ranges_of[&(eco, name.clone())] {
                if within(&vkey, lo, *lo_inc, hi, *hi_inc) && matched.insert(advisory.id.clone()) {
                    out.push(Finding {
                        advisory: advisory.clone(),
                        artifact: SbomSubject {
                            format: format.clone(),
                            repository: repository.clone(),
                            subject: package.clone(),
                            version: version.clone(),
                        },
                        ecosystem: eco.to_string(),
                        name: name.clone(),
                        version: Some(version.clone()),
                        purl: None,
                        sbom: None,
                    });
                }
            }
            if out.len() as i64 >= limit {
                break;
            }
        }
        Ok(out)
    }
}
