//! A provisioning job's settings and credentials, as the admin sets them. Stored as
//! JSON in the job row; credentials are sealed before they reach the store.

pub use crate::destinations::TenantUrl;
use crate::EngineError;
pub use roster_connectors::MemberRemoval;
use roster_connectors::{Aspect, Form};
use roster_store::secrets::{serialize_exposed, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Manual: roster never calls the app. Automatic: roster provisions it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Manual,
    Automatic,
}

impl Mode {
    /// The mode as the settings name it (`manual`, `automatic`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Manual => "manual",
            Mode::Automatic => "automatic",
        }
    }
}

/// Provisioning status: on (cycles run) or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    On,
    #[default]
    Off,
}

impl Status {
    /// The status as the settings name it (`on`, `off`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::On => "on",
            Status::Off => "off",
        }
    }
}

/// Which users are provisioned: the assigned ones (default) or every user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    Assigned,
    All,
}

impl Scope {
    /// The scope as the settings name it (`assigned`, `all`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Assigned => "assigned",
            Scope::All => "all",
        }
    }
}

/// The settings of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct JobSettings {
    /// The gallery template the app was made from (`scim`, `salesforce`,
    /// `dropbox`, ...): it chooses the connector and reads the credentials.
    pub template: String,
    pub mode: Mode,
    pub status: Status,
    /// The SCIM base URL of the app; for Salesforce, the login server that
    /// replaces `https://login.salesforce.com` (a sandbox, My Domain, a
    /// Government Cloud instance).
    pub tenant_url: Option<TenantUrl>,
    /// Dropbox: the API host (`https://api.dropboxapi.com` when unset).
    pub api_url: Option<String>,
    /// Dropbox: the consent page an admin is sent to by Authorize.
    pub authorize_url: Option<String>,
    /// Dropbox: the OAuth token endpoint.
    pub token_url: Option<String>,
    /// Salesforce: how long work is held when the org's rolling 24-hour API
    /// limit is used up (`REQUEST_LIMIT_EXCEEDED`), seconds (one hour when unset).
    pub api_limit_hold_secs: Option<u64>,
    pub notification_email: Option<String>,
    pub scope: Scope,
    /// Seconds between safety-net cycles (changes are picked up within a second anyway).
    pub interval_secs: u64,
    /// Requests in flight to the app at once.
    pub concurrency: usize,
    /// Member values per group PATCH.
    pub member_batch_size: usize,
    /// SCIM forms an admin pinned for this app (aspect → form, e.g.
    /// `memberRemoval: valueList`); every other aspect is learned from the app's
    /// answers (see the README's "SCIM dialects").
    #[schema(value_type = BTreeMap<String, String>)]
    pub dialect: BTreeMap<Aspect, Form>,
    /// Request timeout, seconds.
    pub timeout_secs: u64,
    /// Most requests per second to the app (`None`: no limit beyond concurrency).
    pub rate_limit: Option<f64>,
    /// The first delay before an escrowed object is retried, seconds; it doubles
    /// with each failed attempt, up to a day.
    pub escrow_retry_secs: u64,
    /// Send a failure digest (at most hourly) to the notification email.
    pub send_failure_email: bool,
    /// The accidental-deletion guard: a cycle that would disable or delete more
    /// objects than this stops before doing any of them.
    pub delete_threshold: u64,
    /// The guard as a share of provisioned objects (percent), when set; the
    /// smaller of the two limits applies.
    pub delete_threshold_percent: Option<f64>,
    /// When a job goes into quarantine.
    pub quarantine: QuarantineRules,
    /// The most bytes of one answer of the app roster reads; a longer answer
    /// fails the call, so that an app cannot fill roster's memory.
    pub max_response_bytes: u64,
    /// The most objects roster reads from one listing of the app (the initial
    /// cycle's snapshot); an app that lists more ends the cycle with an error.
    pub max_listed_objects: u64,
    /// Lets the app's URLs use plain http on a host other than loopback (the
    /// credentials then cross the network unencrypted).
    pub allow_insecure_http: bool,
    /// Lets the app's URLs be private network addresses (10/8, 192.168/16,
    /// fc00::/7...); link-local and cloud metadata addresses are never allowed.
    pub allow_private_networks: bool,
    /// Hours between scheduled drift checks (the app's accounts read and
    /// compared with what roster sent); 0: no scheduled check.
    pub drift_check_hours: u64,
}

