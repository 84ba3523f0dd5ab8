//! An application's Provisioning logs tab: filters (time range, status, action,
//! user, cycle), a paged table, a detail panel for the chosen entry (the steps
//! Import, Scope, Match, Action; the modified properties old → new; the app's
//! error message), and downloads as CSV and JSON of everything the filters match
//! (up to 10,000 entries, the store's largest page), in the REST export's format.

use crate::error::PortalError;
use crate::layout::{app_header, page_with_status, pager, query, time, AppTab, FieldErrors, Section};
use crate::session::{Args, Session};
use crate::status::app_of;
use crate::PortalState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use maud::{html, Markup};
use roster_engine::on_demand::ProvisioningOutcome;
use roster_store::{LogAction, LogQuery, LogRecord, LogStatus, ObjectKind, UnknownValue};
use serde::Deserialize;
use serde_json::Value;

const PAGE: i64 = 50;
/// The most entries one download holds.
const EXPORT_LIMIT: i64 = 10_000;

/// The routes of the tab.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/apps/{id}/logs", get(show))
        .route("/apps/{id}/logs.csv", get(csv))
        .route("/apps/{id}/logs.json", get(json))
}

/// The filters, as the form sends them.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Filters {
    since: Option<String>,
    until: Option<String>,
    status: Option<String>,
    action: Option<String>,
    user: Option<String>,
    cycle: Option<String>,
    offset: Option<i64>,
    selected: Option<String>,
}

fn some(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Reads a `datetime-local` value (UTC) as milliseconds since the epoch.
fn parse_time(s: &str) -> Option<i64> {
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s.trim(), f).ok())
        .or_else(|| chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
        .map(|t| t.and_utc().timestamp_millis())
}

/// Reads a status or action filter; a word that names none is a field error.
fn word_of<T>(
    field: &str,
    v: &Option<String>,
    parse: fn(&str) -> Result<T, UnknownValue>,
    errors: &mut FieldErrors,
) -> Option<T> {
    match parse(&some(v)?) {
        Ok(w) => Some(w),
        Err(e) => {
            errors.add(field, format!("Choose one of {}.", e.expected));
            None
        }
    }
}

impl Filters {
    /// The store's query; a time, status or action that cannot be read is a
    /// field error.
    fn to_query(&self, errors: &mut FieldErrors) -> LogQuery {
        let mut time_of = |field: &str, v: &Option<String>| match some(v) {
            None => None,
            Some(t) => match parse_time(&t) {
                Some(ms) => Some(ms),
                None => {
                    errors.add(field, "Enter a date and time like 2024-05-01T13:30 (UTC).");
                    None
                }
            },
        };
        LogQuery {
            since: time_of("since", &self.since),
            until: time_of("until", &self.until),
            status: word_of("status", &self.status, LogStatus::parse_ignoring_case, errors),
            action: word_of("action", &self.action, LogAction::parse_ignoring_case, errors),
            user: some(&self.user),
            cycle_id: some(&self.cycle),
            offset: Some(self.offset.unwrap_or(0).max(0)),
            limit: Some(PAGE),
        }
    }

    fn query_string(&self) -> String {
        let v = |s: &Option<String>| s.clone().unwrap_or_default();
        query(&[
            ("since", &v(&self.since)),
            ("until", &v(&self.until)),
            ("status", &v(&self.status)),
            ("action", &v(&self.action)),
            ("user", &v(&self.user)),
            ("cycle", &v(&self.cycle)),
        ])
    }
}

