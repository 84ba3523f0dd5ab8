//! Plan before apply in the portal: the next cycle's changes as a summary
//! (counts, updates by attribute, whether the disables would be staged) and
//! then each change with the requests it sends, paged. The page
//! `/apps/{id}/provisioning/plan` shows the next cycle as things stand; the
//! mapping and scoping editors show the plan of the change on their form
//! ("Preview changes") before it is saved.

use crate::error::PortalError;
use crate::layout::{app_header, page_with_status, AppTab, Section};
use crate::session::{Args, Session};
use crate::status::app_of;
use crate::PortalState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use roster_engine::plan::{PlanProposal, PlannedChange, ProvisioningPlan};
use roster_mapping::AppMappings;
use roster_store::AppId;
use serde::Deserialize;

/// Changes per page.
pub const PAGE: usize = 50;

/// The routes of the plan page.
pub fn routes() -> Router<PortalState> {
    Router::new().route("/apps/{id}/provisioning/plan", get(show))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PlanArgs {
    after: Option<String>,
}

async fn show(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    Args(args): Args<PlanArgs>,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    let plan = state.engine()?.plan(&app.id, &PlanProposal::default(), args.after.as_deref(), PAGE).await?;
    let base = format!("/apps/{}/provisioning/plan", app.id);
    let next = plan.next.as_ref().map(|n| {
        html! {
            a class="button secondary" href={ (base) "?after=" (crate::logs::query_value(n)) } { "Next changes" }
        }
    });
    let body = html! {
        (app_header(&session, &app, AppTab::Provisioning))
        p class="crumbs" { a href={ "/apps/" (app.id) "/provisioning" } { "Provisioning" } " › Plan of the next cycle" }
        (render(&plan, args.after.is_some(), next))
    };
    Ok(page_with_status(StatusCode::OK, &session, Section::Apps, &format!("{} · plan", app.name), body))
}

/// The plan of `doc` (the form's proposal) for the editors' "Preview changes",
/// from the cursor `after`: the section, with a "Next changes" button that
/// posts the form again (`op=preview@CURSOR`).
pub async fn preview(
    state: &PortalState,
    app: &AppId,
    doc: AppMappings,
    after: Option<&str>,
) -> Result<Markup, PortalError> {
    let proposal = PlanProposal { mappings: Some(doc), scoping: None };
    let plan = state.engine()?.plan(app, &proposal, after, PAGE).await?;
    let next = plan.next.as_ref().map(|n| {
        html! {
            button type="submit" name="op" value={ "preview@" (n) } class="secondary" { "Next changes" }
        }
    });
    Ok(render(&plan, after.is_some(), next))
}

/// The preview of `doc` when the editor's button `op` asks for one.
pub async fn preview_if(
    state: &PortalState,
    app: &AppId,
    op: &str,
    doc: &AppMappings,
) -> Result<Option<Markup>, PortalError> {
    match preview_op(op) {
        Some(after) => Ok(Some(preview(state, app, doc.clone(), Some(after).filter(|a| !a.is_empty())).await?)),
        None => Ok(None),
    }
}

/// The `op` of an editor's "Preview changes" buttons: `Some(cursor)` (empty
/// for the first page).
pub fn preview_op(op: &str) -> Option<&str> {
    if op == "preview" {
        return Some("");
    }
    op.strip_prefix("preview@")
}

/// A plan page: the summary (first page), then the changes.
pub fn render(plan: &ProvisioningPlan, later_page: bool, next: Option<Markup>) -> Markup {
    html! {
        section class="card" id="plan" aria-live="polite" {
            h2 { "Preview of the next cycle" }
            p class="hint" { "Nothing has been sent to the app or saved: this is what the next cycle would do." }
            @if let Some(s) = &plan.summary {
                div class="table-wrap" { table class="plan-summary" {
                    thead { tr {
                        th class="num" { "Looked at" } th class="num" { "Create" } th class="num" { "Update" }
                        th class="num" { "Enable" } th class="num" { "Disable" } th class="num" { "Delete" }
                        th class="num" { "Skip" } th class="num" { "Member changes" } th class="num" { "Requests" }
                    } }
                    tbody { tr {
                        td class="num" { (s.users) " users, " (s.groups) " groups" }
                        td class="num" { (s.creates) } td class="num" { (s.updates) } td class="num" { (s.enables) }
                        td class="num" { (s.disables) } td class="num" { (s.deletes) } td class="num" { (s.skips) }
                        td class="num" { (s.member_changes) } td class="num" { (s.requests) }
                    } }
                } }
                @if !s.updates_by_attribute.is_empty() {
                    p { "Updates by attribute: "
                        @for (i, (a, n)) in s.updates_by_attribute.iter().enumerate() { @if i > 0 { ", " } code { (a) } " " (n) }
                    }
                }
                @if s.would_stage {
                    p class="field-error" role="alert" {
                        "The " (s.disables) " disables pass the deletion limit (" (s.deletion_limit.unwrap_or_default())
                        "): the cycle would stage them until an operator allows them."
                    }
                }
            }
            @if plan.changes.is_empty() {
                p { @if later_page { "No more changes." } @else { "No changes: the app is in step with the directory." } }
            } @else {
                ol class="plan-changes" { @for c in &plan.changes { li { (change(c)) } } }
            }
            @if let Some(next) = next { div class="actions" { (next) } }
        }
    }
}

fn change(c: &PlannedChange) -> Markup {
    let name = c.name.as_deref().unwrap_or(&c.source_id);
    html! {
        details {
            summary {
                strong { (c.action.as_str()) } " " (c.object) " " (name)
                @if let Some(t) = &c.target_id { " " span class="hint" { "(" (t) ")" } }
            }
            @if !c.modified.is_empty() {
                ul { @for m in &c.modified { li { code { (m.name) } ": " (m.old.to_string()) " → " (m.new.to_string()) } } }
            }
            ul class="hint" { @for s in &c.steps { li { (s.step) ": " (s.outcome) } } }
            @for r in &c.requests {
                pre { (r.method) " " (r.path)
                    @if let Some(b) = &r.body { "\n" (serde_json::to_string_pretty(b).unwrap_or_default()) }
                }
                @if let Some(n) = &r.note { p class="hint" { (n) } }
            }
        }
    }
}