/// The default of `maxResponseBytes`: 16 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = roster_connectors::DEFAULT_MAX_RESPONSE_BYTES as u64;

/// The default of `maxListedObjects`: a snapshot of that many accounts takes
/// on the order of 100 MB; an app with more sets it higher (and has the memory).
pub const DEFAULT_MAX_LISTED_OBJECTS: u64 = 200_000;

/// The quarantine rules (the reference service's by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct QuarantineRules {
    /// The share of failed operations in a cycle that quarantines the job.
    pub failure_ratio: f64,
    /// ...once at least this many operations were tried.
    pub min_operations: u64,
    /// Delays before the attempts in quarantine, seconds (the last repeats).
    pub schedule_secs: Vec<u64>,
    /// Days in quarantine after which the job is turned off.
    pub give_up_days: u64,
}

impl Default for QuarantineRules {
    fn default() -> QuarantineRules {
        QuarantineRules {
            failure_ratio: 0.4,
            min_operations: 10,
            schedule_secs: vec![6 * 3600, 12 * 3600, 24 * 3600],
            give_up_days: 28,
        }
    }
}

impl Default for JobSettings {
    fn default() -> JobSettings {
        JobSettings {
            template: "scim".into(),
            mode: Mode::Manual,
            status: Status::Off,
            tenant_url: None,
            api_url: None,
            authorize_url: None,
            token_url: None,
            api_limit_hold_secs: None,
            notification_email: None,
            scope: Scope::Assigned,
            interval_secs: 40 * 60,
            concurrency: 8,
            member_batch_size: 100,
            dialect: BTreeMap::new(),
            timeout_secs: 30,
            rate_limit: None,
            escrow_retry_secs: 60,
            send_failure_email: true,
            delete_threshold: 500,
            delete_threshold_percent: None,
            quarantine: QuarantineRules::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_listed_objects: DEFAULT_MAX_LISTED_OBJECTS,
            allow_insecure_http: false,
            allow_private_networks: false,
            drift_check_hours: 0,
        }
    }
}

/// The admin credentials of an app, as they are sealed: each template uses
/// its own fields (SCIM: the secret token; Salesforce: the admin login or a
/// connected app's client credentials; Dropbox: roster's Dropbox app and the
/// refresh token Authorize gave). Never serialized anywhere but sealed; an
/// older sealed document (`{"secretToken": ...}`) opens as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Credentials {
    /// SCIM: the bearer token. Salesforce: the admin's security token.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "serialize_exposed")]
    pub secret_token: Option<SecretString>,
    /// Salesforce: the admin's username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_username: Option<String>,
    /// Salesforce: the admin's password.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "serialize_exposed")]
    pub admin_password: Option<SecretString>,
    /// Salesforce: the connected app's consumer key; Dropbox: the app key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Salesforce: the consumer secret; Dropbox: the app secret.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "serialize_exposed")]
    pub client_secret: Option<SecretString>,
    /// Dropbox: the long-lived refresh token from Authorize.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "serialize_exposed")]
    pub refresh_token: Option<SecretString>,
    /// Dropbox: the team the refresh token is for (`dbtid:...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
}

