//! Group provisioning. A group in scope (assigned to the app, or every group with
//! scope "all") gets a group in the app, matched by its matching attribute before
//! one is created, and renamed when it is renamed. Its members in the app are the
//! users in it, directly or through nested groups, that have an enabled account
//! there; they go out as `add`/`remove` PATCHes of at most `member_batch_size`
//! values. What was sent is kept in the shadow (`shadow_members`, one row per
//! member and account id), so a membership change is one small PATCH and a group
//! is never read back just to diff it.

use crate::cycle::{
    current_values, error_code, lookup, match_object, modified, with_retry, Action, CycleContext, ObjectLog, Steps,
};
use crate::decide::{decide, Found, Plan, Rules, Want, Wanted};
use crate::source::GroupSource;
use crate::status::Counts;
use crate::EngineError;
use futures::StreamExt;
use roster_connectors::{ConnectorError, ResourceKind, TargetObject};
use roster_mapping::{ApplyMapping, CompiledObjectMapping, EvalContext, MappedAttribute};
use roster_scim::AttrPath;
use roster_store::{
    Group, GroupId, JobStateUpdate, LogRecord, LogStatus, MemberShadow, ModifiedProperty, ObjectKind, RecordBatch,
    ShadowEntry, Store,
};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Member ids listed in one log entry; past that, only the counts.
const LOGGED_MEMBERS: usize = 1000;

/// What happened to one group: what to record, and the counter.
#[derive(Debug, Default)]
pub struct GroupOutcome {
    /// `None`: nothing happened, nothing to record.
    pub action: Option<Action>,
    pub failed: bool,
    pub shadow: Option<ShadowEntry>,
    pub shadow_delete: Option<String>,
    pub member_adds: Vec<MemberShadow>,
    pub member_removes: Vec<MemberShadow>,
    pub log: Option<LogRecord>,
}

impl GroupOutcome {
    /// Adds this outcome to a record batch and to the counts.
    pub fn record_into(self, ctx: &CycleContext, batch: &mut RecordBatch, counts: &mut Counts) {
        if let Some(action) = self.action {
            counts.tally_logged(action, self.failed, self.log.as_ref());
        }
        match (&self.log, self.failed) {
            (Some(l), true) => batch.escrow_failures.push(ctx.escrow_failure(ObjectKind::Group, Some(l), &l.source_id)),
            (Some(l), false) => batch.escrow_clears.push((ObjectKind::Group, l.source_id.clone())),
            (None, _) => {}
        }
        if let Some(s) = self.shadow {
            batch.shadow_upserts.push(s);
        }
        if let Some(id) = self.shadow_delete {
            batch.shadow_deletes.push((ObjectKind::Group, id));
        }
        batch.member_adds.extend(self.member_adds);
        batch.member_removes.extend(self.member_removes);
        if let Some(l) = self.log {
            batch.logs.push(l);
        }
    }
}

/// A group's log entries that end its processing.
impl ObjectLog<'_> {
    fn skipped(&self, target: Option<String>, steps: Steps) -> GroupOutcome {
        GroupOutcome {
            action: Some(Action::Skip),
            log: Some(self.entry(Action::Skip, LogStatus::Skipped, target, steps, Vec::new(), None)),
            ..GroupOutcome::default()
        }
    }

    fn failure(
        &self,
        action: Action,
        target: Option<String>,
        steps: Steps,
        changes: Vec<ModifiedProperty>,
        code: &str,
        message: String,
    ) -> GroupOutcome {
        GroupOutcome {
            action: Some(action),
            failed: true,
            log: Some(self.entry(action, LogStatus::Failure, target, steps, changes, Some((code, message)))),
            ..GroupOutcome::default()
        }
    }
}

/// The `members` entry of a log's modified properties: the member (source) ids
/// added and removed, listed up to [`LOGGED_MEMBERS`] each.
fn members_change(added: &[MemberShadow], removed: &[MemberShadow]) -> ModifiedProperty {
    let first = |ms: &[MemberShadow]| ms.iter().take(LOGGED_MEMBERS).map(|m| m.member_id.clone()).collect();
    ModifiedProperty::members(first(added), first(removed), (added.len(), removed.len()))
}

