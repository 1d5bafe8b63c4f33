//! Who may do what. Authentication (turning a header into a [`Principal`])
//! happens in the server; the decision is the one pure function
//! [`authorize`], which every adapter calls before acting.
//!
//! Rights are grants: a repository pattern and a set of [`Action`]s. A user
//! has the grants given to it and to its groups; an API token carries its own
//! scopes and never more than its user; a bearer token minted by the token
//! endpoint carries exactly the scopes it was issued for.

use globset::{GlobBuilder, GlobMatcher};
use std::fmt;

/// What a request wants to do to a repository. Every format maps its verbs
/// onto these (OCI: pull → `Read`, push → `Publish`, delete → `Delete`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Read,
    Publish,
    /// Yank, deprecate, unpublish, retract.
    Yank,
    Delete,
    /// Manage the repository's settings and permissions.
    Admin,
    /// Read a manifest a signature policy refuses to readers, in order to
    /// sign it (cosign reads what it signs). Implied by `Publish`; granted
    /// alone to a signing service that publishes nothing else.
    Sign,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Read,
        Action::Publish,
        Action::Yank,
        Action::Delete,
        Action::Admin,
        Action::Sign,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Publish => "publish",
            Action::Yank => "yank",
            Action::Delete => "delete",
            Action::Admin => "admin",
            Action::Sign => "sign",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A repository pattern (`*` within a path segment, `**` across segments) and
/// the actions allowed on the repositories it matches.
#[derive(Debug, Clone)]
pub struct Grant {
    pattern: String,
    matcher: GlobMatcher,
    pub actions: Vec<Action>,
}

impl PartialEq for Grant {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern && self.actions == other.actions
    }
}

impl Eq for Grant {}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("invalid repository pattern {0:?}: {1}")]
    Pattern(String, String),
    #[error("unknown action {0:?} (use read, publish, yank, delete, admin, sign)")]
    Action(String),
    #[error("a grant is written PATTERN:ACTION[,ACTION...], not {0:?}")]
    Syntax(String),
}

impl Grant {
    pub fn new(pattern: &str, actions: Vec<Action>) -> Result<Grant, GrantError> {
        let matcher = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| GrantError::Pattern(pattern.to_string(), e.to_string()))?
            .compile_matcher();
        Ok(Grant {
            pattern: pattern.to_string(),
            matcher,
            actions,
        })
    }

    /// A grant on exactly one resource, whatever characters its name holds
    /// (a package name may contain characters that patterns treat specially).
    pub fn exact(resource: &str, actions: Vec<Action>) -> Grant {
        Grant::new(&globset::escape(resource), actions).expect("an escaped name is a valid pattern")
    }

    /// Parses `PATTERN:ACTION[,ACTION...]`, e.g. `team/**:read,publish`.
    pub fn parse(s: &str) -> Result<Grant, GrantError> {
        let (pattern, actions) = s
            .rsplit_once(':')
            .ok_or_else(|| GrantError::Syntax(s.to_string()))?;
        let actions = actions
            .split(',')
            .map(|a| Action::parse(a.trim()).ok_or_else(|| GrantError::Action(a.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        Grant::new(pattern, actions)
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub fn allows(&self, repository: &str, action: Action) -> bool {
        let granted = self.actions.contains(&action)
            || (action == Action::Sign && self.actions.contains(&Action::Publish));
        granted && self.matcher.is_match(repository)
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let actions: Vec<&str> = self.actions.iter().map(|a| a.as_str()).collect();
        write!(f, "{}:{}", self.pattern, actions.join(","))
    }
}

/// Everything a principal may do: each set of grants must allow an action
/// (an API token is limited by its own scopes *and* by its user's rights).
/// Shared, so that a principal kept in the credential cache is cloned for
/// each request without copying its compiled patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rights(std::sync::Arc<Vec<Vec<Grant>>>);

impl Rights {
    /// Rights limited by one set of grants.
    pub fn of(grants: Vec<Grant>) -> Rights {
        Rights(std::sync::Arc::new(vec![grants]))
    }

    /// These rights, further limited by `grants`.
    pub fn limited_to(mut self, grants: Vec<Grant>) -> Rights {
        std::sync::Arc::make_mut(&mut self.0).push(grants);
        self
    }

    pub fn allow(&self, repository: &str, action: Action) -> bool {
        self.allow_any(&[repository], action)
    }

    /// Whether every set of grants allows `action` on one of `resources`
    /// (a repository and a package in it: a grant on either covers the package).
    pub fn allow_any(&self, resources: &[&str], action: Action) -> bool {
        self.0.iter().all(|set| {
            set.iter()
                .any(|g| resources.iter().any(|r| g.allows(r, action)))
        })
    }
}

/// How a caller proved who it is; it decides how a refusal is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A user's password or an API token: a refusal is final (403).
    Long,
    /// A short-lived bearer token from the token endpoint: a refusal means
    /// "ask for a token with this scope" (401 with `insufficient_scope`).
    Bearer,
}

/// Whether a caller's credential stands for a person signing in, and if so
/// whether a second factor (a one-time password) came with the request.
/// Decides the two-factor rule of [`AccessPolicy::two_factor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoFactor {
    /// Automation: an API token, a trusted publisher's token, or a bearer
    /// token obtained with one. Never asked for a second factor (as on npmjs).
    Exempt,
    /// A person (a password, or a token a sign-in created) who has not
    /// enrolled a second factor.
    NotEnrolled,
    /// A person enrolled in two-factor authentication whose request carried
    /// no valid one-time password.
    Missing,
    /// A person whose request carried a valid one-time password.
    Verified,
}

impl TwoFactor {
    /// The short form kept in bearer tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            TwoFactor::Exempt => "exempt",
            TwoFactor::NotEnrolled => "none",
            TwoFactor::Missing => "missing",
            TwoFactor::Verified => "verified",
        }
    }

    /// Read back from [`TwoFactor::as_str`]; anything else is exempt (bearer
    /// tokens minted before the field existed came from automation or from
    /// people before any policy could ask).
    pub fn parse(s: &str) -> TwoFactor {
        match s {
            "none" => TwoFactor::NotEnrolled,
            "missing" => TwoFactor::Missing,
            "verified" => TwoFactor::Verified,
            _ => TwoFactor::Exempt,
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    Authenticated {
        /// The user name (or token subject).
        subject: String,
        /// Which credential was used, for the audit log (an API token id).
        credential: Option<String>,
        kind: CredentialKind,
        rights: Rights,
        /// A person or automation, and the second factor's state.
        two_factor: TwoFactor,
    },
}

impl Principal {
    pub fn name(&self) -> &str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::Authenticated { subject, .. } => subject,
        }
    }
}

