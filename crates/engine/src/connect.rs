//! From a job's settings and sealed credentials to a live connector, and back:
//! sealing the credentials an admin sends (each template reads its own
//! fields), the vendor settings beside them, and showing which credentials
//! are set (never their values). A job in manual mode gets the stand-in
//! [`ManualConnector`], which calls nothing.

use crate::destinations::{parse_url, Reach, TenantUrl};
use crate::gallery::{self, ConnectorKind, Template};
use crate::job::LoadedJob;
use crate::settings::{Credentials, CredentialsView, JobSettings, Mode, SettingsPatch};
use crate::EngineError;
use roster_connectors::dropbox::{DropboxApp, DropboxConnector};
use roster_connectors::salesforce::{SalesforceAuth, SalesforceConnector, SalesforceSettings};
use roster_connectors::{Connector, Dialect, ManualConnector, ResolvesManualIds, ScimConnector, ScimSettings};
use roster_store::secrets::{Cipher, ExposeSecret, SecretString, Slot};
use roster_store::AppId;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// The outcome of Test Connection: a failed test is an answer, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConnectionTest {
    /// Whether the app answered as it should.
    pub ok: bool,
    /// What was checked, or what failed.
    pub message: String,
}

/// Whether a job's cycles write hand-offs instead of calling the app.
pub fn hands_off(settings: &JobSettings) -> bool {
    settings.mode == Mode::Manual
}

/// Opens sealed credentials (none sealed: none set).
pub fn open_credentials(cipher: &Cipher, app: &AppId, sealed: Option<&str>) -> Result<Credentials, EngineError> {
    let Some(sealed) = sealed else { return Ok(Credentials::default()) };
    serde_json::from_str(&cipher.open(sealed, Slot::credentials(app.as_str()))?)
        .map_err(|_| EngineError::Invalid("stored credentials are unreadable: set them again".into()))
}

fn not_configured(message: &str) -> EngineError {
    EngineError::NotConfigured(message.to_string())
}

/// Builds the connector of a job from its template, settings and sealed
/// credentials: the stand-in in manual mode, else the template's connector.
pub fn connector(cipher: &Cipher, job: &LoadedJob) -> Result<Arc<dyn Connector>, EngineError> {
    let s = &job.settings;
    let template = gallery::require(&s.template)?;
    if hands_off(s) {
        let matching = job.user_mapping.matching_attributes().into_iter().map(|(_, t)| t.to_string()).collect();
        return Ok(Arc::new(ManualConnector::new(matching)));
    }
    let creds = open_credentials(cipher, &job.row.app_id, job.row.credentials.as_deref())?;
    let timeout = Duration::from_secs(s.timeout_secs.max(1));
    let inner: Arc<dyn Connector> = match template.connector {
        ConnectorKind::Scim => {
            let url = s.tenant_url.as_ref().ok_or_else(|| not_configured("no tenant URL is set"))?.to_string();
            let token = creds.secret_token.as_ref().ok_or_else(|| not_configured("no secret token is set"))?;
            let mut settings = ScimSettings::new(url, token.clone());
            settings.timeout = timeout;
            settings.member_batch_size = s.member_batch_size.max(1);
            settings.dialect = Dialect { pinned: s.dialect.clone(), ..job.state.dialect.clone() };
            settings.max_response_bytes = response_cap(s);
            settings.allow_private_networks = s.allow_private_networks;
            Arc::new(ScimConnector::new(settings)?)
        }
        ConnectorKind::Salesforce => {
            let mut settings =
                SalesforceSettings::new(salesforce_auth(&creds)?).with_tenant_url(s.tenant_url.as_deref());
            settings.timeout = timeout;
            settings.max_response_bytes = response_cap(s);
            settings.allow_private_networks = s.allow_private_networks;
            if let Some(hold) = s.api_limit_hold_secs {
                settings.hold_on_limit = Duration::from_secs(hold.max(1));
            }
            Arc::new(SalesforceConnector::new(settings)?)
        }
        ConnectorKind::Dropbox => {
            let app = dropbox_app(s, &creds)?;
            let refresh = creds.refresh_token.as_ref().ok_or_else(|| {
                not_configured(
                    "roster is not authorized for the Dropbox team yet: run `roster app authorize APP` and open the \
                     URL it prints as a Dropbox team admin",
                )
            })?;
            Arc::new(DropboxConnector::new(app, refresh.clone(), timeout)?)
        }
        ConnectorKind::None => {
            return Err(EngineError::Invalid(format!(
                "the {} template supports manual provisioning only: {}",
                template.name,
                template.manual_only_reason.as_deref().unwrap_or("it has no connector")
            )))
        }
    };
    Ok(Arc::new(ResolvesManualIds::new(inner)))
}

