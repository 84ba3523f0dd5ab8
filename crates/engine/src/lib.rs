//! The provisioning engine: one job per application, cycles that walk the
//! directory (initial) or the change feed (incremental), and the operations the
//! API offers on a job (configure, test connection, start/stop/restart, sync,
//! status, provision on demand). A scheduler wakes a job within a second of a
//! directory change and on its interval as a safety net.

mod aftercare;
pub mod authorize;
pub mod config;
pub mod connect;
pub mod cycle;
pub mod decide;
mod deletion_guard;
pub mod destinations;
pub mod drift;
pub mod expression;
pub mod gallery;
pub mod groups;
pub mod handoff;
pub mod inbound;
pub mod job;
mod managers;
pub mod metrics;
pub mod on_demand;
mod pipeline;
pub mod plan;
mod recovery;
pub mod reliability;
pub mod roles;
pub mod settings;
pub mod snapshot;
pub mod source;
pub mod status;
pub mod worker;

use expression::ExpressionResult;
use job::{CycleEnv, LoadedJob, SharedProgress};
use on_demand::{Preview, ProvisioningOutcome};
use reliability::{Clock, SystemClock};
use roster_connectors::ConnectorError;
pub use roster_connectors::{Aspect, Dialect, Form};
use roster_mapping::AppMappings;
use roster_notify::SmtpConfig;
use roster_store::secrets::Cipher;
use roster_store::{AppId, JobStateUpdate, ObjectKind, Phase, Store, StoreError, UserId};
use serde_json::Value;
use settings::{JobSettings, SettingsPatch, SettingsView, Status};
use status::{
    AccountCounts, AllowedDeletes, EscrowSummary, GroupCounts, JobState, ProvisioningState, ProvisioningStatus,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A map of a cycle's own ids (users placed, requests settled), looked up for
/// every user: a fast hash, seeded per map.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
/// A set of a cycle's own ids; see [`FastMap`].
pub(crate) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
pub use worker::WorkerConfig;

/// What the engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// The job lacks something it needs (URL, token).
    #[error("provisioning is not configured: {0}")]
    NotConfigured(String),
    /// The job's lease is held by another live worker, which runs its cycles.
    #[error("{0}")]
    Elsewhere(String),
    /// The request is invalid (a bad mapping, an expression too long).
    #[error("{0}")]
    Invalid(String),
    /// A setting is refused: `field` names it as the settings do
    /// (`tenantUrl`, `interval`), so that a form shows `message` next to it.
    #[error("{message}")]
    InvalidSetting {
        /// The settings field, e.g. `tenantUrl`.
        field: String,
        /// What is wrong with it, and what to give instead.
        message: String,
    },
    /// A stored column of a job does not decode: the job is not run, and
    /// nothing is written over it (defaults would silently replace an admin's
    /// settings).
    #[error("the stored {column} of app {app} cannot be read ({message}); restore it from a backup, or set the app up again")]
    Corrupt {
        /// The app whose job it is.
        app: AppId,
        /// The column (`settings`, `state`).
        column: &'static str,
        /// What does not decode.
        message: String,
    },
}

impl EngineError {
    /// A refusal of the setting `field`.
    pub fn invalid_setting(field: &str, message: impl Into<String>) -> EngineError {
        EngineError::InvalidSetting { field: field.to_string(), message: message.into() }
    }
}

/// The next wake-up from the feed listener; never, without one.
async fn wake(listener: &mut Option<roster_store::FeedListener>) -> Result<(), StoreError> {
    match listener {
        Some(l) => l.next().await,
        None => std::future::pending().await,
    }
}

/// One job's live handle: its progress and the lock that keeps its cycles one at a time.
#[derive(Default)]
struct JobHandle {
    progress: SharedProgress,
    running: tokio::sync::Mutex<()>,
    last_run: Mutex<Option<Instant>>,
}

