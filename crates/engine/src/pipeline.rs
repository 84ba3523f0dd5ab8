//! The pipeline that keeps the app busy. Users go through three stages that run
//! at once: `prepare` reads the next users, splits them into waves (managers
//! first, see `crate::managers`) and writes their intents; `send` keeps up to
//! `concurrency` requests in flight across wave and batch boundaries; `record`
//! stores each wave's outcome (shadow, logs, escrow, cursor) once every user of
//! it is done, in the order the waves were prepared, in a transaction that runs
//! behind the sending.
//!
//! A report whose manager is still in flight in an earlier wave waits, at send
//! time, for that manager's account, so that it is made with its manager in one
//! request. Waves are sent in order, so the manager's request has started
//! before its report waits; a loop in the management chain is cut by the waves.
//!
//! Crash safety: a wave's intent (one row naming each of its users with the
//! matching values sent) is written before any of them is sent and cleared by
//! the wave's record; the cursor or watermark moves only with the record of
//! the wave that carries it, after every wave before it has been recorded.

use crate::cycle::{process_user, Action, CycleContext, Imported, Outcome};
use crate::groups::GroupOutcome;
use crate::job::SharedProgress;
use crate::managers::Item;
use crate::status::Counts;
use crate::EngineError;
use crate::{FastMap, FastSet};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use roster_store::{JobStateUpdate, ObjectKind, RecordBatch, Store, StoreError, UserId};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};

/// One wave, prepared: its users imported and their intents written.
pub(crate) struct Wave {
    items: Vec<Imported>,
    /// Groups the leaving users of the wave were removed from.
    group_outcomes: Vec<GroupOutcome>,
    /// The intents to clear with the record: the wave's own, and its members'.
    intent_clears: Vec<(String, String)>,
    /// The cursor or watermark to move with the record.
    job_update: Option<JobStateUpdate>,
    /// Users of the walk this wave completes, for the progress bar.
    progress: u64,
}

/// What a wave waits for before it is recorded.
struct Open {
    wave: Wave,
    expected: usize,
    outcomes: Vec<Outcome>,
    /// The wave's `batch` span: its users' `object` spans and its record are in it.
    span: tracing::Span,
}

/// What the pipeline did: the accounts made (for references still pending) and,
/// when asked for, every outcome.
#[derive(Default)]
pub(crate) struct Done {
    pub created: Vec<String>,
    pub outcomes: Vec<Outcome>,
}

/// The users whose request is over in this run (success or not), and a bell
/// rung each time one is.
#[derive(Default)]
struct Settled {
    ids: Mutex<crate::FastSet<String>>,
    bell: Notify,
}

impl Settled {
    fn settle(&self, id: &str) {
        if let Ok(mut ids) = self.ids.lock() {
            ids.insert(id.to_string());
        }
        self.bell.notify_waiters();
    }

    fn is_settled(&self, id: &str) -> bool {
        self.ids.lock().map(|ids| ids.contains(id)).unwrap_or(true)
    }

    async fn wait(&self, id: &str) {
        loop {
            let rung = self.bell.notified();
            tokio::pin!(rung);
            rung.as_mut().enable();
            if self.is_settled(id) {
                return;
            }
            rung.await;
        }
    }
}

/// The prepare stage's handle: queues users for the send stage. Its work
/// (reading the directory and the shadow, writing intents) runs on a task of
/// its own, beside the sending and the recording.
pub(crate) struct Feeder {
    store: Store,
    ctx: Arc<CycleContext>,
    tx: mpsc::Sender<Wave>,
    /// Every user queued in this run.
    scheduled: FastSet<String>,
}

