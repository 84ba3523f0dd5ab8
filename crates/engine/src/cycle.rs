//! One user through a cycle, in the documentation's steps: import it, decide
//! its `scope`, match it (`match_object`), `decide` (see `crate::decide`),
//! `export` the plan through the connector, and return what to record (shadow
//! and log entry) as an [`Outcome`].

use crate::decide::{decide, Found, Plan, Rules, SkipReason, Want, Wanted};
use crate::source::UserSource;
use roster_connectors::{Connector, ConnectorError, PatchOperation, ResourceKind, TargetObject};
use roster_mapping::{AppRoleAssignment, ApplyMapping, CompiledObjectMapping, EvalContext, MappedAttribute};
use roster_scim::{AttrPath, PatchOp};
use roster_store::{
    AppId, AppRole, AssignmentIndex, EscrowFailure, LogRecord, LogStatus, ModifiedProperty, ObjectKind, RoleId,
    ShadowEntry, Step, User, UserId,
};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The action taken on one object: the action its log entry records.
pub use roster_store::LogAction as Action;

/// What happened to one object: the shadow to write, the log entry, and the counter.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub source_id: UserId,
    pub shadow: Option<ShadowEntry>,
    pub log: Option<LogRecord>,
    pub action: Action,
    pub failed: bool,
}

/// Everything a cycle shares between the objects it processes. Cheap to clone
/// (what is large sits behind an `Arc`), so that the pipeline can hand each
/// request to a task of its own.
#[derive(Clone)]
pub struct CycleContext {
    pub app: AppId,
    pub cycle_id: String,
    pub mapping: Arc<CompiledObjectMapping>,
    pub connector: Arc<dyn Connector>,
    pub index: Arc<AssignmentIndex>,
    pub roles: Arc<HashMap<RoleId, AppRole>>,
    pub scope_all: bool,
    /// Target users by lowercased value of the first matching attribute, read once
    /// at the start of an initial cycle (`None`: ask the target per user).
    pub snapshot: Option<Arc<crate::snapshot::Snapshot>>,
    /// The group mapping, when groups are provisioned.
    pub group_mapping: Option<Arc<CompiledObjectMapping>>,
    /// Target groups by lowercased matching value, like `snapshot`.
    pub group_snapshot: Option<Arc<crate::snapshot::Snapshot>>,
    /// Most member values in one group PATCH.
    pub member_batch_size: usize,
    /// Most objects read from one listing of the app (the snapshot).
    pub max_listed_objects: u64,
    /// Manual mode: the connector is the stand-in, and what would reach the
    /// shadow waits in the hand-off (see `crate::handoff`).
    pub handoff: bool,
    /// The guard every call goes through (`connector` is the same object).
    pub guard: Arc<crate::reliability::GuardedConnector>,
    /// Where the time comes from (escrow delays).
    pub clock: Arc<dyn crate::reliability::Clock>,
    /// The first delay before an escrowed object is retried, ms.
    pub escrow_base_ms: i64,
    /// Accounts this cycle made or enabled (source id → account id), known
    /// before their batch's record commits: a report in the next batch finds
    /// its manager's account here.
    pub placed: Arc<std::sync::Mutex<crate::FastMap<String, String>>>,
}

impl CycleContext {
    /// The account this cycle made or enabled for a user, if any.
    pub(crate) fn placed_account(&self, source_id: &str) -> Option<String> {
        self.placed.lock().ok()?.get(source_id).cloned()
    }

    /// Remembers the accounts a batch made or enabled.
    pub(crate) fn remember_placed(&self, outcomes: &[Outcome]) {
        if let Ok(mut placed) = self.placed.lock() {
            for o in outcomes.iter().filter(|o| !o.failed) {
                if let Some(s) = o.shadow.as_ref().filter(|s| s.enabled) {
                    placed.insert(o.source_id.to_string(), s.target_id.clone());
                }
            }
        }
    }

