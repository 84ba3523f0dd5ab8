//! One object through a cycle, in the documentation's steps: `import` the user,
//! decide its `scope`, `match_target` it, `decide_action`, `export` through the
//! connector, and return what to `record` (shadow and log entry).

use crate::source::UserSource;
use roster_connectors::{Connector, ConnectorError, PatchOperation, ResourceKind, TargetObject};
use roster_mapping::{AppRoleAssignment, ApplyMapping, CompiledObjectMapping, EvalContext, MappedAttribute};
use roster_scim::{AttrPath, PatchOp};
use roster_store::{AppId, AppRole, AssignmentIndex, EscrowFailure, GroupId, LogRecord, RoleId, ShadowEntry, User};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The action taken on one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Disable,
    Enable,
    Delete,
    Skip,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Create => "Create",
            Action::Update => "Update",
            Action::Disable => "Disable",
            Action::Enable => "Enable",
            Action::Delete => "Delete",
            Action::Skip => "Skip",
        }
    }
}

/// What happened to one object: the shadow to write, the log entry, and the counter.
#[derive(Debug)]
pub struct Outcome {
    pub source_id: String,
    pub shadow: Option<ShadowEntry>,
    pub log: Option<LogRecord>,
    pub action: Action,
    pub failed: bool,
}

/// Everything a cycle shares between the objects it processes.
pub struct CycleContext {
    pub app: AppId,
    pub cycle_id: String,
    pub mapping: CompiledObjectMapping,
    pub connector: Arc<dyn Connector>,
    pub index: AssignmentIndex,
    pub roles: HashMap<RoleId, AppRole>,
    pub scope_all: bool,
    /// Target users by lowercased value of the first matching attribute, read once
    /// at the start of an initial cycle (`None`: ask the target per user).
    pub snapshot: Option<crate::snapshot::Snapshot>,
    /// The group mapping, when groups are provisioned.
    pub group_mapping: Option<CompiledObjectMapping>,
    /// Target groups by lowercased matching value, like `snapshot`.
    pub group_snapshot: Option<crate::snapshot::Snapshot>,
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
}

impl CycleContext {
    /// The escrow entry of an object that failed, from its log entry.
    pub(crate) fn escrow_failure(&self, kind: &str, log: Option<&LogRecord>, source_id: &str) -> EscrowFailure {
        EscrowFailure {
            object_kind: kind.to_string(),
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
    pub source_id: String,
    pub user: Option<User>,
    pub groups: Vec<GroupId>,
    pub shadow: Option<ShadowEntry>,
    /// The manager's id in the target, when the manager has an account there.
    pub manager_target: Option<String>,
    pub change_id: String,
}

pub(crate) struct Steps(pub(crate) Vec<Value>);

impl Steps {
    pub(crate) fn add(&mut self, step: &str, outcome: impl Into<String>) {
        self.0.push(json!({"step": step, "outcome": outcome.into()}));
    }
}

/// The roles by which the app reaches a user, if it does.
fn assigned_roles(ctx: &CycleContext, user: &User, groups: &[GroupId]) -> Vec<RoleId> {
    let mut roles: Vec<RoleId> = ctx.index.direct.get(&user.id).cloned().unwrap_or_default();
    for g in groups {
        for r in ctx.index.groups.get(g).into_iter().flatten() {
            if !roles.contains(r) {
                roles.push(r.clone());
            }
        }
    }
    roles
}

/// Whether the app reaches a user (assigned, active, not deleted, passing the
/// scoping filter): the user as the mapping sees it, and why it is out of scope.
pub(crate) fn scope<'a>(
    ctx: &CycleContext,
    user: &'a User,
    groups: &[GroupId],
) -> (UserSource<'a>, Option<&'static str>) {
    let roles = assigned_roles(ctx, user, groups);
    let reason = if user.is_deleted() {
        Some("the user is deleted in the directory")
    } else if !user.active {
        Some("the user is disabled in the directory")
    } else if !ctx.scope_all && roles.is_empty() {
        Some("the user is not assigned to the application")
    } else {
        None
    };
    let role_values: Vec<AppRoleAssignment> = roles
        .iter()
        .filter_map(|r| ctx.roles.get(r))
        .map(|r| AppRoleAssignment { id: r.id.0.clone(), display_name: r.name.clone(), value: r.value.clone() })
        .collect();
    let src = UserSource { user, soft_deleted: reason.is_some(), roles: role_values };
    let reason =
        reason.or_else(|| (!ctx.mapping.in_scope(&src)).then_some("the user does not match the scoping filter"));
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
        Some(user) => scope(ctx, user, &item.groups).1.is_some(),
    }
}