/// The provisioning engine of one roster process.
pub struct Engine {
    store: Store,
    cipher: Cipher,
    jobs: Mutex<HashMap<AppId, Arc<JobHandle>>>,
    clock: Arc<dyn Clock>,
    smtp: Option<SmtpConfig>,
    metrics: Arc<metrics::Metrics>,
    worker: worker::Worker,
    inbound: inbound::Inbound,
}

impl Engine {
    /// An engine over `store`, sealing credentials with `cipher`, on the real
    /// clock and mailing no alerts.
    pub fn new(store: Store, cipher: Cipher) -> Arc<Engine> {
        Engine::with(store, cipher, Arc::new(SystemClock), None)
    }

    /// An engine with its clock and the SMTP server alerts go through.
    pub fn with(store: Store, cipher: Cipher, clock: Arc<dyn Clock>, smtp: Option<SmtpConfig>) -> Arc<Engine> {
        Engine::build(store, cipher, clock, smtp, WorkerConfig::alone())
    }

    /// An engine working as `worker` says: alone on its store, or one of several
    /// workers sharing it through job leases.
    pub fn build(
        store: Store,
        cipher: Cipher,
        clock: Arc<dyn Clock>,
        smtp: Option<SmtpConfig>,
        worker: WorkerConfig,
    ) -> Arc<Engine> {
        let metrics = Arc::new(metrics::Metrics::new());
        let worker = worker::Worker::new(worker);
        Arc::new(Engine {
            store,
            cipher,
            jobs: Mutex::new(HashMap::new()),
            clock,
            smtp,
            metrics,
            worker,
            inbound: inbound::Inbound::default(),
        })
    }

    /// This worker's id in the store (see `GET /api/v1/workers`).
    pub fn worker_id(&self) -> &str {
        &self.worker.id
    }

