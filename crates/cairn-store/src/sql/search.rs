use super::SqlMetaStore;
use crate::search::{SearchHit, SearchStore};
use crate::StoreError;
use async_trait::async_trait;
use sqlx::Row;

/// `text` as a LIKE pattern matching it anywhere, its wildcards escaped.
fn contains(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn hit(kind: &'static str, format: &str, repository: String) -> SearchHit {
    SearchHit {
        kind,
        format: format.to_string(),
        repository,
        name: String::new(),
        package: String::new(),
        versions: Vec::new(),
        digest: None,
        media_type: None,
        tags: Vec::new(),
        at: 0,
        state: None,
    }
}

impl SqlMetaStore {
    async fn tags_of(&self, repository: &str, digest: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT tag FROM tags WHERE repository = $1 AND digest = $2 ORDER BY tag LIMIT 20",
        )
        .bind(repository)
        .bind(digest)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get("tag")?))
            .collect::<Result<_, StoreError>>()
    }

    async fn manifest_hits(
        &self,
        rows: Vec<sqlx::any::AnyRow>,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let mut out = Vec::new();
        for r in rows {
            let repository: String = r.try_get("repository")?;
            let digest: String = r.try_get("digest")?;
            let mut h = hit("manifest", "oci", repository.clone());
            h.tags = self.tags_of(&repository, &digest).await?;
            h.digest = Some(digest);
            h.media_type = Some(r.try_get("media_type")?);
            h.at = r.try_get("created_at")?;
            out.push(h);
        }
        Ok(out)
    }
}

#[async_trait]
impl SearchStore for SqlMetaStore {
    async fn search_names(&self, text: &str, limit: u32) -> Result<Vec<SearchHit>, StoreError> {
        let pattern = contains(&text.to_lowercase());
        let rows = sqlx::query(
            "SELECT format, repository, package, name, version_list, updated_at FROM packages
             WHERE lower(name) LIKE $1 ESCAPE '\\' OR package LIKE $1 ESCAPE '\\'
             ORDER BY length(name), name, format, repository LIMIT $2",
        )
        .bind(&pattern)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let format: String = r.try_get("format")?;
            let mut h = hit("package", &format, r.try_get("repository")?);
            h.name = r.try_get("name")?;
            h.package = r.try_get("package")?;
            let list: String = r.try_get("version_list")?;
            h.versions = list
                .split_whitespace()
                .rev()
                .take(5)
                .map(str::to_string)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            h.at = r.try_get("updated_at")?;
            out.push(h);
        }
        let rows = sqlx::query(
            "SELECT name, created_at FROM repositories WHERE lower(name) LIKE $1 ESCAPE '\\'
             ORDER BY length(name), name LIMIT $2",
        )
        .bind(&pattern)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        for r in rows {
            let mut h = hit("repository", "oci", r.try_get("name")?);
            h.at = r.try_get("created_at")?;
            out.push(h);
        }
        Ok(out)
    }

    async fn search_digest(&self, prefix: &str, limit: u32) -> Result<Vec<SearchHit>, StoreError> {
        // A range over the digest index: every character of a digest sorts
        // below '~'.
        let rows = sqlx::query(
            "SELECT repository, digest, media_type, created_at FROM manifests
             WHERE digest >= $1 AND digest < $2 ORDER BY digest, repository LIMIT $3",
        )
        .bind(prefix)
        .bind(format!("{prefix}~"))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        self.manifest_hits(rows).await
    }

    async fn search_version(
        &self,
        format: &str,
        key: &str,
        version: &str,
        limit: u32,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.repository, v.package, v.version, v.state, v.published_at, p.name
             FROM package_versions v JOIN packages p
               ON p.format = v.format AND p.repository = v.repository AND p.package = v.package
             WHERE v.format = $1 AND lower(v.package) = lower($2) AND v.version = $3
             ORDER BY v.repository LIMIT $4",
        )
        .bind(format)
        .bind(key)
        .bind(version)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let mut h = hit("version", format, r.try_get("repository")?);
                h.name = r.try_get("name")?;
                h.package = r.try_get("package")?;
                h.versions = vec![r.try_get("version")?];
                h.state = Some(r.try_get("state")?);
                h.at = r.try_get("published_at")?;
                Ok(h)
            })
            .collect()
    }

    async fn search_annotations(
        &self,
        text: &str,
        limit: u32,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let rows = sqlx::query(
            "SELECT repository, digest, media_type, created_at FROM manifests
             WHERE annotations LIKE $1 ESCAPE '\\' ORDER BY created_at DESC LIMIT $2",
        )
        .bind(contains(text))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        self.manifest_hits(rows).await
    }
}
