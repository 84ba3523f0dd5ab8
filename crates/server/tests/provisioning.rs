//! The provisioning lifecycle end to end: roster's engine against a third-party
//! SCIM server (PyPI's scim2-server) and against roster's sample app, with the store
//! on SQLite and on PostgreSQL.

mod common;

use common::{eventually, Db, Scim2Server, TestApp};
use reqwest::StatusCode;
use roster_sample_app::{Refusal, SampleOptions};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The app's side, read over SCIM like any client would.
struct Target {
    base_url: String,
    token: String,
    http: reqwest::Client,
}

impl Target {
    async fn user(&self, user_name: &str) -> Vec<Value> {
        let filter = format!("userName eq \"{user_name}\"");
        let r: Value = self
            .http
            .get(format!("{}/Users", self.base_url))
            .query(&[("filter", filter.as_str())])
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("target answers")
            .json()
            .await
            .expect("list response");
        r["Resources"].as_array().cloned().unwrap_or_default()
    }

    async fn one(&self, user_name: &str) -> Option<Value> {
        let found = self.user(user_name).await;
        assert!(found.len() <= 1, "{user_name} is duplicated in the app: {found:?}");
        found.into_iter().next()
    }

    async fn create(&self, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/Users", self.base_url))
            .bearer_auth(&self.token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await
            .expect("create");
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json().await.expect("json")
    }

    /// The member ids of the group named `name` in the app, if it has one.
    async fn group_members(&self, name: &str) -> Option<Vec<String>> {
        let filter = format!("displayName eq \"{name}\"");
        let r: Value = self
            .http
            .get(format!("{}/Groups", self.base_url))
            .query(&[("filter", filter.as_str())])
            .bearer_auth(&self.token)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let group = r["Resources"].as_array()?.first()?.clone();
        let members = group["members"].as_array().cloned().unwrap_or_default();
        Some(members.iter().filter_map(|m| m["value"].as_str().map(String::from)).collect())
    }

    async fn delete(&self, id: &str) {
        let r = self
            .http
            .delete(format!("{}/Users/{id}", self.base_url))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("delete");
        assert!(r.status().is_success());
    }
}

async fn user_field(t: &Target, user_name: &str, f: impl Fn(&Value) -> bool) -> Option<Value> {
    t.one(user_name).await.filter(|u| f(u))
}

/// The whole lifecycle of the engine issue, against one target.
async fn lifecycle(app: &TestApp, target: Target) {
    // The directory.
    for (u, given, title) in [
        ("alice@corp.example", "Alice", "Engineer"),
        ("bob@corp.example", "Bob", "Analyst"),
        ("carol@corp.example", "Carol", "SRE"),
        ("dave@corp.example", "Dave", "Intern"),
    ] {
        let (s, v) = app.post("/users", json!({"userName": u, "givenName": given, "surname": "Example", "displayName": format!("{given} Example"),
            "mail": u, "jobTitle": title, "department": "R&D", "employeeId": format!("E-{given}")})).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    app.patch("/users/bob@corp.example", json!({"manager": "alice@corp.example"})).await;
    app.post("/groups", json!({"displayName": "Engineering"})).await;
    app.post("/groups", json!({"displayName": "Platform"})).await;
    app.post("/groups/Engineering/members", json!({"group": "Platform"})).await;
    app.post("/groups/Platform/members", json!({"user": "carol@corp.example"})).await;

    // Bob already has an account in the app, with an old title.
    let pre = target.create(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob@corp.example", "title": "Old title", "active": true})).await;
    let bob_target_id = pre["id"].as_str().expect("id").to_string();

    // The app, its credentials, test connection.
    app.post("/apps", json!({"name": "Crm"})).await;
    let (s, v) = app
        .patch(
            "/apps/Crm/provisioning",
            json!({"tenantUrl": target.base_url, "secretToken": "wrong-token", "mode": "automatic"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["secretTokenSet"], true);
    assert!(!v.to_string().contains("wrong-token"), "the secret is never returned");
    let (_, t) = app.post("/apps/Crm/provisioning/test-connection", json!({})).await;
    assert_eq!(t["ok"], false, "{t}");
    assert!(t["message"].as_str().unwrap_or_default().contains("401"), "a bad token gives a clear reason: {t}");
    app.patch("/apps/Crm/provisioning", json!({"secretToken": target.token})).await;
    let (_, t) = app.post("/apps/Crm/provisioning/test-connection", json!({})).await;
    assert_eq!(t["ok"], true, "{t}");

    // Assign and turn on.
    app.post("/apps/Crm/assignments", json!({"user": "alice@corp.example"})).await;
    app.post("/apps/Crm/assignments", json!({"user": "bob@corp.example"})).await;
    app.post("/apps/Crm/assignments", json!({"group": "Engineering"})).await;
    let (s, _) = app.post("/apps/Crm/provisioning/start", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    eventually(30, "the initial cycle ends", || async {
        let (_, st) = app.get("/apps/Crm/provisioning/status").await;
        (st["phase"] == "incremental" && st["steadyStateAt"].is_i64()).then_some(())
    })
    .await;

    // Created, matched and adopted (not duplicated), nested group reached, outsider not.
    let alice = target.one("alice@corp.example").await.expect("alice created");
    assert_eq!(alice["title"], "Engineer");
    assert_eq!(alice["active"], true);
    assert_eq!(alice["name"]["givenName"], "Alice");
    assert_eq!(alice[ENTERPRISE]["department"], "R&D");
    let alice_id = alice["id"].as_str().expect("id").to_string();
    let bob = target.one("bob@corp.example").await.expect("bob");
    assert_eq!(bob["id"], bob_target_id.as_str(), "the existing account was adopted");
    assert_eq!(bob["title"], "Analyst", "the adopted account was updated");
    assert_eq!(bob[ENTERPRISE]["manager"]["value"], alice_id.as_str(), "manager is the manager's id in the app");
    assert!(
        target.one("carol@corp.example").await.is_some(),
        "a member of a nested group of an assigned group is provisioned"
    );
    assert!(target.one("dave@corp.example").await.is_none(), "an unassigned user is not");

    // An attribute change reaches the app quickly, as a PATCH of just that attribute.
    let started = Instant::now();
    app.patch("/users/alice@corp.example", json!({"jobTitle": "Staff Engineer"})).await;
    eventually(10, "the title change reaches the app", || {
        user_field(&target, "alice@corp.example", |u| u["title"] == "Staff Engineer")
    })
    .await;
    let latency = started.elapsed();
    eprintln!("directory change reached the app in {} ms", latency.as_millis());
    assert!(latency < Duration::from_secs(2), "a change took {latency:?}");
    let last = eventually(10, "the update is logged", || async {
        let (_, logs) = app.get("/apps/Crm/provisioning/logs?user=alice@corp.example&action=Update").await;
        let last = logs["items"][0].clone();
        last["modified"].to_string().contains("Staff Engineer").then_some(last)
    })
    .await;
    assert_eq!(last["status"], "Success");
    assert_eq!(
        last["modified"],
        json!([{"name": "title", "old": "Engineer", "new": "Staff Engineer"}]),
        "only the changed attribute"
    );

    // Manager changed.
    app.patch("/users/bob@corp.example", json!({"manager": "carol@corp.example"})).await;
    let carol_id =
        target.one("carol@corp.example").await.and_then(|c| c["id"].as_str().map(String::from)).expect("carol");
    eventually(10, "bob's manager becomes carol", || {
        user_field(&target, "bob@corp.example", |u| u[ENTERPRISE]["manager"]["value"] == carol_id.as_str())
    })
    .await;

    // Name, email and department changes reach the app.
    app.patch(
        "/users/alice@corp.example",
        json!({"givenName": "Alicia", "mail": "alicia@corp.example", "department": "Platform"}),
    )
    .await;
    eventually(10, "alice's name, email and department reach the app", || {
        user_field(&target, "alice@corp.example", |u| {
            u["name"]["givenName"] == "Alicia"
                && u["name"]["formatted"] == "Alicia Example"
                && u["emails"].as_array().is_some_and(|e| e.iter().any(|e| e["value"] == "alicia@corp.example"))
                && !u["emails"].to_string().contains("\"alice@corp.example\"")
                && u[ENTERPRISE]["department"] == "Platform"
        })
    })
    .await;

    // Members added to and removed from a provisioned group.
    let members = eventually(10, "the Engineering group is in the app", || target.group_members("Engineering")).await;
    assert!(!members.contains(&alice_id), "{members:?}");
    app.post("/groups/Engineering/members", json!({"user": "alice@corp.example"})).await;
    eventually(10, "alice joins Engineering in the app", || async {
        target.group_members("Engineering").await.filter(|m| m.contains(&alice_id))
    })
    .await;
    app.delete("/groups/Engineering/members/alice@corp.example").await;
    eventually(10, "alice leaves Engineering in the app", || async {
        target.group_members("Engineering").await.filter(|m| !m.contains(&alice_id))
    })
    .await;

    // Unassigned → disabled, never deleted; reassigned → enabled.
    app.delete("/apps/Crm/assignments?user=bob@corp.example").await;
    eventually(10, "bob is disabled", || user_field(&target, "bob@corp.example", |u| u["active"] == false)).await;
    app.post("/apps/Crm/assignments", json!({"user": "bob@corp.example"})).await;
    eventually(10, "bob is enabled again", || user_field(&target, "bob@corp.example", |u| u["active"] == true)).await;

    // Removed from the group → disabled; disabled and soft-deleted in the directory → disabled.
    app.post("/users/dave@corp.example/disable", json!({})).await;
    app.post("/users/carol@corp.example/disable", json!({})).await;
    eventually(10, "carol is disabled", || user_field(&target, "carol@corp.example", |u| u["active"] == false)).await;
    app.delete("/users/alice@corp.example").await;
    eventually(10, "soft-deleted alice is disabled", || {
        user_field(&target, "alice@corp.example", |u| u["active"] == false)
    })
    .await;
    assert!(target.one("dave@corp.example").await.is_none());

    // Deleted in the app behind roster's back → recreated on the next change.
    app.post("/users/carol@corp.example/enable", json!({})).await;
    eventually(10, "carol is enabled", || user_field(&target, "carol@corp.example", |u| u["active"] == true)).await;
    target.delete(&carol_id).await;
    app.patch("/users/carol@corp.example", json!({"jobTitle": "Principal SRE"})).await;
    let carol = eventually(10, "carol is recreated", || {
        user_field(&target, "carol@corp.example", |u| u["title"] == "Principal SRE")
    })
    .await;
    assert_ne!(carol["id"], carol_id.as_str());
    // The log entry is recorded right after the app answered: wait for it.
    eventually(10, "the log says the account was created again", || async {
        let (_, logs) = app.get("/apps/Crm/provisioning/logs?user=carol@corp.example&action=Create").await;
        logs["items"][0]["steps"].to_string().contains("again").then_some(())
    })
    .await;

    // Renamed in the directory: the same account, renamed.
    app.patch("/users/bob@corp.example", json!({"userName": "robert@corp.example"})).await;
    let robert = eventually(10, "bob is renamed in the app", || target.one("robert@corp.example")).await;
    assert_eq!(robert["id"], bob_target_id.as_str(), "renamed, not created again");
    assert!(target.one("bob@corp.example").await.is_none());

    // Provision on demand, the CSV export, and the status counters.
    let (_, od) = app.post("/apps/Crm/provisioning/provision-on-demand", json!({"user": "dave@corp.example"})).await;
    assert!(od["steps"].is_array(), "{od}");
    let csv = app
        .http
        .get(format!("{}/api/v1/apps/Crm/provisioning/logs?format=csv", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("csv");
    assert!(csv.headers()["content-type"].to_str().unwrap_or_default().starts_with("text/csv"));
    assert!(csv.text().await.expect("text").lines().count() > 5);
    let (_, st) = app.get("/apps/Crm/provisioning/status").await;
    assert!(st["toDate"]["created"].as_u64().unwrap_or(0) >= 3, "{st}");
    assert!(st["toDate"]["disabled"].as_u64().unwrap_or(0) >= 3, "{st}");
    assert_eq!(st["toDate"]["failed"], 0, "{st}");
}

async fn against_scim2_server(db: Db) {
    let Some(peer) = Scim2Server::start().await else { return };
    let Some(app) = TestApp::spawn(db).await else { return };
    lifecycle(
        &app,
        Target { base_url: peer.base_url.clone(), token: peer.token.clone(), http: reqwest::Client::new() },
    )
    .await;
}

async fn against_sample_app(db: Db) {
    against_sample_app_refusing(db, &[]).await
}

/// The lifecycle against the sample app playing a partial SCIM server that
/// refuses `refuse`: roster learns the forms it takes, and every final state is
/// the same.
async fn against_sample_app_refusing(db: Db, refuse: &[Refusal]) {
    against_sample_app_with(db, SampleOptions { refuse: refuse.to_vec(), ..SampleOptions::default() }).await
}

/// The lifecycle against the sample app with `options`; an app playing a
/// partial server must have taught roster its forms, each said once.
async fn against_sample_app_with(db: Db, options: SampleOptions) {
    let Some(app) = TestApp::spawn(db).await else { return };
    let refuse = options.refuse.clone();
    let partial = !refuse.is_empty() || options.drop_types;
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "sample-token".into(), options)
        .await
        .expect("sample app");
    lifecycle(
        &app,
        Target { base_url: sample.base_url.clone(), token: "sample-token".into(), http: reqwest::Client::new() },
    )
    .await;
    let (_, st) = app.get("/apps/Crm/provisioning/status").await;
    assert!(st["dialect"]["unsupported"].is_null(), "{refuse:?}: nothing is refused in every form: {st}");
    if partial {
        assert!(st["dialect"]["learned"].as_object().is_some_and(|l| !l.is_empty()), "{refuse:?}: {st}");
        let (_, logs) = app.get("/apps/Crm/provisioning/logs?limit=1000").await;
        let notes = logs["items"]
            .as_array()
            .map(|a| a.iter().filter(|l| l["steps"].to_string().contains("learned for this app")).count());
        let learned = st["dialect"]["learned"].as_object().map(|l| l.len());
        assert!(notes >= learned.map(|_| 1) && notes <= learned, "{refuse:?}: once per kind of change: {notes:?} {st}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_against_an_app_without_value_filters_in_paths() {
    against_sample_app_refusing(Db::Sqlite, &[Refusal::FilterPaths]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_against_an_app_without_add() {
    against_sample_app_refusing(Db::Sqlite, &[Refusal::Add]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_against_an_app_without_complex_values() {
    against_sample_app_refusing(Db::Sqlite, &[Refusal::ComplexValues]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_against_an_app_taking_one_operation_per_patch() {
    against_sample_app_refusing(Db::Sqlite, &[Refusal::ManyOperations, Refusal::ValueListRemoval]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_against_an_app_that_drops_entry_types() {
    against_sample_app_with(Db::Sqlite, SampleOptions { drop_types: true, ..SampleOptions::default() }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_against_an_app_without_patch() {
    against_sample_app_refusing(Db::Sqlite, &[Refusal::Patch]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_against_scim2_server_on_sqlite() {
    against_scim2_server(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_against_scim2_server_on_postgres() {
    against_scim2_server(Db::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_against_sample_app_on_sqlite() {
    against_sample_app(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_against_sample_app_on_postgres() {
    against_sample_app(Db::Postgres).await
}

/// A mapping edit is validated, then reaches the app as PATCHes of exactly the
/// attributes that change; the expression tester reports errors with a position.
async fn mapping_edit(app: &TestApp, target: Target) {
    for u in ["erin@corp.example", "frank@corp.example"] {
        app.post("/users", json!({"userName": u, "givenName": "Given", "surname": u.split('@').next().unwrap_or_default(), "displayName": "Old"})).await;
    }
    app.post("/apps", json!({"name": "Wiki"})).await;
    app.patch(
        "/apps/Wiki/provisioning",
        json!({"tenantUrl": target.base_url, "secretToken": target.token, "mode": "automatic", "scope": "all"}),
    )
    .await;
    app.post("/apps/Wiki/provisioning/start", json!({})).await;
    eventually(30, "both users provisioned", || async {
        user_field(&target, "frank@corp.example", |u| u["displayName"] == "Old").await
    })
    .await;

    let (_, ok) = app
        .post(
            "/expressions/evaluate",
            json!({"expression": "Join(\" \", [givenName], [surname])", "user": "erin@corp.example"}),
        )
        .await;
    assert_eq!(ok["value"], "Given erin", "{ok}");
    let (_, bad) = app.post("/expressions/evaluate", json!({"expression": "Join(\" \", [givenName]"})).await;
    assert_eq!(bad["ok"], false);
    assert!(bad["rendered"].as_str().unwrap_or_default().contains('^'), "{bad}");

    let (_, mut doc) = app.get("/apps/Wiki/provisioning/mappings").await;
    let attrs = doc["objects"][0]["attributes"].as_array_mut().expect("attributes");
    for a in attrs.iter_mut() {
        if a["target"] == "displayName" {
            a["mapping"] = json!({"type": "expression", "expression": "Join(\" \", [givenName], [surname]"});
        }
    }
    let (s, err) = app.call(reqwest::Method::PUT, "/api/v1/apps/Wiki/provisioning/mappings", Some(doc.clone())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a bad expression is refused before it is saved: {err}");
    let attrs = doc["objects"][0]["attributes"].as_array_mut().expect("attributes");
    for a in attrs.iter_mut() {
        if a["target"] == "displayName" {
            a["mapping"] = json!({"type": "expression", "expression": "Join(\" \", [givenName], [surname])"});
        }
    }
    // A constant, an attribute applied only on creation, a second matching attribute.
    attrs.push(json!({"target": "userType", "mapping": {"type": "constant", "value": "Employee"}, "apply": "always"}));
    attrs.push(json!({"target": "nickName", "mapping": {"type": "expression", "expression": "ToLower([surname])"}, "apply": "onCreateOnly"}));
    for a in attrs.iter_mut() {
        if a["target"] == "externalId" {
            a["matchingPrecedence"] = json!(2);
        }
    }
    let (s, err) = app.call(reqwest::Method::PUT, "/api/v1/apps/Wiki/provisioning/mappings", Some(doc)).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{err}");
    eventually(30, "the new displayName reaches the app", || async {
        user_field(&target, "frank@corp.example", |u| u["displayName"] == "Given frank").await
    })
    .await;
    let last = eventually(10, "the update is logged", || async {
        let (_, logs) = app.get("/apps/Wiki/provisioning/logs?user=frank@corp.example&action=Update").await;
        let last = logs["items"][0].clone();
        last["modified"].to_string().contains("Given frank").then_some(last)
    })
    .await;
    assert_eq!(
        last["modified"],
        json!([{"name": "displayName", "old": "Old", "new": "Given frank"}, {"name": "userType", "old": null, "new": "Employee"}]),
        "only what changed: displayName and the new constant; nickName applies only on creation"
    );
    let frank = target.one("frank@corp.example").await.expect("frank");
    assert!(
        frank.get("nickName").is_none_or(Value::is_null),
        "an existing account gets no on-create-only attribute: {frank}"
    );
    app.post("/users", json!({"userName": "gina@corp.example", "givenName": "Gina", "surname": "Newcomer"})).await;
    let gina = eventually(30, "gina is created", || async { target.one("gina@corp.example").await }).await;
    assert_eq!(gina["nickName"], "newcomer");
    assert_eq!(gina["userType"], "Employee");

    // A scoping filter moves users out of scope (disabled) and back in (enabled).
    let (_, preview) = app.get("/apps/Wiki/provisioning/preview?user=erin@corp.example").await;
    assert_eq!(preview["attributes"]["displayName"], "Given erin", "{preview}");
    let (_, mut doc) = app.get("/apps/Wiki/provisioning/mappings").await;
    doc["objects"][0]["scoping"] =
        json!({"groups": [{"clauses": [{"attribute": "surname", "operator": "EQUALS", "value": "erin"}]}]});
    let (s, err) = app.call(reqwest::Method::PUT, "/api/v1/apps/Wiki/provisioning/mappings", Some(doc.clone())).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{err}");
    eventually(30, "frank leaves scope", || async {
        user_field(&target, "frank@corp.example", |u| u["active"] == false).await
    })
    .await;
    assert_eq!(target.one("erin@corp.example").await.map(|u| u["active"].clone()), Some(json!(true)));
    doc["objects"][0]["scoping"] = json!({"groups": []});
    app.call(reqwest::Method::PUT, "/api/v1/apps/Wiki/provisioning/mappings", Some(doc.clone())).await;
    eventually(30, "frank is back in scope", || async {
        user_field(&target, "frank@corp.example", |u| u["active"] == true).await
    })
    .await;

    // Without the create action, a new user gets no account and the log says why.
    doc["objects"][0]["actions"]["create"] = json!(false);
    app.call(reqwest::Method::PUT, "/api/v1/apps/Wiki/provisioning/mappings", Some(doc)).await;
    app.post("/users", json!({"userName": "hank@corp.example"})).await;
    eventually(30, "hank is skipped", || async {
        let (_, logs) = app.get("/apps/Wiki/provisioning/logs?user=hank@corp.example").await;
        (logs["items"][0]["status"] == "Skipped").then_some(())
    })
    .await;
    assert!(target.one("hank@corp.example").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapping_edit_against_scim2_server() {
    let Some(peer) = Scim2Server::start().await else { return };
    let Some(app) = TestApp::spawn(Db::Sqlite).await else { return };
    mapping_edit(
        &app,
        Target { base_url: peer.base_url.clone(), token: peer.token.clone(), http: reqwest::Client::new() },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapping_edit_against_sample_app() {
    let Some(app) = TestApp::spawn(Db::Sqlite).await else { return };
    let sample =
        roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "sample-token".into(), Default::default())
            .await
            .expect("sample app");
    mapping_edit(
        &app,
        Target { base_url: sample.base_url.clone(), token: "sample-token".into(), http: reqwest::Client::new() },
    )
    .await;
}

/// An app that lets `userName` be set on creation only refuses a rename in every
/// form (PATCH `replace`, `add`, then a read and a `PUT`): the rename is left out
/// from then on, said once as a `Warning` in the log and listed in the status,
/// and the title changed with it still reaches the app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attribute_refused_in_every_form_is_a_warning_said_once() {
    let Some(app) = TestApp::spawn(Db::Sqlite).await else { return };
    let options = SampleOptions { immutable: vec!["userName".into()], ..SampleOptions::default() };
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "sample-token".into(), options)
        .await
        .expect("sample app");
    let target =
        Target { base_url: sample.base_url.clone(), token: "sample-token".into(), http: reqwest::Client::new() };
    app.post("/users", json!({"userName": "zoe@corp.example", "jobTitle": "Engineer"})).await;
    app.post("/apps", json!({"name": "Imm"})).await;
    let settings = json!({"tenantUrl": target.base_url, "secretToken": target.token, "mode": "automatic"});
    let (s, v) = app.patch("/apps/Imm/provisioning", settings).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    app.post("/apps/Imm/assignments", json!({"user": "zoe@corp.example"})).await;
    app.post("/apps/Imm/provisioning/start", json!({})).await;
    eventually(30, "zoe is provisioned", || user_field(&target, "zoe@corp.example", |u| u["title"] == "Engineer"))
        .await;

    for (from, to, title) in
        [("zoe@corp.example", "zoe.new@corp.example", "Lead"), ("zoe.new@corp.example", "zoe.3@corp.example", "Head")]
    {
        app.patch(&format!("/users/{from}"), json!({"userName": to, "jobTitle": title})).await;
        eventually(10, "the title reaches the app, under the name the app keeps", || {
            user_field(&target, "zoe@corp.example", |u| u["title"] == title)
        })
        .await;
    }
    let (_, st) = app.get("/apps/Imm/provisioning/status").await;
    assert_eq!(st["dialect"]["unsupported"], json!(["username"]), "{st}");
    assert_eq!(st["toDate"]["failed"], 0, "{st}");
    let warnings = eventually(10, "the warning is logged", || async {
        let (_, logs) = app.get("/apps/Imm/provisioning/logs?status=Warning").await;
        logs["items"].as_array().filter(|a| !a.is_empty()).cloned()
    })
    .await;
    assert_eq!(warnings.len(), 1, "said once: {warnings:?}");
    assert!(warnings[0]["steps"].to_string().contains("refuses username in every form"), "{warnings:?}");
}
