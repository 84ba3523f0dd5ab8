//! Plan before apply, end to end: the plan of a mapping and scoping change,
//! read page by page through the API, sends nothing to the app and writes
//! nothing; then the change is saved and a cycle runs, and the requests that
//! reached the app (seen by the counting proxy in front of it) are exactly the
//! plan's, request for request: method, path and body. Against roster's
//! sample app and against a third-party SCIM server (PyPI's scim2-server), on
//! SQLite and PostgreSQL.

mod common;

use common::{Db, Scim2Server, TestApp};
use reqwest::StatusCode;
use roster_sample_app::proxy::{self, RunningProxy};
use roster_store::AppId;
use serde_json::{json, Value};
use std::time::Duration;

const APP: &str = "Crm";

struct Rig {
    app: TestApp,
    app_id: AppId,
    proxy: RunningProxy,
}

impl Rig {
    async fn new(db: Db, base_url: &str, token: &str) -> Option<Rig> {
        Rig::with(db, base_url, token, json!({})).await
    }

    /// With `dialect` pinned (`{"userUpdate": "put"}`...).
    async fn with(db: Db, base_url: &str, token: &str, dialect: Value) -> Option<Rig> {
        let (app, app_id, proxy) =
            common::app_behind_proxy(db, APP, base_url, token, json!({"dialect": dialect})).await?;
        Some(Rig { app, app_id, proxy })
    }

