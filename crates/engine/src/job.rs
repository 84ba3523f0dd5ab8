//! One provisioning cycle of one job: the initial cycle walks every user (a page
//! at a time, never the whole directory in memory); an incremental cycle reads the
//! change feed past the job's watermark. Each batch is exported with bounded
//! concurrency and recorded (shadow, logs, cursor or watermark) in one transaction.

use crate::connect::connector;
use crate::cycle::{CycleContext, Outcome};
use crate::deletion_guard;
use crate::reliability::{Clock, GuardedConnector};
use crate::settings::Status;
use crate::settings::{JobSettings, Scope};
use crate::status::StagedDeletes;
use crate::status::{Counts, JobState, Progress};
use crate::EngineError;
use roster_connectors::{Connector, ResourceKind};
use roster_mapping::{
    AppMappings, CompiledObjectMapping, SourceObjectType, GROUP_SOURCE_ATTRIBUTES, USER_SOURCE_ATTRIBUTES,
};
use roster_store::secrets::Cipher;
use roster_store::{AppId, ChangeKind, GroupId, JobRow, JobStateUpdate, ObjectKind, Phase, Store, User, UserId};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Users per batch.
const BATCH: usize = 1000;
/// Feed entries per incremental step.
const FEED_BATCH: i64 = 5000;

/// A job as loaded for a cycle.
pub struct LoadedJob {
    pub row: JobRow,
    pub settings: JobSettings,
    pub mappings: AppMappings,
    pub user_mapping: CompiledObjectMapping,
    /// The group mapping, when the document has one and it is enabled.
    pub group_mapping: Option<CompiledObjectMapping>,
    pub state: JobState,
}

/// The settings of a stored job; a row that does not decode is an error that
/// names the app and the column, never the defaults.
pub fn settings_of(row: &JobRow) -> Result<JobSettings, EngineError> {
    decode(row, "settings", &row.settings)
}

/// The state of a stored job (counts, quarantine, ...), decoded like the settings.
pub fn state_of(row: &JobRow) -> Result<JobState, EngineError> {
    decode(row, "state", &row.state)
}

fn decode<T: serde::de::DeserializeOwned>(
    row: &JobRow,
    column: &'static str,
    value: &serde_json::Value,
) -> Result<T, EngineError> {
    serde_json::from_value(value.clone()).map_err(|e| EngineError::Corrupt {
        app: row.app_id.clone(),
        column,
        message: e.to_string(),
    })
}

/// The mapping document of a job (the default SCIM one until an admin saves another).
pub fn mappings_of(row: &JobRow) -> Result<AppMappings, EngineError> {
    match &row.mappings {
        Some(m) => serde_json::from_value(m.clone())
            .map_err(|e| EngineError::Invalid(format!("stored mappings are unreadable: {e}"))),
        None => Ok(roster_mapping::defaults::scim_app_mappings()),
    }
}

