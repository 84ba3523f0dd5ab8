//! Plan before apply: what the next cycle would do, for the mapping and the
//! scoping filter as they are or as proposed, without calling the app or
//! writing anything. Every object goes through the cycle's own steps
//! (`cycle::import_and_scope`, `decide`) against the shadow, and each write is
//! described by the app's connector in the forms it would send now
//! (`Connector::describe`), so that a plan lists, request for request, what
//! the cycle then sends.
//!
//! The walk reads the directory and the shadow a page at a time and keeps
//! only the counts and the page of changes asked for, so memory is flat in
//! the directory's size. A change's cursor says where the walk is: the phase
//! (`1` users, `2` accounts whose user is gone, `3` groups, `4` groups gone or
//! no longer assigned), the id its page of the directory starts after, and how
//! many changes of that page come up to it; the summary comes with the first
//! page only.
//!
//! What a plan cannot know without asking the app: whether an account roster
//! would create already exists there (the cycle then matches and updates it),
//! and the ids of accounts not made yet (a manager or a group member made in
//! the same cycle is shown as `{new account of NAME}`).

use crate::cycle::{import_and_scope, CycleContext, Imported, Scoped, Steps};
use crate::decide::{decide, Found, Plan, Rules, SkipReason, Want};
use crate::job::{self, LoadedJob};
use crate::on_demand::{ModifiedProperty, Step};
use crate::{connect, Engine, EngineError};
use roster_connectors::{PatchOperation, PlannedRequest, ResourceKind, Write};
use roster_mapping::{AppMappings, ScopingFilter, SourceObjectType};
use roster_scim::PatchOp;
use roster_store::{AppId, LogAction, ObjectKind, ShadowEntry, User, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// Users (or groups) read per page of the walk.
const PAGE: i64 = 1000;
/// The most changes one page of a plan holds.
pub const MAX_PLAN_PAGE: usize = 1000;

/// A change to plan instead of the saved configuration (nothing: the next
/// cycle as it stands).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct PlanProposal {
    /// A whole mapping document, instead of the saved one.
    pub mappings: Option<AppMappings>,
    /// The users' scoping filter, instead of the one in the mapping.
    pub scoping: Option<ScopingFilter>,
}

/// One request a change sends (as the connector describes it).
pub type PlanRequest = PlannedRequest;

/// One object the next cycle would change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlannedChange {
    /// Where the walk is: pass it as `after` for the changes that follow.
    pub cursor: String,
    /// `user` or `group`.
    pub object: String,
    pub source_id: String,
    /// The userName or displayName.
    pub name: Option<String>,
    /// The account or group in the app, when it has one.
    pub target_id: Option<String>,
    /// `Create`, `Update`, `Enable`, `Disable`, `Delete`, `Skip`.
    pub action: LogAction,
    pub steps: Vec<Step>,
    /// The attributes that change: before and after.
    pub modified: Vec<ModifiedProperty>,
    /// The requests, in order.
    pub requests: Vec<PlanRequest>,
}

/// The whole plan in numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct PlanSummary {
    /// Users and accounts looked at.
    pub users: u64,
    /// Groups looked at.
    pub groups: u64,
    pub creates: u64,
    pub updates: u64,
    pub enables: u64,
    pub disables: u64,
    pub deletes: u64,
    /// Objects that need something the mapping does not allow, or whose mapping fails.
    pub skips: u64,
    /// Group member changes (adds and removes).
    pub member_changes: u64,
    /// Requests the changes send.
    pub requests: u64,
    /// Updates by attribute: how many objects each attribute changes on.
    pub updates_by_attribute: BTreeMap<String, u64>,
    /// The app's limit of accounts a cycle may disable before it stages them.
    pub deletion_limit: Option<u64>,
    /// Whether the disables pass that limit: the cycle would stage them for an
    /// admin to allow instead of sending them.
    pub would_stage: bool,
}

/// A page of a plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ProvisioningPlan {
    /// The whole plan in numbers (first page only).
    pub summary: Option<PlanSummary>,
    pub changes: Vec<PlannedChange>,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
}

