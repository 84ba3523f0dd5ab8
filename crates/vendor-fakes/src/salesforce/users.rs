//! The fake's User sObject rows: create (`POST /sobjects/User`), read
//! (`GET /sobjects/User/{id}?fields=`), update (`PATCH`, 204) and the
//! refused delete, with the Object Reference's rules: required fields,
//! field lengths, Username in email form and unique in every org, a unique
//! nickname, profile and role references.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::{authorize, error, Refusal, SalesforceState, SharedState};

/// A User field: its API name, its label in messages, its length limit,
/// whether a create must carry it and whether a client may write it.
pub(super) struct Field {
    pub(super) name: &'static str,
    label: &'static str,
    max: usize,
    required: bool,
    writable: bool,
}

const fn field(name: &'static str, label: &'static str, max: usize, required: bool) -> Field {
    Field { name, label, max, required, writable: true }
}

const fn read_only(name: &'static str) -> Field {
    Field { name, label: name, max: 0, required: false, writable: false }
}

/// The User fields the fake knows. `CommunityNickname` is required here
/// as Salesforce's own user form requires it.
pub(super) const USER_FIELDS: &[Field] = &[
    read_only("Id"),
    field("Username", "Username", 80, true),
    field("LastName", "Last Name", 80, true),
    field("FirstName", "First Name", 40, false),
    field("MiddleName", "Middle Name", 40, false),
    field("Suffix", "Suffix", 40, false),
    field("Email", "Email", 128, true),
    field("Alias", "Alias", 8, true),
    field("CommunityNickname", "Nickname", 40, true),
    field("TimeZoneSidKey", "Time Zone", 40, true),
    field("LocaleSidKey", "Locale", 40, true),
    field("EmailEncodingKey", "Email Encoding", 40, true),
    field("LanguageLocaleKey", "Language", 40, true),
    field("ProfileId", "Profile ID", 18, true),
    field("UserRoleId", "Role ID", 18, false),
    field("ManagerId", "Manager ID", 18, false),
    field("IsActive", "Active", 0, false),
    field("FederationIdentifier", "SAML Federation ID", 512, false),
    field("Title", "Title", 80, false),
    field("Department", "Department", 80, false),
    field("Division", "Division", 80, false),
    field("CompanyName", "Company Name", 80, false),
    field("EmployeeNumber", "Employee Number", 20, false),
    field("Phone", "Phone", 40, false),
    field("MobilePhone", "Mobile", 40, false),
    field("Fax", "Fax", 40, false),
    field("Street", "Street", 255, false),
    field("City", "City", 40, false),
    field("State", "State/Province", 80, false),
    field("PostalCode", "Zip/Postal Code", 20, false),
    field("Country", "Country", 80, false),
    read_only("UserType"),
    read_only("CreatedDate"),
];

fn rule(name: &str) -> Option<&'static Field> {
    USER_FIELDS.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

fn bad(code: &'static str, message: String, fields: &[&'static str]) -> Refusal {
    error(StatusCode::BAD_REQUEST, code, message, fields)
}

fn email_shaped(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, host)) => {
            !local.is_empty() && host.contains('.') && !host.contains('@') && !host.starts_with('.') && !s.contains(' ')
        }
        None => false,
    }
}

fn text<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    record.get(field).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The body's fields under their canonical names, each checked alone.
fn fields_of(body: &Value) -> Result<Map<String, Value>, Refusal> {
    let Value::Object(body) = body else {
        return Err(bad("JSON_PARSER_ERROR", "the body must be a JSON object of User fields".into(), &[]));
    };
    let mut out = Map::new();
    for (name, value) in body {
        let Some(f) = rule(name) else {
            return Err(bad("INVALID_FIELD", format!("No such column '{name}' on sobject of type User"), &[]));
        };
        if !f.writable {
            return Err(bad(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                format!(
                    "Unable to create/update fields: {}. Please check the security settings of this field.",
                    f.name
                ),
                &[f.name],
            ));
        }
        match (f.name, value) {
            (_, Value::Null) => {}
            ("IsActive", Value::Bool(_)) => {}
            ("IsActive", other) => {
                return Err(bad(
                    "JSON_PARSER_ERROR",
                    format!("Cannot deserialize instance of boolean from {other} value for field IsActive"),
                    &[],
                ))
            }
            (_, Value::String(s)) if s.chars().count() > f.max => {
                return Err(bad(
                    "STRING_TOO_LONG",
                    format!("{}: data value too large: {s} (max length={})", f.label, f.max),
                    &[f.name],
                ))
            }
            (_, Value::String(_)) => {}
            (_, other) => {
                return Err(bad(
                    "JSON_PARSER_ERROR",
                    format!("Cannot deserialize instance of string from {other} value for field {}", f.name),
                    &[],
                ))
            }
        }
        out.insert(f.name.to_string(), value.clone());
    }
    Ok(out)
}

