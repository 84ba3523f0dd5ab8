//! What the engine counts for Prometheus (the OpenMetrics text format): cycles
//! and their length, objects by action, requests to apps by operation and
//! outcome with their latency, time held back by apps' `Retry-After`, and, read
//! at each scrape, each job's escrow, quarantine and change-feed lag.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use roster_connectors::ConnectorError;

use crate::status::Counts;

/// A metric's labels (name, value).
type Labels = Vec<(&'static str, String)>;
/// A family of histograms, each made with the same buckets.
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// Seconds from 10 ms to about 80 s, doubling.
fn cycle_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 14))
}

/// Seconds from 1 ms to about 16 s, doubling.
fn request_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// A job's state as read for a scrape.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobGauges {
    pub escrowed: u64,
    pub quarantined: bool,
    /// Directory changes not processed yet.
    pub feed_lag: u64,
    /// The age of the oldest of them (s).
    pub feed_lag_seconds: f64,
    /// Whether this worker holds the job's lease.
    pub lease_held: bool,
}

/// The engine's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    cycles: Family<Labels, Counter>,
    cycle_seconds: Histograms,
    objects: Family<Labels, Counter>,
    requests: Family<Labels, Counter>,
    request_seconds: Histograms,
    held_seconds: Family<Labels, Counter<f64, AtomicU64>>,
    escrow: Family<Labels, Gauge>,
    quarantined: Family<Labels, Gauge>,
    feed_lag: Family<Labels, Gauge>,
    feed_lag_seconds: Family<Labels, Gauge<f64, AtomicU64>>,
    lease_held: Family<Labels, Gauge>,
    fenced: Family<Labels, Counter>,
    store_seconds: Histograms,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every series, registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("roster");
        let m = Metrics {
            registry: Registry::default(),
            cycles: Family::default(),
            cycle_seconds: Family::new_with_constructor(cycle_buckets),
            objects: Family::default(),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(request_buckets),
            held_seconds: Family::default(),
            escrow: Family::default(),
            quarantined: Family::default(),
            feed_lag: Family::default(),
            feed_lag_seconds: Family::default(),
            lease_held: Family::default(),
            fenced: Family::default(),
            store_seconds: Family::new_with_constructor(request_buckets),
        };
        registry.register("cycles", "Provisioning cycles run, by app and outcome", m.cycles.clone());
        registry.register("cycle_seconds", "How long cycles took, by app", m.cycle_seconds.clone());
        registry.register(
            "objects",
            "Objects a cycle acted on, by app and action (failed included)",
            m.objects.clone(),
        );
        registry.register("app_requests", "Calls to apps, by app, operation and outcome", m.requests.clone());
        registry.register(
            "app_request_seconds",
            "How long calls to apps took, by app and operation",
            m.request_seconds.clone(),
        );
        registry.register(
            "app_held_seconds",
            "Time calls waited because an app asked to (Retry-After), by app",
            m.held_seconds.clone(),
        );
        registry.register("escrow_objects", "Objects waiting in escrow to be retried, by app", m.escrow.clone());
        registry.register("quarantined", "1 while the app's job is in quarantine, by app", m.quarantined.clone());
        registry.register(
            "feed_lag_entries",
            "Directory changes the app's job has not processed yet",
            m.feed_lag.clone(),
        );
        registry.register(
            "feed_lag_seconds",
            "Age of the oldest directory change the app's job has not processed yet (0: none)",
            m.feed_lag_seconds.clone(),
        );
        registry.register(
            "lease_held",
            "1 while the worker that answered holds the app's job lease",
            m.lease_held.clone(),
        );
        registry.register(
            "fencing_refusals",
            "Cycle writes refused because another worker had taken the job's lease, by app",
            m.fenced.clone(),
        );
        registry.register(
            "store_seconds",
            "How long the store took, by operation (a wave's record, the scheduler's reads)",
            m.store_seconds.clone(),
        );
        Metrics { registry, ..m }
    }

    /// A cycle of `app` ended after `took`, with `counts`, or failed.
    pub fn cycle(&self, app: &str, took: Duration, counts: Option<&Counts>) {
        let outcome = if counts.is_some() { "success" } else { "failure" };
        self.cycles.get_or_create(&vec![("app", app.to_string()), ("outcome", outcome.to_string())]).inc();
        self.cycle_seconds.get_or_create(&vec![("app", app.to_string())]).observe(took.as_secs_f64());
        let Some(c) = counts else { return };
        for (action, n) in [
            ("create", c.created),
            ("update", c.updated),
            ("disable", c.disabled),
            ("enable", c.enabled),
            ("delete", c.deleted),
            ("skip", c.skipped),
            ("failed", c.failed),
        ] {
            if n > 0 {
                self.objects.get_or_create(&vec![("app", app.to_string()), ("action", action.to_string())]).inc_by(n);
            }
        }
    }

    /// A call `operation` to `app` took `took` and ended with `result`.
    pub fn request(&self, app: &str, operation: &'static str, took: Duration, result: Result<(), &ConnectorError>) {
        let outcome = match result {
            Ok(()) => "ok",
            Err(ConnectorError::Transient { .. }) => "transient",
            Err(ConnectorError::Throttled { .. }) => "throttled",
            Err(e) if e.is_unsupported_form() => "unsupported",
            Err(ConnectorError::Permanent { .. }) => "refused",
            Err(ConnectorError::Config { .. }) => "config",
            Err(ConnectorError::NotFound) => "not_found",
            Err(ConnectorError::Conflict { .. }) => "conflict",
        };
        let labels = vec![("app", app.to_string()), ("operation", operation.to_string())];
        self.request_seconds.get_or_create(&labels).observe(took.as_secs_f64());
        let mut labels = labels;
        labels.push(("outcome", outcome.to_string()));
        self.requests.get_or_create(&labels).inc();
    }

    /// Calls to `app` waited `held` because it asked roster to.
    pub fn held(&self, app: &str, held: Duration) {
        self.held_seconds.get_or_create(&vec![("app", app.to_string())]).inc_by(held.as_secs_f64());
    }

    /// The state of `app`'s job as read for a scrape.
    pub fn job(&self, app: &str, job: JobGauges) {
        let labels = vec![("app", app.to_string())];
        self.escrow.get_or_create(&labels).set(i64::try_from(job.escrowed).unwrap_or(i64::MAX));
        self.quarantined.get_or_create(&labels).set(i64::from(job.quarantined));
        self.feed_lag.get_or_create(&labels).set(i64::try_from(job.feed_lag).unwrap_or(i64::MAX));
        self.feed_lag_seconds.get_or_create(&labels).set(job.feed_lag_seconds);
        self.lease_held.get_or_create(&labels).set(i64::from(job.lease_held));
    }

    /// The store took `took` for `operation`.
    pub fn store(&self, operation: &'static str, took: Duration) {
        self.store_seconds.get_or_create(&vec![("operation", operation.to_string())]).observe(took.as_secs_f64());
    }

    /// A write of a cycle of `app` was refused: another worker holds the lease.
    pub fn fenced(&self, app: &str) {
        self.fenced.get_or_create(&vec![("app", app.to_string())]).inc();
    }

    /// Forgets the per-job state of apps that have no job any more.
    pub fn forget_jobs(&self) {
        self.escrow.clear();
        self.quarantined.clear();
        self.feed_lag.clear();
        self.feed_lag_seconds.clear();
        self.lease_held.clear();
    }

    /// Every series in the OpenMetrics text format.
    pub fn text(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reach_the_text() {
        let m = Metrics::new();
        let counts = Counts { created: 3, failed: 1, ..Counts::default() };
        m.cycle("a1", Duration::from_millis(40), Some(&counts));
        m.cycle("a1", Duration::from_millis(40), None);
        m.request("a1", "create", Duration::from_millis(3), Ok(()));
        let refused = ConnectorError::Permanent { status: 501, scim_type: None, app_message: String::new() };
        m.request("a1", "update", Duration::from_millis(3), Err(&refused));
        m.held("a1", Duration::from_millis(1500));
        m.job("a1", JobGauges { escrowed: 2, quarantined: true, feed_lag: 7, feed_lag_seconds: 2.5, lease_held: true });
        m.fenced("a1");
        m.store("record", Duration::from_millis(2));
        let text = m.text();
        for line in [
            "roster_cycles_total{app=\"a1\",outcome=\"success\"} 1",
            "roster_cycles_total{app=\"a1\",outcome=\"failure\"} 1",
            "roster_objects_total{app=\"a1\",action=\"create\"} 3",
            "roster_objects_total{app=\"a1\",action=\"failed\"} 1",
            "roster_app_requests_total{app=\"a1\",operation=\"update\",outcome=\"unsupported\"} 1",
            "roster_app_held_seconds_total{app=\"a1\"} 1.5",
            "roster_escrow_objects{app=\"a1\"} 2",
            "roster_quarantined{app=\"a1\"} 1",
            "roster_feed_lag_entries{app=\"a1\"} 7",
            "roster_feed_lag_seconds{app=\"a1\"} 2.5",
            "roster_lease_held{app=\"a1\"} 1",
            "roster_fencing_refusals_total{app=\"a1\"} 1",
            "roster_store_seconds_count{operation=\"record\"} 1",
        ] {
            assert!(text.contains(line), "{line} is missing from\n{text}");
        }
        assert!(
            text.contains("roster_app_request_seconds_bucket{le=\"0.004\",app=\"a1\",operation=\"create\"} 1")
                || text.contains("roster_app_request_seconds_count"),
            "{text}"
        );
    }
}