    /// The escrow entry of an object that failed, from its log entry.
    pub(crate) fn escrow_failure(&self, kind: ObjectKind, log: Option<&LogRecord>, source_id: &str) -> EscrowFailure {
        EscrowFailure {
            object_kind: kind,
            source_id: source_id.to_string(),
            source_name: log.and_then(|l| l.source_name.clone()),
            error_code: log.and_then(|l| l.error_code.clone()).unwrap_or_else(|| "Failure".into()),
            error_message: log.and_then(|l| l.error_message.clone()).unwrap_or_default(),
            base_delay_ms: self.escrow_base_ms,
            not_before: self.guard.hold_until(),
        }
    }
}

/// One user with what the store knows of it for this app.
pub struct Imported {
    pub source_id: UserId,
    pub user: Option<User>,
    /// The roles by which the app reaches the user (none: it does not), read in
    /// one snapshot of the assignments and memberships.
    pub roles: Vec<RoleId>,
    pub shadow: Option<ShadowEntry>,
    /// The manager's id in the target, when the manager has an account there.
    pub manager_target: Option<String>,
    /// The manager, when its account is being made in this run: the user is
    /// sent once that request is over (see `crate::pipeline`).
    pub manager_wait: Option<String>,
    pub change_id: String,
}

pub(crate) struct Steps(pub(crate) Vec<Step>);

impl Steps {
    pub(crate) fn add(&mut self, step: &str, outcome: impl Into<String>) {
        self.0.push(Step::new(step, outcome));
    }
}

/// Whether the app reaches a user (assigned, active, not deleted, passing the
/// scoping filter): the user as the mapping sees it, and why it is out of scope.
pub(crate) fn scope<'a>(
    ctx: &CycleContext,
    user: &'a User,
    roles: &[RoleId],
) -> (UserSource<'a>, Option<&'static str>) {
    scope_of(user, roles, &ctx.roles, ctx.scope_all, &ctx.mapping)
}

/// The one scope rule, for cycles, recovery, the deletion guard, provision on
/// demand and preview alike: a user is in scope when it is not deleted, is
/// active, is reached by the app (a role, or scope "all") and passes the scoping
/// filter. Returns the user as the mapping sees it (its roles' values), and why
/// it is out of scope.
pub(crate) fn scope_of<'a>(
    user: &'a User,
    roles: &[RoleId],
    app_roles: &HashMap<RoleId, AppRole>,
    scope_all: bool,
    mapping: &CompiledObjectMapping,
) -> (UserSource<'a>, Option<&'static str>) {
    let reason = if user.is_deleted() {
        Some("the user is deleted in the directory")
    } else if !user.active {
        Some("the user is disabled in the directory")
    } else if !scope_all && roles.is_empty() {
        Some("the user is not assigned to the application")
    } else {
        None
    };
    let role_values: Vec<AppRoleAssignment> = roles
        .iter()
        .filter_map(|r| app_roles.get(r))
        .map(|r| AppRoleAssignment { id: r.id.to_string(), display_name: r.name.clone(), value: r.value.clone() })
        .collect();
    let src = UserSource { user, soft_deleted: reason.is_some(), roles: role_values };
    let reason = reason.or_else(|| (!mapping.in_scope(&src)).then_some("the user does not match the scoping filter"));
    (src, reason)
}

/// Whether an imported user will leave the app in this cycle: it has an enabled
/// account and is now out of scope.
pub(crate) fn is_leaving(ctx: &CycleContext, item: &Imported) -> bool {
    if !item.shadow.as_ref().is_some_and(|s| s.enabled) || !ctx.mapping.definition().enabled {
        return false;
    }
    match item.user.as_ref() {
        None => true,
        Some(user) => scope(ctx, user, &item.roles).1.is_some(),
    }
}

/// Whether a target is the enterprise extension's `manager` (a reference to
/// another account). Compared by its last component, never by byte offset: a
/// target may hold any text when it was stored before targets were checked.
fn is_reference(path: &str) -> bool {
    path.rsplit_once(':').is_some_and(|(_, last)| last.eq_ignore_ascii_case("manager"))
}

