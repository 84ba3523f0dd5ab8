//! After a cycle: judge how it went and say so. A cycle whose credentials were
//! refused, that staged too many disables, that failed too large a share of its
//! operations, or that could not run three times in a row puts the job in
//! quarantine (or keeps it there, with the next delay); a healthy cycle ends the
//! quarantine. Alerts go to the app's notification email: once per quarantine
//! reason, on staged disables, on recovery, and a failure digest at most hourly.

use crate::cycle::CycleContext;
use crate::job::{CycleRun, LoadedJob};
use crate::reliability::{quarantine, too_many_failures, QuarantineReason};
use crate::settings::JobSettings;
use crate::status::JobState;
use crate::EngineError;
use chrono::{DateTime, Utc};
use roster_connectors::ConnectorError;
use roster_notify::{Alert, AppRef, FailedObject, Mailer, Recipients, SmtpConfig};
use roster_store::{AppId, LogStatus, Store};

/// Cycles in a row that may fail before the job goes into quarantine.
const FAILED_CYCLES_TO_QUARANTINE: u32 = 3;
/// The shortest time between two failure digests of one app.
const DIGEST_EVERY_MS: i64 = 3_600_000;

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A reason to put the job in quarantine, and what to say.
type Verdict = Option<(QuarantineReason, String)>;

/// Updates `state` after a cycle; returns the alerts to send.
pub(crate) async fn judge(
    store: &Store,
    ctx: &CycleContext,
    job: &LoadedJob,
    state: &mut JobState,
    result: &Result<CycleRun, EngineError>,
    now: i64,
) -> Result<Vec<Alert>, EngineError> {
    let rules = &job.settings.quarantine;
    let app = AppRef { id: ctx.app.to_string(), name: store.app(&ctx.app).await?.name };
    let mut alerts = Vec::new();
    let mut hold: Option<i64> = ctx.guard.hold_until();
    let verdict = match result {
        Err(e) => failed_cycle(state, e, now, &mut hold),
        Ok(run) => {
            state.failed_cycles = 0;
            match &run.staged {
                Some(staged) => Some(staged_disables(store, ctx, &app, state, staged, &mut alerts).await?),
                None => {
                    state.staged = None;
                    state.allow_deletes = false;
                    too_many_failures(&run.counts, rules).map(|m| (QuarantineReason::EscrowThreshold, m))
                }
            }
        }
    };
    state.hold_until = hold;
    apply_verdict(state, verdict, result.is_ok(), &app, rules, now, &mut alerts);
    let failed = result.as_ref().map(|r| r.counts.failed).unwrap_or(0);
    let digest_due = state.last_digest_at.is_none_or(|t| now - t >= DIGEST_EVERY_MS);
    if failed > 0 && job.settings.send_failure_email && digest_due {
        alerts.extend(failure_digest(store, ctx, state, app, now).await?);
    }
    Ok(alerts)
}

/// The verdict on a cycle that could not run: refused credentials quarantine
/// at once; a pause the app asked for blames nobody; a failing store is tried
/// again shortly; anything else backs off, then quarantines on the third time.
fn failed_cycle(state: &mut JobState, e: &EngineError, now: i64, hold: &mut Option<i64>) -> Verdict {
    match e {
        EngineError::Connector(ConnectorError::Config { message }) => {
            Some((QuarantineReason::BadCredentials, message.clone()))
        }
        // The app asked for a pause: the work waits for it, nobody is at fault.
        EngineError::Connector(ConnectorError::Throttled { .. }) => None,
        // roster's own store failed (busy, restarting): try again shortly.
        EngineError::Store(_) => {
            *hold = Some(hold.unwrap_or(0).max(now + 2_000));
            None
        }
        e => {
            state.failed_cycles += 1;
            if state.failed_cycles >= FAILED_CYCLES_TO_QUARANTINE || state.quarantine.is_some() {
                Some((
                    QuarantineReason::EscrowThreshold,
                    format!("{} cycles in a row failed: {e}", state.failed_cycles),
                ))
            } else {
                // Back off before the next try: 30 s, then a minute.
                let delay = 30_000i64 << (state.failed_cycles - 1).min(10);
                *hold = Some(hold.unwrap_or(0).max(now + delay));
                None
            }
        }
    }
}