/// The walk: counts everything (on the first page), keeps one page of changes.
struct Walk<'a> {
    ctx: &'a CycleContext,
    summary: Option<PlanSummary>,
    changes: Vec<PlannedChange>,
    limit: usize,
    next: Option<String>,
    /// Where the walk is: phase, the id the page starts after, changes of the page so far.
    at: (u8, String, usize),
    /// Changes of the first page to pass over (shown on the previous page).
    skip: Option<usize>,
}

impl Walk<'_> {
    /// Starts a page of `phase` after `start`. A page is read the same way
    /// each time, so a cursor (phase, start, count) finds its place again.
    fn begin_page(&mut self, phase: u8, start: &str) {
        if (phase, start) != (self.at.0, self.at.1.as_str()) {
            self.skip = None;
        }
        self.at = (phase, start.to_string(), 0);
    }

    /// Whether the walk can stop: its page is full and nothing is counted.
    fn done(&self) -> bool {
        self.summary.is_none() && (self.next.is_some() || self.changes.len() >= self.limit)
    }

    /// Counts one object looked at.
    fn looked(&mut self, kind: ObjectKind) {
        if let Some(s) = self.summary.as_mut() {
            match kind {
                ObjectKind::Group => s.groups += 1,
                _ => s.users += 1,
            }
        }
    }

    fn take(&mut self, mut change: PlannedChange) {
        self.at.2 += 1;
        if let Some(skip) = self.skip {
            if self.at.2 <= skip {
                return;
            }
            self.skip = None;
        }
        change.cursor = format!("{}:{}#{}", self.at.0, self.at.1, self.at.2);
        if let Some(s) = self.summary.as_mut() {
            tally(s, &change);
        }
        if self.changes.len() < self.limit {
            self.changes.push(change);
        } else if self.next.is_none() {
            self.next = self.changes.last().map(|c| c.cursor.clone());
        }
    }

    fn describe(&self, write: Write<'_>) -> Vec<PlanRequest> {
        self.ctx.connector.describe(&write)
    }
}

fn tally(s: &mut PlanSummary, c: &PlannedChange) {
    match c.action {
        LogAction::Create => s.creates += 1,
        LogAction::Update => s.updates += 1,
        LogAction::Enable => s.enables += 1,
        LogAction::Disable => s.disables += 1,
        LogAction::Delete => s.deletes += 1,
        _ => s.skips += 1,
    }
    s.requests += c.requests.len() as u64;
    for m in &c.modified {
        if m.name == "members" {
            s.member_changes +=
                m.new.as_array().map_or(0, Vec::len) as u64 + m.old.as_array().map_or(0, Vec::len) as u64;
        } else if matches!(c.action, LogAction::Update | LogAction::Enable) {
            *s.updates_by_attribute.entry(m.name.clone()).or_default() += 1;
        }
    }
}

/// A cursor: the phase, the id its page starts after, and how many changes
/// of that page were shown (`2:u-17#3`).
fn parse_cursor(after: Option<&str>) -> Result<(u8, String, usize), EngineError> {
    let Some(after) = after.filter(|a| !a.is_empty()) else { return Ok((1, String::new(), 0)) };
    let bad = || EngineError::invalid_setting("after", format!("not a cursor of a plan: {after:?}"));
    let (phase, rest) = after.split_once(':').ok_or_else(bad)?;
    let (start, shown) = rest.rsplit_once('#').ok_or_else(bad)?;
    match (phase, shown.parse::<usize>()) {
        (p @ ("1" | "2" | "3" | "4"), Ok(n)) => Ok((p.parse().map_err(|_| bad())?, start.to_string(), n)),
        _ => Err(bad()),
    }
}

/// The placeholder of an account made in the same cycle.
fn new_account(name: &str) -> String {
    format!("{{new account of {name}}}")
}