/// Sends a request with retries: a transient failure is retried with jittered
/// exponential back-off, a throttled one after its `Retry-After` (never earlier).
pub async fn with_retry<T, F, Fut>(mut call: F) -> Result<T, ConnectorError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ConnectorError>>,
{
    let mut attempt = 0u32;
    loop {
        match call().await {
            Err(ConnectorError::Transient { .. }) if attempt < 3 => {
                let base = 200u64 << attempt;
                let jitter = rand::random::<u64>() % base;
                tokio::time::sleep(Duration::from_millis(base + jitter)).await;
            }
            // A long `Retry-After` is not waited out here: the object goes to escrow
            // and is retried after it (never earlier).
            Err(ConnectorError::Throttled { retry_after, .. })
                if attempt < 3 && retry_after.is_none_or(|w| w <= crate::reliability::MAX_IN_CYCLE_WAIT) =>
            {
                tokio::time::sleep(retry_after.unwrap_or(Duration::from_secs(1))).await;
            }
            other => return other,
        }
        attempt += 1;
    }
}

/// The error code of a request the app refused for its form (see
/// `ConnectorError::is_unsupported_form`): counted apart, never toward
/// quarantine.
pub(crate) const UNSUPPORTED: &str = "Unsupported";

pub(crate) fn error_code(e: &ConnectorError) -> &'static str {
    match e {
        ConnectorError::Transient { .. } => "Transient",
        ConnectorError::Throttled { .. } => "Throttled",
        e if e.is_unsupported_form() => UNSUPPORTED,
        ConnectorError::Permanent { .. } => "AppRefused",
        ConnectorError::Config { .. } => "Configuration",
        ConnectorError::NotFound => "NotFound",
        ConnectorError::Conflict { .. } => "Conflict",
    }
}

