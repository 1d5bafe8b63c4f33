//! Web sign-in for command-line clients: `npm login` (npm's default
//! `auth-type=web`, when `auth.web_login` is on) and `cairn login --web`.
//! The client starts a login and is given two addresses: one for the person
//! to open in a browser (the web UI's approval page, behind its sign-in —
//! a password, a second factor, or the OpenID Connect provider), and one to
//! poll with a secret only the client holds. Once the person approves, the
//! next poll takes a session token for them, once.
//!
//! Everything is in the database (`cairn_store::web_login`), so the start,
//! the approval and the polls may reach different replicas; the token is
//! made when the client takes the login and is never stored.

use crate::AppState;
use cairn_store::web_login::{Taken, WebLogin};
use cairn_store::{Actor, StoreError};

/// How long a started login waits for its approval.
pub const WEB_LOGIN_SECS: i64 = 600;

/// How long a client waits between polls (`Retry-After`).
pub const POLL_SECS: u64 = 1;

/// A started login: where the person approves it, where the client polls.
#[derive(Debug, serde::Serialize)]
pub struct Started {
    pub id: String,
    pub login_url: String,
    pub done_url: String,
    pub expires_in: i64,
}

/// Starts a login for `client` (`npm`, `cairn`), the addresses under
/// `base` (the URL clients reach cairn at).
pub async fn start(
    state: &AppState,
    client: &str,
    source: Option<String>,
    base: &str,
) -> Result<Started, StoreError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let secret = crate::auth::generate_secret();
    let now = cairn_packages::now();
    state
        .meta
        .start_web_login(&WebLogin {
            id: id.clone(),
            secret_hash: crate::auth::hash_secret(&secret),
            client: client.to_string(),
            source,
            created_at: now,
            expires_at: now + WEB_LOGIN_SECS,
            approved_by: None,
            second_factor: false,
            approved_at: None,
            consumed_at: None,
        })
        .await?;
    Ok(Started {
        login_url: format!("{base}/ui/#/approve/{id}"),
        done_url: format!("{base}/api/v1/session/web/{id}/token?secret={secret}"),
        id,
        expires_in: WEB_LOGIN_SECS,
    })
}

/// What a poll gets.
pub enum Poll {
    /// The person approved: a session token for them, who they are, and
    /// when the session ends.
    Token {
        token: String,
        user: String,
        expires_at: i64,
    },
    Pending,
    /// No such login, a wrong secret, expired, or taken already.
    Gone,
}

/// The client's poll: takes the approved login (once, on any replica) and
/// makes the session token, as if the person had signed in here with the
/// second factor their approving session had.
pub async fn poll(
    state: &AppState,
    id: &str,
    secret: &str,
    source: Option<String>,
) -> Result<Poll, crate::identity::IdentityError> {
    let now = cairn_packages::now();
    let taken = state
        .meta
        .take_web_login(id, &crate::auth::hash_secret(secret), now)
        .await?;
    let (user, second_factor, client) = match taken {
        Taken::Approved {
            user,
            second_factor,
            client,
        } => (user, second_factor, client),
        Taken::Pending => return Ok(Poll::Pending),
        Taken::Gone => return Ok(Poll::Gone),
    };
    let actor = Actor {
        name: user.clone(),
        credential: None,
        source,
    };
    let ttl = state.config.auth.session_ttl_secs;
    let token = state
        .identity
        .create_external_session(
            &actor,
            &user,
            &format!("{client} login (web)"),
            crate::identity::Session {
                ttl_secs: Some(ttl),
                second_factor,
            },
        )
        .await?;
    tracing::info!(user = %user, client = %client, "a web login was taken");
    Ok(Poll::Token {
        token,
        user,
        expires_at: now + ttl as i64,
    })
}
