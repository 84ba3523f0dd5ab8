//! The groups of a plan: phase 3, the groups a cycle looks at (every group,
//! or the assigned ones), and phase 4, the groups roster provisioned that are
//! gone from the directory or no longer assigned.

use super::{new_account, PlannedChange, Walk, PAGE};
use crate::cycle::Steps;
use crate::decide::{decide, Found, Plan, Rules, Want};
use crate::groups::{evaluate, group_scope, maps_members};
use crate::source::GroupSource;
use crate::{Engine, EngineError};
use roster_connectors::{ResourceKind, Write};
use roster_store::{Group, GroupId, LogAction, ModifiedProperty, ObjectKind, ShadowEntry};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

impl Engine {
    /// Phase 3 (`gone` false) or 4 (`gone` true), from the id `from` on.
    pub(super) async fn plan_groups(&self, walk: &mut Walk<'_>, from: &str, gone: bool) -> Result<(), EngineError> {
        let ctx = walk.ctx;
        let mut assigned: Vec<GroupId> = ctx.index.assigned_groups.iter().cloned().collect();
        assigned.sort();
        let mut after = from.to_string();
        while !walk.done() {
            walk.begin_page(if gone { 4 } else { 3 }, &after);
            let ids: Vec<GroupId> = if gone {
                let page = self.store.shadow_after(&ctx.app, ObjectKind::Group, &after, PAGE).await?;
                page.into_iter().map(|s| GroupId::from_stored(s.source_id)).collect()
            } else if ctx.scope_all {
                self.store.group_ids_after(Some(&after), PAGE).await?
            } else {
                assigned.iter().filter(|g| g.as_str() > after.as_str()).take(PAGE as usize).cloned().collect()
            };
            let Some(last) = ids.last().map(|g| g.to_string()) else { break };
            let refs: Vec<&str> = ids.iter().map(|g| g.as_str()).collect();
            let mut shadows = self.shadows(ctx, ObjectKind::Group, &refs).await?;
            let groups: HashMap<GroupId, Group> =
                self.store.groups_by_ids(&ids).await?.into_iter().map(|g| (g.id.clone(), g)).collect();
            for id in &ids {
                let group = groups.get(id);
                // Phase 4 holds only what phase 3 did not look at.
                let looked_at = group.is_some() && (ctx.scope_all || ctx.index.assigned_groups.contains(id));
                if gone == looked_at {
                    continue;
                }
                walk.looked(ObjectKind::Group);
                if let Some(change) = self.plan_group(walk, id, group, shadows.remove(id.as_str())).await? {
                    walk.take(change);
                }
            }
            after = last;
        }
        Ok(())
    }

    /// One group's change, if it needs one: the group, then its members.
    async fn plan_group(
        &self,
        walk: &Walk<'_>,
        id: &GroupId,
        group: Option<&Group>,
        shadow: Option<ShadowEntry>,
    ) -> Result<Option<PlannedChange>, EngineError> {
        let ctx = walk.ctx;
        let Some(gm) = ctx.group_mapping.as_deref() else { return Ok(None) };
        let rules = Rules::of(ObjectKind::Group, gm.definition());
        let known = match &shadow {
            Some(s) => Found::Shadow(s),
            None => Found::Nothing,
        };
        let name = group.map(|g| g.display_name.clone()).or_else(|| {
            shadow.as_ref().and_then(|s| s.exported.get("displayName")).and_then(Value::as_str).map(String::from)
        });
        let mut steps = Steps(Vec::new());
        let change = |action, target: Option<String>, steps: Steps, modified, requests| PlannedChange {
            cursor: String::new(),
            object: "group".into(),
            source_id: id.to_string(),
            name: name.clone(),
            target_id: target,
            action,
            steps: steps.0,
            modified,
            requests,
        };
        let src = group.map(|group| GroupSource { group, soft_deleted: false });
        let reason = match &src {
            None => Some("the group no longer exists in the directory"),
            Some(src) => group_scope(ctx, gm, id, src),
        };
        if let Some(reason) = reason {
            steps.add("Scope", format!("out of scope: {reason}"));
            return Ok(match decide(&Want::OutOfScope(reason), known, rules) {
                Plan::Delete { target } => {
                    steps.add("Action", "delete the group in the app (deletes are on)");
                    let requests = walk.describe(Write::Delete { kind: ResourceKind::Group, id: &target });
                    Some(change(LogAction::Delete, Some(target), steps, Vec::new(), requests))
                }
                Plan::Leave { target } if shadow.as_ref().is_some_and(|s| s.enabled) => {
                    steps.add("Action", "left in the app: deleting groups is off for this app");
                    Some(change(LogAction::Skip, Some(target), steps, Vec::new(), Vec::new()))
                }
                _ => None,
            });
        }
        let Some(src) = src else { return Ok(None) };
        let (wanted, _) = match evaluate(gm, &src, shadow.is_none()) {
            Ok(m) => m,
            Err(e) => {
                steps.add("Note", format!("the cycle logs a failure: {e}"));
                return Ok(Some(change(LogAction::Skip, None, steps, Vec::new(), Vec::new())));
            }
        };
        let plan = decide(&Want::InScope(wanted.clone()), known, rules);
        let (action, target, mut requests, mut modified) = match plan {
            Plan::Skip(_) => {
                steps.add("Action", "skipped: the mapping does not allow creating groups");
                return Ok(Some(change(LogAction::Skip, None, steps, Vec::new(), Vec::new())));
            }
            Plan::Create { attributes, exported } => {
                steps.add("Action", "create the group (or, if the lookup finds one, update it)");
                let requests = walk.describe(Write::Create { kind: ResourceKind::Group, attrs: &attributes });
                let modified = crate::cycle::modified(&Map::new(), &exported);
                (Some(LogAction::Create), None, requests, modified)
            }
            Plan::Update { target, ops, changes, .. } | Plan::Enable { target, ops, changes, .. } => {
                steps.add("Action", format!("update {} attribute(s)", ops.len()));
                let write =
                    Write::Update { kind: ResourceKind::Group, id: &target, ops: &ops, managed: &wanted.attributes };
                let requests = walk.describe(write);
                (Some(LogAction::Update), Some(target), requests, changes)
            }
            _ => (None, shadow.as_ref().map(|s| s.target_id.clone()), Vec::new(), Vec::new()),
        };
        if maps_members(gm) {
            let desired: BTreeSet<(String, String)> =
                self.store.provisioned_members(&ctx.app, id.as_str()).await?.into_iter().collect();
            let sent = match &target {
                Some(_) => self.store.shadow_members_of_group(&ctx.app, id.as_str()).await?,
                None => BTreeSet::new(),
            };
            let add: Vec<String> = desired.difference(&sent).map(|(_, t)| t.clone()).collect();
            let remove: Vec<String> = sent.difference(&desired).map(|(_, t)| t.clone()).collect();
            if !add.is_empty() || !remove.is_empty() {
                steps.add("Action", format!("members: {} added, {} removed", add.len(), remove.len()));
                let group = target.clone().unwrap_or_else(|| new_account(name.as_deref().unwrap_or(id.as_str())));
                requests.extend(walk.describe(Write::Members { group: &group, add: &add, remove: &remove }));
                let list = |v: Vec<String>| if v.is_empty() { Value::Null } else { Value::from(v) };
                modified.push(ModifiedProperty::new("members", list(remove), list(add)));
            }
        }
        if action.is_none() && requests.is_empty() {
            return Ok(None);
        }
        Ok(Some(change(action.unwrap_or(LogAction::Update), target, steps, modified, requests)))
    }
}
