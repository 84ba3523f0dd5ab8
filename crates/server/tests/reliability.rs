//! Reliability end to end: faults injected between roster and a third-party SCIM
//! server (scim2-server) by roster's proxy; quarantine on a bad token, with one
//! alert email caught by a real SMTP server (aiosmtpd) and the back-off schedule
//! walked with a compressed clock; the accidental-deletion guard; and secrets
//! that appear nowhere in clear.

mod common;
#[allow(unused_imports)]
#[path = "../../notify/tests/common/mod.rs"]
mod smtp;

use common::{eventually, Db, EngineOptions, Scim2Server, TestApp};
use roster_engine::reliability::{Clock, ManualClock};
use roster_sample_app::proxy::{self, FaultPlan};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

async fn scim_get(http: &reqwest::Client, base: &str, token: &str, path: &str, query: &[(&str, &str)]) -> Value {
    http.get(format!("{base}{path}"))
        .query(query)
        .bearer_auth(token)
        .send()
        .await
        .expect("the app answers")
        .json()
        .await
        .expect("json")
}

/// Every user account in a SCIM app, by userName (a list per name, to see duplicates).
async fn accounts(base: &str, token: &str) -> std::collections::HashMap<String, Vec<Value>> {
    let http = reqwest::Client::new();
    let mut out: std::collections::HashMap<String, Vec<Value>> = std::collections::HashMap::new();
    let mut start = 1;
    loop {
        let page =
            scim_get(&http, base, token, "/Users", &[("startIndex", &start.to_string()), ("count", "500")]).await;
        let items = page["Resources"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        start += items.len();
        for u in items {
            out.entry(u["userName"].as_str().unwrap_or_default().to_lowercase()).or_default().push(u);
        }
    }
    out
}

async fn status(app: &TestApp, name: &str) -> Value {
    app.get(&format!("/apps/{name}/provisioning/status")).await.1
}

/// 5xx, 429 with Retry-After, slow answers and dropped connections at set rates:
/// the cycle converges, nothing is lost or duplicated, no request comes before
/// its Retry-After, and the escrow empties once the faults stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_converge_and_escrow_empties() {
    let Some(server) = Scim2Server::start().await else { return };
    let Some(app) = TestApp::spawn(Db::Sqlite).await else { return };
    let plan = FaultPlan {
        error_rate: 0.15,
        throttle_rate: 0.05,
        retry_after: Duration::from_secs(1),
        slow_rate: 0.1,
        slow_delay: Duration::from_millis(300),
        drop_rate: 0.05,
        seed: 7,
        ..FaultPlan::none()
    };
    let proxy = proxy::start("127.0.0.1:0".parse().expect("addr"), &server.base_url, plan).await.expect("proxy");
    const N: usize = 150;
    let rows: Vec<Value> =
        (0..N).map(|i| json!({"userName": format!("f{i:03}@corp.example"), "jobTitle": "Engineer"})).collect();
    app.post("/users/bulk", json!({"upsert": rows})).await;
    app.post("/groups", json!({"displayName": "Everyone"})).await;
    let names: Vec<String> = (0..N).map(|i| format!("f{i:03}@corp.example")).collect();
    app.post("/groups/Everyone/members", json!({"users": names})).await;
    app.post("/apps", json!({"name": "Flaky"})).await;
    let (s, v) = app
        .patch(
            "/apps/Flaky/provisioning",
            json!({"tenantUrl": proxy.base_url, "secretToken": server.token, "mode": "automatic",
                   "escrowRetrySecs": 1, "timeoutSecs": 5}),
        )
        .await;
    assert!(s.is_success(), "{v}");
    app.post("/apps/Flaky/assignments", json!({"group": "Everyone"})).await;
    app.post("/apps/Flaky/provisioning/start", json!({})).await;
    eventually(120, "the initial cycle ends under faults", || async {
        (status(&app, "Flaky").await["phase"] == "incremental").then_some(())
    })
    .await;
    // Changes keep coming while the faults go on.
    for i in (0..N).step_by(10) {
        app.patch(&format!("/users/f{i:03}@corp.example"), json!({"jobTitle": "Staff Engineer"})).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = proxy.control.stats();
    eprintln!("faults injected: {:?}", during.faults);
    assert!(during.faults.errors > 0 && during.faults.throttled > 0 && during.faults.dropped > 0, "{during:?}");

    proxy.control.set_plan(FaultPlan::none());
    let st = eventually(120, "the escrow empties once the faults stop", || async {
        let st = status(&app, "Flaky").await;
        (st["escrow"]["count"] == 0
            && st["accounts"]["enabled"] == N
            && !st["progress"]["running"].as_bool().unwrap_or(true))
        .then_some(st)
    })
    .await;
    assert!(st["quarantine"].is_null(), "{st}");
    let stats = proxy.control.stats();
    assert_eq!(stats.early_requests, 0, "a request came before its Retry-After: {stats:?}");

    let found = eventually(60, "every change reached the app", || async {
        let found = accounts(&server.base_url, &server.token).await;
        let staff = found.values().flatten().filter(|u| u["title"] == "Staff Engineer").count();
        (staff == N / 10).then_some(found)
    })
    .await;
    let duplicates = found.values().filter(|v| v.len() > 1).count();
    let missing = names.iter().filter(|n| !found.contains_key(n.as_str())).count();
    eprintln!("accounts: {} (duplicates {duplicates}, missing {missing})", found.len());
    assert_eq!((duplicates, missing, found.len()), (0, 0, N));
}

/// An app that answers 501 to every change (a partial SCIM server lacking the
/// request's form): each change is sent once (never retried as temporary),
/// logged and counted as unsupported, and the job is not quarantined though
/// every operation of the cycle failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_forms_are_not_retried_and_never_quarantine() {
    let Some(server) = Scim2Server::start().await else { return };
    let Some(app) = TestApp::spawn(Db::Sqlite).await else { return };
    let proxy =
        proxy::start("127.0.0.1:0".parse().expect("addr"), &server.base_url, FaultPlan::none()).await.expect("proxy");
    const N: usize = 30;
    let names: Vec<String> = (0..N).map(|i| format!("p{i:02}@corp.example")).collect();
    let rows: Vec<Value> = names.iter().map(|n| json!({"userName": n, "jobTitle": "Engineer"})).collect();
    app.post("/users/bulk", json!({"upsert": rows})).await;
    app.post("/groups", json!({"displayName": "Everyone"})).await;
    app.post("/groups/Everyone/members", json!({"users": names})).await;
    app.post("/apps", json!({"name": "Partial"})).await;
    let (s, v) = app
        .patch(
            "/apps/Partial/provisioning",
            json!({"tenantUrl": proxy.base_url, "secretToken": server.token, "mode": "automatic",
                   "escrowRetrySecs": 3600}),
        )
        .await;
    assert!(s.is_success(), "{v}");
    app.post("/apps/Partial/assignments", json!({"group": "Everyone"})).await;
    app.post("/apps/Partial/provisioning/start", json!({})).await;
    eventually(60, "the initial cycle ends", || async {
        let st = status(&app, "Partial").await;
        (st["phase"] == "incremental" && st["accounts"]["enabled"] == N).then_some(())
    })
    .await;

    proxy.control.set_plan(FaultPlan {
        error_rate: 1.0,
        error_status: proxy::ErrorStatus::NotImplemented,
        ..FaultPlan::none()
    });
    for n in &names {
        app.patch(&format!("/users/{n}"), json!({"jobTitle": "Staff Engineer"})).await;
    }
    let st = eventually(60, "a cycle tried every change", || async {
        let st = status(&app, "Partial").await;
        (st["lastCycle"]["failed"] == N && !st["progress"]["running"].as_bool().unwrap_or(true)).then_some(st)
    })
    .await;
    assert_eq!(st["lastCycle"]["unsupported"], N, "{st}");
    assert!(st["quarantine"].is_null(), "every failure was an unsupported form: {st}");
    // Each equivalent form once (the PATCH, its `add` form, the read for a PUT),
    // none of them retried: a 501 is not.
    assert_eq!(proxy.control.stats().faults.errors, 3 * N as u64, "{:?}", proxy.control.stats());
    assert_eq!(st["dialect"], json!({}), "nothing learned from an app that refuses everything: {st}");
    let (_, logs) = app.get("/apps/Partial/provisioning/logs?status=Failure").await;
    let items = logs["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), N, "{logs}");
    assert!(items.iter().all(|l| l["errorCode"] == "Unsupported"), "{logs}");
}

/// A bad token: quarantine `BadCredentials`, exactly one alert email; the
/// back-off schedule runs on a compressed clock; the fixed token ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_quarantines_once_and_recovers() {
    let Some(sink) = smtp::SmtpSink::start().await else { return };
    let clock = ManualClock::new(1_800_000_000_000);
    let smtp = roster_notify::SmtpConfig::parse(&format!("smtp://127.0.0.1:{}", sink.port), "roster@corp.example")
        .expect("smtp settings");
    let options =
        EngineOptions { clock: Some(clock.clone() as Arc<dyn Clock>), smtp: Some(smtp), ..EngineOptions::default() };
    let Some(app) = TestApp::spawn_with(Db::Sqlite, options).await else { return };
    let sample =
        roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "good-token".into(), Default::default())
            .await
            .expect("sample app");
    for i in 0..5 {
        app.post("/users", json!({"userName": format!("q{i}@corp.example")})).await;
    }
    app.post("/apps", json!({"name": "Locked"})).await;
    for i in 0..5 {
        app.post("/apps/Locked/assignments", json!({"user": format!("q{i}@corp.example")})).await;
    }
    app.patch(
        "/apps/Locked/provisioning",
        json!({"tenantUrl": sample.base_url, "secretToken": "bad-token", "mode": "automatic",
               "notificationEmail": "ops@corp.example"}),
    )
    .await;
    app.post("/apps/Locked/provisioning/start", json!({})).await;
    let q = eventually(30, "the job is quarantined", || async {
        let st = status(&app, "Locked").await;
        st["quarantine"]["reason"].as_str().map(|_| st["quarantine"].clone())
    })
    .await;
    assert_eq!(q["reason"], "BadCredentials", "{q}");
    assert_eq!(q["attempts"], 1);
    let six_hours = 6 * 3_600_000;
    assert_eq!(q["nextAttempt"].as_i64(), Some(clock.now_ms() + six_hours), "{q}");
    let mail = sink.messages(1).await;
    assert!(mail[0].contains("BadCredentials") || mail[0].to_lowercase().contains("credential"), "{}", mail[0]);
    assert!(!mail[0].contains("bad-token"), "the token is never mailed");

    // Five hours later: no attempt. Six: one attempt, then 12 hours.
    clock.advance(Duration::from_secs(5 * 3600));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(status(&app, "Locked").await["quarantine"]["attempts"], 1, "no attempt before it is due");
    clock.advance(Duration::from_secs(3600));
    let q = eventually(10, "the second attempt", || async {
        let st = status(&app, "Locked").await;
        (st["quarantine"]["attempts"] == 2).then(|| st["quarantine"].clone())
    })
    .await;
    assert_eq!(q["nextAttempt"].as_i64(), Some(clock.now_ms() + 2 * six_hours), "{q}");
    clock.advance(Duration::from_secs(12 * 3600));
    let q = eventually(10, "the third attempt", || async {
        let st = status(&app, "Locked").await;
        (st["quarantine"]["attempts"] == 3).then(|| st["quarantine"].clone())
    })
    .await;
    assert_eq!(q["nextAttempt"].as_i64(), Some(clock.now_ms() + 4 * six_hours), "{q}");
    assert_eq!(sample.state.user_count().await, 0, "nothing reached the app");

    // The token is fixed: the job tries at once, recovers, and provisions.
    app.patch("/apps/Locked/provisioning", json!({"secretToken": "good-token"})).await;
    eventually(20, "the job recovers", || async {
        let st = status(&app, "Locked").await;
        (st["quarantine"].is_null() && st["accounts"]["enabled"] == 5).then_some(())
    })
    .await;
    let mail = sink.messages(2).await;
    let quarantine_mails = mail.iter().filter(|m| m.contains("BadCredentials")).count();
    assert_eq!(mail.len(), 2, "one quarantine email and one recovery email");
    assert!(quarantine_mails >= 1);
    assert!(mail.iter().all(|m| !m.contains("bad-token") && !m.contains("good-token")));
}