impl Feeder {
    /// Splits `items` into waves, managers without an account first, prepares
    /// each and queues it; `job_update` goes with the last wave, and the users
    /// count `progress` toward the walk once it is recorded.
    pub(crate) async fn push(
        &mut self,
        items: Vec<Item>,
        change_id: &str,
        job_update: Option<JobStateUpdate>,
        progress: u64,
    ) -> Result<(), EngineError> {
        let (store, ctx, tx) = (self.store.clone(), self.ctx.clone(), self.tx.clone());
        let mut scheduled = std::mem::take(&mut self.scheduled);
        let change_id = change_id.to_string();
        let (pushed, scheduled) = on_task(async move {
            let pushed = push_waves(&store, &ctx, &tx, &mut scheduled, items, &change_id, job_update, progress).await;
            (pushed, scheduled)
        })
        .await?;
        self.scheduled = scheduled;
        pushed
    }
}

/// Runs `work` on a task of its own and waits for it.
pub(crate) async fn on_task<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, EngineError> {
    tokio::spawn(work).await.map_err(|e| EngineError::Invalid(format!("a task of the cycle failed: {e}")))
}

/// The work of [`Feeder::push`].
#[allow(clippy::too_many_arguments)]
async fn push_waves(
    store: &Store,
    ctx: &CycleContext,
    tx: &mpsc::Sender<Wave>,
    scheduled: &mut FastSet<String>,
    mut items: Vec<Item>,
    change_id: &str,
    mut job_update: Option<JobStateUpdate>,
    progress: u64,
) -> Result<(), EngineError> {
    // A user queued before in this run (a manager pulled ahead) is not sent twice.
    items.retain(|(id, _)| !scheduled.contains(id.as_str()));
    let mut waves = crate::managers::waves(store, ctx, items, scheduled).await?;
    if waves.is_empty() {
        // The cursor still moves.
        waves.push(Vec::new());
    }
    let count = waves.len();
    for (i, items) in waves.into_iter().enumerate() {
        let started = std::time::Instant::now();
        let mut wave = prepare(store, ctx, items, change_id, scheduled).await?;
        tracing::debug!(users = wave.items.len(), ms = started.elapsed().as_millis() as u64, "wave prepared");
        for item in &wave.items {
            scheduled.insert(item.source_id.to_string());
        }
        if i + 1 == count {
            wave.job_update = job_update.take();
            wave.progress = progress;
        }
        // The send stage is gone only when it failed; its error is the one to report.
        tx.send(wave).await.map_err(|_| EngineError::Invalid("the pipeline stopped".into()))?;
    }
    Ok(())
}

