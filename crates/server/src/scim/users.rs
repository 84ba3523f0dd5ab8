//! `/scim/v2/Users` over the directory's users: list (filter, sort, pages,
//! attribute selection), `.search`, get, create, replace, patch and a soft delete.
//! A user is written as the whole set of attributes the directory keeps: a PATCH
//! is applied to the user's SCIM form and the result stored, so that every path
//! form of RFC 7644 (and the forms identity providers send) has one meaning.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_scim::{apply_patch, get_ci, ENTERPRISE_USER, USER_SCHEMA};
use roster_store::{ScimUserWrite, User, UserId, UserInput, UserPatch};
use serde_json::{json, Map, Value};

use super::{check_version, json_body, patch_operations, time, Listing, Problem, PREFIX};
use crate::AppState;

fn version(u: &User) -> String {
    super::version(u.updated_at)
}

/// A user in its SCIM form (core and enterprise extension).
pub fn to_scim(u: &User) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([USER_SCHEMA, ENTERPRISE_USER]));
    out.insert("id".into(), json!(u.id.as_str()));
    if let Some(e) = &u.external_id {
        out.insert("externalId".into(), json!(e));
    }
    out.insert("userName".into(), json!(u.user_name));
    let mut name = Map::new();
    if let Some(g) = &u.given_name {
        name.insert("givenName".into(), json!(g));
    }
    if let Some(f) = &u.surname {
        name.insert("familyName".into(), json!(f));
    }
    if !name.is_empty() {
        out.insert("name".into(), Value::Object(name));
    }
    for (key, value) in
        [("displayName", &u.display_name), ("title", &u.job_title), ("preferredLanguage", &u.preferred_language)]
    {
        if let Some(v) = value {
            out.insert(key.into(), json!(v));
        }
    }
    out.insert("active".into(), json!(u.active));
    if let Some(m) = &u.mail {
        out.insert("emails".into(), json!([{"value": m, "type": "work", "primary": true}]));
    }
    let mut phones: Vec<Value> = Vec::new();
    if let Some(m) = &u.mobile {
        phones.push(json!({"value": m, "type": "mobile"}));
    }
    phones.extend(u.business_phones.iter().map(|p| json!({"value": p, "type": "work"})));
    if !phones.is_empty() {
        out.insert("phoneNumbers".into(), Value::Array(phones));
    }
    let mut address = Map::new();
    for (key, value) in [
        ("streetAddress", &u.street_address),
        ("locality", &u.city),
        ("postalCode", &u.postal_code),
        ("country", &u.country),
    ] {
        if let Some(v) = value {
            address.insert(key.into(), json!(v));
        }
    }
    if !address.is_empty() {
        address.insert("type".into(), json!("work"));
        address.insert("primary".into(), json!(true));
        out.insert("addresses".into(), json!([address]));
    }
    let mut enterprise = Map::new();
    if let Some(e) = &u.employee_id {
        enterprise.insert("employeeNumber".into(), json!(e));
    }
    if let Some(d) = &u.department {
        enterprise.insert("department".into(), json!(d));
    }
    if let Some(m) = &u.manager {
        enterprise.insert("manager".into(), json!({"value": m.as_str(), "$ref": format!("{PREFIX}/Users/{m}")}));
    }
    if !enterprise.is_empty() {
        out.insert(ENTERPRISE_USER.into(), Value::Object(enterprise));
    }
    out.insert(
        "meta".into(),
        json!({"resourceType": "User", "created": time(u.created_at), "lastModified": time(u.updated_at),
               "location": format!("{PREFIX}/Users/{}", u.id), "version": version(u)}),
    );
    Value::Object(out)
}

fn text(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, Problem> {
    match get_ci(obj, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(Problem::bad("invalidValue", format!("{key} must be a string, not {other}"))),
    }
}

fn entries<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Vec<&'a Map<String, Value>>, Problem> {
    match get_ci(obj, key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_object().ok_or_else(|| Problem::bad("invalidValue", format!("each of {key} is an object"))))
            .collect(),
        Some(_) => Err(Problem::bad("invalidValue", format!("{key} must be a list"))),
    }
}

