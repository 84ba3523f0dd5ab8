//! An application's Provisioning tab, in the documentation's order: Provisioning
//! Mode, Admin Credentials (the fields of the app's template; secrets are
//! write-only and show only as set) with Test Connection and its result inline
//! (and Authorize for apps that get their credentials through OAuth), Mappings,
//! Settings, Provisioning Status, Save. Below: the live status, and Restart.
//!
//! Save sends one settings change to the engine (`Engine::configure`, as the REST
//! API does); what the engine refuses is shown next to the field it is about.

use crate::error::PortalError;
use crate::form::{field, Form, FormFields};
use crate::layout::{app_header, csrf_field, field_error, flash, page_with_status, AppTab, FieldErrors, Section};
use crate::session::{Args, Session};
use crate::status::{app_of, panel};
use crate::PortalState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use roster_engine::gallery::{self, CredentialField, Template};
use roster_engine::settings::{Mode, Scope, SettingsPatch, SettingsView, Status};
use roster_engine::EngineError;
use roster_store::Application;
use serde::Deserialize;
use serde_json::Value;

/// The routes of the tab.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/apps/{id}/provisioning", get(show).post(save))
        .route("/apps/{id}/provisioning/test", post(test))
        .route("/apps/{id}/provisioning/restart", post(restart))
        .route("/apps/{id}/provisioning/authorize", post(authorize))
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// What the form shows: the saved settings, or what was sent back.
struct Values<'a> {
    saved: &'a SettingsView,
    sent: Option<&'a FormFields>,
}

impl Values<'_> {
    /// The text of the input `name`: as sent back, else `saved`.
    fn text(&self, name: &str, saved: impl FnOnce() -> String) -> String {
        match self.sent {
            Some(f) => f.text(name),
            None => saved(),
        }
    }

    /// Whether the checkbox `name` is checked: as sent back, else `saved`.
    fn checked(&self, name: &str, saved: bool) -> bool {
        match self.sent {
            Some(f) => f.checked(name),
            None => saved,
        }
    }

    fn mode(&self) -> String {
        self.text("mode", || self.saved.settings.mode.as_str().into())
    }

    fn status(&self) -> String {
        self.text("status", || self.saved.settings.status.as_str().into())
    }
}

/// The outcome of Test Connection, shown under its button.
enum Tested {
    Not,
    Ok(String),
    Failed(String),
}

