//! `/apps`: applications, their roles and assignments.

use super::{JsonBody, Paging, QueryArgs};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use roster_store::{
    AppRole, AppRoleInput, Application, ApplicationInput, Assignment, AssignmentTarget, EffectiveAssignment, Page,
    RoleId,
};
use serde::Deserialize;

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Application>>, ApiError> {
    Ok(Json(state.store.list_apps().await?))
}

pub async fn create(
    State(state): State<AppState>,
    body: JsonBody<ApplicationInput>,
) -> Result<(StatusCode, Json<Application>), ApiError> {
    let Json(input) = body?;
    // The app starts with its template's settings, mappings and default role.
    Ok((StatusCode::CREATED, Json(roster_engine::gallery::create_app(&state.store, input).await?)))
}

pub async fn show(State(state): State<AppState>, Path(key): Path<String>) -> Result<Json<Application>, ApiError> {
    Ok(Json(state.store.find_app(&key).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppPatch {
    name: String,
}

pub async fn update(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: JsonBody<AppPatch>,
) -> Result<Json<Application>, ApiError> {
    let Json(p) = body?;
    let app = state.store.find_app(&key).await?;
    Ok(Json(state.store.rename_app(&app.id, &p.name).await?))
}

pub async fn delete(State(state): State<AppState>, Path(key): Path<String>) -> Result<StatusCode, ApiError> {
    let app = state.store.find_app(&key).await?;
    state.store.delete_app(&app.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn roles(State(state): State<AppState>, Path(key): Path<String>) -> Result<Json<Vec<AppRole>>, ApiError> {
    let app = state.store.find_app(&key).await?;
    Ok(Json(state.store.app_roles(&app.id).await?))
}

pub async fn create_role(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: JsonBody<AppRoleInput>,
) -> Result<(StatusCode, Json<AppRole>), ApiError> {
    let Json(input) = body?;
    let app = state.store.find_app(&key).await?;
    Ok((StatusCode::CREATED, Json(state.store.create_role(&app.id, input).await?)))
}

pub async fn delete_role(
    State(state): State<AppState>,
    Path((key, role)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let app = state.store.find_app(&key).await?;
    let role = state.store.find_role(&app.id, Some(&role)).await?;
    state.store.delete_role(&app.id, &role.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn assignments(
    State(state): State<AppState>,
    Path(key): Path<String>,
    q: QueryArgs<Paging>,
) -> Result<Json<Page<Assignment>>, ApiError> {
    let axum::extract::Query(p) = q?;
    let app = state.store.find_app(&key).await?;
    Ok(Json(state.store.app_assignments(&app.id, p.offset.unwrap_or(0), p.limit.unwrap_or(100)).await?))
}

/// Who to assign or unassign: exactly one of a user or a group (id or name).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    user: Option<String>,
    group: Option<String>,
    role: Option<String>,
}

async fn principal(state: &AppState, p: &Principal) -> Result<AssignmentTarget, ApiError> {
    match (&p.user, &p.group) {
        (Some(u), None) => Ok(AssignmentTarget::User(state.store.find_user(u).await?.id)),
        (None, Some(g)) => Ok(AssignmentTarget::Group(state.store.find_group(g).await?.id)),
        _ => Err(ApiError::bad_request("give exactly one of \"user\" or \"group\"")),
    }
}

pub async fn assign(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: JsonBody<Principal>,
) -> Result<(StatusCode, Json<Assignment>), ApiError> {
    let Json(p) = body?;
    let app = state.store.find_app(&key).await?;
    let target = principal(&state, &p).await?;
    Ok((StatusCode::CREATED, Json(state.store.assign(&app.id, &target, p.role.as_deref()).await?)))
}

pub async fn unassign(
    State(state): State<AppState>,
    Path(key): Path<String>,
    q: QueryArgs<Principal>,
) -> Result<StatusCode, ApiError> {
    let axum::extract::Query(p) = q?;
    let app = state.store.find_app(&key).await?;
    let target = principal(&state, &p).await?;
    let role: Option<RoleId> = match &p.role {
        Some(r) => Some(state.store.find_role(&app.id, Some(r)).await?.id),
        None => None,
    };
    state.store.unassign(&app.id, &target, role.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn effective(
    State(state): State<AppState>,
    Path(key): Path<String>,
    q: QueryArgs<Paging>,
) -> Result<Json<Page<EffectiveAssignment>>, ApiError> {
    let axum::extract::Query(p) = q?;
    let app = state.store.find_app(&key).await?;
    Ok(Json(state.store.effective_assignments_of_app(&app.id, p.offset.unwrap_or(0), p.limit.unwrap_or(100)).await?))
}
