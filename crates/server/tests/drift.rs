//! Drift detection and repair, end to end. After a cycle, the test changes
//! the app behind roster's back with plain SCIM requests (an attribute
//! changed, an account disabled, an account deleted, accounts roster does not
//! know, a member added to a group and one removed); the check reports each
//! by kind and sends no write to the app (the counting proxy in front of it
//! says so); the repair puts every one back (never deleting the unknown
//! account; adopting the one that matches a user only when asked), each
//! repair a provisioning log entry; a second check finds only the unknown
//! account. Against roster's sample app and a third-party SCIM server (PyPI's
//! scim2-server), on SQLite and PostgreSQL.

mod common;

use common::{Db, EngineOptions, Scim2Server, TestApp};
use roster_sample_app::proxy::{self, RunningProxy};
use roster_store::AppId;
use serde_json::{json, Value};
use std::time::Duration;

const APP: &str = "Crm";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct Rig {
    app: TestApp,
    app_id: AppId,
    proxy: RunningProxy,
    /// The app itself, for the changes behind roster's back.
    scim: reqwest::Client,
    base: String,
    token: String,
}

impl Rig {
    async fn new(db: Db, base_url: &str, token: &str) -> Option<Rig> {
        let (app, app_id, proxy) = common::app_behind_proxy(db, APP, base_url, token, json!({})).await?;
        let scim = reqwest::Client::new();
        Some(Rig { app, app_id, proxy, scim, base: base_url.to_string(), token: token.to_string() })
    }

    async fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.app.call(method.clone(), &format!("/api/v1{path}"), body).await;
        assert!(s.is_success(), "{method} {path}: {s} {v}");
        v
    }

    async fn user(&self, name: &str) -> String {
        let body = json!({"userName": name, "displayName": name, "jobTitle": "Dev"});
        self.ok(reqwest::Method::POST, "/users", Some(body)).await["id"].as_str().expect("id").to_string()
    }

    async fn cycle(&self) {
        let run = tokio::time::timeout(Duration::from_secs(60), self.app.engine.cycle(&self.app_id)).await;
        assert_eq!(run.expect("the cycle ends").expect("the cycle succeeds").failed, 0);
    }

    /// A plain SCIM request to the app, not through roster.
    async fn scim(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.scim.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.header("content-type", "application/scim+json").body(b.to_string());
        }
        let answer = req.send().await.expect("the app answers");
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The app's object of `kind` (`Users`, `Groups`) whose `attr` is `value`.
    async fn find(&self, kind: &str, attr: &str, value: &str) -> Option<Value> {
        let list = self
            .scim(
                reqwest::Method::GET,
                &format!("/{kind}?filter={attr}%20eq%20%22{}%22", value.replace('@', "%40")),
                None,
            )
            .await;
        list["Resources"].as_array().and_then(|r| r.first().cloned())
    }

    async fn id_of(&self, kind: &str, attr: &str, value: &str) -> String {
        let found = self.find(kind, attr, value).await.unwrap_or_else(|| panic!("{value} in the app"));
        found["id"].as_str().expect("an id").to_string()
    }

    async fn patch(&self, path: &str, ops: Value) {
        self.scim(reqwest::Method::PATCH, path, Some(json!({"schemas": [PATCH_OP], "Operations": ops}))).await;
    }

    async fn drift(&self, body: Value) -> Value {
        self.ok(reqwest::Method::POST, &format!("/apps/{APP}/provisioning/drift"), Some(body)).await
    }
}

fn items<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["items"].as_array().into_iter().flatten().filter(|i| i["kind"] == kind).collect()
}