/// The old → new values of what changed, for the log.
pub(crate) fn modified(old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<ModifiedProperty> {
    let mut out = Vec::new();
    for (k, v) in new {
        if old.get(k) != Some(v) {
            out.push(ModifiedProperty::new(k, old.get(k).cloned().unwrap_or(Value::Null), v.clone()));
        }
    }
    for (k, v) in old {
        if !new.contains_key(k) {
            out.push(ModifiedProperty::new(k, v.clone(), Value::Null));
        }
    }
    out
}

/// Processes one user: import → scope → match → action → export; returns what to
/// record. What the connector noted about the account (a value fitted to the app's
/// rules, a cancelled invitation, a hand-off) is added to the log's steps.
pub async fn process_user(ctx: &CycleContext, item: Imported) -> Outcome {
    let mut outcome = process_user_steps(ctx, item).await;
    if let Some(log) = outcome.log.as_mut() {
        annotate(ctx, log);
    }
    outcome
}

/// Adds to a log entry what the connector noted about its object: a note (a
/// value fitted to the app's rules, a form learned) as a step, and an
/// attribute the app refuses in every form as a warning (a success becomes a
/// `Warning`).
pub(crate) fn annotate(ctx: &CycleContext, log: &mut LogRecord) {
    let Some(target) = log.target_id.as_deref() else { return };
    let note = ctx.connector.take_note(target);
    let warnings = ctx.connector.take_warnings(target);
    log.steps.extend(note.map(|n| Step::new("Note", n)));
    log.steps.extend(warnings.iter().map(|w| Step::new("Warning", w.as_str())));
    if !warnings.is_empty() && log.status == LogStatus::Success {
        log.status = LogStatus::Warning;
    }
}

async fn process_user_steps(ctx: &CycleContext, item: Imported) -> Outcome {
    let mut steps = Steps(Vec::new());
    let now = roster_store::now_ms();
    let log = user_log(ctx, &item, now);
    let outcome = |action: Action, shadow: Option<ShadowEntry>, log: Option<LogRecord>, failed: bool| Outcome {
        source_id: item.source_id.clone(),
        shadow,
        log,
        action,
        failed,
    };

    let rules = Rules::of(ObjectKind::User, ctx.mapping.definition());
    let known = match &item.shadow {
        Some(s) => Found::Shadow(s),
        None => Found::Nothing,
    };
    let (wanted, matching) = match import_and_scope(ctx, &item, &mut steps) {
        Scoped::Leaving(reason) => {
            let plan = decide(&Want::OutOfScope(reason), known, rules);
            return export(ctx, &item, steps, plan, None, log, outcome).await;
        }
        Scoped::Off => return outcome(Action::Skip, None, None, false),
        Scoped::Failed(e) => {
            let l = log(Action::Skip, LogStatus::Failure, None, steps, Vec::new(), Some(("MappingError", e)));
            return outcome(Action::Skip, None, Some(l), true);
        }
        Scoped::In { wanted, matching } => (wanted, matching),
    };

    // Match, decide, export.
    let matched =
        match match_object(ctx, ResourceKind::User, item.shadow.as_ref(), &wanted.attributes, &matching, &mut steps)
            .await
        {
            Ok(m) => m,
            Err((code, message)) => {
                let l = log(Action::Skip, LogStatus::Failure, None, steps, Vec::new(), Some((code, message)));
                return outcome(Action::Skip, None, Some(l), true);
            }
        };
    let found = match &matched {
        Some((id, current)) => Found::InApp { id, current },
        None => known,
    };
    // The wanted attributes move into the decision's input, and are read back from it.
    let want = Want::InScope(wanted);
    let plan = decide(&want, found, rules);
    export(ctx, &item, steps, plan, want.wanted().map(|w| (w, matching.as_slice())), log, outcome).await
}

/// A user imported and scoped: leaving the app (out of scope, with why), not
/// provisioned at all (the mapping is off), its mapping failed, or in scope
/// with what the app should hold and its matching values.
pub(crate) enum Scoped {
    Leaving(&'static str),
    Off,
    Failed(String),
    In { wanted: Wanted, matching: Vec<MappedAttribute> },
}

/// The first steps of a user, without I/O: import, scope, and the mapping's
/// values. A cycle and a plan (`crate::plan`) both start here.
pub(crate) fn import_and_scope(ctx: &CycleContext, item: &Imported, steps: &mut Steps) -> Scoped {
    const GONE: &str = "the user no longer exists in the directory";
    let Some(user) = item.user.as_ref() else {
        steps.add("Import", GONE);
        return Scoped::Leaving(GONE);
    };
    steps.add("Import", format!("read {} from the directory", user.user_name));
    let (src, reason) = scope(ctx, user, &item.roles);
    if let Some(reason) = reason {
        steps.add("Scope", format!("out of scope: {reason}"));
        return Scoped::Leaving(reason);
    }
    if !ctx.mapping.definition().enabled {
        return Scoped::Off;
    }
    steps.add(
        "Scope",
        if ctx.scope_all { "in scope: every user is provisioned" } else { "in scope: assigned to the application" },
    );
    let eval = EvalContext::at(chrono::Utc::now());
    let on_create = item.shadow.is_none();
    let evaluated =
        ctx.mapping.evaluate(&src, &eval, on_create).and_then(|m| Ok((m, ctx.mapping.matching_values(&src, &eval)?)));
    match evaluated {
        Ok((mapped, matching)) => Scoped::In {
            wanted: wanted(&mapped, item.manager_target.as_deref(), user.manager.as_ref().map(|m| m.as_str())),
            matching,
        },
        Err(e) => {
            steps.add("Action", "the attribute mapping failed");
            Scoped::Failed(e.to_string())
        }
    }
}

/// The log entry of one user, built from its parts (the same signature as the
/// `log` the export steps take).
#[allow(clippy::type_complexity)]
fn user_log<'a>(
    ctx: &'a CycleContext,
    item: &'a Imported,
    now: i64,
) -> impl Fn(Action, LogStatus, Option<String>, Steps, Vec<ModifiedProperty>, Option<(&str, String)>) -> LogRecord + 'a
{
    let source_name = item.user.as_ref().map(|u| u.user_name.clone());
    let log = ObjectLog {
        at: now,
        ..ObjectLog::new(ctx, ObjectKind::User, item.source_id.as_str(), source_name, &item.change_id)
    };
    move |action, status, target, steps, modified, err| log.entry(action, status, target, steps, modified, err)
}

/// Builds the log entries of one object (user or group) in one change.
pub(crate) struct ObjectLog<'a> {
    pub ctx: &'a CycleContext,
    pub kind: ObjectKind,
    pub id: &'a str,
    pub name: Option<String>,
    pub change_id: &'a str,
    /// Tells apart two entries of one object in one change (a group's members
    /// leaving first).
    pub step: &'static str,
    pub at: i64,
}

