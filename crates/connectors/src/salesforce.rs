//! The Salesforce connector: logs in with the SOAP API `login()` call (admin
//! username, password and security token) or the OAuth 2.0 client
//! credentials flow, then provisions the User sObject through the REST API
//! (SOQL queries and sObject rows). Profiles and roles are the app's roles.
//! Salesforce never deletes users: roster disables them (`IsActive=false`).
//!
//! One session is shared by concurrent calls; when Salesforce answers
//! `INVALID_SESSION_ID` the connector logs in again once and repeats the
//! request once.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Client, Method, StatusCode, Url};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use crate::classify::{transport_reason, Answer};
use crate::{
    parse_retry_after, Connector, ConnectorError, PatchOperation, RemoteRole, ResourceKind, TargetObject, TargetPage,
};

mod fit;
mod login;

pub use fit::{field_name, soql_literal, DEFAULT_USER_FIELDS};

/// The name of roster's default role of a Salesforce app. It sets no
/// profile, and Salesforce needs one: assignments with it are refused.
pub const DEFAULT_ACCESS_ROLE: &str = "Default Access";

/// Why [`DEFAULT_ACCESS_ROLE`] cannot provision.
pub const DEFAULT_ACCESS_REFUSAL: &str =
    "the Default Access role does not work for provisioning: Salesforce needs a profile; assign a profile role";

/// How many times a create tries another `CommunityNickname` when
/// Salesforce says the nickname is taken.
const NICKNAME_ATTEMPTS: u32 = 4;
/// The most pages a query of profiles, roles or matches reads.
const MAX_QUERY_PAGES: usize = 50;

/// How roster logs in to Salesforce (the app's admin credentials).
#[derive(Clone, PartialEq, Eq)]
pub enum SalesforceAuth {
    /// The SOAP API `login()` call with an admin account: the tutorial's
    /// Admin Username, Admin Password and Secret Token (the security token).
    Password {
        /// The admin's Salesforce username.
        username: String,
        /// The admin's password (never printed).
        password: String,
        /// The admin's security token, appended to the password; empty when
        /// roster's address is in the org's trusted IP ranges (never printed).
        security_token: String,
    },
    /// The OAuth 2.0 client credentials flow of a connected app with a
    /// run-as user; needs the org's My Domain URL as the login URL.
    ClientCredentials {
        /// The connected app's consumer key.
        client_id: String,
        /// The connected app's consumer secret (never printed).
        client_secret: String,
    },
}

impl SalesforceAuth {
    /// The login method, as a person reads it in a connection test.
    fn method(&self) -> &'static str {
        match self {
            SalesforceAuth::Password { .. } => "the SOAP API login() (username, password and security token)",
            SalesforceAuth::ClientCredentials { .. } => {
                "the OAuth 2.0 client credentials flow (the connected app's client id and secret)"
            }
        }
    }
}

impl fmt::Debug for SalesforceAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SalesforceAuth::Password { username, .. } => f
                .debug_struct("Password")
                .field("username", username)
                .field("password", &"***")
                .field("security_token", &"***")
                .finish(),
            SalesforceAuth::ClientCredentials { client_id, .. } => f
                .debug_struct("ClientCredentials")
                .field("client_id", client_id)
                .field("client_secret", &"***")
                .finish(),
        }
    }
}

/// Values for the User fields Salesforce requires and directories rarely
/// hold, used on create when the mapping gives none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDefaults {
    /// `TimeZoneSidKey`, e.g. `America/Los_Angeles`.
    pub time_zone_sid_key: String,
    /// `LocaleSidKey`, e.g. `en_US`.
    pub locale_sid_key: String,
    /// `EmailEncodingKey`, e.g. `UTF-8`.
    pub email_encoding_key: String,
    /// `LanguageLocaleKey`, e.g. `en_US`.
    pub language_locale_key: String,
}

