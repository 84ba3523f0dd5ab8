//! Inbound sources (HR systems): the list, New source (a name and a template),
//! and a source's page: its rules, the batches held for approval (Approve and
//! Reject), the latest batches, the scheduled starts and ends, the inbound
//! mapping, and its settings as one document to edit (checked before it is
//! saved; the error names the field). Its provisioning log is the logs tab of
//! `/apps/{id}`.

use crate::error::PortalError;
use crate::form::{field, Button, Form};
use crate::layout::{app_header, csrf_field, flash, page, page_with_status, time, AppTab, FieldErrors, Section};
use crate::session::{Args, Session};
use crate::users::action_button;
use crate::PortalState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use roster_engine::inbound::{SourceSettings, SourceTemplate, SourceView};
use roster_engine::EngineError;
use roster_store::inbound::InboundBatch;
use roster_store::AppId;
use serde::Deserialize;

/// The routes of the source pages.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/sources", get(list))
        .route("/sources/new", get(new_source).post(create))
        .route("/sources/{id}", get(show).post(save))
        .route("/sources/{id}/batches/{batch}/{decision}", post(decide))
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
}

async fn source_id(state: &PortalState, key: &str) -> Result<AppId, PortalError> {
    let app = state.store.find_app(key).await?;
    if SourceTemplate::parse(&app.template).is_none() {
        return Err(PortalError::NotFound(format!("{} is an app, not an inbound source", app.name)));
    }
    Ok(app.id)
}

fn template_label(t: SourceTemplate) -> &'static str {
    match t {
        SourceTemplate::HrScim => "HR over SCIM (BulkRequest pushes)",
        SourceTemplate::HrCsv => "HR files (CSV)",
    }
}

async fn list(
    State(state): State<PortalState>,
    session: Session,
    Args(done): Args<Done>,
) -> Result<Response, PortalError> {
    let sources = state.engine()?.sources().await?;
    let body = html! {
        h1 { "Inbound sources" }
        (flash(done.done.as_deref()))
        p class="hint" { "HR systems that push people into the directory: joiners, movers, leavers and rehires. What they change reaches the apps like any other change." }
        @if session.may_open("/sources/new") {
            div class="toolbar" { a class="button" href="/sources/new" { "New source" } }
        }
        div class="table-wrap" { table data-part="sources" {
            thead { tr { th { "Name" } th { "Template" } th { "Last batch" } th class="num" { "Held" } th class="num" { "Scheduled" } } }
            tbody {
                @for s in &sources { tr {
                    td { a href={ "/sources/" (s.id) } { (s.name) } }
                    td { (template_label(s.template)) }
                    td { @if let Some(b) = s.batches.first() { (batch_badge(b)) " " (time(Some(b.received_at))) } @else { span class="muted" { "none yet" } } }
                    td class="num" { (s.held.len()) }
                    td class="num" { (s.scheduled.len()) }
                } }
                @if sources.is_empty() {
                    tr { td colspan="5" class="muted" { "No source yet." } }
                }
            }
        } }
    };
    Ok(page(&session, Section::Sources, "Inbound sources", body))
}

fn batch_badge(b: &InboundBatch) -> Markup {
    let class = match b.status {
        roster_store::BatchStatus::Applied => "badge on",
        roster_store::BatchStatus::Held => "badge quarantined",
        roster_store::BatchStatus::Rejected => "badge off",
        _ => "badge",
    };
    html! { span class=(class) { (b.status.as_str()) } }
}

fn counts(b: &InboundBatch) -> String {
    b.summary
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| v.is_i64() && !matches!(k.as_str(), "records" | "threshold" | "disables"))
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewSource {
    #[serde(deserialize_with = "field::text")]
    name: String,
    #[serde(deserialize_with = "field::text")]
    template: String,
}

