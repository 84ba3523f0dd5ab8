//! Bearer-token authentication and authorization of the admin API: tokens are
//! checked against the stored hashes; a missing or unknown token is a 401, an
//! expired one a 401 that says so. A valid token's role must allow the
//! operation (the table of [`crate::access`]), else the request is a 403 that
//! names the role it needs. Each refusal of a token (unknown, expired, role
//! too low) is written to the audit log, and so is each token's first use of a
//! minute. Unknown tokens count as failed sign-ins of the
//! address they come from (the portal's throttle): past a few, that address
//! waits (429 with `Retry-After`), the right token included.

use crate::access::{self, Verb};
use crate::{audit, ApiError, AppState};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roster_portal::throttle::{retry_after_secs, SignInThrottle, ThrottleKey, TOKEN_ACCOUNT};
use roster_store::{AccessRole, NewAuditEntry, TokenCheck};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Who is calling: put in the request's extensions once the token is checked.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `token:<name>`.
    pub name: String,
    /// What the token may do.
    pub role: AccessRole,
    /// Where the request came from, when known.
    pub address: Option<IpAddr>,
}

/// Admits a request with a valid `Authorization: Bearer <token>` whose role
/// allows the operation.
pub async fn require_token(
    State((state, throttle)): State<(AppState, Arc<SignInThrottle>)>,
    mut request: Request,
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
            field: None,
        };
        let mut response = refusal.into_response();
        response.headers_mut().insert(header::RETRY_AFTER, secs.into());
        return Ok(response);
    }
    if token.is_empty() || token.len() > 512 {
        throttle.failed(&keys);
        return Err(ApiError::unauthorized());
    }
    let template = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_default();
    let template = template.strip_prefix(crate::API_PREFIX).unwrap_or(&template).to_string();
    let action = format!("{} {template}", request.method());
    let path = request.uri().path();
    let target = path.strip_prefix(crate::API_PREFIX).unwrap_or(path).to_string();
    let refused = |principal: String, role: Option<AccessRole>, error: &ApiError| NewAuditEntry {
        principal,
        role,
        source: address.map(|a| a.to_string()),
        action: action.clone(),
        target: Some(target.clone()),
        outcome: format!("refused ({} {}): {}", error.status.as_u16(), error.code, error.message),
        ..NewAuditEntry::default()
    };
    let token = match state.store.verify_token(token).await? {
        TokenCheck::Valid(t) => t,
        TokenCheck::Expired(t) => {
            let error = ApiError::token_expired(&t.name);
            audit::write(&state.store, refused(format!("token:{}", t.name), Some(t.role), &error)).await;
            return Err(error);
        }
        TokenCheck::Unknown => {
            throttle.failed(&keys);
            let error = ApiError::unauthorized();
            audit::write(&state.store, refused(roster_portal::audit::UNKNOWN_TOKEN.into(), None, &error)).await;
            return Err(error);
        }
    };
    let principal = Principal { name: format!("token:{}", token.name), role: token.role, address };
    if let Err(e) = state.store.note_token_use(&token, principal.address.map(|a| a.to_string()).as_deref()).await {
        tracing::error!(error = %e, token = %token.name, "cannot write down a token's use");
    }
    let operation = Verb::of(request.method()).and_then(|verb| access::operation(verb, &template));
    let Some(operation) = operation else {
        // A route the table does not list is refused to everyone (a test keeps
        // the table and the router in step).
        tracing::error!(route = %template, method = %request.method(), "a route has no role in the access table");
        let error = ApiError::forbidden(format!(
            "{} {template} has no role in roster's access table: no token may call it",
            request.method()
        ));
        audit::write(&state.store, refused(principal.name, Some(token.role), &error)).await;
        return Err(error);
    };
    if !token.role.allows(operation.role) {
        let error = ApiError::forbidden(access::refusal(token.role, operation));
        audit::write(&state.store, refused(principal.name, Some(token.role), &error)).await;
        return Err(error);
    }
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}
