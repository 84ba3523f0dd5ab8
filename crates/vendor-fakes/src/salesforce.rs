//! A contract fake of a Salesforce org, for tests: an axum server that
//! answers the way Salesforce's published documentation says it does.
//!
//! It follows:
//! - SOAP API Developer Guide, `login()` and `LoginResult` (partner
//!   endpoint `/services/Soap/u/XX.X`, available up to 64.0), and its login
//!   faults (`sf:INVALID_LOGIN`, `sf:LOGIN_MUST_USE_SECURITY_TOKEN`, ...);
//! - OAuth 2.0 Client Credentials Flow for Server-to-Server Integration
//!   (`POST /services/oauth2/token`, `invalid_client` errors);
//! - REST API Developer Guide: Query and Query More Results (SOQL,
//!   `totalSize`, `done`, `nextRecordsUrl`, `Sforce-Query-Options:
//!   batchSize`), sObject Basic Information and sObject Rows (create, read
//!   with `fields`, update with PATCH), Limits, and Status Codes and Error
//!   Responses (a JSON array of `{message, errorCode, fields}`);
//! - SOQL and SOSL Reference: quoted string escape sequences;
//! - Object Reference: User (required fields, lengths, Username in email
//!   form and unique, IsActive; users cannot be deleted), Profile, UserRole.
//!
//! Where the documentation names no error code or status (a Username that
//! is not email-shaped, a taken nickname, a DELETE of a User), the fake's
//! choice is marked as a choice beside it: a test must not lean on it more
//! than on "a 4xx with an error array".

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

mod login;
mod soql;
mod users;

/// The org's admin account, the one roster logs in with.
#[derive(Debug, Clone)]
pub struct FakeAdmin {
    /// Its username.
    pub username: String,
    /// Its password.
    pub password: String,
    /// Its security token.
    pub security_token: String,
    /// Whether the login must carry the security token (roster's address
    /// is not in the org's trusted IP ranges).
    pub token_required: bool,
    /// Whether the password has expired (`passwordExpired` in the answer).
    pub password_expired: bool,
}

/// A connected app with the client credentials flow on; its run-as user
/// is the admin.
#[derive(Debug, Clone)]
pub struct FakeConnectedApp {
    /// The consumer key.
    pub client_id: String,
    /// The consumer secret.
    pub client_secret: String,
}

/// A Profile record.
#[derive(Debug, Clone)]
pub struct FakeProfile {
    /// `00e...`
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// `Standard` for internal users; `PowerCustomerSuccess`, `CsnOnly`, ...
    pub user_type: String,
}

/// A UserRole record.
#[derive(Debug, Clone)]
pub struct FakeRole {
    /// `00E...`
    pub id: String,
    /// Its name.
    pub name: String,
}

/// What the org holds when the fake starts.
#[derive(Debug, Clone)]
pub struct FakeOrg {
    /// `00D...`
    pub org_id: String,
    /// The organization's name.
    pub name: String,
    /// The admin account (also a User record of the org).
    pub admin: FakeAdmin,
    /// The connected app, if the org has one.
    pub connected_app: Option<FakeConnectedApp>,
    /// The profiles.
    pub profiles: Vec<FakeProfile>,
    /// The roles.
    pub roles: Vec<FakeRole>,
    /// The most records a query page holds (Salesforce: 2,000; small in
    /// tests so that paging is exercised).
    pub page_size: usize,
    /// The org's daily API request limit.
    pub daily_api_requests: u64,
}

