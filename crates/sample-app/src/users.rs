//! `/Users` routes: list with filter and paging, create, read, replace,
//! patch and delete. `userName` is unique (case-insensitive) and indexed.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_scim::{apply_patch, get_ci, Filter, ListResponse, PatchOperation, ENTERPRISE_USER, USER_SCHEMA};
use serde_json::{Map, Value};

use crate::http::{json_response, read_json, resource_response, str_attr, ApiError, Params};
use crate::state::{new_id, set_meta, version_of, SampleState, Store};

/// Core User attributes the app stores.
const KNOWN: &[&str] = &[
    "schemas",
    "externalId",
    "userName",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "password",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
];
const MULTI: &[&str] =
    &["emails", "phoneNumbers", "ims", "photos", "addresses", "groups", "entitlements", "roles", "x509Certificates"];

pub(crate) type Q = Result<Query<HashMap<String, String>>, QueryRejection>;
pub(crate) type P = Result<Path<String>, PathRejection>;

pub(crate) fn params(q: Q) -> Result<Params, ApiError> {
    q.map(|Query(m)| Params(m)).map_err(|e| ApiError::bad("invalidSyntax", e.body_text()))
}

pub(crate) fn path_id(p: P) -> Result<String, ApiError> {
    p.map(|Path(id)| id).map_err(|e| ApiError::new(404, None, e.body_text()))
}

/// Checks and normalises a user body; `unknown` is the scimType for an
/// unknown attribute (`invalidSyntax` on POST/PUT, `invalidPath` on PATCH).
fn prepare(body: Value, unknown: &str) -> Result<Map<String, Value>, ApiError> {
    let Value::Object(fields) = body else {
        return Err(ApiError::bad("invalidSyntax", "a user must be a JSON object"));
    };
    let mut out = Map::new();
    let mut enterprise = false;
    for (k, v) in fields {
        if k.eq_ignore_ascii_case("id") || k.eq_ignore_ascii_case("meta") || k.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if k.eq_ignore_ascii_case(ENTERPRISE_USER) {
            let Value::Object(ext) = v else {
                return Err(ApiError::bad("invalidValue", "the enterprise extension must be an object"));
            };
            if let Some(m) = get_ci(&ext, "manager") {
                if !m.is_object() || m.get("value").and_then(Value::as_str).is_none() {
                    return Err(ApiError::bad("invalidValue", "manager must be {\"value\": id}"));
                }
            }
            enterprise = true;
            out.insert(ENTERPRISE_USER.to_string(), Value::Object(ext));
            continue;
        }
        let Some(known) = KNOWN.iter().find(|a| a.eq_ignore_ascii_case(&k)) else {
            return Err(ApiError::bad(unknown, format!("unknown attribute {k:?}")));
        };
        let ok = match *known {
            "active" => v.is_boolean(),
            "name" => v.is_object(),
            "userName" => v.as_str().is_some_and(|s| !s.trim().is_empty()),
            "password" => continue,
            m if MULTI.contains(&m) => v.as_array().is_some_and(|a| a.iter().all(Value::is_object)),
            _ => v.is_string(),
        };
        if !ok {
            return Err(ApiError::bad("invalidValue", format!("attribute {k:?} has the wrong type")));
        }
        out.insert(known.to_string(), v);
    }
    if !out.contains_key("userName") {
        return Err(ApiError::bad("invalidValue", "userName is required"));
    }
    let mut schemas = vec![Value::String(USER_SCHEMA.into())];
    if enterprise {
        schemas.push(Value::String(ENTERPRISE_USER.into()));
    }
    out.insert("schemas".into(), Value::Array(schemas));
    Ok(out)
}

/// Stores `user` (prepared, without id) under `id`, checking uniqueness of
/// userName against other users; returns the stored resource.
fn save(
    store: &mut Store,
    base_url: &str,
    id: &str,
    mut user: Map<String, Value>,
    create: bool,
) -> Result<Value, ApiError> {
    let previous = store.users.get(id).cloned();
    if !create && previous.is_none() {
        return Err(ApiError::not_found("User", id));
    }
    let name = user.get("userName").and_then(Value::as_str).unwrap_or_default().to_string();
    let key = name.to_lowercase();
    if store.user_names.get(&key).is_some_and(|other| other != id) {
        return Err(ApiError::new(409, Some("uniqueness"), format!("userName {name:?} is already taken")));
    }
    if let Some(meta) = previous.as_ref().and_then(|p| p.get("meta")) {
        user.insert("meta".into(), meta.clone());
    }
    user.insert("id".into(), Value::String(id.to_string()));
    let version = previous.as_ref().map_or(0, version_of) + 1;
    set_meta(&mut user, "User", format!("{base_url}/Users/{id}"), version);
    if let Some(old_name) = previous.as_ref().and_then(|p| str_attr(p, "userName")) {
        let old_key = old_name.to_lowercase();
        store.user_names.remove(&old_key);
    }
    store.user_names.insert(key, id.to_string());
    let user = Value::Object(user);
    store.users.insert(id.to_string(), user.clone());
    Ok(user)
}

