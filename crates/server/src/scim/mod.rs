//! roster's own SCIM 2.0 service provider at `/scim/v2` (RFC 7643/7644), over
//! the directory: what HR systems and identity tools push lands in the
//! directory, and flows on to the apps through the change feed like any other
//! change. Bearer tokens with the `scim` scope (`roster token create --scope
//! scim`) or an admin's reach it; every error is in the SCIM error schema.

mod bulk;
mod groups;
mod users;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use roster_scim::{ListResponse, ScimError, ENTERPRISE_USER, GROUP_SCHEMA, USER_SCHEMA};
use roster_store::{AccessRole, StoreError, TokenCheck};
use serde_json::{json, Value};

use crate::AppState;

/// Where the service provider is served.
pub const PREFIX: &str = "/scim/v2";
/// The largest page a list answers.
pub const MAX_RESULTS: i64 = 1000;
/// The largest request body.
const MAX_BODY: usize = 1024 * 1024;
const SCIM_JSON: &str = "application/scim+json";

/// A SCIM error answer.
#[derive(Debug)]
pub struct Problem(ScimError);

impl Problem {
    pub fn new(status: u16, scim_type: Option<&str>, detail: impl Into<String>) -> Problem {
        Problem(ScimError::new(status, scim_type, detail))
    }
    pub fn bad(scim_type: &str, detail: impl Into<String>) -> Problem {
        Problem::new(400, Some(scim_type), detail)
    }
    pub fn not_found(what: &str) -> Problem {
        Problem::new(404, None, format!("{what} not found"))
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::BAD_REQUEST);
        scim_response(status, &self.0.to_value())
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        match e {
            StoreError::NotFound { .. } => Problem::new(404, None, e.to_string()),
            StoreError::Conflict { message } => Problem::new(409, Some("uniqueness"), message),
            StoreError::Invalid { message } => Problem::bad("invalidValue", message),
            StoreError::Fenced { message } => Problem::new(409, None, message),
            other => {
                tracing::error!(error = %other, "store failure on the SCIM service");
                Problem::new(500, None, "the server could not complete the request; see its log")
            }
        }
    }
}

/// A JSON answer with SCIM's media type.
pub fn scim_response(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, SCIM_JSON)], body.to_string()).into_response()
}

/// A resource's version, as `meta.version` and the `ETag` say it.
pub fn version(updated_at: i64) -> String {
    format!("W/\"{updated_at}\"")
}

/// A time as SCIM writes it (RFC 3339, UTC).
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// A resource, with its `ETag` and `Location`.
pub fn resource_response(status: StatusCode, body: &Value, version: &str, location: &str) -> Response {
    let mut r = scim_response(status, body);
    if let Ok(v) = version.parse() {
        r.headers_mut().insert(header::ETAG, v);
    }
    if let Ok(v) = location.parse() {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Whether `If-None-Match` names the current version (a GET then answers 304).
pub fn unchanged(headers: &HeaderMap, current: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|given| given.split(',').any(|g| g.trim() == current || g.trim() == "*"))
}

/// A request body as a JSON object, or the SCIM error that says why not.
pub fn json_body(body: &Bytes) -> Result<serde_json::Map<String, Value>, Problem> {
    if body.len() > MAX_BODY {
        return Err(Problem::new(413, None, format!("the body is larger than {MAX_BODY} bytes")));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Problem::bad("invalidSyntax", "the body must be a JSON object")),
        Err(e) => Err(Problem::bad("invalidSyntax", format!("the body is not JSON: {e}"))),
    }
}

/// The `If-Match` a request carries, if any (`*` matches any version).
pub fn if_match(headers: &HeaderMap) -> Option<String> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string())
}

/// Refuses a write whose `If-Match` names another version (412).
pub fn check_version(headers: &HeaderMap, current: &str) -> Result<(), Problem> {
    match if_match(headers) {
        Some(given) if given != "*" && !given.split(',').any(|g| g.trim() == current) => {
            Err(Problem::new(412, None, format!("the resource changed: its version is {current}, not {given}")))
        }
        _ => Ok(()),
    }
}