/// A change to the settings, as the API and CLI send it; absent fields are kept.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsPatch {
    pub mode: Option<Mode>,
    pub status: Option<Status>,
    pub tenant_url: Option<String>,
    /// Write-only. SCIM: the bearer token; Salesforce: the admin's security
    /// token (the tutorial's Secret Token), appended to the password at login.
    #[schema(value_type = Option<String>, format = Password)]
    pub secret_token: Option<SecretString>,
    /// Salesforce: the admin's username.
    pub admin_username: Option<String>,
    /// Write-only. Salesforce: the admin's password.
    #[schema(value_type = Option<String>, format = Password)]
    pub admin_password: Option<SecretString>,
    /// Salesforce: a connected app's consumer key (the client credentials
    /// flow); Dropbox: the app key of roster's Dropbox app.
    pub client_id: Option<String>,
    /// Write-only. The consumer secret or the Dropbox app secret.
    #[schema(value_type = Option<String>, format = Password)]
    pub client_secret: Option<SecretString>,
    /// Dropbox: the API host; empty goes back to Dropbox's own.
    pub api_url: Option<String>,
    /// Dropbox: the consent page; empty goes back to Dropbox's own.
    pub authorize_url: Option<String>,
    /// Dropbox: the token endpoint; empty goes back to Dropbox's own.
    pub token_url: Option<String>,
    /// Salesforce: seconds to hold work when the org's API limit is used up.
    pub api_limit_hold_secs: Option<u64>,
    pub notification_email: Option<String>,
    pub scope: Option<Scope>,
    /// Seconds, or a duration like `40m`, `6h`, `90s`.
    #[schema(schema_with = interval_schema)]
    pub interval: Option<serde_json::Value>,
    pub concurrency: Option<usize>,
    pub member_batch_size: Option<usize>,
    /// Pins how members are removed: `filter`, `valueList` or
    /// `onePerRequest`; `auto` lets roster learn it.
    pub member_removal: Option<String>,
    /// Pins SCIM forms, aspect → form (`{"complexValue": "subAttributes"}`);
    /// `auto` lets roster learn that aspect again.
    pub dialect: Option<BTreeMap<String, String>>,
    pub timeout_secs: Option<u64>,
    /// Requests per second; 0 removes the limit.
    pub rate_limit: Option<f64>,
    pub escrow_retry_secs: Option<u64>,
    pub send_failure_email: Option<bool>,
    pub delete_threshold: Option<u64>,
    /// Percent; 0 removes it.
    pub delete_threshold_percent: Option<f64>,
    pub quarantine: Option<QuarantineRules>,
    /// Bytes, 1 KiB to 1 GiB.
    pub max_response_bytes: Option<u64>,
    /// Objects, 1,000 to 100,000,000.
    pub max_listed_objects: Option<u64>,
    pub allow_insecure_http: Option<bool>,
    pub allow_private_networks: Option<bool>,
    /// Hours between scheduled drift checks, 1 to 720; 0 turns them off.
    pub drift_check_hours: Option<u64>,
}

impl SettingsPatch {
    /// Applies the limits on what roster sends and reads: plain http, the size
    /// of an answer, the length of a listing.
    pub(crate) fn apply_outbound_limits(&self, s: &mut JobSettings) -> Result<(), EngineError> {
        if let Some(allow) = self.allow_insecure_http {
            s.allow_insecure_http = allow;
        }
        if let Some(allow) = self.allow_private_networks {
            s.allow_private_networks = allow;
        }
        if let Some(n) = self.max_response_bytes {
            s.max_response_bytes = within("maxResponseBytes", n, 1024..=1 << 30, "1024 to 1073741824")?;
        }
        if let Some(n) = self.max_listed_objects {
            s.max_listed_objects = within("maxListedObjects", n, 1000..=100_000_000, "1000 to 100000000")?;
        }
        Ok(())
    }