impl<'a> ObjectLog<'a> {
    pub(crate) fn new(
        ctx: &'a CycleContext,
        kind: ObjectKind,
        id: &'a str,
        name: Option<String>,
        change_id: &'a str,
    ) -> ObjectLog<'a> {
        ObjectLog { ctx, kind, id, name, change_id, step: "", at: roster_store::now_ms() }
    }

    pub(crate) fn entry(
        &self,
        action: Action,
        status: LogStatus,
        target: Option<String>,
        steps: Steps,
        modified: Vec<ModifiedProperty>,
        err: Option<(&str, String)>,
    ) -> LogRecord {
        LogRecord {
            id: format!("{}:{}:{}{}", self.ctx.cycle_id, self.change_id, self.id, self.step),
            app_id: self.ctx.app.clone(),
            cycle_id: self.ctx.cycle_id.clone(),
            change_id: self.change_id.to_string(),
            at: self.at,
            object_kind: self.kind,
            source_id: self.id.to_string(),
            source_name: self.name.clone(),
            target_id: target,
            action,
            status,
            steps: steps.0,
            modified,
            error_code: err.as_ref().map(|(c, _)| c.to_string()),
            error_message: err.map(|(_, m)| m),
        }
    }
}

/// The object in the app, when roster has no shadow of it: found by its
/// matching attributes (from the cycle's snapshot when there is one), with the
/// values it holds of the `attributes` roster manages.
pub(crate) async fn match_object(
    ctx: &CycleContext,
    kind: ResourceKind,
    shadow: Option<&ShadowEntry>,
    attributes: &[(String, Value)],
    matching: &[MappedAttribute],
    steps: &mut Steps,
) -> Result<Option<(String, Map<String, Value>)>, (&'static str, String)> {
    let (noun, snapshot) = match kind {
        ResourceKind::User => ("account", ctx.snapshot.as_deref()),
        ResourceKind::Group => ("group", ctx.group_snapshot.as_deref()),
    };
    if let Some(s) = shadow {
        steps.add("Match", format!("known {noun} {} (shadow)", s.target_id));
        return Ok(None);
    }
    match lookup(ctx, kind, matching, snapshot).await {
        Ok(Some(t)) => {
            steps.add("Match", format!("matched the existing {noun} {} in the app", t.id));
            Ok(Some((t.id, current_values(&t.resource, attributes))))
        }
        Ok(None) => {
            steps.add("Match", format!("no {noun} in the app"));
            Ok(None)
        }
        Err((code, message)) => {
            steps.add("Match", format!("failed: {message}"));
            Err((code, message))
        }
    }
}

/// The attributes a user in scope should have: the mapped values coerced to the
/// target's types, the manager reference resolved to its account id (or, while
/// the manager has no account, left out and remembered as pending).
pub(crate) fn wanted(mapped: &[MappedAttribute], manager_target: Option<&str>, manager: Option<&str>) -> Wanted {
    let mut out = Wanted::default();
    for m in mapped {
        let mut value = m.value.to_json();
        if is_reference(&m.target) {
            match manager_target {
                Some(id) => value = Value::String(id.to_string()),
                None => {
                    out.pending_ref = manager.map(String::from);
                    continue;
                }
            }
        }
        if m.apply == ApplyMapping::OnCreateOnly {
            out.create_only.push(m.target.clone());
        }
        let value = match AttrPath::parse_cached(&m.target) {
            Ok(p) => roster_scim::coerce(&p, value),
            Err(_) => value,
        };
        out.attributes.push((m.target.clone(), value));
    }
    out
}