async fn show(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    Args(done): Args<Done>,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    let done = done.done;
    render(&state, &session, &app, None, &FieldErrors::default(), Tested::Not, done.as_deref(), StatusCode::OK).await
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &PortalState,
    session: &Session,
    app: &Application,
    sent: Option<&FormFields>,
    errors: &FieldErrors,
    tested: Tested,
    done: Option<&str>,
    code: StatusCode,
) -> Result<Response, PortalError> {
    let engine = state.engine()?;
    let saved = engine.settings_view(&app.id).await?;
    let status = engine.status(&app.id).await?;
    let mappings = engine.mappings(&app.id).await?;
    let configured = engine.store().job(&app.id).await?.is_some();
    let last_drift = if configured { engine.last_drift(&app.id).await.ok().flatten() } else { None };
    let template = gallery::template(&app.template);
    let v = Values { saved: &saved, sent };
    let (mode, on_off) = (v.mode(), v.status());
    let base = format!("/apps/{}/provisioning", app.id);
    let automatic_ok = template.is_none_or(Template::supports_automatic);
    let may_save = session.may_post(&base);
    let may_test = session.may_post(&format!("{base}/test"));
    let may_authorize = session.may_post(&format!("{base}/authorize"));
    let body = html! {
        (app_header(session, app, AppTab::Provisioning))
        (flash(done))
        (errors.banner())
        @if !may_save {
            p class="notice" role="status" {
                "Your role (" (session.role) ") shows these settings without changing them."
            }
        }
        form method="post" action=(base) id="provisioning-form" {
            (csrf_field(session))
            fieldset class="plain" disabled[!may_save] {
            section class="card" {
                h2 { "Provisioning Mode" }
                label for="mode" { "Mode" }
                select id="mode" name="mode" {
                    option value="manual" selected[mode != "automatic"] { "Manual" }
                    @if automatic_ok { option value="automatic" selected[mode == "automatic"] { "Automatic" } }
                }
                @if let Some(why) = template.and_then(|t| t.manual_only_reason.as_deref()) {
                    p class="hint" { "Manual only: " (why) }
                }
                (field_error(errors, "mode"))
            }
            @if automatic_ok {
                section class="card" {
                    h2 { "Admin Credentials" }
                    (credential_fields(template, &v, errors))
                    div class="actions" {
                        @if may_test && may_save {
                            button type="submit" class="secondary" formaction={ (base) "/test" } { "Test Connection" }
                        }
                        @if may_authorize && template.is_some_and(|t| t.authorize) {
                            button type="submit" class="secondary" formaction={ (base) "/authorize" } { "Authorize" }
                        }
                    }
                    @if template.is_some_and(|t| t.authorize) {
                        p class="hint" {
                            @if saved.credentials.authorized {
                                span class="badge on" { "Authorized" } " "
                                @if let Some(team) = &saved.credentials.team_id { "Team " code { (team) } ". " }
                            } @else {
                                span class="badge off" { "Not authorized" } " "
                            }
                            "Authorize opens the app's sign-in page: sign in as a team admin and allow roster. The app key and secret typed above are saved first."
                        }
                    }
                    (tested_result(&tested))
                }
            }
            section class="card" {
                h2 { "Mappings" }
                div class="table-wrap" { table {
                    thead { tr { th { "Name" } th { "Enabled" } } }
                    tbody { @for o in &mappings.objects {
                        @let kind = crate::mappings::kind_slug(o.source_object);
                        tr {
                            td { a href={ (base) "/mappings/" (kind) } { (o.name) } }
                            td { @if o.enabled { "Yes" } @else { "No" } }
                        }
                    } }
                } }
            }
            section class="card" {
                h2 { "Settings" }
                (settings_fields(&v, errors))
            }
            section class="card" {
                h2 { "Provisioning Status" }
                fieldset {
                    legend { "Status" }
                    label class="inline" { input type="radio" name="status" value="on" checked[on_off == "on"]; "On" }
                    label class="inline" { input type="radio" name="status" value="off" checked[on_off != "on"]; "Off" }
                }
                (field_error(errors, "status"))
            }
            @if may_save { div class="actions" { button type="submit" id="save" { "Save" } } }
            }
        }
        @if may_test && !may_save {
            form method="post" action={ (base) "/test" } {
                (csrf_field(session))
                div class="actions" { button type="submit" class="secondary" { "Test Connection" } }
            }
        }
        h2 id="status-heading" { "Synchronization details" }
        (panel(session, app, &status))
        @if session.may_post(&format!("{base}/restart")) { section class="card" {
            h2 { "Restart provisioning" }
            p { "The next cycle walks every assigned user again. Clearing the state also forgets what was sent: every account is matched again (never duplicated)." }
            form method="post" action={ (base) "/restart" } data-confirm="Restart provisioning?" {
                (csrf_field(session))
                label class="inline" { input type="checkbox" name="full" value="on"; "Clear current state and restart synchronization" }
                div class="actions" { button type="submit" class="secondary" { "Restart provisioning" } }
            }
        } }
        @if session.may_open(&format!("{base}/on-demand")) { section class="card" {
            h2 { "Provision on demand" }
            p { "Run the steps for one user now and see each step's outcome." }
            a class="button secondary" href={ (base) "/on-demand" } { "Provision on demand" }
        } }
        @if configured && session.may_open(&format!("{base}/plan")) { section class="card" {
            h2 { "Plan of the next cycle" }
            p { "Every change the next cycle would make, with the requests it would send, without calling the app." }
            a class="button secondary" href={ (base) "/plan" } { "Show the plan" }
        } }
        @if configured && session.may_open(&format!("{base}/drift")) { section class="card" {
            h2 { "Drift" }
            @match &last_drift {
                Some(r) => p { "Last check: " strong { (r.total()) " difference(s)" } " between the app and what roster sent." },
                None => p { "No drift check has run yet: a check compares the app's accounts and groups with what roster sent." },
            }
            a class="button secondary" href={ (base) "/drift" } { "Drift" }
        } }
    };
    Ok(page_with_status(code, session, Section::Apps, &format!("{} · Provisioning", app.name), body))
}

fn credential_fields(template: Option<&Template>, v: &Values, errors: &FieldErrors) -> Markup {
    let fallback;
    let fields: &[CredentialField] = match template {
        Some(t) => &t.credentials,
        None => {
            fallback = gallery::template("scim").map(|t| t.credentials.clone()).unwrap_or_default();
            &fallback
        }
    };
    let mut groups: Vec<Option<&str>> = Vec::new();
    for f in fields {
        if !groups.contains(&f.group.as_deref()) {
            groups.push(f.group.as_deref());
        }
    }
    html! {
        @if fields.is_empty() { p class="muted" { "This app needs no credentials." } }
        @for g in &groups {
            @let in_group = fields.iter().filter(|f| f.group.as_deref() == *g);
            @if let Some(name) = g {
                fieldset {
                    legend { (group_label(name)) }
                    @for f in in_group { (credential_field(f, v, errors)) }
                }
            } @else {
                @for f in in_group { (credential_field(f, v, errors)) }
            }
        }
    }
}