/// Whether the mapping sends members.
pub(crate) fn maps_members(gm: &CompiledObjectMapping) -> bool {
    gm.targets().iter().any(|t| t.eq_ignore_ascii_case("members"))
}

/// What is known of the members of a group in the app.
enum SentMembers {
    /// The shadow: exactly what roster sent.
    Shadow,
    /// Nothing: the group was just created.
    Nothing,
    /// The group was adopted: what it holds now is read once.
    Adopted,
}

/// Member changes the app confirmed for one group, each under the account id
/// sent, and the error that stopped them, if any.
#[derive(Default)]
struct MemberSync {
    added: Vec<MemberShadow>,
    removed: Vec<MemberShadow>,
    requests: u32,
    error: Option<ConnectorError>,
}

/// Sends member adds and removes (member source id, account id) to a group, in
/// batches of `member_batch_size`, each retried on its own; a batch of removals
/// the app refuses because a member is already gone (`noTarget`) is sent again one
/// member at a time, so that the others still leave. The adds the app confirmed
/// are returned even when a removal then fails (a member's new account id is
/// recorded beside its old one, whose removal stays to be sent).
async fn send_members(
    ctx: &CycleContext,
    group: &str,
    target: &str,
    adds: &[(String, String)],
    removes: &[(String, String)],
) -> MemberSync {
    let size = ctx.member_batch_size.max(1);
    let mut sync = MemberSync::default();
    for batch in adds.chunks(size) {
        let ids: Vec<String> = batch.iter().map(|(_, t)| t.clone()).collect();
        sync.requests += 1;
        match with_retry(|| ctx.connector.update_members(target, &ids, &[])).await {
            Ok(_) => sync.added.extend(batch.iter().map(|(m, t)| member_row(group, m, t))),
            Err(e) => {
                sync.error = Some(e);
                return sync;
            }
        }
    }
    for batch in removes.chunks(size) {
        let ids: Vec<String> = batch.iter().map(|(_, t)| t.clone()).collect();
        sync.requests += 1;
        match with_retry(|| ctx.connector.update_members(target, &[], &ids)).await {
            Ok(_) => sync.removed.extend(batch.iter().map(|(m, t)| member_row(group, m, t))),
            Err(e) if is_no_target(&e) => {
                for (m, t) in batch {
                    sync.requests += 1;
                    match with_retry(|| ctx.connector.update_members(target, &[], std::slice::from_ref(t))).await {
                        Err(e) if !is_no_target(&e) => {
                            sync.error = Some(e);
                            return sync;
                        }
                        _ => sync.removed.push(member_row(group, m, t)),
                    }
                }
            }
            Err(e) => {
                sync.error = Some(e);
                return sync;
            }
        }
    }
    sync
}

/// The members shadow's row of one member of `group` under one account id.
fn member_row(group: &str, member: &str, target: &str) -> MemberShadow {
    MemberShadow { group_id: group.to_string(), member_id: member.to_string(), target_id: target.to_string() }
}

fn is_no_target(e: &ConnectorError) -> bool {
    matches!(e, ConnectorError::Permanent { scim_type: Some(t), .. } if t == "noTarget")
}

/// The desired attributes of a group (all but `members`), coerced to their SCIM
/// types, and the ones applied only on creation.
fn desired_attributes(mapped: &[MappedAttribute]) -> (Vec<(String, Value)>, Vec<String>) {
    let mut desired = Vec::with_capacity(mapped.len());
    let mut create_only = Vec::new();
    for m in mapped.iter().filter(|m| !m.target.eq_ignore_ascii_case("members")) {
        let value = m.value.to_json();
        let value = match AttrPath::parse_cached(&m.target) {
            Ok(p) => roster_scim::coerce(&p, value),
            Err(_) => value,
        };
        if m.apply == ApplyMapping::OnCreateOnly {
            create_only.push(m.target.clone());
        }
        desired.push((m.target.clone(), value));
    }
    (desired, create_only)
}

