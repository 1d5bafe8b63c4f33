//! Web sign-in for command-line clients (npm's `auth-type=web`, `cairn
//! login --web`): the client starts a login and polls with a secret only it
//! holds; a person signed in to the web UI approves it; the client then
//! takes it, once. Kept in the database, so that the start, the approval
//! and the polls may each reach a different replica.

use crate::{Actor, StoreError};
use async_trait::async_trait;

/// A web login as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebLogin {
    pub id: String,
    /// The SHA-256 (hex) of the client's poll secret.
    #[serde(skip)]
    pub secret_hash: String,
    /// `npm` or `cairn`.
    pub client: String,
    /// The address the client started it from.
    pub source: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Who approved it, and whether their sign-in took a second factor.
    pub approved_by: Option<String>,
    pub second_factor: bool,
    pub approved_at: Option<i64>,
    pub consumed_at: Option<i64>,
}

/// What taking a web login found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Approved, and now taken: make the token for this user (of this client).
    Approved {
        user: String,
        second_factor: bool,
        client: String,
    },
    /// Not approved yet: poll again.
    Pending,
    /// No such login (a wrong secret reads the same), expired, or taken.
    Gone,
}

#[async_trait]
pub trait WebLoginStore: Send + Sync + 'static {
    /// Records a started login.
    async fn start_web_login(&self, login: &WebLogin) -> Result<(), StoreError>;

    /// A login by its id (the approval page shows what it approves).
    async fn web_login(&self, id: &str) -> Result<Option<WebLogin>, StoreError>;

    /// `user` approves a pending, unexpired login; audited as
    /// `session.web_approve`. False if it is not pending any more.
    async fn approve_web_login(
        &self,
        id: &str,
        user: &str,
        second_factor: bool,
        now: i64,
        actor: &Actor,
    ) -> Result<bool, StoreError>;

    /// The client with the secret whose hash is `secret_hash` takes an
    /// approved login: at most one caller, on any replica, ever gets
    /// [`Taken::Approved`] for it.
    async fn take_web_login(
        &self,
        id: &str,
        secret_hash: &str,
        now: i64,
    ) -> Result<Taken, StoreError>;
}
