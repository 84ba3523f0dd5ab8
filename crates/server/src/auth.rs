//! Bearer-token authentication of the admin API: tokens are checked against the
//! stored hashes; a missing or unknown token is a 401.

use crate::{ApiError, AppState};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Rejects a request without a valid `Authorization: Bearer <token>`.
pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    let token = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(ApiError::unauthorized)?;
    if token.is_empty() || token.len() > 512 {
        return Err(ApiError::unauthorized());
    }
    match state.store.verify_token(token).await? {
        Some(_) => Ok(next.run(request).await),
        None => Err(ApiError::unauthorized()),
    }
}