impl Default for FakeOrg {
    fn default() -> Self {
        let profile = |n: u32, name: &str, description: Option<&str>, user_type: &str| FakeProfile {
            id: format!("00e{n:012}AAA"),
            name: name.into(),
            description: description.map(str::to_string),
            user_type: user_type.into(),
        };
        FakeOrg {
            org_id: "00D000000000001AAA".into(),
            name: "Acme".into(),
            admin: FakeAdmin {
                username: "admin@acme.example.com".into(),
                password: "Adm1n-pass".into(),
                security_token: "S3CURITYT0KEN".into(),
                token_required: true,
                password_expired: false,
            },
            connected_app: Some(FakeConnectedApp {
                client_id: "3MVG9fake.roster.consumer.key".into(),
                client_secret: "C0NNECTED-APP-SECRET".into(),
            }),
            profiles: vec![
                profile(1, "System Administrator", Some("Can configure and customize the application"), "Standard"),
                profile(2, "Standard User", Some("Can create and edit most types of records"), "Standard"),
                profile(3, "Chatter Free User", None, "CsnOnly"),
                profile(4, "Customer Community User", None, "PowerCustomerSuccess"),
            ],
            roles: vec![
                FakeRole { id: "00E000000000001AAA".into(), name: "CEO".into() },
                FakeRole { id: "00E000000000002AAA".into(), name: "Sales Manager".into() },
            ],
            page_size: 2000,
            daily_api_requests: 15_000,
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path.
    pub path: String,
    /// The JSON body, for creates and updates.
    pub body: Option<Value>,
}

/// The org's state, to inspect and steer from tests.
#[derive(Debug)]
pub struct SalesforceState {
    /// What the org was started with.
    pub org: FakeOrg,
    /// The User records (never removed; `IsActive` toggles).
    pub users: Vec<Map<String, Value>>,
    /// Valid session ids and access tokens.
    pub sessions: HashSet<String>,
    /// Successful logins (SOAP and OAuth).
    pub logins: u64,
    /// Requests by `"METHOD kind"`: `POST soap-login`, `POST oauth-token`,
    /// `GET query`, `GET query-more`, `GET limits`, `POST sobjects/User`,
    /// `GET sobjects/User/{id}`, `PATCH sobjects/User/{id}`,
    /// `DELETE sobjects/User/{id}`.
    pub requests: BTreeMap<String, u64>,
    /// Every request, in order.
    pub log: Vec<FakeRequest>,
    /// API requests left in the rolling 24-hour window.
    pub api_requests_left: u64,
    base_url: String,
    cursors: HashMap<String, (Vec<Value>, usize)>,
    next_id: u64,
}

impl SalesforceState {
    fn new(org: FakeOrg, base_url: String) -> Self {
        let mut state = SalesforceState {
            api_requests_left: org.daily_api_requests,
            org,
            users: Vec::new(),
            sessions: HashSet::new(),
            logins: 0,
            requests: BTreeMap::new(),
            log: Vec::new(),
            base_url,
            cursors: HashMap::new(),
            next_id: 0,
        };
        let admin = state.org.admin.username.clone();
        let profile = state.org.profiles.first().map(|p| p.id.clone()).unwrap_or_default();
        let record = json!({
            "Username": admin, "Email": admin, "FirstName": "Org", "LastName": "Admin", "Alias": "oadmin",
            "CommunityNickname": "org.admin", "ProfileId": profile, "TimeZoneSidKey": "America/Los_Angeles",
            "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US",
        });
        if let Value::Object(map) = record {
            state.insert_user(map);
        }
        state
    }

    /// A new record id with Salesforce's key prefix.
    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:012}AAA", self.next_id)
    }

    /// Adds a User as it is (no validation) and returns its id.
    pub fn insert_user(&mut self, mut fields: Map<String, Value>) -> String {
        let id = self.new_id("005");
        fields.insert("Id".into(), Value::String(id.clone()));
        fields.entry("IsActive").or_insert(Value::Bool(true));
        fields.entry("UserType").or_insert(Value::String("Standard".into()));
        fields.insert(
            "CreatedDate".into(),
            Value::String(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()),
        );
        self.users.push(fields);
        id
    }

    /// The user whose `Username` is `username` (any case).
    pub fn user_by_username(&self, username: &str) -> Option<&Map<String, Value>> {
        self.users
            .iter()
            .find(|u| u.get("Username").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(username)))
    }

    /// The user whose id is `id`.
    pub fn user(&self, id: &str) -> Option<&Map<String, Value>> {
        self.users.iter().find(|u| u.get("Id").and_then(Value::as_str) == Some(id))
    }

    /// How many requests of `key` (`"PATCH sobjects/User/{id}"`) arrived.
    pub fn count(&self, key: &str) -> u64 {
        self.requests.get(key).copied().unwrap_or(0)
    }

    fn admin_id(&self) -> String {
        self.user_by_username(&self.org.admin.username)
            .and_then(|u| u.get("Id").and_then(Value::as_str))
            .unwrap_or_default()
            .to_string()
    }

    fn record(&mut self, method: &str, kind: &str, path: &str, body: Option<Value>) {
        *self.requests.entry(format!("{method} {kind}")).or_insert(0) += 1;
        self.log.push(FakeRequest { method: method.into(), path: path.into(), body });
    }
}

