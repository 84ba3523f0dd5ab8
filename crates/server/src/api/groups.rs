//! `/groups`: groups of the directory and their members.

use super::{JsonBody, Paging, QueryArgs};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use roster_store::{Group, GroupInput, GroupPatch, Member, Page};
use serde::Deserialize;

pub async fn list(State(state): State<AppState>, q: QueryArgs<Paging>) -> Result<Json<Page<Group>>, ApiError> {
    let axum::extract::Query(p) = q?;
    let page = state
        .store
        .list_groups(p.display_name.as_deref(), p.q.as_deref(), p.offset.unwrap_or(0), p.limit.unwrap_or(100))
        .await?;
    Ok(Json(page))
}

pub async fn create(
    State(state): State<AppState>,
    body: JsonBody<GroupInput>,
) -> Result<(StatusCode, Json<Group>), ApiError> {
    let Json(input) = body?;
    Ok((StatusCode::CREATED, Json(state.store.create_group(input).await?)))
}

pub async fn show(State(state): State<AppState>, Path(key): Path<String>) -> Result<Json<Group>, ApiError> {
    Ok(Json(state.store.find_group(&key).await?))
}

pub async fn update(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: JsonBody<GroupPatch>,
) -> Result<Json<Group>, ApiError> {
    let Json(patch) = body?;
    let g = state.store.find_group(&key).await?;
    Ok(Json(state.store.update_group(&g.id, patch).await?))
}

pub async fn delete(State(state): State<AppState>, Path(key): Path<String>) -> Result<StatusCode, ApiError> {
    let g = state.store.find_group(&key).await?;
    state.store.delete_group(&g.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn members(
    State(state): State<AppState>,
    Path(key): Path<String>,
    q: QueryArgs<Paging>,
) -> Result<Json<Page<Member>>, ApiError> {
    let axum::extract::Query(p) = q?;
    let g = state.store.find_group(&key).await?;
    Ok(Json(state.store.group_members(&g.id, p.offset.unwrap_or(0), p.limit.unwrap_or(100)).await?))
}

/// A member to add: a user or a group, by id or name.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    user: Option<String>,
    group: Option<String>,
    /// Many users at once (ids or userNames), in one transaction.
    users: Option<Vec<String>>,
}

pub async fn add_member(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: JsonBody<NewMember>,
) -> Result<StatusCode, ApiError> {
    let Json(m) = body?;
    let g = state.store.find_group(&key).await?;
    match (m.user, m.group) {
        (None, None) if m.users.is_some() => {
            let users = m.users.unwrap_or_default();
            if users.len() > 100_000 {
                return Err(ApiError::bad_request("at most 100000 users per request"));
            }
            state.store.add_user_members(&g.id, &users).await?;
        }
        (Some(_), _) | (_, Some(_)) if m.users.is_some() => {
            return Err(ApiError::bad_request("give exactly one of \"user\", \"group\" or \"users\""))
        }
        (Some(u), None) => {
            let user = state.store.find_user(&u).await?;
            state.store.add_user_member(&g.id, &user.id).await?;
        }
        (None, Some(child)) => {
            let child = state.store.find_group(&child).await?;
            state.store.add_group_member(&g.id, &child.id).await?;
        }
        _ => return Err(ApiError::bad_request("give exactly one of \"user\" or \"group\"")),
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_member(
    State(state): State<AppState>,
    Path((key, member)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let g = state.store.find_group(&key).await?;
    // The member may be named by id, userName or group displayName.
    let id = match state.store.find_user(&member).await {
        Ok(u) => u.id.into_string(),
        Err(_) => match state.store.find_group(&member).await {
            Ok(child) => child.id.into_string(),
            Err(_) => member,
        },
    };
    state.store.remove_member(&g.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
