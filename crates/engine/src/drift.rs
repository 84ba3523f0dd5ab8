//! Drift detection and repair: the app's accounts (and its groups' members)
//! read a page at a time and compared with the shadow, what roster last sent.
//! Each difference is reported by kind:
//! - `changed`: an account whose attributes differ from what roster sent (an
//!   attribute applied only on creation is the app's to change);
//! - `missing`: an enabled account roster made that the app no longer lists;
//! - `unmanaged`: an account roster does not know, with the matching value
//!   and the directory user that would adopt it;
//! - `memberAdded` / `memberRemoved`: a member of a provisioned group that
//!   the app holds and roster did not send, or that roster sent and the app
//!   no longer holds;
//! - `groupMissing`: a provisioned group the app no longer has.
//!
//! A repair first makes the shadow tell the truth (the app's values, the
//! missing account or group forgotten, the members the app holds), then runs
//! the cycle's own steps on those objects, so that the app is put back to
//! what the directory says with the requests a cycle sends, and each repair
//! is a provisioning log entry with its steps (after an entry saying what
//! drifted). An unmanaged account is never deleted, and adopted only when
//! asked. Memory is flat in the app's size: the accounts seen are marked in
//! the store, and the report keeps the first [`MAX_ITEMS`] differences.

use crate::cycle::{current_values, with_retry, Steps};
use crate::job::{self, CycleEnv, LoadedJob};
use crate::on_demand::ModifiedProperty;
use crate::{connect, Engine, EngineError};
use roster_connectors::ResourceKind;
use roster_mapping::{ApplyMapping, MappingType};
use roster_scim::AttrPath;
use roster_store::{AppId, LogAction, LogStatus, MemberShadow, ObjectKind, RecordBatch, ShadowEntry, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};

/// Accounts read per page of the app's listing.
const PAGE: u64 = 200;
/// The most differences a report lists (every one is counted).
pub const MAX_ITEMS: usize = 1000;

/// What a drift check does besides reporting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct DriftRequest {
    /// Put the app back to what the directory says.
    pub repair: bool,
    /// Adopt the unmanaged accounts that match a directory user in scope.
    pub adopt: bool,
}

/// The kinds of drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum DriftKind {
    Changed,
    Missing,
    Unmanaged,
    MemberAdded,
    MemberRemoved,
    GroupMissing,
}

impl DriftKind {
    /// The kind as the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::Changed => "changed",
            DriftKind::Missing => "missing",
            DriftKind::Unmanaged => "unmanaged",
            DriftKind::MemberAdded => "memberAdded",
            DriftKind::MemberRemoved => "memberRemoved",
            DriftKind::GroupMissing => "groupMissing",
        }
    }
}

/// One difference between the app and what roster sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    pub kind: DriftKind,
    /// `user` or `group`.
    pub object: String,
    /// The directory object, when roster knows it.
    pub source_id: Option<String>,
    pub name: Option<String>,
    /// The account or group in the app.
    pub target_id: Option<String>,
    /// What differs: `old` is the app's value, `new` what roster sent.
    pub differences: Vec<ModifiedProperty>,
    /// An unmanaged account's matching attribute and value (`userName = "x"`).
    pub matching: Option<String>,
    /// The directory user that would adopt an unmanaged account.
    pub adoptable_by: Option<String>,
    /// What the repair did, or why nothing was done.
    pub repair: Option<String>,
}

/// What a drift check found (and repaired).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct DriftReport {
    /// When the check ended (ms).
    pub at: i64,
    pub repair: bool,
    pub adopt: bool,
    /// Accounts read from the app.
    pub accounts: u64,
    /// Provisioned groups read from the app.
    pub groups: u64,
    pub changed: u64,
    pub missing: u64,
    pub unmanaged: u64,
    pub members_added: u64,
    pub members_removed: u64,
    pub groups_missing: u64,
    /// Objects the repair sent to the app again.
    pub repaired: u64,
    /// Of those, the ones the app refused (see the provisioning log).
    pub failed: u64,
    /// The differences, the first [`MAX_ITEMS`].
    pub items: Vec<Drift>,
    /// Whether there were more differences than the list holds.
    pub truncated: bool,
}

