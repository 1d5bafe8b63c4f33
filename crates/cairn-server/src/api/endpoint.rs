//! The admin API's paths below `/api/v1`, parsed into [`AdminEndpoint`],
//! each declaring the access it needs, like every adapter's endpoints.

use crate::identity::REGISTRY;
use axum::http::Method;
use cairn_core::{Action, Format};
use cairn_http::{Access, Resource};

/// One admin API operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminEndpoint {
    /// `GET /search?q=&limit=`: names, digests, purls and annotations across
    /// every format; only what the caller may read.
    Search,
    /// `POST /session`: a person signs in (password, and a one-time
    /// password when enrolled): a browser session cookie, or a token for
    /// `cairn login`.
    SignIn,
    /// `GET /session`: who the session is (and its CSRF token).
    SessionInfo,
    /// `DELETE /session`: signs out (the session's token is revoked).
    SignOut,
    /// `GET /session/methods`: how a person may sign in here (password,
    /// single sign-on).
    SignInMethods,
    /// `GET /session/oidc?return_to=`: off to the OpenID Connect provider.
    SsoStart,
    /// `GET /session/oidc/callback?code=&state=`: back from the provider;
    /// the browser session starts.
    SsoCallback,
    /// `POST /session/web`: a command-line client starts a web sign-in.
    StartWebLogin,
    /// `GET /session/web/{id}`: a started web sign-in, for its approval page.
    WebLogin { id: String },
    /// `POST /session/web/{id}/approve`: a person approves it (a browser session).
    ApproveWebLogin { id: String },
    /// `GET /session/web/{id}/token?secret=`: the client's poll for its token.
    TakeWebLogin { id: String },
    /// `GET /tokens`
    ListTokens,
    /// `POST /tokens`
    CreateToken,
    /// `DELETE /tokens/{id}`
    RevokeToken { id: String },
    /// `POST /users`
    CreateUser,
    /// `PUT /users/{name}/grants`
    SetGrants { user: String },
    /// `GET /users/{name}/totp`: enabled, pending, recovery codes left.
    TotpStatus { user: String },
    /// `POST /users/{name}/totp`: starts an enrolment (the secret, once).
    StartTotp { user: String },
    /// `POST /users/{name}/totp/confirm`: a first code turns it on.
    ConfirmTotp { user: String },
    /// `DELETE /users/{name}/totp`: turns it off (a current code, or an administrator).
    DisableTotp { user: String },
    /// `POST /users/{name}/totp/recovery-codes`: new recovery codes.
    NewRecoveryCodes { user: String },
    /// `GET /audit`
    Audit,
    /// `GET /publishers`
    ListPublishers,
    /// `POST /publishers`
    AddPublisher,
    /// `POST /oidc/exchange`: the OIDC token in the body is the credential.
    OidcExchange,
    /// `GET /repositories`: the repositories the caller may read, hosted,
    /// proxy and virtual, with what each is.
    Repositories,
    /// `GET /repository?format=&name=&prefix=`: what a hosted repository
    /// holds: an image repository's tags, a package repository's packages.
    Repository,
    /// `GET /image?repository=&reference=`: what an image is (platforms,
    /// config and layers, tags, referrers). Access is decided on the
    /// repository the query names.
    Image,
    /// `DELETE /image/tags?repository=&tag=`: removes a tag (the manifest
    /// stays), under the tag rules. Access is decided on the repository.
    DeleteTag,
    /// `GET /packages/{format}/{repository}/{package}`: a package's versions
    /// with their states, files and publishers, and what the caller may do.
    Package {
        format: Format,
        repository: String,
        package: String,
    },
    /// `POST /packages/{format}/{repository}/{package}/versions/{version}`
    ChangeVersion {
        format: Format,
        repository: String,
        package: String,
        version: String,
    },
    /// `GET /maven/{repository}/staging`
    ListStaging { repository: String },
    /// `POST /maven/{repository}/staging/{id}/{close|release|drop}`
    ChangeStaging {
        repository: String,
        id: String,
        action: String,
    },
    /// `GET /proxies/{format}/{repository}/cache`: what a proxy has cached
    /// (`format` `None`: `oci`).
    ProxyCache {
        format: Option<Format>,
        repository: String,
    },
    /// `GET /gc`: blob rows by garbage-collection state.
    GcStatus,
    /// `POST /gc?grace_secs=`: one collector run now; answers its report.
    RunGc,
    /// `GET /storage?prefix=&by=repository|namespace`: logical, unique and exclusive bytes.
    Storage,
    /// `GET /quotas`: every quota with its scope's use.
    ListQuotas,
    /// `GET /jobs`: the most recent maintenance jobs.
    ListJobs,
    /// `POST /jobs` with `{"kind": "gc" | "retention" | "fsck" | "backup", ...}`.
    StartJob,
    /// `GET /jobs/{id}`: a job's state, progress and result.
    Job { id: String },
    /// `DELETE /jobs/{id}`: asks a running job to stop.
    CancelJob { id: String },
    /// `PUT /quotas?scope=` with `{"max_unique_bytes": ...}`: sets one.
    SetQuota,
    /// `DELETE /quotas?scope=`: removes one.
    RemoveQuota,
    /// `GET /retention`: what the retention policies would delete, and why.
    RetentionPreview,
    /// `POST /retention`: carries the policies out now.
    RetentionApply,
    /// `POST /warm`: a cache-warming job from a lockfile in the body.
    StartWarm,
    /// `GET /warm/{id}`: a warm job's progress.
    WarmJob { id: String },
    /// `GET /virtuals/{format}/{repository}/resolve?package=&version=`:
    /// where a name (and version) would come from, and why.
    ResolveVirtual { format: Format, repository: String },
    /// `GET /virtuals/{format}/{repository}/cooldown-exempt`: owners'
    /// exemptions from the cooldown.
    ListExemptions { format: Format, repository: String },
    /// `PUT|DELETE /virtuals/{format}/{repository}/cooldown-exempt/{package}?version=`.
    ChangeExemption {
        format: Format,
        repository: String,
        package: String,
        allow: bool,
    },
    /// `GET /virtuals/{format}/{repository}/external`: owners' exceptions
    /// to name ownership.
    ListExternal { format: Format, repository: String },
    /// `PUT|DELETE /virtuals/{format}/{repository}/external/{package}`:
    /// allow (or stop allowing) external versions of an owned name.
    ChangeExternal {
        format: Format,
        repository: String,
        package: String,
        allow: bool,
    },
    /// `GET /components?purl=&range=` (or `?type=&prefix=`): the artifacts
    /// whose SBOMs name a matching component; each answer is filtered by the
    /// caller's read access to its repository.
    Components,
    /// `GET /sboms?format=&repository=&subject=&version=`: a subject's
    /// SBOMs. Access is decided on the subject named by the query.
    ListSboms,
    /// `GET /sboms/document?format=&repository=&subject=|package=&version=&digest=`:
    /// one of a subject's SBOM documents, as attached (`read` on the subject).
    SbomDocument,
    /// `PUT /sboms?format=&repository=&package=&version=`: attaches the SBOM
    /// in the body to a package version (`publish` on the package, decided
    /// on the query's package).
    AttachSbom,
    /// `DELETE /sboms?format=&repository=&package=&version=&digest=`:
    /// removes a package version's SBOM (`delete` on the package).
    RemoveSbom,
    /// `GET /attestations?format=&repository=&package=&version=`: cairn's
    /// publish attestations of a package version's files (`read` on the
    /// package, decided on the query's package).
    ListAttestations,
    /// `GET /attestations/keys`: the public keys they are signed with.
    AttestationKeys,
    /// `GET /advisories/{id}`: an imported advisory and what it affects
    /// (each finding filtered by the caller's read access).
    Advisory { id: String },
    /// `GET /findings?format=&repository=[&subject= | &package=&version=]`:
    /// what affects an artifact, or every artifact of a repository.
    Findings,
    /// `POST /secret-scanning/report`: a signed list of leaked tokens (the
    /// GitHub secret-scanning partner format); the signature is the
    /// credential.
    SecretReport,
    /// `GET /policy/explain?repository=&reference=`: the signature
    /// policy's decision on reading a manifest, as the caller (`read` on
    /// the repository, decided by the handler).
    ExplainPolicy,
    /// `GET /quarantine`: bytes held back by secret scanning.
    ListQuarantine,
    /// `POST /quarantine/{digest}/release`: serves them again.
    ReleaseQuarantine { digest: String },
    /// `GET /vuln-exceptions`: accepted advisories.
    ListVulnExceptions,
    /// `PUT /vuln-exceptions?advisory=&repositories=` with `{"reason", "expires"}`.
    SetVulnException,
    /// `DELETE /vuln-exceptions?advisory=&repositories=`.
    RemoveVulnException,
    /// `DELETE /proxies/{format}/{repository}/cache/{key}`: forget one entry.
    DropProxyEntry {
        format: Option<Format>,
        repository: String,
        key: String,
    },
}

