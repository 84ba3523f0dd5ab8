//! Crash points: a test names one request (method, resource, a piece of its
//! body); the proxy forwards that request to the app, so the app applies it,
//! and then answers neither it nor any later request, as if the client had died
//! the moment its request left. The test sees the crash through
//! [`super::ProxyControl::crashed`], drops the client's work (the "kill"), starts
//! a new client over the same store, and lets requests flow again with
//! [`super::ProxyControl::revive`]. Unlike a SIGKILL at a random time, the crash
//! falls on the same request on every run. A pause point is the gentler kind:
//! the request it names waits, before it reaches the app, until the test has
//! done what it wanted in the meantime ([`super::ProxyControl::resume`]).

use hyper::Method;
use std::sync::Mutex;
use tokio::sync::watch;

/// The request at which the client "dies" (or, with
/// [`super::ProxyControl::fail_at`], the requests answered with an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashPoint {
    /// The request's method.
    pub method: Method,
    /// The resource it is counted under (`"/Users"`, `"/Groups"`).
    pub resource: String,
    /// A piece of text its body must hold (`"\"active\":false"`), if any.
    pub body_contains: Option<String>,
    /// How many matching requests go through before the one that crashes.
    pub skip: u32,
}

impl CrashPoint {
    /// The first `method` request to `resource`.
    pub fn new(method: Method, resource: &str) -> CrashPoint {
        CrashPoint { method, resource: resource.to_string(), body_contains: None, skip: 0 }
    }

    /// Only a request whose body holds `text`.
    pub fn with_body(mut self, text: &str) -> CrashPoint {
        self.body_contains = Some(text.to_string());
        self
    }

    /// Lets `skip` matching requests through first.
    pub fn after(mut self, skip: u32) -> CrashPoint {
        self.skip = skip;
        self
    }

    pub(crate) fn matches(&self, method: &Method, resource: &str, body: &[u8]) -> bool {
        *method == self.method
            && resource == self.resource
            && self.body_contains.as_ref().is_none_or(|t| String::from_utf8_lossy(body).contains(t.as_str()))
    }
}

/// Where the proxy is in a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Requests flow.
    Running,
    /// The crashing request is on its way to the app; the rest wait.
    Crashing,
    /// The crashing request reached the app and got its answer; nothing flows.
    Crashed,
    /// The paused request waits; the rest flow.
    Paused,
}

/// What to do with one request, as far as crashes go.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Handle it as usual.
    Pass,
    /// Forward it, then crash.
    Crash,
    /// The client is dead: never answer.
    Hold,
    /// Wait for [`Crash::resume`], then handle it as usual.
    Pause,
}

#[derive(Debug)]
pub(crate) struct Crash {
    /// The armed point, and whether it pauses rather than crashes.
    point: Mutex<Option<(CrashPoint, bool)>>,
    phase: watch::Sender<Phase>,
}

impl Crash {
    pub(crate) fn new() -> Crash {
        Crash { point: Mutex::new(None), phase: watch::Sender::new(Phase::Running) }
    }

    fn point(&self) -> std::sync::MutexGuard<'_, Option<(CrashPoint, bool)>> {
        self.point.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn arm(&self, point: CrashPoint, pause: bool) {
        *self.point() = Some((point, pause));
    }

    /// Decides a request's fate; the crashing one moves the proxy to `Crashing`
    /// at once, so that no request that comes after it reaches the app.
    pub(crate) fn admit(&self, method: &Method, resource: &str, body: &[u8]) -> Admission {
        let mut point = self.point();
        match *self.phase.borrow() {
            Phase::Running | Phase::Paused => {}
            Phase::Crashing | Phase::Crashed => return Admission::Hold,
        }
        let Some((p, pause)) = point.as_mut().filter(|(p, _)| p.matches(method, resource, body)) else {
            return Admission::Pass;
        };
        if p.skip > 0 {
            p.skip -= 1;
            return Admission::Pass;
        }
        let pause = *pause;
        *point = None;
        if pause {
            self.phase.send_replace(Phase::Paused);
            return Admission::Pause;
        }
        self.phase.send_replace(Phase::Crashing);
        Admission::Crash
    }

    /// Waits for the pause.
    pub(crate) async fn wait_paused(&self) {
        let mut rx = self.phase.subscribe();
        let _ = rx.wait_for(|p| *p == Phase::Paused).await;
    }

    /// Lets a paused request go on.
    pub(crate) fn resume(&self) {
        self.phase.send_if_modified(|p| {
            let paused = *p == Phase::Paused;
            if paused {
                *p = Phase::Running;
            }
            paused
        });
    }

    /// The crashing request has its answer: the test may now drop the client.
    pub(crate) fn crashed(&self) {
        self.phase.send_replace(Phase::Crashed);
    }

    /// Waits until requests flow again.
    pub(crate) async fn hold(&self) {
        let mut rx = self.phase.subscribe();
        let _ = rx.wait_for(|p| *p == Phase::Running).await;
    }

    /// Waits for the crash.
    pub(crate) async fn wait_crashed(&self) {
        let mut rx = self.phase.subscribe();
        let _ = rx.wait_for(|p| *p == Phase::Crashed).await;
    }

    pub(crate) fn revive(&self) {
        *self.point() = None;
        self.phase.send_replace(Phase::Running);
    }

    pub(crate) fn is_crashed(&self) -> bool {
        matches!(*self.phase.borrow(), Phase::Crashing | Phase::Crashed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_request_crashes_after_the_skipped_ones_and_the_rest_wait() {
        let crash = Crash::new();
        crash.arm(CrashPoint::new(Method::PATCH, "/Users").with_body("\"active\":false").after(1), false);
        let disable = br#"{"Operations":[{"op":"replace","value":{"active":false}}]}"#;
        assert_eq!(crash.admit(&Method::PATCH, "/Users", b"{\"title\":\"x\"}"), Admission::Pass);
        assert_eq!(crash.admit(&Method::PATCH, "/Groups", disable), Admission::Pass);
        assert_eq!(crash.admit(&Method::PATCH, "/Users", disable), Admission::Pass, "skipped once");
        assert_eq!(crash.admit(&Method::PATCH, "/Users", disable), Admission::Crash);
        assert_eq!(crash.admit(&Method::GET, "/Users", b""), Admission::Hold);
        assert!(crash.is_crashed());
        crash.revive();
        assert_eq!(crash.admit(&Method::PATCH, "/Users", disable), Admission::Pass, "a crash point fires once");
    }

    #[test]
    fn a_paused_request_waits_and_the_others_flow() {
        let crash = Crash::new();
        crash.arm(CrashPoint::new(Method::PATCH, "/Groups"), true);
        assert_eq!(crash.admit(&Method::PATCH, "/Groups", b""), Admission::Pause);
        assert_eq!(crash.admit(&Method::GET, "/Users", b""), Admission::Pass);
        assert!(!crash.is_crashed());
        crash.resume();
        assert_eq!(crash.admit(&Method::PATCH, "/Groups", b""), Admission::Pass, "a pause point fires once");
    }
}