impl Default for UserDefaults {
    fn default() -> Self {
        UserDefaults {
            time_zone_sid_key: "America/Los_Angeles".into(),
            locale_sid_key: "en_US".into(),
            email_encoding_key: "UTF-8".into(),
            language_locale_key: "en_US".into(),
        }
    }
}

/// How to reach a Salesforce org.
#[derive(Debug, Clone)]
pub struct SalesforceSettings {
    /// The login server: `https://login.salesforce.com` by default; the
    /// tutorial's Tenant URL replaces it (`https://test.salesforce.com` for
    /// a sandbox, the My Domain URL, a Government Cloud instance).
    pub login_url: String,
    /// The API version, `64.0` (the last one with the SOAP `login()` call).
    pub api_version: String,
    /// The admin credentials.
    pub auth: SalesforceAuth,
    /// Time limit of one request.
    pub timeout: Duration,
    /// How long the engine holds work when the org's rolling 24-hour API
    /// request limit is used up (`REQUEST_LIMIT_EXCEEDED`): Salesforce sends
    /// no `Retry-After`, and retrying soon only fails again. One hour.
    pub hold_on_limit: Duration,
    /// Template values of required fields for creates.
    pub user_defaults: UserDefaults,
    /// Domain appended to a `Username` that has no `@` when the record has
    /// no `Email` to take one from.
    pub username_domain: Option<String>,
    /// The User fields read by `find`, `list` and `get`.
    pub user_fields: Vec<String>,
}

impl SalesforceSettings {
    /// Settings with the defaults: `https://login.salesforce.com`, API 64.0,
    /// 30 s timeout, a one-hour hold on the API limit, `en_US`/`UTF-8`/
    /// `America/Los_Angeles` template values, the default User fields.
    pub fn new(auth: SalesforceAuth) -> Self {
        SalesforceSettings {
            login_url: "https://login.salesforce.com".into(),
            api_version: "64.0".into(),
            auth,
            timeout: Duration::from_secs(30),
            hold_on_limit: Duration::from_secs(3600),
            user_defaults: UserDefaults::default(),
            username_domain: None,
            user_fields: DEFAULT_USER_FIELDS.iter().map(|f| f.to_string()).collect(),
        }
    }

    /// The same settings with the tutorial's optional Tenant URL as the login
    /// server (blank keeps the default).
    pub fn with_tenant_url(mut self, tenant_url: Option<&str>) -> Self {
        if let Some(url) = tenant_url.map(str::trim).filter(|u| !u.is_empty()) {
            self.login_url = url.to_string();
        }
        self
    }
}

/// A logged-in session shared by concurrent calls.
struct Session {
    instance: Url,
    token: String,
    user_id: Option<String>,
    user_name: Option<String>,
    generation: u64,
}

/// Where a request goes: under `/services/data/vXX.X/`, or a path Salesforce
/// returned (`nextRecordsUrl`).
enum Target<'a> {
    Data(&'a [&'a str]),
    Path(&'a str),
}

/// A Salesforce org reached through the REST API.
pub struct SalesforceConnector {
    client: Client,
    login_base: Url,
    settings: SalesforceSettings,
    session: RwLock<Option<Arc<Session>>>,
    logins: AtomicU64,
}

impl fmt::Debug for SalesforceConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SalesforceConnector")
            .field("login_base", &self.login_base.as_str())
            .field("settings", &self.settings)
            .field("session", &"***")
            .finish()
    }
}

fn config(message: String) -> ConnectorError {
    ConnectorError::Config { message }
}

fn users_only(what: &str) -> ConnectorError {
    config(format!("the Salesforce connector provisions users only, not groups ({what}): turn the group mapping off"))
}

fn require_user(kind: ResourceKind, what: &str) -> Result<(), ConnectorError> {
    match kind {
        ResourceKind::User => Ok(()),
        ResourceKind::Group => Err(users_only(what)),
    }
}

