//! Configuration as code: an app's settings, mappings, roles and assignments
//! exported, applied to an empty roster, exported again: the same document;
//! applying twice changes nothing the second time; a dry run changes nothing;
//! no secret ever leaves. On SQLite and PostgreSQL.

mod common;

use common::{Db, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const SECRET: &str = "app-secret-9f2c";

async fn directory(app: &TestApp) {
    for u in ["alice", "bob"] {
        assert!(app.post("/users", json!({"userName": u})).await.0.is_success());
    }
    assert!(app.post("/groups", json!({"displayName": "Eng"})).await.0.is_success());
}

async fn apply(app: &TestApp, doc: &Value, dry_run: bool) -> Vec<String> {
    let path = if dry_run { "/api/v1/config/apply?dryRun=true" } else { "/api/v1/config/apply" };
    let (s, report) = app.call(Method::POST, path, Some(doc.clone())).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    report["changes"].as_array().into_iter().flatten().filter_map(|c| c.as_str().map(str::to_string)).collect()
}

async fn round_trip(db: Db) {
    let Some(a) = TestApp::spawn(db).await else { return };
    directory(&a).await;
    a.post("/apps", json!({"name": "Wiki", "template": "scim"})).await;
    let settings = json!({"tenantUrl": "http://127.0.0.1:9/scim/v2", "secretToken": SECRET,
        "notificationEmail": "ops@corp.example", "interval": "40m", "concurrency": 4});
    let (s, v) = a.patch("/apps/Wiki/provisioning", settings).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, mut mappings) = a.get("/apps/Wiki/provisioning/mappings").await;
    mappings["objects"][0]["attributes"][0]["defaultValue"] = json!("n/a");
    let (s, v) = a.call(Method::PUT, "/api/v1/apps/Wiki/provisioning/mappings", Some(mappings)).await;
    assert!(s.is_success(), "{s} {v}");
    a.post("/apps/Wiki/roles", json!({"name": "Editor", "value": "editor"})).await;
    a.post("/apps/Wiki/assignments", json!({"user": "alice"})).await;
    a.post("/apps/Wiki/assignments", json!({"group": "Eng", "role": "Editor"})).await;

    let (s, doc) = a.get("/config").await;
    assert_eq!(s, StatusCode::OK, "{doc}");
    assert!(!doc.to_string().contains(SECRET), "no secret leaves: {doc}");
    assert_eq!(doc["apps"][0]["settings"]["notificationEmail"], "ops@corp.example");
    assert_eq!(
        doc["apps"][0]["assignments"],
        json!([{"group": "Eng", "role": "Editor"}, {"role": "User", "user": "alice"}])
    );

    let Some(b) = TestApp::spawn(db).await else { return };
    directory(&b).await;
    let planned = apply(&b, &doc, true).await;
    assert_eq!(planned, ["Wiki: create the app (template scim)"], "a dry run stops at what it cannot see yet");
    assert_eq!(b.get("/apps").await.1, json!([]), "a dry run changes nothing");
    let changes = apply(&b, &doc, false).await;
    assert!(changes.iter().any(|c| c.contains("assign group Eng (Editor)")), "{changes:?}");
    assert!(changes.iter().any(|c| c == "Wiki: replace the mappings"), "{changes:?}");
    let (_, again) = b.get("/config").await;
    assert_eq!(again, doc, "export, apply on an empty roster, export: the same document");
    assert_eq!(apply(&b, &doc, false).await, Vec::<String>::new(), "applied twice: nothing changes");
    let mut shouting = doc.clone();
    shouting["apps"][0]["assignments"][1]["user"] = json!("ALICE");
    assert_eq!(
        apply(&b, &shouting, false).await,
        Vec::<String>::new(),
        "names match in any case, as the directory's do"
    );

    // A change in the document: only it is applied; an assignment not in the
    // document goes; a secret is set where none is, once.
    let mut changed = doc.clone();
    changed["apps"][0]["settings"]["concurrency"] = json!(2);
    changed["apps"][0]["settings"]["secretToken"] = json!("given");
    changed["apps"][0]["assignments"] = json!([{"user": "alice", "role": "User"}]);
    let dry = apply(&b, &changed, true).await;
    assert_eq!(
        dry,
        ["Wiki: set concurrency to 2", "Wiki: set secretToken", "Wiki: unassign group Eng (Editor)"],
        "{dry:?}"
    );
    assert_eq!(apply(&b, &changed, false).await, dry);
    assert_eq!(apply(&b, &changed, false).await, Vec::<String>::new());
    let (_, view) = b.get("/apps/Wiki/provisioning").await;
    assert_eq!(view["secretTokenSet"], true, "{view}");

    // Bad documents are a 400 and change nothing.
    for bad in [
        json!({"apps": [{"name": "Wiki", "template": "salesforce"}]}),
        json!({"apps": [{"name": "Wiki", "template": "scim", "settings": {"interval": "5w"}}]}),
        json!({"apps": [{"name": "Wiki", "template": "scim", "unknown": 1}]}),
    ] {
        let (s, e) = b.call(Method::POST, "/api/v1/config/apply", Some(bad.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_on_sqlite() {
    round_trip(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_on_postgres() {
    round_trip(Db::Postgres).await
}
