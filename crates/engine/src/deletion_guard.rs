//! The accidental-deletion guard: before a cycle disables (or deletes) anything,
//! it counts how many accounts it is about to take away. Past the threshold it
//! does none of them: they are logged as `Staged`, the job goes into quarantine
//! (`TooManyDeletes`) and an admin either lets them through (`allow-deletes`) or
//! fixes the cause (an assignment removed by mistake, a scoping filter) and
//! restarts.

use crate::cycle::{is_leaving, CycleContext, Imported};
use crate::status::StagedDeletes;
use crate::EngineError;
use roster_store::{
    LogAction, LogRecord, LogStatus, ModifiedProperty, ObjectKind, RecordBatch, Step, Store, User, UserId,
};
use std::collections::HashMap;

/// Log entries written for one staging (the rest are only counted).
const LOGGED: usize = 10_000;

/// A user the cycle would disable.
pub(crate) struct Leaving {
    pub id: String,
    pub name: Option<String>,
    pub target: String,
}

/// The users among `ids` that would lose their account in this cycle.
pub(crate) async fn leaving_users(
    store: &Store,
    ctx: &CycleContext,
    ids: &[UserId],
) -> Result<Vec<Leaving>, EngineError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(1000) {
        let refs: Vec<&str> = chunk.iter().map(|u| u.as_str()).collect();
        let mut shadows = store.shadow_of(&ctx.app, ObjectKind::User, &refs).await?;
        if shadows.values().all(|s| !s.enabled) {
            continue;
        }
        let mut roles = store.effective_roles(&ctx.app, chunk).await?;
        let mut users: HashMap<UserId, User> =
            store.users_by_ids(chunk).await?.into_iter().map(|u| (u.id.clone(), u)).collect();
        for id in chunk {
            let Some(shadow) = shadows.remove(id.as_str()) else { continue };
            let item = Imported {
                source_id: id.clone(),
                user: users.remove(id),
                roles: roles.remove(id).unwrap_or_default(),
                shadow: Some(shadow),
                manager_target: None,
                manager_wait: None,
                change_id: String::new(),
            };
            if is_leaving(ctx, &item) {
                let target = item.shadow.as_ref().map(|s| s.target_id.clone()).unwrap_or_default();
                let name = item.user.as_ref().map(|u| u.user_name.clone());
                out.push(Leaving { id: item.source_id.into_string(), name, target });
            }
        }
    }
    Ok(out)
}

/// The most disables one cycle may do without an admin: the threshold, or the
/// share of enabled accounts when a percentage is set (the smaller one).
pub(crate) fn threshold(count: u64, percent: Option<f64>, enabled: u64) -> u64 {
    match percent {
        Some(p) => count.min((enabled as f64 * p / 100.0).floor() as u64),
        None => count,
    }
}

/// Stages the disables: one `Staged` log entry per user, nothing sent.
pub(crate) async fn stage(
    store: &Store,
    ctx: &CycleContext,
    leaving: &[Leaving],
    threshold: u64,
    change_id: &str,
) -> Result<StagedDeletes, EngineError> {
    let now = ctx.clock.now_ms();
    let logs = leaving
        .iter()
        .take(LOGGED)
        .map(|l| LogRecord {
            id: format!("{}:{}:{}:staged", ctx.cycle_id, change_id, l.id),
            app_id: ctx.app.clone(),
            cycle_id: ctx.cycle_id.clone(),
            change_id: change_id.to_string(),
            at: now,
            object_kind: ObjectKind::User,
            source_id: l.id.clone(),
            source_name: l.name.clone(),
            target_id: Some(l.target.clone()),
            action: LogAction::Disable,
            status: LogStatus::Staged,
            steps: vec![
                Step::new("Scope", "out of scope: the account would be disabled"),
                Step::new(
                    "Action",
                    format!(
                        "staged: this cycle would disable {} accounts, more than the threshold of {threshold}; \
                         nothing was sent. Run `roster app allow-deletes` to let them through",
                        leaving.len()
                    ),
                ),
            ],
            modified: vec![ModifiedProperty::new("active", true, false)],
            error_code: Some("TooManyDeletes".into()),
            error_message: None,
        })
        .collect();
    store.record(&ctx.app, &RecordBatch { logs, ..Default::default() }).await?;
    Ok(StagedDeletes { count: leaving.len() as u64, threshold, at: now, cycle_id: ctx.cycle_id.clone() })
}

#[cfg(test)]
mod tests {
    use super::threshold;

    #[test]
    fn the_smaller_limit_applies() {
        assert_eq!(threshold(500, None, 100_000), 500);
        assert_eq!(threshold(500, Some(10.0), 1000), 100);
        assert_eq!(threshold(500, Some(10.0), 100_000), 500);
    }
}
