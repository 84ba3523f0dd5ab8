//! One record through a source: scope, match (employee id, then userName),
//! the HR rules ([`super::rules`]), the mapping, and the change to the directory
//! with its log entry — computed from reads only, written by the caller.

use super::rules::{self, Dates, Lifecycle, Matched, When};
use super::settings::directory_target;
use super::{records, Source};
use crate::cycle::Steps;
use crate::EngineError;
use roster_mapping::{ApplyMapping, EvalContext, MapSource, MappedAttribute, SourceObject};
use roster_store::inbound::{InboundChange, ScheduleChange, UserWrite};
use roster_store::{
    LogAction, LogRecord, LogStatus, ModifiedProperty, ObjectKind, ScheduledAction, User, UserId, UserInput, UserPatch,
};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// What one record comes to.
pub(crate) struct RecordPlan {
    /// The record's key: the first matching value (employee id, else userName).
    pub key: String,
    /// Its userName, for the log.
    pub name: Option<String>,
    pub kind: PlanKind,
}

/// The outcome of a record's planning.
pub(crate) enum PlanKind {
    /// A change to write; `manager` is the manager's employee id when it could
    /// not be resolved yet; `disables` when it disables (now or later).
    Change { change: Box<InboundChange>, manager: Option<String>, disables: bool },
    /// Nothing differs.
    Unchanged,
    /// The record cannot be taken, for this reason.
    Failed { code: &'static str, message: String },
}

/// What a plan needs besides the record.
pub(crate) struct PlanContext<'a> {
    pub source: &'a Source,
    pub batch: &'a str,
    /// The record's place in its batch: log entries of one batch stay apart.
    pub index: usize,
    pub now: i64,
}

fn day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

fn failed(key: String, name: Option<String>, code: &'static str, message: String) -> RecordPlan {
    RecordPlan { key, name, kind: PlanKind::Failed { code, message } }
}

/// The directory's spelling of a mapping target (`JobTitle` → `jobTitle`).
fn canonical(target: &str) -> String {
    directory_target(target).map_or_else(|| target.to_string(), str::to_string)
}