/// Processes one group, in the documentation's steps: import, scope, match,
/// decide (`crate::decide`, the rules users follow too), export, then its
/// members.
pub(crate) async fn sync_group(
    store: &Store,
    ctx: &CycleContext,
    id: &GroupId,
    group: Option<&Group>,
    shadow: Option<ShadowEntry>,
    change_id: &str,
) -> Result<GroupOutcome, EngineError> {
    let Some(gm) = ctx.group_mapping.as_ref() else { return Ok(GroupOutcome::default()) };
    let name = group.map(|g| g.display_name.clone()).or_else(|| {
        shadow.as_ref().and_then(|s| s.exported.get("displayName")).and_then(Value::as_str).map(String::from)
    });
    let log = ObjectLog::new(ctx, ObjectKind::Group, id.as_str(), name, change_id);
    let mut steps = Steps(Vec::new());
    if change_id.ends_with(CHECK) {
        steps.add(
            "Check",
            "after the group was synced, its members in the shadow differed from the enabled accounts of its \
             members in the directory: synced again",
        );
    }
    let rules = Rules::of(ObjectKind::Group, gm.definition());
    let known = match &shadow {
        Some(s) => Found::Shadow(s),
        None => Found::Nothing,
    };

    // Import and scope.
    let Some(group) = group else {
        steps.add("Import", "the group no longer exists in the directory");
        let plan = decide(&Want::OutOfScope("the group no longer exists in the directory"), known, rules);
        return Ok(export_leaving(ctx, plan, shadow, steps, &log).await);
    };
    steps.add("Import", format!("read group {} from the directory", group.display_name));
    let src = GroupSource { group, soft_deleted: false };
    if let Some(reason) = group_scope(ctx, gm, id, &src) {
        steps.add("Scope", format!("out of scope: {reason}"));
        let plan = decide(&Want::OutOfScope(reason), known, rules);
        return Ok(export_leaving(ctx, plan, shadow, steps, &log).await);
    }
    steps.add(
        "Scope",
        if ctx.scope_all { "in scope: every group is provisioned" } else { "in scope: assigned to the application" },
    );

    let (wanted, matching) = match evaluate(gm, &src, shadow.is_none()) {
        Ok(m) => m,
        Err(e) => {
            steps.add("Action", "the attribute mapping failed");
            return Ok(log.failure(Action::Skip, None, steps, Vec::new(), "MappingError", e.to_string()));
        }
    };

    // Match, decide, export the group itself, then its members.
    let matched = match match_object(
        ctx,
        ResourceKind::Group,
        shadow.as_ref(),
        &wanted.attributes,
        &matching,
        &mut steps,
    )
    .await
    {
        Ok(m) => m,
        Err((code, message)) => return Ok(log.failure(Action::Skip, None, steps, Vec::new(), code, message)),
    };
    let (found, sent) = match (&matched, &shadow) {
        (Some((id, current)), _) => (Found::InApp { id, current }, SentMembers::Adopted),
        (None, Some(_)) => (known, SentMembers::Shadow),
        (None, None) => (known, SentMembers::Nothing),
    };
    let plan = decide(&Want::InScope(wanted.clone()), found, rules);
    if let Plan::Skip(_) = plan {
        steps.add("Action", "skipped: the mapping does not allow creating groups");
        return Ok(log.skipped(None, steps));
    }
    let placed = match export_group(ctx, plan, sent, shadow.as_ref(), &wanted.attributes, &matching, &mut steps).await {
        Ok(Some(placed)) => placed,
        Ok(None) => return Ok(GroupOutcome::default()),
        Err((action, target, changes, code, message)) => {
            return Ok(log.failure(action, target, steps, changes, &code, message));
        }
    };
    finish_group(store, ctx, gm, id, placed, shadow.as_ref(), steps, &log).await
}