/// 600 users unassigned at once: nothing is disabled until an admin allows it,
/// then all 600 are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_guard_holds_600_disables_until_allowed() {
    let Some(app) = TestApp::spawn(Db::Sqlite).await else { return };
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "t".into(), Default::default())
        .await
        .expect("sample app");
    const N: usize = 600;
    let names: Vec<String> = (0..N).map(|i| format!("d{i:03}@corp.example")).collect();
    let rows: Vec<Value> = names.iter().map(|n| json!({"userName": n})).collect();
    app.post("/users/bulk", json!({"upsert": rows})).await;
    app.post("/groups", json!({"displayName": "Staff"})).await;
    app.post("/groups/Staff/members", json!({"users": names})).await;
    app.post("/apps", json!({"name": "Wiki"})).await;
    app.patch(
        "/apps/Wiki/provisioning",
        json!({"tenantUrl": sample.base_url, "secretToken": "t", "mode": "automatic"}),
    )
    .await;
    app.post("/apps/Wiki/assignments", json!({"group": "Staff"})).await;
    app.post("/apps/Wiki/provisioning/start", json!({})).await;
    eventually(60, "600 accounts", || async { (status(&app, "Wiki").await["accounts"]["enabled"] == N).then_some(()) })
        .await;

    app.delete("/apps/Wiki/assignments?group=Staff").await;
    let st = eventually(30, "the disables are staged", || async {
        let st = status(&app, "Wiki").await;
        st["staged"]["count"].as_u64().map(|_| st)
    })
    .await;
    assert_eq!(st["staged"]["count"], N, "{st}");
    assert_eq!(st["quarantine"]["reason"], "TooManyDeletes", "{st}");
    let (_, logs) = app.get("/apps/Wiki/provisioning/logs?status=Staged&limit=1000").await;
    assert_eq!(logs["total"], N, "each held disable is logged as staged");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let active = sample.state.active_user_count().await;
    assert_eq!(active, N, "nothing is disabled before allow-deletes");

    let (s, v) = app.post("/apps/Wiki/provisioning/allow-deletes", json!({})).await;
    assert!(s.is_success(), "{v}");
    assert_eq!(v["allowed"], N);
    eventually(60, "all 600 are disabled", || async { (sample.state.active_user_count().await == 0).then_some(()) })
        .await;
    eventually(30, "the job is healthy again", || async {
        let st = status(&app, "Wiki").await;
        (st["quarantine"].is_null() && st["staged"].is_null() && st["allowDeletes"] == false).then_some(())
    })
    .await;
    assert_eq!(sample.state.user_count().await, N, "disabled, never deleted");
}

