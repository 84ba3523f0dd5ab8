//! The `state` of an OAuth Authorize request: made when an admin clicks
//! Authorize, checked once when the vendor sends the browser back. Only a
//! hash is stored, with an expiry, so a leaked database cannot complete
//! someone's authorization and an old link stops working.

use crate::ids::AppId;
use crate::{now_ms, Store, StoreError};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long an Authorize link stays good.
pub const OAUTH_STATE_TTL_MS: i64 = 15 * 60 * 1000;

fn hash(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

impl Store {
    /// A new random `state` for an Authorize request of `app`, good for 15
    /// minutes. Expired ones are forgotten on the way.
    pub async fn new_oauth_state(&self, app: &AppId) -> Result<String, StoreError> {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let state = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let now = now_ms();
        let mut tx = self.begin_immediate().await?;
        sqlx::query("DELETE FROM oauth_states WHERE expires_at < $1").bind(now).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO oauth_states (state_hash, app_id, expires_at) VALUES ($1, $2, $3)")
            .bind(hash(&state))
            .bind(app.as_str())
            .bind(now + OAUTH_STATE_TTL_MS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(state)
    }

    /// The app an Authorize `state` was made for; the state is used up.
    /// `None` when it is unknown, used or expired.
    pub async fn take_oauth_state(&self, state: &str) -> Result<Option<AppId>, StoreError> {
        let mut tx = self.begin_immediate().await?;
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT app_id, expires_at FROM oauth_states WHERE state_hash = $1")
                .bind(hash(state))
                .fetch_optional(&mut *tx)
                .await?;
        let Some((app, expires_at)) = row else { return Ok(None) };
        let taken =
            sqlx::query("DELETE FROM oauth_states WHERE state_hash = $1").bind(hash(state)).execute(&mut *tx).await?;
        tx.commit().await?;
        // Two callbacks with one state: only the one that deleted it goes on.
        Ok((taken.rows_affected() == 1 && expires_at >= now_ms()).then_some(AppId::from_stored(app)))
    }
}
