//! A fault-injecting, counting HTTP reverse proxy for tests. It stands between
//! roster and a SCIM app (this crate's sample app, or a third-party server),
//! forwards every request unchanged to the app, and, as its [`FaultPlan`]
//! says, answers some requests itself with a server error or a
//! `429 Retry-After`, delays some, or closes the connection without answering.
//! A test can also name one kind of request that is answered with a server
//! error until it says otherwise ([`ProxyControl::fail_at`]).
//!
//! It also counts what it saw, so that a test can assert how a client behaved:
//! requests per resource, faults injected, requests that came before a
//! `Retry-After` had elapsed, and a bounded log of requests that keeps the
//! bodies of writes.
//!
//! The server side is hyper's HTTP/1.1 connection, not axum: a dropped request
//! must really close its TCP connection without a response, which only the
//! owner of the connection can do.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST, RETRY_AFTER};
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

pub use crash::CrashPoint;
pub use hyper::Method;
pub use plan::{ErrorStatus, Fault, FaultCounts, FaultPlan, RetryAfterForm};

mod crash;
mod plan;

use plan::retry_after;

/// How many requests the log keeps; older ones are forgotten first.
pub const LOG_CAPACITY: usize = 10_000;
/// The largest body of a write (POST, PUT, PATCH) that the log keeps.
pub const KEPT_BODY_LIMIT: usize = 1024 * 1024;
/// How many bytes of bodies the log keeps in all; older records are forgotten first.
pub const KEPT_BODIES_BUDGET: usize = 64 * 1024 * 1024;
/// The largest request body the proxy reads; a larger one is answered `413`.
pub const MAX_REQUEST_BODY: usize = 32 * 1024 * 1024;
/// How long the proxy waits for the app's whole answer before answering `502`.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(120);
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_CONNECTIONS: usize = 512;

/// What the proxy saw since it started (or since [`ProxyControl::reset`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Requests received, faulted or not, by `"METHOD /Resource"`: the method
    /// and the first path segment after the upstream's prefix (`"PATCH /Groups"`,
    /// `"GET /Users"`).
    pub requests: BTreeMap<String, u64>,
    /// Requests received.
    pub received: u64,
    /// Requests forwarded to the app (whatever it answered).
    pub forwarded: u64,
    /// Faults injected.
    pub faults: FaultCounts,
    /// Forwarded requests the app did not answer in time or at all (answered `502`).
    pub upstream_failures: u64,
    /// Requests that arrived before the `Retry-After` of the last `429` had
    /// elapsed (past [`FaultPlan::early_grace`]).
    pub early_requests: u64,
}

impl ProxyStats {
    /// Requests received for `key` (`"PATCH /Groups"`), zero if none.
    pub fn count(&self, key: &str) -> u64 {
        self.requests.get(key).copied().unwrap_or(0)
    }
}

/// One request as the proxy saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Its arrival number, from 0.
    pub seq: u64,
    /// Its method.
    pub method: Method,
    /// The first path segment after the upstream's prefix, with a slash: `"/Users"`.
    pub resource: String,
    /// The whole path as received: `"/scim/v2/Users/abc"`.
    pub path: String,
    /// The query string, without `?`.
    pub query: Option<String>,
    /// The body's size in bytes.
    pub body_len: usize,
    /// The body of a write (POST, PUT, PATCH) up to [`KEPT_BODY_LIMIT`] bytes.
    pub body: Option<Bytes>,
    /// The fault injected, if any.
    pub fault: Option<Fault>,
    /// The status the client got; `None` when the connection was dropped.
    pub status: Option<u16>,
    /// Whether it came before a `Retry-After` had elapsed.
    pub early: bool,
}

impl RequestRecord {
    /// `"METHOD /Resource"`, the key of [`ProxyStats::requests`].
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.resource)
    }

    /// The kept body as JSON, if there is one and it parses.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        self.body.as_ref().and_then(|b| serde_json::from_slice(b).ok())
    }
}

/// A handle to change a running proxy's plan and read what it saw; cheap to clone.
#[derive(Debug, Clone)]
pub struct ProxyControl {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// `http://host:port` of the app.
    origin: String,
    /// The app's path prefix without a trailing slash (`/scim/v2`, or empty).
    prefix: String,
    http: reqwest::Client,
    crash: crash::Crash,
}