/// The operations of a PATCH request (RFC 7644 §3.5.2), its schema checked.
pub fn patch_operations(obj: &serde_json::Map<String, Value>) -> Result<Vec<roster_scim::PatchOperation>, Problem> {
    let schemas = roster_scim::get_ci(obj, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|v| v.as_str() == Some(roster_scim::PATCH_OP))) {
        return Err(Problem::bad("invalidSyntax", format!("a PATCH names the schema {}", roster_scim::PATCH_OP)));
    }
    match roster_scim::get_ci(obj, "Operations") {
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| Problem::bad("invalidSyntax", e.to_string())),
        None => Err(Problem::bad("invalidSyntax", "a PATCH carries Operations")),
    }
}

/// The parameters of a list or a search (RFC 7644 §3.4.2, §3.4.3).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListArgs {
    filter: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

impl ListArgs {
    /// The parameters of a `POST /.search` body.
    pub fn from_search(obj: &serde_json::Map<String, Value>) -> ListArgs {
        use roster_scim::get_ci;
        let list = |key: &str| -> Option<String> {
            match get_ci(obj, key)? {
                Value::Array(items) => Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")),
                Value::String(s) => Some(s.clone()),
                _ => None,
            }
        };
        let text = |key: &str| get_ci(obj, key).and_then(Value::as_str).map(str::to_string);
        ListArgs {
            filter: text("filter"),
            sort_by: text("sortBy"),
            sort_order: text("sortOrder"),
            start_index: get_ci(obj, "startIndex").and_then(Value::as_i64),
            count: get_ci(obj, "count").and_then(Value::as_i64),
            attributes: list("attributes"),
            excluded_attributes: list("excludedAttributes"),
        }
    }

    /// The store query these parameters ask for.
    pub fn query(&self) -> Result<roster_store::ScimQuery, Problem> {
        let filter = match self.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => Some(roster_scim::Filter::parse(f).map_err(|e| Problem::bad("invalidFilter", e.to_string()))?),
            None => None,
        };
        let sort_by = match self.sort_by.as_deref() {
            Some(s) => {
                let p = roster_scim::AttrPath::parse(s)
                    .map_err(|e| Problem::bad("invalidValue", format!("sortBy: {e}")))?;
                Some(roster_scim::FilterPath {
                    schema: p.schema.clone(),
                    attr: p.attr.clone(),
                    sub_attr: p.sub_attr.clone(),
                })
            }
            None => None,
        };
        let descending = match self.sort_order.as_deref() {
            None | Some("ascending") => false,
            Some("descending") => true,
            Some(other) => {
                return Err(Problem::bad(
                    "invalidValue",
                    format!("sortOrder is ascending or descending, not {other:?}"),
                ))
            }
        };
        Ok(roster_store::ScimQuery {
            filter,
            sort_by,
            descending,
            start_index: self.start_index.unwrap_or(1).max(1),
            count: self.count.unwrap_or(100).clamp(0, MAX_RESULTS),
        })
    }

    /// A list response of `resources` (of `total` in all), with the attributes asked for.
    pub fn answer(&self, total: i64, resources: Vec<Value>) -> Response {
        let (attributes, excluded) = (names(self.attributes.as_deref()), names(self.excluded_attributes.as_deref()));
        let resources = resources.into_iter().map(|r| select(r, &attributes, &excluded)).collect();
        let start = self.start_index.unwrap_or(1).max(1) as u64;
        scim_response(
            StatusCode::OK,
            &ListResponse::new(u64::try_from(total).unwrap_or(0), start, resources).to_value(),
        )
    }
}

/// The parameters of a list: from the query of a GET, or the body of a `POST /.search`.
pub struct Listing(pub ListArgs);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Listing {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        if req.method() == axum::http::Method::POST {
            let body =
                Bytes::from_request(req, state).await.map_err(|e| Problem::bad("invalidSyntax", e.body_text()))?;
            return Ok(Listing(ListArgs::from_search(&json_body(&body)?)));
        }
        let axum::extract::Query(a) = axum::extract::Query::<ListArgs>::try_from_uri(req.uri())
            .map_err(|e| Problem::bad("invalidValue", e.body_text()))?;
        Ok(Listing(a))
    }
}