impl PlanContext<'_> {
    /// The log entry of a record.
    pub(crate) fn log(&self, key: &str, name: Option<String>, action: LogAction, status: LogStatus) -> LogRecord {
        LogRecord {
            id: format!("{}:{}:{}", self.batch, self.index, action.as_str()),
            app_id: self.source.id.clone(),
            cycle_id: self.batch.to_string(),
            change_id: key.to_string(),
            at: self.now,
            object_kind: ObjectKind::User,
            source_id: key.to_string(),
            source_name: name,
            target_id: None,
            action,
            status,
            steps: Vec::new(),
            modified: Vec::new(),
            error_code: None,
            error_message: None,
        }
    }

    /// Plans one record.
    pub(crate) fn plan(&self, known: &Known, record: &Value) -> Result<RecordPlan, EngineError> {
        let src = MapSource::from_json(record);
        // Made where used: an evaluation context is not held across an await.
        let now = chrono::DateTime::from_timestamp_millis(self.now).unwrap_or_default();
        let mapping = &self.source.mapping;
        let name = src.attribute("userName").to_text().map(|s| s.into_owned());
        let matching = match mapping.matching_values(&src, &EvalContext::at(now)) {
            Ok(m) => m,
            Err(e) => return Ok(failed(String::new(), name, "MappingFailed", e.to_string())),
        };
        let Some(first) = matching.first() else {
            let message = "the record has no value for any matching attribute (employeeId, userName)".to_string();
            return Ok(failed(String::new(), name, "NoMatchingValue", message));
        };
        let key = first.value.to_text().map(|s| s.into_owned()).unwrap_or_default();
        let mut steps = Steps(Vec::new());
        if !mapping.in_scope(&src) {
            let mut log = self.log(&key, name.clone(), LogAction::Skip, LogStatus::Skipped);
            steps.add("Scope", "out of the source's scoping filter");
            log.steps = steps.0;
            let change = InboundChange { claim: None, write: UserWrite::Nothing, schedule: Vec::new(), log };
            return Ok(RecordPlan {
                key,
                name,
                kind: PlanKind::Change { change: Box::new(change), manager: None, disables: false },
            });
        }
        let matched = match known.find(&matching) {
            Ok(m) => m,
            Err(message) => return Ok(failed(key, name, "AmbiguousMatch", message)),
        };
        if let Some(u) = matched.as_ref().filter(|u| u.is_deleted()) {
            let message =
                format!("the directory user {} is deleted: restore it to take this record again", u.user_name);
            return Ok(failed(key, name, "Deleted", message));
        }
        let dates = match self.dates(&src) {
            Ok(d) => d,
            Err(message) => return Ok(failed(key, name, "InvalidDate", message)),
        };
        let scheduled: &[(ScheduledAction, i64)] = match &matched {
            Some(u) => known.schedules.get(u.id.as_str()).map_or(&[], Vec::as_slice),
            None => &[],
        };
        let at = |a: ScheduledAction| scheduled.iter().find(|s| s.0 == a).map(|s| s.1);
        let state = matched.as_ref().map(|u| Matched { active: u.active, enable_at: at(ScheduledAction::Enable) });
        let rules = rules::Rules { prehire_days: self.source.settings.prehire_days };
        let lifecycle = rules::lifecycle(dates, state, self.now, rules);
        if let Some(u) = &matched {
            steps.add("Match", format!("matched the directory user {} by {}", u.user_name, first.target));
        }
        let old = (at(ScheduledAction::Enable), at(ScheduledAction::Disable));
        let (values, manager_key) = match self.mapped(&src, &EvalContext::at(now), matched.is_none()) {
            Ok(v) => v,
            Err(message) => return Ok(failed(key, name, "MappingFailed", message)),
        };
        let manager = Manager { id: manager_key.as_deref().and_then(|k| known.manager(k)), key: manager_key };
        let plan = match lifecycle {
            Lifecycle::Skip { reason } => self.skipped(&key, name.clone(), steps, reason.to_string()),
            Lifecycle::PutOff { create_at } => {
                return Ok(RecordPlan {
                    kind: self.put_off(&key, name.clone(), steps, dates, create_at, record),
                    key,
                    name,
                });
            }
            Lifecycle::Create { active, enable, disable } => {
                match self.create(values, manager, &key, name.clone(), steps, (active, enable, disable)) {
                    Ok(p) => p,
                    Err(message) => return Ok(failed(key, name, "InvalidValue", message)),
                }
            }
            Lifecycle::Keep { active, enable, disable, rehire } => {
                let user =
                    matched.as_ref().ok_or_else(|| EngineError::Invalid("a kept user was not matched".into()))?;
                let keep = Keep { active, enable, disable, rehire, old };
                match self.keep(values, manager, &key, user, steps, keep) {
                    Ok(p) => p,
                    Err(message) => return Ok(failed(key, name, "InvalidValue", message)),
                }
            }
        };
        // A hire put off earlier and here now: its put-off record goes.
        let put_off = known.schedules.get(&key).is_some_and(|s| s.iter().any(|(a, _)| *a == ScheduledAction::Create));
        let plan = match plan {
            _ if !put_off => plan,
            PlanKind::Change { mut change, manager, disables } => {
                change.schedule.push(forget_put_off(&key));
                PlanKind::Change { change, manager, disables }
            }
            PlanKind::Unchanged => {
                let mut steps = Steps(Vec::new());
                steps.add("Schedule", "the hire put off earlier is in the directory already: its record goes");
                let mut log = self.log(&key, name.clone(), LogAction::Skip, LogStatus::Skipped);
                log.steps = steps.0;
                let change =
                    InboundChange { claim: None, write: UserWrite::Nothing, schedule: vec![forget_put_off(&key)], log };
                PlanKind::Change { change: Box::new(change), manager: None, disables: false }
            }
            other => other,
        };
        Ok(RecordPlan { key, name, kind: plan })
    }

    fn dates(&self, src: &MapSource) -> Result<Dates, String> {
        let settings = &self.source.settings;
        let read = |attr: &str| -> Result<Option<i64>, String> {
            match src.attribute(attr).to_text() {
                None => Ok(None),
                Some(t) if t.trim().is_empty() => Ok(None),
                Some(t) => records::parse_date(&t)
                    .map(Some)
                    .ok_or_else(|| format!("{attr} {t:?} is not a date (YYYY-MM-DD or RFC 3339)")),
            }
        };
        Ok(Dates { start: read(&settings.start_date_attribute)?, end: read(&settings.end_date_attribute)? })
    }

    fn skipped(&self, key: &str, name: Option<String>, mut steps: Steps, reason: String) -> PlanKind {
        let mut log = self.log(key, name, LogAction::Skip, LogStatus::Skipped);
        steps.add("Action", reason);
        log.steps = steps.0;
        let change = InboundChange { claim: None, write: UserWrite::Nothing, schedule: Vec::new(), log };
        PlanKind::Change { change: Box::new(change), manager: None, disables: false }
    }

    fn put_off(
        &self,
        key: &str,
        name: Option<String>,
        steps: Steps,
        dates: Dates,
        create_at: i64,
        record: &Value,
    ) -> PlanKind {
        let start = dates.start.map(day).unwrap_or_default();
        let reason = format!(
            "the start date {start} is more than {} days away: the user is created on {}",
            self.source.settings.prehire_days,
            day(create_at)
        );
        let PlanKind::Change { mut change, .. } = self.skipped(key, name, steps, reason) else {
            return PlanKind::Unchanged;
        };
        change.schedule.push(ScheduleChange {
            action: ScheduledAction::Create,
            subject: Some(key.to_string()),
            due_at: Some(create_at),
            record: Some(record.clone()),
        });
        PlanKind::Change { change, manager: None, disables: false }
    }

    /// The mapped values, as the directory names them; the manager's employee
    /// id apart.
    fn mapped(
        &self,
        src: &MapSource,
        eval: &EvalContext,
        on_create: bool,
    ) -> Result<(Map<String, Value>, Option<String>), String> {
        let values = self.source.mapping.evaluate(src, eval, on_create).map_err(|e| e.to_string())?;
        let mut out = Map::new();
        let mut manager = None;
        for MappedAttribute { target, value, apply, .. } in values {
            if !on_create && apply == ApplyMapping::OnCreateOnly {
                continue;
            }
            let target = canonical(&target);
            if target == "manager" {
                manager = value.to_text().map(|s| s.into_owned());
                continue;
            }
            let json = match (target.as_str(), value.to_json()) {
                ("businessPhones", Value::String(s)) => json!([s]),
                (_, v @ (Value::String(_) | Value::Array(_))) => v,
                (_, other) => Value::String(other.to_string()),
            };
            out.insert(target, json);
        }
        Ok((out, manager))
    }

    fn create(
        &self,
        values: Map<String, Value>,
        manager: Manager,
        key: &str,
        name: Option<String>,
        mut steps: Steps,
        (active, enable, disable): (bool, When, When),
    ) -> Result<PlanKind, String> {
        let (fields, extensions) = split_extensions(values);
        let modified: Vec<ModifiedProperty> =
            fields.iter().map(|(k, v)| ModifiedProperty::new(k, Value::Null, v.clone())).collect();
        let mut input = fields.clone();
        input.insert("active".into(), Value::Bool(active));
        if !extensions.is_empty() {
            input.insert("extensions".into(), Value::Object(extensions));
        }
        if let Some(id) = &manager.id {
            input.insert("manager".into(), Value::String(id.to_string()));
        }
        let mut input: UserInput = serde_json::from_value(Value::Object(input)).map_err(|e| e.to_string())?;
        if input.user_name.is_empty() {
            return Err("the record maps no userName: a new user needs one".into());
        }
        input.active = Some(active);
        let user_name = input.user_name.clone();
        let mut log = self.log(key, name.or(Some(user_name)), LogAction::Create, LogStatus::Success);
        steps.add(
            "Action",
            if active {
                "created the user".to_string()
            } else {
                "created the user, disabled until the start date".to_string()
            },
        );
        let schedule = self.schedule_steps(&mut steps, enable, disable, (None, None));
        log.steps = steps.0;
        log.modified = modified;
        let change = InboundChange { claim: None, write: UserWrite::Create(Box::new(input)), schedule, log };
        let pending = manager.key.filter(|_| manager.id.is_none());
        Ok(PlanKind::Change { change: Box::new(change), manager: pending, disables: matches!(disable, When::At(_)) })
    }

    /// The schedule changes of `enable` and `disable` (those that change
    /// something, against `old`), each told in a step.
    fn schedule_steps(
        &self,
        steps: &mut Steps,
        enable: When,
        disable: When,
        old: (Option<i64>, Option<i64>),
    ) -> Vec<ScheduleChange> {
        let mut out = Vec::new();
        for (action, when, before, verb) in [
            (ScheduledAction::Enable, enable, old.0, "enabled"),
            (ScheduledAction::Disable, disable, old.1, "disabled"),
        ] {
            let due_at = match when {
                When::Keep => continue,
                When::At(t) if before == Some(t) => continue,
                When::Clear if before.is_none() => continue,
                When::At(t) => {
                    steps.add("Schedule", format!("to be {verb} on {}", day(t)));
                    Some(t)
                }
                When::Clear => {
                    steps.add("Schedule", format!("no longer to be {verb} on {}", before.map(day).unwrap_or_default()));
                    None
                }
            };
            out.push(ScheduleChange { action, subject: None, due_at, record: None });
        }
        out
    }

    fn keep(
        &self,
        values: Map<String, Value>,
        manager: Manager,
        key: &str,
        user: &User,
        mut steps: Steps,
        k: Keep,
    ) -> Result<PlanKind, String> {
        let current = serde_json::to_value(user).map_err(|e| e.to_string())?;
        let (fields, extensions) = split_extensions(values);
        let mut patch = Map::new();
        let mut modified = Vec::new();
        for (k, v) in fields {
            let old = current.get(&k).cloned().unwrap_or(Value::Null);
            if old != v {
                modified.push(ModifiedProperty::new(&k, old, v.clone()));
                patch.insert(k, v);
            }
        }
        let mut ext_patch = Map::new();
        for (k, v) in extensions {
            let old = user.extensions.get(&k).map(|s| Value::String(s.clone())).unwrap_or(Value::Null);
            if old != v {
                modified.push(ModifiedProperty::new(&format!("extension_{k}"), old, v.clone()));
                ext_patch.insert(k, v);
            }
        }
        if !ext_patch.is_empty() {
            patch.insert("extensions".into(), Value::Object(ext_patch));
        }
        let mut pending_manager = None;
        if let Some(m) = &manager.key {
            match &manager.id {
                Some(id) if user.manager.as_ref() != Some(id) && id != &user.id => {
                    modified.push(ModifiedProperty::new("manager", json!(user.manager), json!(id)));
                    patch.insert("manager".into(), Value::String(id.to_string()));
                }
                Some(_) => {}
                None => pending_manager = Some(m.clone()),
            }
        }
        if let Some(a) = k.active {
            modified.push(ModifiedProperty::new("active", user.active, a));
            patch.insert("active".into(), Value::Bool(a));
        }
        if k.rehire {
            steps.add("Rehire", "a former employee comes back: the same user is enabled again");
        }
        let schedule = self.schedule_steps(&mut steps, k.enable, k.disable, k.old);
        if patch.is_empty() && schedule.is_empty() && pending_manager.is_none() {
            return Ok(PlanKind::Unchanged);
        }
        let action = match k.active {
            Some(false) => LogAction::Disable,
            Some(true) => LogAction::Enable,
            None => LogAction::Update,
        };
        let patch: UserPatch = serde_json::from_value(Value::Object(patch)).map_err(|e| e.to_string())?;
        let mut log = self.log(key, Some(user.user_name.clone()), action, LogStatus::Success);
        log.target_id = Some(user.id.to_string());
        let verb = match action {
            LogAction::Disable => "disabled",
            LogAction::Enable => "enabled",
            _ => "updated",
        };
        steps.add("Action", format!("{verb} the directory user"));
        log.steps = steps.0;
        log.modified = modified;
        let disables = k.active == Some(false) || matches!(k.disable, When::At(t) if k.old.1 != Some(t));
        let change =
            InboundChange { claim: None, write: UserWrite::Update(user.id.clone(), Box::new(patch)), schedule, log };
        Ok(PlanKind::Change { change: Box::new(change), manager: pending_manager, disables })
    }
}

