//! `/apps/{app}/provisioning/handoff`: the hand-off of an app in manual mode
//! (JSON, or CSV with `?format=csv`) and its confirmation, after which the
//! accounts it lists count as provisioned.

use super::engine;
use super::{JsonBody, QueryArgs};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

/// `?format=json` (default) or `csv`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HandoffArgs {
    format: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Path(key): Path<String>,
    q: QueryArgs<HandoffArgs>,
) -> Result<Response, ApiError> {
    let axum::extract::Query(args) = q?;
    let app = state.store.find_app(&key).await?;
    let handoff = engine(&state)?.handoff(&app.id).await?;
    match args.format.as_deref() {
        None | Some("json") => Ok(Json(handoff).into_response()),
        Some("csv") => {
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], roster_engine::handoff::handoff_csv(&handoff))
                .into_response())
        }
        Some(other) => Err(ApiError::bad_request(format!("format {other:?} is not json or csv"))),
    }
}

/// Which hand-off the admin applied.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    id: i64,
}

pub async fn confirm(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: JsonBody<Confirm>,
) -> Result<Json<roster_store::ConfirmedHandoff>, ApiError> {
    let Json(c) = body?;
    let app = state.store.find_app(&key).await?;
    Ok(Json(engine(&state)?.confirm_handoff(&app.id, c.id).await?))
}
