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
pub mod external;
pub mod ldap;
pub mod totp;

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
    /// A one-time password (or recovery code) that does not prove the
    /// second factor.
    #[error("{0}")]
    WrongCode(String),
    /// A person's change that needs a one-time password first (`enrolled`:
    /// they can send one; else they must enrol).
    #[error("{message}")]
    SecondFactor { enrolled: bool, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type IdentityResult<T> = Result<T, IdentityError>;

/// A session token's scope: every right the person has (a session is
/// limited by nothing but them).
pub const SESSION_SCOPE: &str = "**:read,publish,yank,delete,admin,sign";

/// What a sign-in's token is: how long it lasts, and whether the sign-in
/// took a second factor (then changes made with it count as verified).
#[derive(Debug, Clone, Copy)]
pub struct Session {
    pub ttl_secs: Option<u64>,
    pub second_factor: bool,
}

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
        if !external::valid_user_name(name) {
            return Err(IdentityError::Invalid(format!(
                "{name:?} is no user name: 1 to 128 characters, no ':', spaces or control characters"
            )));
        }
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
        self.make_token(by, actor, user, description, scopes, ttl_secs, None)
            .await
    }

    /// A token a sign-in creates for the person who signed in (`npm
    /// login`): the person's own, so changes made with it need a second
    /// factor where the policy asks, as with the password.
    pub async fn create_session_token(
        &self,
        by: Manager<'_>,
        actor: &Actor,
        description: &str,
        scopes: &[String],
        session: Session,
    ) -> IdentityResult<(TokenRecord, String)> {
        self.make_token(
            by,
            actor,
            None,
            description,
            scopes,
            session.ttl_secs,
            Some(session),
        )
        .await
    }

    /// A person an identity provider vouched for (`source`: `oidc:<issuer>`,
    /// `ldap`) signs in: made on the first sign-in, with the groups the
    /// provider's say-so maps to (see `IdentityStore::sign_in_external`).
    pub async fn sign_in_external(
        &self,
        actor: &Actor,
        user: &str,
        source: &str,
        groups: &[String],
    ) -> IdentityResult<()> {
        self.meta
            .sign_in_external(user, source, groups, actor)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(why) => IdentityError::Forbidden(why),
                e => e.into(),
            })?;
        self.changed();
        Ok(())
    }

    /// The session token of a person an identity provider just vouched
    /// for ([`Identity::sign_in_external`]); returns its secret.
    pub async fn create_external_session(
        &self,
        actor: &Actor,
        user: &str,
        description: &str,
        session: Session,
    ) -> IdentityResult<String> {
        let (_, secret) = self
            .make_token(
                Manager::Operator,
                actor,
                Some(user),
                description,
                &[SESSION_SCOPE.to_string()],
                session.ttl_secs,
                Some(session),
            )
            .await?;
        Ok(secret)
    }

    #[allow(clippy::too_many_arguments)]
    async fn make_token(
        &self,
        by: Manager<'_>,
        actor: &Actor,
        user: Option<&str>,
        description: &str,
        scopes: &[String],
        ttl_secs: Option<u64>,
        session: Option<Session>,
    ) -> IdentityResult<(TokenRecord, String)> {
        let user = match (user, by) {
            (Some(u), _) => u.to_string(),
            (None, Manager::Caller(p)) => p.name().to_string(),
            (None, Manager::Operator) => {
                return Err(IdentityError::Invalid("name the token's user".into()))
            }
        };
        self.require_owner_or_admin(by, &user)?;
        if session.is_none() {
            self.second_factor_for_token(by, scopes)?;
        }
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
            session: session.is_some(),
            second_factor: session.is_some_and(|s| s.second_factor),
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

    /// An API token is automation, never asked for a second factor, so
    /// making one is a person's change like a publish: an enrolled person
    /// sends a one-time password with it (as `npm token create --otp`
    /// does), and where `auth.require_two_factor` is set, a person not
    /// enrolled may not make one that can change anything (else the rule
    /// would be a password away from nothing).
    fn second_factor_for_token(&self, by: Manager, scopes: &[String]) -> IdentityResult<()> {
        use cairn_core::access::{TwoFactor, TWO_FACTOR_ACTIONS};
        let Manager::Caller(Principal::Authenticated { two_factor, .. }) = by else {
            return Ok(());
        };
        let writes = || {
            parse_grants(scopes).is_ok_and(|grants| {
                grants
                    .iter()
                    .any(|g| g.actions.iter().any(|a| TWO_FACTOR_ACTIONS.contains(a)))
            })
        };
        match two_factor {
            TwoFactor::Missing => Err(IdentityError::SecondFactor {
                enrolled: true,
                message: "making an API token needs a one-time password (npm token create \
                          --otp=CODE; X-Cairn-OTP for the API)"
                    .into(),
            }),
            TwoFactor::NotEnrolled if !self.policy.two_factor.is_empty() && writes() => {
                Err(IdentityError::SecondFactor {
                    enrolled: false,
                    message: "publishing here needs two-factor authentication: enable it \
                              (cairn user totp enable) before making a token that can publish, \
                              yank or delete"
                        .into(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Only the user themself enrols a second factor (an administrator
    /// would learn the secret).
    fn require_self(&self, by: Manager, user: &str) -> IdentityResult<()> {
        match by {
            Manager::Caller(p) if p.name() == user => Ok(()),
            _ => Err(IdentityError::Forbidden(format!(
                "only {user} may enrol their own second factor"
            ))),
        }
    }

    /// Starts a TOTP enrolment for `user`: the secret and its `otpauth://`
    /// URL, shown once; nothing changes for sign-ins until a first code
    /// confirms it ([`Identity::confirm_totp`]).
    pub async fn start_totp(
        &self,
        by: Manager<'_>,
        actor: &Actor,
        user: &str,
        issuer: &str,
    ) -> IdentityResult<(String, String)> {
        self.require_self(by, user)?;
        let secret = totp::new_secret();
        if !self.meta.start_totp(user, &secret, actor).await? {
            return Err(IdentityError::Conflict(format!(
                "{user} already has two-factor authentication enabled; disable it first"
            )));
        }
        let url = totp::otpauth_url(&secret, user, issuer);
        Ok((secret, url))
    }

    /// Confirms a pending enrolment with a first code from the app: two-
    /// factor authentication is on from now, and the recovery codes
    /// (shown once) are returned.
    pub async fn confirm_totp(
        &self,
        by: Manager<'_>,
        actor: &Actor,
        user: &str,
        code: &str,
    ) -> IdentityResult<Vec<String>> {
        self.require_self(by, user)?;
        let pending = self
            .meta
            .totp(user)
            .await?
            .filter(|t| t.enabled_at.is_none())
            .ok_or_else(|| {
                IdentityError::Conflict(format!(
                    "{user} has no enrolment waiting for a code; start one first"
                ))
            })?;
        let Some(step) = totp::step_of(&pending.secret, code, now()) else {
            return Err(IdentityError::WrongCode(
                "that code is not the app's current one (check the device's clock)".into(),
            ));
        };
        let codes = totp::new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| totp::hash_recovery(c)).collect();
        if !self.meta.enable_totp(user, &hashes, actor).await? {
            return Err(IdentityError::Conflict(format!(
                "{user}'s enrolment changed meanwhile; start again"
            )));
        }
        // The confirming code does not sign anyone in afterwards.
        self.meta.claim_totp_step(user, step).await?;
        self.changed();
        Ok(codes)
    }

    /// Turns two-factor authentication off for `user`: by the user with a
    /// current code (or a recovery code), or by an administrator without
    /// one (a lost device).
    pub async fn disable_totp(
        &self,
        by: Manager<'_>,
        actor: &Actor,
        user: &str,
        code: Option<&str>,
    ) -> IdentityResult<()> {
        let own = matches!(by, Manager::Caller(p) if p.name() == user);
        if !own {
            self.require_admin(by)?;
        } else if !self.may_manage_everyone(by) && totp::enrolled(self.meta.as_ref(), user).await? {
            let Some(code) = code else {
                return Err(IdentityError::Invalid(
                    "turning two-factor authentication off needs a current code".into(),
                ));
            };
            if !totp::for_request(self.meta.as_ref(), user, code).await? {
                return Err(IdentityError::WrongCode(
                    "that code is neither the app's current one nor an unused recovery code".into(),
                ));
            }
        }
        if !self.meta.disable_totp(user, actor).await? {
            return Err(IdentityError::NotFound(format!(
                "{user} has no two-factor enrolment"
            )));
        }
        self.changed();
        Ok(())
    }

    /// New recovery codes for `user` (the old ones stop working), with a
    /// current code.
    pub async fn new_recovery_codes(
        &self,
        by: Manager<'_>,
        actor: &Actor,
        user: &str,
        code: &str,
    ) -> IdentityResult<Vec<String>> {
        self.require_self(by, user)?;
        if !totp::for_request(self.meta.as_ref(), user, code).await? {
            return Err(IdentityError::WrongCode(
                "that code is neither the app's current one nor an unused recovery code".into(),
            ));
        }
        let codes = totp::new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| totp::hash_recovery(c)).collect();
        if !self
            .meta
            .replace_recovery_codes(user, &hashes, actor)
            .await?
        {
            return Err(IdentityError::NotFound(format!(
                "{user} has no two-factor enrolment"
            )));
        }
        Ok(codes)
    }

    /// A second factor at sign-in (a code not used to sign in before, or an
    /// unused recovery code): whether it is `user`'s.
    pub async fn sign_in_second_factor(&self, user: &str, code: &str) -> IdentityResult<bool> {
        Ok(totp::sign_in(self.meta.as_ref(), user, code).await?)
    }

    /// `user`'s second factor: `(enabled, pending, recovery codes left)`;
    /// for the user themself or an administrator.
    pub async fn totp_status(
        &self,
        by: Manager<'_>,
        user: &str,
    ) -> IdentityResult<(bool, bool, u64)> {
        self.require_owner_or_admin(by, user)?;
        let record = self.meta.totp(user).await?;
        let enabled = record.as_ref().is_some_and(|t| t.enabled_at.is_some());
        let pending = record.is_some() && !enabled;
        let left = if enabled {
            self.meta.recovery_codes_left(user).await?
        } else {
            0
        };
        Ok((enabled, pending, left))
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
