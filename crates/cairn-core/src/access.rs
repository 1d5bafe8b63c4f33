//! Who may do what. Authentication (turning a header into a [`Principal`])
//! happens in the server; the decision is this one pure function, which every
//! adapter calls before acting.

/// What a request wants to do to a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "pull" => Some(Action::Pull),
            "push" => Some(Action::Push),
            "delete" => Some(Action::Delete),
            _ => None,
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    /// A user authenticated with its own credential: every right the user has.
    User {
        name: String,
    },
    /// A short-lived token: only the grants it was issued with.
    Token {
        subject: String,
        grants: Vec<(String, Vec<Action>)>,
    },
}

impl Principal {
    pub fn name(&self) -> &str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::User { name } => name,
            Principal::Token { subject, .. } => subject,
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
}

/// Why a request was refused; adapters render it in their protocol's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No credential was sent: ask for one (401 with a challenge).
    NeedsCredential,
    /// A token was sent that lacks this scope: ask for a wider token (401).
    InsufficientScope,
    /// A credential was sent but does not carry this right (403).
    Forbidden,
}

/// Access settings that apply to every repository until per-repository
/// permissions exist.
#[derive(Debug, Clone, Copy)]
pub struct AccessPolicy {
    pub anonymous_read: bool,
}

/// The one access decision every adapter makes before acting.
pub fn authorize(
    policy: AccessPolicy,
    principal: &Principal,
    repository: &str,
    action: Action,
) -> Result<(), Denied> {
    match principal {
        Principal::Anonymous if action == Action::Pull && policy.anonymous_read => Ok(()),
        Principal::Anonymous => Err(Denied::NeedsCredential),
        // Until users carry scoped permissions (a later issue), a user is an administrator.
        Principal::User { .. } => Ok(()),
        Principal::Token { grants, .. } => {
            let granted = grants
                .iter()
                .any(|(repo, actions)| repo == repository && actions.contains(&action));
            if granted || (action == Action::Pull && policy.anonymous_read) {
                Ok(())
            } else {
                Err(Denied::InsufficientScope)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let open = AccessPolicy {
            anonymous_read: true,
        };
        let closed = AccessPolicy {
            anonymous_read: false,
        };
        let anon = Principal::Anonymous;
        assert_eq!(authorize(open, &anon, "a", Action::Pull), Ok(()));
        assert_eq!(
            authorize(closed, &anon, "a", Action::Pull),
            Err(Denied::NeedsCredential)
        );
        assert_eq!(
            authorize(open, &anon, "a", Action::Push),
            Err(Denied::NeedsCredential)
        );
        let tok = Principal::Token {
            subject: "admin".into(),
            grants: vec![("a".into(), vec![Action::Pull, Action::Push])],
        };
        assert_eq!(authorize(closed, &tok, "a", Action::Push), Ok(()));
        assert_eq!(
            authorize(closed, &tok, "a", Action::Delete),
            Err(Denied::InsufficientScope)
        );
        assert_eq!(
            authorize(closed, &tok, "b", Action::Pull),
            Err(Denied::InsufficientScope)
        );
        let user = Principal::User {
            name: "admin".into(),
        };
        assert_eq!(authorize(closed, &user, "b", Action::Delete), Ok(()));
    }
}