/// Why a path is no admin endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    NotFound(String),
    MethodNotAllowed,
}

fn decode(seg: &str) -> String {
    percent_encoding::percent_decode_str(seg)
        .decode_utf8_lossy()
        .into_owned()
}

impl AdminEndpoint {
    /// Parses `path` below `/api/v1` (starting with `/`).
    pub fn parse(method: &Method, path: &str) -> Result<AdminEndpoint, ParseError> {
        let segs: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(decode)
            .collect();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        use AdminEndpoint as E;
        use Method as M;
        let (endpoint, allowed): (E, &[Method]) = match (method, &s[..]) {
            (_, ["search"]) => (E::Search, &[M::GET]),
            (&M::GET, ["session"]) => (E::SessionInfo, &[M::GET]),
            (&M::DELETE, ["session"]) => (E::SignOut, &[M::DELETE]),
            (_, ["session", "methods"]) => (E::SignInMethods, &[M::GET]),
            (_, ["session", "oidc"]) => (E::SsoStart, &[M::GET]),
            (_, ["session", "oidc", "callback"]) => (E::SsoCallback, &[M::GET]),
            (_, ["session", "web"]) => (E::StartWebLogin, &[M::POST]),
            (_, ["session", "web", id]) => (E::WebLogin { id: id.to_string() }, &[M::GET]),
            (_, ["session", "web", id, "approve"]) => {
                (E::ApproveWebLogin { id: id.to_string() }, &[M::POST])
            }
            (_, ["session", "web", id, "token"]) => {
                (E::TakeWebLogin { id: id.to_string() }, &[M::GET])
            }
            (_, ["session"]) => (E::SignIn, &[M::POST]),
            (&M::GET, ["tokens"]) => (E::ListTokens, &[M::GET]),
            (_, ["tokens"]) => (E::CreateToken, &[M::POST]),
            (_, ["tokens", id]) => (E::RevokeToken { id: id.to_string() }, &[M::DELETE]),
            (_, ["users"]) => (E::CreateUser, &[M::POST]),
            (_, ["users", user, "grants"]) => (
                E::SetGrants {
                    user: user.to_string(),
                },
                &[M::PUT],
            ),
            (&M::GET, ["users", user, "totp"]) => (
                E::TotpStatus {
                    user: user.to_string(),
                },
                &[M::GET],
            ),
            (&M::DELETE, ["users", user, "totp"]) => (
                E::DisableTotp {
                    user: user.to_string(),
                },
                &[M::DELETE],
            ),
            (_, ["users", user, "totp"]) => (
                E::StartTotp {
                    user: user.to_string(),
                },
                &[M::POST],
            ),
            (_, ["users", user, "totp", "confirm"]) => (
                E::ConfirmTotp {
                    user: user.to_string(),
                },
                &[M::POST],
            ),
            (_, ["users", user, "totp", "recovery-codes"]) => (
                E::NewRecoveryCodes {
                    user: user.to_string(),
                },
                &[M::POST],
            ),
            (_, ["audit"]) => (E::Audit, &[M::GET]),
            (&M::GET, ["publishers"]) => (E::ListPublishers, &[M::GET]),
            (_, ["publishers"]) => (E::AddPublisher, &[M::POST]),
            (_, ["oidc", "exchange"]) => (E::OidcExchange, &[M::POST]),
            (_, ["secret-scanning", "report"]) => (E::SecretReport, &[M::POST]),
            (_, ["quarantine"]) => (E::ListQuarantine, &[M::GET]),
            (_, ["quarantine", digest, "release"]) => (
                E::ReleaseQuarantine {
                    digest: digest.to_string(),
                },
                &[M::POST],
            ),
            (_, ["image"]) => (E::Image, &[M::GET]),
            (_, ["repositories"]) => (E::Repositories, &[M::GET]),
            (_, ["repository"]) => (E::Repository, &[M::GET]),
            (_, ["image", "tags"]) => (E::DeleteTag, &[M::DELETE]),
            (_, ["packages", format, repository, package]) => {
                let format = Format::parse(format)
                    .ok_or_else(|| ParseError::NotFound(format!("no format {format:?}")))?;
                let endpoint = E::Package {
                    format,
                    repository: repository.to_string(),
                    package: package.to_string(),
                };
                (endpoint, &[M::GET])
            }
            (_, ["packages", format, repository, package, "versions", version]) => {
                let format = Format::parse(format)
                    .ok_or_else(|| ParseError::NotFound(format!("no format {format:?}")))?;
                let endpoint = E::ChangeVersion {
                    format,
                    repository: repository.to_string(),
                    package: package.to_string(),
                    version: version.to_string(),
                };
                (endpoint, &[M::POST])
            }
            (_, ["maven", repository, "staging"]) => {
                let repository = repository.to_string();
                (E::ListStaging { repository }, &[M::GET])
            }
            (_, ["maven", repository, "staging", id, action]) => {
                let endpoint = E::ChangeStaging {
                    repository: repository.to_string(),
                    id: id.to_string(),
                    action: action.to_string(),
                };
                (endpoint, &[M::POST])
            }
            (_, ["proxies", format, repository, "cache", rest @ ..]) => {
                let format = match *format {
                    "oci" => None,
                    f => Some(
                        Format::parse(f)
                            .ok_or_else(|| ParseError::NotFound(format!("no format {f:?}")))?,
                    ),
                };
                let repository = repository.to_string();
                match rest {
                    [] => (E::ProxyCache { format, repository }, &[M::GET]),
                    key => {
                        let key = key.join("/");
                        let endpoint = E::DropProxyEntry {
                            format,
                            repository,
                            key,
                        };
                        (endpoint, &[M::DELETE])
                    }
                }
            }
            (&M::POST, ["gc"]) => (E::RunGc, &[M::POST]),
            (_, ["gc"]) => (E::GcStatus, &[M::GET]),
            (_, ["storage"]) => (E::Storage, &[M::GET]),
            (&M::PUT, ["quotas"]) => (E::SetQuota, &[M::PUT]),
            (&M::DELETE, ["quotas"]) => (E::RemoveQuota, &[M::DELETE]),
            (_, ["quotas"]) => (E::ListQuotas, &[M::GET]),
            (&M::POST, ["jobs"]) => (E::StartJob, &[M::POST]),
            (_, ["jobs"]) => (E::ListJobs, &[M::GET]),
            (&M::DELETE, ["jobs", id]) => (E::CancelJob { id: id.to_string() }, &[M::DELETE]),
            (_, ["jobs", id]) => (E::Job { id: id.to_string() }, &[M::GET]),
            (&M::POST, ["retention"]) => (E::RetentionApply, &[M::POST]),
            (_, ["retention"]) => (E::RetentionPreview, &[M::GET]),
            (_, ["components"]) => (E::Components, &[M::GET]),
            (_, ["attestations"]) => (E::ListAttestations, &[M::GET]),
            (_, ["attestations", "keys"]) => (E::AttestationKeys, &[M::GET]),
            (_, ["advisories", id]) => (E::Advisory { id: id.to_string() }, &[M::GET]),
            (_, ["findings"]) => (E::Findings, &[M::GET]),
            (_, ["policy", "explain"]) => (E::ExplainPolicy, &[M::GET]),
            (&M::PUT, ["vuln-exceptions"]) => (E::SetVulnException, &[M::PUT]),
            (&M::DELETE, ["vuln-exceptions"]) => (E::RemoveVulnException, &[M::DELETE]),
            (_, ["vuln-exceptions"]) => (E::ListVulnExceptions, &[M::GET]),
            (&M::PUT, ["sboms"]) => (E::AttachSbom, &[M::PUT]),
            (&M::DELETE, ["sboms"]) => (E::RemoveSbom, &[M::DELETE]),
            (_, ["sboms"]) => (E::ListSboms, &[M::GET]),
            (_, ["sboms", "document"]) => (E::SbomDocument, &[M::GET]),
            (_, ["warm"]) => (E::StartWarm, &[M::POST]),
            (_, ["warm", id]) => (E::WarmJob { id: id.to_string() }, &[M::GET]),
            (_, ["virtuals", format, repository, "resolve"]) => {
                let format = Format::parse(format)
                    .ok_or_else(|| ParseError::NotFound(format!("no package format {format:?}")))?;
                let repository = repository.to_string();
                (E::ResolveVirtual { format, repository }, &[M::GET])
            }
            (_, ["virtuals", format, repository, "cooldown-exempt", rest @ ..]) => {
                let format = Format::parse(format)
                    .ok_or_else(|| ParseError::NotFound(format!("no format {format:?}")))?;
                let repository = repository.to_string();
                match rest {
                    [] => (E::ListExemptions { format, repository }, &[M::GET]),
                    package => {
                        let endpoint = E::ChangeExemption {
                            format,
                            repository,
                            package: package.join("/"),
                            allow: *method != M::DELETE,
                        };
                        (endpoint, &[M::PUT, M::DELETE])
                    }
                }
            }
            (_, ["virtuals", format, repository, "external", rest @ ..]) => {
                let format = Format::parse(format)
                    .ok_or_else(|| ParseError::NotFound(format!("no format {format:?}")))?;
                let repository = repository.to_string();
                match rest {
                    [] => (E::ListExternal { format, repository }, &[M::GET]),
                    package => {
                        let endpoint = E::ChangeExternal {
                            format,
                            repository,
                            package: package.join("/"),
                            allow: *method != M::DELETE,
                        };
                        (endpoint, &[M::PUT, M::DELETE])
                    }
                }
            }
            _ => return Err(ParseError::NotFound(format!("no admin endpoint {path}"))),
        };
        if allowed.contains(method) {
            Ok(endpoint)
        } else {
            Err(ParseError::MethodNotAllowed)
        }
    }

