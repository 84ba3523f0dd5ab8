//! `/tokens`: admin API tokens. A token's secret is returned once, at creation.

use super::JsonBody;
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use roster_store::ApiToken;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
}

pub async fn create(
    State(state): State<AppState>,
    body: JsonBody<NewToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(t) = body?;
    let (token, secret) = state.store.create_token(&t.name).await?;
    Ok((StatusCode::CREATED, Json(json!({"token": token, "secret": secret}))))
}

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(state.store.list_tokens().await?))
}

pub async fn revoke(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    state.store.revoke_token(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
