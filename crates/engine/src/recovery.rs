//! Crash recovery. A batch writes its intents before it calls the app and clears
//! them in the transaction that records the outcome; intents found at the start of
//! a cycle belong to a batch a crash (or a stop) cut short. The app may then hold
//! writes roster never recorded: an account created, disabled or changed. Before
//! the cycle redoes that batch, each such object's shadow is set from what the
//! app holds now, found by its account id or by the matching values the batch
//! sent, so that the redo sends exactly what is still missing, never a duplicate.

use crate::cycle::{current_values, lookup, scope, with_retry, CycleContext, Imported};
use crate::EngineError;
use futures::{StreamExt, TryStreamExt};
use roster_connectors::{ResourceKind, TargetObject};
use roster_mapping::{EvalContext, MappedAttribute, Value as MappedValue};
use roster_store::{
    Intent, LogAction, LogStatus, MemberShadow, ModifiedProperty, ObjectKind, RecordBatch, ShadowEntry, Step, Store,
};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// The intent kind of a wave of users: one row names every user of the wave
/// with its matching values (see `Store::expand_wave_intents`).
pub(crate) const USER_WAVE_INTENT: &str = "user-wave";

/// The intent of a wave of users: a key of its own, and `[source id, matching
/// values as sent]` for each user.
pub(crate) fn wave_intent(ctx: &CycleContext, items: &[Imported]) -> (String, Value) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let key = format!("{}:{}", ctx.cycle_id, NEXT.fetch_add(1, Ordering::Relaxed));
    let eval = EvalContext::at(chrono::Utc::now());
    let listed = items
        .iter()
        .map(|item| {
            let matching: Vec<(String, String)> = item
                .user
                .as_ref()
                .and_then(|u| {
                    let (src, _) = scope(ctx, u, &item.roles);
                    ctx.mapping.matching_values(&src, &eval).ok()
                })
                .unwrap_or_default()
                .into_iter()
                .filter_map(|m| m.value.to_text().map(|v| (m.target.clone(), v.into_owned())))
                .collect();
            json!([item.source_id.as_str(), matching])
        })
        .collect();
    (key, Value::Array(listed))
}

fn matching_of(intent: &Intent) -> Vec<MappedAttribute> {
    serde_json::from_value::<Vec<(String, String)>>(intent.matching.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|(target, value)| MappedAttribute {
            target,
            value: MappedValue::Str(value),
            apply: roster_mapping::ApplyMapping::Always,
            matching_precedence: None,
        })
        .collect()
}

/// What the app holds now for an object: found by account id, else by matching.
async fn find_in_app(
    ctx: &CycleContext,
    kind: ResourceKind,
    shadow: Option<&ShadowEntry>,
    intent: &Intent,
) -> Result<Option<TargetObject>, EngineError> {
    if let Some(s) = shadow {
        let id = s.target_id.clone();
        return Ok(with_retry(|| ctx.connector.get(kind, &id)).await?);
    }
    // A refused token or a pause the app asked for keeps its meaning (quarantine, hold).
    lookup(ctx, kind, &matching_of(intent), None).await.map_err(|(_, message)| {
        EngineError::Connector(
            ctx.guard.interrupted().unwrap_or(roster_connectors::ConnectorError::Transient { message }),
        )
    })
}

/// The shadow of an object as the app holds it now.
fn shadow_from_app(kind: ObjectKind, source_id: &str, found: &TargetObject, targets: &[String]) -> ShadowEntry {
    let paths: Vec<(String, Value)> = targets.iter().map(|t| (t.clone(), Value::Null)).collect();
    let exported: Map<String, Value> = current_values(&found.resource, &paths);
    ShadowEntry {
        object_kind: kind,
        source_id: source_id.into(),
        target_id: found.id.clone(),
        exported,
        enabled: found.resource.get("active").and_then(Value::as_bool).unwrap_or(true),
        pending_ref: None,
        last_sync: roster_store::now_ms(),
    }
}

/// The log entry of a write the app holds but roster had not recorded: the
/// account created, enabled, disabled or changed by the cut-short batch.
fn recovered_log(
    ctx: &CycleContext,
    old: Option<&ShadowEntry>,
    now: &ShadowEntry,
    source_id: &str,
) -> Option<roster_store::LogRecord> {
    let before = old.map(|o| o.exported.clone()).unwrap_or_default();
    let changes = crate::cycle::modified(&before, &now.exported);
    let action = match (old, now.enabled) {
        (None, true) => LogAction::Create,
        (Some(o), true) if !o.enabled => LogAction::Enable,
        (Some(o), false) if o.enabled => LogAction::Disable,
        (None, false) => LogAction::Disable,
        _ if !changes.is_empty() => LogAction::Update,
        _ => return None,
    };
    Some(roster_store::LogRecord {
        id: format!("{}:recovery:{source_id}", ctx.cycle_id),
        app_id: ctx.app.clone(),
        cycle_id: ctx.cycle_id.clone(),
        change_id: "recovery".into(),
        at: ctx.clock.now_ms(),
        object_kind: ObjectKind::User,
        source_id: source_id.into(),
        source_name: None,
        target_id: Some(now.target_id.clone()),
        action,
        status: LogStatus::Success,
        steps: vec![
            Step::new("Match", format!("found the account {} in the app", now.target_id)),
            Step::new("Action", "recorded a write a batch cut short by a stop had made but not recorded"),
        ],
        modified: changes,
        error_code: None,
        error_message: None,
    })
}