    /// Applies the settings of the job's own running: mode, status, scope,
    /// schedule, limits, alerts and the rules of quarantine. The credentials,
    /// URLs and outbound limits are applied apart (they decide what the
    /// credentials may reach).
    pub(crate) fn apply_running(&self, s: &mut JobSettings) -> Result<(), EngineError> {
        if let Some(m) = self.mode {
            s.mode = m;
        }
        if let Some(st) = self.status {
            s.status = st;
        }
        if let Some(e) = &self.notification_email {
            if !e.is_empty() && !e.contains('@') {
                return Err(EngineError::invalid_setting(
                    "notificationEmail",
                    format!("notification email {e:?} is not an address"),
                ));
            }
            s.notification_email = (!e.is_empty()).then(|| e.clone());
        }
        if let Some(sc) = self.scope {
            s.scope = sc;
        }
        if let Some(i) = &self.interval {
            s.interval_secs = parse_interval(i).filter(|n| *n >= 1 && *n <= 7 * 86_400).ok_or_else(|| {
                EngineError::invalid_setting(
                    "interval",
                    format!("interval {i} must be a duration like 40m, 6h or a number of seconds (1s to 7d)"),
                )
            })?;
        }
        if let Some(c) = self.concurrency {
            s.concurrency = within("concurrency", c, 1..=64, "1 to 64")?;
        }
        if let Some(b) = self.member_batch_size {
            s.member_batch_size = within("memberBatchSize", b, 1..=10_000, "1 to 10000")?;
        }
        if let Some(r) = &self.member_removal {
            pin(&mut s.dialect, "memberRemoval", Aspect::MemberRemoval, r)?;
        }
        for (aspect, form) in self.dialect.iter().flatten() {
            let field = format!("dialect.{aspect}");
            let known = Aspect::parse(aspect).ok_or_else(|| {
                let names: Vec<&str> = Aspect::ALL.iter().map(|a| a.as_str()).collect();
                EngineError::invalid_setting(
                    &field,
                    format!("no SCIM aspect is called {aspect:?}: one of {}", names.join(", ")),
                )
            })?;
            pin(&mut s.dialect, &field, known, form)?;
        }
        if let Some(t) = self.timeout_secs {
            s.timeout_secs = t.clamp(1, 600);
        }
        if let Some(r) = self.rate_limit {
            let r = within("rateLimit", r, 0.0..=10_000.0, "0 (no limit) to 10000 requests per second")?;
            s.rate_limit = (r > 0.0).then_some(r);
        }
        if let Some(e) = self.escrow_retry_secs {
            s.escrow_retry_secs = e.clamp(1, 86_400);
        }
        if let Some(h) = self.drift_check_hours {
            if h > 720 {
                return Err(EngineError::invalid_setting("driftCheckHours", "0 (off) to 720 hours"));
            }
            s.drift_check_hours = h;
        }
        if let Some(f) = self.send_failure_email {
            s.send_failure_email = f;
        }
        if let Some(t) = self.delete_threshold {
            s.delete_threshold = t;
        }
        if let Some(p) = self.delete_threshold_percent {
            let p = within("deleteThresholdPercent", p, 0.0..=100.0, "0 (off) to 100")?;
            s.delete_threshold_percent = (p > 0.0).then_some(p);
        }
        if let Some(q) = &self.quarantine {
            if !(q.failure_ratio > 0.0 && q.failure_ratio <= 1.0) || q.schedule_secs.is_empty() || q.give_up_days == 0 {
                return Err(EngineError::invalid_setting(
                    "quarantine",
                    "quarantine needs failureRatio in (0, 1], a non-empty scheduleSecs and giveUpDays of at least 1",
                ));
            }
            s.quarantine = q.clone();
        }
        Ok(())
    }

    /// The fields of the templates' credentials forms this change sets, by
    /// their settings names.
    pub fn credential_fields(&self) -> Vec<&'static str> {
        [
            ("secretToken", self.secret_token.is_some()),
            ("adminUsername", self.admin_username.is_some()),
            ("adminPassword", self.admin_password.is_some()),
            ("clientId", self.client_id.is_some()),
            ("clientSecret", self.client_secret.is_some()),
            ("tenantUrl", self.tenant_url.is_some()),
            ("apiUrl", self.api_url.is_some()),
            ("authorizeUrl", self.authorize_url.is_some()),
            ("tokenUrl", self.token_url.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

    /// Whether the change sets a field of a credentials form.
    pub fn sets_credentials(&self) -> bool {
        !self.credential_fields().is_empty()
    }

    /// Sets a field of a template's credentials form by its name (the forms
    /// are data: `tenantUrl`, `secretToken`, `adminUsername`...).
    pub fn set_credential(&mut self, name: &str, value: String) -> Result<(), EngineError> {
        match name {
            "tenantUrl" => self.tenant_url = Some(value),
            "secretToken" => self.secret_token = Some(value.into()),
            "adminUsername" => self.admin_username = Some(value),
            "adminPassword" => self.admin_password = Some(value.into()),
            "clientId" => self.client_id = Some(value),
            "clientSecret" => self.client_secret = Some(value.into()),
            "apiUrl" => self.api_url = Some(value),
            "authorizeUrl" => self.authorize_url = Some(value),
            "tokenUrl" => self.token_url = Some(value),
            other => return Err(EngineError::invalid_setting(other, format!("{other} is not a credential field"))),
        }
        Ok(())
    }
}

/// Pins `aspect` to the form named `form`, or unpins it on `auto`.
fn pin(pins: &mut BTreeMap<Aspect, Form>, field: &str, aspect: Aspect, form: &str) -> Result<(), EngineError> {
    if form.eq_ignore_ascii_case("auto") {
        pins.remove(&aspect);
        return Ok(());
    }
    let found = Form::parse(aspect, form).ok_or_else(|| {
        let names: Vec<&str> = aspect.forms().iter().map(|f| f.as_str()).collect();
        EngineError::invalid_setting(field, format!("{field} must be auto or one of {}", names.join(", ")))
    })?;
    pins.insert(aspect, found);
    Ok(())
}

/// `value` when `range` holds it, else a refusal of `field` saying the range.
fn within<T: PartialOrd + Copy>(
    field: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
    says: &str,
) -> Result<T, EngineError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(EngineError::invalid_setting(field, format!("{field} must be {says}")))
    }
}

