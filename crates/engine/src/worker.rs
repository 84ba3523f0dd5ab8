//! This process as a worker: its id, the job leases it holds, and the pass that
//! renews them and takes or gives back leases so that jobs spread evenly over the
//! live workers (see `roster_store::leases`).
//!
//! A worker known to be alone (SQLite: one process holds the data directory)
//! takes every lease at once, a dead predecessor's included. Workers sharing a
//! PostgreSQL take free and expired leases only, each up to its fair share
//! (jobs / live workers, rounded up), and give back what is above it, so that a
//! worker that joins gets work and one that dies loses its jobs to the others
//! once its leases expire.

use crate::status::{self, JobLease, WorkerView};
use crate::{job, EngineError};
use roster_store::{AppId, Fence, Lease, Phase, Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How this process works beside others.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Shown in status and `GET /api/v1/workers` (default: host name and pid).
    pub name: String,
    /// How long a lease lasts without renewal; it is renewed every third of it.
    pub lease_ttl: Duration,
    /// The only process on this store (SQLite): takes every lease at once.
    pub alone: bool,
}

impl WorkerConfig {
    /// The only worker on its store.
    pub fn alone() -> WorkerConfig {
        WorkerConfig { name: default_name(), lease_ttl: Duration::from_secs(10), alone: true }
    }

    /// One of several workers sharing a store, with leases of `lease_ttl`.
    pub fn shared(name: Option<String>, lease_ttl: Duration) -> WorkerConfig {
        WorkerConfig {
            name: name.unwrap_or_else(default_name),
            lease_ttl: lease_ttl.max(Duration::from_secs(1)),
            alone: false,
        }
    }
}

fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// What a cycle's calls to the app check: whether this worker still holds the
/// job's lease. Past its local deadline (the last renewal plus the lease's
/// length) a worker stops calling the app even before it learns that another
/// worker took over, so that one paused (SIGSTOP) and woken sends nothing.
#[derive(Debug)]
pub struct LeaseWatch {
    deadline: Mutex<Instant>,
    lost: AtomicBool,
    alone: bool,
}

impl LeaseWatch {
    fn new(deadline: Instant, alone: bool) -> LeaseWatch {
        LeaseWatch { deadline: Mutex::new(deadline), lost: AtomicBool::new(false), alone }
    }

    /// Why the cycle must stop, if this worker may no longer hold the lease.
    pub fn gone(&self) -> Option<String> {
        if self.lost.load(Ordering::SeqCst) {
            return Some("another worker took over this job's lease: this worker stops calling the app".into());
        }
        if self.alone {
            return None;
        }
        let deadline = self.deadline.lock().map(|d| *d).unwrap_or_else(|p| *p.into_inner());
        (Instant::now() >= deadline).then(|| {
            "this worker's lease on the job ran out before it was renewed: it stops calling the app".to_string()
        })
    }

    fn renewed(&self, deadline: Instant) {
        if let Ok(mut d) = self.deadline.lock() {
            *d = deadline;
        }
    }
}

/// A lease this worker holds.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub token: i64,
    pub watch: Arc<LeaseWatch>,
}

/// This process as a worker.
pub(crate) struct Worker {
    pub id: String,
    pub config: WorkerConfig,
    held: Mutex<HashMap<AppId, Held>>,
    last_pass: Mutex<Option<Instant>>,
    registered: AtomicBool,
}

impl Worker {
    pub fn new(config: WorkerConfig) -> Worker {
        Worker {
            id: format!("w-{}", uuid::Uuid::new_v4().simple()),
            config,
            held: Mutex::new(HashMap::new()),
            last_pass: Mutex::new(None),
            registered: AtomicBool::new(false),
        }
    }

    fn ttl_ms(&self) -> i64 {
        i64::try_from(self.config.lease_ttl.as_millis()).unwrap_or(i64::MAX)
    }

    /// How often leases are renewed.
    pub fn renew_every(&self) -> Duration {
        self.config.lease_ttl / 3
    }

    /// The lease held on `app`, if any.
    pub fn held(&self, app: &AppId) -> Option<Held> {
        self.held.lock().ok().and_then(|h| h.get(app).cloned())
    }

    /// Whether this worker holds the lease of `app`.
    pub fn holds(&self, app: &AppId) -> bool {
        self.held(app).is_some()
    }

    /// The fence a cycle of `app` writes under.
    pub fn fence(&self, app: &AppId, held: &Held) -> Fence {
        Fence { app: app.clone(), holder: self.id.clone(), token: held.token }
    }