/// What the server learned about a request's caller, handed to adapters:
/// the principal, and where a client should fetch a token if it needs one.
#[derive(Debug, Clone)]
pub struct RequestAuth {
    pub principal: Principal,
    /// URL of the token endpoint, for `WWW-Authenticate: Bearer realm=...`.
    pub realm: String,
    /// The service name tokens are issued for.
    pub service: String,
    /// The client's address, for the audit log.
    pub source: Option<String>,
}

/// Why a request was refused; adapters render it in their protocol's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No credential was sent: ask for one (401 with a challenge).
    NeedsCredential,
    /// A bearer token was sent that lacks this scope: ask for a wider token (401).
    InsufficientScope,
    /// A credential was sent but does not carry this right (403).
    Forbidden,
    /// The right is there, but changes here by a person need a one-time
    /// password: `enrolled` says whether the person can send one (npm
    /// answers 401 with `WWW-Authenticate: OTP`) or must enrol first.
    SecondFactor { enrolled: bool },
}

impl Denied {
    /// What a person refused for want of a second factor is told (the
    /// words "one-time password" are what npm looks for in such a refusal).
    pub fn second_factor_message(
        enrolled: bool,
        who: &str,
        action: Action,
        resource: &str,
    ) -> String {
        if enrolled {
            format!(
                "a one-time password is required to {action} {resource}: send the code from \
                 {who}'s authenticator app (npm: --otp=CODE; other clients: the X-Cairn-OTP \
                 header), or use an API token"
            )
        } else {
            format!(
                "{who} must enable two-factor authentication (cairn user totp enable) to \
                 {action} {resource} with a password or a sign-in's token, then send a \
                 one-time password with it; or use an API token"
            )
        }
    }
}

/// Which repositories anyone may read without a credential, and where a
/// person's changes need a second factor.
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    pub anonymous_read: Vec<Grant>,
    /// Resources and the actions on them that a person may take only with
    /// a one-time password (`auth.require_two_factor`).
    pub two_factor: Vec<Grant>,
}