    /// The engine's clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    fn handle(&self, app: &AppId) -> Arc<JobHandle> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.entry(app.clone()).or_default().clone()
    }

    /// Runs the scheduler until `shutdown` resolves: polls the change feed's head
    /// every 200 ms; a job runs when the feed moved past its watermark (after a short
    /// quiet period, so that a burst of changes is one cycle), when it is in its
    /// initial phase, or when its interval elapsed.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut last_head = -1i64;
        // On PostgreSQL a write to the feed wakes the scheduler at once (the
        // polling stays, slower, as the fallback).
        let mut listener = match self.store.feed_listener().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen to the change feed; polling it instead");
                None
            }
        };
        loop {
            let poll = if listener.is_some() {
                Duration::from_millis(500).min(self.worker.renew_every())
            } else {
                Duration::from_millis(200)
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(poll) => {}
                woke = wake(&mut listener) => {
                    if let Err(e) = woke {
                        tracing::warn!(error = %e, "lost the change feed's notifications; polling it instead");
                        listener = None;
                    }
                }
            }
            let head = match self.store.feed_head().await {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the change feed");
                    continue;
                }
            };
            if head != last_head && last_head >= 0 {
                // Debounce: let a burst of writes finish.
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            last_head = head;
            let inbound = self.clone();
            tokio::spawn(async move { inbound.inbound_tick().await });
            self.tick(head).await;
        }
    }

    /// One pass of the scheduler: starts a cycle for every job that is due (on,
    /// not in quarantine or holding, and with work: initial phase, the feed past
    /// its watermark, an escrowed object due, or its interval elapsed).
    pub async fn tick(self: &Arc<Self>, head: i64) {
        let started = Instant::now();
        let jobs = self.store.jobs().await;
        self.metrics.store("jobs", started.elapsed());
        let jobs = match jobs {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the jobs");
                return;
            }
        };
        if self.worker.pass_due() {
            let running = |app: &AppId| self.handle(app).running.try_lock().is_err();
            if let Err(e) = self.worker.pass(&self.store, jobs.len(), running).await {
                tracing::warn!(error = %e, "cannot renew or take job leases");
            }
        }
        let now = self.clock.now_ms();
        for row in jobs {
            if !self.worker.holds(&row.app_id) {
                // Another worker runs it (or will, once its lease is free).
                continue;
            }
            // An unreadable job is not run; its status says why.
            let (Ok(settings), Ok(state)) = (job::settings_of(&row), job::state_of(&row)) else { continue };
            if settings.status != Status::On {
                continue;
            }
            if state.quarantine.as_ref().is_some_and(|q| q.next_attempt.is_none_or(|t| t > now))
                || state.hold_until.is_some_and(|t| t > now)
            {
                continue;
            }
            let handle = self.handle(&row.app_id);
            let interval_due = handle
                .last_run
                .lock()
                .map(|l| l.is_none_or(|t| t.elapsed() >= Duration::from_secs(settings.interval_secs.max(1))))
                .unwrap_or(true);
            let escrow_due = match self.store.escrow_next_due(&row.app_id).await {
                Ok(next) => next.is_some_and(|t| t <= now),
                Err(_) => false,
            };
            let due = row.phase == Phase::Initial
                || row.watermark < head
                || interval_due
                || escrow_due
                || state.quarantine.is_some();
            if !due || handle.running.try_lock().is_err() {
                continue;
            }
            let engine = self.clone();
            let app = row.app_id.clone();
            tokio::spawn(async move {
                if let Err(e) = engine.cycle(&app).await {
                    tracing::warn!(app = %app, error = %e, "provisioning cycle failed");
                }
            });
        }
    }

    /// Waits (at most `limit`) for the cycles that are running to end, so that the
    /// store is not closed under them at shutdown. A cycle cut short anyway leaves
    /// its intents, and the next start checks those objects against the app.
    pub async fn drain(&self, limit: Duration) {
        let handles: Vec<Arc<JobHandle>> = self.jobs.lock().map(|j| j.values().cloned().collect()).unwrap_or_default();
        let all = async {
            for h in handles {
                let _done = h.running.lock().await;
            }
        };
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::warn!("cycles still running at shutdown; they resume from their last record at the next start");
        }
    }

    /// Runs one cycle of `app` now (waiting for a running one to end first), on
    /// this worker if it holds the job's lease or can take it; otherwise asks the
    /// worker that holds it and waits for the cycle it runs.
    pub async fn cycle(&self, app: &AppId) -> Result<status::Counts, EngineError> {
        let handle = self.handle(app);
        let _guard = handle.running.lock().await;
        let held = match self.worker.held(app) {
            Some(held) => held,
            None => match self.worker.take(&self.store, app).await? {
                Some(held) => held,
                None => {
                    drop(_guard);
                    return self.cycle_elsewhere(app).await;
                }
            },
        };
        if let Ok(mut l) = handle.last_run.lock() {
            *l = Some(Instant::now());
        }
        use tracing::Instrument;
        let env = CycleEnv {
            cipher: &self.cipher,
            clock: self.clock.clone(),
            smtp: self.smtp.as_ref(),
            metrics: Some(self.metrics.clone()),
            lease: Some(held.watch.clone()),
        };
        let store = self.store.fenced(self.worker.fence(app, &held));
        let started = Instant::now();
        let result = job::run_cycle(&store, &env, app, &handle.progress)
            .instrument(tracing::info_span!(
                "cycle",
                app = %app,
                token = held.token,
                cycle_id = tracing::field::Empty
            ))
            .await;
        if result.is_err() {
            if let Ok(mut p) = handle.progress.lock() {
                p.running = false;
            }
        }
        if let Err(EngineError::Store(StoreError::Fenced { .. })) = &result {
            self.metrics.fenced(app.as_str());
        }
        self.metrics.cycle(app.as_str(), started.elapsed(), result.as_ref().ok());
        result
    }

    /// The engine's metrics in the OpenMetrics text format, each job's escrow,
    /// quarantine and change-feed lag read now.
    pub async fn metrics_text(&self) -> Result<String, EngineError> {
        let head = self.store.feed_head().await?;
        let now = roster_store::now_ms();
        self.metrics.forget_jobs();
        for row in self.store.jobs().await? {
            let (_, escrowed) = self.store.escrow(&row.app_id, 0).await?;
            let quarantined = job::state_of(&row).map(|s| s.quarantine.is_some()).unwrap_or(false);
            let lag = u64::try_from(head - row.watermark).unwrap_or(0);
            let oldest = if lag > 0 { self.store.feed_oldest_after(row.watermark).await? } else { None };
            let gauges = metrics::JobGauges {
                escrowed: u64::try_from(escrowed).unwrap_or(0),
                quarantined,
                feed_lag: lag,
                feed_lag_seconds: oldest.map_or(0.0, |at| (now - at).max(0) as f64 / 1000.0),
                lease_held: self.worker.holds(&row.app_id),
            };
            self.metrics.job(row.app_id.as_str(), gauges);
        }
        Ok(self.metrics.text())
    }

    async fn settings_of(&self, app: &AppId) -> Result<(JobSettings, Option<String>, Option<Value>), EngineError> {
        let application = self.store.app(app).await?;
        Ok(match self.store.job(app).await? {
            Some(row) => (job::settings_of(&row)?, row.credentials, row.mappings),
            None => (gallery::require(&application.template)?.initial_settings(), None, None),
        })
    }

    /// Applies a settings change; a secret token is sealed, never stored in clear.
    pub async fn configure(&self, app: &AppId, patch: SettingsPatch) -> Result<SettingsView, EngineError> {
        self.configure_and(app, patch, false).await
    }

    /// Applies a settings change; a job in quarantine is changed under its cycle
    /// lock, then tries again at once (new credentials) or leaves quarantine
    /// (`end_quarantine`: a start).
    async fn configure_and(
        &self,
        app: &AppId,
        patch: SettingsPatch,
        end_quarantine: bool,
    ) -> Result<SettingsView, EngineError> {
        let a = self.store.app(app).await?;
        if inbound::SourceTemplate::parse(&a.template).is_some() {
            return Err(EngineError::Invalid(format!(
                "{} is an inbound source: its settings are at /api/v1/sources/{app}",
                a.name
            )));
        }
        let quarantined = match self.store.job(app).await? {
            Some(row) => serde_json::from_value::<JobState>(row.state).is_ok_and(|s| s.quarantine.is_some()),
            None => false,
        };
        let handle = self.handle(app);
        let _guard = if quarantined { Some(handle.running.lock().await) } else { None };
        let (mut s, stored, _) = self.settings_of(app).await?;
        let before = s.clone();
        patch.apply_outbound_limits(&mut s)?;
        connect::apply_vendor_settings(&mut s, &patch)?;
        let change = connect::seal_credentials(&self.cipher, app, &before, &s, stored.as_deref(), &patch)?;
        let sealed = change.sealed;
        let was_manual = connect::hands_off(&s);
        patch.apply_running(&mut s)?;
        let settings = serde_json::to_value(&s).map_err(|e| EngineError::Invalid(e.to_string()))?;
        if was_manual && !connect::hands_off(&s) {
            handoff::leave_manual_mode(&self.store, app).await?;
        }
        self.store.save_job_config(app, &settings, sealed.as_deref(), None).await?;
        if quarantined && (end_quarantine || sealed.is_some()) {
            // A start ends the quarantine; new credentials are tried at once.
            let now = self.clock.now_ms();
            self.write_state(app, |st| {
                if end_quarantine {
                    st.quarantine = None;
                    st.failed_cycles = 0;
                } else if let Some(q) = st.quarantine.as_mut() {
                    if q.next_attempt.is_some() {
                        q.next_attempt = Some(now);
                    }
                }
                st.hold_until = None;
            })
            .await?;
        }
        let mut view = self.settings_view(app).await?;
        view.cleared_credentials = change.cleared.iter().map(|c| c.to_string()).collect();
        Ok(view)
    }

    /// The settings as the API shows them: secrets only as "set".
    pub async fn settings_view(&self, app: &AppId) -> Result<SettingsView, EngineError> {
        let (settings, creds, _) = self.settings_of(app).await?;
        let credentials = connect::credentials_view(&self.cipher, app, creds.as_deref());
        Ok(SettingsView { settings, credentials, cleared_credentials: Vec::new() })
    }

    /// Tests the connection the way identity providers do; `Ok` carries what was checked.
    pub async fn test_connection(&self, app: &AppId) -> Result<String, EngineError> {
        let row = self
            .store
            .job(app)
            .await?
            .ok_or_else(|| EngineError::NotConfigured("set the tenant URL and secret token first".into()))?;
        let job = LoadedJob::load(row)?;
        let connector = connect::connector(&self.cipher, &job)?;
        let matching = job
            .user_mapping
            .matching_attributes()
            .first()
            .map(|(_, t)| t.to_string())
            .unwrap_or_else(|| "userName".into());
        let checked = connector.test_connection(&matching).await.map_err(destinations::short_error)?;
        let checked = destinations::short_echo(&checked);
        Ok(match roles::import_roles(&self.store, app, connector.as_ref()).await? {
            Some(report) => format!("{checked}; {}", roles::describe(&report)),
            None => checked,
        })
    }

    /// Turns provisioning on or off.
    pub async fn set_status(&self, app: &AppId, status: Status) -> Result<SettingsView, EngineError> {
        let patch = SettingsPatch { status: Some(status), ..Default::default() };
        // A start ends a quarantine.
        self.configure_and(app, patch, status == Status::On).await
    }

    /// Restarts provisioning: the next cycle is an initial one. `full` also forgets
    /// the shadow (every account is matched again, never duplicated).
    pub async fn restart(&self, app: &AppId, full: bool) -> Result<(), EngineError> {
        let handle = self.handle(app);
        let _guard = handle.running.lock().await;
        if self.store.job(app).await?.is_none() {
            return Err(EngineError::NotConfigured("provisioning is not configured".into()));
        }
        let store = self.exclusive_store(app).await?;
        if full {
            store.clear_shadow(app).await?;
        }
        store.clear_escrow(app).await?;
        let mut state: JobState = JobState::default();
        if !full {
            if let Some(row) = self.store.job(app).await? {
                state = job::state_of(&row)?;
                state.steady_state_at = None;
                state.quarantine = None;
                state.staged = None;
                state.hold_until = None;
                state.failed_cycles = 0;
            }
        }
        let update = JobStateUpdate {
            phase: Some(Phase::Initial),
            watermark: Some(0),
            initial_cursor: Some(None),
            initial_head: Some(None),
            state: Some(serde_json::to_value(&state).unwrap_or_default()),
        };
        store.update_job_state(app, &update).await?;
        Ok(())
    }

    /// Changes a job's state under its cycle lock.
    async fn update_state(&self, app: &AppId, f: impl FnOnce(&mut JobState)) -> Result<(), EngineError> {
        let handle = self.handle(app);
        let _guard = handle.running.lock().await;
        self.write_state(app, f).await
    }

    /// Changes a job's state; the caller holds the cycle lock.
    async fn write_state(&self, app: &AppId, f: impl FnOnce(&mut JobState)) -> Result<(), EngineError> {
        let row = job::configured_row(&self.store, app).await?;
        let mut state = job::state_of(&row)?;
        f(&mut state);
        let update = JobStateUpdate {
            state: Some(serde_json::to_value(&state).unwrap_or_default()),
            ..JobStateUpdate::default()
        };
        self.exclusive_store(app).await?.update_job_state(app, &update).await?;
        Ok(())
    }

    /// Lets the disables the deletion guard staged through: the next cycle does
    /// them, and the job leaves quarantine.
    pub async fn allow_deletes(&self, app: &AppId) -> Result<AllowedDeletes, EngineError> {
        let mut had = None;
        self.update_state(app, |s| {
            had = s.staged.clone();
            s.allow_deletes = true;
            if s.quarantine.as_ref().is_some_and(|q| q.reason == reliability::QuarantineReason::TooManyDeletes) {
                s.quarantine = None;
            }
            s.hold_until = None;
        })
        .await?;
        Ok(AllowedDeletes { allowed: had.map(|s| s.count).unwrap_or(0) })
    }

    /// Ends a quarantine now (an admin's `start`, or fixed credentials): the next
    /// scheduler pass runs the job.
    pub async fn end_quarantine(&self, app: &AppId) -> Result<(), EngineError> {
        self.update_state(app, |s| {
            s.quarantine = None;
            s.hold_until = None;
            s.failed_cycles = 0;
        })
        .await
    }

    /// The status of a job.
    pub async fn status(&self, app: &AppId) -> Result<ProvisioningStatus, EngineError> {
        self.store.app(app).await?;
        let Some(row) = self.store.job(app).await? else {
            return Ok(ProvisioningStatus::default());
        };
        let (settings, state) = match (job::settings_of(&row), job::state_of(&row)) {
            (Ok(settings), Ok(state)) => (settings, state),
            (Err(e), _) | (_, Err(e)) => return Ok(ProvisioningStatus::unreadable(row.phase, e.to_string())),
        };
        let progress = self.handle(app).progress.lock().map(|p| p.clone()).unwrap_or_default();
        let configured = connect::is_configured(&self.cipher, app, &settings, row.credentials.as_deref());
        let (label, activity) = ProvisioningState::of(&settings, configured);
        let (provisioned, enabled) = self.store.shadow_count(app, ObjectKind::User).await?;
        let (groups, in_scope) = self.store.shadow_count(app, ObjectKind::Group).await?;
        let (items, count) = self.store.escrow(app, 20).await?;
        Ok(ProvisioningStatus {
            state: label,
            activity,
            mode: Some(settings.mode),
            phase: Some(row.phase),
            watermark: Some(row.watermark),
            progress,
            last_cycle: state.last_cycle,
            to_date: state.to_date,
            last_cycle_id: state.last_cycle_id,
            last_cycle_at: state.last_cycle_at,
            last_cycle_ms: state.last_cycle_ms,
            last_success_at: state.last_success_at,
            steady_state_at: state.steady_state_at,
            last_error: state.last_error,
            accounts: AccountCounts { provisioned, enabled },
            groups: GroupCounts { provisioned: groups, in_scope },
            quarantine: state.quarantine,
            escrow: EscrowSummary { count, items },
            staged: state.staged,
            allow_deletes: state.allow_deletes,
            hold_until: state.hold_until,
            dialect: Dialect { pinned: settings.dialect, ..state.dialect },
            worker: self.job_lease(app).await?,
        })
    }

    /// Forgets what roster learned of the app's SCIM dialect (the forms and the
    /// attributes refused in every form): the next changes start again from
    /// the first forms. Pinned forms stay. Returns what was forgotten.
    pub async fn reset_dialect(&self, app: &AppId) -> Result<Dialect, EngineError> {
        let mut had = Dialect::default();
        self.update_state(app, |s| had = std::mem::take(&mut s.dialect)).await?;
        Ok(had)
    }

    /// Runs the steps for one user now and returns each step's outcome.
    pub async fn provision_on_demand(&self, app: &AppId, user: &UserId) -> Result<ProvisioningOutcome, EngineError> {
        let row = job::configured_row(&self.store, app).await?;
        let job = LoadedJob::load(row)?;
        let connector = connect::connector(&self.cipher, &job)?;
        // Never beside a cycle of the same job, and with the assignments as they
        // are once that cycle is over.
        let handle = self.handle(app);
        let _guard = handle.running.lock().await;
        let u = self.store.user(user).await?;
        let user_id = u.id.clone();
        let cycle_id = format!("on-demand-{}", uuid::Uuid::new_v4());
        let store = self.exclusive_store(app).await?;
        let ctx = job::cycle_context(
            &store,
            app,
            &job,
            connector,
            cycle_id,
            &CycleEnv {
                cipher: &self.cipher,
                clock: self.clock.clone(),
                smtp: self.smtp.as_ref(),
                metrics: Some(self.metrics.clone()),
                lease: self.worker.held(app).map(|h| h.watch),
            },
        )
        .await?;
        let mut counts = status::Counts::default();
        let outcomes =
            job::process_users(&store, &ctx, std::slice::from_ref(&user_id), "on-demand", 1, &mut counts, None).await?;
        // Its groups follow at once: an account made or enabled joins them now.
        let groups = job::groups_to_sync(&store, &ctx, &[], std::slice::from_ref(&user_id)).await?;
        groups::sync_groups(&store, &ctx, &groups, "on-demand", None, 1, &mut counts).await?;
        // The user's own outcome (a manager without an account goes first).
        let log = outcomes.into_iter().find(|o| o.source_id == user_id).and_then(|o| o.log);
        Ok(log.map(ProvisioningOutcome::from).unwrap_or_else(ProvisioningOutcome::nothing_to_do))
    }

    /// What the app would receive for a user now: scope and mapped attributes.
    pub async fn preview(&self, app: &AppId, user: &UserId) -> Result<Preview, EngineError> {
        let row = self.store.job(app).await?;
        let mappings = match &row {
            Some(r) => job::mappings_of(r)?,
            None => roster_mapping::defaults::scim_app_mappings(),
        };
        let mapping = job::compile_user_mapping(&mappings)?;
        let u = self.store.user(user).await?;
        let scope_all = match &row {
            Some(r) => job::settings_of(r)?.scope == settings::Scope::All,
            None => false,
        };
        // The same scope rule as a cycle's, roles included.
        let roles =
            self.store.effective_roles(app, std::slice::from_ref(&u.id)).await?.remove(&u.id).unwrap_or_default();
        let app_roles = self.store.app_roles(app).await?.into_iter().map(|r| (r.id.clone(), r)).collect();
        let (src, reason) = cycle::scope_of(&u, &roles, &app_roles, scope_all, &mapping);
        let ctx = roster_mapping::EvalContext::at(chrono::Utc::now());
        let attrs = mapping.evaluate(&src, &ctx, true).map_err(|e| EngineError::Invalid(e.to_string()))?;
        Ok(Preview {
            user: u.user_name.clone(),
            in_scope: reason.is_none(),
            out_of_scope: reason.map(str::to_string),
            attributes: attrs.into_iter().map(|a| (a.target, a.value.to_json())).collect(),
        })
    }

    /// The expression tester: evaluates `expression` over the user a userName
    /// or id names (none, or only spaces: an empty user). The one entry point
    /// of the REST API's tester and the portal's.
    pub async fn evaluate_expression(
        &self,
        user: Option<&str>,
        expression: &str,
    ) -> Result<ExpressionResult, EngineError> {
        let user = match user.map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => Some(self.store.find_user(u).await?),
            None => None,
        };
        expression::evaluate(expression, user).await
    }

    /// The mapping document of an app.
    pub async fn mappings(&self, app: &AppId) -> Result<AppMappings, EngineError> {
        self.store.app(app).await?;
        match self.store.job(app).await? {
            Some(row) => job::mappings_of(&row),
            None => Ok(roster_mapping::defaults::scim_app_mappings()),
        }
    }

    /// Validates and saves a mapping document; the next cycle evaluates every
    /// provisioned object again and sends only what changes.
    pub async fn set_mappings(&self, app: &AppId, mappings: AppMappings) -> Result<(), EngineError> {
        job::compile_user_mapping(&mappings)?;
        let (s, _, _) = self.settings_of(app).await?;
        let settings = serde_json::to_value(&s).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let doc = serde_json::to_value(&mappings).map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.store.save_job_config(app, &settings, None, Some(&doc)).await?;
        Ok(())
    }

    /// The store the engine works on.
    pub fn store(&self) -> &Store {
        &self.store
    }
}