/// The rules that look at the whole record and the org: formats,
/// references, uniqueness. `id` is the record's own id on an update.
fn check_record(st: &SalesforceState, record: &Map<String, Value>, id: Option<&str>) -> Result<(), Refusal> {
    let missing: Vec<&str> = USER_FIELDS
        .iter()
        .filter(|f| f.required && text(record, f.name).is_none_or(|s| s.trim().is_empty()))
        .map(|f| f.name)
        .collect();
    if !missing.is_empty() {
        return Err(bad(
            "REQUIRED_FIELD_MISSING",
            format!("Required fields are missing: [{}]", missing.join(", ")),
            &missing,
        ));
    }
    let username = text(record, "Username").unwrap_or_default();
    if !email_shaped(username) {
        // A choice: the documentation gives the rule, not the code.
        return Err(bad(
            "INVALID_NEW_VALUE",
            "Username must be in the form of an email address (for example, john@acme.com)".into(),
            &["Username"],
        ));
    }
    let email = text(record, "Email").unwrap_or_default();
    if !email_shaped(email) {
        return Err(bad("INVALID_EMAIL_ADDRESS", format!("Email: invalid email address: {email}"), &["Email"]));
    }
    let profile = text(record, "ProfileId").unwrap_or_default();
    if !st.org.profiles.iter().any(|p| p.id == profile) {
        return Err(bad(
            "FIELD_INTEGRITY_EXCEPTION",
            format!("Profile ID: id value of incorrect type: {profile}"),
            &["ProfileId"],
        ));
    }
    if let Some(role) = text(record, "UserRoleId") {
        if !st.org.roles.iter().any(|r| r.id == role) {
            return Err(bad(
                "FIELD_INTEGRITY_EXCEPTION",
                format!("Role ID: id value of incorrect type: {role}"),
                &["UserRoleId"],
            ));
        }
    }
    if let Some(manager) = text(record, "ManagerId") {
        if st.user(manager).is_none() {
            return Err(bad(
                "FIELD_INTEGRITY_EXCEPTION",
                format!("Manager ID: id value of incorrect type: {manager}"),
                &["ManagerId"],
            ));
        }
    }
    let others = || st.users.iter().filter(|u| u.get("Id").and_then(Value::as_str) != id);
    let taken =
        |field: &str, value: &str| others().any(|u| text(u, field).is_some_and(|v| v.eq_ignore_ascii_case(value)));
    if taken("Username", username) {
        return Err(bad(
            "DUPLICATE_USERNAME",
            "Duplicate Username.<br>The username already exists in this or another Salesforce organization. \
             Usernames must be unique across all Salesforce organizations."
                .into(),
            &["Username"],
        ));
    }
    let nickname = text(record, "CommunityNickname").unwrap_or_default();
    if taken("CommunityNickname", nickname) {
        // A choice: the documentation gives the rule (unique nickname), not the code.
        return Err(bad(
            "DUPLICATE_COMMUNITY_NICKNAME",
            format!("The nickname \"{nickname}\" is already in use in this organization: enter another one."),
            &["CommunityNickname"],
        ));
    }
    Ok(())
}

fn is_user(sobject: &str) -> bool {
    sobject.eq_ignore_ascii_case("User")
}

fn no_such_resource() -> Refusal {
    error(StatusCode::NOT_FOUND, "NOT_FOUND", "The requested resource does not exist", &[])
}

