//! The identity service: users, groups, grants and API tokens, and who may
//! manage them. The admin API, npm's `login`/`token` endpoints and the CLI
//! all call it, so each rule exists once:
//!
//! - anyone authenticated may create, list and revoke their own tokens;
//! - an administrator (an `admin` grant on every repository) may do so for
//!   anyone, and manage users and groups;
//! - the operator at the command line works on the stores directly and may
//!   do everything.
//!
//! Every change clears this replica's [`CredentialCache`], so it takes
//! effect here at once; other replicas see it within the cache's bound.

mod cache;

pub use cache::CredentialCache;

use crate::auth::{generate_secret, hash_secret, now, parse_grants, TOKEN_PREFIX};
use cairn_core::access::{authorize, AccessPolicy};
use cairn_core::{Action, Principal};
use cairn_store::{Actor, IdentityStore, StoreError, TokenRecord};
use rand::RngCore;
use std::sync::Arc;

/// The resource name for rights over the whole registry: it is not a valid
/// repository name, so only grants matching every repository cover it.
pub const REGISTRY: &str = "_registry";

/// Who asks for a change.
#[derive(Clone, Copy)]
pub enum Manager<'a> {
    /// The operator at the command line, on the server's own stores.
    Operator,
    /// An authenticated caller of the HTTP API or of a client's endpoint.
    Caller(&'a Principal),
}

impl Manager<'_> {
    fn name(&self) -> &str {
        match self {
            Manager::Operator => "the operator",
            Manager::Caller(p) => p.name(),
        }
    }
}

/// Why an identity change was refused; each caller renders it its own way.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type IdentityResult<T> = Result<T, IdentityError>;

/// A user just created, with the password shown once.
pub struct NewUser {
    pub name: String,
    pub password: String,
}

/// The identity service. Cheap to share behind an `Arc`.
pub struct Identity {
    meta: Arc<dyn IdentityStore>,
    policy: AccessPolicy,
    credentials: Arc<CredentialCache>,
}

impl Identity {
    pub fn new(
        meta: Arc<dyn IdentityStore>,
        policy: AccessPolicy,
        credentials: Arc<CredentialCache>,
    ) -> Identity {
        Identity {
            meta,
            policy,
            credentials,
        }
    }

    /// The service as the operator's CLI uses it: no cache of its own (the
    /// servers' caches age out within their bound).
    pub fn operator(meta: Arc<dyn IdentityStore>) -> Identity {
        let none = Arc::new(CredentialCache::new(std::time::Duration::ZERO));
        Identity::new(meta, AccessPolicy::default(), none)
    }

    /// Whether `principal` administers the whole registry.
    pub fn is_admin(&self, principal: &Principal) -> bool {
        authorize(&self.policy, principal, REGISTRY, Action::Admin).is_ok()
    }

    fn may_manage_everyone(&self, by: Manager) -> bool {
        match by {
            Manager::Operator => true,
            Manager::Caller(p) => self.is_admin(p),
        }
    }

    fn require_admin(&self, by: Manager) -> IdentityResult<()> {
        if self.may_manage_everyone(by) {
            Ok(())
        } else {
            Err(IdentityError::Forbidden(
                "needs admin rights on every repository".into(),
            ))
        }
    }

    /// Whether `by` may manage `user`'s tokens: its own, or anyone's for an administrator.
    fn require_owner_or_admin(&self, by: Manager, user: &str) -> IdentityResult<()> {
        match by {
            Manager::Caller(p) if p.name() == user => Ok(()),
            _ => self.require_admin(by),
        }
    }

    fn changed(&self) {
        self.credentials.clear();
    }

    /// Creates a user with a random password and `grants`.
    pub async fn create_user(
        &self,
        by: Manager<'_>,
        actor: &Actor,
        name: &str,
        grants: &[String],
    ) -> IdentityResult<NewUser> {
        self.require_admin(by)?;
        check_grants(grants)?;
        if self.meta.user(name).await?.is_some() {
            return Err(IdentityError::Conflict(format!("user {name} exists")));
        }
        let password = generate_secret();
        self.meta
            .put_user(name, &hash_secret(&password), actor)
            .await?;
        self.meta.set_user_grants(name, grants, actor).await?;
        self.changed();
        Ok(NewUser {
            name: name.to_string(),
            password,
        })
    }

    /// Replaces a user's own grants.
    pub async fn set_user_grants(
        &self,
        by: Manager<'_>,
        actor: &Actor,
        name: &str,
        grants: &[String],
    ) -> IdentityResult<()> {
        self.require_admin(by)?;
        check_grants(grants)?;
        let found = self.meta.set_user_grants(name, grants, actor).await?;
        self.changed();
        if found {
            Ok(())
        } else {
            Err(IdentityError::NotFound(format!("no user {name}")))
        }
    }

