//! Tests of the fault-injecting proxy in front of the sample app: it forwards
//! transparently, counts by resource, logs queries and write bodies, injects
//! each fault kind exactly as often as its plan says, and obeys a new plan.

mod common;

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Client, Method};
use roster_sample_app::proxy::{self, ErrorStatus, Fault, FaultPlan, RetryAfterForm, RunningProxy};
use roster_sample_app::{RunningSampleApp, SampleOptions};
use serde_json::{json, Value};

/// A sample app behind a proxy, and a client.
struct ProxiedApp {
    app: RunningSampleApp,
    proxy: RunningProxy,
    http: Client,
}

/// What the client got: an HTTP answer, or no answer at all.
type Answer = Result<(u16, HeaderMap, Value), reqwest::Error>;

impl ProxiedApp {
    async fn start(plan: FaultPlan) -> ProxiedApp {
        let app = common::app(SampleOptions::default()).await;
        let proxy = match proxy::start(loopback(), &app.base_url, plan).await {
            Ok(proxy) => proxy,
            Err(e) => panic!("cannot start the proxy: {e}"),
        };
        ProxiedApp { app, proxy, http: Client::new() }
    }

    /// Sends a request through the proxy with the app's token.
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request =
            self.http.request(method, format!("{}{path}", self.proxy.base_url)).bearer_auth(common::TOKEN);
        if let Some(body) = body {
            request = request.header("content-type", "application/scim+json").body(body.to_string());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        Ok((status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    /// Sends a request that must get an HTTP answer.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, HeaderMap, Value) {
        match self.send(method.clone(), path, body).await {
            Ok(answer) => answer,
            Err(e) => panic!("{method} {path}: no answer through the proxy: {e}"),
        }
    }
}

fn loopback() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true})
}

#[tokio::test]
async fn forwarding_is_transparent() {
    let t = ProxiedApp::start(FaultPlan::none()).await;
    assert!(t.proxy.base_url.ends_with("/scim/v2"), "{}", t.proxy.base_url);

    let (status, headers, created) = t.call(Method::POST, "/Users", Some(user("alice"))).await;
    assert_eq!(status, 201, "{created}");
    assert!(headers.contains_key("etag"));
    let id = created["id"].as_str().unwrap_or_default().to_string();
    let (status, _, read) = t.call(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!((status, &read), (200, &created));
    assert_eq!(t.app.state.user_count().await, 1);

    // The Authorization header goes through as it came: a wrong token is the app's 401.
    let answer = t.http.get(format!("{}/Users", t.proxy.base_url)).bearer_auth("wrong").send().await;
    let answer = answer.map(|r| (r.status().as_u16(), r.headers().contains_key("www-authenticate")));
    assert_eq!(answer.ok(), Some((401, true)));

    let stats = t.proxy.control.stats();
    assert_eq!((stats.received, stats.forwarded, stats.upstream_failures), (3, 3, 0));
    assert_eq!(stats.faults, Default::default());
}

#[tokio::test]
async fn requests_are_counted_by_resource_and_logged() {
    let t = ProxiedApp::start(FaultPlan::none()).await;
    let (_, _, alice) = t.call(Method::POST, "/Users", Some(user("alice"))).await;
    let (_, _, bob) = t.call(Method::POST, "/Users", Some(user("bob"))).await;
    let (_, _, group) = t.call(Method::POST, "/Groups", Some(json!({"displayName": "staff"}))).await;
    let group_path = format!("/Groups/{}", group["id"].as_str().unwrap_or_default());
    let add = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": alice["id"]}, {"value": bob["id"]}]}]});
    let (patch_status, _, _) = t.call(Method::PATCH, &group_path, Some(add)).await;
    assert!(matches!(patch_status, 200 | 204), "{patch_status}");
    t.call(Method::GET, &format!("{group_path}?excludedAttributes=members"), None).await;
    t.call(Method::GET, "/Users?filter=userName%20eq%20%22alice%22", None).await;

    let stats = t.proxy.control.stats();
    let counts: Vec<(&str, u64)> = stats.requests.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        counts,
        [("GET /Groups", 1), ("GET /Users", 1), ("PATCH /Groups", 1), ("POST /Groups", 1), ("POST /Users", 2)]
    );
    assert_eq!(stats.count("DELETE /Users"), 0);

    let log = t.proxy.control.requests();
    assert_eq!(log.len(), 6);
    let group_reads: Vec<_> = log.iter().filter(|r| r.method == Method::GET && r.resource == "/Groups").collect();
    assert!(group_reads.iter().all(|r| r.query.as_deref() == Some("excludedAttributes=members")), "{group_reads:?}");
    let patch = log.iter().find(|r| r.key() == "PATCH /Groups").cloned().unwrap_or_else(|| panic!("{log:?}"));
    let members = patch.body_json().map(|b| b["Operations"][0]["value"].as_array().map_or(0, Vec::len));
    assert_eq!(members, Some(2));
    assert_eq!(patch.path, format!("/scim/v2{group_path}"));
    assert_eq!(patch.status, Some(patch_status));
    assert!(log.iter().filter(|r| r.method == Method::GET).all(|r| r.body.is_none() && r.body_len == 0));
}