    /// Whether the endpoint needs a caller with a credential before anything
    /// else (all but the OIDC exchange and the leak report, whose bodies
    /// are the credential, a search (each hit is decided as a read), and
    /// the publish attestations, which anyone who
    /// may read the package may read — an anonymous reader too — with the
    /// public keys that verify them).
    pub fn needs_credential(&self) -> bool {
        !self.signs_in()
            && !matches!(
                self,
                AdminEndpoint::OidcExchange
                    | AdminEndpoint::Search
                    | AdminEndpoint::SecretReport
                    | AdminEndpoint::ListAttestations
                    | AdminEndpoint::AttestationKeys
            )
    }

    /// Whether the endpoint is a step of a sign-in: the credential is what
    /// it makes, so a session cookie the browser still holds is ignored.
    pub fn signs_in(&self) -> bool {
        matches!(
            self,
            AdminEndpoint::SignIn
                | AdminEndpoint::SignInMethods
                | AdminEndpoint::SsoStart
                | AdminEndpoint::SsoCallback
                | AdminEndpoint::StartWebLogin
                | AdminEndpoint::TakeWebLogin { .. }
        )
    }

    /// What the endpoint needs beyond a credential. Token operations are the
    /// identity service's to decide (the caller's own tokens, anyone's for
    /// an administrator); a version change needs `yank`, or `admin` when
    /// forced, which the body says, so its handler decides through the guard.
    pub fn access(&self) -> Access {
        use AdminEndpoint as E;
        let registry_admin = || Access::On(Action::Admin, Resource::repository(REGISTRY));
        match self {
            // A warm job fetches as its caller: every fetch is decided then.
            // A job's report is its creator's (or an administrator's).
            E::StartWarm | E::WarmJob { .. } => Access::Anyone,
            // The resource is in the query: the handler decides it (and
            // filters component answers) through the guard.
            E::Components | E::ListSboms | E::SbomDocument | E::AttachSbom | E::RemoveSbom => {
                Access::Anyone
            }
            // Each repository is decided as a read, like search's hits.
            E::Image | E::DeleteTag | E::Repositories | E::Repository => Access::Anyone,
            // Public keys are public.
            E::ListAttestations | E::AttestationKeys => Access::Anyone,
            E::Advisory { .. } | E::Findings | E::ExplainPolicy => Access::Anyone,
            // A person's second factor: the identity service decides (the
            // user themself; an administrator may see it or turn it off).
            E::TotpStatus { .. }
            | E::StartTotp { .. }
            | E::ConfirmTotp { .. }
            | E::DisableTotp { .. }
            | E::NewRecoveryCodes { .. } => Access::Anyone,
            // The body is the credential (a sign-in), or the caller's own session.
            E::SignIn | E::SessionInfo | E::SignOut => Access::Anyone,
            E::SignInMethods | E::SsoStart | E::SsoCallback => Access::Anyone,
            // A web sign-in: its poll secret is the credential; its approval
            // is the signed-in person's own.
            E::StartWebLogin
            | E::WebLogin { .. }
            | E::ApproveWebLogin { .. }
            | E::TakeWebLogin { .. } => Access::Anyone,
            // Each hit is decided through the guard as a read.
            E::Search => Access::Anyone,
            E::ListTokens
            | E::CreateToken
            | E::RevokeToken { .. }
            | E::OidcExchange
            | E::SecretReport
            | E::ChangeVersion { .. } => Access::Anyone,
            E::CreateUser
            | E::SetGrants { .. }
            | E::Audit
            | E::GcStatus
            | E::Storage
            | E::ListQuotas
            | E::ListJobs
            | E::StartJob
            | E::Job { .. }
            | E::CancelJob { .. }
            | E::SetQuota
            | E::RemoveQuota
            | E::ListQuarantine
            | E::ReleaseQuarantine { .. }
            | E::ListVulnExceptions
            | E::SetVulnException
            | E::RemoveVulnException
            | E::RunGc
            | E::RetentionPreview
            | E::RetentionApply
            | E::ListPublishers
            | E::AddPublisher => registry_admin(),
            E::ListStaging { repository } => {
                Access::On(Action::Read, Resource::packages(Format::Maven, repository))
            }
            E::Package {
                format, repository, ..
            } => Access::On(Action::Read, Resource::packages(*format, repository)),
            E::ChangeStaging { repository, .. } => Access::On(
                Action::Publish,
                Resource::packages(Format::Maven, repository),
            ),
            E::ProxyCache { format, repository } => {
                Access::On(Action::Read, proxy_resource(*format, repository))
            }
            E::DropProxyEntry {
                format, repository, ..
            } => Access::On(Action::Admin, proxy_resource(*format, repository)),
            E::ListExternal { format, repository }
            | E::ListExemptions { format, repository }
            | E::ResolveVirtual { format, repository } => {
                Access::On(Action::Read, Resource::packages(*format, repository))
            }
            E::ChangeExternal {
                format, repository, ..
            }
            | E::ChangeExemption {
                format, repository, ..
            } => Access::On(Action::Admin, Resource::packages(*format, repository)),
        }
    }
}

