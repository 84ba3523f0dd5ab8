//! The Salesforce connector: logs in with the SOAP API `login()` call (admin
//! username, password and security token) or the OAuth 2.0 client
//! credentials flow, then provisions the User sObject through the REST API
//! (SOQL queries and sObject rows). Profiles and roles are the app's roles.
//! Salesforce never deletes users: roster disables them (`IsActive=false`).
//!
//! One session is shared by concurrent calls; when Salesforce answers
//! `INVALID_SESSION_ID` the connector logs in again once and repeats the
//! request once.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use reqwest::{Client, Method, StatusCode, Url};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use crate::{Connector, ConnectorError, PatchOperation, RemoteRole, ResourceKind, TargetObject, TargetPage};

mod fit;
mod login;
mod rest;
mod settings;
mod soap;

pub use fit::{field_name, soql_literal, DEFAULT_USER_FIELDS};
pub use settings::{RoleKind, SalesforceAuth, SalesforceSettings, UserDefaults};

use rest::{QueryPage, Session, Target};

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
/// The most notes kept for [`Connector::take_note`]; the engine takes each
/// right after its call, so more means nobody takes them.
const MAX_NOTES: usize = 10_000;

/// A Salesforce org reached through the REST API.
pub struct SalesforceConnector {
    client: Client,
    login_base: Url,
    settings: SalesforceSettings,
    session: RwLock<Option<Arc<Session>>>,
    logins: AtomicU64,
    notes: Mutex<HashMap<String, String>>,
}

impl fmt::Debug for SalesforceConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SalesforceConnector")
            .field("login_base", &self.login_base.as_str())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
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

/// What roster changed in the values it was given so that Salesforce
/// takes them, for the provisioning log; `None` if nothing.
fn adjustments(given: &Map<String, Value>, sent: &Map<String, Value>) -> Option<String> {
    let changed: Vec<String> = ["Username", "Alias", "CommunityNickname"]
        .iter()
        .filter_map(|field| {
            let (given, sent) = (given.get(*field)?.as_str()?.trim(), sent.get(*field)?.as_str()?);
            (given != sent).then(|| format!("{field} {given:?} sent as {sent:?}"))
        })
        .collect();
    (!changed.is_empty()).then(|| format!("changed to fit Salesforce's rules: {}", changed.join(", ")))
}

fn not_json(status: StatusCode, what: &str) -> ConnectorError {
    ConnectorError::Permanent {
        status: status.as_u16(),
        scim_type: None,
        app_message: format!("Salesforce's answer to {what} is not the JSON it documents"),
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
        crate::outbound::check_destination("the Salesforce login URL", &login_base, settings.allow_private_networks)?;
        let client = crate::outbound::client_builder(settings.timeout, settings.allow_private_networks)
            .pool_max_idle_per_host(32)
            .build()
            .map_err(|e| config(format!("cannot set up HTTPS: {}", login::client_error(&e))))?;
        Ok(SalesforceConnector {
            client,
            login_base,
            settings,
            session: RwLock::new(None),
            logins: AtomicU64::new(0),
            notes: Mutex::new(HashMap::new()),
        })
    }

    /// How many times this connector logged in.
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    fn notes(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A panic elsewhere while holding the lock leaves usable notes.
        self.notes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn note(&self, id: &str, note: Option<String>) {
        let Some(note) = note else { return };
        let mut notes = self.notes();
        if notes.len() >= MAX_NOTES {
            notes.clear();
        }
        notes.insert(id.to_string(), note);
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
    /// chosen is taken. Notes what it changed in `given`.
    async fn create_user(
        &self,
        given: &Map<String, Value>,
        mut record: Map<String, Value>,
    ) -> Result<TargetObject, ConnectorError> {
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
                let mut note = adjustments(given, &record);
                if attempt > 1 && !given.contains_key("CommunityNickname") {
                    let sent = record.get("CommunityNickname").and_then(Value::as_str).unwrap_or_default();
                    let taken = format!("CommunityNickname {base:?} was taken: sent {sent:?}");
                    note = Some(note.map_or(taken.clone(), |n| format!("{n}; {taken}")));
                }
                self.note(id, note);
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
        let given = attrs
            .iter()
            .filter_map(|(attr, value)| Some((fit::field_name(attr).ok()?, value.clone())))
            .collect::<Map<_, _>>();
        self.create_user(&given, record).await
    }

    async fn update(&self, kind: ResourceKind, id: &str, ops: &[PatchOperation]) -> Result<(), ConnectorError> {
        require_user(kind, "update")?;
        let fields = fit::patch_fields(ops, self.settings.username_domain.as_deref())?;
        if fields.is_empty() {
            return Ok(());
        }
        let given = ops
            .iter()
            .filter_map(|op| Some((fit::field_name(op.path.as_deref()?).ok()?, op.value.clone()?)))
            .collect::<Map<_, _>>();
        let note = adjustments(&given, &fields);
        let body = Value::Object(fields);
        let answer = self.send(Method::PATCH, Target::Data(&["sobjects", "User", id]), &[], Some(&body), None).await?;
        if answer.status.is_success() {
            self.note(id, note);
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

    fn take_note(&self, id: &str) -> Option<String> {
        self.notes().remove(id)
    }

    fn describe(&self, write: &crate::Write<'_>) -> Vec<crate::PlannedRequest> {
        use crate::{PlannedRequest, Write};
        let s = &self.settings;
        let at = |segments: &[&str]| format!("/services/data/v{}/sobjects/{}", s.api_version, segments.join("/"));
        let refused = |e: ConnectorError| vec![PlannedRequest::new("NONE", "", None).noted(e.to_string())];
        match *write {
            Write::Create { attrs, .. } => match fit::new_user(attrs, &s.user_defaults, s.username_domain.as_deref()) {
                Ok(record) => vec![PlannedRequest::new("POST", at(&["User"]), Some(Value::Object(record)))],
                Err(e) => refused(e),
            },
            Write::Update { id, ops, .. } => match fit::patch_fields(ops, s.username_domain.as_deref()) {
                Ok(fields) if fields.is_empty() => Vec::new(),
                Ok(fields) => vec![PlannedRequest::new("PATCH", at(&["User", id]), Some(Value::Object(fields)))],
                Err(e) => refused(e),
            },
            Write::Delete { .. } => refused(users_only("deletes")),
            Write::Members { .. } => refused(users_only("group members")),
        }
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
}
