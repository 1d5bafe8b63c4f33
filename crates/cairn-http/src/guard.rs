//! The one guard in front of every adapter's handlers: parse the request
//! into an endpoint, decide the access it declares, audit a refusal by one
//! rule, label the request, and only then run the handler.

use crate::endpoint::{Access, Endpoint, EndpointLabel, Resource};
use crate::Request;
use async_trait::async_trait;
use axum::body::Body;
use axum::response::Response;
use cairn_core::access::{authorize_any, AccessPolicy, Denied};
use cairn_core::{Action, Principal};
use cairn_store::{Actor, AuditRecord, AuditStore};
use std::sync::Arc;

/// How a protocol words a refusal: the error an adapter's handlers return
/// when the guard refuses `action` on `resource` (a 401 with the protocol's
/// challenge, or a 403).
pub trait Refusal: Sized {
    fn refused(req: &Request, action: Action, resource: &Resource, denied: Denied) -> Self;
}

/// The shape every protocol adapter has. The server authenticates the
/// request and spends its rate budget, then hands it to [`serve`].
#[async_trait]
pub trait Adapter: Send + Sync + 'static {
    type Endpoint: Endpoint + Send + Sync;
    /// The protocol's error, rendered by [`Adapter::render`].
    type Error: Refusal + Send;

    /// `oci`, `npm`, ...: labels metrics and names audited actions (`npm.publish`).
    fn format(&self) -> &'static str;

    /// Parses a request (its path below the adapter's prefix) into an
    /// endpoint and the access it needs.
    fn parse(&self, req: &Request, path: &str) -> Result<(Self::Endpoint, Access), Self::Error>;

    /// Serves a request the guard has allowed.
    async fn dispatch(
        &self,
        req: &Request,
        endpoint: Self::Endpoint,
        body: Body,
    ) -> Result<Response, Self::Error>;

    /// Renders any error in the protocol's own shape.
    fn render(&self, err: Self::Error) -> Response;
}

/// The access decision every adapter and handler makes, with the one audit
/// rule: a refused change (any action but a read) by a caller with a
/// credential is appended to the audit log. Refused reads and callers
/// without a credential are not audited: anyone could fill the log.
#[derive(Clone)]
pub struct Guard {
    pub policy: AccessPolicy,
    audit: Arc<dyn AuditStore>,
}

impl Guard {
    pub fn new(policy: AccessPolicy, audit: Arc<dyn AuditStore>) -> Guard {
        Guard { policy, audit }
    }

    /// Decides `action` on `resource` for the request's caller; audits a
    /// refusal as `<format>.<action>`.
    pub async fn decide(
        &self,
        req: &Request,
        format: &str,
        action: Action,
        resource: &Resource,
    ) -> Result<(), Denied> {
        let caller = (&req.auth.principal, &req.actor(), req.uri.path());
        self.decide_for(caller, format, action, resource).await
    }

    /// [`Guard::decide`], refused in the protocol's words: the check a
    /// handler makes once it knows more than its endpoint declared (the
    /// package an upload's body names, a mount's source).
    pub async fn check<E: Refusal>(
        &self,
        req: &Request,
        format: &str,
        action: Action,
        resource: &Resource,
    ) -> Result<(), E> {
        self.decide(req, format, action, resource)
            .await
            .map_err(|denied| E::refused(req, action, resource, denied))
    }

    /// Whether `principal` may do `action` on `resource`, to show what a page
    /// offers: the same rule as [`Guard::decide_for`], not audited (a page
    /// asks on every view). A person who would be asked for a one-time
    /// password may: the change itself asks.
    pub fn may(&self, principal: &Principal, action: Action, resource: &Resource) -> bool {
        match authorize_any(&self.policy, principal, &resource.names(), action) {
            Ok(()) | Err(Denied::SecondFactor { .. }) => true,
            Err(_) => false,
        }
    }

    /// [`Guard::decide`] for a caller known otherwise than by a [`Request`]
    /// (the admin API): its principal, its audit identity, and the path it
    /// asked for.
    pub async fn decide_for(
        &self,
        (principal, actor, path): (&Principal, &Actor, &str),
        format: &str,
        action: Action,
        resource: &Resource,
    ) -> Result<(), Denied> {
        let decision = authorize_any(&self.policy, principal, &resource.names(), action);
        if let Err(denied) = decision {
            if action != Action::Read && *principal != Principal::Anonymous {
                let entry = AuditRecord::by(
                    actor,
                    &format!("{format}.{action}"),
                    Some(&resource.repository),
                    Some(resource.package.as_deref().unwrap_or(path)),
                    &format!("denied: {denied:?}"),
                );
                if let Err(e) = self.audit.append_audit(&entry).await {
                    tracing::error!(error = %e, "could not append to the audit log");
                }
            }
        }
        decision
    }

    /// Decides what an endpoint declared.
    pub async fn allows(
        &self,
        req: &Request,
        format: &str,
        access: &Access,
    ) -> Result<(), (Action, Resource, Denied)> {
        let (action, resource) = match access {
            Access::Anyone => return Ok(()),
            Access::Caller(_, _) if req.auth.principal != Principal::Anonymous => return Ok(()),
            Access::On(action, resource) | Access::Caller(action, resource) => (*action, resource),
        };
        self.decide(req, format, action, resource)
            .await
            .map_err(|denied| (action, resource.clone(), denied))
    }
}

/// Serves one request through `adapter`: parse, decide, label, dispatch.
pub async fn serve<A: Adapter>(
    adapter: &A,
    guard: &Guard,
    req: Request,
    path: &str,
    body: Body,
) -> Response {
    let format = adapter.format();
    let (endpoint, access) = match adapter.parse(&req, path) {
        Ok(parsed) => parsed,
        Err(e) => return labelled(adapter.render(e), format, "invalid"),
    };
    let name = endpoint.name();
    tracing::Span::current().record("endpoint", name);
    let result = match guard.allows(&req, format, &access).await {
        Ok(()) => adapter.dispatch(&req, endpoint, body).await,
        Err((action, resource, denied)) => Err(A::Error::refused(&req, action, &resource, denied)),
    };
    let resp = result.unwrap_or_else(|e| adapter.render(e));
    labelled(resp, format, name)
}

fn labelled(mut resp: Response, format: &'static str, endpoint: &'static str) -> Response {
    resp.extensions_mut()
        .insert(EndpointLabel { format, endpoint });
    resp
}