/// A record's manager: the employee id it gives, and the user it names.
struct Manager {
    key: Option<String>,
    id: Option<UserId>,
}

/// The lifecycle of a kept user, with the schedule it had.
struct Keep {
    active: Option<bool>,
    enable: When,
    disable: When,
    rehire: bool,
    old: (Option<i64>, Option<i64>),
}

/// Splits `extension_<name>` values from the others.
fn split_extensions(values: Map<String, Value>) -> (Map<String, Value>, Map<String, Value>) {
    let mut fields = Map::new();
    let mut extensions = Map::new();
    for (k, v) in values {
        match k.get(..10).filter(|p| p.eq_ignore_ascii_case("extension_")) {
            Some(_) => {
                let text = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                extensions.insert(k[10..].to_string(), Value::String(text));
            }
            None => {
                fields.insert(k, v);
            }
        }
    }
    (fields, extensions)
}

/// The removal of the put-off record of `key`.
fn forget_put_off(key: &str) -> ScheduleChange {
    ScheduleChange { action: ScheduledAction::Create, subject: Some(key.to_string()), due_at: None, record: None }
}

/// What the plans of a chunk of records read, fetched at once before them and
/// kept up to date with what the chunk writes: the users their matching values
/// and managers name, and those users' scheduled actions.
#[derive(Default)]
pub(crate) struct Known {
    by_employee: HashMap<String, Vec<User>>,
    by_name: HashMap<String, User>,
    schedules: HashMap<String, Vec<(ScheduledAction, i64)>>,
}