    fn keep(&self, leases: Vec<Lease>, since: Instant) {
        let deadline = since + self.config.lease_ttl;
        if let Ok(mut held) = self.held.lock() {
            for lease in leases {
                match held.get(&lease.app) {
                    Some(h) if h.token == lease.token => h.watch.renewed(deadline),
                    Some(h) => {
                        h.watch.lost.store(true, Ordering::SeqCst);
                        held.insert(
                            lease.app,
                            Held { token: lease.token, watch: Arc::new(LeaseWatch::new(deadline, self.config.alone)) },
                        );
                    }
                    None => {
                        held.insert(
                            lease.app,
                            Held { token: lease.token, watch: Arc::new(LeaseWatch::new(deadline, self.config.alone)) },
                        );
                    }
                }
            }
        }
    }

    /// Takes the lease of `app` now if it is free (or, alone, whatever holds it).
    pub async fn take(&self, store: &Store, app: &AppId) -> Result<Option<Held>, StoreError> {
        self.register(store).await?;
        let since = Instant::now();
        let taken = store.take_leases(&self.id, self.ttl_ms(), 1, Some(app), self.config.alone).await?;
        self.keep(taken, since);
        Ok(self.held(app))
    }

    /// Takes the lease of `app` now, whoever holds it (a newer token: the
    /// holder's writes are refused from now on). For an admin's operation on
    /// the job; the job's cycles then run here.
    pub async fn seize(&self, store: &Store, app: &AppId) -> Result<Option<Held>, StoreError> {
        if let Some(held) = self.held(app) {
            return Ok(Some(held));
        }
        self.register(store).await?;
        let since = Instant::now();
        let taken = store.take_leases(&self.id, self.ttl_ms(), 1, Some(app), true).await?;
        for lease in &taken {
            tracing::info!(app = %lease.app, token = lease.token, "took the lease on a job for an admin's operation");
        }
        self.keep(taken, since);
        Ok(self.held(app))
    }