/// The actions a two-factor pattern covers when it names none: every change
/// a person makes to what clients download.
pub const TWO_FACTOR_ACTIONS: [Action; 3] = [Action::Publish, Action::Yank, Action::Delete];

impl AccessPolicy {
    /// Anonymous reads on every repository matching one of `patterns`.
    pub fn anonymous_read(patterns: &[String]) -> Result<AccessPolicy, GrantError> {
        let anonymous_read = patterns
            .iter()
            .map(|p| Grant::new(p, vec![Action::Read]))
            .collect::<Result<_, _>>()?;
        Ok(AccessPolicy {
            anonymous_read,
            two_factor: Vec::new(),
        })
    }

    /// This policy, with a person's changes on resources matching one of
    /// `patterns` (`PATTERN` for publish, yank and delete, or
    /// `PATTERN:ACTION[,ACTION...]`) needing a second factor.
    pub fn with_two_factor(mut self, patterns: &[String]) -> Result<AccessPolicy, GrantError> {
        self.two_factor = patterns
            .iter()
            .map(|p| {
                if p.contains(':') {
                    Grant::parse(p)
                } else {
                    Grant::new(p, TWO_FACTOR_ACTIONS.to_vec())
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Whether `action` on one of `resources` needs a person's second factor.
    pub fn needs_two_factor(&self, resources: &[&str], action: Action) -> bool {
        self.two_factor
            .iter()
            .any(|g| resources.iter().any(|r| g.allows(r, action)))
    }

    fn anonymous_may(&self, repository: &str, action: Action) -> bool {
        self.anonymous_read
            .iter()
            .any(|g| g.allows(repository, action))
    }
}

/// The one access decision every adapter makes before acting.
pub fn authorize(
    policy: &AccessPolicy,
    principal: &Principal,
    repository: &str,
    action: Action,
) -> Result<(), Denied> {
    authorize_any(policy, principal, &[repository], action)
}

/// [`authorize`] for a resource with more than one name, e.g. a package
/// (`npm/main/left-pad`) that a grant on its repository (`npm/main`) also covers.
pub fn authorize_any(
    policy: &AccessPolicy,
    principal: &Principal,
    resources: &[&str],
    action: Action,
) -> Result<(), Denied> {
    if resources.iter().any(|r| policy.anonymous_may(r, action)) {
        return Ok(());
    }
    match principal {
        Principal::Anonymous => Err(Denied::NeedsCredential),
        Principal::Authenticated {
            rights,
            kind,
            two_factor,
            ..
        } => {
            if rights.allow_any(resources, action) {
                match two_factor {
                    TwoFactor::NotEnrolled | TwoFactor::Missing
                        if policy.needs_two_factor(resources, action) =>
                    {
                        Err(Denied::SecondFactor {
                            enrolled: *two_factor == TwoFactor::Missing,
                        })
                    }
                    _ => Ok(()),
                }
            } else if *kind == CredentialKind::Bearer {
                Err(Denied::InsufficientScope)
            } else {
                Err(Denied::Forbidden)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(grants: &[&str], kind: CredentialKind) -> Principal {
        Principal::Authenticated {
            subject: "u".into(),
            credential: None,
            kind,
            rights: Rights::of(grants.iter().map(|g| Grant::parse(g).unwrap()).collect()),
            two_factor: TwoFactor::Exempt,
        }
    }

    #[test]
    fn a_repository_grant_covers_its_packages_and_a_package_grant_only_its_own() {
        let policy = AccessPolicy::default();
        // A user allowed to publish the repository, through a token limited
        // to one package (named with characters globs treat specially).
        let package = Grant::exact("npm/main/@acme/w*dget", vec![Action::Publish]);
        let p = Principal::Authenticated {
            subject: "u".into(),
            credential: None,
            kind: CredentialKind::Long,
            rights: Rights::of(vec![Grant::parse("npm/main:publish").unwrap()])
                .limited_to(vec![package]),
            two_factor: TwoFactor::Exempt,
        };
        let may = |key: &str| {
            let on_package = format!("npm/main/{key}");
            authorize_any(&policy, &p, &["npm/main", &on_package], Action::Publish)
        };
        assert_eq!(may("@acme/w*dget"), Ok(()));
        assert_eq!(may("@acme/widget"), Err(Denied::Forbidden));
        assert_eq!(
            authorize(&policy, &p, "npm/main", Action::Publish),
            Err(Denied::Forbidden)
        );
    }

    #[test]
    fn a_persons_changes_under_the_two_factor_rule_need_a_one_time_password() {
        let policy = AccessPolicy::default()
            .with_two_factor(&["npm/**".into(), "prod/**:delete".into()])
            .unwrap();
        let person = |two_factor| Principal::Authenticated {
            subject: "alice".into(),
            credential: None,
            kind: CredentialKind::Long,
            rights: Rights::of(vec![Grant::parse("**:read,publish,yank,delete").unwrap()]),
            two_factor,
        };
        let may = |tf, resource, action| authorize(&policy, &person(tf), resource, action);
        use TwoFactor::*;
        assert_eq!(
            may(Missing, "npm/main", Action::Publish),
            Err(Denied::SecondFactor { enrolled: true })
        );
        assert_eq!(
            may(NotEnrolled, "npm/main", Action::Yank),
            Err(Denied::SecondFactor { enrolled: false })
        );
        assert_eq!(may(Verified, "npm/main", Action::Publish), Ok(()));
        assert_eq!(may(Exempt, "npm/main", Action::Publish), Ok(()));
        // Reads, and resources or actions the rule does not name, are free.
        assert_eq!(may(Missing, "npm/main", Action::Read), Ok(()));
        assert_eq!(may(Missing, "pypi/main", Action::Publish), Ok(()));
        assert_eq!(may(Missing, "prod/app", Action::Publish), Ok(()));
        assert_eq!(
            may(Missing, "prod/app", Action::Delete),
            Err(Denied::SecondFactor { enrolled: true })
        );
        // A right the caller lacks is refused as such, not as a missing factor.
        let reader = Principal::Authenticated {
            subject: "bob".into(),
            credential: None,
            kind: CredentialKind::Long,
            rights: Rights::of(vec![Grant::parse("**:read").unwrap()]),
            two_factor: Missing,
        };
        assert_eq!(
            authorize(&policy, &reader, "npm/main", Action::Publish),
            Err(Denied::Forbidden)
        );
        for tf in [Exempt, NotEnrolled, Missing, Verified] {
            assert_eq!(TwoFactor::parse(tf.as_str()), tf);
        }
    }

    #[test]
    fn decisions() {
        let open = AccessPolicy::anonymous_read(&["public/**".into()]).unwrap();
        let anon = Principal::Anonymous;
        assert_eq!(authorize(&open, &anon, "public/a", Action::Read), Ok(()));
        assert_eq!(
            authorize(&open, &anon, "private/a", Action::Read),
            Err(Denied::NeedsCredential)
        );
        assert_eq!(
            authorize(&open, &anon, "public/a", Action::Publish),
            Err(Denied::NeedsCredential)
        );

        let dev = user(&["team/**:read,publish"], CredentialKind::Long);
        assert_eq!(authorize(&open, &dev, "team/x/y", Action::Publish), Ok(()));
        assert_eq!(
            authorize(&open, &dev, "team/x", Action::Delete),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            authorize(&open, &dev, "other", Action::Read),
            Err(Denied::Forbidden)
        );
        let bearer = user(&["team/app:read"], CredentialKind::Bearer);
        assert_eq!(
            authorize(&open, &bearer, "team/app", Action::Publish),
            Err(Denied::InsufficientScope)
        );
        let admin = user(&["**:read,publish,yank,delete,admin"], CredentialKind::Long);
        assert_eq!(
            authorize(&open, &admin, "any/thing", Action::Delete),
            Ok(())
        );
    }

    #[test]
    fn a_token_never_exceeds_its_user() {
        let user_grants = vec![Grant::parse("team/**:read,publish").unwrap()];
        let token_scopes = vec![Grant::parse("**:read,publish,delete").unwrap()];
        let rights = Rights::of(user_grants).limited_to(token_scopes);
        assert!(rights.allow("team/a", Action::Publish));
        assert!(!rights.allow("team/a", Action::Delete));
        assert!(!rights.allow("other", Action::Read));
    }

    #[test]
    fn grant_syntax() {
        assert_eq!(
            Grant::parse("a/**:read,publish").unwrap().to_string(),
            "a/**:read,publish"
        );
        assert!(matches!(Grant::parse("a/**"), Err(GrantError::Syntax(_))));
        assert!(matches!(
            Grant::parse("a:write"),
            Err(GrantError::Action(_))
        ));
        let g = Grant::parse("lib/*:read").unwrap();
        assert!(g.allows("lib/x", Action::Read));
        assert!(!g.allows("lib/x/y", Action::Read));
    }
}