/// What the mapping wants of a group in scope, and its matching values.
pub(crate) fn evaluate(
    gm: &CompiledObjectMapping,
    src: &GroupSource<'_>,
    on_create: bool,
) -> Result<(Wanted, Vec<MappedAttribute>), roster_mapping::MappingError> {
    let eval = EvalContext::at(chrono::Utc::now());
    let mapped = gm.evaluate(src, &eval, on_create)?;
    let (attributes, create_only) = desired_attributes(&mapped);
    Ok((Wanted { attributes, create_only, pending_ref: None }, gm.matching_values(src, &eval)?))
}

/// Why a group is out of scope, if it is: not assigned (unless every group is
/// provisioned), or filtered out.
pub(crate) fn group_scope(
    ctx: &CycleContext,
    gm: &CompiledObjectMapping,
    id: &GroupId,
    src: &GroupSource<'_>,
) -> Option<&'static str> {
    if !ctx.scope_all && !ctx.index.assigned_groups.contains(id) {
        Some("the group is not assigned to the application")
    } else if !gm.in_scope(src) {
        Some("the group does not match the scoping filter")
    } else {
        None
    }
}

/// Sends the members that differ, then says what to record for the group.
#[allow(clippy::too_many_arguments)]
async fn finish_group(
    store: &Store,
    ctx: &CycleContext,
    gm: &CompiledObjectMapping,
    id: &GroupId,
    placed: Placed,
    shadow: Option<&ShadowEntry>,
    mut steps: Steps,
    log: &ObjectLog<'_>,
) -> Result<GroupOutcome, EngineError> {
    let mut changes = placed.changes;
    let mut out = GroupOutcome::default();
    let failure = if maps_members(gm) {
        sync_members(store, ctx, id, &placed.target_id, placed.sent, &mut out, &mut steps, &mut changes).await?
    } else {
        None
    };
    if placed.action.is_none() && changes.is_empty() && failure.is_none() && shadow.is_some_and(|s| s.enabled) {
        // Nothing changed: nothing to record.
        return Ok(out);
    }
    let action = placed.action.unwrap_or(Action::Update);
    if out.shadow_delete.is_none() {
        out.shadow = Some(ShadowEntry {
            object_kind: ObjectKind::Group,
            source_id: id.to_string(),
            target_id: placed.target_id.clone(),
            exported: placed.exported,
            enabled: true,
            pending_ref: None,
            last_sync: roster_store::now_ms(),
        });
    }
    if changes.is_empty() && failure.is_none() {
        steps.add("Action", "nothing to change");
    }
    let status = if failure.is_some() { LogStatus::Failure } else { LogStatus::Success };
    out.failed = failure.is_some();
    out.action = Some(action);
    let mut entry = log.entry(action, status, Some(placed.target_id), steps, changes, failure);
    crate::cycle::annotate(ctx, &mut entry);
    out.log = Some(entry);
    Ok(out)
}