async fn drift_is_found_and_repaired(db: Db, base_url: &str, token: &str) {
    let Some(rig) = Rig::new(db, base_url, token).await else { return };
    let alice = rig.user("alice@corp.example").await;
    let bob = rig.user("bob@corp.example").await;
    let carol = rig.user("carol@corp.example").await;
    let dave = rig.user("dave@corp.example").await;
    rig.ok(reqwest::Method::POST, "/groups", Some(json!({"displayName": "Team"}))).await;
    rig.ok(reqwest::Method::POST, "/groups/Team/members", Some(json!({"users": [alice, bob]}))).await;
    rig.ok(reqwest::Method::POST, "/groups", Some(json!({"displayName": "Ops"}))).await;
    rig.ok(reqwest::Method::POST, "/groups/Ops/members", Some(json!({"users": [dave]}))).await;
    for principal in [json!({"group": "Team"}), json!({"group": "Ops"}), json!({"user": carol})] {
        rig.ok(reqwest::Method::POST, &format!("/apps/{APP}/assignments"), Some(principal)).await;
    }
    rig.cycle().await;
    let clean = rig.drift(json!({})).await;
    assert_eq!(clean["items"], json!([]), "no drift right after a cycle: {clean:#}");

    // Behind roster's back.
    let alice_acc = rig.id_of("Users", "userName", "alice@corp.example").await;
    let bob_acc = rig.id_of("Users", "userName", "bob@corp.example").await;
    let carol_acc = rig.id_of("Users", "userName", "carol@corp.example").await;
    let dave_acc = rig.id_of("Users", "userName", "dave@corp.example").await;
    let team = rig.id_of("Groups", "displayName", "Team").await;
    let ops = rig.id_of("Groups", "displayName", "Ops").await;
    rig.scim(reqwest::Method::DELETE, &format!("/Groups/{ops}"), None).await;
    rig.patch(&format!("/Users/{alice_acc}"), json!([{"op": "replace", "path": "title", "value": "Hacked"}])).await;
    rig.patch(&format!("/Users/{dave_acc}"), json!([{"op": "replace", "path": "active", "value": false}])).await;
    rig.patch(
        &format!("/Groups/{team}"),
        json!([{"op": "add", "path": "members", "value": [{"value": carol_acc}]},
               {"op": "remove", "path": format!("members[value eq \"{alice_acc}\"]")}]),
    )
    .await;
    rig.scim(reqwest::Method::DELETE, &format!("/Users/{bob_acc}"), None).await;
    let core = "urn:ietf:params:scim:schemas:core:2.0:User";
    for name in ["zed@corp.example", "eve@corp.example"] {
        rig.scim(reqwest::Method::POST, "/Users", Some(json!({"schemas": [core], "userName": name, "active": true})))
            .await;
    }
    // eve is in the directory and assigned, but has no account roster knows.
    let eve = rig.user("eve@corp.example").await;
    rig.ok(reqwest::Method::POST, &format!("/apps/{APP}/assignments"), Some(json!({"user": eve}))).await;

    // The check reports each kind and writes nothing to the app.
    rig.proxy.control.reset();
    let report = rig.drift(json!({})).await;
    let writes: Vec<String> =
        rig.proxy.control.requests().iter().filter(|r| r.method != proxy::Method::GET).map(|r| r.key()).collect();
    assert!(writes.is_empty(), "a check only reads: {writes:?}");
    let changed = items(&report, "changed");
    let alice_change = changed.iter().find(|i| i["targetId"] == alice_acc.as_str()).expect("alice changed");
    assert_eq!(alice_change["differences"], json!([{"name": "title", "old": "Hacked", "new": "Dev"}]), "{report:#}");
    assert!(changed.iter().any(|i| i["targetId"] == dave_acc.as_str()), "dave disabled in the app: {report:#}");
    assert!(items(&report, "missing").iter().any(|i| i["targetId"] == bob_acc.as_str()), "{report:#}");
    let unmanaged = items(&report, "unmanaged");
    let zed = unmanaged.iter().find(|i| i["name"] == "zed@corp.example").expect("zed");
    assert!(zed["adoptableBy"].is_null() && zed["matching"] == "userName = \"zed@corp.example\"", "{zed}");
    let eve_item = unmanaged.iter().find(|i| i["name"] == "eve@corp.example").expect("eve");
    assert_eq!(eve_item["adoptableBy"], "eve@corp.example");
    let added = items(&report, "memberAdded");
    assert!(added.iter().any(|i| i["differences"][0]["old"] == carol_acc.as_str()), "{report:#}");
    let removed = items(&report, "memberRemoved");
    assert!(removed.iter().any(|i| i["differences"][0]["new"] == alice_acc.as_str()), "{report:#}");
    assert!(items(&report, "groupMissing").iter().any(|i| i["name"] == "Ops"), "{report:#}");
    let last = rig.ok(reqwest::Method::GET, &format!("/apps/{APP}/provisioning/drift"), None).await;
    assert_eq!(last, report, "the last report is kept");

    // The repair puts it all back.
    let repaired = rig.drift(json!({"repair": true, "adopt": true})).await;
    assert_eq!(repaired["failed"], 0, "{repaired:#}");
    let alice_now = rig.find("Users", "userName", "alice@corp.example").await.expect("alice");
    assert_eq!(alice_now["title"], "Dev");
    let dave_now = rig.find("Users", "userName", "dave@corp.example").await.expect("dave");
    assert_eq!(dave_now["active"], true);
    let bob_now = rig.id_of("Users", "userName", "bob@corp.example").await;
    assert_ne!(bob_now, bob_acc, "bob has an account again");
    assert!(rig.find("Users", "userName", "zed@corp.example").await.is_some(), "an unknown account is never deleted");
    let group = rig.scim(reqwest::Method::GET, &format!("/Groups/{team}"), None).await;
    let mut members: Vec<String> = group["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["value"].as_str().map(String::from))
        .collect();
    members.sort();
    let mut want = vec![alice_acc.clone(), bob_now.clone()];
    want.sort();
    assert_eq!(members, want, "the group holds what the directory says");
    let ops_now = rig.find("Groups", "displayName", "Ops").await.expect("Ops is made again");
    let dave_now_id = dave_now["id"].as_str().expect("dave's id");
    assert_eq!(ops_now["members"][0]["value"], dave_now_id, "with its member: {ops_now}");

    let after = rig.drift(json!({})).await;
    let left: Vec<&Value> = after["items"].as_array().into_iter().flatten().collect();
    assert_eq!(left.len(), 1, "only the unknown account is left: {after:#}");
    assert_eq!(left[0]["name"], "zed@corp.example");

    // Each repair is a log entry with its steps, after the entry saying what drifted.
    let logs = rig.ok(reqwest::Method::GET, &format!("/apps/{APP}/provisioning/logs?limit=500"), None).await;
    let entries = logs["items"].as_array().expect("items");
    let of = |name: &str| entries.iter().filter(|e| e["sourceName"] == name).collect::<Vec<_>>();
    let alice_logs = of("alice@corp.example");
    assert!(alice_logs.iter().any(|e| e["steps"].to_string().contains("changed in the app behind roster's back")));
    assert!(
        alice_logs.iter().any(|e| e["action"] == "Update"
            && e["status"] == "Success"
            && e["cycleId"].as_str().unwrap_or("").starts_with("drift-")),
        "{alice_logs:#?}"
    );
    assert!(of("eve@corp.example").iter().any(|e| e["steps"].to_string().contains("matched the existing account")));
}

async fn against_the_sample_app(db: Db) {
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "tok".into(), Default::default())
        .await
        .expect("the sample app starts");
    drift_is_found_and_repaired(db, &sample.base_url, "tok").await;
}

