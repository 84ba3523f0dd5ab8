//! Enterprise applications: the list with each app's provisioning state at a
//! glance, New application from the gallery (browse and search the templates; a
//! manual-only template says so and why), and an app's Overview tab.

use crate::error::PortalError;
use crate::form::{field, Button, Form};
use crate::layout::{app_header, csrf_field, flash, page, page_with_status, time, AppTab, FieldErrors, Section};
use crate::session::{Args, Session};
use crate::status::{app_of, panel, state_badge};
use crate::users::action_button;
use crate::PortalState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use roster_engine::gallery::{self, Template};
use roster_store::ApplicationInput;
use serde::Deserialize;

/// The routes of the application pages.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/apps", get(list))
        .route("/apps/new", get(new_app).post(create))
        .route("/apps/{id}", get(overview))
        .route("/apps/{id}/delete", post(delete))
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
}

async fn list(
    State(state): State<PortalState>,
    session: Session,
    Args(done): Args<Done>,
) -> Result<Response, PortalError> {
    let apps = state.store.list_apps().await?;
    // Inbound sources have a page of their own.
    let apps: Vec<_> =
        apps.into_iter().filter(|a| roster_engine::inbound::SourceTemplate::parse(&a.template).is_none()).collect();
    let mut rows = Vec::with_capacity(apps.len());
    for app in apps {
        let status = match &state.engine {
            Some(e) => Some(e.status(&app.id).await?),
            None => None,
        };
        rows.push((app, status));
    }
    let day = roster_store::activity::DAY_MS;
    let failures = state.store.failures_by_day(roster_store::now_ms() - 6 * day, 7).await?;
    let workers = match &state.engine {
        Some(e) => e.workers().await?,
        None => Vec::new(),
    };
    let done = done.done;
    let body = html! {
        h1 { "Enterprise applications" }
        (flash(done.as_deref()))
        @if session.may_open("/apps/new") {
            div class="toolbar" { a class="button" href="/apps/new" { "New application" } }
        }
        div class="table-wrap" { table class="stack" data-part="apps" {
            thead { tr {
                th { "Name" } th { "Template" } th { "Provisioning" } th { "Worker" } th { "Last cycle" } th class="num" { "Failures (last cycle)" } th { "Failures, 7 days" }
            } }
            tbody {
                @for (app, status) in &rows { tr {
                    td data-label="Name" { a href={ "/apps/" (app.id) } { (app.name) } }
                    td data-label="Template" { (template_name(&app.template)) }
                    @if let Some(status) = status {
                        td data-label="Provisioning" { (state_badge(status)) }
                        td data-label="Worker" { (crate::status::worker_cell(status.worker.as_ref())) }
                        td data-label="Last cycle" { (time(status.last_cycle_at)) }
                        td data-label="Failures (last cycle)" class="num" { (status.last_cycle.failed) }
                    } @else {
                        td class="muted" { "—" } td {} td {} td {}
                    }
                    td data-label="Failures, 7 days" { (crate::chart::sparkline(failures.get(&app.id).map_or(&[0; 7][..], Vec::as_slice))) }
                } }
                @if rows.is_empty() {
                    tr { td colspan="7" class="muted" { "No application yet: add one from the gallery." } }
                }
            }
        } }
        @if !workers.is_empty() {
            h2 { "Workers" }
            p class="hint" { "The roster processes sharing this store; each app's cycles run on the worker holding its lease." }
            div class="table-wrap" { table data-part="workers" {
                thead { tr { th { "Worker" } th { "State" } th { "Last heartbeat" } th class="num" { "Apps" } } }
                tbody { @for w in &workers { tr {
                    td { (w.name) @if w.this { " (this one)" } }
                    td {
                        @if w.live { span class="badge on" { "Live" } }
                        @else if w.stopped_at.is_some() { span class="badge off" { "Stopped" } }
                        @else { span class="badge quarantined" { "Not answering" } }
                    }
                    td { (time(Some(w.heartbeat_at))) }
                    td class="num" { (w.jobs.len()) }
                } } }
            } }
        }
    };
    Ok(page(&session, Section::Apps, "Enterprise applications", body))
}

/// The name people know a template by.
pub fn template_name(name: &str) -> String {
    gallery::template(name).map(|t| t.display_name.clone()).unwrap_or_else(|| name.to_string())
}

#[derive(Debug, Default, Deserialize)]
pub struct GalleryArgs {
    q: Option<String>,
}

fn matches(t: &Template, q: &str) -> bool {
    let q = q.to_lowercase();
    q.is_empty()
        || t.name.to_lowercase().contains(&q)
        || t.display_name.to_lowercase().contains(&q)
        || t.description.to_lowercase().contains(&q)
}