/// A record as roster reads it: without Salesforce's `attributes`, with
/// `IsActive` also as `active`.
fn to_object(mut record: Value) -> Option<TargetObject> {
    let map = record.as_object_mut()?;
    map.remove("attributes");
    let id = map.get("Id").and_then(Value::as_str).filter(|s| !s.is_empty())?.to_string();
    if let Some(active) = map.get("IsActive").cloned() {
        map.insert("active".into(), active);
    }
    Some(TargetObject { id, resource: record })
}

fn not_json(status: StatusCode, what: &str) -> ConnectorError {
    ConnectorError::Permanent {
        status: status.as_u16(),
        scim_type: None,
        app_message: format!("Salesforce's answer to {what} is not the JSON it documents"),
    }
}

/// What a role of the app is in Salesforce, from its value (the record
/// id, whose first three characters name the object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    /// A Profile (`00e...`): goes to the user's `ProfileId`.
    Profile,
    /// A UserRole (`00E...`): goes to the user's `UserRoleId`.
    UserRole,
}

impl RoleKind {
    /// The kind of the role whose value is `value`; `None` for a value that
    /// is neither a profile id nor a role id (e.g. Default Access).
    pub fn of(value: &str) -> Option<RoleKind> {
        match value.get(..3) {
            Some("00e") => Some(RoleKind::Profile),
            Some("00E") => Some(RoleKind::UserRole),
            _ => None,
        }
    }

    /// The User field the role's value goes to.
    pub fn field(self) -> &'static str {
        match self {
            RoleKind::Profile => "ProfileId",
            RoleKind::UserRole => "UserRoleId",
        }
    }
}