impl Known {
    /// Reads what the plans of `records` need.
    pub(crate) async fn fetch(
        store: &roster_store::Store,
        ctx: &PlanContext<'_>,
        records: &[Value],
    ) -> Result<Known, EngineError> {
        let now = chrono::DateTime::from_timestamp_millis(ctx.now).unwrap_or_default();
        let mut employees = Vec::new();
        let mut names = Vec::new();
        for record in records {
            let src = MapSource::from_json(record);
            let values = ctx.source.mapping.evaluate(&src, &EvalContext::at(now), true).unwrap_or_default();
            for v in values {
                let Some(text) = v.value.to_text() else { continue };
                match canonical(&v.target).as_str() {
                    "employeeId" | "manager" => employees.push(text.into_owned()),
                    "userName" => names.push(text.into_owned()),
                    _ => {}
                }
            }
        }
        for list in [&mut employees, &mut names] {
            list.sort();
            list.dedup();
        }
        let mut known = Known::default();
        let mut users = store.users_by_employee_ids(&employees).await?;
        users.extend(store.users_by_user_names(&names).await?);
        // The users' scheduled actions, and the hires put off under the records' keys.
        let mut subjects: Vec<String> = users.iter().map(|u| u.id.to_string()).collect();
        subjects.extend(employees.iter().cloned());
        subjects.extend(names.iter().cloned());
        for s in store.scheduled_for_many(&ctx.source.id, &subjects).await? {
            known.schedules.entry(s.subject).or_default().push((s.action, s.due_at));
        }
        for u in users {
            known.put(u);
        }
        Ok(known)
    }

