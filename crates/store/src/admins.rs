//! Portal sign-in state: admin accounts and browser sessions.
//!
//! An admin account keeps only a password hash made by the caller (the portal
//! hashes with Argon2id); the store never sees a password. A session is a random
//! secret handed to the browser once as a cookie: only its SHA-256 hash is stored,
//! next to the session's CSRF token, the principal who signed in, and its expiry
//! (idle, sliding, and absolute). A session ends with its principal's credential:
//! revoking the token or changing the admin's password deletes its sessions in
//! the same transaction. A session carries the access role of its principal,
//! read at each use: the admin account's role, or the token's.

use crate::access::AccessRole;
use crate::{now_ms, Store, StoreError};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

/// An admin account as listed (never with its password hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminAccount {
    pub id: String,
    pub name: String,
    /// What the admin may do in the portal.
    pub role: AccessRole,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A signed-in browser session.
#[derive(Debug, Clone, PartialEq)]
pub struct PortalSession {
    /// Who signed in: `admin:<name>` or `token:<token name>`.
    pub principal: String,
    /// What the principal may do, as it is now.
    pub role: AccessRole,
    /// The token every form of this session must carry.
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// How long a session lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetime {
    /// Without a request for this long, the session ends (milliseconds).
    pub idle_ms: i64,
    /// After this long it ends whatever happens (milliseconds).
    pub absolute_ms: i64,
}

impl Default for SessionLifetime {
    /// Twelve hours idle, seven days at most.
    fn default() -> SessionLifetime {
        SessionLifetime { idle_ms: 12 * 3600 * 1000, absolute_ms: 7 * 24 * 3600 * 1000 }
    }
}

/// A session's `last_seen_at` is written at most this often, so that a page
/// with live parts does not turn every poll into a write.
const TOUCH_EVERY_MS: i64 = 60 * 1000;

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Checks an admin name at the edge: 1 to 64 letters, digits, '.', '_', '-' or '@'.
pub(crate) fn parse_admin_name(name: &str) -> Result<String, StoreError> {
    let valid = !name.is_empty()
        && name.chars().count() <= 64
        && name.chars().all(|c| c.is_alphanumeric() || ".-_@".contains(c));
    if !valid {
        return Err(StoreError::invalid("an admin name is 1 to 64 letters, digits, '.', '_', '-' or '@'"));
    }
    Ok(name.to_string())
}