/// The most bytes of one answer a connector reads.
fn response_cap(s: &JobSettings) -> usize {
    usize::try_from(s.max_response_bytes.max(1)).unwrap_or(usize::MAX)
}

/// How roster logs in to Salesforce: a connected app's client credentials
/// when both are set, else the admin's login.
fn salesforce_auth(creds: &Credentials) -> Result<SalesforceAuth, EngineError> {
    if let (Some(id), Some(secret)) = (&creds.client_id, &creds.client_secret) {
        return Ok(SalesforceAuth::ClientCredentials { client_id: id.clone(), client_secret: secret.clone() });
    }
    match (&creds.admin_username, &creds.admin_password) {
        (Some(username), Some(password)) => Ok(SalesforceAuth::Password {
            username: username.clone(),
            password: password.clone(),
            security_token: creds.secret_token.clone().unwrap_or_default(),
        }),
        _ => Err(not_configured(
            "set the Salesforce admin login (--admin-username, --admin-password-file, --secret-token-file) or a \
             connected app's client credentials (--client-id, --client-secret-file)",
        )),
    }
}

/// roster's Dropbox app of a job: its key and secret, and the URLs (Dropbox's
/// own unless the settings say otherwise).
pub fn dropbox_app(s: &JobSettings, creds: &Credentials) -> Result<DropboxApp, EngineError> {
    let (Some(id), Some(secret)) = (&creds.client_id, &creds.client_secret) else {
        return Err(not_configured(
            "set the app key and secret of roster's Dropbox app: `roster app configure APP --client-id KEY \
             --client-secret-file FILE`",
        ));
    };
    let mut app = DropboxApp::new(id.clone(), secret.clone());
    if let Some(u) = &s.api_url {
        app.api_url = u.clone();
    }
    if let Some(u) = &s.authorize_url {
        app.authorize_url = u.clone();
    }
    if let Some(u) = &s.token_url {
        app.token_url = u.clone();
    }
    app.max_response_bytes = response_cap(s);
    app.allow_private_networks = s.allow_private_networks;
    Ok(app)
}

/// Refuses fields the template's form does not have (a Dropbox app has no
/// admin password; a SCIM app no client id).
fn check_fields(template: &Template, patch: &SettingsPatch) -> Result<(), EngineError> {
    for field in patch.credential_fields() {
        if !template.credentials.iter().any(|c| c.name == field) {
            let known: Vec<&str> = template.credentials.iter().map(|c| c.name.as_str()).collect();
            let asks = if known.is_empty() { "no credentials".to_string() } else { known.join(", ") };
            return Err(EngineError::invalid_setting(
                field,
                format!("{field} is not a setting of a {} app: its form asks for {asks}", template.display_name),
            ));
        }
    }
    Ok(())
}

/// A trimmed value; empty means "clear it".
fn set_text(slot: &mut Option<String>, value: &Option<String>) {
    if let Some(v) = value {
        let v = v.trim();
        *slot = (!v.is_empty()).then(|| v.to_string());
    }
}

fn set_secret(slot: &mut Option<SecretString>, value: &Option<SecretString>) {
    if let Some(v) = value {
        let v = v.expose_secret().trim();
        *slot = (!v.is_empty()).then(|| SecretString::from(v));
    }
}

/// What a settings change does to the sealed credentials.
#[derive(Debug, Default)]
pub struct CredentialChange {
    /// The credentials to store, when the change touches them.
    pub sealed: Option<String>,
    /// Credential fields cleared because the URL they are sent to changed
    /// (see `destinations`); the admin sets them again.
    pub cleared: Vec<&'static str>,
}