/// How many look-ups of a recovery are in flight at once, at most (the job's
/// own concurrency limits them further).
const RECOVERY_CONCURRENCY: usize = 64;

/// Sets the shadow of every object a cut-short batch was writing from the app.
pub(crate) async fn recover(store: &Store, ctx: &CycleContext) -> Result<(), EngineError> {
    if ctx.handoff {
        return Ok(());
    }
    recover_users(store, ctx).await?;
    if ctx.group_mapping.is_some() {
        recover_members(store, ctx).await?;
        recover_groups(store, ctx).await?;
    }
    Ok(())
}

async fn recover_users(store: &Store, ctx: &CycleContext) -> Result<(), EngineError> {
    let targets: Vec<String> = ctx.mapping.targets().iter().map(|t| t.to_string()).collect();
    // A wave cut short left one row for all its users: one intent each, from here on.
    store.expand_wave_intents(&ctx.app, USER_WAVE_INTENT, ObjectKind::User.as_str()).await?;
    loop {
        let intents = store.intents(&ctx.app, ObjectKind::User.as_str(), 500).await?;
        if intents.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = intents.iter().map(|i| i.source_id.as_str()).collect();
        let shadows = store.shadow_of(&ctx.app, ObjectKind::User, &ids).await?;
        let mut batch = RecordBatch::default();
        // The look-ups go out side by side (the guard holds them to the job's
        // concurrency): a worker taking over a dead one's job checks its whole
        // last wave in the time of a few requests.
        let lookups: Vec<_> = intents
            .iter()
            .map(|intent| Box::pin(find_in_app(ctx, ResourceKind::User, shadows.get(&intent.source_id), intent)))
            .collect();
        let found: Vec<Option<TargetObject>> =
            futures::stream::iter(lookups).buffered(RECOVERY_CONCURRENCY).try_collect().await?;
        for (intent, found) in intents.iter().zip(found) {
            let shadow = shadows.get(&intent.source_id);
            // Not found: deleted in the app (the redo creates it again) or never created.
            if let Some(found) = found {
                let mut s = shadow_from_app(ObjectKind::User, &intent.source_id, &found, &targets);
                // The manager reference is kept as it was: the app holds an id there.
                if let Some(old) = shadow {
                    s.pending_ref = old.pending_ref.clone();
                }
                if let Some(log) = recovered_log(ctx, shadow, &s, &intent.source_id) {
                    batch.logs.push(log);
                }
                batch.shadow_upserts.push(s);
            }
            batch.intent_clears.push((ObjectKind::User.as_str().into(), intent.source_id.clone()));
        }
        tracing::info!(app = %ctx.app, users = intents.len(), "checked users a cut-short batch was writing");
        store.record(&ctx.app, &batch).await?;
    }
}

async fn recover_groups(store: &Store, ctx: &CycleContext) -> Result<(), EngineError> {
    let targets: Vec<String> = ctx
        .group_mapping
        .as_ref()
        .map(|g| g.targets().iter().filter(|t| !t.eq_ignore_ascii_case("members")).map(|t| t.to_string()).collect())
        .unwrap_or_default();
    loop {
        let intents = store.intents(&ctx.app, ObjectKind::Group.as_str(), 100).await?;
        if intents.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = intents.iter().map(|i| i.source_id.as_str()).collect();
        let shadows = store.shadow_of(&ctx.app, ObjectKind::Group, &ids).await?;
        let mut batch = RecordBatch::default();
        for intent in &intents {
            let shadow = shadows.get(&intent.source_id);
            let found = match find_in_app(ctx, ResourceKind::Group, shadow, intent).await? {
                // A list leaves members out: read this one group whole, once.
                Some(g) if shadow.is_none() => {
                    let id = g.id.clone();
                    with_retry(|| ctx.connector.get(ResourceKind::Group, &id)).await?.or(Some(g))
                }
                other => other,
            };
            if let Some(found) = found {
                let mut s = shadow_from_app(ObjectKind::Group, &intent.source_id, &found, &targets);
                s.enabled = shadow.map(|s| s.enabled).unwrap_or(true);
                batch.shadow_upserts.push(s);
                members_as_held(store, ctx, &intent.source_id, &found, &mut batch).await?;
            }
            batch.intent_clears.push((ObjectKind::Group.as_str().into(), intent.source_id.clone()));
        }
        tracing::info!(app = %ctx.app, groups = intents.len(), "checked groups a cut-short batch was writing");
        store.record(&ctx.app, &batch).await?;
    }
}