fn is_reference(path: &str) -> bool {
    path.len() >= 8 && path[path.len() - 8..].eq_ignore_ascii_case(":manager")
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

pub(crate) fn error_code(e: &ConnectorError) -> &'static str {
    match e {
        ConnectorError::Transient { .. } => "Transient",
        ConnectorError::Throttled { .. } => "Throttled",
        ConnectorError::Permanent { .. } => "AppRefused",
        ConnectorError::Config { .. } => "Configuration",
        ConnectorError::NotFound => "NotFound",
        ConnectorError::Conflict { .. } => "Conflict",
    }
}

/// The old → new values of what changed, for the log.
pub(crate) fn modified(old: &Map<String, Value>, new: &Map<String, Value>) -> Value {
    let mut out = Vec::new();
    for (k, v) in new {
        if old.get(k) != Some(v) {
            out.push(json!({"name": k, "old": old.get(k).cloned().unwrap_or(Value::Null), "new": v}));
        }
    }
    for (k, v) in old {
        if !new.contains_key(k) {
            out.push(json!({"name": k, "old": v, "new": Value::Null}));
        }
    }
    Value::Array(out)
}

/// Processes one user: import → scope → match → action → export; returns what to
/// record. What the connector noted about the account (a value fitted to the app's
/// rules, a cancelled invitation, a hand-off) is added to the log's steps.
pub async fn process_user(ctx: &CycleContext, item: Imported) -> Outcome {
    let mut outcome = process_user_steps(ctx, item).await;
    if let Some(log) = outcome.log.as_mut() {
        if let Some(note) = log.target_id.as_deref().and_then(|t| ctx.connector.take_note(t)) {
            if let Value::Array(steps) = &mut log.steps {
                steps.push(json!({"step": "Note", "outcome": note}));
            }
        }
    }
    outcome
}