    fn put(&mut self, user: User) {
        if let Some(e) = &user.employee_id {
            let list = self.by_employee.entry(e.clone()).or_default();
            list.retain(|u| u.id != user.id);
            list.push(user.clone());
        }
        self.by_name.insert(user.user_name.to_lowercase(), user);
    }

    /// Takes in what a record wrote: the user, and its own scheduled actions.
    pub(crate) fn note(&mut self, user: &User, schedule: &[ScheduleChange]) {
        for (key, list) in self.by_employee.iter_mut() {
            if user.employee_id.as_ref() != Some(key) {
                list.retain(|u| u.id != user.id);
            }
        }
        self.by_name.retain(|_, u| u.id != user.id);
        self.put(user.clone());
        for c in schedule {
            let subject = c.subject.clone().unwrap_or_else(|| user.id.to_string());
            let list = self.schedules.entry(subject).or_default();
            list.retain(|(a, _)| *a != c.action);
            if let Some(due) = c.due_at {
                list.push((c.action, due));
            }
        }
    }

    /// Takes in the scheduled actions a record set on other subjects (a hire
    /// put off, under its key).
    pub(crate) fn note_schedule(&mut self, schedule: &[ScheduleChange]) {
        for c in schedule {
            let Some(subject) = &c.subject else { continue };
            let list = self.schedules.entry(subject.clone()).or_default();
            list.retain(|(a, _)| *a != c.action);
            if let Some(due) = c.due_at {
                list.push((c.action, due));
            }
        }
    }

