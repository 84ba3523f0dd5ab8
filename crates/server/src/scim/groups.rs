//! `/scim/v2/Groups` over the directory's groups: list (filter on `id`,
//! `displayName`, `members.value`), `.search`, get (with members, users and
//! nested groups), create, replace, patch and delete. A write states the group's
//! name and members; the directory gets the difference (members added and
//! removed one by one, each a change the apps follow).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_scim::{apply_patch, get_ci, GROUP_SCHEMA};
use roster_store::{Group, GroupId, GroupInput, GroupPatch, Member, PrincipalKind, StoreError, UserId};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

use super::{check_version, json_body, patch_operations, time, Listing, Problem, PREFIX};
use crate::AppState;

/// Members read for one group, at most.
const MAX_MEMBERS: i64 = 100_000;

fn version(g: &Group) -> String {
    super::version(g.updated_at)
}

async fn members(state: &AppState, g: &GroupId) -> Result<Vec<Member>, Problem> {
    let mut out = Vec::new();
    loop {
        let page = state.store.group_members(g, out.len() as i64, 10_000).await?;
        let n = page.items.len();
        out.extend(page.items);
        if n == 0 || out.len() as i64 >= page.total || out.len() as i64 >= MAX_MEMBERS {
            return Ok(out);
        }
    }
}

/// A group in its SCIM form, with its members when given.
fn to_scim(g: &Group, members: Option<&[Member]>) -> Value {
    let mut out = json!({
        "schemas": [GROUP_SCHEMA],
        "id": g.id.as_str(),
        "displayName": g.display_name,
        "meta": {"resourceType": "Group", "created": time(g.created_at), "lastModified": time(g.updated_at),
                 "location": format!("{PREFIX}/Groups/{}", g.id), "version": version(g)},
    });
    if let Some(members) = members {
        let list: Vec<Value> = members
            .iter()
            .map(|m| {
                let (kind, path) = match m.kind {
                    PrincipalKind::Group => ("Group", "Groups"),
                    _ => ("User", "Users"),
                };
                json!({"value": m.id, "display": m.name, "type": kind, "$ref": format!("{PREFIX}/{path}/{}", m.id)})
            })
            .collect();
        out["members"] = Value::Array(list);
    }
    out
}

