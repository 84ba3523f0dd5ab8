//! `/Groups` routes. Members are kept as a set beside the group's other
//! attributes, so member PATCHes on a 10,000-member group stay cheap; both
//! removal forms (`members[value eq "id"]` and `members` + value list)
//! are accepted unless [`SampleOptions`](crate::SampleOptions) says not.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_scim::{apply_patch, get_ci, Filter, ListResponse, MemberRemoval, PatchOp, PatchOperation, GROUP_SCHEMA};
use serde_json::{Map, Value};

use crate::http::{json_response, read_json, resource_response, str_attr, ApiError};
use crate::state::{new_id, set_meta, version_of, Group, SampleState};
use crate::users::{operations, params, path_id, P, Q};

/// Member entries by value: `(id, {"value": id, ...})`.
type Members = Vec<(String, Value)>;

/// A change to a group's member set.
enum MemberChange {
    Add(Vec<(String, Value)>),
    Replace(Vec<(String, Value)>),
    Clear,
    RemoveValues(Vec<String>),
    RemoveFilter(Filter),
}

/// Member entries `[{"value": id, ...}]` (a single object is accepted).
fn member_entries(v: &Value) -> Result<Vec<(String, Value)>, ApiError> {
    let items = match v {
        Value::Array(items) => items.as_slice(),
        Value::Object(_) => std::slice::from_ref(v),
        Value::Null => &[],
        _ => return Err(ApiError::bad("invalidValue", "members must be a list of {\"value\": id}")),
    };
    items
        .iter()
        .map(|m| match m.as_object().and_then(|o| get_ci(o, "value")) {
            Some(Value::String(id)) if !id.is_empty() => Ok((id.clone(), m.clone())),
            _ => Err(ApiError::bad("invalidValue", "each member needs a string \"value\"")),
        })
        .collect()
}

/// Checks and normalises a group body (members taken out).
fn prepare(body: Value, unknown: &str) -> Result<(Map<String, Value>, Option<Members>), ApiError> {
    let Value::Object(fields) = body else {
        return Err(ApiError::bad("invalidSyntax", "a group must be a JSON object"));
    };
    let mut out = Map::new();
    let mut members = None;
    for (k, v) in fields {
        match k.to_ascii_lowercase().as_str() {
            "id" | "meta" | "schemas" => {}
            "members" => members = Some(member_entries(&v)?),
            "displayname" if v.as_str().is_some_and(|s| !s.trim().is_empty()) => {
                out.insert("displayName".into(), v);
            }
            "externalid" if v.is_string() => {
                out.insert("externalId".into(), v);
            }
            "displayname" | "externalid" => {
                return Err(ApiError::bad("invalidValue", format!("attribute {k:?} has the wrong type")))
            }
            _ => return Err(ApiError::bad(unknown, format!("unknown attribute {k:?}"))),
        }
    }
    if !out.contains_key("displayName") {
        return Err(ApiError::bad("invalidValue", "displayName is required"));
    }
    out.insert("schemas".into(), Value::Array(vec![Value::String(GROUP_SCHEMA.into())]));
    Ok((out, members))
}