/// The entry of `type` (or, failing that, the primary one, or the first).
fn pick<'a>(items: &[&'a Map<String, Value>], kind: &str) -> Option<&'a Map<String, Value>> {
    let of = |want: &str| items.iter().find(|i| get_ci(i, "type").and_then(Value::as_str) == Some(want)).copied();
    of(kind)
        .or_else(|| items.iter().find(|i| get_ci(i, "primary") == Some(&Value::Bool(true))).copied())
        .or_else(|| items.first().copied())
}

fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A SCIM user as the directory's attributes (a missing attribute is none).
fn from_scim(obj: &Map<String, Value>) -> Result<UserInput, Problem> {
    let user_name = text(obj, "userName")?.ok_or_else(|| Problem::bad("invalidValue", "userName is required"))?;
    let name = get_ci(obj, "name").and_then(Value::as_object).cloned().unwrap_or_default();
    let active = match get_ci(obj, "active") {
        None | Some(Value::Null) => None,
        Some(v) => {
            Some(boolean(v).ok_or_else(|| Problem::bad("invalidValue", format!("active must be a boolean, not {v}")))?)
        }
    };
    let emails = entries(obj, "emails")?;
    let phones = entries(obj, "phoneNumbers")?;
    let addresses = entries(obj, "addresses")?;
    let mobile = phones.iter().find(|p| get_ci(p, "type").and_then(Value::as_str) == Some("mobile"));
    let business: Vec<String> = phones
        .iter()
        .filter(|p| get_ci(p, "type").and_then(Value::as_str) != Some("mobile"))
        .filter_map(|p| get_ci(p, "value").and_then(Value::as_str).map(str::to_string))
        .collect();
    let address = pick(&addresses, "work");
    let enterprise = get_ci(obj, ENTERPRISE_USER).and_then(Value::as_object).cloned().unwrap_or_default();
    let manager = match get_ci(&enterprise, "manager") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(m)) => text(&m.clone(), "value")?,
        Some(other) => return Err(Problem::bad("invalidValue", format!("manager must be an object, not {other}"))),
    };
    let in_entry = |e: Option<&Map<String, Value>>, key: &str| e.map(|e| text(e, key)).transpose().map(Option::flatten);
    Ok(UserInput {
        user_name,
        external_id: text(obj, "externalId")?,
        active,
        display_name: text(obj, "displayName")?.or(text(&name, "formatted")?),
        given_name: text(&name, "givenName")?,
        surname: text(&name, "familyName")?,
        mail: in_entry(pick(&emails, "work"), "value")?,
        job_title: text(obj, "title")?,
        department: text(&enterprise, "department")?,
        employee_id: text(&enterprise, "employeeNumber")?,
        manager: manager.map(UserId::from_stored),
        mobile: in_entry(mobile.copied(), "value")?,
        business_phones: Some(business),
        street_address: in_entry(address, "streetAddress")?,
        city: in_entry(address, "locality")?,
        postal_code: in_entry(address, "postalCode")?,
        country: in_entry(address, "country")?,
        preferred_language: text(obj, "preferredLanguage")?,
        ..UserInput::default()
    })
}

/// The attributes whose values live in the directory's columns.
const KEPT: &[&str] = &[
    "schemas",
    "id",
    "meta",
    "password",
    "userName",
    "externalId",
    "active",
    "displayName",
    "title",
    "preferredLanguage",
];

/// The multi-valued attributes kept whole beside the directory's one email,
/// phones and work address.
const LISTS: &[&str] = &["emails", "phoneNumbers", "addresses"];