/// Brings the group's members in the app to the users in it that have an
/// enabled account there; returns the error that stopped it, if any.
#[allow(clippy::too_many_arguments)]
async fn sync_members(
    store: &Store,
    ctx: &CycleContext,
    id: &GroupId,
    target: &str,
    sent: SentMembers,
    out: &mut GroupOutcome,
    steps: &mut Steps,
    changes: &mut Vec<ModifiedProperty>,
) -> Result<Option<(&'static str, String)>, EngineError> {
    let desired: BTreeSet<(String, String)> =
        store.provisioned_members(&ctx.app, id.as_str()).await?.into_iter().collect();
    let sent: BTreeSet<(String, String)> = match sent {
        SentMembers::Shadow => store.shadow_members_of_group(&ctx.app, id.as_str()).await?,
        SentMembers::Nothing => BTreeSet::new(),
        SentMembers::Adopted => {
            // Members the adopted group already holds count as sent.
            let held = held_members(ctx, target).await;
            let held: BTreeSet<(String, String)> = desired.iter().filter(|(_, t)| held.contains(t)).cloned().collect();
            out.member_adds.extend(held.iter().map(|(m, t)| member_row(id.as_str(), m, t)));
            held
        }
    };
    // Pairs (member, account id): a member whose account was made again has its
    // new id added and its old id removed, each on its own.
    let adds: Vec<(String, String)> = desired.difference(&sent).cloned().collect();
    let removes: Vec<(String, String)> = sent.difference(&desired).cloned().collect();
    if adds.is_empty() && removes.is_empty() {
        return Ok(None);
    }
    let sync = send_members(ctx, id.as_str(), target, &adds, &removes).await;
    steps.add(
        "Action",
        format!(
            "members: {} added, {} removed, in {} PATCH request(s)",
            sync.added.len(),
            sync.removed.len(),
            sync.requests
        ),
    );
    changes.push(members_change(&sync.added, &sync.removed));
    out.member_adds.extend(sync.added);
    out.member_removes.extend(sync.removed);
    Ok(sync.error.map(|e| {
        if e == ConnectorError::NotFound {
            // The group was deleted in the app: the next cycle creates it again.
            out.shadow_delete = Some(id.to_string());
        }
        (error_code(&e), e.to_string())
    }))
}

/// A group placed in the app: its id, what its attributes now are, what is
/// known of its members, the action taken (`None`: nothing changed) and the
/// attribute changes for the log.
struct Placed {
    target_id: String,
    exported: Map<String, Value>,
    sent: SentMembers,
    action: Option<Action>,
    changes: Vec<ModifiedProperty>,
}

/// A failed step: (action, target, changes, error code, message).
type Failed = (Action, Option<String>, Vec<ModifiedProperty>, String, String);

/// Performs the plan for a group in scope: the one request it needs.
/// `Ok(None)`: nothing to do for the group (no group, and none to create).
async fn export_group(
    ctx: &CycleContext,
    plan: Plan,
    sent: SentMembers,
    shadow: Option<&ShadowEntry>,
    desired: &[(String, Value)],
    matching: &[MappedAttribute],
    steps: &mut Steps,
) -> Result<Option<Placed>, Failed> {
    let placed =
        |target_id: String, exported, sent, action, changes| Placed { target_id, exported, sent, action, changes };
    match plan {
        Plan::Create { .. } => create_group(ctx, desired, matching, steps).await.map(Some),
        Plan::Record { target, exported } => Ok(Some(placed(target, exported, sent, Some(Action::Update), Vec::new()))),
        Plan::Update { target, ops, exported, changes } | Plan::Enable { target, ops, exported, changes } => {
            match with_retry(|| ctx.connector.update_managed(ResourceKind::Group, &target, &ops, desired)).await {
                Ok(()) => {
                    steps.add("Action", format!("updated {} attribute(s)", ops.len()));
                    Ok(Some(placed(target, exported, sent, Some(Action::Update), changes)))
                }
                Err(ConnectorError::NotFound) => {
                    steps.add("Action", "the group was deleted in the app: creating it again");
                    create_group(ctx, desired, matching, steps).await.map(Some)
                }
                Err(e) => {
                    steps.add("Action", format!("failed: {e}"));
                    Err((Action::Update, Some(target), changes, error_code(&e).into(), e.to_string()))
                }
            }
        }
        // Nothing to send: the group as the shadow knows it (its members may still differ).
        Plan::Noop | Plan::Disable { .. } | Plan::Delete { .. } | Plan::Leave { .. } => {
            Ok(shadow.map(|s| placed(s.target_id.clone(), s.exported.clone(), SentMembers::Shadow, None, Vec::new())))
        }
        Plan::Skip(_) => Ok(None),
    }
}

