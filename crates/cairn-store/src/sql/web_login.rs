//! The SQL of web sign-in for command-line clients (see [`crate::web_login`]).

use super::{audit, SqlMetaStore, OK};
use crate::web_login::{Taken, WebLogin, WebLoginStore};
use crate::{Actor, StoreError};
use async_trait::async_trait;
use sqlx::Row;

fn record(r: &sqlx::any::AnyRow) -> Result<WebLogin, StoreError> {
    Ok(WebLogin {
        id: r.try_get("id")?,
        secret_hash: r.try_get("secret_hash")?,
        client: r.try_get("client")?,
        source: r.try_get("source")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        approved_by: r.try_get("approved_by")?,
        second_factor: r.try_get::<i64, _>("second_factor")? != 0,
        approved_at: r.try_get("approved_at")?,
        consumed_at: r.try_get("consumed_at")?,
    })
}

#[async_trait]
impl WebLoginStore for SqlMetaStore {
    async fn start_web_login(&self, l: &WebLogin) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO web_logins (id, secret_hash, client, source, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&l.id)
        .bind(&l.secret_hash)
        .bind(&l.client)
        .bind(&l.source)
        .bind(l.created_at)
        .bind(l.expires_at)
        .execute(&self.writer)
        .await?;
        // Logins long expired go, so the table stays small.
        sqlx::query("DELETE FROM web_logins WHERE expires_at < $1")
            .bind(l.created_at - 86_400)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn web_login(&self, id: &str) -> Result<Option<WebLogin>, StoreError> {
        sqlx::query("SELECT * FROM web_logins WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.writer)
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    async fn approve_web_login(
        &self,
        id: &str,
        user: &str,
        second_factor: bool,
        now: i64,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let approved = sqlx::query(
            "UPDATE web_logins SET approved_by = $1, second_factor = $2, approved_at = $3
             WHERE id = $4 AND approved_by IS NULL AND expires_at > $3",
        )
        .bind(user)
        .bind(i64::from(second_factor))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if approved {
            let client: String = sqlx::query_scalar("SELECT client FROM web_logins WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            let detail = format!("a {client} sign-in");
            audit(
                &mut tx,
                actor,
                "session.web_approve",
                None,
                Some(id),
                OK,
                Some(&detail),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(approved)
    }

    async fn take_web_login(
        &self,
        id: &str,
        secret_hash: &str,
        now: i64,
    ) -> Result<Taken, StoreError> {
        // One statement decides who takes it: a second poll, here or on
        // another replica, finds it consumed.
        let taken = sqlx::query(
            "UPDATE web_logins SET consumed_at = $1
             WHERE id = $2 AND secret_hash = $3 AND approved_by IS NOT NULL
               AND consumed_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(id)
        .bind(secret_hash)
        .execute(&self.writer)
        .await?
        .rows_affected()
            == 1;
        let Some(login) = self.web_login(id).await? else {
            return Ok(Taken::Gone);
        };
        if login.secret_hash != secret_hash {
            return Ok(Taken::Gone);
        }
        Ok(match (taken, login.approved_by, login.consumed_at) {
            (true, Some(user), _) => Taken::Approved {
                user,
                second_factor: login.second_factor,
                client: login.client,
            },
            // Taken already (here, or by a poll on another replica).
            (false, _, Some(_)) => Taken::Gone,
            (false, _, None) if login.expires_at <= now => Taken::Gone,
            // Not approved yet — or approved after the UPDATE above looked:
            // the next poll takes it.
            _ => Taken::Pending,
        })
    }
}