fn names(list: Option<&str>) -> Vec<String> {
    list.map(|l| l.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
}

/// The top-level key an attribute name selects (`name.givenName` → `name`;
/// an enterprise attribute → the extension's object; a core URN prefix dropped).
fn top_key(name: &str) -> String {
    if name.len() > ENTERPRISE_USER.len() && name[..ENTERPRISE_USER.len()].eq_ignore_ascii_case(ENTERPRISE_USER) {
        return ENTERPRISE_USER.to_string();
    }
    let name = match name.strip_prefix("urn:") {
        Some(_) => name.rsplit(':').next().unwrap_or(name),
        None => name,
    };
    name.split('.').next().unwrap_or(name).to_string()
}

/// Keeps the attributes asked for (`attributes`), or drops those not wanted
/// (`excludedAttributes`); `id`, `schemas` and `meta` always stay (RFC 7643 §7).
fn select(mut resource: Value, attributes: &[String], excluded: &[String]) -> Value {
    let Some(obj) = resource.as_object_mut() else { return resource };
    let always = |k: &str| ["id", "schemas", "meta"].iter().any(|a| a.eq_ignore_ascii_case(k));
    if !attributes.is_empty() {
        let keep: Vec<String> = attributes.iter().map(|a| top_key(a)).collect();
        obj.retain(|k, _| always(k) || keep.iter().any(|a| a.eq_ignore_ascii_case(k)));
    } else if !excluded.is_empty() {
        let drop: Vec<String> = excluded.iter().map(|a| top_key(a)).collect();
        obj.retain(|k, _| always(k) || !drop.iter().any(|a| a.eq_ignore_ascii_case(k)));
    }
    resource
}

/// The routes of the service provider, behind its token check.
pub fn router(state: AppState) -> Router<AppState> {
    let guarded = Router::new()
        .route("/Users", get(users::list).post(users::create))
        .route("/Users/.search", axum::routing::post(users::list))
        .route("/Users/{id}", get(users::show).put(users::replace).patch(users::patch).delete(users::delete))
        .route("/Groups", get(groups::list).post(groups::create))
        .route("/Groups/.search", axum::routing::post(groups::list))
        .route("/Groups/{id}", get(groups::show).put(groups::replace).patch(groups::patch).delete(groups::delete))
        .route("/Bulk", axum::routing::post(bulk::bulk).layer(axum::extract::DefaultBodyLimit::max(bulk::MAX_PAYLOAD)))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .route("/Me", axum::routing::any(me))
        .fallback(not_found)
        .route_layer(axum::middleware::from_fn_with_state(state, require_scim_token));
    Router::new()
        .nest(PREFIX, Router::new().route("/ServiceProviderConfig", get(service_provider_config)).merge(guarded))
}

/// Admits a bearer token with the `scim` scope, or an admin's.
async fn require_scim_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    if token.is_empty() || token.len() > 512 {
        return Problem::new(401, None, "a bearer token with the scim scope is needed").into_response();
    }
    match state.store.verify_token(&token).await {
        Ok(TokenCheck::Valid(t)) if t.role.allows(AccessRole::Scim) => next.run(request).await,
        Ok(TokenCheck::Valid(t)) => {
            Problem::new(403, None, format!("the token {:?} has no scim scope", t.name)).into_response()
        }
        Ok(TokenCheck::Expired(t)) => {
            Problem::new(401, None, format!("the token {:?} expired", t.name)).into_response()
        }
        Ok(TokenCheck::Unknown) => Problem::new(401, None, "the bearer token is not valid").into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

async fn not_found() -> Problem {
    Problem::new(404, None, "no such SCIM endpoint")
}

/// `/Me` is not offered: roster's tokens are not users (RFC 7644 §3.11).
async fn me() -> Problem {
    Problem::new(501, None, "/Me is not supported: a token is not a user of the directory")
}

async fn service_provider_config() -> Response {
    scim_response(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://github.com/roster/roster#inbound-scim",
            "patch": {"supported": true},
            "bulk": {"supported": true, "maxOperations": bulk::MAX_OPERATIONS, "maxPayloadSize": bulk::MAX_PAYLOAD},
            "filter": {"supported": true, "maxResults": MAX_RESULTS},
            "changePassword": {"supported": false},
            "sort": {"supported": true},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken", "name": "OAuth Bearer Token",
                "description": "A roster API token with the scim scope", "primary": true
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{PREFIX}/ServiceProviderConfig")}
        }),
    )
}