/// Imports one wave (roles, shadows, the manager's account), writes its intents
/// and takes its leaving users out of their groups.
async fn prepare(
    store: &Store,
    ctx: &CycleContext,
    items: Vec<Item>,
    change_id: &str,
    scheduled: &FastSet<String>,
) -> Result<Wave, EngineError> {
    let empty = || Wave {
        items: Vec::new(),
        group_outcomes: Vec::new(),
        intent_clears: Vec::new(),
        job_update: None,
        progress: 0,
    };
    if items.is_empty() {
        return Ok(empty());
    }
    let ids: Vec<UserId> = items.iter().map(|(id, _)| id.clone()).collect();
    let id_refs: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
    let mut roles = store.effective_roles(&ctx.app, &ids).await?;
    // Manual mode sees the hand-off's entries as the shadow they will become.
    let mut shadows = if ctx.handoff {
        store.pending_shadow_of(&ctx.app, ObjectKind::User, &id_refs).await?
    } else {
        store.shadow_of(&ctx.app, ObjectKind::User, &id_refs).await?
    };
    // A manager placed in this run is known without the store.
    let mut placed: FastMap<String, String> = FastMap::default();
    let mut unknown: Vec<&str> = Vec::new();
    for m in items.iter().filter_map(|(_, u)| u.as_ref()?.manager.as_ref().map(|m| m.as_str())) {
        match ctx.placed_account(m) {
            Some(account) => drop(placed.insert(m.to_string(), account)),
            None => unknown.push(m),
        }
    }
    placed.extend(store.enabled_accounts(&ctx.app, ObjectKind::User, &unknown).await?);
    let imported: Vec<Imported> = items
        .into_iter()
        .map(|(id, user)| {
            let manager = user.as_ref().and_then(|u| u.manager.as_ref()).map(|m| m.to_string());
            let manager_target = manager.as_ref().and_then(|m| placed.get(m).cloned());
            // A manager queued in an earlier wave of this run, not yet placed: wait for it.
            let manager_wait = manager.filter(|m| manager_target.is_none() && scheduled.contains(m));
            Imported {
                roles: roles.remove(&id).unwrap_or_default(),
                shadow: shadows.remove(id.as_str()),
                manager_target,
                manager_wait,
                source_id: id,
                user,
                change_id: change_id.to_string(),
            }
        })
        .collect();
    // The intent goes first: a crash during the calls leaves it behind. One
    // row names the whole wave; the record clears it.
    let mut intent_clears = Vec::new();
    if !ctx.handoff {
        let intent = crate::recovery::wave_intent(ctx, &imported);
        store.write_intents(&ctx.app, crate::recovery::USER_WAVE_INTENT, std::slice::from_ref(&intent)).await?;
        intent_clears.push((crate::recovery::USER_WAVE_INTENT.to_string(), intent.0));
    }
    // Users leaving the app leave its groups first.
    let leaving: Vec<&str> =
        imported.iter().filter(|i| crate::cycle::is_leaving(ctx, i)).map(|i| i.source_id.as_str()).collect();
    let group_outcomes = crate::groups::remove_leaving_members(store, ctx, &leaving, change_id).await?;
    intent_clears.extend(leaving.iter().map(|id| (crate::recovery::MEMBER_INTENT.to_string(), id.to_string())));
    Ok(Wave { items: imported, group_outcomes, intent_clears, ..empty() })
}

/// Sends one user, once its manager (if it waits for one) is settled. Runs as a
/// task of its own, so that requests and their answers are handled on every
/// worker thread while the pipeline's own task prepares and records.
async fn send(
    ctx: Arc<CycleContext>,
    settled: Arc<Settled>,
    wave: u64,
    batch: tracing::Span,
    mut item: Imported,
) -> (u64, Outcome) {
    use tracing::Instrument;
    if let Some(manager) = item.manager_wait.take() {
        settled.wait(&manager).await;
        item.manager_target = ctx.placed_account(&manager);
    }
    if ctx.guard.interrupted().is_some() {
        // The cycle is stopping (refused credentials, a long pause the app asked
        // for, or this worker's lease gone): its wave will not be recorded, so
        // nothing more is sent for it, and no retry waits.
        settled.settle(item.source_id.as_str());
        let outcome =
            Outcome { source_id: item.source_id, shadow: None, log: None, action: Action::Skip, failed: true };
        return (wave, outcome);
    }
    let span = tracing::debug_span!(
        parent: &batch,
        "object",
        app = %ctx.app,
        cycle_id = %ctx.cycle_id,
        change_id = %item.change_id,
        object_id = %item.source_id,
        kind = "user",
    );
    // Boxed: the task stays small while it waits for a permit, and spawning it
    // copies a few hundred bytes, not the whole request's state.
    let outcome = Box::pin(process_user(&ctx, item).instrument(span)).await;
    ctx.remember_placed(std::slice::from_ref(&outcome));
    settled.settle(outcome.source_id.as_str());
    (wave, outcome)
}

/// A request's task, aborted when the pipeline lets go of it (it stopped on an
/// error): no request of a stopped run goes on behind its back.
struct Task<T>(tokio::task::JoinHandle<T>);