    /// Creates a group, or replaces its grants.
    pub async fn put_group(
        &self,
        by: Manager<'_>,
        actor: &Actor,
        name: &str,
        grants: &[String],
    ) -> IdentityResult<()> {
        self.require_admin(by)?;
        check_grants(grants)?;
        self.meta.put_group(name, grants, actor).await?;
        self.changed();
        Ok(())
    }

    pub async fn add_group_member(
        &self,
        by: Manager<'_>,
        actor: &Actor,
        group: &str,
        user: &str,
    ) -> IdentityResult<()> {
        self.require_admin(by)?;
        if self.meta.user(user).await?.is_none() {
            return Err(IdentityError::NotFound(format!("no user {user}")));
        }
        self.meta.add_group_member(group, user, actor).await?;
        self.changed();
        Ok(())
    }

    /// Creates an API token for `user` (the caller's own when `None`),
    /// limited to `scopes`, valid for `ttl_secs` (forever if `None`).
    /// Returns the record and the secret, which is shown once.
    pub async fn create_token(
        &self,
        by: Manager<'_>,
        actor: &Actor,
        user: Option<&str>,
        description: &str,
        scopes: &[String],
        ttl_secs: Option<u64>,
    ) -> IdentityResult<(TokenRecord, String)> {
        let user = match (user, by) {
            (Some(u), _) => u.to_string(),
            (None, Manager::Caller(p)) => p.name().to_string(),
            (None, Manager::Operator) => {
                return Err(IdentityError::Invalid("name the token's user".into()))
            }
        };
        self.require_owner_or_admin(by, &user)?;
        check_grants(scopes)?;
        if scopes.is_empty() {
            return Err(IdentityError::Invalid(
                "a token needs at least one scope (PATTERN:ACTIONS)".into(),
            ));
        }
        if self.meta.user(&user).await?.is_none() {
            return Err(IdentityError::NotFound(format!("no user {user:?}")));
        }
        let mut id = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut id);
        let secret = format!("{TOKEN_PREFIX}{}", generate_secret());
        let created_at = now() as i64;
        let record = TokenRecord {
            id: hex::encode(id),
            user,
            description: description.to_string(),
            secret_hash: hash_secret(&secret),
            scopes: scopes.to_vec(),
            created_at,
            expires_at: ttl_secs.map(|t| created_at + t as i64),
            revoked_at: None,
        };
        self.meta.create_token(&record, actor).await?;
        Ok((record, secret))
    }

    /// Tokens `by` may see: of `user`, or when `None`, everyone's for an
    /// administrator and the caller's own otherwise.
    pub async fn list_tokens(
        &self,
        by: Manager<'_>,
        user: Option<&str>,
    ) -> IdentityResult<Vec<TokenRecord>> {
        let user = match (user, by) {
            (Some(u), _) => {
                self.require_owner_or_admin(by, u)?;
                Some(u.to_string())
            }
            (None, _) if self.may_manage_everyone(by) => None,
            (None, Manager::Caller(p)) => Some(p.name().to_string()),
            (None, Manager::Operator) => None,
        };
        Ok(self.meta.list_tokens(user.as_deref()).await?)
    }

    /// Revokes token `id`: the caller's own, or anyone's for an administrator
    /// or the operator. Someone else's token is reported as missing to a
    /// caller who may not revoke it, so token ids cannot be probed.
    pub async fn revoke_token(
        &self,
        by: Manager<'_>,
        actor: &Actor,
        id: &str,
    ) -> IdentityResult<()> {
        let owner = self.meta.token(id).await?.map(|t| t.user);
        let missing = || IdentityError::NotFound(format!("no live token {id}"));
        let Some(owner) = owner else {
            return Err(missing());
        };
        if self.require_owner_or_admin(by, &owner).is_err() {
            tracing::info!(
                by = by.name(),
                token = id,
                "refused to revoke another user's token"
            );
            return Err(missing());
        }
        let revoked = self.meta.revoke_token(id, now() as i64, actor).await?;
        self.changed();
        if revoked {
            Ok(())
        } else {
            Err(missing())
        }
    }
}

#[async_trait::async_trait]
impl cairn_http::TokenRevoker for Identity {
    /// A token whose secret was found in a publish: revoked on the spot,
    /// whoever owns it (the secret itself is the proof), and forgotten by
    /// this replica's credential cache.
    async fn revoke_leaked(
        &self,
        secret: &str,
        actor: &Actor,
    ) -> Result<bool, cairn_store::StoreError> {
        let hash = cairn_core::secrets::token_hash(secret);
        let Some(token) = self.meta.token_by_hash(&hash).await? else {
            return Ok(false);
        };
        let revoked = self
            .meta
            .revoke_token(&token.id, now() as i64, actor)
            .await?;
        self.changed();
        Ok(revoked)
    }
}

fn check_grants(grants: &[String]) -> IdentityResult<()> {
    parse_grants(grants)
        .map(|_| ())
        .map_err(|e| IdentityError::Invalid(e.to_string()))
}