fn group_label(group: &str) -> String {
    match group {
        "password" => "Sign in as an admin user".into(),
        "clientCredentials" => "Or: a connected app's client credentials".into(),
        other => other.to_string(),
    }
}

fn credential_field(f: &CredentialField, v: &Values, errors: &FieldErrors) -> Markup {
    let invalid = errors.get(&f.name).is_some();
    let hint_id = format!("hint-{}", f.name);
    html! {
        label for=(f.name) { (f.label) @if f.required { " (required)" } }
        @if f.secret {
            @let set = v.saved.secret_set(&f.name);
            input type="password" id=(f.name) name=(f.name) value="" autocomplete="new-password"
                placeholder=(if set { "set — leave empty to keep it" } else { "" })
                aria-invalid=[invalid.then_some("true")] aria-describedby=(hint_id);
            p class="hint" id=(hint_id) {
                @if set { span class="badge on" { "Set" } " The saved value is never shown. " } @else { span class="badge off" { "Not set" } " " }
                @if let Some(h) = &f.help { (h) }
            }
        } @else {
            input type="text" id=(f.name) name=(f.name) autocomplete="off"
                value=(v.text(&f.name, || v.saved.credential_text(&f.name).unwrap_or_default().to_string()))
                aria-invalid=[invalid.then_some("true")] aria-describedby=(hint_id);
            @if let Some(h) = &f.help { p class="hint" id=(hint_id) { (h) } }
        }
        (field_error(errors, &f.name))
    }
}

fn settings_fields(v: &Values, errors: &FieldErrors) -> Markup {
    let saved = &v.saved.settings;
    let interval = v.text("interval", || interval_text(saved.interval_secs));
    let percent =
        v.text("deleteThresholdPercent", || saved.delete_threshold_percent.map(|p| p.to_string()).unwrap_or_default());
    let email = v.text("notificationEmail", || saved.notification_email.clone().unwrap_or_default());
    let scope = v.text("scope", || saved.scope.as_str().into());
    let threshold = v.text("deleteThreshold", || saved.delete_threshold.to_string());
    let drift = v.text("driftCheckHours", || saved.drift_check_hours.to_string());
    html! {
        (crate::layout::text_field("email", "notificationEmail", "Notification Email", &email, errors,
            Some("Who hears about quarantine, staged deletions and failures.")))
        label class="inline" {
            input type="checkbox" name="sendFailureEmail" value="on" checked[v.checked("sendFailureEmail", saved.send_failure_email)];
            "Send an email notification when a failure occurs"
        }
        label for="scope" { "Scope" }
        select id="scope" name="scope" {
            option value="assigned" selected[scope != "all"] { "Sync only assigned users and groups" }
            option value="all" selected[scope == "all"] { "Sync all users and groups" }
        }
        (crate::layout::text_field("text", "interval", "Interval between safety-net cycles", &interval, errors,
            Some("Like 40m, 6h or 90s. Changes reach the app within a second anyway.")))
        (crate::layout::text_field("number", "deleteThreshold", "Accidental deletion threshold", &threshold, errors,
            Some("A cycle that would disable or delete more accounts than this stops and waits for approval.")))
        (crate::layout::text_field("number", "deleteThresholdPercent", "Accidental deletion threshold, percent (optional)", &percent, errors,
            Some("The same guard as a share of provisioned accounts; empty or 0 turns it off.")))
        (crate::layout::text_field("number", "driftCheckHours", "Drift check every (hours)", &drift, errors,
            Some("A scheduled check of the app's accounts against what roster sent (it reports, never repairs); 0 turns it off.")))
    }
}