/// Compiles the user mapping of a document, with every problem in one message.
pub fn compile_user_mapping(m: &AppMappings) -> Result<CompiledObjectMapping, EngineError> {
    let user = m
        .object(SourceObjectType::User)
        .ok_or_else(|| EngineError::Invalid("the mappings have no user mapping".into()))?;
    user.compile(USER_SOURCE_ATTRIBUTES)
        .map_err(|errors| EngineError::Invalid(errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")))
}

/// Compiles the group mapping of a document, if it has an enabled one.
pub fn compile_group_mapping(m: &AppMappings) -> Result<Option<CompiledObjectMapping>, EngineError> {
    let Some(group) = m.object(SourceObjectType::Group).filter(|g| g.enabled) else { return Ok(None) };
    group
        .compile(GROUP_SOURCE_ATTRIBUTES)
        .map(Some)
        .map_err(|errors| EngineError::Invalid(errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")))
}

impl LoadedJob {
    /// Parses a stored job.
    pub fn load(row: JobRow) -> Result<LoadedJob, EngineError> {
        let settings = settings_of(&row)?;
        let mappings = mappings_of(&row)?;
        let user_mapping = compile_user_mapping(&mappings)?;
        let group_mapping = compile_group_mapping(&mappings)?;
        let state = state_of(&row)?;
        Ok(LoadedJob { row, settings, mappings, user_mapping, group_mapping, state })
    }

    /// What, if changed, means every provisioned object must be evaluated again.
    pub fn fingerprint(&self) -> String {
        let m = serde_json::to_string(&self.mappings).unwrap_or_default();
        format!("{:?}|{}|{}", self.settings.scope, self.settings.tenant_url.as_deref().unwrap_or(""), m)
    }
}

/// The stored job of `app`; an app whose provisioning is not configured is
/// `NotConfigured`.
pub(crate) async fn configured_row(store: &Store, app: &AppId) -> Result<JobRow, EngineError> {
    store.job(app).await?.ok_or_else(|| EngineError::NotConfigured("provisioning is not configured".into()))
}

/// What a cycle of `job` shares between the objects it processes.
pub async fn cycle_context(
    store: &Store,
    app: &AppId,
    job: &LoadedJob,
    connector: Arc<dyn Connector>,
    cycle_id: String,
    env: &CycleEnv<'_>,
) -> Result<CycleContext, EngineError> {
    let clock = env.clock.clone();
    let mut guard = GuardedConnector::new(connector, job.settings.concurrency, job.settings.rate_limit);
    if let Some(metrics) = &env.metrics {
        guard = guard.observed(metrics.clone(), app.as_str());
    }
    if let Some(lease) = &env.lease {
        guard = guard.leased(lease.clone());
    }
    let guard = Arc::new(guard);
    Ok(CycleContext {
        app: app.clone(),
        cycle_id,
        mapping: Arc::new(job.user_mapping.clone()),
        connector: guard.clone(),
        guard,
        clock,
        escrow_base_ms: (job.settings.escrow_retry_secs.max(1) * 1000) as i64,
        index: Arc::new(store.assignment_index(app).await?),
        roles: Arc::new(store.app_roles(app).await?.into_iter().map(|r| (r.id.clone(), r)).collect()),
        scope_all: job.settings.scope == Scope::All,
        snapshot: None,
        // Manual mode hands off users only.
        group_mapping: job.group_mapping.clone().filter(|_| !crate::connect::hands_off(&job.settings)).map(Arc::new),
        group_snapshot: None,
        member_batch_size: job.settings.member_batch_size.max(1),
        max_listed_objects: job.settings.max_listed_objects.max(1),
        handoff: crate::connect::hands_off(&job.settings),
        placed: Default::default(),
    })
}

/// The running job's live progress, shared with the status endpoint.
pub type SharedProgress = Arc<Mutex<Progress>>;

fn set_progress(p: &SharedProgress, f: impl FnOnce(&mut Progress)) {
    if let Ok(mut g) = p.lock() {
        f(&mut g);
    }
}

/// What a cycle needs besides the store: the key that opens credentials, the
/// clock, and where alerts go.
pub struct CycleEnv<'a> {
    pub cipher: &'a Cipher,
    pub clock: Arc<dyn Clock>,
    pub smtp: Option<&'a roster_notify::SmtpConfig>,
    /// Where the cycle's calls to the app are counted.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// The job's lease: calls to the app stop once this worker may have lost it.
    pub lease: Option<Arc<crate::worker::LeaseWatch>>,
}

/// What a cycle did: its counts, and the disables it staged instead of doing.
pub struct CycleRun {
    pub counts: Counts,
    pub staged: Option<StagedDeletes>,
}

/// Runs one cycle of `app`, then judges it (quarantine, staged deletes, alerts).
/// Returns the counts of the cycle.
pub async fn run_cycle(
    store: &Store,
    env: &CycleEnv<'_>,
    app: &AppId,
    progress: &SharedProgress,
) -> Result<Counts, EngineError> {
    let mut job = LoadedJob::load(configured_row(store, app).await?)?;
    let connector = connector(env.cipher, &job)?;
    let started = std::time::Instant::now();
    let cycle_id = uuid::Uuid::new_v4().to_string();
    tracing::Span::current().record("cycle_id", cycle_id.as_str());
    let fingerprint = job.fingerprint();
    if job.state.config_fingerprint.as_deref() != Some(fingerprint.as_str()) && job.row.phase != Phase::Initial {
        // Settings or mappings changed: evaluate every object again, sending only what differs.
        job.row.phase = Phase::Initial;
        job.row.initial_cursor = None;
        job.row.initial_head = None;
    }
    let roles_imported_at = import_roles(store, env, app, &job, connector.as_ref()).await;
    let mut ctx = cycle_context(store, app, &job, connector, cycle_id.clone(), env).await?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "cycle context ready");
    let concurrency = job.settings.concurrency.clamp(1, 64);
    set_progress(progress, |p| {
        *p = Progress {
            running: true,
            cycle_id: Some(cycle_id.clone()),
            phase: Some(job.row.phase),
            ..Progress::default()
        }
    });
    // Objects a cut-short batch was writing are checked against the app first; a
    // failure there is judged like any other (a refused token quarantines the job).
    let result = match crate::recovery::recover(store, &ctx).await {
        Err(e) => Err(e),
        Ok(()) if job.row.phase == Phase::Initial => initial(store, &mut ctx, &job, concurrency, progress).await,
        Ok(()) => incremental(store, &mut ctx, &job, concurrency, progress).await,
    };
    let now = env.clock.now_ms();
    let mut state = job.state.clone();
    state.roles_imported_at = roles_imported_at;
    if let Some(dialect) = ctx.connector.dialect() {
        // What the app taught this cycle is kept for the next ones.
        state.dialect = dialect.lessons();
    }
    state.last_cycle_id = Some(cycle_id);
    state.last_cycle_at = Some(now);
    state.last_cycle_ms = Some(started.elapsed().as_millis() as u64);
    note_result(&mut state, &result, fingerprint, now);
    let alerts = crate::aftercare::judge(store, &ctx, &job, &mut state, &result, now).await?;
    let update =
        JobStateUpdate { state: Some(serde_json::to_value(&state).unwrap_or_default()), ..JobStateUpdate::default() };
    store.update_job_state(app, &update).await?;
    if state.quarantine.as_ref().is_some_and(|q| q.next_attempt.is_none()) && job.settings.status == Status::On {
        // 28 days in quarantine: the job is turned off.
        let mut settings = job.settings.clone();
        settings.status = Status::Off;
        store.save_job_config(app, &serde_json::to_value(&settings).unwrap_or_default(), None, None).await?;
    }
    set_progress(progress, |p| p.running = false);
    crate::aftercare::send(store, env.smtp, app, &job.settings, alerts).await;
    result.map(|run| run.counts)
}

/// Imports the roles of apps whose roles are their own (Salesforce profiles,
/// Dropbox admin roles) on an initial cycle and at most hourly, so that a
/// rate-limited org is not asked every cycle. Returns when they were last
/// imported.
async fn import_roles(
    store: &Store,
    env: &CycleEnv<'_>,
    app: &AppId,
    job: &LoadedJob,
    connector: &dyn Connector,
) -> Option<i64> {
    let last = job.state.roles_imported_at;
    if job.row.phase != Phase::Initial && last.is_some_and(|t| env.clock.now_ms() - t < 3_600_000) {
        return last;
    }
    match crate::roles::import_roles(store, app, connector).await {
        Ok(_) => Some(env.clock.now_ms()),
        Err(e) => {
            tracing::warn!(app = %app, error = %e, "cannot import the app's roles");
            last
        }
    }
}

/// Notes a cycle's result in the job's state: its counts, and success or the
/// error.
fn note_result(state: &mut JobState, result: &Result<CycleRun, EngineError>, fingerprint: String, now: i64) {
    match result {
        Ok(run) => {
            state.last_cycle = run.counts.clone();
            state.to_date.add(&run.counts);
            state.config_fingerprint = Some(fingerprint);
            if run.counts.failed == 0 && run.staged.is_none() {
                state.last_success_at = Some(now);
                state.last_error = None;
                if state.steady_state_at.is_none() {
                    state.steady_state_at = Some(now);
                }
            }
        }
        Err(e) => state.last_error = Some(e.to_string()),
    }
}

/// The most accounts this cycle may disable without an admin (`None`: deletes
/// are allowed).
pub(crate) async fn guard_limit(store: &Store, app: &AppId, job: &LoadedJob) -> Result<Option<u64>, EngineError> {
    if job.state.allow_deletes {
        return Ok(None);
    }
    let enabled = store.shadow_count(app, ObjectKind::User).await?.1.max(0) as u64;
    Ok(Some(deletion_guard::threshold(job.settings.delete_threshold, job.settings.delete_threshold_percent, enabled)))
}

async fn initial(
    store: &Store,
    ctx: &mut CycleContext,
    job: &LoadedJob,
    concurrency: usize,
    progress: &SharedProgress,
) -> Result<CycleRun, EngineError> {
    if let Some(limit) = guard_limit(store, &ctx.app, job).await? {
        // Before anything is exported: would this walk disable more than allowed?
        let mut ids: Vec<UserId> = Vec::new();
        let mut after = String::new();
        loop {
            let page = store.shadow_after(&ctx.app, ObjectKind::User, &after, 5000).await?;
            let Some(last) = page.last().map(|s| s.source_id.clone()) else { break };
            ids.extend(page.into_iter().filter(|s| s.enabled).map(|s| UserId::from_stored(s.source_id)));
            after = last;
        }
        let leaving = deletion_guard::leaving_users(store, ctx, &ids).await?;
        if leaving.len() as u64 > limit {
            let staged = deletion_guard::stage(store, ctx, &leaving, limit, "initial").await?;
            return Ok(CycleRun { counts: Counts::default(), staged: Some(staged) });
        }
    }
    let head = match job.row.initial_head {
        Some(h) => h,
        None => {
            let h = store.feed_head().await?;
            store
                .update_job_state(&ctx.app, &JobStateUpdate { initial_head: Some(Some(h)), ..Default::default() })
                .await?;
            h
        }
    };
    if store.shadow_count(&ctx.app, ObjectKind::User).await?.0 == 0 {
        ctx.snapshot = crate::snapshot::snapshot(ctx, ResourceKind::User, &ctx.mapping).await?.map(Arc::new);
    }
    let total = store
        .list_users(&roster_store::ListQuery { include_deleted: true, limit: Some(1), ..Default::default() })
        .await?
        .total;
    set_progress(progress, |p| p.total = total as u64);
    let mut counts = Counts::default();
    // The walk, a page at a time; the pipeline sends and records behind it. Each
    // page's last wave carries the cursor.
    let cursor = job.row.initial_cursor.clone();
    let done =
        crate::pipeline::run(store, ctx, concurrency, &mut counts, Some(progress), false, |mut feeder| async move {
            let mut cursor = cursor;
            loop {
                let users = store.users_after(cursor.as_deref(), BATCH as i64).await?;
                let Some(last) = users.last().map(|u| u.id.to_string()) else { break };
                let n = users.len() as u64;
                let update = JobStateUpdate { initial_cursor: Some(Some(last.clone())), ..Default::default() };
                let items = users.into_iter().map(|u| (u.id.clone(), Some(u))).collect();
                feeder.push(items, "initial", Some(update), n).await?;
                cursor = Some(last);
            }
            Ok(())
        })
        .await?;
    follow_references(store, ctx, done.created, "initial", concurrency, &mut counts).await?;
    // Groups after users: a member's account exists before it is added. The
    // assignments are read again: the walk may have taken a while.
    ctx.index = Arc::new(store.assignment_index(&ctx.app).await?);
    initial_groups(store, ctx, concurrency, progress, &mut counts).await?;
    let done = JobStateUpdate {
        phase: Some(Phase::Incremental),
        watermark: Some(head),
        initial_cursor: Some(None),
        initial_head: Some(None),
        ..Default::default()
    };
    store.update_job_state(&ctx.app, &done).await?;
    ctx.snapshot = None;
    set_progress(progress, |p| p.percent = 100.0);
    Ok(CycleRun { counts, staged: None })
}

/// The groups an initial cycle processes: every group in scope, and every group
/// with a shadow (which may have left scope).
async fn initial_groups(
    store: &Store,
    ctx: &mut CycleContext,
    concurrency: usize,
    progress: &SharedProgress,
    counts: &mut Counts,
) -> Result<(), EngineError> {
    let Some(gm) = ctx.group_mapping.clone() else { return Ok(()) };
    let mut ids: Vec<GroupId> = Vec::new();
    if ctx.scope_all {
        let mut after: Option<String> = None;
        loop {
            let page = store.group_ids_after(after.as_deref(), 5000).await?;
            let Some(last) = page.last().map(|g| g.to_string()) else { break };
            ids.extend(page);
            after = Some(last);
        }
    } else {
        let mut assigned: Vec<GroupId> = ctx.index.assigned_groups.iter().cloned().collect();
        assigned.sort();
        ids.extend(assigned);
    }
    let mut known: HashSet<String> = ids.iter().map(|g| g.to_string()).collect();
    let mut after = String::new();
    loop {
        let page = store.shadow_after(&ctx.app, ObjectKind::Group, &after, 5000).await?;
        let Some(last) = page.last().map(|s| s.source_id.clone()) else { break };
        for s in page {
            if known.insert(s.source_id.clone()) {
                ids.push(GroupId::from_stored(s.source_id));
            }
        }
        after = last;
    }
    if ids.is_empty() {
        return Ok(());
    }
    if store.shadow_count(&ctx.app, ObjectKind::Group).await?.0 == 0 {
        ctx.group_snapshot = crate::snapshot::snapshot(ctx, ResourceKind::Group, &gm).await?.map(Arc::new);
    }
    set_progress(progress, |p| p.total += ids.len() as u64);
    for chunk in ids.chunks(200) {
        crate::groups::sync_groups(store, ctx, chunk, "initial", None, concurrency, counts).await?;
        set_progress(progress, |p| {
            p.done += chunk.len() as u64;
            p.percent = if p.total == 0 { 100.0 } else { (p.done as f64 * 100.0 / p.total as f64).min(100.0) };
            p.counts = counts.clone();
        });
    }
    ctx.group_snapshot = None;
    Ok(())
}

async fn incremental(
    store: &Store,
    ctx: &mut CycleContext,
    job: &LoadedJob,
    concurrency: usize,
    progress: &SharedProgress,
) -> Result<CycleRun, EngineError> {
    let mut counts = Counts::default();
    let started = std::time::Instant::now();
    retry_escrow(store, ctx, concurrency, &mut counts).await?;
    let mut watermark = job.row.watermark;
    loop {
        let entries = store.feed_after(watermark, FEED_BATCH).await?;
        let Some(last) = entries.last().map(|e| e.seq) else { break };
        // The assignments are read after the feed entries, so that they reflect at
        // least every change those entries describe (an unassignment read from the
        // feed is never judged against assignments read before it).
        ctx.index = Arc::new(store.assignment_index(&ctx.app).await?);
        let mut affected: Vec<UserId> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut push = |id: String, affected: &mut Vec<UserId>| {
            if seen.insert(id.clone()) {
                affected.push(UserId::from_stored(id));
            }
        };
        // Groups whose object or members may have changed (their containing groups too).
        let mut groups: Vec<String> = Vec::new();
        for e in &entries {
            match e.kind {
                ChangeKind::User => push(e.object_id.clone(), &mut affected),
                ChangeKind::Group => groups.push(e.object_id.clone()),
                ChangeKind::Membership => {
                    groups.push(e.object_id.clone());
                    fan_out(store, e.related_id.as_deref(), &mut affected, &mut push).await?
                }
                ChangeKind::Assignment if e.object_id == ctx.app.as_str() => {
                    groups.extend(e.related_id.clone());
                    fan_out(store, e.related_id.as_deref(), &mut affected, &mut push).await?
                }
                _ => {}
            }
        }
        let change_id = last.to_string();
        tracing::debug!(
            entries = entries.len(),
            users = affected.len(),
            ms = started.elapsed().as_millis() as u64,
            "feed read and fanned out"
        );
        let leaving = match job.state.allow_deletes {
            true => Vec::new(),
            false => deletion_guard::leaving_users(store, ctx, &affected).await?,
        };
        // Counting the accounts reads every shadow row: only when someone leaves.
        let limit = match leaving.is_empty() {
            true => None,
            false => guard_limit(store, &ctx.app, job).await?,
        };
        if let Some(limit) = limit {
            if leaving.len() as u64 > limit {
                // Nothing of this batch is done; the watermark stays before it.
                let staged = deletion_guard::stage(store, ctx, &leaving, limit, &change_id).await?;
                return Ok(CycleRun { counts, staged: Some(staged) });
            }
        }
        set_progress(progress, |p| p.total += affected.len() as u64);
        process_users(store, ctx, &affected, &change_id, concurrency, &mut counts, Some(progress)).await?;
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "users processed");
        // Then the groups: members are added after their accounts exist. The
        // watermark moves with them, so a crash before this point replays the batch.
        let group_ids = groups_to_sync(store, ctx, &groups, &affected).await?;
        let update = JobStateUpdate { watermark: Some(last), ..Default::default() };
        crate::groups::sync_groups(store, ctx, &group_ids, &change_id, Some(update), concurrency, &mut counts).await?;
        tracing::debug!(groups = group_ids.len(), ms = started.elapsed().as_millis() as u64, "groups processed");
        watermark = last;
    }
    set_progress(progress, |p| p.percent = 100.0);
    Ok(CycleRun { counts, staged: None })
}

/// The groups to sync after some users were processed: the groups named by
/// the changes, and every group that holds one of the users or of those groups,
/// directly or through nested groups.
pub(crate) async fn groups_to_sync(
    store: &Store,
    ctx: &CycleContext,
    groups: &[String],
    users: &[UserId],
) -> Result<Vec<GroupId>, EngineError> {
    if ctx.group_mapping.is_none() {
        return Ok(Vec::new());
    }
    let mut members: Vec<&str> = groups.iter().map(String::as_str).collect();
    members.extend(users.iter().map(|u| u.as_str()));
    let mut ids: Vec<GroupId> = Vec::new();
    let mut known: HashSet<String> = HashSet::new();
    for g in
        groups.iter().cloned().chain(store.containing_groups(&members).await?.into_iter().map(GroupId::into_string))
    {
        if known.insert(g.clone()) {
            ids.push(GroupId::from_stored(g));
        }
    }
    Ok(ids)
}

/// Retries the escrowed objects that are due.
async fn retry_escrow(
    store: &Store,
    ctx: &CycleContext,
    concurrency: usize,
    counts: &mut Counts,
) -> Result<(), EngineError> {
    let due = store.escrow_due(&ctx.app, ctx.clock.now_ms(), 5000).await?;
    if due.is_empty() {
        return Ok(());
    }
    let users: Vec<UserId> = due
        .iter()
        .filter(|e| e.object_kind == ObjectKind::User)
        .map(|e| UserId::from_stored(e.source_id.clone()))
        .collect();
    process_users(store, ctx, &users, "escrow", concurrency, counts, None).await?;
    // The escrowed groups, and the groups of the users retried: a user whose
    // account now exists, or is enabled again, joins them.
    let groups: Vec<String> =
        due.iter().filter(|e| e.object_kind == ObjectKind::Group).map(|e| e.source_id.clone()).collect();
    let groups = groups_to_sync(store, ctx, &groups, &users).await?;
    crate::groups::sync_groups(store, ctx, &groups, "escrow", None, concurrency, counts).await
}

/// The users a membership or assignment change affects: the user itself, or every
/// user in the group (nested groups included).
async fn fan_out(
    store: &Store,
    principal: Option<&str>,
    affected: &mut Vec<UserId>,
    push: &mut impl FnMut(String, &mut Vec<UserId>),
) -> Result<(), EngineError> {
    let Some(id) = principal else { return Ok(()) };
    let members = store.transitive_user_members(id).await?;
    if members.is_empty() {
        // A user (or an empty group: then nothing is pushed that exists).
        push(id.to_string(), affected);
    } else {
        for m in members {
            push(m.into_string(), affected);
        }
    }
    Ok(())
}

/// Sends and records some users (read from the store a batch at a time,
/// `None` for one gone from the directory), then the users that were waiting
/// for one of the accounts made (their manager). Returns every outcome.
pub async fn process_users(
    store: &Store,
    ctx: &CycleContext,
    ids: &[UserId],
    change_id: &str,
    concurrency: usize,
    counts: &mut Counts,
    progress: Option<&SharedProgress>,
) -> Result<Vec<Outcome>, EngineError> {
    let done = crate::pipeline::run(store, ctx, concurrency, counts, progress, true, |mut feeder| async move {
        for chunk in ids.chunks(BATCH) {
            let mut found: HashMap<UserId, User> =
                store.users_by_ids(chunk).await?.into_iter().map(|u| (u.id.clone(), u)).collect();
            let items = chunk.iter().map(|id| (id.clone(), found.remove(id))).collect();
            feeder.push(items, change_id, None, chunk.len() as u64).await?;
        }
        Ok(())
    })
    .await?;
    follow_references(store, ctx, done.created, change_id, concurrency, counts).await?;
    Ok(done.outcomes)
}

/// Moves the progress bar by `n` users recorded.
pub(crate) fn advance_progress(progress: &SharedProgress, n: u64, counts: &Counts) {
    set_progress(progress, |p| {
        p.done += n;
        p.percent = if p.total == 0 { 100.0 } else { (p.done as f64 * 100.0 / p.total as f64).min(100.0) };
        p.counts = counts.clone();
    });
}

/// Resolves references once the accounts they point at exist: the users waiting
/// for one of `created` (their manager) are processed again.
async fn follow_references(
    store: &Store,
    ctx: &CycleContext,
    mut created: Vec<String>,
    change_id: &str,
    concurrency: usize,
    counts: &mut Counts,
) -> Result<(), EngineError> {
    for _ in 0..8 {
        if created.is_empty() {
            break;
        }
        let mut waiting = Vec::new();
        for chunk in created.chunks(BATCH) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            waiting.extend(store.shadow_waiting_for(&ctx.app, &refs).await?.into_iter().map(UserId::from_stored));
        }
        // A change id of its own: the same user may already have an entry for `change_id`.
        let change_id = format!("{change_id}:references");
        let done = crate::pipeline::run(store, ctx, concurrency, counts, None, false, |mut feeder| async move {
            for chunk in waiting.chunks(BATCH) {
                let users = store.users_by_ids(chunk).await?;
                let items = users.into_iter().map(|u| (u.id.clone(), Some(u))).collect();
                feeder.push(items, &change_id, None, 0).await?;
            }
            Ok(())
        })
        .await?;
        created = done.created;
    }
    Ok(())
}
