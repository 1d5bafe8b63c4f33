//! Verified credentials kept for a short, bounded time, so that an
//! authenticated request costs one hash and one lookup instead of a
//! database read (password, API token) or a signature check and pattern
//! compilation (bearer JWT).
//!
//! The key is the SHA-256 of the whole `Authorization` value, so a cached
//! entry is only ever found by presenting the same credential again, and
//! the secret itself is never kept. Only successes are cached: a failed
//! attempt is verified, audited and rate-limited every time.
//!
//! Freshness: any change made through the identity service on this
//! replica (a revoked token, a removed user, changed grants) clears the
//! cache at once; a change made on another replica or by the CLI takes
//! effect here when the entry ages out, after at most `ttl`
//! (`auth.credential_cache_secs`, 0 turns the cache off).

use cairn_core::Principal;
use sha2::{Digest as _, Sha256};
use std::time::{Duration, Instant};

/// How many verified credentials are kept at most.
const CAPACITY: usize = 16 * 1024;

#[derive(Clone)]
struct Entry {
    principal: Principal,
    verified: Instant,
    /// When the credential itself stops being valid (an API token's or a
    /// JWT's expiry), in seconds since the epoch.
    expires_at: Option<i64>,
}

/// A bounded map from a credential's digest to the caller it proved.
pub struct CredentialCache {
    entries: quick_cache::sync::Cache<[u8; 32], Entry>,
    ttl: Duration,
}

impl CredentialCache {
    /// A cache whose entries are trusted for `ttl` (zero: nothing is kept).
    pub fn new(ttl: Duration) -> CredentialCache {
        CredentialCache {
            entries: quick_cache::sync::Cache::new(CAPACITY),
            ttl,
        }
    }

    fn key(credential: &[u8]) -> [u8; 32] {
        Sha256::digest(credential).into()
    }

    /// The caller `credential` proved less than `ttl` ago, if it is still valid.
    pub fn get(&self, credential: &[u8], now: i64) -> Option<Principal> {
        if self.ttl.is_zero() {
            return None;
        }
        let key = Self::key(credential);
        let entry = self.entries.get(&key)?;
        let fresh = entry.verified.elapsed() < self.ttl;
        if fresh && entry.expires_at.is_none_or(|at| at > now) {
            Some(entry.principal)
        } else {
            self.entries.remove(&key);
            None
        }
    }

    /// Remembers that `credential` proves `principal` (until `expires_at`, if set).
    pub fn put(&self, credential: &[u8], principal: &Principal, expires_at: Option<i64>) {
        if self.ttl.is_zero() {
            return;
        }
        let entry = Entry {
            principal: principal.clone(),
            verified: Instant::now(),
            expires_at,
        };
        self.entries.insert(Self::key(credential), entry);
    }

    /// Forgets every credential: called after any change to users, groups,
    /// grants or tokens on this replica.
    pub fn clear(&self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::access::{CredentialKind, Rights};

    fn someone() -> Principal {
        Principal::Authenticated {
            subject: "dev".into(),
            credential: None,
            kind: CredentialKind::Long,
            rights: Rights::of(vec![]),
            two_factor: cairn_core::access::TwoFactor::Exempt,
        }
    }

    #[test]
    fn entries_are_found_only_by_the_same_credential_and_only_while_valid() {
        let cache = CredentialCache::new(Duration::from_secs(60));
        cache.put(b"Basic a", &someone(), None);
        cache.put(b"Bearer t", &someone(), Some(100));
        assert_eq!(cache.get(b"Basic a", 0), Some(someone()));
        assert_eq!(cache.get(b"Basic b", 0), None);
        assert_eq!(cache.get(b"Bearer t", 99), Some(someone()));
        // Past the credential's own expiry, whatever the cache's age.
        assert_eq!(cache.get(b"Bearer t", 100), None);
        cache.clear();
        assert_eq!(cache.get(b"Basic a", 0), None);
    }

    #[test]
    fn entries_age_out_and_a_zero_ttl_keeps_nothing() {
        let cache = CredentialCache::new(Duration::from_millis(1));
        cache.put(b"Basic a", &someone(), None);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cache.get(b"Basic a", 0), None);
        let off = CredentialCache::new(Duration::ZERO);
        off.put(b"Basic a", &someone(), None);
        assert_eq!(off.get(b"Basic a", 0), None);
    }
}