async fn show(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    Args(filters): Args<Filters>,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    let f = filters;
    let mut errors = FieldErrors::default();
    let q = f.to_query(&mut errors);
    let page = if errors.is_empty() { Some(state.store.logs(&app.id, &q).await?) } else { None };
    let qs = f.query_string();
    let base = format!("/apps/{}/logs?{qs}", app.id);
    let sep = if qs.is_empty() { "" } else { "&" };
    let selected = page.as_ref().and_then(|p| p.items.iter().find(|e| Some(&e.id) == f.selected.as_ref()));
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    let body = html! {
        (app_header(&session, &app, AppTab::Logs))
        (errors.banner())
        form class="toolbar" method="get" action={ "/apps/" (app.id) "/logs" } aria-label="Filters" {
            div { (crate::layout::text_field("datetime-local", "since", "From (UTC)", &opt(&f.since), &errors, None)) }
            div { (crate::layout::text_field("datetime-local", "until", "To (UTC)", &opt(&f.until), &errors, None)) }
            div {
                label for="status" { "Status" }
                select id="status" name="status" {
                    option value="" { "All" }
                    @for s in LogStatus::ALL { option value=(s) selected[f.status.as_deref() == Some(s.as_str())] { (s) } }
                }
            }
            div {
                label for="action" { "Action" }
                select id="action" name="action" {
                    option value="" { "All" }
                    @for a in LogAction::ALL { option value=(a) selected[f.action.as_deref() == Some(a.as_str())] { (a) } }
                }
            }
            div { (crate::layout::text_field("text", "user", "User", &opt(&f.user), &errors, None)) }
            div { (crate::layout::text_field("text", "cycle", "Cycle ID", &opt(&f.cycle), &errors, None)) }
            button type="submit" { "Apply" }
            a class="button secondary" href={ "/apps/" (app.id) "/logs" } { "Clear" }
        }
        div class="actions" {
            a class="button secondary" href={ "/apps/" (app.id) "/logs.csv?" (qs) } download { "Download CSV" }
            a class="button secondary" href={ "/apps/" (app.id) "/logs.json?" (qs) } download { "Download JSON" }
        }
        @if let Some(p) = &page {
            div class="table-wrap" { table {
                thead { tr {
                    th { "Date (UTC)" } th { "Identity" } th { "Action" } th { "Status" } th { "Target ID" } th { "Details" }
                } }
                tbody {
                    @for e in &p.items {
                        tr class=[(Some(&e.id) == f.selected.as_ref()).then_some("selected")] {
                            td class="when" { (time(Some(e.at))) }
                            td { (e.source_name.as_deref().unwrap_or(&e.source_id)) @if e.object_kind != ObjectKind::User { " (" (e.object_kind) ")" } }
                            td { (e.action) }
                            td { span class={ "badge " (e.status.as_str().to_lowercase()) } { (e.status) } }
                            td { code { (e.target_id.as_deref().unwrap_or("")) } }
                            td {
                                a href={ (base) (sep) "offset=" (p.offset) "&selected=" (query_value(&e.id)) "#detail" }
                                    aria-label={ "Details of " (e.action) " " (e.source_name.as_deref().unwrap_or(&e.source_id)) } { "Details" }
                            }
                        }
                    }
                    @if p.items.is_empty() { tr { td colspan="6" class="muted" { "No log entry matches." } } }
                }
            } }
            (pager(&base, p.offset, p.limit, p.total))
        }
        @if let Some(e) = selected {
            section class="card" id="detail" aria-label="Log entry details" {
                h2 { (e.action) " " (e.source_name.as_deref().unwrap_or(&e.source_id)) }
                (entry_detail(&ProvisioningOutcome::from(e.clone())))
            }
        }
    };
    let code = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok(page_with_status(code, &session, Section::Apps, &format!("{} · Provisioning logs", app.name), body))
}

/// A value for a URL's query string.
pub(crate) fn query_value(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn shown(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One log entry (or an on-demand result) in detail: status, the steps, the
/// modified properties, the app's error.
pub fn entry_detail(e: &ProvisioningOutcome) -> Markup {
    html! {
        dl class="facts" {
            @if let Some(at) = e.at { dt { "Date" } dd { (time(Some(at))) } }
            dt { "Action" } dd { (e.action) }
            dt { "Status" } dd { span class={ "badge " (e.status.as_str().to_lowercase()) } { (e.status) } }
            @if let Some(s) = &e.source_name { dt { "Source" } dd { (s) } }
            @if let Some(t) = &e.target_id { dt { "Target ID" } dd { code { (t) } } }
            @if let Some(c) = &e.cycle_id { dt { "Cycle" } dd { code { (c) } } }
            @if let Some(c) = &e.change_id { dt { "Change" } dd { code { (c) } } }
        }
        @if let Some(m) = &e.error_message {
            div class="notice bad" role="alert" {
                strong { "The app's answer" @if let Some(c) = &e.error_code { " (" (c) ")" } ": " }
                (m)
            }
        }
        h3 { "Steps" }
        ol class="steps" {
            @for s in &e.steps {
                li { strong { (s.step) } ": " (s.outcome) }
            }
        }
        h3 { "Modified properties" }
        @if e.modified.is_empty() { p class="muted" { "None." } } @else {
            div class="table-wrap" { table {
                thead { tr { th { "Property" } th { "Old value" } th { "New value" } } }
                tbody { @for m in &e.modified { tr {
                    td { code { (m.name) } }
                    td { (shown(&m.old)) }
                    td { (shown(&m.new)) }
                } } }
            } }
        }
    }
}

async fn export(state: &PortalState, id: &str, f: Filters) -> Result<(String, Vec<LogRecord>), PortalError> {
    let app = app_of(state, id).await?;
    let mut errors = FieldErrors::default();
    let mut q = f.to_query(&mut errors);
    if let Some(e) = errors.get("since").or(errors.get("until")) {
        return Err(PortalError::BadRequest(e.to_string()));
    }
    q.offset = Some(0);
    q.limit = Some(EXPORT_LIMIT);
    let page = state.store.logs(&app.id, &q).await?;
    let safe: String = app.name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    Ok((format!("{safe}-provisioning-logs"), page.items))
}

async fn csv(
    State(state): State<PortalState>,
    Path(id): Path<String>,
    Args(f): Args<Filters>,
) -> Result<Response, PortalError> {
    let (name, items) = export(&state, &id, f).await?;
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)],
        to_csv(&items),
    )
        .into_response())
}

async fn json(
    State(state): State<PortalState>,
    Path(id): Path<String>,
    Args(f): Args<Filters>,
) -> Result<Response, PortalError> {
    let (name, items) = export(&state, &id, f).await?;
    let disposition = format!("attachment; filename=\"{name}.json\"");
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(items)).into_response())
}

/// Log entries as CSV, one row each, with a header row (the REST export's format).
pub fn to_csv(items: &[LogRecord]) -> String {
    roster_store::logs_csv(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc() {
        assert_eq!(parse_time("1970-01-01T00:01"), Some(60_000));
        assert_eq!(parse_time("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time("yesterday"), None);
    }
}