    /// The live directory user with this employee id.
    fn manager(&self, employee: &str) -> Option<UserId> {
        self.by_employee.get(employee)?.iter().find(|u| !u.is_deleted()).map(|u| u.id.clone())
    }

    /// The directory user the record's matching values find: the first
    /// attribute in precedence order that finds one; two live users for one
    /// employee id is an error.
    ///
    /// A user found by a later attribute whose value of an earlier one differs
    /// (a userName held by another employee) is refused, never taken over.
    fn find(&self, matching: &[MappedAttribute]) -> Result<Option<User>, String> {
        for (i, m) in matching.iter().enumerate() {
            let Some(value) = m.value.to_text() else { continue };
            let found = match canonical(&m.target).as_str() {
                "employeeId" => {
                    let users = self.by_employee.get(value.as_ref()).map_or(&[][..], Vec::as_slice);
                    let live: Vec<&User> = users.iter().filter(|u| !u.is_deleted()).collect();
                    if live.len() > 1 {
                        return Err(format!("{} directory users have the employee id {value:?}", live.len()));
                    }
                    live.first().copied().or(users.first()).cloned()
                }
                "userName" => self.by_name.get(&value.to_lowercase()).cloned(),
                _ => None,
            };
            if let Some(user) = &found {
                for earlier in &matching[..i] {
                    let wanted = earlier.value.to_text().unwrap_or_default();
                    let held = match canonical(&earlier.target).as_str() {
                        "employeeId" => user.employee_id.clone(),
                        "userName" => Some(user.user_name.clone()),
                        _ => None,
                    };
                    if let Some(held) = held.filter(|h| !h.eq_ignore_ascii_case(&wanted)) {
                        return Err(format!(
                            "the directory user {} matched by {} has {} {held:?}, not {wanted:?}: it is not taken over",
                            user.user_name, m.target, earlier.target
                        ));
                    }
                }
                return Ok(found);
            }
        }
        Ok(None)
    }
}