#[derive(Debug)]
struct State {
    plan: FaultPlan,
    rng: StdRng,
    stats: ProxyStats,
    log: VecDeque<RequestRecord>,
    kept_body_bytes: usize,
    throttle: Option<Throttle>,
    next_seq: u64,
    /// The requests answered with an error until [`ProxyControl::stop_failing`].
    failing: Option<(CrashPoint, ErrorStatus)>,
}

/// The last `429` sent: when, and when the client may come back.
#[derive(Debug, Clone, Copy)]
struct Throttle {
    sent_at: Instant,
    not_before: Instant,
}

/// What to do with one request.
#[derive(Debug)]
enum Decision {
    Forward,
    Slow(Duration),
    Error(ErrorStatus),
    Throttle(HeaderValue),
    Drop,
}

impl ProxyControl {
    /// Replaces the plan; the draws start again from the new plan's seed.
    pub fn set_plan(&self, plan: FaultPlan) {
        let mut state = self.state();
        state.rng = StdRng::seed_from_u64(plan.seed);
        state.plan = plan;
    }

    /// The current plan.
    pub fn plan(&self) -> FaultPlan {
        self.state().plan.clone()
    }

    /// What the proxy saw so far.
    pub fn stats(&self) -> ProxyStats {
        self.state().stats.clone()
    }

    /// The logged requests, oldest first, in the order they were answered.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state().log.iter().cloned().collect()
    }

    /// Forgets the stats, the log and the last `429`; the plan stays.
    pub fn reset(&self) {
        let mut state = self.state();
        state.stats = ProxyStats::default();
        state.log.clear();
        state.kept_body_bytes = 0;
        state.throttle = None;
    }

    /// Arms a crash point: the request it names reaches the app, then nothing
    /// is answered until [`ProxyControl::revive`]. A crash point fires once.
    pub fn crash_at(&self, point: CrashPoint) {
        self.shared.crash.arm(point, false);
    }

    /// Answers every request that `point` names (after its `skip` ones) with
    /// `status`, without forwarding it, until [`ProxyControl::stop_failing`]:
    /// an app that fails one kind of request while it serves the others. Such a
    /// request draws nothing from the plan; it counts as an injected error.
    pub fn fail_at(&self, point: CrashPoint, status: ErrorStatus) {
        self.state().failing = Some((point, status));
    }

    /// Forwards the requests named by [`ProxyControl::fail_at`] again.
    pub fn stop_failing(&self) {
        self.state().failing = None;
    }

    /// Arms a pause point: the request it names waits, before it is forwarded,
    /// until [`ProxyControl::resume`]; the others flow. It fires once.
    pub fn pause_at(&self, point: CrashPoint) {
        self.shared.crash.arm(point, true);
    }

    /// Waits until the armed pause point holds its request.
    pub async fn paused(&self) {
        self.shared.crash.wait_paused().await;
    }

    /// Lets the paused request go on to the app.
    pub fn resume(&self) {
        self.shared.crash.resume();
    }

    /// Waits until the armed crash point fired and its request got the app's answer.
    pub async fn crashed(&self) {
        self.shared.crash.wait_crashed().await;
    }

    /// Whether a crash point fired and the proxy has not been revived since.
    pub fn is_crashed(&self) -> bool {
        self.shared.crash.is_crashed()
    }

    /// Lets requests flow again after a crash (the requests held meanwhile are
    /// closed without an answer: they belonged to the dead client) and disarms
    /// any crash point.
    pub fn revive(&self) {
        self.shared.crash.revive();
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state()
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the counters half-written
        // in a way that matters to a test, so a poisoned lock is still used.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a request that arrived at `arrival` and decides its fate.
    fn admit(&self, method: &Method, resource: &str, body: &[u8], arrival: Instant) -> (u64, Decision, bool) {
        let mut state = self.state();
        let seq = state.next_seq;
        state.next_seq += 1;
        state.stats.received += 1;
        *state.stats.requests.entry(format!("{method} {resource}")).or_insert(0) += 1;
        let early =
            state.throttle.is_some_and(|t| arrival < t.not_before && arrival >= t.sent_at + state.plan.early_grace);
        if early {
            state.stats.early_requests += 1;
        }
        let decision = match state.failing(method, resource, body) {
            Some(status) => {
                state.stats.faults.errors += 1;
                Decision::Error(status)
            }
            None => state.decide(),
        };
        (seq, decision, early)
    }

    fn record(&self, record: RequestRecord) {
        self.state().push(record);
    }
}