/// Which credentials are set, as the settings view shows them: secret values
/// never leave; usernames, client ids and the Dropbox team do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct CredentialsView {
    pub secret_token_set: bool,
    pub admin_username: Option<String>,
    pub admin_password_set: bool,
    pub client_id: Option<String>,
    pub client_secret_set: bool,
    /// Dropbox: roster holds a refresh token from Authorize.
    pub authorized: bool,
    /// Dropbox: the team Authorize was for.
    pub team_id: Option<String>,
    /// False when the sealed credentials cannot be opened (another master
    /// key): they must be set again.
    pub credentials_readable: bool,
}

/// The settings of a job as the API, the CLI and the portal show them: the
/// settings, which credentials are set (never a secret), and the credentials
/// a change just cleared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    #[serde(flatten)]
    pub settings: JobSettings,
    #[serde(flatten)]
    pub credentials: CredentialsView,
    /// Credential fields the change cleared because the URL they are sent to
    /// changed (only in the answer to a change, and only when there are some).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cleared_credentials: Vec<String>,
}

impl SettingsView {
    /// The saved value of a non-secret field of a template's credentials form,
    /// by its name (see [`SettingsPatch::set_credential`]).
    pub fn credential_text(&self, name: &str) -> Option<&str> {
        let (s, c) = (&self.settings, &self.credentials);
        match name {
            "tenantUrl" => s.tenant_url.as_deref(),
            "apiUrl" => s.api_url.as_deref(),
            "authorizeUrl" => s.authorize_url.as_deref(),
            "tokenUrl" => s.token_url.as_deref(),
            "adminUsername" => c.admin_username.as_deref(),
            "clientId" => c.client_id.as_deref(),
            _ => None,
        }
    }

    /// Whether a secret field of a template's credentials form is set.
    pub fn secret_set(&self, name: &str) -> bool {
        let c = &self.credentials;
        match name {
            "secretToken" => c.secret_token_set,
            "adminPassword" => c.admin_password_set,
            "clientSecret" => c.client_secret_set,
            "refreshToken" => c.authorized,
            _ => false,
        }
    }
}

/// The schema of `interval`: a number of seconds, or a duration like `40m`.
fn interval_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[0-9]+[smhd]?$")))
        .description(Some("Seconds, or a duration like 40m, 6h, 90s, 1d (1s to 7d)"))
        .into()
}

/// Parses `40m`, `6h`, `90s`, `1d` or a number of seconds.
pub fn parse_interval(v: &serde_json::Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::parse_interval;
    use serde_json::json;

    fn check(input: serde_json::Value, expected: Option<u64>) {
        assert_eq!(parse_interval(&input), expected, "{input}");
    }

    #[test]
    fn intervals() {
        check(json!(90), Some(90));
        check(json!("40m"), Some(2400));
        check(json!("6h"), Some(21_600));
        check(json!("1d"), Some(86_400));
        check(json!("15"), Some(15));
        check(json!("5w"), None);
        check(json!("m"), None);
        check(json!(-1), None);
    }
}