    async fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.app.call(method.clone(), &format!("/api/v1{path}"), body).await;
        assert!(s.is_success(), "{method} {path}: {s} {v}");
        v
    }

    async fn user(&self, name: &str, title: &str, department: &str, manager: Option<&str>) -> String {
        let mut body = json!({"userName": name, "displayName": name, "jobTitle": title, "department": department});
        if let Some(m) = manager {
            body["manager"] = json!(m);
        }
        self.ok(reqwest::Method::POST, "/users", Some(body)).await["id"].as_str().expect("id").to_string()
    }

    async fn cycle(&self) {
        let run = tokio::time::timeout(Duration::from_secs(60), self.app.engine.cycle(&self.app_id)).await;
        assert_eq!(run.expect("the cycle ends").expect("the cycle succeeds").failed, 0);
    }

    /// Every page of the plan of `proposal`, `limit` changes at a time: the
    /// summary and the changes.
    async fn plan(&self, proposal: &Value, limit: usize) -> (Value, Vec<Value>) {
        let mut after: Option<String> = None;
        let mut summary = Value::Null;
        let mut changes = Vec::new();
        for _ in 0..100 {
            let query = match &after {
                Some(a) => format!("?limit={limit}&after={}", urlencoding(a)),
                None => format!("?limit={limit}"),
            };
            let page = self
                .ok(reqwest::Method::POST, &format!("/apps/{APP}/provisioning/plan{query}"), Some(proposal.clone()))
                .await;
            if after.is_none() {
                summary = page["summary"].clone();
            } else {
                assert!(page["summary"].is_null(), "the summary comes with the first page only: {page}");
            }
            let got = page["changes"].as_array().expect("changes").clone();
            assert!(got.len() <= limit, "a page holds at most {limit} changes: {page}");
            changes.extend(got);
            match page["next"].as_str() {
                Some(n) => after = Some(n.to_string()),
                None => return (summary, changes),
            }
        }
        panic!("the plan has no end");
    }

    async fn log_count(&self) -> usize {
        self.ok(reqwest::Method::GET, &format!("/apps/{APP}/provisioning/logs?limit=1000"), None).await["items"]
            .as_array()
            .map_or(0, Vec::len)
    }
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A request as compared: method, path and body (reads are left out: a
/// plan lists writes, and the lookups that come before a create). A `PUT`'s
/// body is the object as the app holds it when it is read, with the change
/// applied: the plan shows the change, so a `PUT` is compared by its path.
fn key(method: &str, path: &str, body: Option<Value>) -> String {
    let body = if method == "PUT" { None } else { body };
    format!("{method} {path} {}", body.map(|b| b.to_string()).unwrap_or_default())
}

fn planned_writes(changes: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = changes
        .iter()
        .flat_map(|c| c["requests"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["method"] != "GET")
        .map(|r| key(r["method"].as_str().unwrap_or(""), r["path"].as_str().unwrap_or(""), r.get("body").cloned()))
        .collect();
    out.sort();
    out
}

fn sent_writes(proxy: &RunningProxy) -> Vec<String> {
    let mut out: Vec<String> = proxy
        .control
        .requests()
        .into_iter()
        .filter(|r| r.method != proxy::Method::GET)
        .map(|r| key(r.method.as_str(), &r.path, r.body_json()))
        .collect();
    out.sort();
    out
}

async fn plan_matches_the_cycle(db: Db, base_url: &str, token: &str, dialect: Value) {
    let Some(rig) = Rig::with(db, base_url, token, dialect).await else { return };
    let alice = rig.user("alice@corp.example", "Lead", "Eng", None).await;
    let bob = rig.user("bob@corp.example", "Dev", "Eng", Some(&alice)).await;
    let carol = rig.user("carol@corp.example", "Dev", "Eng", Some(&alice)).await;
    let dave = rig.user("dave@corp.example", "Rep", "Sales", None).await;
    rig.ok(reqwest::Method::POST, "/groups", Some(json!({"displayName": "Team"}))).await;
    rig.ok(reqwest::Method::POST, "/groups/Team/members", Some(json!({"users": [alice, bob, dave]}))).await;
    rig.ok(reqwest::Method::POST, &format!("/apps/{APP}/assignments"), Some(json!({"group": "Team"}))).await;
    rig.ok(reqwest::Method::POST, &format!("/apps/{APP}/assignments"), Some(json!({"user": carol}))).await;
    rig.cycle().await;

    // Behind the next cycle: a directory change, a new user, and a proposed
    // mapping (title gets a prefix) and scoping filter (no Sales).
    rig.ok(reqwest::Method::PATCH, &format!("/users/{carol}"), Some(json!({"jobTitle": "Engineer"}))).await;
    let erin = rig.user("erin@corp.example", "Dev", "Eng", Some(&alice)).await;
    rig.ok(reqwest::Method::POST, &format!("/apps/{APP}/assignments"), Some(json!({"user": erin}))).await;
    let mut mappings = rig.ok(reqwest::Method::GET, &format!("/apps/{APP}/provisioning/mappings"), None).await;
    let users = mappings["objects"]
        .as_array_mut()
        .and_then(|o| o.iter_mut().find(|m| m["sourceObject"] == "user"))
        .expect("a user mapping");
    for a in users["attributes"].as_array_mut().expect("attributes") {
        if a["target"] == "title" {
            a["mapping"] = json!({"type": "expression", "expression": "Join(\" \", \"Acme\", [jobTitle])"});
        }
    }
    let scoping =
        json!({"groups": [{"clauses": [{"attribute": "department", "operator": "NOT EQUALS", "value": "Sales"}]}]});
    let proposal = json!({"mappings": mappings, "scoping": scoping});

    rig.proxy.control.reset();
    let logs = rig.log_count().await;
    let (summary, changes) = rig.plan(&proposal, 2).await;
    assert!(rig.proxy.control.requests().is_empty(), "a plan calls nothing in the app");
    assert_eq!(rig.log_count().await, logs, "a plan writes nothing");
    let (again, all) = rig.plan(&proposal, 1000).await;
    assert_eq!((&again, &all), (&summary, &changes), "paged or whole, the plan is the same");

    let by =
        |name: &str| changes.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("{name} in {changes:#?}"));
    assert_eq!(by("erin@corp.example")["action"], "Create");
    assert_eq!(by("dave@corp.example")["action"], "Disable");
    for name in ["alice@corp.example", "bob@corp.example", "carol@corp.example"] {
        assert_eq!(by(name)["action"], "Update", "{name}");
    }
    assert_eq!(by("carol@corp.example")["modified"][0]["new"], "Acme Engineer");
    assert!(by("Team")["requests"].to_string().contains("members"), "dave leaves the group first: {changes:#?}");
    assert_eq!(summary["creates"], 1, "{summary}");
    assert_eq!(summary["updates"], 4, "three accounts and the group: {summary}");
    assert_eq!(summary["disables"], 1, "{summary}");
    assert_eq!(summary["updatesByAttribute"]["title"], 3, "{summary}");
    assert_eq!(summary["users"], 5, "{summary}");
    let requests: usize = changes.iter().map(|c| c["requests"].as_array().map_or(0, Vec::len)).sum();
    assert_eq!(summary["requests"], requests, "{summary}");

    // Apply: save the proposal, run the cycle, compare.
    let mut saved = proposal["mappings"].clone();
    if let Some(users) =
        saved["objects"].as_array_mut().and_then(|o| o.iter_mut().find(|m| m["sourceObject"] == "user"))
    {
        users["scoping"] = scoping.clone();
    }
    rig.ok(reqwest::Method::PUT, &format!("/apps/{APP}/provisioning/mappings"), Some(saved)).await;
    rig.cycle().await;
    let planned = planned_writes(&changes);
    let sent = sent_writes(&rig.proxy);
    assert_eq!(planned, sent, "the plan lists exactly what the cycle sent");

    // The next plan, with nothing proposed, is empty.
    let (summary, changes) = rig.plan(&json!({}), 100).await;
    assert!(changes.is_empty(), "{changes:#?}");
    assert_eq!(summary["requests"], 0);
}

async fn bad_plans_are_refused(db: Db) {
    let Some(rig) = Rig::new(db, "http://127.0.0.1:9/scim/v2", "t").await else { return };
    let path = format!("/api/v1/apps/{APP}/provisioning/plan");
    let (s, v) = rig.app.call(reqwest::Method::POST, &format!("{path}?after=nonsense"), Some(json!({}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v.to_string().contains("after"), "{v}");
    let bad = json!({"mappings": {"objects": [{"name": "u", "sourceObject": "user", "targetObject": "User",
        "attributes": [{"target": "éaaaaaaa", "mapping": {"type": "direct", "source": "userName"}}]}]}});
    let (s, v) = rig.app.call(reqwest::Method::POST, &path, Some(bad)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = rig.app.call(reqwest::Method::POST, "/api/v1/apps/Nope/provisioning/plan", Some(json!({}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
}

async fn against_the_sample_app(db: Db) {
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "tok".into(), Default::default())
        .await
        .expect("the sample app starts");
    plan_matches_the_cycle(db, &sample.base_url, "tok", json!({})).await;
}

/// The sample app taking only `PUT`: each change is planned as the read and
/// the whole `PUT` the cycle sends.
async fn against_the_sample_app_taking_put(db: Db) {
    let options = roster_sample_app::SampleOptions {
        refuse: vec![roster_sample_app::Refusal::Patch],
        ..roster_sample_app::SampleOptions::default()
    };
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "tok".into(), options)
        .await
        .expect("the sample app starts");
    let dialect = json!({"userUpdate": "put", "groupUpdate": "put"});
    plan_matches_the_cycle(db, &sample.base_url, "tok", dialect).await;
}

async fn against_scim2_server(db: Db) {
    let Some(server) = Scim2Server::start().await else { return };
    plan_matches_the_cycle(db, &server.base_url, &server.token, json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_matches_the_cycle_on_the_sample_app_on_sqlite() {
    against_the_sample_app(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_matches_the_cycle_on_the_sample_app_on_postgres() {
    against_the_sample_app(Db::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_matches_the_cycle_on_the_sample_app_taking_put_on_sqlite() {
    against_the_sample_app_taking_put(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_matches_the_cycle_on_scim2_server_on_sqlite() {
    against_scim2_server(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_matches_the_cycle_on_scim2_server_on_postgres() {
    against_scim2_server(Db::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_plans_are_refused_on_sqlite() {
    bad_plans_are_refused(Db::Sqlite).await
}