/// The shared state of a running fake.
pub type SharedState = Arc<Mutex<SalesforceState>>;

fn lock(state: &SharedState) -> MutexGuard<'_, SalesforceState> {
    // A test that panicked while holding the lock leaves usable data.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fake org serving on a port.
#[derive(Debug)]
pub struct RunningSalesforce {
    /// `http://127.0.0.1:PORT`: the login server and the instance.
    pub base_url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its state, to inspect and steer.
    pub state: SharedState,
    serving: crate::serving::Serving,
}

impl RunningSalesforce {
    /// Ends every session, as an expiry or a revocation does.
    pub fn expire_sessions(&self) {
        lock(&self.state).sessions.clear();
    }

    /// Uses up (or restores) the org's daily API requests.
    pub fn exhaust_api_limit(&self, exhausted: bool) {
        let mut st = lock(&self.state);
        st.api_requests_left = if exhausted { 0 } else { st.org.daily_api_requests };
    }

    /// How many requests of `key` arrived (see [`SalesforceState::requests`]).
    pub fn count(&self, key: &str) -> u64 {
        lock(&self.state).count(key)
    }

    /// Successful logins so far.
    pub fn logins(&self) -> u64 {
        lock(&self.state).logins
    }

    /// A copy of the user whose `Username` is `username`.
    pub fn user_by_username(&self, username: &str) -> Option<Map<String, Value>> {
        lock(&self.state).user_by_username(username).cloned()
    }

    /// A copy of the user whose id is `id`.
    pub fn user(&self, id: &str) -> Option<Map<String, Value>> {
        lock(&self.state).user(id).cloned()
    }

    /// Adds a user as it is and returns its id.
    pub fn insert_user(&self, fields: Value) -> String {
        let map = match fields {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        lock(&self.state).insert_user(map)
    }

    /// A copy of the request log.
    pub fn requests(&self) -> Vec<FakeRequest> {
        lock(&self.state).log.clone()
    }

    /// Stops serving and waits.
    pub async fn stop(self) -> io::Result<()> {
        self.serving.stop().await
    }
}

/// Starts a fake org on `addr` (`127.0.0.1:0` picks a free port).
pub async fn start(addr: SocketAddr, org: FakeOrg) -> io::Result<RunningSalesforce> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");
    let state: SharedState = Arc::new(Mutex::new(SalesforceState::new(org, base_url.clone())));
    let router = router(state.clone());
    let serving = crate::serving::Serving::spawn(listener, router);
    tracing::info!(%base_url, "fake Salesforce org listening");
    Ok(RunningSalesforce { base_url, addr, state, serving })
}

fn router(state: SharedState) -> Router {
    Router::new()
        .route("/services/Soap/u/{version}", post(login::soap_login))
        .route("/services/oauth2/token", post(login::token))
        .route("/services/data/{version}/query", get(query))
        .route("/services/data/{version}/query/{locator}", get(query_more))
        .route("/services/data/{version}/limits", get(limits))
        .route("/services/data/{version}/sobjects/{sobject}", post(users::create))
        .route(
            "/services/data/{version}/sobjects/{sobject}/{id}",
            get(users::read).patch(users::update).delete(users::delete),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, "NOT_FOUND", "The requested resource does not exist", &[]) })
        .with_state(state)
}

/// A refusal in Salesforce's shape: a status and a JSON array of one error.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
    fields: Vec<&'static str>,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = json!([{ "message": self.message, "errorCode": self.code, "fields": self.fields }]);
        (self.status, Json(body)).into_response()
    }
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>, fields: &[&'static str]) -> Refusal {
    Refusal { status, code, message: message.into(), fields: fields.to_vec() }
}

/// Whether `version` is an API version path segment (`v64.0`).
fn version_ok(version: &str) -> bool {
    version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit()))
}

