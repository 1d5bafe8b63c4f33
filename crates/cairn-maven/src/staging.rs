//! Staging: releases deployed to `/maven/<repo>/-/staging/<id>/` (a
//! repository of their own, created open by the first deploy), then
//! - **close**: validated — every version has a POM that parses and names
//!   the same coordinates, every stored file still hashes to its recorded
//!   checksums, and (when the repository demands them) every file has a
//!   `.asc` or `.sigstore.json` signature and every jar its `-sources.jar`
//!   and `-javadoc.jar`; every signature verifies when signers of its kind
//!   are configured;
//!   a failed close leaves it open, with the problems recorded;
//! - **release**: every file promoted into the repository in one
//!   transaction (all or nothing; an existing release file refuses it);
//! - **drop**: abandoned.

use crate::layout::{Checksum, Gav};
use crate::{check_staging_id, pom, recorded_checksum, staging_repository, MAVEN};
use cairn_core::PackageRef;
use cairn_packages::{PackageError, PackageResult, Packages};
use cairn_store::{Actor, NewVersion, PackageRecord, StagingRecord, StagingState};

/// The most artifacts one staging repository may hold.
const MAX_ARTIFACTS: u32 = 10_000;

async fn existing(p: &Packages, repository: &str, id: &str) -> PackageResult<StagingRecord> {
    check_staging_id(id)?;
    p.meta.staging(MAVEN, repository, id).await?.ok_or_else(|| {
        PackageError::not_found(format!("no staging repository {id} in {repository}"))
    })
}

/// The refusal of a change a staging repository's state does not allow.
fn refuse(record: &StagingRecord, verb: &str, allowed: &str) -> PackageError {
    PackageError::Conflict(format!(
        "staging repository {} is {}; only {allowed} ones can be {verb}",
        record.id,
        record.state.as_str(),
    ))
}

/// Every artifact of a staging repository.
async fn staged(p: &Packages, repository: &str, id: &str) -> PackageResult<Vec<PackageRecord>> {
    let store = staging_repository(repository, id);
    let keys = p
        .meta
        .search_packages(MAVEN, &store, "", MAX_ARTIFACTS)
        .await?;
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(pkg) = p.meta.package(PackageRef::new(MAVEN, &store, &key)).await? {
            out.push(pkg);
        }
    }
    Ok(out)
}

/// The problems that keep a staging repository from closing (none: it may).
pub async fn validate(p: &Packages, repository: &str, id: &str) -> PackageResult<Vec<String>> {
    let rules = p.config.maven(repository);
    let artifacts = staged(p, repository, id).await?;
    let mut problems = vec![];
    if artifacts.iter().all(|a| a.versions.is_empty()) {
        problems.push("nothing has been deployed".to_string());
    }
    for pkg in &artifacts {
        let Some((group, artifact)) = pkg.package.split_once(':') else {
            continue;
        };
        for v in &pkg.versions {
            let gav = Gav {
                group: group.into(),
                artifact: artifact.into(),
                version: v.version.clone(),
            };
            let at = format!("{}:{}", pkg.package, v.version);
            let names: Vec<&str> = v.files.iter().map(|f| f.filename.as_str()).collect();
            let has = |n: &str| names.contains(&n);
            let base = format!("{artifact}-{}", v.version);
            for file in &v.files {
                let bytes = p.read_blob(&file.digest).await?;
                let intact = cairn_core::Digest::sha256_of(&bytes) == file.digest
                    && recorded_checksum(file, Checksum::Sha1) == Some(Checksum::Sha1.of(&bytes));
                if !intact {
                    problems.push(format!(
                        "{at}: {} does not match its checksums",
                        file.filename
                    ));
                }
                if file.filename == format!("{base}.pom") {
                    match pom::parse(&bytes) {
                        Err(e) => problems.push(format!("{at}: {e}")),
                        Ok(pom) => {
                            let says = (
                                pom.group.as_deref(),
                                pom.artifact.as_deref(),
                                pom.version.as_deref(),
                            );
                            if says
                                != (Some(&*gav.group), Some(&*gav.artifact), Some(&*gav.version))
                            {
                                problems.push(format!(
                                    "{at}: the POM names {}:{}:{}",
                                    says.0.unwrap_or("?"),
                                    says.1.unwrap_or("?"),
                                    says.2.unwrap_or("?")
                                ));
                            }
                        }
                    }
                }
                let is_signature = crate::signatures::signed_name(&file.filename).is_some();
                for (required, suffix) in [
                    (rules.require_signatures, ".asc"),
                    (rules.require_sigstore, ".sigstore.json"),
                ] {
                    if required && !is_signature && !has(&format!("{}{suffix}", file.filename)) {
                        problems.push(format!("{at}: {} has no {suffix} signature", file.filename));
                    }
                }
                // A signature must be valid, not merely present, when
                // signers of its kind are configured.
                if let Some(signed) = crate::signatures::signed_name(&file.filename) {
                    if !crate::signatures::unchecked(&p.config, &file.filename) {
                        match v.files.iter().find(|f| f.filename == signed) {
                            None => problems.push(format!("{at}: {} signs nothing", file.filename)),
                            Some(target) => {
                                let content = p.read_blob(&target.digest).await?;
                                if let Err(why) = crate::signatures::verify(
                                    &p.config,
                                    &file.filename,
                                    &bytes,
                                    &content,
                                ) {
                                    problems.push(format!(
                                        "{at}: {} does not verify: {why}",
                                        file.filename
                                    ));
                                }
                            }
                        }
                    }
                }
            }
            if !has(&format!("{base}.pom")) {
                problems.push(format!("{at}: no POM ({base}.pom)"));
            }
            if rules.require_sources_javadoc && has(&format!("{base}.jar")) {
                for classifier in ["sources", "javadoc"] {
                    if !has(&format!("{base}-{classifier}.jar")) {
                        problems.push(format!("{at}: no {base}-{classifier}.jar"));
                    }
                }
            }
        }
    }
    Ok(problems)
}

