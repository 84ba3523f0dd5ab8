//! Admin passwords: hashed with Argon2id (the `argon2` crate's default
//! parameters) into a PHC string; only that string reaches the store. Hashing and
//! checking are CPU- and memory-heavy on purpose, so they run on the blocking pool,
//! at most two at a time.

use crate::error::PortalError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use roster_store::secrets::{ExposeSecret, SecretString};
use roster_store::{AccessRole, AdminAccount, Store};
use std::sync::OnceLock;

/// The shortest password an admin account accepts.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password read (hashing cost grows with it).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// What can go wrong with a password.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The password does not meet the rules.
    #[error("{0}")]
    Weak(String),
    /// The hashing library failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Checks a new password: at least 12 characters, at most 1,024 bytes.
pub fn check_new_password(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::Weak(format!("the password must be at least {MIN_PASSWORD_CHARS} characters")));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::Weak(format!("the password must be at most {MAX_PASSWORD_BYTES} bytes")));
    }
    Ok(())
}

/// Hashes a password with Argon2id and a fresh random salt (blocking: call it
/// off the async runtime).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches a stored PHC hash (blocking). An unreadable hash
/// matches nothing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash of no one's password, checked against when the admin name is unknown,
/// so that a wrong name takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("roster decoy password, never valid").unwrap_or_default())
}

/// Creates an admin account with `role`: checks the password, hashes it, stores
/// the hash.
pub async fn create_admin(
    store: &Store,
    name: &str,
    password: &SecretString,
    role: AccessRole,
) -> Result<AdminAccount, PortalError> {
    check_new_password(password.expose_secret()).map_err(|e| PortalError::BadRequest(e.to_string()))?;
    let password = password.clone();
    let phc = tokio::task::spawn_blocking(move || hash_password(password.expose_secret()))
        .await
        .map_err(|_| PortalError::Internal)?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot hash an admin password");
            PortalError::Internal
        })?;
    Ok(store.create_admin(name, &phc, role).await?)
}

/// Replaces an admin's password.
pub async fn set_admin_password(store: &Store, name: &str, password: &SecretString) -> Result<(), PortalError> {
    check_new_password(password.expose_secret()).map_err(|e| PortalError::BadRequest(e.to_string()))?;
    let password = password.clone();
    let phc = tokio::task::spawn_blocking(move || hash_password(password.expose_secret()))
        .await
        .map_err(|_| PortalError::Internal)?
        .map_err(|_| PortalError::Internal)?;
    Ok(store.set_admin_password(name, &phc).await?)
}

/// Checks an admin's name and password; `Some(account)` when they match.
pub async fn check_admin(
    store: &Store,
    limiter: &tokio::sync::Semaphore,
    name: &str,
    password: &SecretString,
) -> Result<Option<AdminAccount>, PortalError> {
    let found = store.admin_credentials(name).await?;
    let _permit = limiter.acquire().await.map_err(|_| PortalError::Internal)?;
    let (account, phc) = match found {
        Some((a, h)) => (Some(a), h),
        None => (None, String::new()),
    };
    let password = password.clone();
    let ok = tokio::task::spawn_blocking(move || {
        let phc = if phc.is_empty() { decoy_hash().to_string() } else { phc };
        verify_password(password.expose_secret(), &phc)
    })
    .await
    .map_err(|_| PortalError::Internal)?;
    Ok(account.filter(|_| ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash_password("correct horse battery").expect("hashing works");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("wrong horse battery", &phc));
        assert!(!verify_password("correct horse battery", "not a hash"));
    }

    #[test]
    fn new_passwords() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("long enough password").is_ok());
        assert!(check_new_password(&"x".repeat(2000)).is_err());
    }
}