/// `POST /services/data/{version}/sobjects/User`.
pub(super) async fn create(
    State(state): State<SharedState>,
    Path((version, sobject)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Refusal> {
    let path = format!("/services/data/{version}/sobjects/{sobject}");
    let json: Option<Value> = serde_json::from_str(&body).ok();
    let kind = format!("sobjects/{sobject}");
    let mut st = authorize(&state, &headers, &version, ("POST", &kind, &path), json.clone())?;
    if !is_user(&sobject) {
        return Err(no_such_resource());
    }
    let json = json.ok_or_else(|| bad("JSON_PARSER_ERROR", "the body is not JSON".into(), &[]))?;
    let mut record = fields_of(&json)?;
    record.retain(|_, v| !v.is_null());
    check_record(&st, &record, None)?;
    let id = st.insert_user(record);
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "success": true, "errors": [] }))).into_response())
}

/// `GET /services/data/{version}/sobjects/User/{id}[?fields=a,b]`.
pub(super) async fn read(
    State(state): State<SharedState>,
    Path((version, sobject, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    let path = format!("/services/data/{version}/sobjects/{sobject}/{id}");
    let kind = format!("sobjects/{sobject}/{{id}}");
    let st = authorize(&state, &headers, &version, ("GET", &kind, &path), None)?;
    let user = st.user(&id).filter(|_| is_user(&sobject)).ok_or_else(no_such_resource)?;
    let mut names = Vec::new();
    let asked = params.get("fields").map(|f| f.split(',').map(str::trim).filter(|f| !f.is_empty()));
    for name in asked.into_iter().flatten() {
        let f =
            rule(name).ok_or_else(|| bad("INVALID_FIELD", format!("No such column '{name}' on entity 'User'"), &[]))?;
        names.push(f.name);
    }
    if names.is_empty() {
        names = USER_FIELDS.iter().map(|f| f.name).collect();
    }
    let mut out = Map::new();
    out.insert("attributes".into(), json!({"type": "User", "url": path}));
    for name in names {
        out.insert(name.into(), user.get(name).cloned().unwrap_or(Value::Null));
    }
    Ok((StatusCode::OK, Json(Value::Object(out))).into_response())
}

/// `PATCH /services/data/{version}/sobjects/User/{id}`: 204 on success.
pub(super) async fn update(
    State(state): State<SharedState>,
    Path((version, sobject, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Refusal> {
    let path = format!("/services/data/{version}/sobjects/{sobject}/{id}");
    let json: Option<Value> = serde_json::from_str(&body).ok();
    let kind = format!("sobjects/{sobject}/{{id}}");
    let mut st = authorize(&state, &headers, &version, ("PATCH", &kind, &path), json.clone())?;
    let index = st
        .users
        .iter()
        .position(|u| u.get("Id").and_then(Value::as_str) == Some(id.as_str()))
        .filter(|_| is_user(&sobject))
        .ok_or_else(no_such_resource)?;
    let json = json.ok_or_else(|| bad("JSON_PARSER_ERROR", "the body is not JSON".into(), &[]))?;
    let changes = fields_of(&json)?;
    let mut record = st.users[index].clone();
    for (name, value) in changes {
        if value.is_null() {
            record.remove(&name);
        } else {
            record.insert(name, value);
        }
    }
    check_record(&st, &record, Some(&id))?;
    st.users[index] = record;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /services/data/{version}/sobjects/User/{id}`: users cannot be
/// deleted, only deactivated (the User object has no delete call); the
/// 405 answer is a choice.
pub(super) async fn delete(
    State(state): State<SharedState>,
    Path((version, sobject, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Refusal {
    let path = format!("/services/data/{version}/sobjects/{sobject}/{id}");
    let kind = format!("sobjects/{sobject}/{{id}}");
    if let Err(r) = authorize(&state, &headers, &version, ("DELETE", &kind, &path), None) {
        return r;
    }
    if !is_user(&sobject) {
        return no_such_resource();
    }
    let message = "HTTP Method 'DELETE' not allowed. Allowed are HEAD,GET,PATCH";
    error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", message, &[])
}