fn gallery_page(session: &Session, q: &str, chosen: Option<(&str, &str)>, errors: &FieldErrors) -> Markup {
    let found: Vec<&Template> = gallery::templates().iter().filter(|t| matches(t, q)).collect();
    html! {
        p class="crumbs" { a href="/apps" { "Enterprise applications" } " › New application" }
        h1 { "Browse the gallery" }
        p class="lead" { "Pick the app to provision, name your instance of it, and add it." }
        form class="toolbar" method="get" action="/apps/new" role="search" {
            div {
                label for="q" { "Search the gallery" }
                input type="search" id="q" name="q" value=(q) placeholder="For example Dropbox";
            }
            button type="submit" class="secondary" { "Search" }
        }
        (errors.banner())
        div class="gallery" {
            @for t in &found {
                @let field = format!("name-{}", t.name);
                @let value = match chosen { Some((tn, n)) if tn == t.name => n.to_string(), _ => t.display_name.clone() };
                div class="card" {
                    h2 { (t.display_name) }
                    p { (t.description) }
                    @if t.supports_automatic() {
                        p { span class="badge on" { "Automatic provisioning" } }
                    } @else {
                        p {
                            span class="badge off" { "Manual provisioning only" } " "
                            span class="muted" { (t.manual_only_reason.as_deref().unwrap_or("roster has no connector for this app")) }
                        }
                    }
                    form method="post" action="/apps/new" {
                        (csrf_field(session))
                        input type="hidden" name="template" value=(t.name);
                        label for=(field) { "Name" }
                        input type="text" id=(field) name="name" value=(value) required
                            aria-invalid=[(chosen.is_some_and(|(tn, _)| tn == t.name) && !errors.is_empty()).then_some("true")];
                        @if chosen.is_some_and(|(tn, _)| tn == t.name) { (crate::layout::field_error(errors, "name")) }
                        div class="actions" { button type="submit" { "Add " (t.display_name) } }
                    }
                }
            }
        }
        @if found.is_empty() { p class="muted" { "No template matches " strong { (q) } "." } }
    }
}

async fn new_app(session: Session, Args(args): Args<GalleryArgs>) -> Response {
    let q = args.q.unwrap_or_default();
    let body = gallery_page(&session, &q, None, &FieldErrors::default());
    page(&session, Section::Apps, "New application", body)
}

/// The form of New application: the template chosen and the app's name.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NewApp {
    #[serde(deserialize_with = "field::text")]
    template: String,
    #[serde(deserialize_with = "field::text")]
    name: String,
}

async fn create(
    State(state): State<PortalState>,
    session: Session,
    Form(NewApp { template, name }): Form<NewApp>,
) -> Result<Response, PortalError> {
    let mut errors = FieldErrors::default();
    if gallery::template(&template).is_none() {
        return Err(PortalError::BadRequest(format!(
            "unknown template {template:?}: the gallery has {}",
            gallery::names()
        )));
    }
    match gallery::create_app(&state.store, ApplicationInput { name: name.clone(), template: template.clone() }).await {
        Ok(app) => return Ok(Redirect::to(&format!("/apps/{}?done=app-created", app.id)).into_response()),
        Err(e) => match PortalError::from(e) {
            PortalError::BadRequest(m) | PortalError::Conflict(m) => errors.add("name", m),
            other => return Err(other),
        },
    }
    let body = gallery_page(&session, "", Some((&template, &name)), &errors);
    Ok(page_with_status(StatusCode::BAD_REQUEST, &session, Section::Apps, "New application", body))
}

async fn overview(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    Args(done): Args<Done>,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    if roster_engine::inbound::SourceTemplate::parse(&app.template).is_some() {
        return Ok(Redirect::to(&format!("/sources/{}", app.id)).into_response());
    }
    let status = state.engine()?.status(&app.id).await?;
    let template = gallery::template(&app.template);
    let assignments = state.store.app_assignments(&app.id, 0, 1).await?;
    let hour = roster_store::activity::HOUR_MS;
    let since = (roster_store::now_ms() / hour - 167) * hour;
    let activity = state.store.activity(&app.id, since, since + 168 * hour).await?;
    let done = done.done;
    let base = format!("/apps/{}", app.id);
    let body = html! {
        (app_header(&session, &app, AppTab::Overview))
        (flash(done.as_deref()))
        section class="card" {
            h2 { "Properties" }
            dl class="facts" {
                dt { "Template" } dd { (template_name(&app.template)) }
                @if let Some(t) = template { dt { "Provisioning modes" } dd { (t.modes_text()) } }
                dt { "Application ID" } dd { code { (app.id) } }
                dt { "Created" } dd { (time(Some(app.created_at))) }
                dt { "Assigned users and groups" } dd { a href={ (base) "/users" } { (assignments.total) } }
            }
        }
        section class="card" {
            h2 { "Getting started" }
            ol {
                li { a href={ (base) "/users" } { "Assign users and groups" } ": only they get accounts in the app." }
                li { a href={ (base) "/provisioning" } { "Provision user accounts" } ": admin credentials, mappings, settings, then turn provisioning on." }
                li { a href={ (base) "/logs" } { "Watch the provisioning logs" } ": what was done to each account, and why." }
            }
        }
        section class="card" {
            h2 { "Activity, last 7 days" }
            (crate::chart::activity(&activity, since, 168))
            p class="hint" { "Log entries per hour by action; failures in red. " a href={ (base) "/logs" } { "The entries" } }
        }
        (panel(&session, &app, &status))
        @if session.may_post(&format!("{base}/delete")) { section class="card" {
            h2 { "Delete the application" }
            p { "roster stops provisioning to it and forgets its settings, mappings and logs. Accounts in the app stay as they are." }
            (action_button(&session, &base, "delete", "Delete application", "danger",
                Some("Delete this application and everything roster knows about it?")))
        } }
    };
    Ok(page(&session, Section::Apps, &app.name, body))
}

async fn delete(
    State(state): State<PortalState>,
    Path(id): Path<String>,
    _: Form<Button>,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    state.store.delete_app(&app.id).await?;
    Ok(Redirect::to("/apps").into_response())
}