/// Splits PATCH operations into member changes and the others; counts the
/// member values.
fn split_ops(
    ops: Vec<PatchOperation>,
    forms: &[MemberRemoval],
) -> Result<(Vec<PatchOperation>, Vec<MemberChange>, u64), ApiError> {
    let refuse =
        |form: &str| ApiError::bad("invalidPath", format!("this app does not accept member removal by {form}"));
    let (mut others, mut changes, mut values) = (Vec::new(), Vec::new(), 0u64);
    for op in ops {
        let Some(path) = op.path.as_deref().map(str::trim) else {
            let mut op = op;
            if let Some(Value::Object(fields)) = &mut op.value {
                if let Some(key) = fields.keys().find(|k| k.eq_ignore_ascii_case("members")).cloned() {
                    let entries = member_entries(fields.get(&key).unwrap_or(&Value::Null))?;
                    fields.remove(&key);
                    values += entries.len() as u64;
                    changes.push(if op.op == PatchOp::Replace {
                        MemberChange::Replace(entries)
                    } else {
                        MemberChange::Add(entries)
                    });
                }
            }
            if op.value.as_ref().is_none_or(|v| v.as_object().is_none_or(|o| !o.is_empty())) {
                others.push(op);
            }
            continue;
        };
        let lower = path.to_ascii_lowercase();
        if !lower.starts_with("members")
            || lower.len() > 7 && !lower[7..].starts_with('[') && !lower[7..].starts_with('.')
        {
            others.push(op);
            continue;
        }
        if lower == "members" {
            let value = op.value.clone().unwrap_or(Value::Null);
            let entries = member_entries(&value)?;
            values += entries.len() as u64;
            changes.push(match op.op {
                PatchOp::Add => MemberChange::Add(entries),
                PatchOp::Replace => MemberChange::Replace(entries),
                PatchOp::Remove if entries.is_empty() => MemberChange::Clear,
                PatchOp::Remove if !forms.contains(&MemberRemoval::ValueList) => return Err(refuse("a value list")),
                PatchOp::Remove => MemberChange::RemoveValues(entries.into_iter().map(|(id, _)| id).collect()),
            });
            continue;
        }
        let inner = match path.get(8..path.len().saturating_sub(1)) {
            Some(inner) if op.op == PatchOp::Remove && lower.starts_with("members[") && lower.ends_with(']') => inner,
            _ => return Err(ApiError::bad("invalidPath", format!("unsupported members path {path:?}"))),
        };
        if !forms.contains(&MemberRemoval::Filter) {
            return Err(refuse("a members[value eq ...] filter"));
        }
        let filter = Filter::parse(inner).map_err(|e| ApiError::bad("invalidPath", e.to_string()))?;
        values += 1;
        changes.push(match filter.as_simple_eq() {
            Some((attr, v)) if attr.eq_ignore_ascii_case("value") => MemberChange::RemoveValues(vec![v.to_string()]),
            _ => MemberChange::RemoveFilter(filter),
        });
    }
    Ok((others, changes, values))
}

fn apply_changes(group: &mut Group, changes: Vec<MemberChange>) {
    for change in changes {
        match change {
            MemberChange::Add(entries) => entries.into_iter().for_each(|(id, e)| group.add_member(id, e)),
            MemberChange::Replace(entries) => {
                group.members.clear();
                entries.into_iter().for_each(|(id, e)| group.add_member(id, e));
            }
            MemberChange::Clear => group.members.clear(),
            MemberChange::RemoveValues(ids) => ids.iter().for_each(|id| {
                group.members.remove(id);
            }),
            MemberChange::RemoveFilter(f) => group.members.retain(|_, (_, e)| !f.matches(e)),
        }
    }
}

fn finish(group: &mut Group, id: &str, base_url: &str) {
    let version = version_of(&group.resource) + 1;
    if let Value::Object(o) = &mut group.resource {
        o.insert("id".into(), Value::String(id.to_string()));
        set_meta(o, "Group", format!("{base_url}/Groups/{id}"), version);
    }
}

/// `GET /Groups`
pub async fn list(State(state): State<SampleState>, q: Q) -> Result<Response, ApiError> {
    let params = params(q)?;
    let (start, count) = params.paging()?;
    let filter = params
        .get("filter")
        .map(Filter::parse)
        .transpose()
        .map_err(|e| ApiError::bad("invalidFilter", e.to_string()))?;
    state.count(if filter.is_some() { "GET /Groups?filter" } else { "GET /Groups" }, 1);
    let with_members = !params.excludes("members");
    let store = state.store().read().await;
    let matched: Vec<&Group> =
        match &filter {
            None => store.groups.values().collect(),
            Some(f) => match f.as_simple_eq() {
                Some((attr, v)) if !attr.eq_ignore_ascii_case("members") => {
                    let exact = attr == "id" || attr.eq_ignore_ascii_case("externalId");
                    store
                        .groups
                        .values()
                        .filter(|g| {
                            str_attr(&g.resource, attr).is_some_and(|a| {
                                if exact {
                                    a == v
                                } else {
                                    a.eq_ignore_ascii_case(v)
                                }
                            })
                        })
                        .collect()
                }
                _ => store.groups.values().filter(|g| f.matches(&g.render(true))).collect(),
            },
        };
    let total = matched.len() as u64;
    let resources =
        matched.into_iter().skip(start - 1).take(count).map(|g| params.project(g.render(with_members))).collect();
    Ok(json_response(StatusCode::OK, &ListResponse::new(total, start as u64, resources).to_value()))
}