/// The resource a proxy repository's cache is: the package repository, or
/// for OCI the repository named like the proxy.
fn proxy_resource(format: Option<Format>, repository: &str) -> Resource {
    match format {
        Some(f) => Resource::packages(f, repository),
        None => Resource::repository(repository),
    }
}

impl cairn_http::Endpoint for AdminEndpoint {
    fn name(&self) -> &'static str {
        use AdminEndpoint as E;
        match self {
            E::Search => "search",
            E::SignIn => "session_sign_in",
            E::SessionInfo => "session_info",
            E::SignOut => "session_sign_out",
            E::SignInMethods => "session_methods",
            E::SsoStart => "session_sso_start",
            E::SsoCallback => "session_sso_callback",
            E::StartWebLogin => "session_web_start",
            E::WebLogin { .. } => "session_web",
            E::ApproveWebLogin { .. } => "session_web_approve",
            E::TakeWebLogin { .. } => "session_web_token",
            E::ListTokens => "token_list",
            E::CreateToken => "token_create",
            E::RevokeToken { .. } => "token_revoke",
            E::CreateUser => "user_create",
            E::SetGrants { .. } => "user_grants",
            E::TotpStatus { .. } => "totp_status",
            E::StartTotp { .. } => "totp_start",
            E::ConfirmTotp { .. } => "totp_confirm",
            E::DisableTotp { .. } => "totp_disable",
            E::NewRecoveryCodes { .. } => "totp_recovery_codes",
            E::Audit => "audit",
            E::ListPublishers => "publisher_list",
            E::AddPublisher => "publisher_add",
            E::OidcExchange => "oidc_exchange",
            E::SecretReport => "secret_report",
            E::ListQuarantine => "quarantine_list",
            E::ReleaseQuarantine { .. } => "quarantine_release",
            E::Package { .. } => "package",
            E::Image => "image",
            E::Repositories => "repositories",
            E::Repository => "repository",
            E::DeleteTag => "image_tag_delete",
            E::ChangeVersion { .. } => "version_change",
            E::ListStaging { .. } => "staging_list",
            E::ChangeStaging { .. } => "staging_change",
            E::ProxyCache { .. } => "proxy_cache",
            E::DropProxyEntry { .. } => "proxy_cache_drop",
            E::ListExternal { .. } => "virtual_external_list",
            E::ResolveVirtual { .. } => "virtual_resolve",
            E::ListExemptions { .. } => "virtual_exemption_list",
            E::ChangeExemption { .. } => "virtual_exemption_change",
            E::GcStatus => "gc_status",
            E::RunGc => "gc_run",
            E::Storage => "storage",
            E::ListQuotas => "quota_list",
            E::ListJobs => "job_list",
            E::StartJob => "job_start",
            E::Job { .. } => "job",
            E::CancelJob { .. } => "job_cancel",
            E::SetQuota => "quota_set",
            E::RemoveQuota => "quota_remove",
            E::RetentionPreview => "retention_preview",
            E::RetentionApply => "retention_apply",
            E::StartWarm => "warm_start",
            E::WarmJob { .. } => "warm_job",
            E::ChangeExternal { .. } => "virtual_external_change",
            E::Components => "components",
            E::ListAttestations => "attestation_list",
            E::AttestationKeys => "attestation_keys",
            E::ListSboms => "sbom_list",
            E::SbomDocument => "sbom_document",
            E::AttachSbom => "sbom_attach",
            E::RemoveSbom => "sbom_remove",
            E::Advisory { .. } => "advisory",
            E::Findings => "findings",
            E::ExplainPolicy => "policy_explain",
            E::ListVulnExceptions => "vuln_exception_list",
            E::SetVulnException => "vuln_exception_set",
            E::RemoveVulnException => "vuln_exception_remove",
        }
    }
}