/// The intent of a user about to be removed from the groups roster sent it to
/// (it is leaving the app): the ids of those groups. A crash after such a removal
/// reached the app leaves the group's members in the shadow unknown; they are
/// read back from the app, since the redo may no longer see the user leaving.
pub(crate) const MEMBER_INTENT: &str = "member";

/// The intents of users leaving their groups: (user id, ids of its groups).
pub(crate) fn member_intents(by_group: &BTreeMap<String, Vec<(String, String)>>) -> Vec<(String, Value)> {
    let mut by_user: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (group, members) in by_group {
        for (member, _) in members {
            by_user.entry(member.as_str()).or_default().push(group.as_str());
        }
    }
    by_user.into_iter().map(|(user, groups)| (user.to_string(), json!(groups))).collect()
}

async fn recover_members(store: &Store, ctx: &CycleContext) -> Result<(), EngineError> {
    loop {
        let intents = store.intents(&ctx.app, MEMBER_INTENT, 500).await?;
        if intents.is_empty() {
            return Ok(());
        }
        let groups: BTreeSet<String> = intents
            .iter()
            .flat_map(|i| serde_json::from_value::<Vec<String>>(i.matching.clone()).unwrap_or_default())
            .collect();
        let ids: Vec<&str> = groups.iter().map(String::as_str).collect();
        let shadows = store.shadow_of(&ctx.app, ObjectKind::Group, &ids).await?;
        let mut batch = RecordBatch::default();
        for group in &groups {
            // A group without a shadow has nothing roster believes it sent.
            let Some(shadow) = shadows.get(group) else { continue };
            let target = shadow.target_id.clone();
            // Gone from the app: its next sync creates it again with its members.
            if let Some(found) = with_retry(|| ctx.connector.get(ResourceKind::Group, &target)).await? {
                members_as_held(store, ctx, group, &found, &mut batch).await?;
            }
        }
        batch.intent_clears = intents.iter().map(|i| (MEMBER_INTENT.to_string(), i.source_id.clone())).collect();
        tracing::info!(app = %ctx.app, groups = groups.len(), "read back groups a cut-short batch was removing members from");
        store.record(&ctx.app, &batch).await?;
    }
}

/// Sets the members of a group in the shadow to what the app holds now (of the
/// accounts roster knows), and logs the difference as a write roster had not
/// recorded.
async fn members_as_held(
    store: &Store,
    ctx: &CycleContext,
    group: &str,
    found: &TargetObject,
    batch: &mut RecordBatch,
) -> Result<(), EngineError> {
    let held: Vec<&str> = found
        .resource
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("value").and_then(Value::as_str))
        .collect();
    let members = store.shadow_by_targets(&ctx.app, ObjectKind::User, &held).await?;
    let sent = store.shadow_members_of_group(&ctx.app, group).await?;
    // A pair sent whose account id the app no longer holds is gone; one it still
    // holds stays, even an old id of a member whose account was made again.
    let held: HashSet<&str> = held.into_iter().collect();
    let removed: Vec<&(String, String)> = sent.iter().filter(|(_, t)| !held.contains(t.as_str())).collect();
    let added: Vec<&(String, String)> = members.iter().filter(|pair| !sent.contains(*pair)).collect();
    if !removed.is_empty() || !added.is_empty() {
        batch.logs.push(recovered_members_log(ctx, group, found, &added, &removed));
    }
    let row = |(m, t): &(String, String)| MemberShadow {
        group_id: group.to_string(),
        member_id: m.clone(),
        target_id: t.clone(),
    };
    batch.member_removes.extend(removed.into_iter().map(row));
    batch.member_adds.extend(members.iter().map(row));
    Ok(())
}

/// The log entry of member changes the app holds but roster had not recorded.
fn recovered_members_log(
    ctx: &CycleContext,
    group: &str,
    found: &TargetObject,
    added: &[&(String, String)],
    removed: &[&(String, String)],
) -> roster_store::LogRecord {
    roster_store::LogRecord {
        id: format!("{}:recovery:{group}:members", ctx.cycle_id),
        app_id: ctx.app.clone(),
        cycle_id: ctx.cycle_id.clone(),
        change_id: "recovery".into(),
        at: ctx.clock.now_ms(),
        object_kind: ObjectKind::Group,
        source_id: group.into(),
        source_name: found.resource.get("displayName").and_then(Value::as_str).map(String::from),
        target_id: Some(found.id.clone()),
        action: LogAction::Update,
        status: LogStatus::Success,
        steps: vec![
            Step::new("Match", format!("read the group {} and its members from the app", found.id)),
            Step::new("Action", "recorded member changes a batch cut short by a stop had made but not recorded"),
        ],
        modified: vec![ModifiedProperty::members(
            added.iter().map(|(m, _)| m.clone()).collect(),
            removed.iter().map(|(m, _)| m.clone()).collect(),
            (added.len(), removed.len()),
        )],
        error_code: None,
        error_message: None,
    }
}