async fn create_group(
    ctx: &CycleContext,
    desired: &[(String, Value)],
    matching: &[MappedAttribute],
    steps: &mut Steps,
) -> Result<Placed, Failed> {
    let new_map: Map<String, Value> = desired.iter().cloned().collect();
    let changes = modified(&Map::new(), &new_map);
    match with_retry(|| ctx.connector.create_id(ResourceKind::Group, desired)).await {
        Ok(id) => {
            steps.add("Action", "created the group");
            Ok(Placed {
                target_id: id,
                exported: new_map,
                sent: SentMembers::Nothing,
                action: Some(Action::Create),
                changes,
            })
        }
        Err(ConnectorError::Conflict { app_message }) => {
            steps.add("Action", format!("the app says the group exists ({app_message}): matching it"));
            match lookup(ctx, ResourceKind::Group, matching, None).await {
                Ok(Some(t)) => {
                    let old = current_values(&t.resource, desired);
                    let ops = roster_scim::diff_patch(&old, desired);
                    match with_retry(|| ctx.connector.update_managed(ResourceKind::Group, &t.id, &ops, desired)).await {
                        Ok(()) => {
                            steps.add("Action", format!("adopted the existing group {}", t.id));
                            let changes = modified(&old, &new_map);
                            Ok(Placed {
                                target_id: t.id,
                                exported: new_map,
                                sent: SentMembers::Adopted,
                                action: Some(Action::Update),
                                changes,
                            })
                        }
                        Err(e) => Err((Action::Update, Some(t.id), changes, error_code(&e).into(), e.to_string())),
                    }
                }
                Ok(None) => Err((Action::Create, None, changes, "Conflict".into(), app_message)),
                Err((code, message)) => Err((Action::Create, None, changes, code.into(), message)),
            }
        }
        Err(e) => {
            steps.add("Action", format!("failed: {e}"));
            Err((Action::Create, None, changes, error_code(&e).into(), e.to_string()))
        }
    }
}

/// The account ids an adopted group holds in the app (read once, at adoption).
async fn held_members(ctx: &CycleContext, target: &str) -> HashSet<String> {
    let group: Option<TargetObject> =
        with_retry(|| ctx.connector.get(ResourceKind::Group, target)).await.ok().flatten();
    group
        .and_then(|g| g.resource.get("members").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.get("value").and_then(Value::as_str).map(String::from))
        .collect()
}

/// Performs the plan for a group out of scope: deleted in the app when the
/// mapping allows deleting, else left there and no longer provisioned.
async fn export_leaving(
    ctx: &CycleContext,
    plan: Plan,
    shadow: Option<ShadowEntry>,
    mut steps: Steps,
    log: &ObjectLog<'_>,
) -> GroupOutcome {
    let Some(s) = shadow else { return GroupOutcome::default() };
    match plan {
        Plan::Leave { target } => {
            steps.add("Match", format!("known group {target} (shadow)"));
            steps.add("Action", "left in the app: deleting groups is off for this app");
            let shadow = Some(ShadowEntry { enabled: false, last_sync: roster_store::now_ms(), ..s });
            GroupOutcome { shadow, ..log.skipped(Some(target), steps) }
        }
        Plan::Delete { target } => {
            steps.add("Match", format!("known group {target} (shadow)"));
            match with_retry(|| ctx.connector.delete(ResourceKind::Group, &target)).await {
                Ok(()) | Err(ConnectorError::NotFound) => {
                    steps.add("Action", "deleted the group in the app (deletes are on)");
                    GroupOutcome {
                        action: Some(Action::Delete),
                        shadow_delete: Some(s.source_id),
                        log: Some(log.entry(Action::Delete, LogStatus::Success, Some(target), steps, Vec::new(), None)),
                        ..GroupOutcome::default()
                    }
                }
                Err(e) => {
                    steps.add("Action", format!("failed: {e}"));
                    log.failure(Action::Delete, Some(target), steps, Vec::new(), error_code(&e), e.to_string())
                }
            }
        }
        _ => GroupOutcome::default(),
    }
}