/// What a client sees of one request under a plan where one fault kind has rate 1.0.
#[derive(Debug, PartialEq)]
enum Seen {
    Status(u16),
    Throttled,
    NoAnswer,
}

#[tokio::test]
async fn each_fault_happens_at_rate_one_and_never_at_zero() {
    let slow_delay = Duration::from_millis(300);
    let cases: Vec<(FaultPlan, Seen, Option<Fault>)> = vec![
        (FaultPlan::none(), Seen::Status(200), None),
        (FaultPlan { error_rate: 1.0, ..FaultPlan::none() }, Seen::Status(503), Some(Fault::Error)),
        (
            FaultPlan { error_rate: 1.0, error_status: ErrorStatus::InternalServerError, ..FaultPlan::none() },
            Seen::Status(500),
            Some(Fault::Error),
        ),
        (
            FaultPlan { error_rate: 1.0, error_status: ErrorStatus::BadGateway, ..FaultPlan::none() },
            Seen::Status(502),
            Some(Fault::Error),
        ),
        (FaultPlan { throttle_rate: 1.0, ..FaultPlan::none() }, Seen::Throttled, Some(Fault::Throttle)),
        (FaultPlan { slow_rate: 1.0, slow_delay, ..FaultPlan::none() }, Seen::Status(200), Some(Fault::Slow)),
        (FaultPlan { drop_rate: 1.0, ..FaultPlan::none() }, Seen::NoAnswer, Some(Fault::Drop)),
    ];
    for (plan, want, fault) in cases {
        let t = ProxiedApp::start(plan.clone()).await;
        for _ in 0..3 {
            let started = Instant::now();
            let seen = match t.send(Method::GET, "/Users", None).await {
                Ok((429, headers, _)) if headers.contains_key("retry-after") => Seen::Throttled,
                Ok((status, _, _)) => Seen::Status(status),
                Err(e) => {
                    assert!(e.status().is_none() && !e.is_timeout(), "{plan:?}: {e}");
                    Seen::NoAnswer
                }
            };
            assert_eq!(seen, want, "{plan:?}");
            if fault == Some(Fault::Slow) {
                assert!(started.elapsed() >= slow_delay, "{plan:?}: answered in {:?}", started.elapsed());
            }
        }
        let stats = t.proxy.control.stats();
        let faults = stats.faults;
        let injected = [faults.errors, faults.throttled, faults.slowed, faults.dropped];
        let want_injected = match fault {
            None => [0, 0, 0, 0],
            Some(Fault::Error) => [3, 0, 0, 0],
            Some(Fault::Throttle) => [0, 3, 0, 0],
            Some(Fault::Slow) => [0, 0, 3, 0],
            Some(Fault::Drop) => [0, 0, 0, 3],
        };
        assert_eq!(injected, want_injected, "{plan:?}");
        let reached_app = matches!(fault, None | Some(Fault::Slow));
        assert_eq!(stats.forwarded, if reached_app { 3 } else { 0 }, "{plan:?}");
        assert_eq!(t.app.state.counter("GET /Users"), stats.forwarded, "{plan:?}");
        assert!(t.proxy.control.requests().iter().all(|r| r.fault == fault), "{plan:?}");
    }
}

