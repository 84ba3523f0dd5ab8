//! `/tokens`: admin API tokens. A token's secret is returned once, at creation.
//! A new token names its role; it may expire, after a duration (`expiresIn`:
//! `30d`, `12h`) or at a time (`expiresAt`: RFC 3339, or milliseconds since the
//! epoch).

use super::JsonBody;
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use roster_store::{now_ms, parse_duration_ms, AccessRole, ApiToken};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewToken {
    name: String,
    role: Option<String>,
    expires_in: Option<String>,
    /// An RFC 3339 time, or milliseconds since the epoch.
    #[schema(value_type = Option<String>)]
    expires_at: Option<Value>,
}

/// A new token: its record, and its secret, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewTokenAnswer {
    token: ApiToken,
    secret: String,
}

/// When a new token expires, from what the request says (at most one of the two).
fn expiry(expires_in: Option<&str>, expires_at: Option<&Value>, now: i64) -> Result<Option<i64>, ApiError> {
    match (expires_in, expires_at) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(ApiError::bad_request("give expiresIn or expiresAt, not both")),
        (Some(text), None) => parse_duration_ms(text)
            .and_then(|ms| now.checked_add(ms))
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("expiresIn {text:?} is not a duration like 30d, 12h or 90m"))),
        (None, Some(Value::Number(n))) => {
            n.as_i64().map(Some).ok_or_else(|| ApiError::bad_request("expiresAt is not a whole number of milliseconds"))
        }
        (None, Some(Value::String(text))) => {
            chrono::DateTime::parse_from_rfc3339(text).map(|t| Some(t.timestamp_millis())).map_err(|_| {
                ApiError::bad_request(format!("expiresAt {text:?} is not an RFC 3339 time like 2030-01-31T00:00:00Z"))
            })
        }
        (None, Some(_)) => Err(ApiError::bad_request("expiresAt is an RFC 3339 time or milliseconds since the epoch")),
    }
}

pub async fn create(
    State(state): State<AppState>,
    body: JsonBody<NewToken>,
) -> Result<(StatusCode, Json<NewTokenAnswer>), ApiError> {
    let Json(t) = body?;
    let Some(role) = t.role.as_deref() else {
        return Err(ApiError::bad_request("give the token a role: read, operator or admin"));
    };
    let role = AccessRole::parse(role)?;
    let expires_at = expiry(t.expires_in.as_deref(), t.expires_at.as_ref(), now_ms())?;
    let (token, secret) = state.store.create_token(&t.name, role, expires_at).await?;
    Ok((StatusCode::CREATED, Json(NewTokenAnswer { token, secret })))
}

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(state.store.list_tokens().await?))
}

pub async fn revoke(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    state.store.revoke_token(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::expiry;
    use serde_json::{json, Value};

    const NOW: i64 = 1_700_000_000_000;

    fn check(expires_in: Option<&str>, expires_at: Option<Value>, expected: Result<Option<i64>, ()>) {
        let got = expiry(expires_in, expires_at.as_ref(), NOW).map_err(|_| ());
        assert_eq!(got, expected, "{expires_in:?} {expires_at:?}");
    }

    #[test]
    fn expiries() {
        check(None, None, Ok(None));
        check(Some("1h"), None, Ok(Some(NOW + 3_600_000)));
        check(Some("30d"), None, Ok(Some(NOW + 2_592_000_000)));
        check(None, Some(json!(1_800_000_000_000_i64)), Ok(Some(1_800_000_000_000)));
        check(None, Some(json!("2030-01-31T00:00:00Z")), Ok(Some(1_896_048_000_000)));
        check(Some("soon"), None, Err(()));
        check(Some("1h"), Some(json!(1)), Err(()));
        check(None, Some(json!("tomorrow")), Err(()));
        check(None, Some(json!(1.5)), Err(()));
        check(None, Some(json!(true)), Err(()));
    }
}
