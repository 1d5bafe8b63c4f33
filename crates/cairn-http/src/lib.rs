//! What every protocol adapter shares, so that each adapter is only its
//! protocol.
//!
//! The rule of this layer: an adapter parses a request into its typed
//! `Endpoint`, which declares the [`Access`] it needs; [`serve`] decides that
//! access with the one [`Guard`] (the core's `authorize` plus one audit rule)
//! before any handler runs, and labels the response with the endpoint's
//! name for logs and metrics. Handlers receive a caller that is already
//! allowed; a handler that learns more from the body (which package an
//! upload names) asks the same [`Guard`] again.

mod endpoint;
mod guard;
mod request;
pub mod vulns;

/// Revokes a cairn API token found where it must not be (a publish, a
/// pushed layer), given its secret: the identity service's, so that its
/// caches forget the token at once. Whether a live token was revoked.
#[async_trait::async_trait]
pub trait TokenRevoker: Send + Sync {
    async fn revoke_leaked(
        &self,
        secret: &str,
        actor: &cairn_store::Actor,
    ) -> Result<bool, cairn_store::StoreError>;
}

/// The registry's own signing keys, shared by every adapter that signs
/// (npm's registry signatures, publish attestations) and replaced by the
/// server when the stored keys change (every replica reloads them).
#[derive(Default)]
pub struct RegistrySigner {
    keys: std::sync::RwLock<Option<std::sync::Arc<cairn_core::trust::registry::RegistryKeys>>>,
}

impl RegistrySigner {
    /// Signs with these keys from now on.
    pub fn set(&self, keys: std::sync::Arc<cairn_core::trust::registry::RegistryKeys>) {
        *self.keys.write().expect("the lock is never poisoned") = Some(keys);
    }

    /// The keys, once loaded; none: nothing is signed.
    pub fn keys(&self) -> Option<std::sync::Arc<cairn_core::trust::registry::RegistryKeys>> {
        self.keys
            .read()
            .expect("the lock is never poisoned")
            .clone()
    }
}

pub use endpoint::{Access, Endpoint, EndpointLabel, Resource};
pub use guard::{serve, Adapter, Guard, Refusal};
pub use request::{decode, Request};
pub use vulns::VulnGate;
