//! The identity aggregate's SQL: users, groups, tokens, publishers, used OIDC tokens.

use super::{audit, json_list, now, to_json, SqlMetaStore, OK};
use crate::{Actor, IdentityStore, PublisherRecord, StoreError, TokenRecord, UserRecord};
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

fn token_from_row(row: &AnyRow) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        id: row.try_get("id")?,
        user: row.try_get("user_name")?,
        description: row.try_get("description")?,
        secret_hash: row.try_get("secret_hash")?,
        scopes: json_list(row.try_get("scopes")?)?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

#[async_trait]
impl IdentityStore for SqlMetaStore {
    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query("SELECT name, secret_hash, grants FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| {
            Ok(UserRecord {
                name: r.try_get("name")?,
                secret_hash: r.try_get("secret_hash")?,
                grants: json_list(r.try_get("grants")?)?,
            })
        })
        .transpose()
    }

    async fn put_user(
        &self,
        name: &str,
        secret_hash: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO users (name, secret_hash, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET secret_hash = excluded.secret_hash",
        )
        .bind(name)
        .bind(secret_hash)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            actor,
            "user.credential",
            None,
            Some(name),
            OK,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_user_grants(
        &self,
        name: &str,
        grants: &[String],
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("UPDATE users SET grants = $1 WHERE name = $2")
            .bind(to_json(grants))
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            let detail = to_json(grants);
            audit(
                &mut tx,
                actor,
                "user.grants",
                None,
                Some(name),
                OK,
                Some(&detail),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_group(
        &self,
        name: &str,
        grants: &[String],
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO groups (name, grants, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET grants = excluded.grants",
        )
        .bind(name)
        .bind(to_json(grants))
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let detail = to_json(grants);
        audit(
            &mut tx,
            actor,
            "group.grants",
            None,
            Some(name),
            OK,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_group_member(
        &self,
        group: &str,
        user: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO group_members (group_name, user_name) VALUES ($1, $2)
             ON CONFLICT (group_name, user_name) DO NOTHING",
        )
        .bind(group)
        .bind(user)
        .execute(&mut *tx)
        .await?;
        let artifact = format!("{user} in {group}");
        audit(
            &mut tx,
            actor,
            "group.member",
            None,
            Some(&artifact),
            OK,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn group_grants_of(&self, user: &str) -> Result<Vec<String>, StoreError> {
        let lists: Vec<String> = sqlx::query_scalar(
            "SELECT g.grants FROM groups g JOIN group_members m ON m.group_name = g.name
             WHERE m.user_name = $1 ORDER BY g.name",
        )
        .bind(user)
        .fetch_all(&self.reader)
        .await?;
        let mut all = Vec::new();
        for list in lists {
            all.extend(json_list(list)?);
        }
        Ok(all)
    }

    async fn create_token(&self, t: &TokenRecord, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, user_name, description, secret_hash, scopes, created_at, expires_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&t.id)
        .bind(&t.user)
        .bind(&t.description)
        .bind(&t.secret_hash)
        .bind(to_json(&t.scopes))
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(t.revoked_at)
        .execute(&mut *tx)
        .await?;
        let detail = format!("for {}: {}", t.user, t.scopes.join(" "));
        audit(
            &mut tx,
            actor,
            "token.create",
            None,
            Some(&t.id),
            OK,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM api_tokens WHERE secret_hash = $1")
            .bind(secret_hash)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn list_tokens(&self, user: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        let rows =
            match user {
                Some(u) => sqlx::query(
                    "SELECT * FROM api_tokens WHERE user_name = $1 ORDER BY created_at DESC, id",
                )
                .bind(u)
                .fetch_all(&self.reader)
                .await?,
                None => {
                    sqlx::query("SELECT * FROM api_tokens ORDER BY created_at DESC, id")
                        .fetch_all(&self.reader)
                        .await?
                }
            };
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_token(&self, id: &str, at: i64, actor: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            audit(&mut tx, actor, "token.revoke", None, Some(id), OK, None).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_publisher(&self, p: &PublisherRecord, actor: &Actor) -> Result<(), StoreError> {
        let claims = serde_json::to_string(&p.claims).expect("a string map");
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO trusted_publishers
             (id, repository, issuer, audience, claims, created_at, package)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&p.id)
        .bind(&p.repository)
        .bind(&p.issuer)
        .bind(&p.audience)
        .bind(&claims)
        .bind(now())
        .bind(&p.package)
        .execute(&mut *tx)
        .await?;
        let package = p.package.as_deref().unwrap_or("*");
        let detail = format!("{} aud={} package={package} {claims}", p.issuer, p.audience);
        audit(
            &mut tx,
            actor,
            "publisher.add",
            Some(&p.repository),
            Some(&p.id),
            OK,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn publishers(&self, repository: &str) -> Result<Vec<PublisherRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM trusted_publishers WHERE repository = $1 ORDER BY id")
                .bind(repository)
                .fetch_all(&self.reader)
                .await?;
        rows.iter().map(publisher_of_row).collect()
    }

    async fn all_publishers(&self) -> Result<Vec<PublisherRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM trusted_publishers ORDER BY repository, id")
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(publisher_of_row).collect()
    }

    async fn claim_jti(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        // Forget ids whose tokens have expired anyway.
        sqlx::query("DELETE FROM oidc_seen_jti WHERE expires_at < $1")
            .bind(now() - 3600)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "INSERT INTO oidc_seen_jti (issuer, jti, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (issuer, jti) DO NOTHING",
        )
        .bind(issuer)
        .bind(jti)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}

fn publisher_of_row(r: &AnyRow) -> Result<PublisherRecord, StoreError> {
    let claims: String = r.try_get("claims")?;
    Ok(PublisherRecord {
        id: r.try_get("id")?,
        repository: r.try_get("repository")?,
        package: r.try_get("package")?,
        issuer: r.try_get("issuer")?,
        audience: r.try_get("audience")?,
        claims: serde_json::from_str(&claims)
            .map_err(|e| StoreError::Corrupt(format!("publisher claims: {e}")))?,
    })
}