async fn against_scim2_server(db: Db) {
    let Some(server) = Scim2Server::start().await else { return };
    drift_is_found_and_repaired(db, &server.base_url, &server.token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_on_the_sample_app_on_sqlite() {
    against_the_sample_app(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_on_the_sample_app_on_postgres() {
    against_the_sample_app(Db::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_on_scim2_server_on_sqlite() {
    against_scim2_server(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_on_scim2_server_on_postgres() {
    against_scim2_server(Db::Postgres).await
}

/// A scheduled check: with `driftCheckHours`, the background pass starts a
/// check (report only) when none is younger than that, on the engine's clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_check_runs_when_due() {
    use roster_engine::reliability::{Clock, ManualClock};
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "tok".into(), Default::default())
        .await
        .expect("the sample app starts");
    let clock = ManualClock::new(1_800_000_000_000);
    let options = EngineOptions {
        manual_cycles: true,
        clock: Some(clock.clone() as std::sync::Arc<dyn Clock>),
        ..Default::default()
    };
    let Some(app) = TestApp::spawn_with(Db::Sqlite, options).await else { return };
    let (_, v) = app.post("/apps", json!({"name": APP})).await;
    let app_id = AppId::from_stored(v["id"].as_str().expect("id").to_string());
    let settings = json!({"tenantUrl": sample.base_url, "secretToken": "tok", "mode": "automatic", "scope": "all",
        "driftCheckHours": 1});
    let (s, v) = app.patch(&format!("/apps/{APP}/provisioning"), settings).await;
    assert!(s.is_success(), "{v}");
    assert_eq!(v["driftCheckHours"], 1, "{v}");
    let (s, v) = app.patch(&format!("/apps/{APP}/provisioning"), json!({"driftCheckHours": 721})).await;
    assert_eq!(s, reqwest::StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = app.post(&format!("/apps/{APP}/provisioning/start"), json!({})).await;
    assert!(s.is_success(), "{v}");
    app.post("/users", json!({"userName": "ann@corp.example"})).await;
    app.engine.cycle(&app_id).await.expect("a cycle");

    let last = || async { app.engine.last_drift(&app_id).await.expect("the last report") };
    app.engine.inbound_pass().await;
    let first = common::eventually(30, "a scheduled check", || async { last().await }).await;
    assert_eq!((first.accounts, first.total(), first.repair), (1, 0, false), "{first:?}");
    clock.advance(Duration::from_secs(30 * 60));
    app.engine.inbound_pass().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(last().await.map(|r| r.at), Some(first.at), "not due yet");
    clock.advance(Duration::from_secs(31 * 60));
    app.engine.inbound_pass().await;
    let again = common::eventually(30, "the next check", || async { last().await.filter(|r| r.at > first.at) }).await;
    assert_eq!(again.total(), 0);
}

/// A hostile app, for the drift check: its listing holds a 100 KB title and a
/// 100 KB userName with a control character, then (once `endless` is set)
/// never ends.
mod hostile {
    use axum::extract::{Query, State};
    use axum::routing::get;
    use axum::{Json, Router};
    use serde_json::{json, Value};
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    pub async fn start(endless: Arc<AtomicBool>) -> String {
        async fn list(State(endless): State<Arc<AtomicBool>>, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
            let start: u64 = q.get("startIndex").and_then(|s| s.parse().ok()).unwrap_or(1);
            let count: u64 = q.get("count").and_then(|s| s.parse().ok()).unwrap_or(100);
            let schemas = json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]);
            if q.contains_key("filter") {
                return Json(json!({"schemas": schemas, "totalResults": 0, "Resources": []}));
            }
            let long = "A".repeat(100_000);
            let resources: Vec<Value> = if endless.load(Ordering::SeqCst) {
                (start..start + count)
                    .map(|i| json!({"id": format!("x{i}"), "userName": format!("x{i}@corp.example")}))
                    .collect()
            } else {
                vec![
                    json!({"id": "acct-1", "userName": "ann@corp.example", "active": true, "title": long}),
                    json!({"id": "acct-2", "userName": format!("{long}\u{7}@corp.example"), "active": true}),
                ]
            };
            let total = if endless.load(Ordering::SeqCst) { 1_000_000_000u64 } else { 2 };
            Json(json!({"schemas": schemas, "totalResults": total, "startIndex": start, "Resources": resources}))
        }
        async fn create(Json(mut body): Json<Value>) -> (axum::http::StatusCode, Json<Value>) {
            body["id"] = json!("acct-1");
            (axum::http::StatusCode::CREATED, Json(body))
        }
        let app = Router::new().route("/scim/v2/Users", get(list).post(create)).with_state(endless);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/scim/v2")
    }
}

/// Hostile answers: a 100 KB value is cut in the report, an unknown account's
/// long userName too; a listing that never ends stops at maxListedObjects with
/// an error naming it, and keeps no report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_listing_is_cut_and_stopped() {
    let endless = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let base = hostile::start(endless.clone()).await;
    let Some((app, app_id, _proxy)) =
        common::app_behind_proxy(Db::Sqlite, APP, &base, "t", json!({"scope": "all", "maxListedObjects": 1000})).await
    else {
        return;
    };
    app.post("/users", json!({"userName": "ann@corp.example", "jobTitle": "Dev"})).await;
    app.engine.cycle(&app_id).await.expect("a cycle");
    let (s, report) =
        app.call(reqwest::Method::POST, &format!("/api/v1/apps/{APP}/provisioning/drift"), Some(json!({}))).await;
    assert_eq!(s, reqwest::StatusCode::OK, "{report}");
    let text = report.to_string();
    assert!(text.len() < 20_000, "the report keeps no 100 KB value: {} bytes", text.len());
    assert!(text.contains("cut, 100000 bytes in all"), "{report:#}");
    assert_eq!((report["changed"].as_u64(), report["unmanaged"].as_u64()), (Some(1), Some(1)), "{report:#}");

    endless.store(true, std::sync::atomic::Ordering::SeqCst);
    let (s, v) =
        app.call(reqwest::Method::POST, &format!("/api/v1/apps/{APP}/provisioning/drift"), Some(json!({}))).await;
    assert_eq!(s, reqwest::StatusCode::BAD_GATEWAY, "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("maxListedObjects"), "{v}");
    let (_, last) = app.get(&format!("/apps/{APP}/provisioning/drift")).await;
    assert_eq!(last["at"], report["at"], "the stopped check kept no report");
}