/// Removes users that are leaving the app from the groups roster sent them to,
/// before their accounts are disabled (some apps refuse to change a disabled
/// account's groups). One batched PATCH per group per batch of users.
pub(crate) async fn remove_leaving_members(
    store: &Store,
    ctx: &CycleContext,
    leaving: &[&str],
    change_id: &str,
) -> Result<Vec<GroupOutcome>, EngineError> {
    if ctx.group_mapping.is_none() || leaving.is_empty() {
        return Ok(Vec::new());
    }
    let mut by_group: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for m in store.shadow_members_of_users(&ctx.app, leaving).await? {
        by_group.entry(m.group_id).or_default().push((m.member_id, m.target_id));
    }
    // The removals below may reach the app and a crash come before they are
    // recorded: the intent names the groups whose members are then read back.
    store.write_intents(&ctx.app, crate::recovery::MEMBER_INTENT, &crate::recovery::member_intents(&by_group)).await?;
    let ids: Vec<&str> = by_group.keys().map(String::as_str).collect();
    let shadows = store.shadow_of(&ctx.app, ObjectKind::Group, &ids).await?;
    let mut out = Vec::new();
    for (group, members) in &by_group {
        let Some(gs) = shadows.get(group) else {
            // A roster without its group: nothing to send, just forget it.
            out.push(GroupOutcome {
                member_removes: members.iter().map(|(m, t)| member_row(group, m, t)).collect(),
                ..GroupOutcome::default()
            });
            continue;
        };
        let name = gs.exported.get("displayName").and_then(Value::as_str).map(String::from);
        let log = ObjectLog { step: ":leaving", ..ObjectLog::new(ctx, ObjectKind::Group, group, name, change_id) };
        let mut steps = Steps(Vec::new());
        steps.add("Import", format!("{} member(s) of the group leave the application", members.len()));
        let sync = send_members(ctx, group, &gs.target_id, &[], members).await;
        steps.add("Action", format!("members: {} removed in {} PATCH request(s)", sync.removed.len(), sync.requests));
        let changes = vec![members_change(&[], &sync.removed)];
        let outcome = match sync.error {
            Some(e) => GroupOutcome {
                member_removes: sync.removed,
                ..log.failure(Action::Update, Some(gs.target_id.clone()), steps, changes, error_code(&e), e.to_string())
            },
            None => GroupOutcome {
                action: Some(Action::Update),
                member_removes: sync.removed,
                log: Some(log.entry(
                    Action::Update,
                    LogStatus::Success,
                    Some(gs.target_id.clone()),
                    steps,
                    changes,
                    None,
                )),
                ..GroupOutcome::default()
            },
        };
        out.push(outcome);
    }
    Ok(out)
}

/// The change id of the check that follows a sync (see [`sync_groups`]).
const CHECK: &str = ":check";

/// Processes some groups and records them (with `job_update`, which goes with
/// the last of them). Then the check: for every group synced without a failure,
/// the members in the shadow must be exactly the enabled accounts of its members
/// in the directory; a group where they differ (a member enabled or disabled in
/// the app since the group's members were read) is synced once more now, and the
/// log says why.
pub(crate) async fn sync_groups(
    store: &Store,
    ctx: &CycleContext,
    ids: &[GroupId],
    change_id: &str,
    job_update: Option<JobStateUpdate>,
    concurrency: usize,
    counts: &mut Counts,
) -> Result<(), EngineError> {
    let failed = sync_group_chunks(store, ctx, ids, change_id, job_update, concurrency, counts).await?;
    let mut differing = Vec::new();
    for id in ids.iter().filter(|id| !failed.contains(id.as_str())) {
        if members_differ(store, ctx, id).await? {
            differing.push(id.clone());
        }
    }
    if differing.is_empty() {
        return Ok(());
    }
    // Most often a member changed in the directory while its group was being sent.
    tracing::info!(app = %ctx.app, groups = differing.len(), "group members in the shadow differ from the directory after a sync: syncing them again");
    let check = format!("{change_id}{CHECK}");
    sync_group_chunks(store, ctx, &differing, &check, None, concurrency, counts).await?;
    Ok(())
}

