//! Reliability: how a job treats a failing app without hammering it or losing
//! work. [`GuardedConnector`] sits under every call a cycle makes: it holds the
//! app's concurrency and rate limits, makes every request wait out a `Retry-After`
//! (one 429 slows all of the job's requests, not just the one that got it), and
//! stops sending for the rest of the cycle once the app refuses the credentials or
//! fails request after request. The quarantine rules decide, after a cycle, whether
//! the job backs off (6 h, 12 h, 24 h, then daily) and why. [`Clock`] lets tests
//! compress that schedule instead of sleeping.

use crate::settings::QuarantineRules;
use crate::status::Counts;
use async_trait::async_trait;
use roster_connectors::{
    Connector, ConnectorError, PatchOperation, RemoteRole, ResourceKind, TargetObject, TargetPage,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The longest a request waits for an app's `Retry-After` within a cycle; a
/// longer wait ends the cycle's calls and holds the work (escrow) until then.
pub const MAX_IN_CYCLE_WAIT: Duration = Duration::from_secs(60);
/// Transient failures in a row (after retries) after which a cycle stops calling.
const TRANSIENT_TRIP: u32 = 20;

/// Where the engine reads the time, in milliseconds since the epoch.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

/// The real time.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        roster_store::now_ms()
    }
}