/// A known token is nowhere in clear: not in the database files, not in the
/// provisioning log, not in any API answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_nowhere_in_clear() {
    const SECRET: &str = "tok-5b1f0c9e-known-secret-value";
    let captured = capture_tracing();
    let dir = common::fresh_dir();
    let store = roster_store::Store::open_sqlite(&dir).await.expect("store");
    let Some(app) = TestApp::spawn_on(store).await else { return };
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), SECRET.into(), Default::default())
        .await
        .expect("sample app");
    app.post("/users", json!({"userName": "s@corp.example"})).await;
    app.post("/apps", json!({"name": "Vault"})).await;
    app.post("/apps/Vault/assignments", json!({"user": "s@corp.example"})).await;
    let (_, configured) = app
        .patch(
            "/apps/Vault/provisioning",
            json!({"tenantUrl": sample.base_url, "secretToken": SECRET, "mode": "automatic", "status": "on"}),
        )
        .await;
    app.post("/apps/Vault/provisioning/test-connection", json!({})).await;
    eventually(30, "the user is provisioned", || async {
        (status(&app, "Vault").await["accounts"]["enabled"] == 1).then_some(())
    })
    .await;
    // A wrong token too, so that error paths are searched as well.
    app.patch("/apps/Vault/provisioning", json!({"secretToken": format!("{SECRET}-wrong")})).await;
    let (_, failed_test) = app.post("/apps/Vault/provisioning/test-connection", json!({})).await;
    let mut answers = vec![configured, failed_test];
    for path in [
        "/apps/Vault/provisioning",
        "/apps/Vault/provisioning/status",
        "/apps/Vault/provisioning/logs?limit=1000",
        "/apps/Vault/provisioning/mappings",
        "/apps/Vault",
        "/apps",
        "/tokens",
        "/openapi.json",
    ] {
        answers.push(app.get(path).await.1);
    }
    let csv = app
        .http
        .get(format!("{}/api/v1/apps/Vault/provisioning/logs?format=csv", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    for a in &answers {
        assert!(!a.to_string().contains(SECRET), "an API answer holds the token: {a}");
    }
    assert!(!csv.contains(SECRET), "the log export holds the token");
    let traced = String::from_utf8_lossy(&captured.lock().map(|b| b.clone()).unwrap_or_default()).into_owned();
    assert!(traced.len() > 100, "the server's own log was captured: {traced}");
    assert!(!traced.contains(SECRET), "the server's log holds the token");
    drop(app);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut searched = 0;
    for entry in std::fs::read_dir(&dir).expect("data dir").flatten() {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        searched += bytes.len();
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "{} holds the token in clear",
            entry.path().display()
        );
    }
    assert!(searched > 0, "the database files were searched");
}

/// Captures everything the server logs (debug and up) in this test process.
fn capture_tracing() -> Arc<std::sync::Mutex<Vec<u8>>> {
    #[derive(Clone)]
    struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut b) = self.0.lock() {
                b.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Sink(buffer.clone());
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .try_init();
    buffer
}