/// Performs a plan: the one request it needs, and what to record.
#[allow(clippy::too_many_arguments)]
async fn export(
    ctx: &CycleContext,
    item: &Imported,
    mut steps: Steps,
    plan: Plan,
    wanted: Option<(&Wanted, &[MappedAttribute])>,
    log: impl Fn(Action, LogStatus, Option<String>, Steps, Vec<ModifiedProperty>, Option<(&str, String)>) -> LogRecord,
    outcome: impl Fn(Action, Option<ShadowEntry>, Option<LogRecord>, bool) -> Outcome,
) -> Outcome {
    let pending_ref = wanted.and_then(|(w, _)| w.pending_ref.clone());
    match plan {
        Plan::Noop => outcome(Action::Skip, None, None, false),
        Plan::Skip(SkipReason::CreateNotAllowed) => {
            steps.add("Action", "skipped: the mapping does not allow creating accounts");
            let l = log(Action::Skip, LogStatus::Skipped, None, steps, Vec::new(), None);
            outcome(Action::Skip, None, Some(l), false)
        }
        // `decide` never deletes or leaves a user's account: a user leaving is disabled.
        Plan::Disable { target } | Plan::Delete { target } | Plan::Leave { target } => {
            disable(ctx, item, &target, steps, log, outcome).await
        }
        Plan::Create { attributes, exported } => {
            let matching = wanted.map(|(_, m)| m).unwrap_or_default();
            create(ctx, item, steps, (&attributes, matching), exported, pending_ref, log, outcome, false).await
        }
        Plan::Record { target, exported } => {
            steps.add("Action", "nothing to change");
            let shadow = shadow_entry(item, &target, exported, true, pending_ref);
            let l = log(Action::Update, LogStatus::Success, Some(target), steps, Vec::new(), None);
            outcome(Action::Update, Some(shadow), Some(l), false)
        }
        Plan::Update { target, ops, exported, changes } => {
            let change = Change { action: Action::Update, target, ops, exported, changes };
            send_update(ctx, item, steps, change, wanted, log, outcome).await
        }
        Plan::Enable { target, ops, exported, changes } => {
            let change = Change { action: Action::Enable, target, ops, exported, changes };
            send_update(ctx, item, steps, change, wanted, log, outcome).await
        }
    }
}

/// An update (or enable) to send: the PATCH and what it changes.
struct Change {
    action: Action,
    target: String,
    ops: Vec<PatchOperation>,
    exported: Map<String, Value>,
    changes: Vec<ModifiedProperty>,
}

/// Sends an update in one PATCH; an account deleted in the app is created again.
async fn send_update(
    ctx: &CycleContext,
    item: &Imported,
    mut steps: Steps,
    change: Change,
    wanted: Option<(&Wanted, &[MappedAttribute])>,
    log: impl Fn(Action, LogStatus, Option<String>, Steps, Vec<ModifiedProperty>, Option<(&str, String)>) -> LogRecord,
    outcome: impl Fn(Action, Option<ShadowEntry>, Option<LogRecord>, bool) -> Outcome,
) -> Outcome {
    let Change { action, target, ops, exported, changes } = change;
    let pending_ref = wanted.and_then(|(w, _)| w.pending_ref.clone());
    let connector = ctx.connector.clone();
    let managed: Vec<(String, Value)> = exported.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    match with_retry(|| connector.update_managed(ResourceKind::User, &target, &ops, &managed)).await {
        Ok(()) => {
            steps.add("Action", format!("{} {} attribute(s)", action.as_str().to_lowercase() + "d:", ops.len()));
            let shadow = shadow_entry(item, &target, exported, true, pending_ref);
            let l = log(action, LogStatus::Success, Some(target), steps, changes, None);
            outcome(action, Some(shadow), Some(l), false)
        }
        Err(ConnectorError::NotFound) => {
            steps.add("Action", "the account was deleted in the app: creating it again");
            let (attributes, matching) = wanted.map(|(w, m)| (w.attributes.clone(), m)).unwrap_or_default();
            let new_map: Map<String, Value> = attributes.iter().cloned().collect();
            create(ctx, item, steps, (&attributes, matching), new_map, pending_ref, log, outcome, true).await
        }
        Err(e) => {
            steps.add("Action", format!("failed: {e}"));
            let l =
                log(action, LogStatus::Failure, Some(target), steps, changes, Some((error_code(&e), e.to_string())));
            outcome(action, None, Some(l), true)
        }
    }
}