fn admin_from_row(row: &AnyRow) -> Result<AdminAccount, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(AdminAccount {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: AccessRole::from_stored(&role)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Creates an admin account with `role` and a password hash (PHC string) made
    /// by the caller.
    pub async fn create_admin(
        &self,
        name: &str,
        password_hash: &str,
        role: AccessRole,
    ) -> Result<AdminAccount, StoreError> {
        let name = parse_admin_name(name)?;
        if role == AccessRole::Scim {
            return Err(StoreError::invalid(
                "scim is a scope for API tokens of the SCIM service, not a role of portal accounts: use read, operator or admin",
            ));
        }
        if password_hash.is_empty() {
            return Err(StoreError::invalid("the password hash is empty"));
        }
        let now = now_ms();
        let admin = AdminAccount { id: uuid::Uuid::new_v4().to_string(), name, role, created_at: now, updated_at: now };
        sqlx::query(
            "INSERT INTO admins (id, name, name_key, password_hash, role, created_at, updated_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7)",
        )
        .bind(&admin.id)
        .bind(&admin.name)
        .bind(admin.name.to_lowercase())
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .bind(now)
        .execute(self.writes())
        .await
        .map_err(|e| StoreError::or_conflict(e, || format!("an admin named {:?} already exists", admin.name)))?;
        Ok(admin)
    }

    /// Replaces the password hash of the admin named `name`, and ends every
    /// portal session of that admin in the same transaction: whoever signed in
    /// with the old password is signed out.
    pub async fn set_admin_password(&self, name: &str, password_hash: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        let stored: Option<String> = sqlx::query_scalar("SELECT name FROM admins WHERE name_key = $1")
            .bind(name.to_lowercase())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(stored) = stored else { return Err(StoreError::not_found("admin", name)) };
        sqlx::query("UPDATE admins SET password_hash = $1, updated_at = $2 WHERE name_key = $3")
            .bind(password_hash)
            .bind(now_ms())
            .bind(name.to_lowercase())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM portal_sessions WHERE principal = $1")
            .bind(format!("admin:{stored}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The account and password hash of the admin named `name` (case-insensitive).
    pub async fn admin_credentials(&self, name: &str) -> Result<Option<(AdminAccount, String)>, StoreError> {
        let row =
            sqlx::query("SELECT id, name, role, created_at, updated_at, password_hash FROM admins WHERE name_key = $1")
                .bind(name.to_lowercase())
                .fetch_optional(self.pool())
                .await?;
        row.map(|r| Ok((admin_from_row(&r)?, r.try_get("password_hash")?))).transpose()
    }

    /// Every admin account, by name.
    pub async fn list_admins(&self) -> Result<Vec<AdminAccount>, StoreError> {
        sqlx::query("SELECT id, name, role, created_at, updated_at FROM admins ORDER BY name_key")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(admin_from_row)
            .collect()
    }

    /// Starts a session for `principal`, who signed in with `role`; returns the
    /// session secret (for the cookie, shown only now) and the session. Each later
    /// use reads the principal's role again ([`Store::session`]).
    pub async fn create_session(
        &self,
        principal: &str,
        role: AccessRole,
        lifetime: SessionLifetime,
    ) -> Result<(String, PortalSession), StoreError> {
        let secret = random_secret("rss_");
        let now = now_ms();
        let session = PortalSession {
            principal: principal.to_string(),
            role,
            csrf_token: random_secret(""),
            created_at: now,
            expires_at: now + lifetime.idle_ms.min(lifetime.absolute_ms),
        };
        sqlx::query(
            "INSERT INTO portal_sessions (id_hash, principal, csrf_token, created_at, last_seen_at, expires_at) \
             VALUES ($1,$2,$3,$4,$5,$6)",
        )
        .bind(hash(&secret))
        .bind(&session.principal)
        .bind(&session.csrf_token)
        .bind(now)
        .bind(now)
        .bind(session.expires_at)
        .execute(self.writes())
        .await?;
        Ok((secret, session))
    }

    /// The live session a secret belongs to, if any; a use pushes its idle expiry
    /// out (never past its absolute end).
    pub async fn session(&self, secret: &str, lifetime: SessionLifetime) -> Result<Option<PortalSession>, StoreError> {
        let id_hash = hash(secret);
        let row = sqlx::query(
            "SELECT principal, csrf_token, created_at, last_seen_at, expires_at FROM portal_sessions WHERE id_hash = $1",
        )
        .bind(&id_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let now = now_ms();
        let principal: String = row.try_get("principal")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let role = if expires_at <= now { None } else { self.principal_role(&principal).await? };
        let Some(role) = role else {
            sqlx::query("DELETE FROM portal_sessions WHERE id_hash = $1").bind(&id_hash).execute(self.writes()).await?;
            return Ok(None);
        };
        let mut session = PortalSession {
            principal,
            role,
            csrf_token: row.try_get("csrf_token")?,
            created_at: row.try_get("created_at")?,
            expires_at,
        };
        let last_seen: i64 = row.try_get("last_seen_at")?;
        if now - last_seen >= TOUCH_EVERY_MS {
            session.expires_at = (now + lifetime.idle_ms).min(session.created_at + lifetime.absolute_ms);
            sqlx::query("UPDATE portal_sessions SET last_seen_at = $1, expires_at = $2 WHERE id_hash = $3")
                .bind(now)
                .bind(session.expires_at)
                .bind(&id_hash)
                .execute(self.writes())
                .await?;
        }
        Ok(Some(session))
    }

    /// The role of the admin or live token a session was opened with, or `None`
    /// when it no longer exists (or the token expired): a session opened while
    /// its token was being revoked (after the check, before the revocation's
    /// delete) ends at its next request.
    async fn principal_role(&self, principal: &str) -> Result<Option<AccessRole>, StoreError> {
        let role: Option<String> = match principal.split_once(':') {
            Some(("admin", name)) => {
                sqlx::query_scalar("SELECT role FROM admins WHERE name_key = $1")
                    .bind(name.to_lowercase())
                    .fetch_optional(self.pool())
                    .await?
            }
            Some(("token", name)) => {
                sqlx::query_scalar(
                    "SELECT role FROM api_tokens WHERE name = $1 AND (expires_at IS NULL OR expires_at > $2)",
                )
                .bind(name)
                .bind(now_ms())
                .fetch_optional(self.pool())
                .await?
            }
            _ => None,
        };
        role.as_deref().map(AccessRole::from_stored).transpose()
    }

    /// Ends the session a secret belongs to (sign-out); unknown secrets are ignored.
    pub async fn delete_session(&self, secret: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM portal_sessions WHERE id_hash = $1").bind(hash(secret)).execute(self.writes()).await?;
        Ok(())
    }

    /// Removes expired sessions; returns how many.
    pub async fn purge_expired_sessions(&self) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM portal_sessions WHERE expires_at <= $1")
            .bind(now_ms())
            .execute(self.writes())
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_admin_name;

    fn check(name: &str, ok: bool) {
        assert_eq!(parse_admin_name(name).is_ok(), ok, "{name:?}");
    }

    #[test]
    fn admin_names() {
        check("alice", true);
        check("ops.admin@example.com", true);
        check("", false);
        check("has space", false);
        check(&"a".repeat(65), false);
        check("semi;colon", false);
    }
}