/// Seals the credentials a settings change carries, merged into the stored
/// ones, and clears those sent to a URL the change moves (`before` and `after`
/// are the settings around the change; `after` names the template).
pub fn seal_credentials(
    cipher: &Cipher,
    app: &AppId,
    before: &JobSettings,
    after: &JobSettings,
    stored: Option<&str>,
    patch: &SettingsPatch,
) -> Result<CredentialChange, EngineError> {
    let template = gallery::require(&after.template)?;
    check_fields(template, patch)?;
    let given = patch.credential_fields();
    let mut creds = open_credentials(cipher, app, stored)?;
    let cleared: Vec<&'static str> =
        crate::destinations::cleared_by_url_change(template.connector, before, after, &given)
            .into_iter()
            .filter(|field| clear(&mut creds, field))
            .collect();
    let touched = patch.secret_token.is_some()
        || patch.admin_username.is_some()
        || patch.admin_password.is_some()
        || patch.client_id.is_some()
        || patch.client_secret.is_some();
    if !touched && cleared.is_empty() {
        return Ok(CredentialChange::default());
    }
    if template.connector == ConnectorKind::Scim
        && patch.secret_token.as_ref().is_some_and(|t| t.expose_secret().trim().is_empty())
    {
        return Err(EngineError::invalid_setting("secretToken", "the secret token is empty"));
    }
    let old_client = creds.client_id.clone();
    set_secret(&mut creds.secret_token, &patch.secret_token);
    set_text(&mut creds.admin_username, &patch.admin_username);
    set_secret(&mut creds.admin_password, &patch.admin_password);
    set_text(&mut creds.client_id, &patch.client_id);
    set_secret(&mut creds.client_secret, &patch.client_secret);
    if template.connector == ConnectorKind::Dropbox && creds.client_id != old_client {
        // A refresh token belongs to the Dropbox app that got it.
        creds.refresh_token = None;
        creds.team_id = None;
    }
    Ok(CredentialChange { sealed: Some(seal(cipher, app, &creds)?), cleared })
}

/// Clears the credential `field`; whether it was set.
fn clear(creds: &mut Credentials, field: &str) -> bool {
    match field {
        "secretToken" => creds.secret_token.take().is_some(),
        "adminPassword" => creds.admin_password.take().is_some(),
        "clientSecret" => creds.client_secret.take().is_some(),
        "refreshToken" => {
            creds.team_id = None;
            creds.refresh_token.take().is_some()
        }
        _ => false,
    }
}

/// Seals credentials as they are.
pub fn seal(cipher: &Cipher, app: &AppId, creds: &Credentials) -> Result<String, EngineError> {
    let text = serde_json::to_string(creds).map_err(|e| EngineError::Invalid(e.to_string()))?;
    Ok(cipher.seal(&text, Slot::credentials(app.as_str()))?)
}

/// Applies the URLs of a change (the tenant URL, Dropbox's URLs: each parsed
/// by `destinations`) and Salesforce's API limit hold, and refuses a mode the
/// template does not support.
pub fn apply_vendor_settings(s: &mut JobSettings, patch: &SettingsPatch) -> Result<(), EngineError> {
    let template = gallery::require(&s.template)?;
    if patch.mode == Some(Mode::Automatic) && !template.supports_automatic() {
        return Err(EngineError::invalid_setting(
            "mode",
            format!(
                "{} supports manual provisioning only: {}",
                template.display_name,
                template.manual_only_reason.as_deref().unwrap_or("it has no connector")
            ),
        ));
    }
    let reach = Reach::of(s);
    if let Some(u) = &patch.tenant_url {
        s.tenant_url = Some(TenantUrl::parse(u, reach)?);
    }
    for (field, what, given, slot) in [
        ("apiUrl", "API URL", &patch.api_url, &mut s.api_url),
        ("authorizeUrl", "authorize URL", &patch.authorize_url, &mut s.authorize_url),
        ("tokenUrl", "token URL", &patch.token_url, &mut s.token_url),
    ] {
        if let Some(u) = given {
            *slot = parse_url(field, what, u, reach)?;
        }
    }
    if let Some(h) = patch.api_limit_hold_secs {
        if !(1..=86_400).contains(&h) {
            return Err(EngineError::invalid_setting(
                "apiLimitHoldSecs",
                "apiLimitHoldSecs must be 1 to 86400 seconds",
            ));
        }
        s.api_limit_hold_secs = Some(h);
    }
    Ok(())
}

/// Whether a job has what its connector needs (manual mode needs nothing).
pub fn is_configured(cipher: &Cipher, app: &AppId, s: &JobSettings, sealed: Option<&str>) -> bool {
    if hands_off(s) {
        return true;
    }
    let Ok(creds) = open_credentials(cipher, app, sealed) else { return false };
    match gallery::template(&s.template).map(|t| t.connector) {
        Some(ConnectorKind::Scim) => s.tenant_url.is_some() && creds.secret_token.is_some(),
        Some(ConnectorKind::Salesforce) => salesforce_auth(&creds).is_ok(),
        Some(ConnectorKind::Dropbox) => {
            creds.client_id.is_some() && creds.client_secret.is_some() && creds.refresh_token.is_some()
        }
        Some(ConnectorKind::None) => true,
        None => false,
    }
}