fn resource_type_documents() -> Vec<Value> {
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "User", "name": "User",
        "endpoint": "/Users", "description": "People of the directory", "schema": USER_SCHEMA,
        "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": false}],
        "meta": {"resourceType": "ResourceType", "location": format!("{PREFIX}/ResourceTypes/User")}});
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "Group", "name": "Group",
        "endpoint": "/Groups", "description": "Groups of the directory", "schema": GROUP_SCHEMA,
        "meta": {"resourceType": "ResourceType", "location": format!("{PREFIX}/ResourceTypes/Group")}});
    vec![user, group]
}

/// Answers the documents, or the one whose id is `id` (404 when none).
fn one_or_all(documents: Vec<Value>, id: Option<&str>) -> Response {
    match id {
        None => {
            let n = documents.len() as u64;
            scim_response(StatusCode::OK, &ListResponse::new(n, 1, documents).to_value())
        }
        Some(id) => {
            match documents.into_iter().find(|d| d["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id))) {
                Some(d) => scim_response(StatusCode::OK, &d),
                None => Problem::not_found(id).into_response(),
            }
        }
    }
}

async fn resource_types() -> Response {
    one_or_all(resource_type_documents(), None)
}

async fn resource_type(axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    one_or_all(resource_type_documents(), Some(&id))
}

async fn schemas() -> Response {
    one_or_all(schema_documents(), None)
}

async fn schema(axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    one_or_all(schema_documents(), Some(&id))
}

fn attribute(name: &str, kind: &str, multi: bool, subs: Vec<Value>) -> Value {
    let mut a = json!({"name": name, "type": kind, "multiValued": multi, "description": name,
        "required": name == "userName", "caseExact": name == "id" || name == "externalId",
        "mutability": if name == "id" { "readOnly" } else { "readWrite" }, "returned": "default",
        "uniqueness": if name == "userName" || name == "id" { "server" } else { "none" }});
    if !subs.is_empty() {
        a["subAttributes"] = Value::Array(subs);
    }
    a
}

fn text(name: &str) -> Value {
    attribute(name, "string", false, vec![])
}

/// The attributes the directory keeps, as RFC 7643 §7 describes schemas.
fn schema_documents() -> Vec<Value> {
    let typed = || vec![text("value"), text("type"), attribute("primary", "boolean", false, vec![])];
    let user = json!({"id": USER_SCHEMA, "name": "User", "description": "A person of the directory", "attributes": [
        text("userName"),
        attribute("name", "complex", false, vec![text("formatted"), text("familyName"), text("givenName")]),
        text("displayName"), text("title"), text("externalId"), text("preferredLanguage"),
        attribute("active", "boolean", false, vec![]),
        attribute("emails", "complex", true, typed()),
        attribute("phoneNumbers", "complex", true, typed()),
        attribute("addresses", "complex", true, vec![text("type"), text("streetAddress"), text("locality"),
            text("postalCode"), text("country"), attribute("primary", "boolean", false, vec![])]),
    ]});
    let enterprise = json!({"id": ENTERPRISE_USER, "name": "EnterpriseUser", "description": "Enterprise attributes",
        "attributes": [text("employeeNumber"), text("department"),
            attribute("manager", "complex", false, vec![text("value"), text("displayName")])]});
    let mut display_name = text("displayName");
    display_name["required"] = json!(true);
    let group = json!({"id": GROUP_SCHEMA, "name": "Group", "description": "A group of the directory", "attributes": [
        display_name,
        attribute("members", "complex", true, vec![text("value"), text("display"), text("type"), text("$ref")]),
    ]});
    [user, group, enterprise]
        .into_iter()
        .map(|mut v| {
            v["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"]);
            let location = format!("{PREFIX}/Schemas/{}", v["id"].as_str().unwrap_or_default());
            v["meta"] = json!({"resourceType": "Schema", "location": location});
            v
        })
        .collect()
}