impl SalesforceConnector {
    /// A connector; fails with `Config` on a login URL that is not http(s).
    /// It logs in on first use.
    pub fn new(settings: SalesforceSettings) -> Result<Self, ConnectorError> {
        let login_base = Url::parse(settings.login_url.trim())
            .map_err(|e| config(format!("invalid Salesforce login URL {:?}: {e}", settings.login_url)))?;
        if !matches!(login_base.scheme(), "http" | "https") || login_base.host_str().is_none() {
            return Err(config(format!("invalid Salesforce login URL {:?}: must be http(s)", settings.login_url)));
        }
        let version_ok = settings.api_version.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
        });
        if !version_ok {
            return Err(config(format!("invalid Salesforce API version {:?}: use e.g. 64.0", settings.api_version)));
        }
        let client = Client::builder()
            .use_rustls_tls()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(32)
            .build()
            .map_err(|e| config(format!("cannot set up HTTPS: {}", login::client_error(&e))))?;
        Ok(SalesforceConnector { client, login_base, settings, session: RwLock::new(None), logins: AtomicU64::new(0) })
    }

    /// How many times this connector logged in.
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    async fn log_in(&self) -> Result<Session, ConnectorError> {
        let s = &self.settings;
        let logged_in = match &s.auth {
            SalesforceAuth::Password { username, password, security_token } => {
                let secret = format!("{password}{}", security_token.trim());
                login::soap_login(&self.client, &self.login_base, &s.api_version, username, &secret, s.timeout).await?
            }
            SalesforceAuth::ClientCredentials { client_id, client_secret } => {
                login::client_credentials(&self.client, &self.login_base, client_id, client_secret, s.timeout).await?
            }
        };
        let generation = self.logins.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(instance = %login::origin(&logged_in.instance), generation, "logged in to Salesforce");
        let user_name = logged_in.user_name.or_else(|| match &s.auth {
            SalesforceAuth::Password { username, .. } => Some(username.clone()),
            SalesforceAuth::ClientCredentials { .. } => None,
        });
        Ok(Session {
            instance: logged_in.instance,
            token: logged_in.token,
            user_id: logged_in.user_id,
            user_name,
            generation,
        })
    }

    /// The current session, logging in if there is none.
    async fn session(&self) -> Result<Arc<Session>, ConnectorError> {
        if let Some(s) = self.session.read().await.as_ref() {
            return Ok(s.clone());
        }
        self.renew(None).await
    }

    /// Logs in again unless another call already replaced the session
    /// `stale` (`None`: replace no session, only fill an empty slot).
    /// Holding the write lock over the login makes concurrent callers wait
    /// for one login instead of each sending their own.
    async fn renew(&self, stale: Option<u64>) -> Result<Arc<Session>, ConnectorError> {
        let mut slot = self.session.write().await;
        if let Some(current) = slot.as_ref() {
            if Some(current.generation) != stale {
                return Ok(current.clone());
            }
        }
        let fresh = Arc::new(self.log_in().await?);
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    fn url(&self, session: &Session, target: &Target<'_>) -> Result<Url, ConnectorError> {
        match target {
            Target::Data(segments) => {
                let mut url = session.instance.clone();
                let version = format!("v{}", self.settings.api_version);
                url.path_segments_mut()
                    .map_err(|()| config(format!("invalid Salesforce instance URL {}", session.instance)))?
                    .clear()
                    .extend(["services", "data", version.as_str()])
                    .extend(segments.iter());
                Ok(url)
            }
            Target::Path(path) => {
                // Only paths on the same instance: a cursor must never send
                // the session to another host.
                if !path.starts_with("/services/data/") || path.contains("//") {
                    return Err(ConnectorError::Permanent {
                        status: 0,
                        scim_type: None,
                        app_message: format!("not a Salesforce query locator: {path:?}"),
                    });
                }
                session.instance.join(path).map_err(|e| config(format!("invalid Salesforce path {path:?}: {e}")))
            }
        }
    }

    async fn transport(
        &self,
        session: &Session,
        method: &Method,
        url: &Url,
        query: &[(&str, &str)],
        body: Option<&Value>,
        batch_size: Option<u64>,
    ) -> Result<Answer, ConnectorError> {
        let mut req = self
            .client
            .request(method.clone(), url.clone())
            .bearer_auth(&session.token)
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(size) = batch_size {
            // Salesforce takes 200 to 2,000 records a batch.
            req = req.header("Sforce-Query-Options", format!("batchSize={}", size.clamp(200, 2000)));
        }
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).map_err(|e| ConnectorError::Permanent {
                status: 0,
                scim_type: None,
                app_message: format!("cannot encode the request: {e}"),
            })?;
            req = req.header(CONTENT_TYPE, "application/json").body(bytes);
        }
        let result = async {
            let resp = req.send().await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>(Answer { status, headers, body })
        }
        .await;
        match result {
            Ok(answer) => {
                tracing::debug!(%method, path = url.path(), status = answer.status.as_u16(), "Salesforce request");
                Ok(answer)
            }
            Err(e) => {
                let (tls, reason) = transport_reason(&e, self.settings.timeout);
                tracing::debug!(%method, path = url.path(), %reason, "Salesforce request failed");
                let message = format!("cannot reach Salesforce at {}: {reason}", login::origin(url));
                Err(if tls { config(message) } else { ConnectorError::Transient { message } })
            }
        }
    }

    /// Sends a REST request; on `401` (an expired or revoked session) logs in
    /// again once and repeats it once.
    async fn send(
        &self,
        method: Method,
        target: Target<'_>,
        query: &[(&str, &str)],
        body: Option<&Value>,
        batch_size: Option<u64>,
    ) -> Result<Answer, ConnectorError> {
        let mut session = self.session().await?;
        let mut renewed = false;
        loop {
            let url = self.url(&session, &target)?;
            let answer = self.transport(&session, &method, &url, query, body, batch_size).await?;
            if answer.status != StatusCode::UNAUTHORIZED || renewed {
                return Ok(answer);
            }
            tracing::info!(%method, path = url.path(), "Salesforce session expired or invalid; logging in again");
            session = self.renew(Some(session.generation)).await?;
            renewed = true;
        }
    }

    /// Classifies a refusal, with Salesforce's error array in the message.
    fn refusal(&self, answer: &Answer) -> ConnectorError {
        let status = answer.status.as_u16();
        let errors = fit::parse_errors(&answer.body);
        let code = errors.first().map(|e| e.error_code.clone()).filter(|c| !c.is_empty());
        let message = if errors.is_empty() {
            let text: String = String::from_utf8_lossy(&answer.body).trim().chars().take(300).collect();
            if text.is_empty() {
                format!("HTTP {}", answer.status)
            } else {
                text
            }
        } else {
            fit::describe(&errors)
        };
        match (status, code.as_deref()) {
            (401, _) => config(format!("Salesforce refused a new session too ({status}): {message}")),
            (403, Some("REQUEST_LIMIT_EXCEEDED")) => ConnectorError::Throttled {
                retry_after: Some(self.settings.hold_on_limit),
                message: format!(
                    "{message} (the org's rolling 24-hour API request limit is used up; holding work for {} min)",
                    self.settings.hold_on_limit.as_secs() / 60
                ),
            },
            (403, Some("API_DISABLED_FOR_ORG" | "API_CURRENTLY_DISABLED" | "INSUFFICIENT_ACCESS")) => {
                config(format!("Salesforce refused API access ({status}): {message}"))
            }
            (404, _) => ConnectorError::NotFound,
            (429, _) => ConnectorError::Throttled {
                retry_after: answer
                    .headers
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, std::time::SystemTime::now())),
                message,
            },
            (408 | 500..=599, _) => {
                ConnectorError::Transient { message: format!("Salesforce answered {}: {message}", answer.status) }
            }
            (s, code) => {
                ConnectorError::Permanent { status: s, scim_type: code.map(str::to_string), app_message: message }
            }
        }
    }

    /// The JSON of a successful answer, or the refusal.
    fn json(&self, answer: &Answer, what: &str) -> Result<Value, ConnectorError> {
        if !answer.status.is_success() {
            return Err(self.refusal(answer));
        }
        serde_json::from_slice(&answer.body).map_err(|_| not_json(answer.status, what))
    }

    /// One page of a SOQL query: the first with `soql`, the next ones with
    /// the locator path Salesforce returned.
    async fn query_page(&self, page: QueryPage<'_>, batch_size: Option<u64>) -> Result<TargetPage, ConnectorError> {
        let answer = match page {
            QueryPage::First(soql) => {
                self.send(Method::GET, Target::Data(&["query"]), &[("q", soql)], None, batch_size).await?
            }
            QueryPage::Next(path) => self.send(Method::GET, Target::Path(path), &[], None, batch_size).await?,
        };
        let value = self.json(&answer, "a query")?;
        let total = value.get("totalSize").and_then(Value::as_u64).unwrap_or(0);
        let done = value.get("done").and_then(Value::as_bool).unwrap_or(true);
        let next = value.get("nextRecordsUrl").and_then(Value::as_str).filter(|_| !done).map(str::to_string);
        let Some(Value::Array(records)) = value.get("records").cloned() else {
            return Err(not_json(answer.status, "a query"));
        };
        let items = records.into_iter().filter_map(to_object).collect();
        Ok(TargetPage { items, total, next })
    }

    /// Every record of a query (at most [`MAX_QUERY_PAGES`] pages).
    async fn query_all(&self, soql: &str) -> Result<Vec<TargetObject>, ConnectorError> {
        let mut page = self.query_page(QueryPage::First(soql), None).await?;
        let mut items = std::mem::take(&mut page.items);
        for _ in 1..MAX_QUERY_PAGES {
            let Some(next) = page.next.take() else { break };
            page = self.query_page(QueryPage::Next(&next), None).await?;
            items.append(&mut page.items);
        }
        Ok(items)
    }

    /// The User fields to read: `Id`, `IsActive` and the configured ones.
    fn user_fields(&self) -> Result<Vec<String>, ConnectorError> {
        let mut fields = Vec::with_capacity(self.settings.user_fields.len() + 2);
        for f in ["Id", "IsActive"].iter().copied().chain(self.settings.user_fields.iter().map(String::as_str)) {
            let name = fit::field_name(f)?;
            if !fields.contains(&name) {
                fields.push(name);
            }
        }
        Ok(fields)
    }

    fn select_users(&self) -> Result<String, ConnectorError> {
        Ok(format!("SELECT {} FROM User", self.user_fields()?.join(", ")))
    }

    /// A create of one User; retries with another nickname when the one
    /// chosen is taken.
    async fn create_user(&self, mut record: Map<String, Value>) -> Result<TargetObject, ConnectorError> {
        let base = record.get("CommunityNickname").and_then(Value::as_str).unwrap_or_default().to_string();
        for attempt in 1..=NICKNAME_ATTEMPTS {
            let body = Value::Object(record.clone());
            let answer = self.send(Method::POST, Target::Data(&["sobjects", "User"]), &[], Some(&body), None).await?;
            if answer.status.is_success() {
                let value: Value =
                    serde_json::from_slice(&answer.body).map_err(|_| not_json(answer.status, "a create"))?;
                let Some(id) = value.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()) else {
                    return Err(not_json(answer.status, "a create"));
                };
                record.insert("Id".into(), Value::String(id.to_string()));
                record.entry("IsActive").or_insert(Value::Bool(true));
                return to_object(Value::Object(record)).ok_or_else(|| not_json(answer.status, "a create"));
            }
            let errors = fit::parse_errors(&answer.body);
            let code = errors.first().map(|e| e.error_code.as_str()).unwrap_or_default();
            if code == "DUPLICATE_USERNAME" {
                return Err(ConnectorError::Conflict { app_message: fit::describe(&errors) });
            }
            if code == "DUPLICATE_COMMUNITY_NICKNAME" && attempt < NICKNAME_ATTEMPTS {
                let suffix = rand::random::<u32>() % 90_000 + 10_000;
                let nickname = fit::nickname_with_suffix(&base, suffix);
                tracing::info!(%nickname, "Salesforce nickname taken; trying another");
                record.insert("CommunityNickname".into(), Value::String(nickname));
                continue;
            }
            return Err(self.refusal(&answer));
        }
        Err(ConnectorError::Permanent {
            status: 400,
            scim_type: Some("DUPLICATE_COMMUNITY_NICKNAME".into()),
            app_message: format!("no free CommunityNickname after {NICKNAME_ATTEMPTS} tries from {base:?}"),
        })
    }

    /// The organization's name and id, read to prove the session works.
    async fn organization(&self) -> Result<(String, String), ConnectorError> {
        let org = self.query_all("SELECT Id, Name FROM Organization LIMIT 1").await?;
        let first = org.first().ok_or_else(|| config("Salesforce returned no Organization record".to_string()))?;
        let name = first.resource.get("Name").and_then(Value::as_str).unwrap_or("(no name)").to_string();
        Ok((name, first.id.clone()))
    }

    /// The daily API requests left, if the org says.
    async fn api_requests_left(&self) -> Option<(u64, u64)> {
        let answer = self.send(Method::GET, Target::Data(&["limits"]), &[], None, None).await.ok()?;
        let value = self.json(&answer, "limits").ok()?;
        let daily = value.get("DailyApiRequests")?;
        Some((daily.get("Remaining")?.as_u64()?, daily.get("Max")?.as_u64()?))
    }

    async fn check_connection(&self, matching_attribute: &str) -> Result<String, ConnectorError> {
        let stale = self.session.read().await.as_ref().map(|s| s.generation);
        let session = self.renew(stale).await?;
        let (org_name, org_id) = self.organization().await?;
        let mut who = session.user_name.clone();
        if let (None, Some(user_id)) = (&who, &session.user_id) {
            let soql = format!("SELECT Id, Username FROM User WHERE {}", fit::soql_equals("Id", user_id));
            let run_as = self.query_all(&soql).await?;
            who = run_as.first().and_then(|u| u.resource.get("Username")).and_then(Value::as_str).map(str::to_string);
        }
        let field = fit::field_name(matching_attribute)?;
        let probe = format!("roster-test-{:016x}", rand::random::<u64>());
        let soql = format!("SELECT Id FROM User WHERE {} LIMIT 1", fit::soql_equals(&field, &probe));
        match self.query_all(&soql).await {
            Ok(_) => {}
            Err(ConnectorError::Permanent { app_message, .. }) => {
                return Err(config(format!("Salesforce cannot look users up by {field}: {app_message}")));
            }
            Err(e) => return Err(e),
        }
        let mut said = format!(
            "logged in as {} with {} at {}, read the organization {org_name} ({org_id}) and looked users up by {field}",
            who.as_deref().unwrap_or("the run-as user"),
            self.settings.auth.method(),
            login::origin(&session.instance),
        );
        if let Some((left, max)) = self.api_requests_left().await {
            said.push_str(&format!("; {left} of {max} daily API requests left"));
        }
        Ok(said)
    }
}