/// Which credentials are set, for the settings view (secret values never
/// leave; usernames, client ids and the Dropbox team do).
pub fn credentials_view(cipher: &Cipher, app: &AppId, sealed: Option<&str>) -> CredentialsView {
    match open_credentials(cipher, app, sealed) {
        Ok(c) => CredentialsView {
            secret_token_set: c.secret_token.is_some(),
            admin_username: c.admin_username,
            admin_password_set: c.admin_password.is_some(),
            client_id: c.client_id,
            client_secret_set: c.client_secret.is_some(),
            authorized: c.refresh_token.is_some(),
            team_id: c.team_id,
            credentials_readable: true,
        },
        Err(_) => CredentialsView { secret_token_set: sealed.is_some(), ..CredentialsView::default() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn cipher() -> Cipher {
        Cipher::from_key([7; 32])
    }

    /// The app the credentials are sealed for (the slot `app`).
    fn app() -> AppId {
        AppId::from_stored("app".to_string())
    }

    fn settings(template: &str) -> JobSettings {
        JobSettings { template: template.into(), ..JobSettings::default() }
    }

    fn patch(v: Value) -> SettingsPatch {
        serde_json::from_value(v).expect("patch")
    }

    #[test]
    fn older_scim_credentials_still_open() {
        let c = cipher();
        let sealed = c.seal(r#"{"secretToken":"t0k"}"#, Slot::credentials("app")).expect("sealed");
        let creds = open_credentials(&c, &app(), Some(&sealed)).expect("opens");
        assert_eq!(creds.secret_token.map(|t| t.expose_secret().to_string()).as_deref(), Some("t0k"));
        assert!(is_configured(
            &c,
            &app(),
            &JobSettings {
                tenant_url: TenantUrl::parse("https://x", Reach::default()).ok(),
                mode: Mode::Automatic,
                ..settings("scim")
            },
            Some(&sealed)
        ));
    }

    #[test]
    fn salesforce_credentials_merge_and_show_only_whether_set() {
        let c = cipher();
        let s = JobSettings { mode: Mode::Automatic, ..settings("salesforce") };
        let first = seal_credentials(
            &c,
            &app(),
            &s,
            &s,
            None,
            &patch(json!({"adminUsername": "admin@acme.com", "adminPassword": "pw"})),
        )
        .expect("sealed")
        .sealed
        .expect("some");
        assert!(is_configured(&c, &app(), &s, Some(&first)));
        let second = seal_credentials(&c, &app(), &s, &s, Some(&first), &patch(json!({"secretToken": "TOK"})))
            .expect("ok")
            .sealed
            .expect("some");
        let creds = open_credentials(&c, &app(), Some(&second)).expect("opens");
        assert_eq!(creds.admin_password.map(|p| p.expose_secret().to_string()).as_deref(), Some("pw"));
        let view = serde_json::to_string(&credentials_view(&c, &app(), Some(&second))).expect("serializes");
        assert!(view.contains("admin@acme.com") && !view.contains("\"pw\"") && !view.contains("TOK"), "{view}");
        let auth = salesforce_auth(&open_credentials(&c, &app(), Some(&second)).expect("opens")).expect("auth");
        assert!(
            matches!(auth, SalesforceAuth::Password { security_token, .. } if security_token.expose_secret() == "TOK")
        );
    }

    #[test]
    fn fields_the_template_has_not_are_refused() {
        let c = cipher();
        let cases: &[(&str, Value, bool)] = &[
            ("scim", json!({"adminPassword": "x"}), false),
            ("scim", json!({"secretToken": " "}), false),
            ("scim", json!({"secretToken": "t"}), true),
            ("dropbox", json!({"secretToken": "t"}), false),
            ("dropbox", json!({"clientId": "k", "clientSecret": "s"}), true),
            ("manual", json!({"clientId": "k"}), false),
            ("salesforce", json!({"secretToken": ""}), true),
        ];
        for (template, p, ok) in cases {
            let got = seal_credentials(&c, &app(), &settings(template), &settings(template), None, &patch(p.clone()));
            assert_eq!(got.is_ok(), *ok, "{template} {p}: {got:?}");
        }
        let mut s = settings("manual");
        assert!(apply_vendor_settings(&mut s, &patch(json!({"mode": "automatic"}))).is_err());
        let mut s = settings("dropbox");
        apply_vendor_settings(&mut s, &patch(json!({"apiUrl": "http://127.0.0.1:9/"}))).expect("ok");
        assert_eq!(s.api_url.as_deref(), Some("http://127.0.0.1:9"));
        assert!(apply_vendor_settings(&mut s, &patch(json!({"tokenUrl": "ftp://x"}))).is_err());
    }
}
