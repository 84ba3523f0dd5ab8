//! `/sources`: inbound sources (HR systems), what they push, and the batches
//! held for approval. A push answers 202 with its batch: `applied` (each
//! record's outcome in the source's provisioning log, `/apps/{source}/provisioning/logs`),
//! `held` (too many disables: approve or reject it) or `queued` (still running).

use super::{engine, JsonBody};
use crate::auth::Principal;
use crate::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use roster_engine::inbound::{records, SourceSettings, SourceView};
use roster_store::inbound::InboundBatch;
use roster_store::AppId;
use serde::Deserialize;

/// The largest push or file taken (a 100,000-user Bulk request fits).
pub const MAX_UPLOAD: usize = 128 * 1024 * 1024;

/// A new source.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSource {
    /// Its name (unique among apps and sources), e.g. `Workday`.
    pub name: String,
    /// `hr-scim` (SCIM BulkRequest pushes) or `hr-csv` (CSV files).
    pub template: String,
}

async fn source_id(state: &AppState, key: &str) -> Result<AppId, ApiError> {
    let app = state.store.find_app(key).await?;
    if roster_engine::inbound::SourceTemplate::parse(&app.template).is_none() {
        return Err(ApiError::not_found(format!("{} is an app, not an inbound source", app.name)));
    }
    Ok(app.id)
}

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<SourceView>>, ApiError> {
    Ok(Json(engine(&state)?.sources().await?))
}

pub async fn create(
    State(state): State<AppState>,
    body: JsonBody<NewSource>,
) -> Result<(StatusCode, Json<SourceView>), ApiError> {
    let Json(input) = body?;
    Ok((StatusCode::CREATED, Json(engine(&state)?.create_source(&input.name, &input.template).await?)))
}

pub async fn show(State(state): State<AppState>, Path(key): Path<String>) -> Result<Json<SourceView>, ApiError> {
    let id = source_id(&state, &key).await?;
    Ok(Json(engine(&state)?.source(&id).await?))
}

pub async fn configure(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: JsonBody<SourceSettings>,
) -> Result<Json<SourceView>, ApiError> {
    let Json(settings) = body?;
    let id = source_id(&state, &key).await?;
    Ok(Json(engine(&state)?.configure_source(&id, settings).await?))
}

pub async fn delete(State(state): State<AppState>, Path(key): Path<String>) -> Result<StatusCode, ApiError> {
    let id = source_id(&state, &key).await?;
    state.store.delete_app(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn accepted(batch: InboundBatch) -> (StatusCode, Json<InboundBatch>) {
    (StatusCode::ACCEPTED, Json(batch))
}

/// A SCIM BulkRequest of users (`application/scim+json` or `application/json`).
pub async fn bulk_upload(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<InboundBatch>), ApiError> {
    let id = source_id(&state, &key).await?;
    let request: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not a JSON BulkRequest: {e}")))?;
    let users = records::bulk_users(&request).map_err(|e| ApiError::bad_request(e.0))?;
    Ok(accepted(engine(&state)?.submit_records(&id, "scim", users).await?))
}

/// A CSV file with a header row (`text/csv`).
pub async fn upload_csv(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<InboundBatch>), ApiError> {
    let id = source_id(&state, &key).await?;
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("the file is not UTF-8 text"))?;
    let rows = records::csv_rows(text).map_err(|e| ApiError::bad_request(e.0))?;
    Ok(accepted(engine(&state)?.submit_records(&id, "csv", rows).await?))
}

pub async fn batches(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<Vec<InboundBatch>>, ApiError> {
    let id = source_id(&state, &key).await?;
    Ok(Json(state.store.batches(&id, 200).await?))
}

async fn decide(
    state: &AppState,
    principal: &Principal,
    key: &str,
    batch: &str,
    approve: bool,
) -> Result<Json<InboundBatch>, ApiError> {
    let id = source_id(state, key).await?;
    Ok(Json(engine(state)?.decide_batch(&id, batch, approve, &principal.name).await?))
}

pub async fn approve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((key, batch)): Path<(String, String)>,
) -> Result<Json<InboundBatch>, ApiError> {
    decide(&state, &principal, &key, &batch, true).await
}

pub async fn reject(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path((key, batch)): Path<(String, String)>,
) -> Result<Json<InboundBatch>, ApiError> {
    decide(&state, &principal, &key, &batch, false).await
}