/// A clock a test moves by hand.
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock at `start_ms`.
    pub fn new(start_ms: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock(AtomicI64::new(start_ms)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Why a job is in quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum QuarantineReason {
    /// The app refused the credentials (or the connection settings are wrong).
    BadCredentials,
    /// Too large a share of a cycle's operations failed.
    EscrowThreshold,
    /// A cycle would have disabled or deleted more objects than allowed.
    TooManyDeletes,
}

impl QuarantineReason {
    /// The same reason, as the alert emails name it.
    pub fn for_alert(self) -> roster_notify::QuarantineReason {
        match self {
            QuarantineReason::BadCredentials => roster_notify::QuarantineReason::BadCredentials,
            QuarantineReason::EscrowThreshold => roster_notify::QuarantineReason::EscrowThreshold,
            QuarantineReason::TooManyDeletes => roster_notify::QuarantineReason::TooManyDeletes,
        }
    }
}

/// A job in quarantine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Quarantine {
    pub reason: QuarantineReason,
    /// The reason in words (the app's answer, the counts).
    pub message: String,
    pub since: i64,
    /// When the job tries again; `None` once it was turned off.
    pub next_attempt: Option<i64>,
    /// Failed attempts since the quarantine began (the first included).
    pub attempts: u32,
    /// Whether the alert for this reason was sent.
    pub notified: bool,
}

/// The delay before the next attempt after `attempts` failed ones.
pub fn quarantine_delay(rules: &QuarantineRules, attempts: u32) -> Duration {
    let i = (attempts.max(1) as usize - 1).min(rules.schedule_secs.len().saturating_sub(1));
    Duration::from_secs(rules.schedule_secs.get(i).copied().unwrap_or(86_400))
}

/// A failed attempt: enters quarantine, or stays in it with the next delay. After
/// `give_up_days` the job is turned off (`next_attempt` is `None`).
pub fn quarantine(
    current: Option<Quarantine>,
    reason: QuarantineReason,
    message: String,
    rules: &QuarantineRules,
    now: i64,
) -> Quarantine {
    let (since, attempts, notified) = match current {
        Some(q) => (q.since, q.attempts + 1, q.notified && q.reason == reason),
        None => (now, 1, false),
    };
    let give_up = since + (rules.give_up_days as i64) * 86_400_000;
    let next = now + quarantine_delay(rules, attempts).as_millis() as i64;
    Quarantine { reason, message, since, next_attempt: (now < give_up).then_some(next), attempts, notified }
}

/// Whether a cycle's counts put the job in quarantine: too large a share of the
/// operations it tried failed.
pub fn too_many_failures(counts: &Counts, rules: &QuarantineRules) -> Option<String> {
    // A request refused for its form says nothing about the app's health.
    let failed = counts.failed.saturating_sub(counts.unsupported);
    let tried = counts.created + counts.updated + counts.disabled + counts.enabled + counts.deleted + failed;
    let ratio = if tried == 0 { 0.0 } else { failed as f64 / tried as f64 };
    (tried >= rules.min_operations && ratio > rules.failure_ratio).then(|| {
        format!(
            "{failed} of {tried} operations failed ({:.0}%, the threshold is {:.0}%)",
            ratio * 100.0,
            rules.failure_ratio * 100.0
        )
    })
}

/// A connector with the job's limits, a shared `Retry-After` gate, and a circuit
/// that opens on refused credentials or on a run of transient failures.
pub struct GuardedConnector {
    inner: Arc<dyn Connector>,
    permits: tokio::sync::Semaphore,
    interval: Option<Duration>,
    next_slot: Mutex<Instant>,
    gate: Mutex<Option<Instant>>,
    refused: Mutex<Option<String>>,
    transient_run: AtomicU32,
    tripped: AtomicBool,
    /// The latest `Retry-After` deadline seen, in clock milliseconds.
    hold_until: AtomicI64,
    /// Where calls are counted, and the app's label there.
    observer: Option<(Arc<crate::metrics::Metrics>, String)>,
    /// The job's lease: no call once this worker may have lost it.
    lease: Option<Arc<crate::worker::LeaseWatch>>,
}

impl GuardedConnector {
    /// Guards `inner` with at most `concurrency` requests in flight and, if set,
    /// at most `rate` requests per second.
    pub fn new(inner: Arc<dyn Connector>, concurrency: usize, rate: Option<f64>) -> GuardedConnector {
        GuardedConnector {
            inner,
            permits: tokio::sync::Semaphore::new(concurrency.max(1)),
            interval: rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r)),
            next_slot: Mutex::new(Instant::now()),
            gate: Mutex::new(None),
            refused: Mutex::new(None),
            transient_run: AtomicU32::new(0),
            tripped: AtomicBool::new(false),
            hold_until: AtomicI64::new(0),
            observer: None,
            lease: None,
        }
    }

    /// The configuration error (refused credentials...) seen in this cycle, if any.
    pub fn refused(&self) -> Option<String> {
        self.refused.lock().ok().and_then(|r| r.clone())
    }

    /// Why the cycle must stop calling the app, if it must: refused credentials,
    /// a run of transient failures, or a pause longer than a cycle waits.
    pub fn interrupted(&self) -> Option<ConnectorError> {
        if let Some(gone) = self.lease_gone() {
            return Some(gone);
        }
        if let Some(message) = self.refused() {
            return Some(ConnectorError::Config { message });
        }
        if self.tripped.load(Ordering::SeqCst) {
            return Some(ConnectorError::Transient {
                message: format!("the app failed {TRANSIENT_TRIP} requests in a row"),
            });
        }
        let until = self.gate.lock().ok().and_then(|g| *g)?;
        let wait = until.saturating_duration_since(Instant::now());
        (wait > MAX_IN_CYCLE_WAIT).then(|| ConnectorError::Throttled {
            retry_after: Some(wait),
            message: format!("the app asked roster to wait {} s; the work is held until then", wait.as_secs()),
        })
    }

    /// The time (ms) until which the app asked to be left alone, if later than now.
    pub fn hold_until(&self) -> Option<i64> {
        let h = self.hold_until.load(Ordering::SeqCst);
        (h > roster_store::now_ms()).then_some(h)
    }

    /// Stops this connector's calls once `lease` may be lost.
    pub fn leased(mut self, lease: Arc<crate::worker::LeaseWatch>) -> GuardedConnector {
        self.lease = Some(lease);
        self
    }

    /// Why calls must stop because of the lease, if they must.
    fn lease_gone(&self) -> Option<ConnectorError> {
        let message = self.lease.as_ref()?.gone()?;
        Some(ConnectorError::Transient { message })
    }

    /// Counts this connector's calls in `metrics` under `app`.
    pub fn observed(mut self, metrics: Arc<crate::metrics::Metrics>, app: &str) -> GuardedConnector {
        self.observer = Some((metrics, app.to_string()));
        self
    }

    /// Where this connector's calls are counted, if anywhere.
    pub fn metrics(&self) -> Option<Arc<crate::metrics::Metrics>> {
        self.observer.as_ref().map(|(m, _)| m.clone())
    }

    /// [`call`](Self::call), counted as `operation` when observed.
    async fn counted<T, F, Fut>(&self, operation: &'static str, f: F) -> Result<T, ConnectorError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, ConnectorError>>,
    {
        use tracing::Instrument;
        let app = self.observer.as_ref().map(|(_, app)| app.as_str()).unwrap_or_default();
        let span = tracing::debug_span!("request", app, operation, outcome = tracing::field::Empty);
        let started = Instant::now();
        let result = self.call(f).instrument(span.clone()).await;
        span.record("outcome", if result.is_ok() { "ok" } else { "error" });
        if let Some((metrics, app)) = &self.observer {
            metrics.request(app, operation, started.elapsed(), result.as_ref().map(|_| ()));
        }
        result
    }

    async fn call<T, F, Fut>(&self, f: F) -> Result<T, ConnectorError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, ConnectorError>>,
    {
        // Everything below is read with the permit held: a request that queued
        // for a permit before a refusal or a 429 arrived sees it too.
        let _permit = self.permits.acquire().await;
        if let Some(gone) = self.lease_gone() {
            return Err(gone);
        }
        if let Some(message) = self.refused() {
            return Err(ConnectorError::Config { message });
        }
        if self.tripped.load(Ordering::SeqCst) {
            return Err(ConnectorError::Transient {
                message: format!(
                    "the app failed {TRANSIENT_TRIP} requests in a row: no more requests in this cycle (retried later)"
                ),
            });
        }
        // The gate may move while this request sleeps (another 429): read it again.
        while let Some(until) = self.gate.lock().ok().and_then(|g| *g).filter(|u| *u > Instant::now()) {
            let wait = until.saturating_duration_since(Instant::now());
            if wait > MAX_IN_CYCLE_WAIT {
                return Err(ConnectorError::Throttled {
                    retry_after: Some(wait),
                    message: format!("held: the app asked roster to wait {} s", wait.as_secs()),
                });
            }
            tokio::time::sleep_until(until).await;
            if let Some((metrics, app)) = &self.observer {
                metrics.held(app, wait);
            }
        }
        if let Some(interval) = self.interval {
            let slot = match self.next_slot.lock() {
                Ok(mut next) => {
                    let slot = (*next).max(Instant::now());
                    *next = slot + interval;
                    slot
                }
                Err(_) => Instant::now(),
            };
            tokio::time::sleep_until(slot).await;
        }
        let result = f().await;
        match &result {
            Err(ConnectorError::Config { message }) => {
                if let Ok(mut r) = self.refused.lock() {
                    r.get_or_insert_with(|| message.clone());
                }
            }
            Err(ConnectorError::Throttled { retry_after, .. }) => {
                let wait = retry_after.unwrap_or(Duration::from_secs(1));
                let until = Instant::now() + wait;
                if let Ok(mut g) = self.gate.lock() {
                    *g = Some(g.map_or(until, |g| g.max(until)));
                }
                self.hold_until.fetch_max(roster_store::now_ms() + wait.as_millis() as i64, Ordering::SeqCst);
            }
            Err(ConnectorError::Transient { .. }) => {
                if self.transient_run.fetch_add(1, Ordering::SeqCst) + 1 >= TRANSIENT_TRIP {
                    self.tripped.store(true, Ordering::SeqCst);
                }
            }
            _ => self.transient_run.store(0, Ordering::SeqCst),
        }
        result
    }
}

