//! Drift in the portal: the app's last drift report (what differs between
//! the app and what roster sent, by kind), "Check now", and "Repair" (puts the
//! app back to what the directory says; an unknown account is never deleted,
//! and adopted only when asked).

use crate::error::PortalError;
use crate::form::{field, Form};
use crate::layout::{app_header, csrf_field, flash, page_with_status, AppTab, Section};
use crate::session::{Args, Session};
use crate::status::app_of;
use crate::PortalState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use roster_engine::drift::{describe, DriftReport, DriftRequest};
use serde::Deserialize;

/// The routes of the drift page.
pub fn routes() -> Router<PortalState> {
    Router::new().route("/apps/{id}/provisioning/drift", get(show).post(run))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Done {
    done: Option<String>,
}

async fn show(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    Args(done): Args<Done>,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    let report = state.engine()?.last_drift(&app.id).await?;
    let base = format!("/apps/{}/provisioning/drift", app.id);
    let may_run = session.may_post(&base);
    let body = html! {
        (app_header(&session, &app, AppTab::Provisioning))
        p class="crumbs" { a href={ "/apps/" (app.id) "/provisioning" } { "Provisioning" } " › Drift" }
        (flash(done.done.as_deref()))
        section class="card" id="drift" {
            h2 { "Drift" }
            p class="hint" {
                "A check reads the app's accounts and groups and compares them with what roster sent. "
                "Repair puts the app back to what the directory says: each repair is a provisioning log entry. "
                "An account roster does not manage is never deleted."
            }
            @match &report {
                Some(r) => (summary(r)),
                None => p { "No drift check has run yet." },
            }
            @if may_run {
                form method="post" action=(base) {
                    (csrf_field(&session))
                    label class="inline" { input type="checkbox" name="adopt" value="on"; "Adopt unmanaged accounts that match a user in scope" }
                    div class="actions" {
                        button type="submit" name="op" value="check" class="secondary" { "Check now" }
                        button type="submit" name="op" value="repair" data-confirm="Put the app back to what the directory says?" { "Repair" }
                    }
                }
            }
        }
    };
    Ok(page_with_status(StatusCode::OK, &session, Section::Apps, &format!("{} · drift", app.name), body))
}

/// A report: when, the counts, and each difference.
pub fn summary(r: &DriftReport) -> Markup {
    let at = chrono::DateTime::from_timestamp_millis(r.at).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string());
    html! {
        p {
            "Last check " (at.unwrap_or_default()) ": " (r.accounts) " accounts and " (r.groups) " groups read, "
            strong { (r.total()) " difference(s)" }
            @if r.repair || r.adopt { "; " (r.repaired) " object(s) sent again, " (r.failed) " failed" }
            "."
        }
        div class="table-wrap" { table class="drift-summary" {
            thead { tr {
                th class="num" { "Changed" } th class="num" { "Missing" } th class="num" { "Unmanaged" }
                th class="num" { "Members added" } th class="num" { "Members removed" } th class="num" { "Groups missing" }
            } }
            tbody { tr {
                td class="num" { (r.changed) } td class="num" { (r.missing) } td class="num" { (r.unmanaged) }
                td class="num" { (r.members_added) } td class="num" { (r.members_removed) } td class="num" { (r.groups_missing) }
            } }
        } }
        @if !r.items.is_empty() {
            ul class="drift-items" { @for d in &r.items {
                li {
                    strong { (d.kind.as_str()) } " " (d.object) " " (d.name.as_deref().or(d.source_id.as_deref()).unwrap_or(""))
                    @if let Some(t) = &d.target_id { " " span class="hint" { "(" (t) ")" } }
                    ": " (describe(d))
                    @if !d.differences.is_empty() {
                        ul { @for m in &d.differences { li { code { (m.name) } ": the app has " (m.old.to_string()) ", roster sent " (m.new.to_string()) } } }
                    }
                    @if let Some(repair) = &d.repair { p class="hint" { "Repair: " (repair) } }
                }
            } }
            @if r.truncated { p class="hint" { "The first " (r.items.len()) " differences are listed; every one is counted." } }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RunForm {
    #[serde(deserialize_with = "field::text")]
    op: String,
    #[serde(deserialize_with = "field::checkbox")]
    adopt: bool,
}

async fn run(
    State(state): State<PortalState>,
    Path(id): Path<String>,
    Form(form): Form<RunForm>,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    let repair = match form.op.as_str() {
        "repair" => true,
        "check" | "" => false,
        other => return Err(PortalError::BadRequest(format!("unknown drift action {other:?}"))),
    };
    let req = DriftRequest { repair, adopt: form.adopt };
    state.engine()?.drift(&app.id, req).await?;
    let done = if repair || form.adopt { "drift-repaired" } else { "drift-checked" };
    Ok(Redirect::to(&format!("/apps/{}/provisioning/drift?done={done}#drift", app.id)).into_response())
}