fn interval_text(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The inputs of the Settings and Status parts of the form; with the
/// template's credential fields, the fields a refusal can be shown next to.
const SETTINGS_INPUTS: &[&str] = &[
    "mode",
    "status",
    "notificationEmail",
    "sendFailureEmail",
    "scope",
    "interval",
    "deleteThreshold",
    "deleteThresholdPercent",
    "driftCheckHours",
];

/// The input a refusal of the settings field `field` is shown next to: the
/// field's own, or none (the form's banner) when the form has no such input.
fn input_of(field: &str, template: Option<&Template>) -> String {
    let credentials = template.map(|t| t.credentials.as_slice()).unwrap_or_default();
    if SETTINGS_INPUTS.contains(&field) || credentials.iter().any(|f| f.name == field) {
        field.to_string()
    } else {
        String::new()
    }
}

/// The credential part of the form as a settings change: every non-secret field
/// that differs from the saved value, and every secret that was typed.
fn credentials_patch(
    template: Option<&Template>,
    form: &FormFields,
    saved: &SettingsView,
    into: &mut SettingsPatch,
    errors: &mut FieldErrors,
) {
    for f in template.map(|t| t.credentials.as_slice()).unwrap_or_default() {
        let value = form.text(&f.name);
        let changed =
            if f.secret { !value.is_empty() } else { saved.credential_text(&f.name).unwrap_or_default() != value };
        if changed {
            if let Err(e) = into.set_credential(&f.name, value) {
                errors.add(&f.name, e.to_string());
            }
        }
    }
}

/// One of the choices of a select (`mode`, `scope`), as the settings read it;
/// `None` when the form did not send one of `choices`.
fn choice<T: Copy>(form: &FormFields, name: &str, choices: &[(&str, T)]) -> Option<T> {
    let sent = form.get(name)?;
    choices.iter().find(|(text, _)| *text == sent).map(|(_, value)| *value)
}

/// The whole form as a settings change; text that is not a number where one
/// is asked for is a field error. Whether the settings are valid together is
/// the engine's to say.
fn settings_patch(
    template: Option<&Template>,
    form: &FormFields,
    saved: &SettingsView,
    errors: &mut FieldErrors,
) -> SettingsPatch {
    let mut patch = SettingsPatch {
        mode: choice(form, "mode", &[("manual", Mode::Manual), ("automatic", Mode::Automatic)]),
        status: Some(if form.get("status") == Some("on") { Status::On } else { Status::Off }),
        notification_email: Some(form.text("notificationEmail")),
        send_failure_email: Some(form.checked("sendFailureEmail")),
        scope: choice(form, "scope", &[("assigned", Scope::Assigned), ("all", Scope::All)]),
        interval: form.opt("interval").map(Value::String),
        ..SettingsPatch::default()
    };
    credentials_patch(template, form, saved, &mut patch, errors);
    match form.text("deleteThreshold").parse::<u64>() {
        Ok(n) => patch.delete_threshold = Some(n),
        Err(_) => errors.add("deleteThreshold", "Enter a whole number of accounts, like 500."),
    }
    let percent = form.text("deleteThresholdPercent");
    match if percent.is_empty() { Ok(0.0) } else { percent.parse::<f64>() } {
        Ok(p) if p.is_finite() => patch.delete_threshold_percent = Some(p),
        _ => errors.add("deleteThresholdPercent", "Enter a percentage from 0 to 100, or leave it empty."),
    }
    if let Some(hours) = form.opt("driftCheckHours") {
        match hours.parse::<u64>() {
            Ok(h) => patch.drift_check_hours = Some(h),
            Err(_) => errors.add("driftCheckHours", "Enter a whole number of hours from 0 (off) to 720."),
        }
    }
    patch
}

/// Sends a change to the engine; a refused setting becomes the error of its
/// field. Whether the change cleared credentials (a new URL they were sent to).
async fn configure(
    state: &PortalState,
    app: &Application,
    patch: SettingsPatch,
    errors: &mut FieldErrors,
) -> Result<bool, PortalError> {
    match state.engine()?.configure(&app.id, patch).await {
        Ok(view) => Ok(!view.cleared_credentials.is_empty()),
        Err(EngineError::InvalidSetting { field, message }) => {
            errors.add(&input_of(&field, gallery::template(&app.template)), message);
            Ok(false)
        }
        Err(EngineError::Invalid(m)) => {
            errors.add("", m);
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

async fn save(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    let template = gallery::template(&app.template);
    let saved = state.engine()?.settings_view(&app.id).await?;
    let mut errors = FieldErrors::default();
    let patch = settings_patch(template, &form, &saved, &mut errors);
    let cleared = if errors.is_empty() { configure(&state, &app, patch, &mut errors).await? } else { false };
    if errors.is_empty() {
        let done = if cleared { "saved-credentials-cleared" } else { "saved" };
        return Ok(Redirect::to(&format!("/apps/{}/provisioning?done={done}", app.id)).into_response());
    }
    render(&state, &session, &app, Some(&form), &errors, Tested::Not, None, StatusCode::BAD_REQUEST).await
}

async fn test(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    let engine = state.engine()?;
    let template = gallery::template(&app.template);
    let saved = engine.settings_view(&app.id).await?;
    let mut patch = SettingsPatch::default();
    let mut errors = FieldErrors::default();
    // Credentials typed in the form are saved before the test, by an admin only:
    // an operator's test uses the saved ones (its form sends none).
    if session.may_post(&format!("/apps/{}/provisioning", app.id)) {
        credentials_patch(template, &form, &saved, &mut patch, &mut errors);
    }
    if errors.is_empty() && patch.sets_credentials() {
        configure(&state, &app, patch, &mut errors).await?;
    }
    let tested = if !errors.is_empty() {
        Tested::Not
    } else {
        match engine.test_connection(&app.id).await {
            Ok(checked) => Tested::Ok(checked),
            Err(EngineError::Store(e)) => return Err(e.into()),
            Err(e) => Tested::Failed(e.to_string()),
        }
    };
    let code = match (&tested, errors.is_empty()) {
        (Tested::Ok(_), true) => StatusCode::OK,
        _ => StatusCode::BAD_REQUEST,
    };
    render(&state, &session, &app, Some(&form), &errors, tested, None, code).await
}

fn tested_result(tested: &Tested) -> Markup {
    html! {
        div id="test-result" class="result" aria-live="polite" {
            @match tested {
                Tested::Not => {},
                Tested::Ok(m) => div class="notice ok" role="status" { strong { "Connection succeeded. " } (m) },
                Tested::Failed(m) => div class="notice bad" role="alert" { strong { "Connection failed. " } (m) },
            }
        }
    }
}

/// The form of Restart provisioning: whether to clear the current state too.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RestartForm {
    #[serde(deserialize_with = "field::checkbox")]
    full: bool,
}

async fn restart(
    State(state): State<PortalState>,
    Path(id): Path<String>,
    Form(RestartForm { full }): Form<RestartForm>,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    state.engine()?.restart(&app.id, full).await?;
    let done = if full { "restarted-full" } else { "restarted" };
    Ok(Redirect::to(&format!("/apps/{}/provisioning?done={done}#status", app.id)).into_response())
}

/// Where the vendor sends the browser back after Authorize: the server's OAuth
/// callback under roster's public URL (or the host the browser used), the same
/// URI the REST API's Authorize gives.
fn callback_uri(state: &PortalState, headers: &HeaderMap) -> Option<String> {
    if let Some(url) = &state.public_url {
        return Some(format!("{url}/oauth/callback"));
    }
    let host = headers.get(axum::http::header::HOST)?.to_str().ok()?;
    let scheme = if crate::session::is_secure(state, headers) { "https" } else { "http" };
    Some(format!("{scheme}://{host}/oauth/callback"))
}

async fn authorize(
    State(state): State<PortalState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: FormFields,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    let engine = state.engine()?;
    let saved = engine.settings_view(&app.id).await?;
    let mut patch = SettingsPatch::default();
    let mut errors = FieldErrors::default();
    credentials_patch(gallery::template(&app.template), &form, &saved, &mut patch, &mut errors);
    if errors.is_empty() && patch.sets_credentials() {
        configure(&state, &app, patch, &mut errors).await?;
    }
    if errors.is_empty() {
        let redirect = callback_uri(&state, &headers).ok_or_else(|| {
            PortalError::BadRequest("the request names no host: start roster with --public-url".into())
        })?;
        match engine.begin_authorization(&app.id, &redirect).await {
            Ok(url) => return Ok(Redirect::to(&url).into_response()),
            Err(e) => match PortalError::from(e) {
                PortalError::BadRequest(m) | PortalError::Conflict(m) => errors.add("", m),
                other => return Err(other),
            },
        }
    }
    render(&state, &session, &app, Some(&form), &errors, Tested::Not, None, StatusCode::BAD_REQUEST).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_back() {
        assert_eq!(interval_text(2400), "40m");
        assert_eq!(interval_text(21_600), "6h");
        assert_eq!(interval_text(86_400), "1d");
        assert_eq!(interval_text(90), "90s");
    }

    #[test]
    fn a_refused_setting_is_shown_next_to_its_input_or_above_the_form() {
        let check = |field: &str, input: &str| assert_eq!(input_of(field, gallery::template("scim")), input, "{field}");
        check("tenantUrl", "tenantUrl");
        check("secretToken", "secretToken");
        check("interval", "interval");
        check("deleteThresholdPercent", "deleteThresholdPercent");
        check("concurrency", "");
        check("clientId", "");
    }
}