fn new_form(session: &Session, input: &NewSource, errors: &FieldErrors) -> Markup {
    html! {
        h1 { "New source" }
        (errors.banner())
        form method="post" action="/sources/new" {
            (csrf_field(session))
            (crate::layout::text_field("text", "name", "Name", &input.name, errors, Some("Unique among apps and sources, e.g. Workday.")))
            fieldset { legend { "Template" }
                @for t in [SourceTemplate::HrScim, SourceTemplate::HrCsv] {
                    label { input type="radio" name="template" value=(t.as_str()) checked[input.template == t.as_str()] required; " " (template_label(t)) }
                }
                (crate::layout::field_error(errors, "template"))
            }
            button type="submit" { "Create" }
        }
    }
}

async fn new_source(session: Session) -> Response {
    let input = NewSource { template: SourceTemplate::HrCsv.as_str().to_string(), ..NewSource::default() };
    page(&session, Section::Sources, "New source", new_form(&session, &input, &FieldErrors::default()))
}

async fn create(
    State(state): State<PortalState>,
    session: Session,
    Form(input): Form<NewSource>,
) -> Result<Response, PortalError> {
    match state.engine()?.create_source(&input.name, &input.template).await {
        Ok(s) => Ok(Redirect::to(&format!("/sources/{}?done=saved", s.id)).into_response()),
        Err(e) => {
            let mut errors = FieldErrors::default();
            match e {
                EngineError::InvalidSetting { field, message } => errors.add(&field, message),
                EngineError::Store(roster_store::StoreError::Conflict { message }) => errors.add("name", message),
                EngineError::Store(roster_store::StoreError::Invalid { message }) => errors.add("name", message),
                other => return Err(other.into()),
            }
            let body = new_form(&session, &input, &errors);
            Ok(page_with_status(StatusCode::BAD_REQUEST, &session, Section::Sources, "New source", body))
        }
    }
}

fn batches_table(session: &Session, s: &SourceView, batches: &[InboundBatch], decide: bool) -> Markup {
    html! {
        div class="table-wrap" { table {
            thead { tr { th { "Received" } th { "Origin" } th { "Status" } th class="num" { "Records" } th { "Outcome" } @if decide { th { "Decision" } } } }
            tbody { @for b in batches { tr {
                td { (time(Some(b.received_at))) }
                td { (b.origin) }
                td { (batch_badge(b)) }
                td class="num" { (b.records) }
                td { (counts(b)) @if let Some(r) = b.summary["reason"].as_str() { div class="hint" { (r) } } }
                @if decide { td {
                    (action_button(session, &format!("/sources/{}/batches/{}", s.id, b.id), "approve", "Approve", "", Some("Apply this batch past the threshold?")))
                    (action_button(session, &format!("/sources/{}/batches/{}", s.id, b.id), "reject", "Reject", "secondary", None))
                } }
            } } }
        } }
    }
}

fn source_page(
    session: &Session,
    header: Markup,
    s: &SourceView,
    document: &str,
    errors: &FieldErrors,
    done: Option<&str>,
) -> Markup {
    let set = &s.settings;
    html! {
        (header)
        (flash(done))
        (errors.banner())
        p { (template_label(s.template)) }
        dl class="facts" {
            dt { "Start date" } dd { code { (set.start_date_attribute) } ": a hire is created " (set.prehire_days) " day(s) before it, disabled until the date" }
            dt { "End date" } dd { code { (set.end_date_attribute) } ": the user is disabled on that date" }
            dt { "Disable guard" } dd {
                @if set.disable_threshold > 0 { "a batch disabling more than " (set.disable_threshold) " users waits for approval" } @else { "off" }
            }
        }
        @if !s.held.is_empty() {
            h2 { "Held for approval" }
            (batches_table(session, s, &s.held, true))
        }
        h2 { "Latest batches" }
        @if s.batches.is_empty() { p class="muted" { "Nothing received yet." } } @else { (batches_table(session, s, &s.batches, false)) }
        h2 { "Scheduled" }
        @if s.scheduled.is_empty() { p class="muted" { "Nothing scheduled." } } @else {
            div class="table-wrap" { table data-part="scheduled" {
                thead { tr { th { "When" } th { "Action" } th { "Whom" } } }
                tbody { @for a in &s.scheduled { tr {
                    td { (time(Some(a.due_at))) } td { (a.action.as_str()) }
                    td { @if a.action == roster_store::ScheduledAction::Create { (a.subject) } @else { a href={ "/users/" (a.subject) } { (a.subject) } } }
                } } }
            } }
        }
        h2 { "Inbound mapping" }
        div class="table-wrap" { table data-part="mapping" {
            thead { tr { th { "Directory attribute" } th { "From the record" } th { "Matching" } } }
            tbody { @for a in &set.mapping.attributes { tr {
                td { code { (a.target) } }
                td { (mapping_source(&a.mapping)) }
                td { @if let Some(p) = a.matching_precedence { (p) } }
            } } }
        } }
        @if session.may_post(&format!("/sources/{}", s.id)) {
            h2 { "Settings" }
            form method="post" action={ "/sources/" (s.id) } {
                (csrf_field(session))
                label for="settings" { "The settings document (record attributes, mapping with its scoping filter, date attributes, prehireDays, disableThreshold)" }
                textarea id="settings" name="settings" rows="24" spellcheck="false" aria-describedby="settings-error" { (document) }
                (crate::layout::field_error(errors, "settings"))
                button type="submit" { "Save" }
            }
        }
    }
}

