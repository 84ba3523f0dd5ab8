//! HTTP plumbing shared by the routes: SCIM error responses, JSON
//! responses with the SCIM content type, bearer-token check, body reading
//! with the 1 MiB limit, query parameters and attribute projection.

use std::collections::HashMap;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, LOCATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roster_scim::{get_ci, ScimError};
use serde_json::{Map, Value};

use crate::state::SampleState;

/// Largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;
/// Largest page served.
pub const MAX_PAGE: usize = 1000;
/// Page size when the request gives no `count`.
pub const DEFAULT_PAGE: usize = 100;
const SCIM_JSON: &str = "application/scim+json";

/// An error answered in the SCIM error schema.
#[derive(Debug)]
pub struct ApiError(pub ScimError);

impl ApiError {
    /// An error with a status, optional `scimType` and detail.
    pub fn new(status: u16, scim_type: Option<&str>, detail: impl Into<String>) -> Self {
        ApiError(ScimError::new(status, scim_type, detail))
    }
    /// 400 with a `scimType`.
    pub fn bad(scim_type: &str, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }
    /// 404 for a resource.
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(404, None, format!("{kind} '{id}' not found"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = json_response(status, &self.0.to_value());
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"SCIM\""));
        }
        resp
    }
}

/// A JSON response with the SCIM content type.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON))], bytes).into_response()
}

/// A resource response with `ETag` (from `meta.version`) and, for 201,
/// `Location`.
pub fn resource_response(status: StatusCode, resource: &Value) -> Response {
    let mut resp = json_response(status, resource);
    let meta = resource.get("meta");
    if let Some(v) =
        meta.and_then(|m| m.get("version")).and_then(Value::as_str).and_then(|v| HeaderValue::from_str(v).ok())
    {
        resp.headers_mut().insert(ETAG, v);
    }
    if status == StatusCode::CREATED {
        if let Some(l) =
            meta.and_then(|m| m.get("location")).and_then(Value::as_str).and_then(|v| HeaderValue::from_str(v).ok())
        {
            resp.headers_mut().insert(LOCATION, l);
        }
    }
    resp
}

/// Compares two byte strings in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware: requires `Authorization: Bearer <token>` (except on
/// `ServiceProviderConfig`, the readiness probe).
pub async fn require_token(State(state): State<SampleState>, req: Request, next: Next) -> Response {
    if let Some(latency) = state.options().latency {
        tokio::time::sleep(latency).await;
    }
    if req.uri().path().ends_with("/ServiceProviderConfig") {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    match given {
        Some(t) if same_secret(t.as_bytes(), state.token().as_bytes()) => next.run(req).await,
        _ => ApiError::new(401, None, "Authorization failure. The authorization header is invalid or missing")
            .into_response(),
    }
}

/// Reads a JSON object body: 415 for a non-JSON content type, 413 over
/// 1 MiB, 400 `invalidSyntax` when it does not parse.
pub async fn read_json(headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    let ct = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/scim+json");
    if !ct.to_ascii_lowercase().contains("json") {
        return Err(ApiError::new(415, None, format!("unsupported content type {ct:?}")));
    }
    let bytes = to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::new(413, None, format!("request body larger than {MAX_BODY} bytes")))?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::bad("invalidSyntax", format!("body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad("invalidSyntax", "body must be a JSON object"));
    }
    Ok(value)
}

/// Query parameters looked up by name in any case.
pub struct Params(pub HashMap<String, String>);

impl Params {
    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `startIndex` (1-based, at least 1) and `count` (0..=1000).
    pub fn paging(&self) -> Result<(usize, usize), ApiError> {
        let num = |name: &str, default: i64| -> Result<i64, ApiError> {
            match self.get(name) {
                None => Ok(default),
                Some(v) => {
                    v.trim().parse().map_err(|_| ApiError::bad("invalidValue", format!("{name} must be an integer")))
                }
            }
        };
        let start = num("startIndex", 1)?.max(1) as usize;
        let count = num("count", DEFAULT_PAGE as i64)?.clamp(0, MAX_PAGE as i64) as usize;
        Ok((start, count))
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }

    /// Whether the projection leaves `attr` out (`attributes` /
    /// `excludedAttributes`).
    pub fn excludes(&self, attr: &str) -> bool {
        let attributes = self.list("attributes");
        if !attributes.is_empty() {
            return !attributes.iter().any(|a| top_level(a).eq_ignore_ascii_case(attr));
        }
        self.list("excludedAttributes").iter().any(|a| top_level(a).eq_ignore_ascii_case(attr))
    }

    /// Applies `attributes`/`excludedAttributes` to a resource (top-level
    /// attributes; `id` and `schemas` always stay).
    pub fn project(&self, resource: Value) -> Value {
        let attributes = self.list("attributes");
        let excluded = self.list("excludedAttributes");
        if attributes.is_empty() && excluded.is_empty() {
            return resource;
        }
        let Value::Object(map) = resource else {
            return resource;
        };
        let keep = |k: &str| {
            if k == "id" || k == "schemas" {
                return true;
            }
            if !attributes.is_empty() {
                return attributes.iter().any(|a| top_level(a).eq_ignore_ascii_case(k));
            }
            !excluded.iter().any(|a| top_level(a).eq_ignore_ascii_case(k))
        };
        Value::Object(map.into_iter().filter(|(k, _)| keep(k)).collect::<Map<String, Value>>())
    }
}

/// The top-level attribute (or extension URN) a projection name refers to.
fn top_level(name: &str) -> &str {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("urn:") {
        if lower.starts_with(&roster_scim::ENTERPRISE_USER.to_ascii_lowercase()) {
            return name.get(..roster_scim::ENTERPRISE_USER.len()).unwrap_or(name);
        }
        return name;
    }
    name.split(['.', '[']).next().unwrap_or(name)
}

/// A string attribute of `obj` (any case).
pub fn str_attr<'a>(obj: &'a Value, name: &str) -> Option<&'a str> {
    obj.as_object().and_then(|o| get_ci(o, name)).and_then(Value::as_str)
}

/// A request extension-free fallback: 404 in the SCIM error schema.
pub async fn not_found() -> ApiError {
    ApiError::new(404, None, "no such endpoint")
}

/// 405 in the SCIM error schema.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(405, None, "method not allowed on this endpoint")
}