/// Sub-attributes of `obj` but `kept` (any case) and nulls.
fn rest(obj: &Value, kept: &[&str]) -> Option<Value> {
    let rest: Map<String, Value> = obj
        .as_object()?
        .iter()
        .filter(|(k, v)| !v.is_null() && !kept.iter().any(|x| x.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!rest.is_empty()).then_some(Value::Object(rest))
}

/// What a SCIM user holds beyond the directory's attributes: the rest of
/// `name` and of the enterprise extension, the whole lists of emails, phone
/// numbers and addresses, and every other attribute as given (never a password).
fn extra_of(obj: &Map<String, Value>) -> Value {
    let mut extra = Map::new();
    for (k, v) in obj {
        if v.is_null() || KEPT.iter().any(|x| x.eq_ignore_ascii_case(k)) {
            continue;
        }
        let (key, value) = if k.eq_ignore_ascii_case("name") {
            ("name".to_string(), rest(v, &["givenName", "familyName"]))
        } else if k.eq_ignore_ascii_case(ENTERPRISE_USER) {
            (ENTERPRISE_USER.to_string(), rest(v, &["employeeNumber", "department", "manager"]))
        } else {
            let key = LISTS.iter().find(|l| l.eq_ignore_ascii_case(k)).map_or_else(|| k.clone(), |l| l.to_string());
            (key, Some(v.clone()))
        };
        if let Some(value) = value {
            extra.insert(key, value);
        }
    }
    Value::Object(extra)
}

/// Whether a kept list still says what the directory says (else the directory,
/// changed since by another way, wins).
fn still_matches(key: &str, list: &Value, u: &User) -> bool {
    let probe = Map::from_iter([("userName".to_string(), json!("probe")), (key.to_string(), list.clone())]);
    let Ok(i) = from_scim(&probe) else { return false };
    match key {
        "emails" => i.mail == u.mail,
        "phoneNumbers" => i.mobile == u.mobile && i.business_phones.unwrap_or_default() == u.business_phones,
        _ => {
            (&i.street_address, &i.city, &i.postal_code, &i.country)
                == (&u.street_address, &u.city, &u.postal_code, &u.country)
        }
    }
}

/// A user in its SCIM form with what it was given beyond the directory.
pub fn to_scim_with(u: &User, extra: Option<&Value>) -> Value {
    let mut out = to_scim(u);
    let (Some(Value::Object(extra)), Some(obj)) = (extra, out.as_object_mut()) else { return out };
    for (k, v) in extra {
        if k == "name" || k == ENTERPRISE_USER {
            let target = obj.entry(k.clone()).or_insert_with(|| json!({}));
            if let (Some(target), Some(more)) = (target.as_object_mut(), v.as_object()) {
                for (sk, sv) in more {
                    target.entry(sk.clone()).or_insert_with(|| sv.clone());
                }
            }
        } else if LISTS.contains(&k.as_str()) {
            if still_matches(k, v, u) {
                obj.insert(k.clone(), v.clone());
            }
        } else if !obj.contains_key(k) {
            obj.insert(k.clone(), v.clone());
            if k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
                if let Some(Value::Array(schemas)) = obj.get_mut("schemas") {
                    schemas.push(json!(k));
                }
            }
        }
    }
    out
}

/// A replacement of every attribute SCIM reaches (the others are left alone).
fn replacement(i: UserInput) -> UserPatch {
    UserPatch {
        user_name: Some(Some(i.user_name)),
        external_id: Some(i.external_id),
        active: Some(Some(i.active.unwrap_or(true))),
        display_name: Some(i.display_name),
        given_name: Some(i.given_name),
        surname: Some(i.surname),
        mail: Some(i.mail),
        job_title: Some(i.job_title),
        department: Some(i.department),
        employee_id: Some(i.employee_id),
        manager: Some(i.manager),
        mobile: Some(i.mobile),
        business_phones: Some(i.business_phones),
        street_address: Some(i.street_address),
        city: Some(i.city),
        postal_code: Some(i.postal_code),
        country: Some(i.country),
        preferred_language: Some(i.preferred_language),
        ..UserPatch::default()
    }
}