fn mapping_source(m: &roster_mapping::MappingType) -> Markup {
    use roster_mapping::MappingType;
    match m {
        MappingType::Direct { source } => html! { code { (source) } },
        MappingType::Constant { value } => html! { "constant " code { (value) } },
        MappingType::Expression { expression } => html! { "expression " code { (expression) } },
        MappingType::None => html! { span class="muted" { "default only" } },
    }
}

async fn show(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    Args(done): Args<Done>,
) -> Result<Response, PortalError> {
    let id = source_id(&state, &id).await?;
    let s = state.engine()?.source(&id).await?;
    let document = serde_json::to_string_pretty(&s.settings).unwrap_or_default();
    let header = app_header(&session, &state.store.app(&id).await?, AppTab::Overview);
    let body = source_page(&session, header, &s, &document, &FieldErrors::default(), done.done.as_deref());
    Ok(page(&session, Section::Sources, &s.name, body))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SettingsForm {
    #[serde(deserialize_with = "field::text")]
    settings: String,
}

async fn save(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<SettingsForm>,
) -> Result<Response, PortalError> {
    let id = source_id(&state, &id).await?;
    let engine = state.engine()?;
    let outcome = match serde_json::from_str::<SourceSettings>(&form.settings) {
        Ok(settings) => engine.configure_source(&id, settings).await.map_err(|e| match e {
            EngineError::InvalidSetting { field, message } => Ok(format!("{field}: {message}")),
            other => Err(other),
        }),
        Err(e) => Err(Ok(format!("the document does not read as settings: {e}"))),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/sources/{id}?done=saved")).into_response()),
        Err(Err(e)) => Err(e.into()),
        Err(Ok(message)) => {
            let mut errors = FieldErrors::default();
            errors.add("settings", message);
            let s = engine.source(&id).await?;
            let header = app_header(&session, &state.store.app(&id).await?, AppTab::Overview);
            let body = source_page(&session, header, &s, &form.settings, &errors, None);
            Ok(page_with_status(StatusCode::BAD_REQUEST, &session, Section::Sources, &s.name, body))
        }
    }
}

async fn decide(
    State(state): State<PortalState>,
    session: Session,
    Path((id, batch, decision)): Path<(String, String, String)>,
    _: Form<Button>,
) -> Result<Response, PortalError> {
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => return Err(PortalError::NotFound(format!("no decision {other:?}: approve or reject"))),
    };
    let id = source_id(&state, &id).await?;
    state.engine()?.decide_batch(&id, &batch, approve, &session.principal).await?;
    let done = if approve { "batch-approved" } else { "batch-rejected" };
    Ok(Redirect::to(&format!("/sources/{id}?done={done}")).into_response())
}