/// `GET /Users`
pub async fn list(State(state): State<SampleState>, q: Q) -> Result<Response, ApiError> {
    let params = params(q)?;
    let (start, count) = params.paging()?;
    let filter = params
        .get("filter")
        .map(Filter::parse)
        .transpose()
        .map_err(|e| ApiError::bad("invalidFilter", e.to_string()))?;
    state.count(if filter.is_some() { "GET /Users?filter" } else { "GET /Users" }, 1);
    let store = state.store().read().await;
    let (total, page): (usize, Vec<&Value>) = match &filter {
        None => (store.users.len(), store.users.values().skip(start - 1).take(count).collect()),
        Some(f) => {
            let matched: Vec<&Value> = match f.as_simple_eq() {
                Some((attr, v)) if attr.eq_ignore_ascii_case("userName") => {
                    store.user_id_by_name(v).and_then(|id| store.users.get(id)).into_iter().collect()
                }
                Some(("id", v)) => store.users.get(v).into_iter().collect(),
                _ => store.users.values().filter(|u| f.matches(u)).collect(),
            };
            (matched.len(), matched.into_iter().skip(start - 1).take(count).collect())
        }
    };
    let resources = page.into_iter().map(|u| params.project(u.clone())).collect();
    Ok(json_response(StatusCode::OK, &ListResponse::new(total as u64, start as u64, resources).to_value()))
}

/// `POST /Users`
pub async fn create(State(state): State<SampleState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    state.count("POST /Users", 1);
    let user = state.keep(prepare(read_json(&headers, body).await?, "invalidSyntax")?);
    let saved = save(&mut *state.store().write().await, &state.base_url(), &new_id(), user, true)?;
    Ok(resource_response(StatusCode::CREATED, &saved))
}

/// `GET /Users/{id}`
pub async fn get_one(State(state): State<SampleState>, p: P, q: Q) -> Result<Response, ApiError> {
    state.count("GET /Users/{id}", 1);
    let (id, params) = (path_id(p)?, params(q)?);
    let user = state.store().read().await.users.get(&id).cloned().ok_or_else(|| ApiError::not_found("User", &id))?;
    Ok(resource_response(StatusCode::OK, &params.project(user)))
}

/// `PUT /Users/{id}`
pub async fn replace(
    State(state): State<SampleState>,
    p: P,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    state.count("PUT /Users/{id}", 1);
    let id = path_id(p)?;
    let user = state.keep(prepare(read_json(&headers, body).await?, "invalidSyntax")?);
    let mut store = state.store().write().await;
    state.check_immutable(store.users.get(&id), &user)?;
    let saved = save(&mut store, &state.base_url(), &id, user, false)?;
    Ok(resource_response(StatusCode::OK, &saved))
}

/// The operations of a PATCH body.
pub(crate) fn operations(body: &Value) -> Result<Vec<PatchOperation>, ApiError> {
    let ops = body
        .as_object()
        .and_then(|o| get_ci(o, "Operations"))
        .ok_or_else(|| ApiError::bad("invalidSyntax", "a PATCH body needs Operations"))?;
    serde_json::from_value(ops.clone()).map_err(|e| ApiError::bad("invalidSyntax", format!("bad Operations: {e}")))
}

/// `PATCH /Users/{id}`: 200 with the resource.
pub async fn patch(
    State(state): State<SampleState>,
    p: P,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    state.count("PATCH /Users/{id}", 1);
    let id = path_id(p)?;
    let ops = operations(&read_json(&headers, body).await?)?;
    state.refuse(&ops)?;
    let base_url = state.base_url();
    let mut store = state.store().write().await;
    let mut user = store.users.get(&id).cloned().ok_or_else(|| ApiError::not_found("User", &id))?;
    apply_patch(&mut user, &ops).map_err(|e| ApiError::bad(e.scim_type(), e.to_string()))?;
    let user = state.keep(prepare(user, "invalidPath")?);
    state.check_immutable(store.users.get(&id), &user)?;
    Ok(resource_response(StatusCode::OK, &save(&mut store, &base_url, &id, user, false)?))
}

/// `DELETE /Users/{id}`
pub async fn delete(State(state): State<SampleState>, p: P) -> Result<StatusCode, ApiError> {
    state.count("DELETE /Users/{id}", 1);
    let id = path_id(p)?;
    if state.delete_user_behind_back(&id).await {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("User", &id))
    }
}