/// Whether a provisioned group's members in the shadow differ from the enabled
/// accounts of its members in the directory.
async fn members_differ(store: &Store, ctx: &CycleContext, id: &GroupId) -> Result<bool, EngineError> {
    let Some(gm) = ctx.group_mapping.as_ref() else { return Ok(false) };
    if !maps_members(gm) || !(ctx.scope_all || ctx.index.assigned_groups.contains(id)) {
        return Ok(false);
    }
    let shadow = store.shadow_of(&ctx.app, ObjectKind::Group, &[id.as_str()]).await?;
    if !shadow.get(id.as_str()).is_some_and(|s| s.enabled) {
        return Ok(false);
    }
    let desired: BTreeSet<(String, String)> =
        store.provisioned_members(&ctx.app, id.as_str()).await?.into_iter().collect();
    let sent = store.shadow_members_of_group(&ctx.app, id.as_str()).await?;
    Ok(desired != sent)
}

/// Syncs groups in chunks, each recorded in one transaction; returns the ids of
/// the groups that failed.
async fn sync_group_chunks(
    store: &Store,
    ctx: &CycleContext,
    ids: &[GroupId],
    change_id: &str,
    job_update: Option<JobStateUpdate>,
    concurrency: usize,
    counts: &mut Counts,
) -> Result<HashSet<String>, EngineError> {
    let chunks: Vec<&[GroupId]> = if ctx.group_mapping.is_some() { ids.chunks(200).collect() } else { Vec::new() };
    let n = chunks.len();
    let mut job_update = job_update;
    let mut failed = HashSet::new();
    for (i, chunk) in chunks.into_iter().enumerate() {
        // The job update (cursor or watermark) goes with the last chunk.
        let job = if i + 1 == n { job_update.take() } else { None };
        let mut batch = RecordBatch { job, now: ctx.clock.now_ms(), ..Default::default() };
        let refs: Vec<&str> = chunk.iter().map(|g| g.as_str()).collect();
        let mut shadows = store.shadow_of(&ctx.app, ObjectKind::Group, &refs).await?;
        let groups: HashMap<GroupId, Group> =
            store.groups_by_ids(chunk).await?.into_iter().map(|g| (g.id.clone(), g)).collect();
        if !ctx.handoff {
            let intents: Vec<(String, Value)> = chunk
                .iter()
                .map(|g| (g.to_string(), json!(groups.get(g).map(|g| vec![("displayName", g.display_name.clone())]))))
                .collect();
            store.write_intents(&ctx.app, ObjectKind::Group.as_str(), &intents).await?;
            batch.intent_clears =
                chunk.iter().map(|g| (ObjectKind::Group.as_str().to_string(), g.to_string())).collect();
        }
        let work: Vec<(GroupId, Option<ShadowEntry>)> = chunk
            .iter()
            .map(|id| (id.clone(), shadows.remove(id.as_str())))
            // Not provisioned and not in scope: nothing to do, not even to look.
            .filter(|(id, s)| s.is_some() || ctx.scope_all || ctx.index.assigned_groups.contains(id))
            .collect();
        let outcomes: Vec<Result<GroupOutcome, EngineError>> = futures::stream::iter(work)
            .map(|(id, shadow)| {
                let group = groups.get(&id);
                async move { sync_group(store, ctx, &id, group, shadow, change_id).await }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        if let Some(e) = ctx.guard.interrupted() {
            return Err(e.into());
        }
        for o in outcomes {
            let o = o?;
            if o.failed {
                failed.extend(o.log.as_ref().map(|l| l.source_id.clone()));
            }
            o.record_into(ctx, &mut batch, counts);
        }
        store.record(&ctx.app, &batch).await?;
    }
    if let Some(job) = job_update {
        store.update_job_state(&ctx.app, &job).await?;
    }
    Ok(failed)
}