/// Closes an open staging repository if it validates; otherwise it stays
/// open, the problems recorded, and the error lists them.
pub async fn close(
    p: &Packages,
    actor: &Actor,
    repository: &str,
    id: &str,
) -> PackageResult<StagingRecord> {
    let record = existing(p, repository, id).await?;
    if record.state != StagingState::Open {
        return Err(refuse(&record, "closed", "open"));
    }
    let problems = validate(p, repository, id).await?;
    let (open, closed) = (StagingState::Open, StagingState::Closed);
    if !problems.is_empty() {
        let detail = format!("close failed: {}", problems.join("; "));
        p.meta
            .set_staging_state(MAVEN, repository, id, open, open, Some(&detail), actor)
            .await?;
        return Err(PackageError::bad(format!(
            "staging repository {id} cannot close: {}",
            problems.join("; ")
        )));
    }
    if !p
        .meta
        .set_staging_state(
            MAVEN,
            repository,
            id,
            open,
            closed,
            Some("validated"),
            actor,
        )
        .await?
    {
        return Err(PackageError::Conflict(format!(
            "staging repository {id} changed meanwhile"
        )));
    }
    existing(p, repository, id).await
}

/// Promotes a closed staging repository into its repository, atomically.
pub async fn release(
    p: &Packages,
    actor: &Actor,
    repository: &str,
    id: &str,
) -> PackageResult<StagingRecord> {
    let record = existing(p, repository, id).await?;
    if record.state != StagingState::Closed {
        return Err(refuse(&record, "released", "closed"));
    }
    let versions: Vec<NewVersion> = staged(p, repository, id)
        .await?
        .into_iter()
        .flat_map(|pkg| {
            let (key, name) = (pkg.package.clone(), pkg.name.clone());
            pkg.versions.into_iter().map(move |v| NewVersion {
                format: MAVEN,
                repository: repository.to_string(),
                package: key.clone(),
                name: name.clone(),
                version: v.version,
                metadata: v.metadata,
                dependencies: vec![],
                files: v.files,
                tags: vec![],
                owner: None,
            })
        })
        .collect();
    p.meta
        .release_staging(MAVEN, repository, id, &versions, actor)
        .await?;
    existing(p, repository, id).await
}

/// Abandons an open or closed staging repository.
pub async fn drop(
    p: &Packages,
    actor: &Actor,
    repository: &str,
    id: &str,
) -> PackageResult<StagingRecord> {
    let record = existing(p, repository, id).await?;
    let dropped = StagingState::Dropped;
    let moved = match record.state {
        s @ (StagingState::Open | StagingState::Closed) => {
            p.meta
                .set_staging_state(MAVEN, repository, id, s, dropped, None, actor)
                .await?
        }
        _ => false,
    };
    if !moved {
        return Err(refuse(&record, "dropped", "open or closed"));
    }
    existing(p, repository, id).await
}

/// The staging repositories of a repository.
pub async fn list(p: &Packages, repository: &str) -> PackageResult<Vec<StagingRecord>> {
    Ok(p.meta.stagings(MAVEN, repository).await?)
}

/// A staging repository as JSON (the admin API's and the CLI's shape).
pub fn to_json(r: &StagingRecord) -> serde_json::Value {
    serde_json::json!({
        "repository": r.repository,
        "id": r.id,
        "state": r.state.as_str(),
        "detail": r.detail,
        "url": format!("/maven/{}/-/staging/{}/", r.repository, r.id),
        "created_at": cairn_packages::rfc3339(r.created_at),
        "changed_at": cairn_packages::rfc3339(r.changed_at),
    })
}
