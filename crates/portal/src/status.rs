//! The provisioning status of an application that updates by itself: the
//! current cycle's progress bar, counts, last cycle, steady state, the quarantine
//! banner, escrowed objects, and the deletions the accidental-deletion guard
//! staged (with Allow). Rendered from the engine's status document
//! (`Engine::status`, the same the REST API returns); the page embeds the panel
//! and the script fetches the fragment again every second or two.

use crate::error::{JsonError, PortalError};
use crate::form::{Button, Form};
use crate::layout::{csrf_field, time};
use crate::session::Session;
use crate::PortalState;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{html, Markup};
use roster_store::Application;
use serde_json::Value;

/// The routes of the status parts.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/apps/{id}/status", get(fragment))
        .route("/apps/{id}/status.json", get(json))
        .route("/apps/{id}/provisioning/allow-deletes", post(allow_deletes))
}

/// The application an `{id}` of a path names.
pub async fn app_of(state: &PortalState, id: &str) -> Result<Application, PortalError> {
    Ok(state.store.find_app(id).await?)
}

async fn fragment(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, JsonError> {
    let app = app_of(&state, &id).await?;
    let status = state.engine()?.status(&app.id).await?;
    Ok(Html(panel_body(&session, &app, &status).into_string()).into_response())
}

async fn json(State(state): State<PortalState>, Path(id): Path<String>) -> Result<Json<Value>, JsonError> {
    let app = app_of(&state, &id).await?;
    Ok(Json(state.engine()?.status(&app.id).await?))
}

async fn allow_deletes(
    State(state): State<PortalState>,
    Path(id): Path<String>,
    _: Form<Button>,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    state.engine()?.allow_deletes(&app.id).await?;
    Ok(Redirect::to(&format!("/apps/{}/provisioning?done=deletes-allowed#status", app.id)).into_response())
}

/// The live panel: the markup of [`panel_body`] in the element the script refreshes.
pub fn panel(session: &Session, app: &Application, status: &Value) -> Markup {
    html! {
        div id="status" class="card" data-live-url={ "/apps/" (app.id) "/status" } aria-live="polite" {
            (panel_body(session, app, status))
        }
    }
}

fn num(v: &Value, path: &[&str]) -> u64 {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_u64).unwrap_or(0)
}