impl DriftReport {
    /// Every difference found.
    pub fn total(&self) -> u64 {
        self.changed + self.missing + self.unmanaged + self.members_added + self.members_removed + self.groups_missing
    }

    fn add(&mut self, d: Drift) {
        match d.kind {
            DriftKind::Changed => self.changed += 1,
            DriftKind::Missing => self.missing += 1,
            DriftKind::Unmanaged => self.unmanaged += 1,
            DriftKind::MemberAdded => self.members_added += 1,
            DriftKind::MemberRemoved => self.members_removed += 1,
            DriftKind::GroupMissing => self.groups_missing += 1,
        }
        if self.items.len() < MAX_ITEMS {
            self.items.push(d);
        } else {
            self.truncated = true;
        }
    }
}

/// One check in progress.
struct Check<'a> {
    ctx: &'a crate::cycle::CycleContext,
    store: &'a roster_store::Store,
    req: DriftRequest,
    report: DriftReport,
    /// The targets applied only on creation (the app's to change afterwards).
    create_only: HashSet<String>,
    change_id: String,
}

impl Check<'_> {
    fn drift(&self, kind: DriftKind, object: &str, s: Option<&ShadowEntry>, name: Option<String>) -> Drift {
        Drift {
            kind,
            object: object.into(),
            source_id: s.map(|s| s.source_id.clone()),
            name,
            target_id: s.map(|s| s.target_id.clone()),
            differences: Vec::new(),
            matching: None,
            adoptable_by: None,
            repair: None,
        }
    }

    /// The log entry that says what drifted, before its repair's.
    fn found_entry(&self, kind: ObjectKind, d: &Drift) -> roster_store::LogRecord {
        let id = d.source_id.clone().or_else(|| d.target_id.clone()).unwrap_or_default();
        let log = crate::cycle::ObjectLog {
            step: ":drift",
            ..crate::cycle::ObjectLog::new(self.ctx, kind, &id, d.name.clone(), &self.change_id)
        };
        let mut steps = Steps(Vec::new());
        steps.add("Drift", describe(d));
        let modified = d.differences.clone();
        log.entry(
            LogAction::Update,
            LogStatus::Warning,
            d.target_id.clone(),
            steps,
            modified,
            Some(("Drift", describe(d))),
        )
    }
}

/// A difference in words, for the log and the CLI.
pub fn describe(d: &Drift) -> String {
    match d.kind {
        DriftKind::Changed => {
            let names: Vec<&str> = d.differences.iter().map(|m| m.name.as_str()).collect();
            format!("changed in the app behind roster's back: {}", names.join(", "))
        }
        DriftKind::Missing => "missing in the app: roster made this account and the app no longer lists it".into(),
        DriftKind::Unmanaged => format!(
            "an account roster does not manage ({}){}",
            d.matching.as_deref().unwrap_or("no matching value"),
            d.adoptable_by.as_deref().map(|u| format!("; {u} would adopt it")).unwrap_or_default()
        ),
        DriftKind::MemberAdded => "a member the app holds that roster did not send".into(),
        DriftKind::MemberRemoved => "a member roster sent that the app no longer holds".into(),
        DriftKind::GroupMissing => "missing in the app: roster made this group and the app no longer has it".into(),
    }
}

/// A value of the app's as a report keeps it: a long text is cut (an app's
/// words are kept to 1 KB, as in errors), and a long value of another kind is
/// replaced by a note of its size.
fn shown(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(roster_connectors::cut_app_text(&s)),
        Value::Array(_) | Value::Object(_) => {
            let len = v.to_string().len();
            if len > roster_connectors::APP_TEXT_LIMIT {
                Value::String(format!("(a value of {len} bytes)"))
            } else {
                v
            }
        }
        other => other,
    }
}

