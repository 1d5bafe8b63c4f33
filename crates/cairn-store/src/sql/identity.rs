//! The identity aggregate's SQL: users, groups, tokens, publishers, used OIDC tokens.

use super::{audit, json_list, now, to_json, SqlMetaStore, OK};
use crate::{
    Actor, IdentityStore, PublisherRecord, StoreError, TokenRecord, TotpRecord, UserRecord,
};
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
        session: row.try_get::<i64, _>("session")? != 0,
        second_factor: row.try_get::<i64, _>("session")? == 2,
    })
}

#[async_trait]
impl IdentityStore for SqlMetaStore {
    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let row =
            sqlx::query("SELECT name, secret_hash, grants, source FROM users WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.reader)
                .await?;
        row.map(|r| {
            Ok(UserRecord {
                name: r.try_get("name")?,
                secret_hash: r.try_get("secret_hash")?,
                grants: json_list(r.try_get("grants")?)?,
                source: r.try_get("source")?,
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

    async fn sign_in_external(
        &self,
        name: &str,
        source: &str,
        groups: &[String],
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut wanted: Vec<&String> = groups.iter().collect();
        wanted.sort();
        wanted.dedup();
        // The common case, a person signing in again with the same groups,
        // writes nothing (a directory's users sign in on every request
        // their credential is not cached for).
        let stored: Option<String> = sqlx::query_scalar("SELECT source FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.reader)
            .await?;
        if stored.as_deref() == Some(source) {
            let mut have: Vec<String> = sqlx::query_scalar(
                "SELECT group_name FROM group_members WHERE user_name = $1 AND source = $2",
            )
            .bind(name)
            .bind(source)
            .fetch_all(&self.reader)
            .await?;
            have.sort();
            if have.iter().eq(wanted.iter().copied()) {
                return Ok(());
            }
        }
        let mut tx = self.writer.begin().await?;
        // No password: the stored hash is empty, which no secret hashes to.
        sqlx::query(
            "INSERT INTO users (name, secret_hash, created_at, source) VALUES ($1, '', $2, $3)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(now())
        .bind(source)
        .execute(&mut *tx)
        .await?;
        let stored: String = sqlx::query_scalar("SELECT source FROM users WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        if stored != source {
            return Err(StoreError::Conflict(format!(
                "the user {name} signs in {} here, not through {source}",
                if stored == crate::LOCAL_USERS {
                    "with a password".to_string()
                } else {
                    format!("through {stored}")
                }
            )));
        }
        sqlx::query("DELETE FROM group_members WHERE user_name = $1 AND source = $2")
            .bind(name)
            .bind(source)
            .execute(&mut *tx)
            .await?;
        for group in wanted {
            sqlx::query(
                "INSERT INTO group_members (group_name, user_name, source) VALUES ($1, $2, $3)
                 ON CONFLICT (group_name, user_name) DO NOTHING",
            )
            .bind(group)
            .bind(name)
            .bind(source)
            .execute(&mut *tx)
            .await?;
        }
        let detail = format!("through {source}; groups: {}", groups.join(", "));
        audit(
            &mut tx,
            actor,
            "user.sign_in",
            None,
            Some(name),
            OK,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_token(&self, t: &TokenRecord, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, user_name, description, secret_hash, scopes, created_at, expires_at, revoked_at, session)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&t.id)
        .bind(&t.user)
        .bind(&t.description)
        .bind(&t.secret_hash)
        .bind(to_json(&t.scopes))
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(t.revoked_at)
        // 0: automation; 1: a person's session; 2: one signed in with a second factor.
        .bind(if t.second_factor { 2 } else { i64::from(t.session) })
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

    async fn totp(&self, user: &str) -> Result<Option<TotpRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT secret, created_at, enabled_at FROM user_totp WHERE user_name = $1",
        )
        .bind(user)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| {
            Ok(TotpRecord {
                secret: r.try_get("secret")?,
                created_at: r.try_get("created_at")?,
                enabled_at: r.try_get("enabled_at")?,
            })
        })
        .transpose()
    }

    async fn start_totp(
        &self,
        user: &str,
        secret: &str,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "INSERT INTO user_totp (user_name, secret, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_name) DO UPDATE SET secret = excluded.secret,
                 created_at = excluded.created_at
             WHERE user_totp.enabled_at IS NULL",
        )
        .bind(user)
        .bind(secret)
        .bind(now())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if done {
            audit_2fa(&mut tx, actor, "user.2fa.start", user).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn enable_totp(
        &self,
        user: &str,
        recovery_hashes: &[String],
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE user_totp SET enabled_at = $1 WHERE user_name = $2 AND enabled_at IS NULL",
        )
        .bind(now())
        .bind(user)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if done {
            put_recovery_codes(&mut tx, user, recovery_hashes).await?;
            audit_2fa(&mut tx, actor, "user.2fa.enable", user).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn disable_totp(&self, user: &str, actor: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("DELETE FROM user_totp WHERE user_name = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        sqlx::query("DELETE FROM user_recovery_codes WHERE user_name = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?;
        if done {
            audit_2fa(&mut tx, actor, "user.2fa.disable", user).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn replace_recovery_codes(
        &self,
        user: &str,
        recovery_hashes: &[String],
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let enabled: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM user_totp WHERE user_name = $1 AND enabled_at IS NOT NULL",
        )
        .bind(user)
        .fetch_optional(&mut *tx)
        .await?;
        if enabled.is_none() {
            return Ok(false);
        }
        put_recovery_codes(&mut tx, user, recovery_hashes).await?;
        audit_2fa(&mut tx, actor, "user.2fa.recovery_codes", user).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn use_recovery_code(
        &self,
        user: &str,
        code_hash: &str,
        used_since: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE user_recovery_codes SET used_at = COALESCE(used_at, $1)
             WHERE user_name = $2 AND code_hash = $3
               AND (used_at IS NULL OR used_at >= $4)",
        )
        .bind(now())
        .bind(user)
        .bind(code_hash)
        .bind(used_since)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    async fn recovery_codes_left(&self, user: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM user_recovery_codes WHERE user_name = $1 AND used_at IS NULL",
        )
        .bind(user)
        .fetch_one(&self.reader)
        .await?;
        Ok(n as u64)
    }

    async fn claim_totp_step(&self, user: &str, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE user_totp SET last_step = $1 WHERE user_name = $2 AND last_step < $1",
        )
        .bind(step)
        .bind(user)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(done == 1)
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

/// Replaces a user's recovery codes (in the caller's transaction).
async fn put_recovery_codes(
    tx: &mut sqlx::AnyConnection,
    user: &str,
    hashes: &[String],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM user_recovery_codes WHERE user_name = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    for hash in hashes {
        sqlx::query("INSERT INTO user_recovery_codes (user_name, code_hash) VALUES ($1, $2)")
            .bind(user)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The audit entry of a change to `user`'s second factor.
async fn audit_2fa(
    tx: &mut sqlx::AnyConnection,
    actor: &Actor,
    action: &str,
    user: &str,
) -> Result<(), StoreError> {
    audit(tx, actor, action, None, Some(user), OK, None).await
}
