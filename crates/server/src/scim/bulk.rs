//! `POST /scim/v2/Bulk` (RFC 7644 §3.7): many operations in one request, run
//! in order through the same handlers as single requests. A `bulkId` names a
//! resource made earlier in the request, so that `"bulkId:u1"` anywhere in a
//! later operation's data or path stands for its id (a group created with
//! members made in the same request). `failOnErrors` stops the run after that
//! many errors: the operations after it are not run.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_scim::get_ci;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

use super::{groups, scim_response, users, Problem};
use crate::AppState;

/// The most operations one request may carry (advertised).
pub const MAX_OPERATIONS: usize = 10_000;
/// The largest Bulk body (advertised).
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;
const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// Replaces every `bulkId:X` string in `v` by the id made for `X`; the first
/// reference to no earlier resource is returned.
fn resolve(v: &mut Value, ids: &HashMap<String, String>) -> Result<(), String> {
    match v {
        Value::String(s) => {
            if let Some(reference) = s.strip_prefix("bulkId:") {
                match ids.get(reference) {
                    Some(id) => *s = id.clone(),
                    None => return Err(reference.to_string()),
                }
            }
        }
        Value::Array(items) => {
            for i in items {
                resolve(i, ids)?;
            }
        }
        Value::Object(map) => {
            for (_, i) in map.iter_mut() {
                resolve(i, ids)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A path with its `bulkId:X` segments replaced; the first unknown reference.
fn resolve_path(path: &str, ids: &HashMap<String, String>) -> (String, Option<String>) {
    let mut unknown = None;
    let segments: Vec<String> = path
        .split('/')
        .map(|seg| match seg.strip_prefix("bulkId:") {
            Some(reference) => match ids.get(reference) {
                Some(id) => id.clone(),
                None => {
                    unknown.get_or_insert_with(|| reference.to_string());
                    seg.to_string()
                }
            },
            None => seg.to_string(),
        })
        .collect();
    (segments.join("/"), unknown)
}

/// Runs one operation through the single-request handlers.
async fn run(state: &AppState, method: &str, path: &str, data: Option<Value>, version: Option<&str>) -> Response {
    let body = Bytes::from(data.map(|d| d.to_string()).unwrap_or_default());
    let mut headers = HeaderMap::new();
    if let Some(v) = version.and_then(|v| v.parse().ok()) {
        headers.insert(axum::http::header::IF_MATCH, v);
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let s = State(state.clone());
    let result = match (method.to_ascii_uppercase().as_str(), parts.as_slice()) {
        ("POST", ["Users"]) => users::create(s, body).await,
        ("POST", ["Groups"]) => groups::create(s, body).await,
        ("PUT", ["Users", id]) => users::replace(s, Path(id.to_string()), headers, body).await,
        ("PUT", ["Groups", id]) => groups::replace(s, Path(id.to_string()), headers, body).await,
        ("PATCH", ["Users", id]) => users::patch(s, Path(id.to_string()), headers, body).await,
        ("PATCH", ["Groups", id]) => groups::patch(s, Path(id.to_string()), headers, body).await,
        ("DELETE", ["Users", id]) => users::delete(s, Path(id.to_string()), headers).await,
        ("DELETE", ["Groups", id]) => groups::delete(s, Path(id.to_string()), headers).await,
        _ => Err(Problem::bad("invalidPath", format!("a Bulk operation cannot {method} {path}"))),
    };
    match result {
        Ok(r) => r,
        Err(p) => p.into_response(),
    }
}

/// What one operation's answer says: status, id, location, version, and the body of an error.
async fn outcome(r: Response) -> (u16, Option<Value>) {
    let status = r.status().as_u16();
    let body = axum::body::to_bytes(r.into_body(), 4 * 1024 * 1024).await.unwrap_or_default();
    (status, serde_json::from_slice(&body).ok())
}

/// `POST /Bulk`
pub async fn bulk(State(state): State<AppState>, body: Bytes) -> Result<Response, Problem> {
    if body.len() > MAX_PAYLOAD {
        return Err(Problem::new(413, None, format!("a Bulk request holds at most {MAX_PAYLOAD} bytes")));
    }
    let request: Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(Value::Object(m)) => m,
        _ => return Err(Problem::bad("invalidSyntax", "a Bulk request is a JSON object")),
    };
    let schemas = get_ci(&request, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|v| v.as_str() == Some(BULK_REQUEST))) {
        return Err(Problem::bad("invalidSyntax", format!("a Bulk request names the schema {BULK_REQUEST}")));
    }
    let Some(operations) = get_ci(&request, "Operations").and_then(Value::as_array) else {
        return Err(Problem::bad("invalidSyntax", "a Bulk request carries Operations"));
    };
    if operations.len() > MAX_OPERATIONS {
        return Err(Problem::new(413, None, format!("a Bulk request holds at most {MAX_OPERATIONS} operations")));
    }
    let fail_on = match get_ci(&request, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(n),
            _ => return Err(Problem::bad("invalidValue", "failOnErrors is a whole number of at least 1")),
        },
    };
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut answers = Vec::with_capacity(operations.len());
    let mut errors = 0u64;
    for op in operations {
        if fail_on.is_some_and(|n| errors >= n) {
            break;
        }
        let Some(op) = op.as_object() else {
            return Err(Problem::bad("invalidSyntax", "each Bulk operation is an object"));
        };
        let method = get_ci(op, "method").and_then(Value::as_str).unwrap_or_default().to_string();
        let bulk_id = get_ci(op, "bulkId").and_then(Value::as_str).map(str::to_string);
        let version = get_ci(op, "version").and_then(Value::as_str).map(str::to_string);
        let path = get_ci(op, "path").and_then(Value::as_str).unwrap_or_default().to_string();
        let mut data = get_ci(op, "data").cloned();
        let mut answer = json!({"method": method});
        if let Some(b) = &bulk_id {
            answer["bulkId"] = json!(b);
        }
        let (path, in_path) = resolve_path(&path, &ids);
        let unresolved = in_path.or_else(|| data.as_mut().and_then(|d| resolve(d, &ids).err()));
        let (status, body) = match unresolved {
            Some(reference) => {
                let p = Problem::new(
                    409,
                    Some("invalidValue"),
                    format!("bulkId:{reference} names no resource made before"),
                );
                outcome(p.into_response()).await
            }
            None if method.eq_ignore_ascii_case("POST") && bulk_id.is_none() => {
                outcome(Problem::bad("invalidValue", "a POST in a Bulk request has a bulkId").into_response()).await
            }
            None => outcome(run(&state, &method, &path, data, version.as_deref()).await).await,
        };
        answer["status"] = json!(status.to_string());
        match &body {
            Some(b) if status < 300 => {
                if let (Some(id), Some(bulk)) = (b["id"].as_str(), &bulk_id) {
                    ids.insert(bulk.clone(), id.to_string());
                }
                if let Some(location) = b["meta"]["location"].as_str() {
                    answer["location"] = json!(location);
                }
                if let Some(v) = b["meta"]["version"].as_str() {
                    answer["version"] = json!(v);
                }
            }
            Some(b) => {
                errors += 1;
                answer["response"] = b.clone();
            }
            None if status >= 300 => errors += 1,
            None => {}
        }
        answers.push(answer);
    }
    Ok(scim_response(StatusCode::OK, &json!({"schemas": [BULK_RESPONSE], "Operations": answers})))
}