#[async_trait]
impl Connector for GuardedConnector {
    async fn test_connection(&self, matching_attribute: &str) -> Result<String, ConnectorError> {
        self.counted("test_connection", || self.inner.test_connection(matching_attribute)).await
    }

    async fn find(&self, kind: ResourceKind, attr: &str, value: &str) -> Result<Vec<TargetObject>, ConnectorError> {
        self.counted("find", || self.inner.find(kind, attr, value)).await
    }

    async fn list(&self, kind: ResourceKind, cursor: Option<&str>, count: u64) -> Result<TargetPage, ConnectorError> {
        self.counted("list", || self.inner.list(kind, cursor, count)).await
    }

    async fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<TargetObject>, ConnectorError> {
        self.counted("get", || self.inner.get(kind, id)).await
    }

    async fn create(&self, kind: ResourceKind, attrs: &[(String, Value)]) -> Result<TargetObject, ConnectorError> {
        self.counted("create", || self.inner.create(kind, attrs)).await
    }

    async fn create_id(&self, kind: ResourceKind, attrs: &[(String, Value)]) -> Result<String, ConnectorError> {
        self.counted("create", || self.inner.create_id(kind, attrs)).await
    }

    async fn update(&self, kind: ResourceKind, id: &str, ops: &[PatchOperation]) -> Result<(), ConnectorError> {
        self.counted("update", || self.inner.update(kind, id, ops)).await
    }

