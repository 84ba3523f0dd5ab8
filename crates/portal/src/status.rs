//! The provisioning status of an application that updates by itself: the
//! current cycle's progress bar, counts, last cycle, steady state, the quarantine
//! banner, escrowed objects, and the deletions the accidental-deletion guard
//! staged (with Allow). Rendered from the engine's status (`Engine::status`,
//! the same the REST API returns), which says what the state means: the
//! portal names it and holds no rule of its own. The page embeds the panel and
//! the script fetches the fragment again every second or two.

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
use roster_engine::status::{Activity, Counts, ProvisioningState, ProvisioningStatus};
use roster_store::Application;

/// The routes of the status parts.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/apps/{id}/status", get(fragment))
        .route("/apps/{id}/status.json", get(json))
        .route("/apps/{id}/provisioning/allow-deletes", post(allow_deletes))
        .route("/apps/{id}/provisioning/dialect/reset", post(reset_dialect))
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

async fn json(State(state): State<PortalState>, Path(id): Path<String>) -> Result<Json<ProvisioningStatus>, JsonError> {
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

async fn reset_dialect(
    State(state): State<PortalState>,
    Path(id): Path<String>,
    _: Form<Button>,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    state.engine()?.reset_dialect(&app.id).await?;
    Ok(Redirect::to(&format!("/apps/{}/provisioning?done=dialect-reset#status", app.id)).into_response())
}

/// The app's SCIM dialect: forms pinned and learned, attributes refused in
/// every form, and the button that forgets what was learned.
fn dialect(session: &Session, app: &Application, d: &roster_engine::Dialect) -> Markup {
    let learned: Vec<_> = d.learned.iter().filter(|(a, _)| !d.pinned.contains_key(*a)).collect();
    html! {
        @if !d.pinned.is_empty() || !learned.is_empty() || !d.unsupported.is_empty() {
            h3 { "SCIM dialect" }
            dl class="facts" data-part="dialect" {
                @for (aspect, form) in &d.pinned { dt { (aspect.as_str()) } dd { (form.as_str()) " (pinned)" } }
                @for (aspect, form) in &learned { dt { (aspect.as_str()) } dd { (form.as_str()) " (learned)" } }
                @for attribute in &d.unsupported {
                    dt { (attribute) } dd class="error" { "refused by the app in every form: no longer sent" }
                }
            }
            @let reset = format!("/apps/{}/provisioning/dialect/reset", app.id);
            @if (!learned.is_empty() || !d.unsupported.is_empty()) && session.may_post(&reset) {
                form method="post" action=(reset) {
                    (csrf_field(session))
                    button type="submit" data-focus-key="dialect-reset" { "Forget what was learned" }
                }
            }
        }
    }
}

/// The live panel: the markup of [`panel_body`] in the element the script refreshes.
pub fn panel(session: &Session, app: &Application, status: &ProvisioningStatus) -> Markup {
    html! {
        div id="status" class="card" data-live-url={ "/apps/" (app.id) "/status" } aria-live="polite" {
            (panel_body(session, app, status))
        }
    }
}

/// The state as a badge: on (and what its cycles do), off, not configured,
/// unreadable, quarantined. What each means is the engine's
/// (`ProvisioningStatus`); the badge only names it.
pub fn state_badge(status: &ProvisioningStatus) -> Markup {
    let (class, label) = match status.state {
        ProvisioningState::On => ("on", "On"),
        ProvisioningState::Off => ("off", "Off"),
        ProvisioningState::NotConfigured => ("not-configured", "Not configured"),
        ProvisioningState::Unreadable => ("unreadable", "Unreadable"),
    };
    html! {
        @if status.quarantined() { span class="badge quarantined" { "Quarantined" } " " }
        span class={ "badge " (class) } { (label) }
        @if status.activity == Activity::HandingOff { " " span class="badge" { "Hand-offs" } }
    }
}

fn counts(c: &Counts) -> Markup {
    html! {
        (c.created) " created · "
        (c.updated) " updated · "
        (c.disabled) " disabled · "
        (c.enabled) " enabled · "
        (c.deleted) " deleted · "
        (c.skipped) " skipped · "
        strong { (c.failed) " failed" }
        @if c.unsupported > 0 {
            " (" (c.unsupported) " unsupported by the app)"
        }
    }
}

/// Which worker runs a job's cycles, and until when its lease holds.
pub fn worker_cell(lease: Option<&roster_engine::status::JobLease>) -> Markup {
    let now = chrono::Utc::now().timestamp_millis();
    html! {
        @match lease {
            Some(l) if l.worker_id.is_some() && l.expires_at > now => {
                (l.worker_name.as_deref().or(l.worker_id.as_deref()).unwrap_or_default())
                @if l.here { " (this one)" }
                span class="muted" { " · lease until " (time(Some(l.expires_at))) }
            }
            Some(_) => span class="muted" { "None now: the next live worker takes it" },
            None => span class="muted" { "—" },
        }
    }
}

/// The inside of the live panel.
pub fn panel_body(session: &Session, app: &Application, status: &ProvisioningStatus) -> Markup {
    let progress = &status.progress;
    let running = progress.running;
    let percent = progress.percent.clamp(0.0, 100.0);
    let ran = running || progress.total > 0 || status.last_cycle_at.is_some();
    let staged = status.staged.as_ref().filter(|s| s.count > 0);
    let escrow = Some(&status.escrow).filter(|e| e.count > 0);
    html! {
        h2 { "Current status " (state_badge(status)) }
        @if status.activity == Activity::HandingOff {
            p class="hint" data-part="activity" {
                "Manual mode: each cycle writes a hand-off of the accounts to create, update, disable or enable by hand; roster does not call the app."
            }
        }
        @if let Some(q) = &status.quarantine {
            div class="notice bad" role="alert" data-part="quarantine" {
                strong { "Provisioning is in quarantine. " }
                (q.message)
                br;
                @match q.next_attempt {
                    Some(t) => { "Next attempt: " (time(Some(t))) "." }
                    None => { "Provisioning was turned off: fix the cause, then turn it on again." }
                }
            }
        }
        @if let Some(s) = staged {
            div class="notice warn" data-part="staged" {
                strong { (s.count) " disables are staged, waiting for approval. " }
                "The cycle would disable more accounts than the accidental-deletion threshold ("
                (s.threshold) ") allows, so it did none of them. "
                @if !s.cycle_id.is_empty() && session.may_open(&format!("/apps/{}/logs", app.id)) {
                    a href={ "/apps/" (app.id) "/logs?status=Staged&cycle=" (s.cycle_id) } { "See them in the logs" } ". "
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
                        @if let Some(phase) = progress.phase { " (" (phase) ")" }
                    }
                    progress id="cycle-progress" max="100" value=(format!("{percent:.0}")) {}
                    span data-part="percent" { (progress.done) " / " (progress.total) " · " (format!("{percent:.0}")) " %" }
                }
                @if running { p class="hint" { "Counts so far: " (counts(&progress.counts)) } }
            } @else {
                p class="muted" { "No cycle has run yet." }
            }
        }
        dl class="facts" {
            dt { "Last cycle" }
            dd {
                (time(status.last_cycle_at))
                @if let Some(ms) = status.last_cycle_ms { " (" (ms) " ms)" }
            }
            dt { "Last cycle counts" } dd { (counts(&status.last_cycle)) }
            dt { "To date" } dd { (counts(&status.to_date)) }
            dt { "Steady state" }
            dd {
                @match status.steady_state_at {
                    Some(t) => { "Reached " (time(Some(t))) }
                    None => { "Not reached yet" }
                }
            }
            dt { "Accounts in the app" }
            dd { (status.accounts.provisioned) " provisioned, " (status.accounts.enabled) " enabled" }
            @if status.groups.provisioned > 0 {
                dt { "Groups in the app" } dd { (status.groups.provisioned) }
            }
            @if let Some(e) = &status.last_error {
                dt { "Last error" } dd class="error" { (e) }
            }
            @if status.worker.is_some() {
                dt { "Worker" } dd data-part="worker" { (worker_cell(status.worker.as_ref())) }
            }
        }
        (dialect(session, app, &status.dialect))
        @if let Some(e) = escrow {
            h3 { "Waiting to be retried (" (e.count) ")" }
            div class="table-wrap" { table {
                thead { tr { th { "Object" } th { "Error" } th { "Attempts" } th { "Next retry" } } }
                tbody { @for item in &e.items { tr {
                    td { (item.source_name.as_deref().unwrap_or(&item.source_id)) }
                    td { (item.error_message) }
                    td class="num" { (item.attempts) }
                    td { (time(Some(item.next_retry_at))) }
                } } }
            } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_engine::reliability::{Quarantine, QuarantineReason};
    use roster_engine::status::{EscrowSummary, Progress, StagedDeletes};
    use roster_store::{AppId, EscrowItem, ObjectKind, Phase};

    fn render(status: ProvisioningStatus) -> String {
        let session =
            Session { principal: "admin:t".into(), role: roster_store::AccessRole::Admin, csrf: "token".into() };
        let app =
            Application { id: AppId::new(), name: "Crm".into(), template: "scim".into(), created_at: 0, updated_at: 0 };
        panel_body(&session, &app, &status).into_string()
    }

    fn on() -> ProvisioningStatus {
        ProvisioningStatus { state: ProvisioningState::On, activity: Activity::Provisioning, ..Default::default() }
    }

    #[test]
    fn the_dialect_shows_pins_lessons_refusals_and_the_reset() {
        use roster_engine::{Aspect, Dialect, Form};
        assert!(!render(on()).contains("SCIM dialect"), "nothing known: nothing shown");
        let dialect = Dialect {
            pinned: [(Aspect::MemberRemoval, Form::ValueList)].into(),
            learned: [(Aspect::ComplexValue, Form::SubAttributes)].into(),
            unsupported: ["nickname".to_string()].into(),
        };
        let html = render(ProvisioningStatus { dialect, ..on() });
        for part in ["memberRemoval", "valueList (pinned)", "subAttributes (learned)", "nickname", "dialect/reset"] {
            assert!(html.contains(part), "{part}: {html}");
        }
        let pinned_only = Dialect { pinned: [(Aspect::Operations, Form::One)].into(), ..Dialect::default() };
        let html = render(ProvisioningStatus { dialect: pinned_only, ..on() });
        assert!(html.contains("one (pinned)") && !html.contains("dialect/reset"), "nothing to forget: {html}");
    }

    #[test]
    fn a_running_cycle_shows_its_progress() {
        let progress = Progress {
            running: true,
            done: 25,
            total: 100,
            percent: 25.0,
            phase: Some(Phase::Initial),
            ..Default::default()
        };
        let html = render(ProvisioningStatus { progress, ..on() });
        assert!(html.contains("value=\"25\""), "{html}");
        assert!(html.contains("25 / 100 · 25 %"), "{html}");
        assert!(html.contains("data-running=\"true\""), "{html}");
    }

    #[test]
    fn quarantine_and_staged_deletes_are_shown_with_allow() {
        let quarantine = Quarantine {
            reason: QuarantineReason::TooManyDeletes,
            message: "the cycle would disable 900 accounts".into(),
            since: 0,
            next_attempt: Some(0),
            attempts: 1,
            notified: false,
        };
        let escrowed = EscrowItem {
            object_kind: ObjectKind::User,
            source_id: "u1".into(),
            source_name: Some("alice".into()),
            attempts: 2,
            first_failed_at: 0,
            next_retry_at: 0,
            error_code: "HTTP500".into(),
            error_message: "HTTP 500".into(),
        };
        let html = render(ProvisioningStatus {
            quarantine: Some(quarantine),
            staged: Some(StagedDeletes { count: 900, threshold: 500, at: 0, cycle_id: "c1".into() }),
            escrow: EscrowSummary { count: 1, items: vec![escrowed] },
            ..on()
        });
        assert!(html.contains("Quarantined"), "{html}");
        assert!(html.contains("the cycle would disable 900 accounts"), "{html}");
        assert!(html.contains("Next attempt: 1970-01-01 00:00:00 UTC"), "{html}");
        assert!(html.contains("Allow these deletes"), "{html}");
        assert!(html.contains("name=\"_csrf\" value=\"token\""), "the Allow form carries the CSRF token");
        assert!(html.contains("Waiting to be retried (1)"), "{html}");
    }

    #[test]
    fn a_job_that_never_ran_says_so() {
        let html = render(ProvisioningStatus::default());
        assert!(html.contains("No cycle has run yet."), "{html}");
        assert!(html.contains("Not configured"), "{html}");
    }

    #[test]
    fn manual_mode_that_is_on_says_its_cycles_write_hand_offs() {
        let html = render(ProvisioningStatus { activity: Activity::HandingOff, ..on() });
        assert!(html.contains("Hand-offs"), "{html}");
        assert!(html.contains("roster does not call the app"), "{html}");
        assert!(!render(on()).contains("Hand-offs"));
    }
}
