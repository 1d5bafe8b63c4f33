//! Two-factor authentication for people: time-based one-time passwords
//! (RFC 6238 with SHA-1, 6 digits and 30-second steps, which every
//! authenticator app takes) and single-use recovery codes.
//!
//! Two checks, for two uses:
//! - [`sign_in`] (a login: `npm login`, the API's sign-in): a code is
//!   accepted once (the time step it used is claimed in the database, so on
//!   every replica), or a recovery code is used up;
//! - [`for_request`] (a request carrying `npm-otp`): any code of the current
//!   window is accepted, again within it, because one npm command sends its
//!   `--otp` with each of its requests (`npm publish` reads the packument
//!   first; `npm unpublish` makes several changes); a recovery code likewise
//!   for [`RECOVERY_GRACE`] seconds after its first use, and never again.

use cairn_store::{IdentityStore, StoreError};
use rand::RngCore;
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per time step.
pub const STEP: u64 = 30;
/// Recovery codes handed out at a time.
pub const RECOVERY_CODES: usize = 10;
/// How long after its first use a recovery code still passes for the
/// requests of the same command.
pub const RECOVERY_GRACE: i64 = 120;

/// A fresh shared secret (160 bits, as RFC 4226 recommends), base32.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut bytes);
    Secret::Raw(bytes.to_vec()).to_encoded().to_string()
}

fn totp(secret: &str, user: &str, issuer: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().ok()?;
    Some(TOTP::new_unchecked(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        bytes,
        Some(issuer.to_string()),
        user.to_string(),
    ))
}

/// The `otpauth://` URL an authenticator app reads (from a QR code or pasted).
pub fn otpauth_url(secret: &str, user: &str, issuer: &str) -> String {
    totp(secret, user, issuer)
        .map(|t| t.get_url())
        .unwrap_or_default()
}

/// The code for `secret` at `time` (for the tests and the CLI's check).
pub fn code_at(secret: &str, time: u64) -> Option<String> {
    totp(secret, "", "cairn").map(|t| t.generate(time))
}

/// The time step `code` belongs to, when it is the code of the step of
/// `now` or of the one before or after (clocks drift).
pub fn step_of(secret: &str, code: &str, now: u64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "", "cairn")?;
    let step = now / STEP;
    [step.saturating_sub(1), step, step + 1]
        .into_iter()
        .find(|s| crate::auth::constant_time_eq(t.generate(s * STEP).as_bytes(), code.as_bytes()))
        .map(|s| s as i64)
}

/// New recovery codes: 10 of 16 hex digits each, grouped for reading.
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 8];
            rand::thread_rng().fill_bytes(&mut bytes);
            let h = hex::encode(bytes);
            format!("{}-{}-{}-{}", &h[0..4], &h[4..8], &h[8..12], &h[12..16])
        })
        .collect()
}

/// The stored form of a recovery code (case, dashes and spaces ignored).
pub fn hash_recovery(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    cairn_core::secrets::token_hash(&normal)
}

fn looks_like_recovery_code(code: &str) -> bool {
    code.chars().filter(|c| c.is_ascii_hexdigit()).count() == 16
}

/// The secret of `user`'s enabled enrolment (none while pending).
async fn enabled_secret(
    meta: &dyn IdentityStore,
    user: &str,
) -> Result<Option<String>, StoreError> {
    Ok(meta
        .totp(user)
        .await?
        .filter(|t| t.enabled_at.is_some())
        .map(|t| t.secret))
}

/// Whether `user` has an enabled enrolment.
pub async fn enrolled(meta: &dyn IdentityStore, user: &str) -> Result<bool, StoreError> {
    Ok(enabled_secret(meta, user).await?.is_some())
}

/// A second factor at sign-in: a TOTP code not used to sign in before, or
/// an unused recovery code (used up now).
pub async fn sign_in(meta: &dyn IdentityStore, user: &str, code: &str) -> Result<bool, StoreError> {
    let Some(secret) = enabled_secret(meta, user).await? else {
        return Ok(false);
    };
    if let Some(step) = step_of(&secret, code, crate::auth::now()) {
        return meta.claim_totp_step(user, step).await;
    }
    recovery(meta, user, code, i64::MAX).await
}

/// A second factor on a request: a TOTP code of the current window, or a
/// recovery code unused or first used within [`RECOVERY_GRACE`].
pub async fn for_request(
    meta: &dyn IdentityStore,
    user: &str,
    code: &str,
) -> Result<bool, StoreError> {
    let Some(secret) = enabled_secret(meta, user).await? else {
        return Ok(false);
    };
    let now = crate::auth::now();
    if step_of(&secret, code, now).is_some() {
        return Ok(true);
    }
    recovery(meta, user, code, now as i64 - RECOVERY_GRACE).await
}

/// A recovery code, unused or first used at or after `used_since`.
async fn recovery(
    meta: &dyn IdentityStore,
    user: &str,
    code: &str,
    used_since: i64,
) -> Result<bool, StoreError> {
    if !looks_like_recovery_code(code) {
        return Ok(false);
    }
    let used = meta
        .use_recovery_code(user, &hash_recovery(code), used_since)
        .await?;
    if used {
        tracing::info!(user, "a recovery code was used as a second factor");
    }
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_the_window_are_accepted_and_others_are_not() {
        // RFC 6238's SHA-1 test secret ("12345678901234567890"), base32.
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        // Its published 8-digit value at 59 s is 94287082: six digits, 287082.
        assert_eq!(code_at(secret, 59).as_deref(), Some("287082"));
        assert_eq!(step_of(secret, "287082", 59), Some(1));
        assert_eq!(step_of(secret, "287082", 59 + STEP), Some(1));
        assert_eq!(step_of(secret, "287082", 59 + 2 * STEP), None);
        assert_eq!(step_of(secret, "28708", 59), None);
        assert_eq!(step_of(secret, "abcdef", 59), None);
        let fresh = new_secret();
        let now = 1_700_000_000;
        let code = code_at(&fresh, now).unwrap();
        assert_eq!(step_of(&fresh, &code, now), Some((now / STEP) as i64));
        assert!(otpauth_url(&fresh, "alice", "cairn").starts_with("otpauth://totp/"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_hashed_whatever_their_spelling() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert!(codes.iter().all(|c| looks_like_recovery_code(c)));
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        let c = &codes[0];
        assert_eq!(
            hash_recovery(c),
            hash_recovery(&c.to_uppercase().replace('-', " "))
        );
        assert!(!looks_like_recovery_code("123456"));
    }
}