impl Engine {
    /// The plan of the next cycle of `app` with `proposal` applied: a summary
    /// (first page) and up to `limit` changes after the cursor `after`.
    pub async fn plan(
        &self,
        app: &AppId,
        proposal: &PlanProposal,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ProvisioningPlan, EngineError> {
        let (phase, last, shown) = parse_cursor(after)?;
        let row = job::configured_row(&self.store, app).await?;
        let mut job = LoadedJob::load(row)?;
        let mut mappings = proposal.mappings.clone().unwrap_or_else(|| job.mappings.clone());
        if let Some(filter) = &proposal.scoping {
            let users = mappings.objects.iter_mut().find(|o| o.source_object == SourceObjectType::User);
            users.ok_or_else(|| EngineError::invalid_setting("scoping", "the mapping has no user mapping"))?.scoping =
                filter.clone();
        }
        job.user_mapping = job::compile_user_mapping(&mappings)?;
        job.group_mapping = job::compile_group_mapping(&mappings)?;
        job.mappings = mappings;
        let connector = connect::connector(&self.cipher, &job)?;
        let env = crate::job::CycleEnv {
            cipher: &self.cipher,
            clock: self.clock.clone(),
            smtp: None,
            metrics: None,
            lease: None,
        };
        let ctx = job::cycle_context(&self.store, app, &job, connector, "plan".into(), &env).await?;
        let first = after.is_none_or(str::is_empty);
        let mut walk = Walk {
            ctx: &ctx,
            summary: first.then(PlanSummary::default),
            changes: Vec::new(),
            limit: limit.clamp(1, MAX_PLAN_PAGE),
            next: None,
            at: (phase, last.clone(), 0),
            skip: Some(shown),
        };
        let resume = |p: u8| if p == phase { Some(last.clone()) } else { (p > phase).then(String::new) };
        if let Some(from) = resume(1) {
            self.plan_users(&mut walk, &from).await?;
        }
        if let Some(from) = resume(2).filter(|_| !walk.done()) {
            self.plan_gone_users(&mut walk, &from).await?;
        }
        if ctx.group_mapping.is_some() {
            if let Some(from) = resume(3).filter(|_| !walk.done()) {
                self.plan_groups(&mut walk, &from, false).await?;
            }
            if let Some(from) = resume(4).filter(|_| !walk.done()) {
                self.plan_groups(&mut walk, &from, true).await?;
            }
        }
        if let Some(s) = walk.summary.as_mut() {
            s.deletion_limit = job::guard_limit(&self.store, app, &job).await?;
            s.would_stage = s.deletion_limit.is_some_and(|l| s.disables > l);
        }
        // A later page stops once full, without looking for one more change:
        // the page after it may then be empty.
        if walk.next.is_none() && walk.summary.is_none() && walk.changes.len() >= walk.limit {
            walk.next = walk.changes.last().map(|c| c.cursor.clone());
        }
        Ok(ProvisioningPlan { summary: walk.summary, changes: walk.changes, next: walk.next })
    }

    /// Phase 1: every user of the directory, a page at a time.
    async fn plan_users(&self, walk: &mut Walk<'_>, from: &str) -> Result<(), EngineError> {
        let ctx = walk.ctx;
        let mut after = from.to_string();
        while !walk.done() {
            walk.begin_page(1, &after);
            let users = self.store.users_after(Some(&after), PAGE).await?;
            let Some(last) = users.last().map(|u| u.id.to_string()) else { break };
            let ids: Vec<UserId> = users.iter().map(|u| u.id.clone()).collect();
            let mut roles = self.store.effective_roles(&ctx.app, &ids).await?;
            let refs: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
            let mut shadows = self.shadows(ctx, ObjectKind::User, &refs).await?;
            let managers = self.manager_accounts(ctx, &users).await?;
            let mut leaving = Vec::new();
            for user in users {
                let manager_target = user.manager.as_ref().and_then(|m| managers.get(m.as_str()).cloned());
                let item = Imported {
                    roles: roles.remove(&user.id).unwrap_or_default(),
                    shadow: shadows.remove(user.id.as_str()),
                    manager_target,
                    manager_wait: None,
                    source_id: user.id.clone(),
                    user: Some(user),
                    change_id: "plan".into(),
                };
                walk.looked(ObjectKind::User);
                if let Some(change) = plan_user(walk, &item) {
                    if change.action == LogAction::Disable {
                        leaving.push(item.source_id.to_string());
                    }
                    walk.take(change);
                }
            }
            self.plan_leaving_members(walk, &leaving).await?;
            after = last;
        }
        Ok(())
    }

    /// Phase 2: accounts whose user is gone from the directory.
    async fn plan_gone_users(&self, walk: &mut Walk<'_>, from: &str) -> Result<(), EngineError> {
        let ctx = walk.ctx;
        let mut after = from.to_string();
        while !walk.done() {
            walk.begin_page(2, &after);
            let page = self.store.shadow_after(&ctx.app, ObjectKind::User, &after, PAGE).await?;
            let Some(last) = page.last().map(|s| s.source_id.clone()) else { break };
            let ids: Vec<&str> = page.iter().map(|s| s.source_id.as_str()).collect();
            let present = self.store.existing_user_ids(&ids).await?;
            let mut leaving = Vec::new();
            for shadow in page.into_iter().filter(|s| !present.contains(&s.source_id)) {
                let item = Imported {
                    source_id: UserId::from_stored(shadow.source_id.clone()),
                    user: None,
                    roles: Vec::new(),
                    shadow: Some(shadow),
                    manager_target: None,
                    manager_wait: None,
                    change_id: "plan".into(),
                };
                walk.looked(ObjectKind::User);
                if let Some(change) = plan_user(walk, &item) {
                    leaving.push(item.source_id.to_string());
                    walk.take(change);
                }
            }
            self.plan_leaving_members(walk, &leaving).await?;
            after = last;
        }
        Ok(())
    }

    /// The shadow of some objects (in manual mode, with the hand-off's entries).
    async fn shadows(
        &self,
        ctx: &CycleContext,
        kind: ObjectKind,
        ids: &[&str],
    ) -> Result<HashMap<String, ShadowEntry>, EngineError> {
        Ok(if ctx.handoff {
            self.store.pending_shadow_of(&ctx.app, kind, ids).await?
        } else {
            self.store.shadow_of(&ctx.app, kind, ids).await?
        })
    }

    /// The accounts of the managers of `users`: an enabled account, or the
    /// placeholder of one the cycle makes (the manager is in scope, without
    /// an account).
    async fn manager_accounts(
        &self,
        ctx: &CycleContext,
        users: &[User],
    ) -> Result<HashMap<String, String>, EngineError> {
        let managers: Vec<&str> = users.iter().filter_map(|u| u.manager.as_ref().map(|m| m.as_str())).collect();
        let mut out = self.store.enabled_accounts(&ctx.app, ObjectKind::User, &managers).await?;
        let missing: Vec<UserId> =
            managers.iter().filter(|m| !out.contains_key(**m)).map(|m| UserId::from_stored(m.to_string())).collect();
        if missing.is_empty() || !ctx.mapping.definition().actions.create {
            return Ok(out);
        }
        let found = self.store.users_by_ids(&missing).await?;
        let mut roles = self.store.effective_roles(&ctx.app, &missing).await?;
        for m in found {
            let r = roles.remove(&m.id).unwrap_or_default();
            if crate::cycle::scope(ctx, &m, &r).1.is_none() {
                out.insert(m.id.to_string(), new_account(&m.user_name));
            }
        }
        Ok(out)
    }

    /// The member removals that come before leaving users are disabled: one
    /// per group per page, as the cycle sends them per batch.
    async fn plan_leaving_members(&self, walk: &mut Walk<'_>, leaving: &[String]) -> Result<(), EngineError> {
        let ctx = walk.ctx;
        if ctx.group_mapping.is_none() || leaving.is_empty() {
            return Ok(());
        }
        let refs: Vec<&str> = leaving.iter().map(String::as_str).collect();
        let mut by_group: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for m in self.store.shadow_members_of_users(&ctx.app, &refs).await? {
            by_group.entry(m.group_id).or_default().push(m.target_id);
        }
        let groups: Vec<&str> = by_group.keys().map(String::as_str).collect();
        let shadows = self.store.shadow_of(&ctx.app, ObjectKind::Group, &groups).await?;
        for (group, targets) in &by_group {
            let Some(gs) = shadows.get(group) else { continue };
            let requests = walk.describe(Write::Members { group: &gs.target_id, add: &[], remove: targets });
            walk.take(PlannedChange {
                cursor: String::new(),
                object: "group".into(),
                source_id: group.clone(),
                name: gs.exported.get("displayName").and_then(Value::as_str).map(String::from),
                target_id: Some(gs.target_id.clone()),
                action: LogAction::Update,
                steps: vec![Step {
                    step: "Import".into(),
                    outcome: format!("{} member(s) of the group leave the application", targets.len()),
                }],
                modified: vec![ModifiedProperty::new("members", targets.clone(), Value::Null)],
                requests,
            });
        }
        Ok(())
    }
}

/// One user's change, if it needs one.
fn plan_user(walk: &Walk<'_>, item: &Imported) -> Option<PlannedChange> {
    let ctx = walk.ctx;
    let mut steps = Steps(Vec::new());
    let rules = Rules::of(ObjectKind::User, ctx.mapping.definition());
    let known = match &item.shadow {
        Some(s) => Found::Shadow(s),
        None => Found::Nothing,
    };
    let name = item.user.as_ref().map(|u| u.user_name.clone());
    let change = |action, target: Option<String>, steps: Steps, modified, requests| PlannedChange {
        cursor: String::new(),
        object: "user".into(),
        source_id: item.source_id.to_string(),
        name: name.clone(),
        target_id: target,
        action,
        steps: steps.0,
        modified,
        requests,
    };
    let (plan, wanted) = match import_and_scope(ctx, item, &mut steps) {
        Scoped::Leaving(reason) => (decide(&Want::OutOfScope(reason), known, rules), None),
        Scoped::Off => return None,
        Scoped::Failed(e) => {
            steps.add("Note", format!("the cycle logs a failure: {e}"));
            return Some(change(LogAction::Skip, None, steps, Vec::new(), Vec::new()));
        }
        Scoped::In { wanted, matching } => {
            if item.shadow.is_none() {
                let by = matching.first().map(|m| m.target.clone()).unwrap_or_default();
                steps.add("Match", format!("no account known: the cycle looks one up by {by} first"));
            }
            (decide(&Want::InScope(wanted.clone()), known, rules), Some(wanted))
        }
    };
    let exported_pairs = |m: &Map<String, Value>| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>();
    match plan {
        Plan::Noop | Plan::Record { .. } => None,
        Plan::Skip(SkipReason::CreateNotAllowed) => {
            steps.add("Action", "skipped: the mapping does not allow creating accounts");
            Some(change(LogAction::Skip, None, steps, Vec::new(), Vec::new()))
        }
        Plan::Create { attributes, exported } => {
            steps.add("Action", "create the account (or, if the lookup finds one, update it)");
            if let Some(m) = wanted.as_ref().and_then(|w| w.pending_ref.as_ref()) {
                steps.add("Note", format!("the manager {m} has no account: it is sent once it has one"));
            }
            let requests = walk.describe(Write::Create { kind: ResourceKind::User, attrs: &attributes });
            let modified = crate::cycle::modified(&Map::new(), &exported);
            Some(change(LogAction::Create, None, steps, modified, requests))
        }
        Plan::Update { target, ops, exported, changes } => {
            steps.add("Action", format!("update {} attribute(s)", ops.len()));
            let requests = walk.describe(Write::Update {
                kind: ResourceKind::User,
                id: &target,
                ops: &ops,
                managed: &exported_pairs(&exported),
            });
            Some(change(LogAction::Update, Some(target), steps, changes, requests))
        }
        Plan::Enable { target, ops, exported, changes } => {
            steps.add("Action", format!("enable the account, {} attribute(s)", ops.len()));
            let requests = walk.describe(Write::Update {
                kind: ResourceKind::User,
                id: &target,
                ops: &ops,
                managed: &exported_pairs(&exported),
            });
            Some(change(LogAction::Enable, Some(target), steps, changes, requests))
        }
        Plan::Disable { target } | Plan::Delete { target } | Plan::Leave { target } => {
            steps.add("Action", "disable the account (active=false); it is not deleted");
            let ops = vec![PatchOperation::new(PatchOp::Replace, "active", Some(Value::Bool(false)))];
            let requests =
                walk.describe(Write::Update { kind: ResourceKind::User, id: &target, ops: &ops, managed: &[] });
            let old = item.shadow.as_ref().and_then(|s| s.exported.get("active").cloned()).unwrap_or(Value::Bool(true));
            let modified = vec![ModifiedProperty::new("active", old, false)];
            Some(change(LogAction::Disable, Some(target), steps, modified, requests))
        }
    }
}

mod groups;

#[cfg(test)]
mod tests;
