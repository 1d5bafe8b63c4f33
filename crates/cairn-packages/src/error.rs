//! Errors every language adapter can meet. The adapter decides the status
//! and shape its clients understand (npm's `{"error"}`, Cargo's
//! `{"errors":[{"detail"}]}`, PyPI's reason phrase); this type only says
//! what went wrong.

use cairn_core::access::Denied;
use cairn_core::lifecycle::LifecycleError;
use cairn_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The access check refused the request.
    #[error("{message}")]
    Denied { denied: Denied, message: String },
    /// The credential sent was not accepted (bad, expired, revoked).
    #[error("{0}")]
    Unauthenticated(String),
    /// A lifecycle rule refused the change.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// The request is malformed or the package is invalid.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// The thing existed and was removed (an unpublished version).
    #[error("{0}")]
    Gone(String),
    /// The request contradicts what is stored (and the stored state wins).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the configured limit.
    #[error("the upload is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A virtual repository's rule (name ownership, cooldown) refuses it;
    /// the message names the rule.
    #[error("{0}")]
    Refused(String),
    /// A proxy repository's upstream failed, or sent what cannot be served,
    /// and nothing usable is cached.
    #[error("{0}")]
    Upstream(String),
    /// Try again shortly (a blob being garbage-collected was named by this
    /// write).
    #[error("{0}")]
    Unavailable(String),
    /// A failure on the server's side; its cause is kept for the log line
    /// ([`PackageError::log`]) rather than flattened into the message.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type PackageResult<T = axum::response::Response> = Result<T, PackageError>;

impl From<StoreError> for PackageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Lifecycle(l) => PackageError::Lifecycle(l),
            StoreError::Conflict(m) => PackageError::Conflict(m),
            e @ StoreError::BlobUnknown(_) => PackageError::Unavailable(e.to_string()),
            StoreError::Quota(q) => PackageError::Refused(q.to_string()),
            other => PackageError::Internal(Box::new(other)),
        }
    }
}

impl From<cairn_proxy::ProxyError> for PackageError {
    fn from(e: cairn_proxy::ProxyError) -> Self {
        use cairn_proxy::ProxyError as P;
        match e {
            P::NotFound(m) => PackageError::NotFound(m),
            e @ (P::Unavailable { .. } | P::Integrity(_) | P::TooLarge { .. }) => {
                tracing::warn!(error = %e, "proxy refused");
                PackageError::Upstream(e.to_string())
            }
            e => PackageError::Internal(Box::new(e)),
        }
    }
}

impl From<std::io::Error> for PackageError {
    fn from(e: std::io::Error) -> Self {
        PackageError::Internal(Box::new(e))
    }
}

impl From<cairn_store::UploadError> for PackageError {
    fn from(e: cairn_store::UploadError) -> Self {
        use cairn_store::UploadError as U;
        match e {
            e @ U::Collecting(_) => PackageError::Unavailable(e.to_string()),
            U::Store(s) => s.into(),
            e => PackageError::Internal(Box::new(e)),
        }
    }
}

impl PackageError {
    pub fn bad(message: impl Into<String>) -> Self {
        PackageError::BadRequest(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        PackageError::NotFound(message.into())
    }

    /// A server-side failure described by `message` alone (no cause to keep).
    pub fn internal(message: impl Into<String>) -> Self {
        PackageError::Internal(message.into().into())
    }

    /// The HTTP status most protocols use for this error; adapters override
    /// where their clients expect otherwise.
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode as S;
        match self {
            PackageError::Denied {
                denied: Denied::Forbidden | Denied::SecondFactor { enrolled: false },
                ..
            } => S::FORBIDDEN,
            PackageError::Denied { .. } | PackageError::Unauthenticated(_) => S::UNAUTHORIZED,
            PackageError::Lifecycle(LifecycleError::NoSuchVersion { .. }) => S::NOT_FOUND,
            PackageError::Lifecycle(_) => S::CONFLICT,
            PackageError::BadRequest(_) => S::BAD_REQUEST,
            PackageError::NotFound(_) => S::NOT_FOUND,
            PackageError::Gone(_) => S::GONE,
            PackageError::Conflict(_) => S::CONFLICT,
            PackageError::TooLarge { .. } => S::PAYLOAD_TOO_LARGE,
            PackageError::MethodNotAllowed(_) => S::METHOD_NOT_ALLOWED,
            PackageError::Refused(_) => S::FORBIDDEN,
            PackageError::Upstream(_) => S::BAD_GATEWAY,
            PackageError::Unavailable(_) => S::SERVICE_UNAVAILABLE,
            PackageError::Internal(_) => S::INTERNAL_SERVER_ERROR,
        }
    }

    /// Logs server-side failures with their chain of causes; call once
    /// when rendering (inside the request's span, so the line carries the
    /// request id the client saw).
    pub fn log(&self) {
        if let PackageError::Internal(e) = self {
            tracing::error!(error = %cause_chain(e.as_ref()), "request failed");
        }
    }
}

/// A plain-text error whose reason phrase carries the message too: what
/// clients that print only the status line show (twine, pip, mvn), and
/// what those that print the body show (the go command). A 401 carries the
/// Basic challenge those clients answer with their configured credentials.
pub fn plain_error(status: axum::http::StatusCode, message: &str) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response();
    let phrase: String = message
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .take(400)
        .collect();
    if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(phrase.into_bytes()) {
        resp.extensions_mut().insert(reason);
    }
    if status == axum::http::StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"cairn\""),
        );
    }
    resp
}

/// An error and its sources, `outer: inner: ...`, leaving out a source whose
/// text the outer message already contains.
pub fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !chain.contains(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        source = s.source();
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_failure_keeps_its_cause_for_the_log() {
        let io = std::io::Error::other("disk on fire");
        let store = StoreError::Database(Box::new(io));
        let e = PackageError::from(store);
        let PackageError::Internal(inner) = &e else {
            panic!("{e:?}")
        };
        assert!(inner.source().is_some(), "the cause is kept, not flattened");
        assert_eq!(cause_chain(inner.as_ref()), "database error: disk on fire");
        assert_eq!(e.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    }
}