#[tokio::test]
async fn retry_after_is_sent_and_early_requests_are_counted() {
    let throttle = FaultPlan { throttle_rate: 1.0, early_grace: Duration::ZERO, ..FaultPlan::none() };
    let t = ProxiedApp::start(throttle.clone()).await;
    let (status, headers, _) = t.call(Method::GET, "/Users", None).await;
    assert_eq!(status, 429);
    assert_eq!(headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert_eq!(t.proxy.control.stats().early_requests, 0);

    // At once, while the second of the first 429 runs: early (and throttled again).
    t.proxy.control.set_plan(FaultPlan { throttle_rate: 0.0, ..throttle });
    let (status, _, _) = t.call(Method::GET, "/Users", None).await;
    assert_eq!(status, 200);
    assert_eq!(t.proxy.control.stats().early_requests, 1);
    let early: Vec<bool> = t.proxy.control.requests().iter().map(|r| r.early).collect();
    assert_eq!(early, [false, true]);

    // A client that waits as told is not early.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    t.call(Method::GET, "/Users", None).await;
    assert_eq!(t.proxy.control.stats().early_requests, 1);
}

#[tokio::test]
async fn retry_after_can_be_a_date() {
    let plan = FaultPlan {
        throttle_rate: 1.0,
        retry_after: Duration::from_secs(120),
        retry_after_form: RetryAfterForm::HttpDate,
        ..FaultPlan::none()
    };
    let t = ProxiedApp::start(plan).await;
    let (status, headers, _) = t.call(Method::GET, "/Users", None).await;
    assert_eq!(status, 429);
    let value = headers.get("retry-after").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let date = chrono::DateTime::parse_from_rfc2822(&value.replace(" GMT", " +0000"));
    let wait = date.map(|d| (d.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds());
    assert!(matches!(wait, Ok(118..=121)), "Retry-After: {value} ({wait:?})");
}

#[tokio::test]
async fn early_requests_within_the_grace_are_not_counted() {
    let plan = FaultPlan { throttle_rate: 1.0, early_grace: Duration::from_secs(60), ..FaultPlan::none() };
    let t = ProxiedApp::start(plan).await;
    t.call(Method::GET, "/Users", None).await;
    t.call(Method::GET, "/Users", None).await;
    assert_eq!(t.proxy.control.stats().early_requests, 0);
}

#[tokio::test]
async fn a_dropped_request_never_reaches_the_app() {
    let t = ProxiedApp::start(FaultPlan { drop_rate: 1.0, ..FaultPlan::none() }).await;
    let answer = t.send(Method::POST, "/Users", Some(user("alice"))).await;
    match answer {
        Err(e) => assert!(e.status().is_none() && e.is_request(), "{e:?}"),
        Ok((status, _, body)) => panic!("expected no answer, got {status} {body}"),
    }
    assert_eq!(t.app.state.user_count().await, 0);
    let log = t.proxy.control.requests();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].fault, log[0].status), (Some(Fault::Drop), None));
    assert_eq!(log[0].body_json().map(|b| b["userName"].clone()), Some(json!("alice")));
}

/// A request named by `fail_at` is answered with the error and never reaches
/// the app, as often as it comes, while the others go through; after
/// `stop_failing` it goes through too.
#[tokio::test]
async fn a_named_request_fails_until_told_otherwise() {
    let t = ProxiedApp::start(FaultPlan::none()).await;
    let bob = proxy::CrashPoint::new(Method::POST, "/Users").with_body("\"bob\"");
    t.proxy.control.fail_at(bob, ErrorStatus::InternalServerError);
    for _ in 0..2 {
        assert_eq!(t.call(Method::POST, "/Users", Some(user("bob"))).await.0, 500);
    }
    assert_eq!(t.call(Method::POST, "/Users", Some(user("alice"))).await.0, 201);
    assert_eq!(t.app.state.user_count().await, 1, "only alice reached the app");
    assert_eq!(t.proxy.control.stats().faults.errors, 2);
    t.proxy.control.stop_failing();
    assert_eq!(t.call(Method::POST, "/Users", Some(user("bob"))).await.0, 201);
    assert_eq!(t.app.state.user_count().await, 2);
}

#[tokio::test]
async fn set_plan_takes_effect_at_once() {
    let t = ProxiedApp::start(FaultPlan { error_rate: 1.0, ..FaultPlan::none() }).await;
    assert_eq!(t.call(Method::GET, "/Users", None).await.0, 503);
    t.proxy.control.set_plan(FaultPlan::none());
    assert_eq!(t.call(Method::GET, "/Users", None).await.0, 200);
    t.proxy.control.set_plan(FaultPlan { throttle_rate: 1.0, ..FaultPlan::none() });
    assert_eq!(t.call(Method::GET, "/Users", None).await.0, 429);
    assert_eq!(t.proxy.control.plan().throttle_rate, 1.0);

    t.proxy.control.reset();
    assert_eq!(t.proxy.control.stats(), Default::default());
    assert!(t.proxy.control.requests().is_empty());
}

#[tokio::test]
async fn an_app_that_is_down_is_a_bad_gateway() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
    let closed = closed.unwrap_or_else(|e| panic!("no free port: {e}"));
    let proxy = proxy::start(loopback(), &format!("http://{closed}/v2"), FaultPlan::none()).await;
    let proxy = proxy.unwrap_or_else(|e| panic!("cannot start the proxy: {e}"));
    let status = Client::new().get(format!("{}/Users", proxy.base_url)).send().await.map(|r| r.status().as_u16());
    assert_eq!(status.ok(), Some(502));
    let stats = proxy.control.stats();
    assert_eq!((stats.forwarded, stats.upstream_failures), (1, 1));
    proxy.stop().await;
}

#[tokio::test]
async fn an_upstream_that_is_not_a_url_is_refused() {
    for upstream in ["not a url", "ftp://127.0.0.1/v2", "/v2"] {
        let started = proxy::start(loopback(), upstream, FaultPlan::none()).await;
        assert_eq!(started.err().map(|e| e.kind()), Some(std::io::ErrorKind::InvalidInput), "{upstream}");
    }
}