enum QueryPage<'a> {
    First(&'a str),
    Next(&'a str),
}

#[async_trait]
impl Connector for SalesforceConnector {
    async fn test_connection(&self, matching_attribute: &str) -> Result<String, ConnectorError> {
        self.check_connection(matching_attribute).await.map_err(|e| match e {
            ConnectorError::Transient { message } => config(message),
            e => e,
        })
    }

    async fn find(
        &self,
        kind: ResourceKind,
        attr_path: &str,
        value: &str,
    ) -> Result<Vec<TargetObject>, ConnectorError> {
        require_user(kind, "find")?;
        let field = fit::field_name(attr_path)?;
        let soql = format!("{} WHERE {} LIMIT 100", self.select_users()?, fit::soql_equals(&field, value));
        self.query_all(&soql).await
    }

    async fn list(&self, kind: ResourceKind, cursor: Option<&str>, count: u64) -> Result<TargetPage, ConnectorError> {
        require_user(kind, "list")?;
        match cursor {
            None => {
                let soql = format!("{} ORDER BY Id", self.select_users()?);
                self.query_page(QueryPage::First(&soql), Some(count)).await
            }
            Some(next) => self.query_page(QueryPage::Next(next), Some(count)).await,
        }
    }

    async fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<TargetObject>, ConnectorError> {
        require_user(kind, "get")?;
        let fields = self.user_fields()?.join(",");
        let answer =
            self.send(Method::GET, Target::Data(&["sobjects", "User", id]), &[("fields", &fields)], None, None).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let value = self.json(&answer, "a read")?;
        Ok(to_object(value))
    }

    async fn create(&self, kind: ResourceKind, attrs: &[(String, Value)]) -> Result<TargetObject, ConnectorError> {
        require_user(kind, "create")?;
        let s = &self.settings;
        let record = fit::new_user(attrs, &s.user_defaults, s.username_domain.as_deref())?;
        self.create_user(record).await
    }

    async fn update(&self, kind: ResourceKind, id: &str, ops: &[PatchOperation]) -> Result<(), ConnectorError> {
        require_user(kind, "update")?;
        let fields = fit::patch_fields(ops, self.settings.username_domain.as_deref())?;
        if fields.is_empty() {
            return Ok(());
        }
        let body = Value::Object(fields);
        let answer = self.send(Method::PATCH, Target::Data(&["sobjects", "User", id]), &[], Some(&body), None).await?;
        if answer.status.is_success() {
            return Ok(());
        }
        Err(self.refusal(&answer))
    }

    async fn delete(&self, kind: ResourceKind, _id: &str) -> Result<(), ConnectorError> {
        require_user(kind, "delete")?;
        Err(ConnectorError::Permanent {
            status: 405,
            scim_type: Some("METHOD_NOT_ALLOWED".into()),
            app_message: "Salesforce does not delete users: roster disables them (IsActive=false) instead; turn \
                          deletes off for this app"
                .into(),
        })
    }

    async fn update_members(
        &self,
        _group_id: &str,
        _add: &[String],
        _remove: &[String],
    ) -> Result<u32, ConnectorError> {
        Err(users_only("group members"))
    }

    async fn app_roles(&self) -> Result<Option<Vec<RemoteRole>>, ConnectorError> {
        let profiles = self.query_all("SELECT Id, Name, Description, UserType FROM Profile ORDER BY Name").await?;
        let roles = self.query_all("SELECT Id, Name FROM UserRole ORDER BY Name").await?;
        let text = |o: &TargetObject, f: &str| o.resource.get(f).and_then(Value::as_str).map(str::to_string);
        let mut out = Vec::with_capacity(profiles.len() + roles.len());
        for p in &profiles {
            let user_type = text(p, "UserType");
            let refused = user_type.as_deref().filter(|t| *t != "Standard").map(|t| {
                format!("a {t} profile is for portal or site users, who need a contact roster does not provision")
            });
            out.push(RemoteRole {
                value: p.id.clone(),
                name: text(p, "Name").unwrap_or_else(|| p.id.clone()),
                description: Some(match text(p, "Description") {
                    Some(d) => format!("Profile: {d}"),
                    None => "Profile".to_string(),
                }),
                refused,
            });
        }
        for r in &roles {
            out.push(RemoteRole {
                value: r.id.clone(),
                name: text(r, "Name").unwrap_or_else(|| r.id.clone()),
                description: Some("Role".to_string()),
                refused: None,
            });
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password_auth() -> SalesforceAuth {
        SalesforceAuth::Password {
            username: "admin@acme.com".into(),
            password: "pa55word".into(),
            security_token: "T0KEN".into(),
        }
    }

    #[test]
    fn hides_secrets() {
        let s = SalesforceSettings::new(password_auth());
        let c = SalesforceConnector::new(s.clone()).expect("connector");
        for text in [format!("{s:?}"), format!("{c:?}")] {
            assert!(text.contains("admin@acme.com"), "{text}");
            assert!(!text.contains("pa55word") && !text.contains("T0KEN"), "{text}");
        }
        let cc = SalesforceAuth::ClientCredentials { client_id: "3MVG".into(), client_secret: "s3cret".into() };
        assert!(!format!("{cc:?}").contains("s3cret"));
    }

    #[test]
    fn refuses_bad_settings() {
        for url in ["", "ftp://x", "not a url"] {
            let s = SalesforceSettings { login_url: url.into(), ..SalesforceSettings::new(password_auth()) };
            assert!(matches!(SalesforceConnector::new(s), Err(ConnectorError::Config { .. })), "{url}");
        }
        for v in ["64", "v64.0", "64.x", ""] {
            let s = SalesforceSettings { api_version: v.into(), ..SalesforceSettings::new(password_auth()) };
            assert!(matches!(SalesforceConnector::new(s), Err(ConnectorError::Config { .. })), "{v}");
        }
    }

    #[test]
    fn tenant_url_replaces_the_login_server() {
        let s = SalesforceSettings::new(password_auth());
        assert_eq!(s.clone().with_tenant_url(Some(" ")).login_url, "https://login.salesforce.com");
        let t = s.with_tenant_url(Some("https://test.salesforce.com"));
        assert_eq!(t.login_url, "https://test.salesforce.com");
    }

    #[test]
    fn role_kinds_by_id_prefix() {
        assert_eq!(RoleKind::of("00e5w000002BaFVAA2"), Some(RoleKind::Profile));
        assert_eq!(RoleKind::of("00E5w000000abcdEAA"), Some(RoleKind::UserRole));
        assert_eq!(RoleKind::of(DEFAULT_ACCESS_ROLE), None);
        assert_eq!(RoleKind::Profile.field(), "ProfileId");
        assert_eq!(RoleKind::UserRole.field(), "UserRoleId");
    }
}