/// A cycle that staged its disables instead of doing them: an alert naming
/// the first few, and the verdict.
async fn staged_disables(
    store: &Store,
    ctx: &CycleContext,
    app: &AppRef,
    state: &mut JobState,
    staged: &crate::status::StagedDeletes,
    alerts: &mut Vec<Alert>,
) -> Result<(QuarantineReason, String), EngineError> {
    let query = roster_store::LogQuery {
        cycle_id: Some(staged.cycle_id.clone()),
        status: Some(LogStatus::Staged),
        limit: Some(10),
        ..Default::default()
    };
    let sample =
        store.logs(&ctx.app, &query).await?.items.into_iter().map(|l| l.source_name.unwrap_or(l.source_id)).collect();
    alerts.push(Alert::StagedDeletes(roster_notify::StagedDeletes {
        app: app.clone(),
        count: staged.count,
        threshold: staged.threshold,
        sample,
    }));
    state.staged = Some(staged.clone());
    Ok((
        QuarantineReason::TooManyDeletes,
        format!("the cycle would disable {} accounts, more than the threshold of {}", staged.count, staged.threshold),
    ))
}

/// Puts the job in quarantine (or keeps it there, with the next delay) on a
/// verdict, alerting once per quarantine; a healthy cycle ends it.
fn apply_verdict(
    state: &mut JobState,
    verdict: Verdict,
    healthy: bool,
    app: &AppRef,
    rules: &crate::settings::QuarantineRules,
    now: i64,
    alerts: &mut Vec<Alert>,
) {
    match verdict {
        Some((reason, message)) => {
            let mut q = quarantine(state.quarantine.take(), reason, message, rules, now);
            if !q.notified {
                q.notified = true;
                alerts.push(Alert::Quarantine(roster_notify::Quarantine {
                    app: app.clone(),
                    reason: reason.for_alert(),
                    detail: q.message.clone(),
                    since: at(q.since),
                    next_attempt: q.next_attempt.map(at),
                }));
            }
            state.quarantine = Some(q);
        }
        None if healthy => {
            if let Some(q) = state.quarantine.take() {
                alerts.push(Alert::Recovered(roster_notify::Recovered {
                    app: app.clone(),
                    reason: q.reason.for_alert(),
                    quarantined_since: at(q.since),
                    at: at(now),
                }));
            }
        }
        None => {}
    }
}

/// The failure digest: the objects waiting in escrow, since the last digest.
async fn failure_digest(
    store: &Store,
    ctx: &CycleContext,
    state: &mut JobState,
    app: AppRef,
    now: i64,
) -> Result<Option<Alert>, EngineError> {
    let (items, total) = store.escrow(&ctx.app, 50).await?;
    if total == 0 {
        return Ok(None);
    }
    let from = at(state.last_digest_at.unwrap_or(state.last_cycle_at.unwrap_or(now)));
    state.last_digest_at = Some(now);
    Ok(Some(Alert::FailureDigest(roster_notify::FailureDigest {
        app,
        from,
        until: at(now),
        failures: items
            .into_iter()
            .map(|e| FailedObject {
                object: e.source_name.unwrap_or(e.source_id),
                code: e.error_code,
                message: e.error_message,
            })
            .collect(),
        total: total as u64,
    })))
}

/// Mails `alerts` to the app's notification email, when there is one and the
/// server has an SMTP server; a failure to send is logged, never fatal.
pub(crate) async fn send(
    _store: &Store,
    smtp: Option<&SmtpConfig>,
    app: &AppId,
    settings: &JobSettings,
    alerts: Vec<Alert>,
) {
    if alerts.is_empty() {
        return;
    }
    let (Some(smtp), Some(to)) = (smtp, settings.notification_email.as_deref()) else {
        tracing::info!(app = %app, alerts = alerts.len(), "no SMTP server or notification email: alerts not mailed");
        return;
    };
    let recipients = match Recipients::parse(to) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(app = %app, error = %e, "the notification email is not usable");
            return;
        }
    };
    let mailer = Mailer::new(smtp.clone(), recipients);
    for alert in &alerts {
        match mailer.send(alert).await {
            Ok(()) => tracing::info!(app = %app, kind = alert.kind(), "alert mailed"),
            Err(e) => tracing::warn!(app = %app, kind = alert.kind(), error = %e, "cannot mail an alert"),
        }
    }
}