    async fn update_managed(
        &self,
        kind: ResourceKind,
        id: &str,
        ops: &[PatchOperation],
        managed: &[(String, Value)],
    ) -> Result<(), ConnectorError> {
        self.counted("update_managed", || self.inner.update_managed(kind, id, ops, managed)).await
    }

    async fn delete(&self, kind: ResourceKind, id: &str) -> Result<(), ConnectorError> {
        self.counted("delete", || self.inner.delete(kind, id)).await
    }

    async fn update_members(&self, group_id: &str, add: &[String], remove: &[String]) -> Result<u32, ConnectorError> {
        self.counted("update_members", || self.inner.update_members(group_id, add, remove)).await
    }

    async fn app_roles(&self) -> Result<Option<Vec<RemoteRole>>, ConnectorError> {
        self.counted("app_roles", || self.inner.app_roles()).await
    }

    fn take_note(&self, id: &str) -> Option<String> {
        self.inner.take_note(id)
    }

    fn take_warnings(&self, id: &str) -> Vec<String> {
        self.inner.take_warnings(id)
    }

    fn dialect(&self) -> Option<roster_connectors::Dialect> {
        self.inner.dialect()
    }

    fn describe(&self, write: &roster_connectors::Write<'_>) -> Vec<roster_connectors::PlannedRequest> {
        self.inner.describe(write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    #[test]
    fn quarantine_backs_off_6_12_24_then_daily_and_gives_up_after_28_days() {
        let rules = QuarantineRules::default();
        let mut now = 0i64;
        let mut q = quarantine(None, QuarantineReason::BadCredentials, "401".into(), &rules, now);
        let mut delays = Vec::new();
        // A compressed clock: each attempt happens exactly when it is due.
        while let Some(next) = q.next_attempt {
            delays.push((next - now) / H);
            now = next;
            q = quarantine(Some(q), QuarantineReason::BadCredentials, "401".into(), &rules, now);
        }
        assert_eq!(&delays[..5], &[6, 12, 24, 24, 24]);
        assert_eq!(q.since, 0);
        assert!((28 * 24 * H..29 * 24 * H).contains(&now), "turned off after 28 days, at {} h", now / H);
        assert_eq!(delays.iter().sum::<i64>(), now / H);
    }

    #[test]
    fn a_new_reason_is_notified_again() {
        let rules = QuarantineRules::default();
        let mut q = quarantine(None, QuarantineReason::BadCredentials, "401".into(), &rules, 0);
        q.notified = true;
        let same = quarantine(Some(q.clone()), QuarantineReason::BadCredentials, "401".into(), &rules, H);
        assert!(same.notified);
        let other = quarantine(Some(q), QuarantineReason::TooManyDeletes, "600".into(), &rules, H);
        assert!(!other.notified);
    }

    fn check(created: u64, failed: u64, expected: bool) {
        let counts = Counts { created, failed, ..Counts::default() };
        assert_eq!(too_many_failures(&counts, &QuarantineRules::default()).is_some(), expected, "{created}/{failed}");
    }

    #[test]
    fn failure_share_threshold() {
        check(60, 40, false);
        check(59, 41, true);
        check(1, 8, false); // fewer than 10 tried
        check(0, 10, true);
        check(0, 0, false);
    }

    #[test]
    fn unsupported_forms_never_quarantine() {
        let rules = QuarantineRules::default();
        let counts = |created, failed, unsupported| Counts { created, failed, unsupported, ..Counts::default() };
        // Every update refused with 501: the app is healthy, it lacks a form.
        assert_eq!(too_many_failures(&counts(0, 100, 100), &rules), None);
        assert_eq!(too_many_failures(&counts(10, 90, 90), &rules), None);
        // The other failures still count, against the operations that were tried.
        assert!(too_many_failures(&counts(10, 90, 10), &rules).is_some_and(|m| m.starts_with("80 of 90 operations")));
        assert_eq!(too_many_failures(&counts(60, 80, 40), &rules), None);
        assert!(too_many_failures(&counts(59, 82, 41), &rules).is_some());
    }
}
