//! Admin API tokens: only a SHA-256 hash is stored; the token itself is shown once.
//! Each token has an access role and may have an expiry; an expired token is
//! kept (and listed) but opens nothing.

use crate::access::AccessRole;
use crate::audit::NewAuditEntry;
use crate::{now_ms, Store, StoreError};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

/// An API token as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    /// What the token may do.
    pub role: AccessRole,
    pub created_at: i64,
    /// After this (milliseconds since the epoch) the token opens nothing.
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl ApiToken {
    /// Whether the token has expired at `now` (milliseconds since the epoch).
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// What a secret presented as a token turns out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenCheck {
    /// A live token.
    Valid(ApiToken),
    /// A token whose expiry has passed.
    Expired(ApiToken),
    /// No token has this secret.
    Unknown,
}

/// A token's use is written down at most this often (milliseconds).
pub const TOKEN_USE_EVERY_MS: i64 = 60 * 1000;

/// The name of the token made on first start.
pub const ADMIN_TOKEN_NAME: &str = "admin";

const COLUMNS: &str = "id, name, role, created_at, expires_at, last_used_at";

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn fresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("rst_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn token_from_row(r: &AnyRow) -> Result<ApiToken, StoreError> {
    let role: String = r.try_get("role")?;
    Ok(ApiToken {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: AccessRole::from_stored(&role)?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

impl Store {
    /// Creates a token named `name` with `role`, expiring at `expires_at` (or
    /// never); returns it with its secret, shown only now.
    pub async fn create_token(
        &self,
        name: &str,
        role: AccessRole,
        expires_at: Option<i64>,
    ) -> Result<(ApiToken, String), StoreError> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid {
            return Err(StoreError::invalid("a token name is 1 to 64 letters, digits, '-', '_' or '.'"));
        }
        let now = now_ms();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(StoreError::invalid("a token's expiry must be in the future"));
        }
        let secret = fresh_token();
        let token = ApiToken {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            role,
            created_at: now,
            expires_at,
            last_used_at: None,
        };
        sqlx::query(
            "INSERT INTO api_tokens (id, name, token_hash, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&token.id)
        .bind(&token.name)
        .bind(hash(&secret))
        .bind(role.as_str())
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(self.writes())
        .await
        .map_err(|e| StoreError::or_conflict(e, || format!("a token named {name:?} already exists")))?;
        Ok((token, secret))
    }

    /// Creates the admin token (role admin, no expiry) when no token exists yet
    /// (first start).
    pub async fn ensure_admin_token(&self) -> Result<Option<String>, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens").fetch_one(self.pool()).await?;
        if count > 0 {
            return Ok(None);
        }
        match self.create_token(ADMIN_TOKEN_NAME, AccessRole::Admin, None).await {
            Ok((_, secret)) => Ok(Some(secret)),
            // Another process sharing the database made it first.
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What a secret is: a live token, an expired one, or nothing.
    pub async fn verify_token(&self, secret: &str) -> Result<TokenCheck, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1"))
            .bind(hash(secret))
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(TokenCheck::Unknown) };
        let token = token_from_row(&row)?;
        Ok(if token.is_expired(now_ms()) { TokenCheck::Expired(token) } else { TokenCheck::Valid(token) })
    }

    /// Writes down that `token` was used from `source`: its `lastUsedAt`, and a
    /// `token use` entry in the audit log, at most once a minute per token (the
    /// first use of each minute), whichever process served it.
    pub async fn note_token_use(&self, token: &ApiToken, source: Option<&str>) -> Result<(), StoreError> {
        let now = now_ms();
        // Most uses are within the minute: the row just read says so, without a
        // write (on SQLite, even an UPDATE that changes nothing takes the write lock).
        if token.last_used_at.is_some_and(|at| at > now - TOKEN_USE_EVERY_MS) {
            return Ok(());
        }
        let done = sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)",
        )
        .bind(now)
        .bind(&token.id)
        .bind(now - TOKEN_USE_EVERY_MS)
        .execute(self.writes())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(());
        }
        self.append_audit(&NewAuditEntry {
            at: now,
            principal: format!("token:{}", token.name),
            role: Some(token.role),
            source: source.map(str::to_string),
            action: "token use".into(),
            target: Some(format!("token:{}", token.name)),
            outcome: "ok".into(),
            ..NewAuditEntry::default()
        })
        .await
    }

    /// Every token, by name.
    pub async fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY name"))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(token_from_row)
            .collect()
    }

    /// Revokes (deletes) the token named `name`, and ends every portal session
    /// opened with it in the same transaction: a revoked token opens nothing.
    pub async fn revoke_token(&self, name: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        let done = sqlx::query("DELETE FROM api_tokens WHERE name = $1").bind(name).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("token", name));
        }
        sqlx::query("DELETE FROM portal_sessions WHERE principal = $1")
            .bind(format!("token:{name}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