    async fn register(&self, store: &Store) -> Result<(), StoreError> {
        if !self.registered.load(Ordering::SeqCst) {
            store.heartbeat(&self.id, &self.config.name, self.ttl_ms()).await?;
            self.registered.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Whether a pass is due (a third of the lease's length since the last).
    pub fn pass_due(&self) -> bool {
        self.last_pass.lock().map(|l| l.is_none_or(|t| t.elapsed() >= self.renew_every())).unwrap_or(true)
    }

    /// One pass: the heartbeat, the renewal of the leases held (a lease another
    /// worker took is dropped, and its cycle stops), then leases taken up to the
    /// fair share or given back above it; `running` tells which jobs have a cycle
    /// under way (those are not given back).
    pub async fn pass(&self, store: &Store, jobs: usize, running: impl Fn(&AppId) -> bool) -> Result<(), StoreError> {
        if let Ok(mut l) = self.last_pass.lock() {
            *l = Some(Instant::now());
        }
        let since = Instant::now();
        store.heartbeat(&self.id, &self.config.name, self.ttl_ms()).await?;
        self.registered.store(true, Ordering::SeqCst);
        let renewed = store.renew_leases(&self.id, self.ttl_ms()).await?;
        if let Ok(mut held) = self.held.lock() {
            held.retain(|app, h| {
                let kept = renewed.iter().any(|l| &l.app == app && l.token == h.token);
                if !kept {
                    h.watch.lost.store(true, Ordering::SeqCst);
                    tracing::warn!(app = %app, token = h.token, "lost the lease on a job to another worker");
                }
                kept
            });
        }
        self.keep(renewed, since);
        let held = self.held.lock().map(|h| h.len()).unwrap_or(0);
        if self.config.alone {
            let since = Instant::now();
            let taken = store.take_leases(&self.id, self.ttl_ms(), i64::MAX, None, true).await?;
            self.keep(taken, since);
            return Ok(());
        }
        let live = usize::try_from(store.live_workers().await?).unwrap_or(1).max(1);
        let share = jobs.div_ceil(live);
        if held < share {
            let since = Instant::now();
            let want = i64::try_from(share - held).unwrap_or(0);
            let taken = store.take_leases(&self.id, self.ttl_ms(), want, None, false).await?;
            for lease in &taken {
                tracing::info!(app = %lease.app, token = lease.token, "took the lease on a job");
            }
            self.keep(taken, since);
        } else if held > share {
            let extra: Vec<AppId> = self
                .held
                .lock()
                .map(|h| h.keys().filter(|a| !running(a)).take(held - share).cloned().collect())
                .unwrap_or_default();
            for app in extra {
                store.release_lease(&self.id, &app).await?;
                if let Ok(mut h) = self.held.lock() {
                    if let Some(gone) = h.remove(&app) {
                        gone.watch.lost.store(true, Ordering::SeqCst);
                    }
                }
                tracing::info!(app = %app, "gave back the lease on a job, for a worker with fewer");
            }
        }
        Ok(())
    }

    /// At a graceful stop: every lease given back, the worker marked stopped.
    pub async fn stop(&self, store: &Store) -> Result<(), StoreError> {
        if let Ok(mut h) = self.held.lock() {
            h.clear();
        }
        store.worker_stopped(&self.id).await
    }
}

/// The engine's work across workers: cycles asked of a worker without the
/// lease, the workers' view, and the lease an admin's operation takes.
impl crate::Engine {
    /// A cycle of a job another worker holds: a change-feed entry wakes that
    /// worker, and this one waits (at most 15 minutes) for the cycle that covers it.
    pub(crate) async fn cycle_elsewhere(&self, app: &AppId) -> Result<status::Counts, EngineError> {
        let before = self.store.job(app).await?.and_then(|row| job::state_of(&row).ok()).and_then(|s| s.last_cycle_id);
        let asked = self.store.request_cycle(app).await?;
        let deadline = Instant::now() + Duration::from_secs(900);
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let Some(row) = self.store.job(app).await? else { break };
            let state = job::state_of(&row)?;
            let covered = row.watermark >= asked || row.phase == Phase::Initial;
            if state.last_cycle_id.is_some() && state.last_cycle_id != before && covered {
                return Ok(state.last_cycle);
            }
            let lease = self.store.lease_of(app).await?;
            if lease.is_some_and(|l| l.holder.as_deref() == Some(self.worker.id.as_str())) {
                // The lease came to this worker meanwhile: run it here.
                return Box::pin(self.cycle(app)).await;
            }
        }
        Err(EngineError::Elsewhere(format!(
            "app {app} runs on another worker, whose cycle did not come within 15 minutes; see GET /api/v1/workers"
        )))
    }

    /// The workers sharing the store (those seen in the last hour), with the jobs
    /// each holds.
    pub async fn workers(&self) -> Result<Vec<WorkerView>, EngineError> {
        let now = self.store.clock_ms().await?;
        let leases = self.store.leases().await?;
        Ok(self
            .store
            .workers(3_600_000)
            .await?
            .into_iter()
            .map(|w| WorkerView {
                live: w.stopped_at.is_none() && w.heartbeat_at + w.lease_ttl_ms > now,
                this: w.id == self.worker.id,
                jobs: leases
                    .iter()
                    .filter(|l| l.holder.as_deref() == Some(w.id.as_str()) && l.expires_at > now)
                    .map(|l| l.app_id.to_string())
                    .collect(),
                id: w.id,
                name: w.name,
                started_at: w.started_at,
                heartbeat_at: w.heartbeat_at,
                stopped_at: w.stopped_at,
            })
            .collect())
    }

    /// Gives every lease back and marks this worker stopped (a graceful stop).
    pub async fn stop_worker(&self) {
        if let Err(e) = self.worker.stop(&self.store).await {
            tracing::warn!(error = %e, "cannot give the job leases back; they expire on their own");
        }
    }

    /// Which worker runs `app`'s cycles.
    pub(crate) async fn job_lease(&self, app: &AppId) -> Result<Option<JobLease>, EngineError> {
        let Some(lease) = self.store.lease_of(app).await? else { return Ok(None) };
        let name = match &lease.holder {
            Some(id) => self.store.workers(i64::MAX / 2).await?.into_iter().find(|w| &w.id == id).map(|w| w.name),
            None => None,
        };
        Ok(Some(JobLease {
            here: lease.holder.as_deref() == Some(self.worker.id.as_str()),
            worker_id: lease.holder,
            worker_name: name,
            token: lease.token,
            expires_at: lease.expires_at,
        }))
    }

    /// The store an operation on `app`'s job writes through; the caller holds the
    /// job's local lock. Fenced by the job's lease, which this worker takes over
    /// if another holds it: that worker's running cycle is then refused its
    /// writes and stops (its work is redone by the next cycle), so that an
    /// admin's change is never overwritten by a cycle that began before it.
    pub(crate) async fn exclusive_store(&self, app: &AppId) -> Result<Store, EngineError> {
        let held = match self.worker.held(app) {
            Some(held) => held,
            None => self
                .worker
                .seize(&self.store, app)
                .await?
                .ok_or_else(|| EngineError::NotConfigured("provisioning is not configured".into()))?,
        };
        Ok(self.store.fenced(self.worker.fence(app, &held)))
    }
}