/// What a SCIM group holds beyond its name and members (an `externalId`...).
fn extra_of(obj: &Map<String, Value>) -> Value {
    let kept = ["schemas", "id", "meta", "displayName", "members"];
    Value::Object(
        obj.iter()
            .filter(|(k, v)| !v.is_null() && !kept.iter().any(|x| x.eq_ignore_ascii_case(k)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// A group's SCIM form with its extra.
fn with_extra(mut resource: Value, extra: Option<&Value>) -> Value {
    if let (Some(obj), Some(Value::Object(extra))) = (resource.as_object_mut(), extra) {
        for (k, v) in extra {
            obj.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    resource
}

async fn extra(state: &AppState, g: &GroupId) -> Result<Option<Value>, Problem> {
    Ok(state.store.scim_extras(&[g.as_str()]).await?.remove(g.as_str()))
}

/// What a SCIM group states: its name and its members' ids.
fn stated(obj: &Map<String, Value>) -> Result<(String, BTreeSet<String>), Problem> {
    let name = match get_ci(obj, "displayName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => return Err(Problem::bad("invalidValue", "displayName is required")),
    };
    let mut ids = BTreeSet::new();
    match get_ci(obj, "members") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                match item.as_object().and_then(|m| get_ci(m, "value")).and_then(Value::as_str) {
                    Some(id) => {
                        ids.insert(id.to_string());
                    }
                    None => return Err(Problem::bad("invalidValue", "each member has a value: the member's id")),
                }
            }
        }
        Some(_) => return Err(Problem::bad("invalidValue", "members must be a list")),
    }
    Ok((name, ids))
}

/// Whether each id names a user (not deleted) or a group; the first unknown one refused.
async fn kinds(state: &AppState, ids: &BTreeSet<String>) -> Result<Vec<(String, PrincipalKind)>, Problem> {
    let mut out = Vec::with_capacity(ids.len());
    let wanted: Vec<UserId> = ids.iter().map(|i| UserId::from_stored(i.clone())).collect();
    let users: BTreeSet<String> = state
        .store
        .users_by_ids(&wanted)
        .await?
        .into_iter()
        .filter(|u| !u.is_deleted())
        .map(|u| u.id.to_string())
        .collect();
    for id in ids {
        if users.contains(id) {
            out.push((id.clone(), PrincipalKind::User));
            continue;
        }
        match state.store.group(&GroupId::from_stored(id.clone())).await {
            Ok(_) => out.push((id.clone(), PrincipalKind::Group)),
            Err(StoreError::NotFound { .. }) => {
                return Err(Problem::bad(
                    "invalidValue",
                    format!("member {id} is neither a user nor a group of the directory"),
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Brings the group's members to `wanted`: adds the missing, removes the others.
async fn set_members(state: &AppState, g: &GroupId, wanted: &BTreeSet<String>) -> Result<(), Problem> {
    let now: BTreeSet<String> = members(state, g).await?.into_iter().map(|m| m.id).collect();
    let missing: BTreeSet<String> = wanted.difference(&now).cloned().collect();
    for (id, kind) in kinds(state, &missing).await? {
        match kind {
            PrincipalKind::Group => state.store.add_group_member(g, &GroupId::from_stored(id)).await?,
            _ => state.store.add_user_member(g, &UserId::from_stored(id)).await?,
        }
    }
    for id in now.difference(wanted) {
        match state.store.remove_member(g, id).await {
            Ok(()) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

async fn answer(state: &AppState, status: StatusCode, g: &GroupId) -> Result<Response, Problem> {
    let g = state.store.group(g).await?;
    let m = members(state, &g.id).await?;
    let resource = with_extra(to_scim(&g, Some(&m)), extra(state, &g.id).await?.as_ref());
    Ok(super::resource_response(status, &resource, &version(&g), &format!("{PREFIX}/Groups/{}", g.id)))
}

async fn group(state: &AppState, id: &str) -> Result<Group, Problem> {
    match state.store.group(&GroupId::from_stored(id.to_string())).await {
        Ok(g) => Ok(g),
        Err(StoreError::NotFound { .. }) => Err(Problem::not_found(&format!("Group {id}"))),
        Err(e) => Err(e.into()),
    }
}

/// `GET /Groups` and `POST /Groups/.search` (RFC 7644 §3.4.2, §3.4.3)
pub async fn list(State(state): State<AppState>, Listing(a): Listing) -> Result<Response, Problem> {
    let state = &state;
    let q = a.query()?;
    let page = state.store.scim_groups(&q).await?.map_err(|e| Problem::bad("invalidFilter", e.to_string()))?;
    let mut resources = Vec::with_capacity(page.items.len());
    let ids: Vec<&str> = page.items.iter().map(|g| g.id.as_str()).collect();
    let extras = state.store.scim_extras(&ids).await?;
    for g in &page.items {
        let m = members(state, &g.id).await?;
        resources.push(with_extra(to_scim(g, Some(&m)), extras.get(g.id.as_str())));
    }
    Ok(a.answer(page.total, resources))
}

/// `GET /Groups/{id}`
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let g = group(&state, &id).await?;
    if super::unchanged(&headers, &version(&g)) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    answer(&state, StatusCode::OK, &g.id).await
}

/// `POST /Groups`: the members are checked before the group is made.
pub async fn create(State(state): State<AppState>, body: Bytes) -> Result<Response, Problem> {
    let obj = json_body(&body)?;
    let (name, wanted) = stated(&obj)?;
    let members = kinds(&state, &wanted).await?;
    let g = state.store.create_group(GroupInput { display_name: name, ..GroupInput::default() }).await?;
    state.store.set_scim_extra(g.id.as_str(), &extra_of(&obj)).await?;
    for (id, kind) in members {
        match kind {
            PrincipalKind::Group => state.store.add_group_member(&g.id, &GroupId::from_stored(id)).await?,
            _ => state.store.add_user_member(&g.id, &UserId::from_stored(id)).await?,
        }
    }
    answer(&state, StatusCode::CREATED, &g.id).await
}

async fn write(state: &AppState, g: &Group, obj: &Map<String, Value>) -> Result<Response, Problem> {
    let (name, wanted) = stated(obj)?;
    kinds(state, &wanted).await?;
    let new_extra = extra_of(obj);
    let old_extra = extra(state, &g.id).await?.unwrap_or_else(|| json!({}));
    if name != g.display_name || new_extra != old_extra {
        state.store.update_group(&g.id, GroupPatch { display_name: Some(name), ..GroupPatch::default() }).await?;
        state.store.set_scim_extra(g.id.as_str(), &new_extra).await?;
    }
    set_members(state, &g.id, &wanted).await?;
    answer(state, StatusCode::OK, &g.id).await
}

/// `PUT /Groups/{id}`: the name and every member, as given.
pub async fn replace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let obj = json_body(&body)?;
    let g = group(&state, &id).await?;
    check_version(&headers, &version(&g))?;
    write(&state, &g, &obj).await
}

/// `PATCH /Groups/{id}`: the operations applied to the group's SCIM form.
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let ops = patch_operations(&json_body(&body)?)?;
    let g = group(&state, &id).await?;
    check_version(&headers, &version(&g))?;
    let m = members(&state, &g.id).await?;
    let mut resource = with_extra(to_scim(&g, Some(&m)), extra(&state, &g.id).await?.as_ref());
    apply_patch(&mut resource, &ops).map_err(|e| Problem::bad(e.scim_type(), e.to_string()))?;
    let after = resource.as_object().cloned().unwrap_or_default();
    write(&state, &g, &after).await
}

/// `DELETE /Groups/{id}`
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let g = group(&state, &id).await?;
    check_version(&headers, &version(&g))?;
    state.store.delete_group(&g.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