fn int(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

/// The state as a badge: on, off, not configured, quarantined.
pub fn state_badge(status: &Value) -> Markup {
    let state = status.get("state").and_then(Value::as_str).unwrap_or("unknown");
    let quarantined = status.get("quarantine").is_some_and(|q| !q.is_null());
    html! {
        @if quarantined { span class="badge quarantined" { "Quarantined" } " " }
        span class={ "badge " (state.replace(' ', "-")) } { (state_label(state)) }
    }
}

fn state_label(state: &str) -> &str {
    match state {
        "on" => "On",
        "off" => "Off",
        "not configured" => "Not configured",
        other => other,
    }
}

fn counts(c: &Value) -> Markup {
    html! {
        (num(c, &["created"])) " created · "
        (num(c, &["updated"])) " updated · "
        (num(c, &["disabled"])) " disabled · "
        (num(c, &["enabled"])) " enabled · "
        (num(c, &["deleted"])) " deleted · "
        (num(c, &["skipped"])) " skipped · "
        strong { (num(c, &["failed"])) " failed" }
    }
}

/// The inside of the live panel.
pub fn panel_body(session: &Session, app: &Application, status: &Value) -> Markup {
    let progress = status.get("progress").cloned().unwrap_or(Value::Null);
    let running = progress.get("running").and_then(Value::as_bool).unwrap_or(false);
    let done = num(&progress, &["done"]);
    let total = num(&progress, &["total"]);
    let percent = progress.get("percent").and_then(Value::as_f64).unwrap_or(0.0).clamp(0.0, 100.0);
    let ran = running || total > 0 || int(status, "lastCycleAt").is_some();
    let quarantine = status.get("quarantine").filter(|q| !q.is_null());
    let staged = status.get("staged").filter(|s| !s.is_null() && num(s, &["count"]) > 0);
    let escrow = status.get("escrow").filter(|e| num(e, &["count"]) > 0);
    html! {
        h2 { "Current status " (state_badge(status)) }
        @if let Some(q) = quarantine {
            div class="notice bad" role="alert" data-part="quarantine" {
                strong { "Provisioning is in quarantine. " }
                (q.get("message").and_then(Value::as_str).unwrap_or("the app failed too often"))
                br;
                @match int(q, "nextAttempt") {
                    Some(t) => { "Next attempt: " (time(Some(t))) "." }
                    None => { "Provisioning was turned off: fix the cause, then turn it on again." }
                }
            }
        }
        @if let Some(s) = staged {
            div class="notice warn" data-part="staged" {
                strong { (num(s, &["count"])) " disables are staged, waiting for approval. " }
                "The cycle would disable more accounts than the accidental-deletion threshold ("
                (num(s, &["threshold"])) ") allows, so it did none of them. "
                @if let Some(c) = s.get("cycleId").and_then(Value::as_str) {
                    @if session.may_open(&format!("/apps/{}/logs", app.id)) {
                        a href={ "/apps/" (app.id) "/logs?status=Staged&cycle=" (c) } { "See them in the logs" } ". "
                    }
                }
                @let allow = format!("/apps/{}/provisioning/allow-deletes", app.id);
                @if session.may_post(&allow) {
                    form method="post" action=(allow) {
                        (csrf_field(session))
                        button type="submit" data-focus-key="allow-deletes" { "Allow these deletes" }
                    }
                }
            }
        }
        div data-running=(running) {
            @if ran {
                div class="progress-line" {
                    label for="cycle-progress" {
                        @if running { "Current cycle" } @else { "Last cycle" }
                        @if let Some(p) = progress.get("phase").and_then(Value::as_str).filter(|p| !p.is_empty()) { " (" (p) ")" }
                    }
                    progress id="cycle-progress" max="100" value=(format!("{percent:.0}")) {}
                    span data-part="percent" { (done) " / " (total) " · " (format!("{percent:.0}")) " %" }
                }
                @if running { p class="hint" { "Counts so far: " (counts(progress.get("counts").unwrap_or(&Value::Null))) } }
            } @else {
                p class="muted" { "No cycle has run yet." }
            }
        }
        dl class="facts" {
            dt { "Last cycle" }
            dd {
                (time(int(status, "lastCycleAt")))
                @if let Some(ms) = int(status, "lastCycleMs") { " (" (ms) " ms)" }
            }
            dt { "Last cycle counts" } dd { (counts(status.get("lastCycle").unwrap_or(&Value::Null))) }
            dt { "To date" } dd { (counts(status.get("toDate").unwrap_or(&Value::Null))) }
            dt { "Steady state" }
            dd {
                @match int(status, "steadyStateAt") {
                    Some(t) => { "Reached " (time(Some(t))) }
                    None => { "Not reached yet" }
                }
            }
            dt { "Accounts in the app" }
            dd { (num(status, &["accounts", "provisioned"])) " provisioned, " (num(status, &["accounts", "enabled"])) " enabled" }
            @if num(status, &["groups", "provisioned"]) > 0 {
                dt { "Groups in the app" } dd { (num(status, &["groups", "provisioned"])) }
            }
            @if let Some(e) = status.get("lastError").and_then(Value::as_str) {
                dt { "Last error" } dd class="error" { (e) }
            }
        }
        @if let Some(e) = escrow {
            h3 { "Waiting to be retried (" (num(e, &["count"])) ")" }
            div class="table-wrap" { table {
                thead { tr { th { "Object" } th { "Error" } th { "Attempts" } th { "Next retry" } } }
                tbody { @for item in e.get("items").and_then(Value::as_array).into_iter().flatten() { tr {
                    td { (item.get("sourceName").and_then(Value::as_str).or(item.get("sourceId").and_then(Value::as_str)).unwrap_or("")) }
                    td { (item.get("errorMessage").and_then(Value::as_str).unwrap_or("")) }
                    td class="num" { (num(item, &["attempts"])) }
                    td { (time(int(item, "nextRetryAt"))) }
                } } }
            } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_store::AppId;
    use serde_json::json;

    fn render(status: Value) -> String {
        let session =
            Session { principal: "admin:t".into(), role: roster_store::AccessRole::Admin, csrf: "token".into() };
        let app =
            Application { id: AppId::new(), name: "Crm".into(), template: "scim".into(), created_at: 0, updated_at: 0 };
        panel_body(&session, &app, &status).into_string()
    }

    #[test]
    fn a_running_cycle_shows_its_progress() {
        let html = render(
            json!({"state": "on", "progress": {"running": true, "done": 25, "total": 100, "percent": 25.0, "phase": "initial"}}),
        );
        assert!(html.contains("value=\"25\""), "{html}");
        assert!(html.contains("25 / 100 · 25 %"), "{html}");
        assert!(html.contains("data-running=\"true\""), "{html}");
    }

    #[test]
    fn quarantine_and_staged_deletes_are_shown_with_allow() {
        let html = render(json!({
            "state": "on",
            "quarantine": {"reason": "tooManyDeletes", "message": "the cycle would disable 900 accounts", "nextAttempt": 0},
            "staged": {"count": 900, "threshold": 500, "at": 0, "cycleId": "c1"},
            "escrow": {"count": 1, "items": [{"sourceName": "alice", "errorMessage": "HTTP 500", "attempts": 2, "nextRetryAt": 0}]}
        }));
        assert!(html.contains("Quarantined"), "{html}");
        assert!(html.contains("the cycle would disable 900 accounts"), "{html}");
        assert!(html.contains("Next attempt: 1970-01-01 00:00:00 UTC"), "{html}");
        assert!(html.contains("Allow these deletes"), "{html}");
        assert!(html.contains("name=\"_csrf\" value=\"token\""), "the Allow form carries the CSRF token");
        assert!(html.contains("Waiting to be retried (1)"), "{html}");
    }

    #[test]
    fn a_job_that_never_ran_says_so() {
        let html = render(json!({"state": "not configured"}));
        assert!(html.contains("No cycle has run yet."), "{html}");
        assert!(html.contains("Not configured"), "{html}");
    }
}