/// Checks the version, the bearer session and the API limit of a REST
/// request, after counting it.
fn authorize<'a>(
    state: &'a SharedState,
    headers: &HeaderMap,
    version: &str,
    (method, kind, path): (&str, &str, &str),
    body: Option<Value>,
) -> Result<MutexGuard<'a, SalesforceState>, Refusal> {
    let mut st = lock(state);
    st.record(method, kind, path, body);
    if !version_ok(version) {
        return Err(error(StatusCode::NOT_FOUND, "NOT_FOUND", "The requested resource does not exist", &[]));
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("OAuth ")))
        .map(str::trim);
    if !token.is_some_and(|t| st.sessions.contains(t)) {
        return Err(error(StatusCode::UNAUTHORIZED, "INVALID_SESSION_ID", "Session expired or invalid", &[]));
    }
    if kind != "limits" {
        if st.api_requests_left == 0 {
            return Err(error(StatusCode::FORBIDDEN, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", &[]));
        }
        st.api_requests_left -= 1;
    }
    Ok(st)
}

/// The batch size a query asked for (`Sforce-Query-Options: batchSize=N`,
/// 200 to 2,000), capped by the org's page size.
fn page_size(headers: &HeaderMap, org_page: usize) -> usize {
    let asked = headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').find_map(|o| o.trim().strip_prefix("batchSize=")))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .map_or(2000, |n| n.clamp(200, 2000));
    asked.min(org_page.max(1))
}

/// One page of query results from `offset`; keeps a locator when more follow.
fn page(
    st: &mut SalesforceState,
    version: &str,
    records: Vec<Value>,
    offset: usize,
    size: usize,
    locator: Option<String>,
) -> Response {
    let total = records.len();
    let end = (offset + size).min(total);
    let batch: Vec<Value> = records.get(offset..end).map(<[Value]>::to_vec).unwrap_or_default();
    let mut body = json!({ "totalSize": total, "done": end >= total, "records": batch });
    if end < total {
        let locator = locator.unwrap_or_else(|| {
            let n: u64 = rand::random();
            format!("01g{:015X}", n % 0x1_0000_0000_0000)
        });
        body["nextRecordsUrl"] = Value::String(format!("/services/data/{version}/query/{locator}-{end}"));
        st.cursors.insert(locator, (records, size));
    } else if let Some(locator) = locator {
        st.cursors.remove(&locator);
    }
    (StatusCode::OK, Json(body)).into_response()
}

async fn query(
    State(state): State<SharedState>,
    Path(version): Path<String>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    let path = format!("/services/data/{version}/query");
    let mut st = authorize(&state, &headers, &version, ("GET", "query", &path), None)?;
    let bad_query = |e: soql::SoqlError| error(StatusCode::BAD_REQUEST, e.code, e.message, &[]);
    let Some(q) = params.get("q") else {
        return Err(error(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", "A query string has to be specified", &[]));
    };
    let parsed = soql::parse(q).map_err(bad_query)?;
    let records = soql::run(&st, &parsed, &version).map_err(bad_query)?;
    let size = page_size(&headers, st.org.page_size);
    Ok(page(&mut st, &version, records, 0, size, None))
}

async fn query_more(
    State(state): State<SharedState>,
    Path((version, locator)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let path = format!("/services/data/{version}/query/{locator}");
    let mut st = authorize(&state, &headers, &version, ("GET", "query-more", &path), None)?;
    let invalid = || error(StatusCode::BAD_REQUEST, "INVALID_QUERY_LOCATOR", "invalid query locator", &[]);
    let (id, offset) = locator
        .rsplit_once('-')
        .and_then(|(l, o)| Some((l.to_string(), o.parse::<usize>().ok()?)))
        .ok_or_else(invalid)?;
    let (records, size) = st.cursors.get(&id).cloned().ok_or_else(invalid)?;
    Ok(page(&mut st, &version, records, offset, size, Some(id)))
}

async fn limits(
    State(state): State<SharedState>,
    Path(version): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let path = format!("/services/data/{version}/limits");
    let st = authorize(&state, &headers, &version, ("GET", "limits", &path), None)?;
    let body = json!({
        "DailyApiRequests": { "Max": st.org.daily_api_requests, "Remaining": st.api_requests_left },
    });
    Ok((StatusCode::OK, Json(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for (v, ok) in [("v64.0", true), ("v9.0", true), ("64.0", false), ("v64", false), ("vx.0", false)] {
            assert_eq!(version_ok(v), ok, "{v}");
        }
    }

    #[test]
    fn batch_sizes() {
        let mut h = HeaderMap::new();
        assert_eq!(page_size(&h, 5), 5);
        assert_eq!(page_size(&h, 5000), 2000);
        h.insert("sforce-query-options", "batchSize=300".parse().expect("header"));
        assert_eq!(page_size(&h, 5000), 300);
        h.insert("sforce-query-options", "batchSize=10".parse().expect("header"));
        assert_eq!(page_size(&h, 5000), 200);
    }
}