impl State {
    fn new(plan: FaultPlan) -> Self {
        State {
            rng: StdRng::seed_from_u64(plan.seed),
            plan,
            stats: ProxyStats::default(),
            log: VecDeque::new(),
            kept_body_bytes: 0,
            throttle: None,
            next_seq: 0,
            failing: None,
        }
    }

    /// The error status of a request named by [`ProxyControl::fail_at`], if it is one.
    fn failing(&mut self, method: &Method, resource: &str, body: &[u8]) -> Option<ErrorStatus> {
        let (point, status) = self.failing.as_mut().filter(|(p, _)| p.matches(method, resource, body))?;
        if point.skip > 0 {
            point.skip -= 1;
            return None;
        }
        Some(*status)
    }

    fn decide(&mut self) -> Decision {
        let draws: [f64; 4] = [self.rng.gen(), self.rng.gen(), self.rng.gen(), self.rng.gen()];
        let plan = &self.plan;
        if draws[0] < plan.drop_rate {
            self.stats.faults.dropped += 1;
            Decision::Drop
        } else if draws[1] < plan.error_rate {
            self.stats.faults.errors += 1;
            Decision::Error(plan.error_status)
        } else if draws[2] < plan.throttle_rate {
            self.stats.faults.throttled += 1;
            let now = Instant::now();
            let (header, wait) = retry_after(plan.retry_after, plan.retry_after_form);
            self.throttle = Some(Throttle { sent_at: now, not_before: now + wait });
            Decision::Throttle(header)
        } else if draws[3] < plan.slow_rate {
            self.stats.faults.slowed += 1;
            Decision::Slow(plan.slow_delay)
        } else {
            Decision::Forward
        }
    }

    fn push(&mut self, record: RequestRecord) {
        self.kept_body_bytes += record.body.as_ref().map_or(0, Bytes::len);
        self.log.push_back(record);
        while self.log.len() > LOG_CAPACITY || self.kept_body_bytes > KEPT_BODIES_BUDGET {
            let Some(old) = self.log.pop_front() else { break };
            self.kept_body_bytes -= old.body.as_ref().map_or(0, Bytes::len);
        }
    }
}

/// The first path segment of `path` after `prefix`, with a slash: the
/// resource a request is counted under. A path outside the prefix counts
/// under its own first segment.
fn resource_of(path: &str, prefix: &str) -> String {
    let rest = match path.strip_prefix(prefix) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    };
    let first = rest.trim_start_matches('/').split('/').next().unwrap_or_default();
    format!("/{first}")
}

/// The error that makes hyper close a connection without answering: the plan
/// dropped the request, or the client went away while sending it.
#[derive(Debug, thiserror::Error)]
#[error("connection closed without a response")]
struct CloseConnection;

type ProxyResponse = Response<Full<Bytes>>;

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<ProxyResponse, CloseConnection> {
    let arrival = Instant::now();
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Ok(text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large for the test proxy"));
        }
        // The client went away mid-body: there is nobody to answer.
        Err(_) => return Err(CloseConnection),
    };
    let resource = resource_of(parts.uri.path(), &shared.prefix);
    let crashing = match shared.crash.admit(&parts.method, &resource, &body) {
        crash::Admission::Hold => {
            shared.crash.hold().await;
            return Err(CloseConnection);
        }
        crash::Admission::Crash => true,
        crash::Admission::Pause => {
            shared.crash.hold().await;
            false
        }
        crash::Admission::Pass => false,
    };
    let (seq, decision, early) = shared.admit(&parts.method, &resource, &body, arrival);
    let kept = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH) && body.len() <= KEPT_BODY_LIMIT;
    let mut record = RequestRecord {
        seq,
        method: parts.method.clone(),
        resource,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        body_len: body.len(),
        body: kept.then(|| body.clone()),
        fault: None,
        status: None,
        early,
    };
    let decision = if crashing { Decision::Forward } else { decision };
    let response = match decision {
        Decision::Drop => {
            record.fault = Some(Fault::Drop);
            tracing::debug!(seq, key = %record.key(), "proxy drops the connection");
            shared.record(record);
            return Err(CloseConnection);
        }
        Decision::Error(status) => {
            record.fault = Some(Fault::Error);
            text(status.status(), "error injected by the test proxy")
        }
        Decision::Throttle(retry_after) => {
            record.fault = Some(Fault::Throttle);
            let mut response = text(StatusCode::TOO_MANY_REQUESTS, "throttled by the test proxy");
            response.headers_mut().insert(RETRY_AFTER, retry_after);
            response
        }
        Decision::Slow(delay) => {
            record.fault = Some(Fault::Slow);
            tokio::time::sleep(delay).await;
            forward_counted(&shared, &parts, body).await
        }
        Decision::Forward => forward_counted(&shared, &parts, body).await,
    };
    record.status = Some(response.status().as_u16());
    shared.record(record);
    if crashing {
        shared.crash.crashed();
        shared.crash.hold().await;
        return Err(CloseConnection);
    }
    Ok(response)
}