/// `GET /Users` and `POST /Users/.search` (RFC 7644 §3.4.2, §3.4.3)
pub async fn list(State(state): State<AppState>, Listing(a): Listing) -> Result<Response, Problem> {
    let state = &state;
    let q = a.query()?;
    let page = state.store.scim_users(&q).await?.map_err(|e| Problem::bad("invalidFilter", e.to_string()))?;
    let ids: Vec<&str> = page.items.iter().map(|u| u.id.as_str()).collect();
    let extras = state.store.scim_extras(&ids).await?;
    let resources = page.items.iter().map(|u| to_scim_with(u, extras.get(u.id.as_str()))).collect();
    Ok(a.answer(page.total, resources))
}

/// A user that is not deleted, in its SCIM form.
async fn live_user(state: &AppState, id: &str) -> Result<(User, Value), Problem> {
    match state.store.user(&UserId::from_stored(id.to_string())).await {
        Ok(u) if !u.is_deleted() => {
            let extra = state.store.scim_extras(&[u.id.as_str()]).await?.remove(u.id.as_str());
            let resource = to_scim_with(&u, extra.as_ref());
            Ok((u, resource))
        }
        Ok(_) | Err(roster_store::StoreError::NotFound { .. }) => Err(Problem::not_found(&format!("User {id}"))),
        Err(e) => Err(e.into()),
    }
}

fn resource_response(status: StatusCode, u: &User, extra: &Value) -> Response {
    let resource = to_scim_with(u, Some(extra));
    super::resource_response(status, &resource, &version(u), &format!("{PREFIX}/Users/{}", u.id))
}

/// `GET /Users/{id}` (a matching `If-None-Match` answers 304).
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let (u, resource) = live_user(&state, &id).await?;
    if super::unchanged(&headers, &version(&u)) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    Ok(super::resource_response(StatusCode::OK, &resource, &version(&u), &format!("{PREFIX}/Users/{}", u.id)))
}

/// `POST /Users`
pub async fn create(State(state): State<AppState>, body: Bytes) -> Result<Response, Problem> {
    let obj = json_body(&body)?;
    let input = from_scim(&obj)?;
    let extra = extra_of(&obj);
    let u = state.store.scim_write_user(ScimUserWrite::Create(Box::new(input)), &extra).await?;
    Ok(resource_response(StatusCode::CREATED, &u, &extra))
}

/// `PUT /Users/{id}`: every attribute the directory keeps, as given.
pub async fn replace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let obj = json_body(&body)?;
    let (u, _) = live_user(&state, &id).await?;
    check_version(&headers, &version(&u))?;
    if let Some(given) = get_ci(&obj, "id").and_then(Value::as_str) {
        if given != u.id.as_str() {
            return Err(Problem::bad("mutability", "id is read-only"));
        }
    }
    let input = from_scim(&obj)?;
    let extra = extra_of(&obj);
    let u = state.store.scim_write_user(ScimUserWrite::Update(u.id, Box::new(replacement(input))), &extra).await?;
    Ok(resource_response(StatusCode::OK, &u, &extra))
}

/// `PATCH /Users/{id}`: the operations applied to the user's SCIM form.
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let ops = patch_operations(&json_body(&body)?)?;
    let (u, mut resource) = live_user(&state, &id).await?;
    check_version(&headers, &version(&u))?;
    apply_patch(&mut resource, &ops).map_err(|e| Problem::bad(e.scim_type(), e.to_string()))?;
    let after = resource.as_object().cloned().unwrap_or_default();
    if get_ci(&after, "id").and_then(Value::as_str) != Some(u.id.as_str()) {
        return Err(Problem::bad("mutability", "id is read-only"));
    }
    let input = from_scim(&after)?;
    let extra = extra_of(&after);
    let u = state.store.scim_write_user(ScimUserWrite::Update(u.id, Box::new(replacement(input))), &extra).await?;
    Ok(resource_response(StatusCode::OK, &u, &extra))
}

/// `DELETE /Users/{id}`: a soft delete, restorable for 30 days as in the directory.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let (u, _) = live_user(&state, &id).await?;
    check_version(&headers, &version(&u))?;
    state.store.delete_user(&u.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