fn shadow_entry(
    item: &Imported,
    target: &str,
    exported: Map<String, Value>,
    enabled: bool,
    pending_ref: Option<String>,
) -> ShadowEntry {
    ShadowEntry {
        object_kind: ObjectKind::User,
        source_id: item.source_id.to_string(),
        target_id: target.to_string(),
        exported,
        enabled,
        pending_ref,
        last_sync: roster_store::now_ms(),
    }
}

/// The values a target resource holds now for the paths roster maps.
pub(crate) fn current_values(resource: &Value, desired: &[(String, Value)]) -> Map<String, Value> {
    let mut out = Map::new();
    for (path, _) in desired {
        if let Ok(p) = AttrPath::parse_cached(path) {
            if let Some(v) = roster_scim::extract(resource, &p) {
                let v = if is_reference(path) { v.get("value").cloned().unwrap_or(v) } else { v };
                out.insert(path.clone(), roster_scim::coerce(&p, v));
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
async fn create(
    ctx: &CycleContext,
    item: &Imported,
    mut steps: Steps,
    (desired, matching): (&[(String, Value)], &[MappedAttribute]),
    new_map: Map<String, Value>,
    pending_ref: Option<String>,
    log: impl Fn(Action, LogStatus, Option<String>, Steps, Vec<ModifiedProperty>, Option<(&str, String)>) -> LogRecord,
    outcome: impl Fn(Action, Option<ShadowEntry>, Option<LogRecord>, bool) -> Outcome,
    recreated: bool,
) -> Outcome {
    let connector = ctx.connector.clone();
    let changes = modified(&Map::new(), &new_map);
    match with_retry(|| connector.create_id(ResourceKind::User, desired)).await {
        Ok(id) => {
            steps.add(
                "Action",
                if recreated { "created the account again (it was deleted in the app)" } else { "created the account" },
            );
            let shadow = shadow_entry(item, &id, new_map, true, pending_ref);
            let l = log(Action::Create, LogStatus::Success, Some(id), steps, changes, None);
            outcome(Action::Create, Some(shadow), Some(l), false)
        }
        Err(ConnectorError::Conflict { app_message }) => {
            // The account exists after all: find it in the app (never the snapshot,
            // which missed it) and adopt it, sending only what differs.
            steps.add("Action", format!("the app says the account exists ({app_message}): matching it"));
            let found = match find_in_target(ctx, matching).await {
                Ok(Some(t)) => t,
                Ok(None) => {
                    let l =
                        log(Action::Create, LogStatus::Failure, None, steps, changes, Some(("Conflict", app_message)));
                    return outcome(Action::Create, None, Some(l), true);
                }
                Err((code, message)) => {
                    let l = log(Action::Create, LogStatus::Failure, None, steps, changes, Some((code, message)));
                    return outcome(Action::Create, None, Some(l), true);
                }
            };
            let old = current_values(&found.resource, desired);
            let ops = roster_scim::diff_patch(&old, desired);
            let changes = modified(&old, &new_map);
            let connector = ctx.connector.clone();
            match with_retry(|| connector.update_managed(ResourceKind::User, &found.id, &ops, desired)).await {
                Ok(()) => {
                    steps.add(
                        "Action",
                        format!("adopted the existing account {} and updated {} attribute(s)", found.id, ops.len()),
                    );
                    let shadow = shadow_entry(item, &found.id, new_map, true, pending_ref);
                    let l = log(Action::Update, LogStatus::Success, Some(found.id), steps, changes, None);
                    outcome(Action::Update, Some(shadow), Some(l), false)
                }
                Err(e) => {
                    steps.add("Action", format!("failed: {e}"));
                    let l = log(
                        Action::Update,
                        LogStatus::Failure,
                        Some(found.id),
                        steps,
                        changes,
                        Some((error_code(&e), e.to_string())),
                    );
                    outcome(Action::Update, None, Some(l), true)
                }
            }
        }
        Err(e) => {
            steps.add("Action", format!("failed: {e}"));
            let l =
                log(Action::Create, LogStatus::Failure, None, steps, changes, Some((error_code(&e), e.to_string())));
            outcome(Action::Create, None, Some(l), true)
        }
    }
}

/// Disables an account (`active=false`); it is never deleted. An account
/// already gone from the app counts as disabled.
async fn disable(
    ctx: &CycleContext,
    item: &Imported,
    target: &str,
    mut steps: Steps,
    log: impl Fn(Action, LogStatus, Option<String>, Steps, Vec<ModifiedProperty>, Option<(&str, String)>) -> LogRecord,
    outcome: impl Fn(Action, Option<ShadowEntry>, Option<LogRecord>, bool) -> Outcome,
) -> Outcome {
    steps.add("Match", format!("known account {target} (shadow)"));
    let ops = vec![PatchOperation::new(PatchOp::Replace, "active", Some(Value::Bool(false)))];
    let connector = ctx.connector.clone();
    let old = item.shadow.as_ref().map(|s| s.exported.clone()).unwrap_or_default();
    let mut exported = old.clone();
    exported.insert("active".into(), Value::Bool(false));
    let changes = vec![ModifiedProperty::new("active", old.get("active").cloned().unwrap_or(Value::Bool(true)), false)];
    match with_retry(|| connector.update(ResourceKind::User, target, &ops)).await {
        Ok(()) | Err(ConnectorError::NotFound) => {
            steps.add("Action", "disabled the account (active=false); it is not deleted");
            let pending_ref = item.shadow.as_ref().and_then(|s| s.pending_ref.clone());
            let s = shadow_entry(item, target, exported, false, pending_ref);
            let l = log(Action::Disable, LogStatus::Success, Some(target.to_string()), steps, changes, None);
            outcome(Action::Disable, Some(s), Some(l), false)
        }
        Err(e) => {
            steps.add("Action", format!("failed: {e}"));
            let error = Some((error_code(&e), e.to_string()));
            let l = log(Action::Disable, LogStatus::Failure, Some(target.to_string()), steps, changes, error);
            outcome(Action::Disable, None, Some(l), true)
        }
    }
}

/// Finds the user's account in the app by the matching attributes, asking the
/// app itself.
async fn find_in_target(
    ctx: &CycleContext,
    values: &[MappedAttribute],
) -> Result<Option<TargetObject>, (&'static str, String)> {
    lookup(ctx, ResourceKind::User, values, None).await
}

/// Finds an object of `kind` by the matching attributes in order of precedence,
/// from `snapshot` for the first one when given, else by asking the app.
pub(crate) async fn lookup(
    ctx: &CycleContext,
    kind: ResourceKind,
    values: &[MappedAttribute],
    snapshot: Option<&crate::snapshot::Snapshot>,
) -> Result<Option<TargetObject>, (&'static str, String)> {
    for (i, m) in values.iter().enumerate() {
        let Some(value) = m.value.to_text().map(|v| v.into_owned()) else { continue };
        let hits = match (snapshot, i) {
            (Some(snapshot), 0) => snapshot.get(&value.to_lowercase()),
            _ => {
                let connector = ctx.connector.clone();
                with_retry(|| connector.find(kind, &m.target, &value))
                    .await
                    .map_err(|e| (error_code(&e), e.to_string()))?
            }
        };
        match hits.len() {
            0 => continue,
            1 => return Ok(hits.into_iter().next()),
            n => {
                return Err((
                    "DuplicateTargetEntries",
                    format!("{n} objects in the app have {} = {value:?}; roster will not guess which one", m.target),
                ))
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::is_reference;

    #[test]
    fn a_reference_is_told_by_its_last_component_whatever_the_text() {
        fn check(path: &str, want: bool) {
            assert_eq!(is_reference(path), want, "{path:?}");
        }
        check("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", true);
        check("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:MANAGER", true);
        check("manager", false);
        check("éaaaaaaa", false);
        check("ééééé:manager", true);
        check("", false);
    }
}