async fn forward_counted(shared: &Shared, parts: &Parts, body: Bytes) -> ProxyResponse {
    let result = forward(shared, parts, body).await;
    let mut state = shared.state();
    state.stats.forwarded += 1;
    match result {
        Ok(response) => response,
        Err(e) => {
            state.stats.upstream_failures += 1;
            tracing::warn!(error = %e, path = %parts.uri.path(), "test proxy: the app did not answer");
            text(StatusCode::BAD_GATEWAY, "the app behind the test proxy did not answer")
        }
    }
}

/// Sends the request to the app as it came (hop-by-hop headers aside) and
/// returns the app's answer as it came.
async fn forward(shared: &Shared, parts: &Parts, body: Bytes) -> Result<ProxyResponse, reqwest::Error> {
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = parts.headers.clone();
    strip_hop_by_hop(&mut headers);
    headers.remove(HOST);
    let had_length = headers.remove(CONTENT_LENGTH).is_some();
    let mut request =
        shared.http.request(parts.method.clone(), format!("{}{path_and_query}", shared.origin)).headers(headers);
    if had_length || !body.is_empty() {
        request = request.body(body);
    }
    let answer = request.send().await?;
    let status = answer.status();
    let mut headers = answer.headers().clone();
    strip_hop_by_hop(&mut headers);
    headers.remove(CONTENT_LENGTH);
    let bytes = answer.bytes().await?;
    let mut response = Response::new(Full::new(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// Removes the headers that belong to one connection, not to the message
/// (RFC 9110, section 7.6.1).
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
}

fn text(status: StatusCode, message: &'static str) -> ProxyResponse {
    let mut response = Response::new(Full::new(Bytes::from_static(message.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// A proxy serving on a port. Dropping it stops it and closes its connections.
#[derive(Debug)]
pub struct RunningProxy {
    /// The proxy's URL with the upstream's path prefix: `http://127.0.0.1:PORT/scim/v2`.
    pub base_url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its plan and its counters.
    pub control: ProxyControl,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningProxy {
    /// Stops accepting, closes every connection, and waits.
    pub async fn stop(self) {
        let RunningProxy { shutdown, task, .. } = self;
        let _ = shutdown.send(true);
        drop(shutdown);
        let _ = task.await;
    }
}

/// Starts a proxy on `listen` (`127.0.0.1:0` picks a free port) in front of
/// `upstream`, an `http(s)://host:port/prefix` base URL such as a SCIM app's.
/// The proxy itself speaks plain HTTP/1.1; bodies and headers such as
/// `Location` go through unchanged, so they still name the upstream.
///
/// Fails when `upstream` is not such a URL or `listen` cannot be bound.
pub async fn start(listen: SocketAddr, upstream: &str, plan: FaultPlan) -> io::Result<RunningProxy> {
    let url = reqwest::Url::parse(upstream)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("upstream URL {upstream:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        let message = format!("upstream URL {upstream:?}: expected http://host:port/prefix");
        return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
    }
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(UPSTREAM_CONNECT_TIMEOUT)
        .timeout(UPSTREAM_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .map_err(io::Error::other)?;
    let prefix = url.path().trim_end_matches('/').to_string();
    let shared = Arc::new(Shared {
        state: Mutex::new(State::new(plan)),
        origin: url.origin().ascii_serialization(),
        prefix,
        http,
        crash: crash::Crash::new(),
    });
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}{}", shared.prefix);
    let (shutdown, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, shared.clone(), stopped));
    tracing::info!(%base_url, %upstream, "test proxy listening");
    Ok(RunningProxy { base_url, addr, control: ProxyControl { shared }, shutdown, task })
}

/// Accepts connections until told to stop (or until the [`RunningProxy`] is
/// dropped), serving each on its own task, at most [`MAX_CONNECTIONS`] at once.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            _ = stopped.changed() => return,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it
                    // was accepted: wait a little rather than spin.
                    tracing::warn!(error = %e, "test proxy: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        let shared = shared.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |request| handle(shared.clone(), request));
            let mut builder = http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            // Either way the connection ends here; dropping it closes the socket.
            tokio::select! {
                _ = connection => {}
                _ = stopped.changed() => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_is_the_first_segment_after_the_prefix() {
        fn check(path: &str, prefix: &str, want: &str) {
            assert_eq!(resource_of(path, prefix), want, "{path} under {prefix:?}");
        }
        check("/scim/v2/Users", "/scim/v2", "/Users");
        check("/scim/v2/Users/abc", "/scim/v2", "/Users");
        check("/scim/v2/Groups/abc/x", "/scim/v2", "/Groups");
        check("/scim/v2", "/scim/v2", "/");
        check("/scim/v2/", "/scim/v2", "/");
        check("/scim/v2x/Users", "/scim/v2", "/scim");
        check("/Users/abc", "/v2", "/Users");
        check("/v2/ServiceProviderConfig", "/v2", "/ServiceProviderConfig");
        check("/Users", "", "/Users");
        check("/", "", "/");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        fn check(wait_ms: u64, want: &str) {
            let (header, real) = retry_after(Duration::from_millis(wait_ms), RetryAfterForm::Seconds);
            assert_eq!(header.to_str().ok(), Some(want), "{wait_ms} ms");
            assert_eq!(real.as_secs().to_string(), want, "{wait_ms} ms");
        }
        check(0, "0");
        check(1, "1");
        check(1000, "1");
        check(1500, "2");
        check(30_000, "30");
    }

    #[test]
    fn retry_after_date_is_an_http_date_past_the_wait() {
        let (header, real) = retry_after(Duration::from_secs(3), RetryAfterForm::HttpDate);
        let value = header.to_str().unwrap_or_default().to_string();
        let date = chrono::DateTime::parse_from_rfc2822(&value.replace("GMT", "+0000"));
        assert!(date.is_ok(), "{value}");
        assert!(real >= Duration::from_secs(3) && real <= Duration::from_secs(4), "{real:?}");
    }

    fn decisions(plan: FaultPlan, n: usize) -> Vec<String> {
        let mut state = State::new(plan);
        (0..n).map(|_| format!("{:?}", state.decide())).collect()
    }

    #[test]
    fn rates_of_zero_never_hit_and_one_always_hits() {
        let check = |plan: FaultPlan, want: &str| {
            let all = decisions(plan.clone(), 500);
            assert!(all.iter().all(|d| d.starts_with(want)), "{plan:?}: {all:?}");
        };
        let none = FaultPlan { seed: 7, ..FaultPlan::none() };
        check(none.clone(), "Forward");
        check(FaultPlan { drop_rate: 1.0, error_rate: 1.0, ..none.clone() }, "Drop");
        check(FaultPlan { error_rate: 1.0, throttle_rate: 1.0, ..none.clone() }, "Error");
        check(FaultPlan { throttle_rate: 1.0, slow_rate: 1.0, ..none.clone() }, "Throttle");
        check(FaultPlan { slow_rate: 1.0, ..none.clone() }, "Slow");
    }

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let plan = |seed| FaultPlan { error_rate: 0.3, drop_rate: 0.1, slow_rate: 0.2, seed, ..FaultPlan::none() };
        let first = decisions(plan(42), 200);
        assert_eq!(first, decisions(plan(42), 200));
        assert_ne!(first, decisions(plan(43), 200));
        let errors = first.iter().filter(|d| d.starts_with("Error")).count();
        assert!((30..=80).contains(&errors), "{errors} errors of 200 at 0.3 after 0.1 drops");
    }
}