impl<T> std::future::Future for Task<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs the pipeline: `produce` queues users through the [`Feeder`] it is given
/// while they are sent and recorded. Returns when every queued wave is
/// recorded; the first error (of the store, or the app refusing the
/// credentials) stops it, and no wave after the failing one is recorded.
pub(crate) async fn run<'a, F, Fut>(
    store: &'a Store,
    ctx: &'a CycleContext,
    concurrency: usize,
    counts: &mut Counts,
    progress: Option<&SharedProgress>,
    keep_outcomes: bool,
    produce: F,
) -> Result<Done, EngineError>
where
    F: FnOnce(Feeder) -> Fut,
    Fut: std::future::Future<Output = Result<(), EngineError>> + 'a,
{
    // Two waves prepared ahead at most: enough to keep requests in flight
    // across a boundary, without reading the directory far ahead of the app.
    let (tx, rx) = mpsc::channel::<Wave>(2);
    let shared = Arc::new(ctx.clone());
    let feeder = Feeder { store: store.clone(), ctx: shared.clone(), tx, scheduled: FastSet::default() };
    let settled = Arc::new(Settled::default());
    let consume = async {
        let mut stage = SendStage { rx, open: BTreeMap::new(), queued: VecDeque::new(), waves: 0 };
        let mut recorder = Recorder { store, ctx, tail: None, done: Done::default(), keep_outcomes };
        let mut in_flight = FuturesUnordered::new();
        // Waiting reports hold a slot without a request: the guard's permits,
        // not this width, bound the requests in flight.
        let width = concurrency.max(1) * 4;
        loop {
            while in_flight.len() < width {
                match stage.next_item(in_flight.is_empty()).await {
                    Some((n, item)) => {
                        let batch = stage.open.get(&n).map(|o| o.span.clone()).unwrap_or_else(tracing::Span::none);
                        in_flight.push(Task(tokio::spawn(send(shared.clone(), settled.clone(), n, batch, item))))
                    }
                    None => break,
                }
            }
            let Some(sent) = in_flight.next().await else { break };
            let (n, outcome) = sent.map_err(|e| EngineError::Invalid(format!("a request task failed: {e}")))?;
            if let Some(o) = stage.open.get_mut(&n) {
                o.outcomes.push(outcome);
            }
            // Record, in order, every wave whose users are all done.
            while let Some(wave) = stage.take_complete() {
                if let Some(e) = ctx.guard.interrupted() {
                    // The app refused the credentials, is down or asked for a long
                    // pause: this wave is not recorded, and the cycle stops.
                    recorder.finish().await?;
                    return Err(e.into());
                }
                recorder.record(wave, counts, progress)?;
            }
        }
        // Waves left without users (nothing to send, only a cursor to move).
        while let Some(wave) = stage.take_complete() {
            recorder.record(wave, counts, progress)?;
        }
        recorder.finish().await?;
        Ok::<Done, EngineError>(recorder.done)
    };
    let (produced, consumed) = futures::future::join(produce(feeder), consume).await;
    let done = consumed?;
    produced?;
    Ok(done)
}

/// The send stage's queue: waves as they come from the prepare stage, their
/// users one at a time, and the waves not yet recorded.
struct SendStage {
    rx: mpsc::Receiver<Wave>,
    open: BTreeMap<u64, Open>,
    queued: VecDeque<(u64, Imported)>,
    waves: u64,
}

impl SendStage {
    /// The next user to send. Waits for the prepare stage only when nothing is
    /// in flight (`idle`); `None`: nothing to send now (or ever).
    async fn next_item(&mut self, idle: bool) -> Option<(u64, Imported)> {
        loop {
            if let Some(next) = self.queued.pop_front() {
                return Some(next);
            }
            let wave = if idle {
                let started = std::time::Instant::now();
                let wave = self.rx.recv().await?;
                tracing::debug!(
                    ms = started.elapsed().as_millis() as u64,
                    "nothing in flight: waited for the next wave"
                );
                wave
            } else {
                self.rx.try_recv().ok()?
            };
            self.open_wave(wave);
        }
    }

