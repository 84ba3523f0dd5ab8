//! `/users`: the people of the directory.

use super::{JsonBody, QueryArgs};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use roster_store::{EffectiveAssignment, ListQuery, Page, UpsertOutcome, User, UserId, UserInput, UserPatch};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How a request names a manager: by id or userName.
async fn resolve_manager(state: &AppState, v: &mut Value) -> Result<(), ApiError> {
    if let Some(m) = v.get("manager").and_then(Value::as_str).map(str::to_string) {
        let manager = state
            .store
            .find_user(&m)
            .await
            .map_err(|_| ApiError::bad_request(format!("manager {m:?} is not a user of the directory")))?;
        v["manager"] = json!(manager.id);
    }
    Ok(())
}

fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

pub async fn list(State(state): State<AppState>, q: QueryArgs<ListQuery>) -> Result<Json<Page<User>>, ApiError> {
    let axum::extract::Query(q) = q?;
    Ok(Json(state.store.list_users(&q).await?))
}

pub async fn create(
    State(state): State<AppState>,
    body: JsonBody<Value>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let Json(mut v) = body?;
    resolve_manager(&state, &mut v).await?;
    let input: UserInput = parse(v)?;
    Ok((StatusCode::CREATED, Json(state.store.create_user(input).await?)))
}

pub async fn show(State(state): State<AppState>, Path(key): Path<String>) -> Result<Json<User>, ApiError> {
    Ok(Json(state.store.find_user(&key).await?))
}

pub async fn update(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: JsonBody<Value>,
) -> Result<Json<User>, ApiError> {
    let Json(mut v) = body?;
    let user = state.store.find_user(&key).await?;
    resolve_manager(&state, &mut v).await?;
    let patch: UserPatch = parse(v)?;
    Ok(Json(state.store.update_user(&user.id, patch).await?))
}

async fn set_active(state: &AppState, key: &str, active: bool) -> Result<Json<User>, ApiError> {
    let user = state.store.find_user(key).await?;
    let patch = UserPatch { active: Some(Some(active)), ..UserPatch::default() };
    Ok(Json(state.store.update_user(&user.id, patch).await?))
}

pub async fn enable(State(state): State<AppState>, Path(key): Path<String>) -> Result<Json<User>, ApiError> {
    set_active(&state, &key, true).await
}

pub async fn disable(State(state): State<AppState>, Path(key): Path<String>) -> Result<Json<User>, ApiError> {
    set_active(&state, &key, false).await
}

pub async fn delete(State(state): State<AppState>, Path(key): Path<String>) -> Result<Json<User>, ApiError> {
    let user = state.store.find_user(&key).await?;
    Ok(Json(state.store.delete_user(&user.id).await?))
}

pub async fn restore(State(state): State<AppState>, Path(key): Path<String>) -> Result<Json<User>, ApiError> {
    let user = state.store.find_user(&key).await?;
    Ok(Json(state.store.restore_user(&user.id).await?))
}

pub async fn assignments(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<Vec<EffectiveAssignment>>, ApiError> {
    let user = state.store.find_user(&key).await?;
    Ok(Json(state.store.effective_assignments_of_user(&user.id).await?))
}

/// A batch of users to create or update by userName (CSV import).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bulk {
    /// Users by userName; `manager` is a userName or id.
    #[schema(value_type = Vec<UserInput>)]
    upsert: Vec<Value>,
}

/// What a bulk request did to each row, by its index.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkAnswer {
    results: Vec<BulkRow>,
}

/// What became of one row.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkRow {
    index: usize,
    status: BulkStatus,
    /// The user's id (when written).
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<UserId>,
    /// Why the row was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl BulkRow {
    fn refused(index: usize, error: impl Into<String>) -> BulkRow {
        BulkRow { index, status: BulkStatus::Error, id: None, error: Some(error.into()) }
    }
}

/// What became of one row.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BulkStatus {
    Created,
    Updated,
    Unchanged,
    Error,
}

/// The most rows one bulk request may carry.
const MAX_BULK: usize = 5000;

pub async fn bulk(State(state): State<AppState>, body: JsonBody<Bulk>) -> Result<Json<BulkAnswer>, ApiError> {
    let Json(bulk) = body?;
    if bulk.upsert.len() > MAX_BULK {
        return Err(ApiError::bad_request(format!("at most {MAX_BULK} rows per bulk request")));
    }
    // Rows that cannot even be read are reported by index; the rest go to the store.
    let mut results: Vec<Option<BulkRow>> = (0..bulk.upsert.len()).map(|_| None).collect();
    let mut inputs = Vec::new();
    let mut positions = Vec::new();
    for (i, mut row) in bulk.upsert.into_iter().enumerate() {
        // The manager is resolved by the store, inside the batch's transaction.
        let manager = match row.get_mut("manager").map(Value::take) {
            Some(Value::String(m)) => Some(m),
            Some(Value::Null) | None => None,
            Some(_) => {
                results[i] = Some(BulkRow::refused(i, "manager must be a userName or id"));
                continue;
            }
        };
        if let Some(obj) = row.as_object_mut() {
            obj.remove("manager");
        }
        match parse::<UserInput>(row) {
            Ok(input) => {
                inputs.push((input, manager));
                positions.push(i);
            }
            Err(e) => results[i] = Some(BulkRow::refused(i, e.message)),
        }
    }
    let written = state.store.upsert_users_with_managers(inputs).await?;
    for (pos, outcome) in positions.into_iter().zip(written) {
        results[pos] = Some(match outcome {
            Ok((user, o)) => {
                let status = match o {
                    UpsertOutcome::Created => BulkStatus::Created,
                    UpsertOutcome::Updated => BulkStatus::Updated,
                    UpsertOutcome::Unchanged => BulkStatus::Unchanged,
                };
                BulkRow { index: pos, status, id: Some(user.id), error: None }
            }
            Err(e) => BulkRow::refused(pos, ApiError::from(e).message),
        });
    }
    Ok(Json(BulkAnswer { results: results.into_iter().flatten().collect() }))
}