/// The values of `resource` that differ from what the shadow says was sent.
fn differences(check: &Check<'_>, s: &ShadowEntry, resource: &Value) -> Vec<ModifiedProperty> {
    let sent: Vec<(String, Value)> = s
        .exported
        .iter()
        .filter(|(k, _)| !check.create_only.contains(k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let held = current_values(resource, &sent);
    sent.into_iter()
        .filter(|(k, v)| match held.get(k) {
            Some(h) => h != v,
            None => !v.is_null() && v != &Value::String(String::new()),
        })
        .map(|(k, v)| ModifiedProperty::new(&k, held.get(&k).cloned().unwrap_or(Value::Null), v))
        .collect()
}

/// What a report shows of `differences` (the app's values cut).
fn shown_differences(differences: &[ModifiedProperty]) -> Vec<ModifiedProperty> {
    differences.iter().map(|m| ModifiedProperty { old: shown(m.old.clone()), ..m.clone() }).collect()
}

impl Engine {
    /// Starts the scheduled drift checks that are due (at most once a minute):
    /// each app this worker runs, turned on, with `driftCheckHours` set and no
    /// report younger than that. A check runs on a task of its own, never
    /// beside a cycle of the same app, and reports without repairing.
    pub(crate) async fn drift_pass(self: &std::sync::Arc<Self>) -> Result<(), EngineError> {
        use std::sync::atomic::Ordering;
        let now = self.clock.now_ms();
        let last = self.inbound.drift_last.load(Ordering::SeqCst);
        if last != 0 && now >= last && now - last < 60_000 {
            return Ok(());
        }
        self.inbound.drift_last.store(now.max(1), Ordering::SeqCst);
        for row in self.store.jobs().await? {
            let Ok(settings) = job::settings_of(&row) else { continue };
            let hours = settings.drift_check_hours;
            if hours == 0 || settings.status != crate::settings::Status::On || !self.worker.holds(&row.app_id) {
                continue;
            }
            let last = self.store.drift_report(&row.app_id).await?.map(|(at, _)| at);
            if last.is_some_and(|at| now - at < (hours as i64) * 3_600_000) {
                continue;
            }
            if self.handle(&row.app_id).running.try_lock().is_err() {
                continue;
            }
            let (engine, app) = (self.clone(), row.app_id.clone());
            tokio::spawn(async move {
                match engine.drift(&app, DriftRequest::default()).await {
                    Ok(r) if r.total() > 0 => {
                        tracing::warn!(app = %app, differences = r.total(), "scheduled drift check: the app differs from what roster sent")
                    }
                    Ok(_) => tracing::info!(app = %app, "scheduled drift check: no drift"),
                    Err(e) => tracing::warn!(app = %app, error = %e, "scheduled drift check failed"),
                }
            });
        }
        Ok(())
    }

    /// Checks `app` for drift (and repairs it, when asked); keeps the report
    /// as the app's last.
    pub async fn drift(&self, app: &AppId, req: DriftRequest) -> Result<DriftReport, EngineError> {
        let row = job::configured_row(&self.store, app).await?;
        let job = LoadedJob::load(row)?;
        if connect::hands_off(&job.settings) {
            return Err(EngineError::Invalid(
                "manual mode: roster does not read the app, so it cannot compare it (the hand-off is the record)"
                    .into(),
            ));
        }
        let connector = connect::connector(&self.cipher, &job)?;
        // Never beside a cycle of the same job.
        let handle = self.handle(app);
        let _guard = handle.running.lock().await;
        let store = if req.repair || req.adopt { self.exclusive_store(app).await? } else { self.store.clone() };
        let run = uuid::Uuid::new_v4().simple().to_string();
        let env = CycleEnv {
            cipher: &self.cipher,
            clock: self.clock.clone(),
            smtp: None,
            metrics: Some(self.metrics.clone()),
            lease: self.worker.held(app).map(|h| h.watch),
        };
        let ctx = job::cycle_context(&store, app, &job, connector, format!("drift-{run}"), &env).await?;
        let create_only = ctx
            .mapping
            .definition()
            .attributes
            .iter()
            .filter(|a| a.apply == ApplyMapping::OnCreateOnly)
            .map(|a| a.target.clone())
            .collect();
        let mut check = Check {
            ctx: &ctx,
            store: &store,
            req,
            report: DriftReport { repair: req.repair, adopt: req.adopt, ..DriftReport::default() },
            create_only,
            change_id: "drift".into(),
        };
        store.drift_begin(app).await?;
        let mut repair_users: Vec<UserId> = Vec::new();
        self.drift_accounts(&mut check, job.settings.max_listed_objects, &mut repair_users).await?;
        self.drift_missing(&mut check, &mut repair_users).await?;
        let repair_groups = self.drift_groups(&mut check).await?;
        let mut counts = crate::status::Counts::default();
        if !repair_users.is_empty() {
            job::process_users(&store, &ctx, &repair_users, "drift", 4, &mut counts, None).await?;
        }
        if !repair_groups.is_empty() {
            crate::groups::sync_groups(&store, &ctx, &repair_groups, "drift", None, 4, &mut counts).await?;
        }
        let mut report = check.report;
        report.repaired = counts.created + counts.updated + counts.enabled + counts.disabled + counts.failed;
        report.failed = counts.failed;
        report.at = self.clock.now_ms();
        let text = serde_json::to_string(&report).map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.store.save_drift_report(app, report.at, &text).await?;
        Ok(report)
    }

    /// The app's last drift report, if a check ran.
    pub async fn last_drift(&self, app: &AppId) -> Result<Option<DriftReport>, EngineError> {
        self.store.app(app).await?;
        Ok(self.store.drift_report(app).await?.and_then(|(_, text)| serde_json::from_str(&text).ok()))
    }

    /// Every account of the app, a page at a time: changed or unmanaged.
    async fn drift_accounts(
        &self,
        check: &mut Check<'_>,
        max_listed: u64,
        repair: &mut Vec<UserId>,
    ) -> Result<(), EngineError> {
        let (ctx, store) = (check.ctx, check.store);
        let mut cursor: Option<String> = None;
        loop {
            let connector = ctx.connector.clone();
            let at = cursor.clone();
            let page = with_retry(|| connector.list(ResourceKind::User, at.as_deref(), PAGE)).await?;
            check.report.accounts += page.items.len() as u64;
            if check.report.accounts > max_listed.max(1) {
                return Err(EngineError::Connector(roster_connectors::ConnectorError::Config {
                    message: format!(
                        "the app lists more than {max_listed} accounts (the app's maxListedObjects): the drift check \
                         stopped and kept no report"
                    ),
                }));
            }
            let ids: Vec<&str> = page.items.iter().map(|t| t.id.as_str()).collect();
            store.drift_seen(&ctx.app, &ids).await?;
            let shadows = store.shadow_entries_by_targets(&ctx.app, ObjectKind::User, &ids).await?;
            let mut batch = RecordBatch { now: self.clock.now_ms(), ..RecordBatch::default() };
            for item in &page.items {
                match shadows.get(&item.id) {
                    Some(s) => {
                        let diffs = differences(check, s, &item.resource);
                        if diffs.is_empty() {
                            continue;
                        }
                        let name = s.exported.get("userName").and_then(Value::as_str).map(String::from);
                        let mut d = Drift {
                            differences: shown_differences(&diffs),
                            ..check.drift(DriftKind::Changed, "user", Some(s), name)
                        };
                        if check.req.repair {
                            // The shadow takes the app's values: the cycle then sends what differs.
                            let mut truth = s.clone();
                            for m in &diffs {
                                truth.exported.insert(m.name.clone(), m.old.clone());
                            }
                            batch.shadow_upserts.push(truth);
                            batch.logs.push(check.found_entry(ObjectKind::User, &d));
                            repair.push(UserId::from_stored(s.source_id.clone()));
                            d.repair = Some("put back to what the directory says (see the provisioning log)".into());
                        }
                        check.report.add(d);
                    }
                    None => self.unmanaged(check, &item.id, &item.resource, repair).await?,
                }
            }
            if !batch.shadow_upserts.is_empty() {
                store.record(&ctx.app, &batch).await?;
            }
            match page.next {
                Some(next) if !page.items.is_empty() => cursor = Some(next),
                _ => return Ok(()),
            }
        }
    }

    /// An account roster does not know: its matching value, and the directory
    /// user that would adopt it (adopted when asked).
    async fn unmanaged(
        &self,
        check: &mut Check<'_>,
        id: &str,
        resource: &Value,
        repair: &mut Vec<UserId>,
    ) -> Result<(), EngineError> {
        let definition = check.ctx.mapping.definition();
        let first = definition
            .attributes
            .iter()
            .filter(|a| a.matching_precedence.is_some())
            .min_by_key(|a| a.matching_precedence);
        let value = first
            .and_then(|a| roster_scim::extract(resource, &AttrPath::parse(&a.target).ok()?))
            .and_then(|v| v.as_str().map(roster_connectors::cut_app_text));
        let mut d = check.drift(DriftKind::Unmanaged, "user", None, value.clone());
        d.target_id = Some(roster_connectors::cut_app_text(id));
        d.matching = match (first, &value) {
            (Some(a), Some(v)) => Some(format!("{} = {v:?}", a.target)),
            _ => None,
        };
        let by_user_name = first.is_some_and(
            |a| matches!(&a.mapping, MappingType::Direct { source } if source.eq_ignore_ascii_case("userName")),
        );
        if let (true, Some(v)) = (by_user_name, &value) {
            if let Ok(user) = check.store.find_user(v).await {
                let shadow = check.store.shadow_of(&check.ctx.app, ObjectKind::User, &[user.id.as_str()]).await?;
                let roles =
                    check.store.effective_roles(&check.ctx.app, std::slice::from_ref(&user.id)).await?.remove(&user.id);
                let in_scope = crate::cycle::scope(check.ctx, &user, &roles.unwrap_or_default()).1.is_none();
                if shadow.is_empty() && in_scope {
                    d.adoptable_by = Some(user.user_name.clone());
                    if check.req.adopt {
                        repair.push(user.id.clone());
                        d.repair = Some(format!("adopted by {} (see the provisioning log)", user.user_name));
                    }
                }
            }
        }
        if d.repair.is_none() && (check.req.repair || check.req.adopt) {
            d.repair = Some("left alone: roster never deletes an account it does not manage".into());
        }
        check.report.add(d);
        Ok(())
    }

    /// Enabled accounts roster made that the app did not list.
    async fn drift_missing(&self, check: &mut Check<'_>, repair: &mut Vec<UserId>) -> Result<(), EngineError> {
        let (ctx, store) = (check.ctx, check.store);
        let mut after = String::new();
        loop {
            let page = store.drift_unseen(&ctx.app, ObjectKind::User, &after, 500).await?;
            let Some(last) = page.last().map(|s| s.source_id.clone()) else { return Ok(()) };
            let mut batch = RecordBatch { now: self.clock.now_ms(), ..RecordBatch::default() };
            for s in &page {
                let name = s.exported.get("userName").and_then(Value::as_str).map(String::from);
                let mut d = check.drift(DriftKind::Missing, "user", Some(s), name);
                if check.req.repair {
                    // Forgotten, the account is looked up and made again by the cycle's steps.
                    batch.shadow_deletes.push((ObjectKind::User, s.source_id.clone()));
                    batch.logs.push(check.found_entry(ObjectKind::User, &d));
                    repair.push(UserId::from_stored(s.source_id.clone()));
                    d.repair = Some("made again, if the user is still in scope (see the provisioning log)".into());
                }
                check.report.add(d);
            }
            if !batch.shadow_deletes.is_empty() {
                store.record(&ctx.app, &batch).await?;
            }
            after = last;
        }
    }

    /// Provisioned groups: missing in the app, or members added or removed there.
    async fn drift_groups(&self, check: &mut Check<'_>) -> Result<Vec<roster_store::GroupId>, EngineError> {
        let (ctx, store) = (check.ctx, check.store);
        let mut repair = Vec::new();
        let Some(gm) = ctx.group_mapping.as_deref() else { return Ok(repair) };
        let members_mapped = crate::groups::maps_members(gm);
        let mut after = String::new();
        loop {
            let page = store.shadow_after(&ctx.app, ObjectKind::Group, &after, 100).await?;
            let Some(last) = page.last().map(|s| s.source_id.clone()) else { return Ok(repair) };
            for s in page.iter().filter(|s| s.enabled) {
                let connector = ctx.connector.clone();
                let found = with_retry(|| connector.get(ResourceKind::Group, &s.target_id)).await?;
                check.report.groups += 1;
                let name = s.exported.get("displayName").and_then(Value::as_str).map(String::from);
                let mut batch = RecordBatch { now: self.clock.now_ms(), ..RecordBatch::default() };
                let Some(group) = found else {
                    let mut d = check.drift(DriftKind::GroupMissing, "group", Some(s), name);
                    if check.req.repair {
                        batch.shadow_deletes.push((ObjectKind::Group, s.source_id.clone()));
                        batch.logs.push(check.found_entry(ObjectKind::Group, &d));
                        d.repair =
                            Some("made again with its members, if still in scope (see the provisioning log)".into());
                    }
                    check.report.add(d);
                    self.repair_group(check, s, batch, &mut repair).await?;
                    continue;
                };
                if !members_mapped {
                    continue;
                }
                let held: BTreeSet<String> = group
                    .resource
                    .get("members")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m.get("value").and_then(Value::as_str).map(String::from))
                    .collect();
                let sent = store.shadow_members_of_group(&ctx.app, &s.source_id).await?;
                let sent_targets: BTreeSet<&str> = sent.iter().map(|(_, t)| t.as_str()).collect();
                for (member, target) in sent.iter().filter(|(_, t)| !held.contains(t)) {
                    let mut d = check.drift(DriftKind::MemberRemoved, "group", Some(s), name.clone());
                    d.differences.push(ModifiedProperty::new("members", Value::Null, json!(target)));
                    if check.req.repair {
                        batch.member_removes.push(MemberShadow {
                            group_id: s.source_id.clone(),
                            member_id: member.clone(),
                            target_id: target.clone(),
                        });
                        d.repair = Some("added back (see the provisioning log)".into());
                    }
                    check.report.add(d);
                }
                let extra: Vec<&str> = held.iter().map(String::as_str).filter(|t| !sent_targets.contains(t)).collect();
                let managed = store.shadow_entries_by_targets(&ctx.app, ObjectKind::User, &extra).await?;
                for target in extra {
                    let mut d = check.drift(DriftKind::MemberAdded, "group", Some(s), name.clone());
                    d.differences.push(ModifiedProperty::new("members", json!(target), Value::Null));
                    match (check.req.repair, managed.get(target)) {
                        (true, Some(account)) => {
                            // As if roster had sent it: the cycle then removes it unless the directory wants it.
                            batch.member_adds.push(MemberShadow {
                                group_id: s.source_id.clone(),
                                member_id: account.source_id.clone(),
                                target_id: target.to_string(),
                            });
                            d.repair = Some(
                                "removed unless the directory has it in the group (see the provisioning log)".into(),
                            );
                        }
                        (true, None) => {
                            d.repair = Some("left alone: the member is an account roster does not manage".into())
                        }
                        _ => {}
                    }
                    check.report.add(d);
                }
                if !batch.member_adds.is_empty() || !batch.member_removes.is_empty() {
                    let d = Drift {
                        differences: Vec::new(),
                        ..check.drift(DriftKind::MemberAdded, "group", Some(s), name.clone())
                    };
                    let mut entry = check.found_entry(ObjectKind::Group, &d);
                    entry.error_message = Some("the group's members in the app differ from what roster sent".into());
                    batch.logs.push(entry);
                }
                self.repair_group(check, s, batch, &mut repair).await?;
            }
            after = last;
        }
    }

    /// Writes what a group's repair needs the shadow to say, and queues the group.
    async fn repair_group(
        &self,
        check: &Check<'_>,
        s: &ShadowEntry,
        batch: RecordBatch,
        repair: &mut Vec<roster_store::GroupId>,
    ) -> Result<(), EngineError> {
        if !check.req.repair
            || (batch.shadow_deletes.is_empty() && batch.member_adds.is_empty() && batch.member_removes.is_empty())
        {
            return Ok(());
        }
        check.store.record(&check.ctx.app, &batch).await?;
        repair.push(roster_store::GroupId::from_stored(s.source_id.clone()));
        Ok(())
    }
}