/// `POST /Groups`
pub async fn create(State(state): State<SampleState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    state.count("POST /Groups", 1);
    let (resource, members) = prepare(read_json(&headers, body).await?, "invalidSyntax")?;
    let id = new_id();
    let mut group = Group { resource: Value::Object(resource), ..Group::default() };
    members.unwrap_or_default().into_iter().for_each(|(m, e)| group.add_member(m, e));
    finish(&mut group, &id, &state.base_url());
    let rendered = group.render(true);
    state.store().write().await.groups.insert(id, group);
    Ok(resource_response(StatusCode::CREATED, &rendered))
}

/// `GET /Groups/{id}` (honours `excludedAttributes=members`).
pub async fn get_one(State(state): State<SampleState>, p: P, q: Q) -> Result<Response, ApiError> {
    state.count("GET /Groups/{id}", 1);
    let (id, params) = (path_id(p)?, params(q)?);
    let store = state.store().read().await;
    let group = store.groups.get(&id).ok_or_else(|| ApiError::not_found("Group", &id))?;
    Ok(resource_response(StatusCode::OK, &params.project(group.render(!params.excludes("members")))))
}

/// `PUT /Groups/{id}`
pub async fn replace(
    State(state): State<SampleState>,
    p: P,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    state.count("PUT /Groups/{id}", 1);
    let id = path_id(p)?;
    let (mut resource, members) = prepare(read_json(&headers, body).await?, "invalidSyntax")?;
    let base_url = state.base_url();
    let mut store = state.store().write().await;
    let group = store.groups.get_mut(&id).ok_or_else(|| ApiError::not_found("Group", &id))?;
    if let Some(meta) = group.resource.get("meta") {
        resource.insert("meta".into(), meta.clone());
    }
    group.resource = Value::Object(resource);
    apply_changes(group, vec![MemberChange::Replace(members.unwrap_or_default())]);
    finish(group, &id, &base_url);
    Ok(resource_response(StatusCode::OK, &group.render(true)))
}

/// `PATCH /Groups/{id}`: 200 with the group (members left out when the
/// query has `excludedAttributes=members`).
pub async fn patch(
    State(state): State<SampleState>,
    p: P,
    q: Q,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    state.count("PATCH /Groups/{id}", 1);
    let (id, params) = (path_id(p)?, params(q)?);
    let ops = operations(&read_json(&headers, body).await?)?;
    state.refuse(&ops)?;
    let (others, changes, values) = split_ops(ops, &state.options().member_removal_forms)?;
    state.count("PATCH /Groups member values", values);
    let base_url = state.base_url();
    let mut store = state.store().write().await;
    let group = store.groups.get_mut(&id).ok_or_else(|| ApiError::not_found("Group", &id))?;
    let mut resource = group.resource.clone();
    apply_patch(&mut resource, &others).map_err(|e| ApiError::bad(e.scim_type(), e.to_string()))?;
    let (resource, _) = prepare(resource, "invalidPath")?;
    let meta = group.resource.get("meta").cloned();
    group.resource = Value::Object(resource);
    if let (Some(meta), Value::Object(o)) = (meta, &mut group.resource) {
        o.insert("meta".into(), meta);
    }
    apply_changes(group, changes);
    finish(group, &id, &base_url);
    Ok(resource_response(StatusCode::OK, &params.project(group.render(!params.excludes("members")))))
}

/// `DELETE /Groups/{id}`
pub async fn delete(State(state): State<SampleState>, p: P) -> Result<StatusCode, ApiError> {
    state.count("DELETE /Groups/{id}", 1);
    let id = path_id(p)?;
    match state.store().write().await.groups.remove(&id) {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(ApiError::not_found("Group", &id)),
    }
}
