//! Applying a batch (the threshold first, then each record, then the managers
//! that arrived later in the same batch) and running the scheduled actions
//! that are due.

use super::plan::{Known, PlanContext, PlanKind, RecordPlan};
use super::Source;
use crate::cycle::Steps;
use crate::{Engine, EngineError};
use roster_store::inbound::{InboundChange, InboundTx, ScheduleChange, UserWrite};
use roster_store::{
    BatchStatus, LogAction, LogStatus, ModifiedProperty, ScheduledAction, StoreError, UserId, UserPatch,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// The counts of a batch's outcome, by what happened.
#[derive(Default)]
struct Tally(BTreeMap<&'static str, i64>);

impl Tally {
    fn add(&mut self, what: &'static str) {
        *self.0.entry(what).or_default() += 1;
    }

    fn of(action: LogAction, status: LogStatus) -> &'static str {
        match (action, status) {
            (_, LogStatus::Failure) => "failed",
            (LogAction::Create, _) => "created",
            (LogAction::Update, _) => "updated",
            (LogAction::Enable, _) => "enabled",
            (LogAction::Disable, _) => "disabled",
            _ => "skipped",
        }
    }

    fn summary(&self, records: usize) -> Value {
        let mut out = serde_json::Map::new();
        out.insert("records".into(), json!(records));
        for (k, v) in &self.0 {
            out.insert((*k).to_string(), json!(v));
        }
        Value::Object(out)
    }
}

/// Writes one record's plan in the chunk's transaction; returns the manager
/// left to resolve.
async fn write_plan(
    tx: &mut InboundTx,
    ctx: &PlanContext<'_>,
    plan: RecordPlan,
    tally: &mut Tally,
    known: &mut Known,
) -> Result<Option<PendingManager>, EngineError> {
    let RecordPlan { key, name, kind } = plan;
    let (change, manager) = match kind {
        PlanKind::Unchanged => {
            tally.add("unchanged");
            return Ok(None);
        }
        PlanKind::Failed { code, message } => {
            write_failure(tx, ctx, &key, name, LogAction::Skip, code, message).await?;
            tally.add("failed");
            return Ok(None);
        }
        PlanKind::Change { change, manager, .. } => (change, manager),
    };
    let (action, status) = (change.log.action, change.log.status);
    let schedule = change.schedule.clone();
    match tx.apply(*change).await {
        Ok(user) => {
            tally.add(Tally::of(action, status));
            let Some(user) = user else {
                // A hire put off: a later record of it in this chunk must see it.
                known.note_schedule(&schedule);
                return Ok(None);
            };
            known.note(&user, &schedule);
            Ok(manager.map(|manager| PendingManager {
                index: ctx.index,
                user: user.id.clone(),
                user_name: Some(user.user_name.clone()),
                key,
                manager,
            }))
        }
        Err(e @ (StoreError::Invalid { .. } | StoreError::Conflict { .. } | StoreError::NotFound { .. })) => {
            write_failure(tx, ctx, &key, name, action, "DirectoryRefused", e.to_string()).await?;
            tally.add("failed");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Logs a record that failed.
async fn write_failure(
    tx: &mut InboundTx,
    ctx: &PlanContext<'_>,
    key: &str,
    name: Option<String>,
    action: LogAction,
    code: &str,
    message: String,
) -> Result<(), EngineError> {
    let mut log = ctx.log(key, name, action, LogStatus::Failure);
    log.id = format!("{}:failed", log.id);
    log.error_code = Some(code.to_string());
    log.error_message = Some(message);
    tx.apply(InboundChange { claim: None, write: UserWrite::Nothing, schedule: Vec::new(), log }).await?;
    Ok(())
}

/// The failure entry of a scheduled action, which writes nothing else.
fn failure(ctx: &PlanContext<'_>, subject: &str, code: &str, message: String) -> InboundChange {
    let mut log = ctx.log(subject, None, LogAction::Skip, LogStatus::Failure);
    log.error_code = Some(code.to_string());
    log.error_message = Some(message);
    InboundChange { claim: None, write: UserWrite::Nothing, schedule: Vec::new(), log }
}

/// A user whose manager was not in the directory when it was written.
struct PendingManager {
    index: usize,
    user: UserId,
    user_name: Option<String>,
    key: String,
    manager: String,
}

/// Records planned and written together: one read of what they need, one
/// transaction.
const CHUNK: usize = 500;

impl Engine {
    /// Applies one claimed batch (or holds it, when it would disable more users
    /// than the threshold and nobody approved it).
    pub(crate) async fn apply_batch(
        &self,
        source: &Source,
        batch: &str,
        records: &[Value],
        approved: bool,
    ) -> Result<(), EngineError> {
        let now = self.clock.now_ms();
        let threshold = source.settings.disable_threshold;
        if threshold > 0 && !approved {
            let disables = self.count_disables(source, batch, records, now).await?;
            if disables > threshold {
                let summary = json!({
                    "records": records.len(),
                    "disables": disables,
                    "threshold": threshold,
                    "reason": format!(
                        "the batch would disable {disables} users, more than the source's threshold of {threshold}: \
                         approve it to apply it, or reject it"
                    ),
                });
                tracing::warn!(source = %source.name, disables, threshold, "inbound batch held for approval");
                self.store.finish_batch(batch, BatchStatus::Held, &summary, now).await?;
                return Ok(());
            }
        }
        let mut tally = Tally::default();
        let mut pending = Vec::new();
        for (n, chunk) in records.chunks(CHUNK).enumerate() {
            let first = PlanContext { source, batch, index: n * CHUNK, now };
            let mut known = Known::fetch(&self.store, &first, chunk).await?;
            let mut tx = self.store.inbound_tx(&source.id).await?;
            for (i, record) in chunk.iter().enumerate() {
                let ctx = PlanContext { index: n * CHUNK + i, ..first };
                let plan = ctx.plan(&known, record)?;
                pending.extend(write_plan(&mut tx, &ctx, plan, &mut tally, &mut known).await?);
            }
            tx.commit().await?;
            self.store.touch_batch(batch, self.clock.now_ms()).await?;
        }
        let ctx = PlanContext { source, batch, index: 0, now };
        for (n, p) in pending.into_iter().enumerate() {
            self.resolve_manager(&ctx, p, &mut tally).await?;
            if n % CHUNK == CHUNK - 1 {
                self.store.touch_batch(batch, self.clock.now_ms()).await?;
            }
        }
        self.store
            .finish_batch(batch, BatchStatus::Applied, &tally.summary(records.len()), self.clock.now_ms())
            .await?;
        Ok(())
    }

    /// How many users the batch would disable (now or on a date), as planned
    /// against the directory as it is.
    async fn count_disables(
        &self,
        source: &Source,
        batch: &str,
        records: &[Value],
        now: i64,
    ) -> Result<u32, EngineError> {
        let mut disables = 0u32;
        for (n, chunk) in records.chunks(CHUNK).enumerate() {
            let first = PlanContext { source, batch, index: n * CHUNK, now };
            let known = Known::fetch(&self.store, &first, chunk).await?;
            for (i, record) in chunk.iter().enumerate() {
                let ctx = PlanContext { index: n * CHUNK + i, ..first };
                if let PlanKind::Change { disables: true, .. } = ctx.plan(&known, record)?.kind {
                    disables += 1;
                }
            }
        }
        Ok(disables)
    }

    /// Sets the manager of a user whose manager came later in the batch (or
    /// says, as a warning, that it is nowhere).
    async fn resolve_manager(
        &self,
        ctx: &PlanContext<'_>,
        p: PendingManager,
        tally: &mut Tally,
    ) -> Result<(), EngineError> {
        let found = self
            .store
            .users_by_employee_ids(std::slice::from_ref(&p.manager))
            .await?
            .into_iter()
            .find(|u| !u.is_deleted())
            .map(|u| u.id);
        let at = PlanContext { index: p.index, ..*ctx };
        let mut steps = Steps(Vec::new());
        let (write, status) = match found.filter(|id| id != &p.user) {
            Some(id) => {
                steps.add("Manager", format!("the manager with employee id {} arrived later in the batch", p.manager));
                let patch = UserPatch { manager: Some(Some(id)), ..UserPatch::default() };
                (UserWrite::Update(p.user.clone(), Box::new(patch)), LogStatus::Success)
            }
            None => {
                steps.add(
                    "Manager",
                    format!("no directory user has the employee id {}: the manager is left as it was", p.manager),
                );
                tally.add("warnings");
                (UserWrite::Nothing, LogStatus::Warning)
            }
        };
        let mut log = at.log(&p.key, p.user_name, LogAction::Update, status);
        log.id = format!("{}:manager", log.id);
        log.target_id = Some(p.user.to_string());
        log.steps = steps.0;
        let change = InboundChange { claim: None, write, schedule: Vec::new(), log };
        if let Err(e) = self.store.apply_inbound(&ctx.source.id, change).await {
            tracing::warn!(error = %e, user = %p.user, "cannot set a manager from an inbound batch");
        }
        Ok(())
    }

    /// Runs the scheduled actions that are due: starts, ends, put-off hires.
    pub async fn run_due_actions(&self) -> Result<usize, EngineError> {
        let _one = self.inbound.lock.lock().await;
        let now = self.clock.now_ms();
        let due = self.store.due_actions(now, 500).await?;
        let mut sources: HashMap<roster_store::AppId, Option<Source>> = HashMap::new();
        let run = format!("schedule-{}", uuid::Uuid::new_v4());
        for (index, s) in due.iter().enumerate() {
            if !sources.contains_key(&s.source_id) {
                let loaded = self.load_source(&s.source_id).await.ok();
                sources.insert(s.source_id.clone(), loaded);
            }
            let Some(Some(source)) = sources.get(&s.source_id) else { continue };
            let ctx = PlanContext { source, batch: &run, index, now };
            let clear =
                ScheduleChange { action: s.action, subject: Some(s.subject.clone()), due_at: None, record: None };
            let change = match s.action {
                ScheduledAction::Create => {
                    let record = s.record.clone().unwrap_or(Value::Null);
                    let known = Known::fetch(&self.store, &ctx, std::slice::from_ref(&record)).await?;
                    match ctx.plan(&known, &record)?.kind {
                        PlanKind::Change { mut change, .. } => {
                            if !change.schedule.iter().any(|c| c.action == ScheduledAction::Create) {
                                change.schedule.push(clear);
                            }
                            *change
                        }
                        PlanKind::Unchanged => {
                            let log = ctx.log(&s.subject, None, LogAction::Skip, LogStatus::Skipped);
                            InboundChange { claim: None, write: UserWrite::Nothing, schedule: vec![clear], log }
                        }
                        PlanKind::Failed { code, message } => failure(&ctx, &s.subject, code, message),
                    }
                }
                ScheduledAction::Enable | ScheduledAction::Disable => self.dated_change(&ctx, s, clear).await?,
            };
            let claim = Some((s.action, s.subject.clone(), s.due_at));
            match self.store.apply_inbound(&source.id, InboundChange { claim: claim.clone(), ..change }).await {
                Ok(_) => {}
                // Done by another worker, or changed by a newer record meanwhile.
                Err(StoreError::Conflict { .. }) => {}
                Err(e @ (StoreError::Invalid { .. } | StoreError::NotFound { .. })) => {
                    // Refused: logged, and not tried again every second.
                    let failed =
                        InboundChange { claim, ..failure(&ctx, &s.subject, "DirectoryRefused", e.to_string()) };
                    if let Err(e) = self.store.apply_inbound(&source.id, failed).await {
                        tracing::warn!(error = %e, subject = %s.subject, "a scheduled inbound action failed");
                    }
                }
                Err(e) => tracing::warn!(error = %e, subject = %s.subject, "a scheduled inbound action failed"),
            }
        }
        Ok(due.len())
    }

    /// A start or end date reached: the user enabled or disabled.
    async fn dated_change(
        &self,
        ctx: &PlanContext<'_>,
        s: &roster_store::inbound::Scheduled,
        clear: ScheduleChange,
    ) -> Result<InboundChange, EngineError> {
        let enable = s.action == ScheduledAction::Enable;
        let user = match self.store.user(&UserId::from_stored(s.subject.clone())).await {
            Ok(u) if !u.is_deleted() => Some(u),
            Ok(_) | Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let mut steps = Steps(Vec::new());
        let Some(user) = user.filter(|u| u.active != enable) else {
            steps.add("Action", "nothing to do: the user is gone, or already so");
            let mut log = ctx.log(&s.subject, None, LogAction::Skip, LogStatus::Skipped);
            log.steps = steps.0;
            return Ok(InboundChange { claim: None, write: UserWrite::Nothing, schedule: vec![clear], log });
        };
        let (action, why) = if enable {
            (LogAction::Enable, "the start date is reached: enabled")
        } else {
            (LogAction::Disable, "the end date is reached: disabled")
        };
        steps.add("Schedule", why);
        let key = user.employee_id.clone().unwrap_or_else(|| user.user_name.clone());
        let mut log = ctx.log(&key, Some(user.user_name.clone()), action, LogStatus::Success);
        log.target_id = Some(user.id.to_string());
        log.steps = steps.0;
        log.modified = vec![ModifiedProperty::new("active", user.active, enable)];
        let patch = UserPatch { active: Some(Some(enable)), ..UserPatch::default() };
        Ok(InboundChange {
            claim: None,
            write: UserWrite::Update(user.id.clone(), Box::new(patch)),
            schedule: vec![clear],
            log,
        })
    }
}