    fn open_wave(&mut self, mut wave: Wave) {
        let n = self.waves;
        self.waves += 1;
        let items = std::mem::take(&mut wave.items);
        let span = tracing::debug_span!("batch", wave = n, objects = items.len());
        self.open.insert(n, Open { wave, expected: items.len(), outcomes: Vec::with_capacity(items.len()), span });
        self.queued.extend(items.into_iter().map(|item| (n, item)));
    }

    /// The lowest open wave, when every user of it is done.
    fn take_complete(&mut self) -> Option<Open> {
        let first = self.open.first_entry()?;
        (first.get().outcomes.len() >= first.get().expected).then(|| first.remove())
    }
}

/// The record stage: one store transaction per wave, each after the one before.
struct Recorder<'a> {
    store: &'a Store,
    ctx: &'a CycleContext,
    tail: Option<tokio::task::JoinHandle<Result<(), StoreError>>>,
    done: Done,
    keep_outcomes: bool,
}

impl Recorder<'_> {
    fn record(
        &mut self,
        open: Open,
        counts: &mut Counts,
        progress: Option<&SharedProgress>,
    ) -> Result<(), EngineError> {
        let Open { wave, outcomes, span, .. } = open;
        self.done.created.extend(
            outcomes.iter().filter(|o| o.action == Action::Create && !o.failed).map(|o| o.source_id.to_string()),
        );
        // The outcomes move into the record, unless the caller wants them back.
        let (kept, outcomes) = match self.keep_outcomes {
            true => (outcomes.clone(), outcomes),
            false => (Vec::new(), outcomes),
        };
        self.done.outcomes.extend(kept);
        let batch = record_batch(self.ctx, wave.group_outcomes, wave.job_update, wave.intent_clears, outcomes, counts);
        let previous = self.tail.take();
        let (store, app) = (self.store.clone(), self.ctx.app.clone());
        let metrics = self.ctx.guard.metrics();
        use tracing::Instrument;
        self.tail = Some(tokio::spawn(
            async move {
                if let Some(previous) = previous {
                    previous
                        .await
                        .map_err(|e| StoreError::Invalid { message: format!("recording task failed: {e}") })??;
                }
                let started = std::time::Instant::now();
                let recorded = store.record(&app, &batch).await;
                if let Some(m) = metrics {
                    m.store("record", started.elapsed());
                }
                tracing::debug!(objects = batch.logs.len(), ms = started.elapsed().as_millis() as u64, "wave recorded");
                recorded
            }
            .instrument(span),
        ));
        if let Some(p) = progress {
            crate::job::advance_progress(p, wave.progress, counts);
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), EngineError> {
        if let Some(tail) = self.tail.take() {
            tail.await.map_err(|e| EngineError::Invalid(format!("recording task failed: {e}")))??;
        }
        Ok(())
    }
}

/// What to record for one wave, and its counts.
fn record_batch(
    ctx: &CycleContext,
    group_outcomes: Vec<GroupOutcome>,
    job_update: Option<JobStateUpdate>,
    intent_clears: Vec<(String, String)>,
    outcomes: Vec<Outcome>,
    counts: &mut Counts,
) -> RecordBatch {
    let mut batch =
        RecordBatch { job: job_update, now: ctx.clock.now_ms(), handoff: ctx.handoff, ..Default::default() };
    batch.intent_clears = intent_clears;
    for o in group_outcomes {
        o.record_into(ctx, &mut batch, counts);
    }
    for o in outcomes {
        if o.failed {
            batch.escrow_failures.push(ctx.escrow_failure(ObjectKind::User, o.log.as_ref(), o.source_id.as_str()));
        } else {
            batch.escrow_clears.push((ObjectKind::User, o.source_id.to_string()));
        }
        counts.tally_logged(o.action, o.failed, o.log.as_ref());
        batch.shadow_upserts.extend(o.shadow);
        batch.logs.extend(o.log);
    }
    batch
}