async fn process_user_steps(ctx: &CycleContext, item: Imported) -> Outcome {
    let mut steps = Steps(Vec::new());
    let now = roster_store::now_ms();
    let source_name = item.user.as_ref().map(|u| u.user_name.clone());
    let log = |action: Action,
               status: &str,
               target: Option<String>,
               steps: Steps,
               modified: Value,
               err: Option<(&str, String)>| LogRecord {
        id: format!("{}:{}:{}", ctx.cycle_id, item.change_id, item.source_id),
        app_id: ctx.app.clone(),
        cycle_id: ctx.cycle_id.clone(),
        change_id: item.change_id.clone(),
        at: now,
        object_kind: "user".into(),
        source_id: item.source_id.clone(),
        source_name: source_name.clone(),
        target_id: target,
        action: action.as_str().into(),
        status: status.into(),
        steps: Value::Array(steps.0),
        modified,
        error_code: err.as_ref().map(|(c, _)| c.to_string()),
        error_message: err.map(|(_, m)| m),
    };
    let outcome = |action: Action, shadow: Option<ShadowEntry>, log: Option<LogRecord>, failed: bool| Outcome {
        source_id: item.source_id.clone(),
        shadow,
        log,
        action,
        failed,
    };

    // A disabled object mapping provisions nothing.
    if !ctx.mapping.definition().enabled {
        return outcome(Action::Skip, None, None, false);
    }
    let actions = ctx.mapping.definition().actions;

    // Import.
    let Some(user) = item.user.as_ref() else {
        steps.add("Import", "the user no longer exists in the directory");
        return disable(ctx, &item, steps, log, outcome).await;
    };
    steps.add("Import", format!("read {} from the directory", user.user_name));

    // Scope.
    let (src, reason) = scope(ctx, user, &item.groups);
    if let Some(reason) = reason {
        steps.add("Scope", format!("out of scope: {reason}"));
        return disable(ctx, &item, steps, log, outcome).await;
    }
    steps.add(
        "Scope",
        if ctx.scope_all { "in scope: every user is provisioned" } else { "in scope: assigned to the application" },
    );

    // Evaluate the mapping.
    let on_create = item.shadow.is_none();
    // The evaluation context is not `Send`: evaluate everything before any await.
    let evaluated = {
        let eval = EvalContext::at(chrono::Utc::now());
        ctx.mapping.evaluate(&src, &eval, on_create).and_then(|m| Ok((m, ctx.mapping.matching_values(&src, &eval)?)))
    };
    let (mapped, matching) = match evaluated {
        Ok(m) => m,
        Err(e) => {
            steps.add("Action", "the attribute mapping failed");
            let l = log(Action::Skip, "Failure", None, steps, json!([]), Some(("MappingError", e.to_string())));
            return outcome(Action::Skip, None, Some(l), true);
        }
    };
    let mut pending_ref = None;
    let mut desired: Vec<(String, Value)> = Vec::with_capacity(mapped.len());
    let mut create_only: Vec<String> = Vec::new();
    for m in &mapped {
        let mut value = m.value.to_json();
        if is_reference(&m.target) {
            match &item.manager_target {
                Some(id) => value = Value::String(id.clone()),
                None => {
                    pending_ref = user.manager.as_ref().map(|m| m.0.clone());
                    continue;
                }
            }
        }
        if m.apply == ApplyMapping::OnCreateOnly {
            create_only.push(m.target.clone());
        }
        let value = match AttrPath::parse(&m.target) {
            Ok(p) => roster_scim::coerce(&p, value),
            Err(_) => value,
        };
        desired.push((m.target.clone(), value));
    }

    // Match.
    let (target, old) = match &item.shadow {
        Some(s) => {
            steps.add("Match", format!("known account {} (shadow)", s.target_id));
            (Some(s.target_id.clone()), s.exported.clone())
        }
        None => match match_target(ctx, &matching).await {
            Ok(Some(t)) => {
                steps.add("Match", format!("matched the existing account {} in the app", t.id));
                let old = current_values(&t.resource, &desired);
                (Some(t.id), old)
            }
            Ok(None) => {
                steps.add("Match", "no account in the app");
                (None, Map::new())
            }
            Err((code, message)) => {
                steps.add("Match", format!("failed: {message}"));
                let l = log(Action::Skip, "Failure", None, steps, json!([]), Some((code, message)));
                return outcome(Action::Skip, None, Some(l), true);
            }
        },
    };

    let new_map: Map<String, Value> = desired.iter().cloned().collect();
    match target {
        None if !actions.create => {
            steps.add("Action", "skipped: the mapping does not allow creating accounts");
            let l = log(Action::Skip, "Skipped", None, steps, json!([]), None);
            outcome(Action::Skip, None, Some(l), false)
        }
        None => create(ctx, &item, steps, (&desired, &matching), new_map, pending_ref, log, outcome, false).await,
        Some(target_id) => {
            // Attributes applied only on creation stay as they were.
            let update: Vec<(String, Value)> =
                desired.iter().filter(|(k, _)| !create_only.contains(k)).cloned().collect();
            let mut sent = old.clone();
            for k in create_only.iter() {
                if let Some(v) = old.get(k) {
                    sent.insert(k.clone(), v.clone());
                }
            }
            let mut exported: Map<String, Value> = update.iter().cloned().collect();
            for k in create_only.iter() {
                if let Some(v) = old.get(k) {
                    exported.insert(k.clone(), v.clone());
                }
            }
            // Without the update action only enabling (active) goes out.
            let update: Vec<(String, Value)> =
                if actions.update { update } else { update.into_iter().filter(|(k, _)| k == "active").collect() };
            if !actions.update {
                // The shadow keeps what the app holds: only `active` moved.
                exported = old.clone();
                exported.extend(update.iter().cloned());
            }
            // Attributes applied only on creation are neither sent nor removed.
            let compared: Map<String, Value> =
                old.iter().filter(|(k, _)| !create_only.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
            let ops = roster_scim::diff_patch(&compared, &update);
            let was_enabled = item.shadow.as_ref().map(|s| s.enabled).unwrap_or(true);
            let action = if !was_enabled { Action::Enable } else { Action::Update };
            if ops.is_empty() {
                if item.shadow.is_some()
                    && item.shadow.as_ref().map(|s| s.pending_ref.clone()) == Some(pending_ref.clone())
                {
                    return outcome(Action::Skip, None, None, false);
                }
                steps.add("Action", "nothing to change");
                let shadow = shadow_entry(&item, &target_id, exported, true, pending_ref);
                let l = log(Action::Update, "Success", Some(target_id), steps, json!([]), None);
                return outcome(Action::Update, Some(shadow), Some(l), false);
            }
            let changes = modified(&sent, &exported);
            let connector = ctx.connector.clone();
            match with_retry(|| connector.update(ResourceKind::User, &target_id, &ops)).await {
                Ok(()) => {
                    steps.add(
                        "Action",
                        format!("{} {} attribute(s) with one PATCH", action.as_str().to_lowercase() + "d:", ops.len()),
                    );
                    let shadow = shadow_entry(&item, &target_id, exported, true, pending_ref);
                    let l = log(action, "Success", Some(target_id), steps, changes, None);
                    outcome(action, Some(shadow), Some(l), false)
                }
                Err(ConnectorError::NotFound) => {
                    steps.add("Action", "the account was deleted in the app: creating it again");
                    create(ctx, &item, steps, (&desired, &matching), new_map, pending_ref, log, outcome, true).await
                }
                Err(e) => {
                    steps.add("Action", format!("failed: {e}"));
                    let l =
                        log(action, "Failure", Some(target_id), steps, changes, Some((error_code(&e), e.to_string())));
                    outcome(action, None, Some(l), true)
                }
            }
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
        object_kind: "user".into(),
        source_id: item.source_id.clone(),
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
        if let Ok(p) = AttrPath::parse(path) {
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
    log: impl Fn(Action, &str, Option<String>, Steps, Value, Option<(&str, String)>) -> LogRecord,
    outcome: impl Fn(Action, Option<ShadowEntry>, Option<LogRecord>, bool) -> Outcome,
    recreated: bool,
) -> Outcome {
    let connector = ctx.connector.clone();
    let changes = modified(&Map::new(), &new_map);
    match with_retry(|| connector.create(ResourceKind::User, desired)).await {
        Ok(t) => {
            steps.add(
                "Action",
                if recreated { "created the account again (it was deleted in the app)" } else { "created the account" },
            );
            let shadow = shadow_entry(item, &t.id, new_map, true, pending_ref);
            let l = log(Action::Create, "Success", Some(t.id), steps, changes, None);
            outcome(Action::Create, Some(shadow), Some(l), false)
        }
        Err(ConnectorError::Conflict { app_message }) => {
            // The account exists after all: find it in the app (never the snapshot,
            // which missed it) and adopt it, sending only what differs.
            steps.add("Action", format!("the app says the account exists ({app_message}): matching it"));
            let found = match find_in_target(ctx, matching).await {
                Ok(Some(t)) => t,
                Ok(None) => {
                    let l = log(Action::Create, "Failure", None, steps, changes, Some(("Conflict", app_message)));
                    return outcome(Action::Create, None, Some(l), true);
                }
                Err((code, message)) => {
                    let l = log(Action::Create, "Failure", None, steps, changes, Some((code, message)));
                    return outcome(Action::Create, None, Some(l), true);
                }
            };
            let old = current_values(&found.resource, desired);
            let ops = roster_scim::diff_patch(&old, desired);
            let changes = modified(&old, &new_map);
            let connector = ctx.connector.clone();
            match with_retry(|| connector.update(ResourceKind::User, &found.id, &ops)).await {
                Ok(()) => {
                    steps.add(
                        "Action",
                        format!("adopted the existing account {} and updated {} attribute(s)", found.id, ops.len()),
                    );
                    let shadow = shadow_entry(item, &found.id, new_map, true, pending_ref);
                    let l = log(Action::Update, "Success", Some(found.id), steps, changes, None);
                    outcome(Action::Update, Some(shadow), Some(l), false)
                }
                Err(e) => {
                    steps.add("Action", format!("failed: {e}"));
                    let l = log(
                        Action::Update,
                        "Failure",
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
            let l = log(Action::Create, "Failure", None, steps, changes, Some((error_code(&e), e.to_string())));
            outcome(Action::Create, None, Some(l), true)
        }
    }
}

/// Out of scope: an enabled account is disabled (`active=false`), never deleted;
/// anything else is skipped without a log entry.
async fn disable(
    ctx: &CycleContext,
    item: &Imported,
    mut steps: Steps,
    log: impl Fn(Action, &str, Option<String>, Steps, Value, Option<(&str, String)>) -> LogRecord,
    outcome: impl Fn(Action, Option<ShadowEntry>, Option<LogRecord>, bool) -> Outcome,
) -> Outcome {
    let Some(shadow) = item.shadow.as_ref().filter(|s| s.enabled) else {
        return outcome(Action::Skip, None, None, false);
    };
    steps.add("Match", format!("known account {} (shadow)", shadow.target_id));
    let ops = vec![PatchOperation::new(PatchOp::Replace, "active", Some(Value::Bool(false)))];
    let connector = ctx.connector.clone();
    let mut exported = shadow.exported.clone();
    exported.insert("active".into(), Value::Bool(false));
    let changes = json!([{"name": "active", "old": shadow.exported.get("active").cloned().unwrap_or(Value::Bool(true)), "new": false}]);
    match with_retry(|| connector.update(ResourceKind::User, &shadow.target_id, &ops)).await {
        Ok(()) | Err(ConnectorError::NotFound) => {
            steps.add("Action", "disabled the account (active=false); it is not deleted");
            let s = ShadowEntry { exported, enabled: false, last_sync: roster_store::now_ms(), ..shadow.clone() };
            let l = log(Action::Disable, "Success", Some(shadow.target_id.clone()), steps, changes, None);
            outcome(Action::Disable, Some(s), Some(l), false)
        }
        Err(e) => {
            steps.add("Action", format!("failed: {e}"));
            let l = log(
                Action::Disable,
                "Failure",
                Some(shadow.target_id.clone()),
                steps,
                changes,
                Some((error_code(&e), e.to_string())),
            );
            outcome(Action::Disable, None, Some(l), true)
        }
    }
}

/// Finds the user's account in the target by the matching attributes, in order of
/// precedence; more than one hit is `DuplicateTargetEntries`, never a guess.
async fn match_target(
    ctx: &CycleContext,
    values: &[MappedAttribute],
) -> Result<Option<TargetObject>, (&'static str, String)> {
    lookup(ctx, ResourceKind::User, values, ctx.snapshot.as_ref()).await
}

/// Like [`match_target`], always asking the app itself.
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
