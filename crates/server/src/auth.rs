//! Bearer-token authentication of the admin API: tokens are checked against the
//! stored hashes; a missing or unknown token is a 401. Unknown tokens count as
//! failed sign-ins of the address they come from (the portal's throttle): past a
//! few, that address waits (429 with `Retry-After`), the right token included.

use crate::{ApiError, AppState};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roster_portal::throttle::{retry_after_secs, SignInThrottle, ThrottleKey, TOKEN_ACCOUNT};
use std::net::SocketAddr;
use std::sync::Arc;

/// Rejects a request without a valid `Authorization: Bearer <token>`.
pub async fn require_token(
    State((state, throttle)): State<(AppState, Arc<SignInThrottle>)>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let address = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let token = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(ApiError::unauthorized)?;
    let keys = [ThrottleKey::Account(TOKEN_ACCOUNT.into(), address), ThrottleKey::Address(address)];
    if let Some(wait) = throttle.retry_after(&keys) {
        let secs = retry_after_secs(wait);
        let refusal = ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "too_many_attempts",
            message: format!("too many unknown tokens from this address: wait {secs} seconds"),
        };
        let mut response = refusal.into_response();
        response.headers_mut().insert(header::RETRY_AFTER, secs.into());
        return Ok(response);
    }
    if token.is_empty() || token.len() > 512 {
        throttle.failed(&keys);
        return Err(ApiError::unauthorized());
    }
    match state.store.verify_token(token).await? {
        Some(_) => Ok(next.run(request).await),
        None => {
            throttle.failed(&keys);
            Err(ApiError::unauthorized())
        }
    }
}
