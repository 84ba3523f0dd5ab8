//! The admin REST API over real HTTP, on SQLite and on PostgreSQL: every endpoint
//! and every refusal of the foundation.

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};

fn ok(status: StatusCode, body: &Value) {
    assert!(status.is_success(), "expected success, got {status}: {body}");
}

fn refused(got: (StatusCode, Value), status: StatusCode, fragment: &str) {
    assert_eq!(got.0, status, "body: {}", got.1);
    let msg = got.1["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains(fragment), "message {msg:?} should contain {fragment:?}");
    assert!(got.1["error"]["code"].is_string());
}

async fn create_user(app: &common::TestApp, name: &str) -> Value {
    let (s, v) = app.post("/users", json!({"userName": name, "displayName": name})).await;
    ok(s, &v);
    v
}

async fn users_are_created_read_updated_listed_and_soft_deleted(app: &common::TestApp) {
    let (s, alice) = app
        .post(
            "/users",
            json!({"userName": "Alice@Example.com", "givenName": "Alice", "surname": "Liddell", "jobTitle": "Engineer",
            "businessPhones": ["+1 555 0100"], "extensions": {"costCenter": "42"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let id = alice["id"].as_str().expect("id").to_string();
    assert_eq!(app.get(&format!("/users/{id}")).await.1["userName"], "Alice@Example.com");
    assert_eq!(app.get("/users/alice@example.com").await.1["id"], id.as_str());

    let (s, bob) = app.post("/users", json!({"userName": "bob@example.com", "manager": "alice@example.com"})).await;
    ok(s, &bob);
    assert_eq!(bob["manager"], id.as_str());

    let (s, v) = app
        .patch(
            &format!("/users/{id}"),
            json!({"jobTitle": "Lead", "surname": null, "extensions": {"costCenter": null, "site": "B"}}),
        )
        .await;
    ok(s, &v);
    assert_eq!(v["jobTitle"], "Lead");
    assert!(v["surname"].is_null());
    assert_eq!(v["extensions"], json!({"site": "B"}));
    assert_eq!(v["givenName"], "Alice");

    assert_eq!(app.post("/users/bob@example.com/disable", json!({})).await.1["active"], false);
    assert_eq!(app.post("/users/bob@example.com/enable", json!({})).await.1["active"], true);

    for i in 0..5 {
        create_user(app, &format!("user{i}@example.com")).await;
    }
    let (_, page) = app.get("/users?limit=3&offset=0").await;
    assert_eq!(page["total"], 7);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(3));
    let (_, page) = app.get("/users?limit=3&offset=6").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.get("/users?userName=BOB@example.com").await.1["total"], 1);
    assert_eq!(app.get("/users?displayName=user3@example.com").await.1["total"], 1);
    assert_eq!(app.get("/users?q=liddell").await.1["total"], 0, "surname was cleared");
    assert_eq!(app.get("/users?q=ALICE").await.1["total"], 1);
    assert_eq!(app.get("/users?q=%25").await.1["total"], 0, "LIKE wildcards match literally");

    let (s, v) = app.delete("/users/bob@example.com").await;
    ok(s, &v);
    assert!(v["deletedAt"].is_i64());
    assert_eq!(app.get("/users?userName=bob@example.com").await.1["total"], 0);
    assert_eq!(app.get("/users?userName=bob@example.com&includeDeleted=true").await.1["total"], 1);
    refused(
        app.patch("/users/bob@example.com", json!({"jobTitle": "x"})).await,
        StatusCode::BAD_REQUEST,
        "restore it first",
    );
    refused(app.delete("/users/bob@example.com").await, StatusCode::NOT_FOUND, "not found");
    let (s, v) = app.post("/users/bob@example.com/restore", json!({})).await;
    ok(s, &v);
    assert!(v["deletedAt"].is_null());
    refused(app.post("/users/bob@example.com/restore", json!({})).await, StatusCode::BAD_REQUEST, "not deleted");
}

async fn bad_user_input_is_refused_and_changes_nothing(app: &common::TestApp) {
    create_user(app, "taken@example.com").await;
    refused(app.post("/users", json!({"userName": "TAKEN@example.com"})).await, StatusCode::CONFLICT, "already taken");
    refused(
        app.post("/users", json!({"userName": "x@example.com", "manager": "ghost"})).await,
        StatusCode::BAD_REQUEST,
        "manager",
    );
    refused(
        app.post("/users", json!({"userName": "x@example.com", "shoeSize": 9})).await,
        StatusCode::BAD_REQUEST,
        "unknown field",
    );
    refused(app.post("/users", json!({"userName": ""})).await, StatusCode::BAD_REQUEST, "empty");
    refused(app.post("/users", json!({"userName": " padded"})).await, StatusCode::BAD_REQUEST, "spaces");
    refused(
        app.post("/users", json!({"userName": "x", "mail": "a".repeat(2000)})).await,
        StatusCode::BAD_REQUEST,
        "longer",
    );
    refused(app.post("/users", json!({"displayName": "no name"})).await, StatusCode::BAD_REQUEST, "userName");
    refused(
        app.patch("/users/taken@example.com", json!({"userName": null})).await,
        StatusCode::BAD_REQUEST,
        "cannot be cleared",
    );
    refused(
        app.patch("/users/taken@example.com", json!({"manager": "taken@example.com"})).await,
        StatusCode::BAD_REQUEST,
        "own manager",
    );
    refused(app.get("/users/nobody").await, StatusCode::NOT_FOUND, "not found");
    refused(app.get("/users?limit=abc").await, StatusCode::BAD_REQUEST, "query");
    refused(app.get("/users?color=red").await, StatusCode::BAD_REQUEST, "query");
    refused(app.get("/nowhere").await, StatusCode::NOT_FOUND, "route");

    let raw = |body: &'static str, ctype: &'static str| {
        app.http
            .post(format!("{}/api/v1/users", app.base))
            .bearer_auth(&app.token)
            .header("content-type", ctype)
            .body(body)
            .send()
    };
    let r = raw("{\"userName\": ", "application/json").await.expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = raw("{\"userName\": \"a\"}", "text/plain").await.expect("send");
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!("{{\"userName\": \"{}\"}}", "a".repeat(roster_server::MAX_BODY_BYTES + 10));
    let r = app
        .http
        .post(format!("{}/api/v1/users", app.base))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Nothing of the above was written.
    assert_eq!(app.get("/users").await.1["total"], 1);
}

async fn every_call_needs_a_valid_token(app: &common::TestApp) {
    let anon = app.http.get(format!("{}/api/v1/users", app.base)).send().await.expect("send");
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
    let body: Value = anon.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unauthorized");
    let wrong = app.http.get(format!("{}/api/v1/users", app.base)).bearer_auth("rst_wrong").send().await.expect("send");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let (s, t) = app.post("/tokens", json!({"name": "ci", "role": "read"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let secret = t["secret"].as_str().expect("secret").to_string();
    let list = app.get("/tokens").await.1;
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert!(!list.to_string().contains(&secret), "a token's secret is never listed");
    let with_new = app.http.get(format!("{}/api/v1/users", app.base)).bearer_auth(&secret).send().await.expect("send");
    assert_eq!(with_new.status(), StatusCode::OK);
    refused(app.post("/tokens", json!({"name": "ci", "role": "read"})).await, StatusCode::CONFLICT, "already exists");
    refused(
        app.post("/tokens", json!({"name": "bad name!", "role": "read"})).await,
        StatusCode::BAD_REQUEST,
        "token name",
    );
    assert_eq!(app.delete("/tokens/ci").await.0, StatusCode::NO_CONTENT);
    let revoked = app.http.get(format!("{}/api/v1/users", app.base)).bearer_auth(&secret).send().await.expect("send");
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
    refused(app.delete("/tokens/ci").await, StatusCode::NOT_FOUND, "not found");

    let health = app.http.get(format!("{}/healthz", app.base)).send().await.expect("send");
    assert_eq!(health.status(), StatusCode::OK);
    let doc: Value = app
        .http
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/users/{user}"]["patch"].is_object());
}

async fn groups_nest_and_refuse_cycles(app: &common::TestApp) {
    create_user(app, "u1").await;
    create_user(app, "u2").await;
    for name in ["Engineering", "Platform", "SRE"] {
        let (s, v) = app.post("/groups", json!({"displayName": name, "description": format!("{name} team")})).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    refused(app.post("/groups", json!({"displayName": "engineering"})).await, StatusCode::CONFLICT, "already exists");
    refused(app.post("/groups", json!({"displayName": "  "})).await, StatusCode::BAD_REQUEST, "empty");
    assert_eq!(app.post("/groups/Engineering/members", json!({"group": "Platform"})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.post("/groups/Platform/members", json!({"group": "SRE"})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.post("/groups/SRE/members", json!({"user": "u1"})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.post("/groups/SRE/members", json!({"user": "u1"})).await.0, StatusCode::NO_CONTENT, "idempotent");
    assert_eq!(app.post("/groups/Engineering/members", json!({"user": "u2"})).await.0, StatusCode::NO_CONTENT);
    refused(
        app.post("/groups/SRE/members", json!({"group": "Engineering"})).await,
        StatusCode::BAD_REQUEST,
        "member of itself",
    );
    refused(
        app.post("/groups/SRE/members", json!({"group": "SRE"})).await,
        StatusCode::BAD_REQUEST,
        "member of itself",
    );
    refused(app.post("/groups/SRE/members", json!({"user": "ghost"})).await, StatusCode::NOT_FOUND, "not found");
    refused(
        app.post("/groups/SRE/members", json!({"user": "u1", "group": "Platform"})).await,
        StatusCode::BAD_REQUEST,
        "exactly one",
    );
    refused(app.post("/groups/Nope/members", json!({"user": "u1"})).await, StatusCode::NOT_FOUND, "not found");

    let (_, members) = app.get("/groups/Engineering/members").await;
    assert_eq!(members["total"], 2);
    let names: Vec<&str> =
        members["items"].as_array().into_iter().flatten().filter_map(|m| m["name"].as_str()).collect();
    assert!(names.contains(&"Platform") && names.contains(&"u2"));
    assert_eq!(app.get("/groups/Engineering").await.1["memberCount"], 2);

    let (s, g) = app.patch("/groups/SRE", json!({"displayName": "Site Reliability", "description": null})).await;
    ok(s, &g);
    assert!(g["description"].is_null());
    assert_eq!(app.get("/groups?q=site").await.1["total"], 1);
    assert_eq!(app.get("/groups?displayName=platform").await.1["total"], 1);

    assert_eq!(app.delete("/groups/Site%20Reliability/members/u1").await.0, StatusCode::NO_CONTENT);
    refused(app.delete("/groups/Site%20Reliability/members/u1").await, StatusCode::NOT_FOUND, "not found");
    assert_eq!(app.delete("/groups/Platform").await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/groups/Engineering/members").await.1["total"], 1, "the deleted group left Engineering");
    refused(app.get("/groups/Platform").await, StatusCode::NOT_FOUND, "not found");
}

async fn assignments_reach_users_through_nested_groups(app: &common::TestApp) {
    create_user(app, "direct").await;
    create_user(app, "nested").await;
    create_user(app, "outsider").await;
    for g in ["Sales", "EMEA"] {
        app.post("/groups", json!({"displayName": g})).await;
    }
    app.post("/groups/Sales/members", json!({"group": "EMEA"})).await;
    app.post("/groups/EMEA/members", json!({"user": "nested"})).await;

    let (s, a) = app.post("/apps", json!({"name": "Crm", "template": "scim"})).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    refused(app.post("/apps", json!({"name": "crm"})).await, StatusCode::CONFLICT, "already exists");
    refused(
        app.post("/apps", json!({"name": "X", "template": "fax"})).await,
        StatusCode::BAD_REQUEST,
        "unknown template",
    );
    let (_, roles) = app.get("/apps/Crm/roles").await;
    assert_eq!(roles[0]["name"], "User");
    assert_eq!(roles[0]["isDefault"], true);
    let (s, admin) = app.post("/apps/Crm/roles", json!({"name": "Admin", "value": "admin"})).await;
    assert_eq!(s, StatusCode::CREATED, "{admin}");
    refused(app.post("/apps/Crm/roles", json!({"name": "admin"})).await, StatusCode::CONFLICT, "already has a role");

    let (s, v) = app.post("/apps/Crm/assignments", json!({"user": "direct", "role": "Admin"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["roleName"], "Admin");
    ok(app.post("/apps/Crm/assignments", json!({"group": "Sales"})).await.0, &Value::Null);
    refused(
        app.post("/apps/Crm/assignments", json!({"user": "direct", "role": "Ghost"})).await,
        StatusCode::NOT_FOUND,
        "app role",
    );
    refused(app.post("/apps/Crm/assignments", json!({"user": "ghost"})).await, StatusCode::NOT_FOUND, "not found");
    refused(app.post("/apps/Crm/assignments", json!({})).await, StatusCode::BAD_REQUEST, "exactly one");
    refused(app.delete("/apps/Crm/roles/Admin").await, StatusCode::CONFLICT, "used by");
    refused(app.delete("/apps/Crm/roles/User").await, StatusCode::BAD_REQUEST, "default role");

    assert_eq!(app.get("/apps/Crm/assignments").await.1["total"], 2);
    let (_, eff) = app.get("/users/nested/assignments").await;
    assert_eq!(eff[0]["appName"], "Crm");
    assert_eq!(eff[0]["roleName"], "User");
    let via: Vec<&str> =
        eff[0]["via"].as_array().into_iter().flatten().filter_map(|g| g["displayName"].as_str()).collect();
    assert_eq!(via, ["EMEA", "Sales"]);
    assert_eq!(app.get("/users/direct/assignments").await.1[0]["via"], json!([]));
    assert_eq!(app.get("/users/outsider/assignments").await.1, json!([]));
    let (_, reach) = app.get("/apps/Crm/effective-assignments").await;
    assert_eq!(reach["total"], 2);

    assert_eq!(app.delete("/apps/Crm/assignments?group=Sales").await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/users/nested/assignments").await.1, json!([]));
    refused(app.delete("/apps/Crm/assignments?group=Sales").await, StatusCode::NOT_FOUND, "not found");
    assert_eq!(app.delete("/apps/Crm/assignments?user=direct&role=Admin").await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.delete("/apps/Crm/roles/Admin").await.0, StatusCode::NO_CONTENT);

    let (s, renamed) = app.patch("/apps/Crm", json!({"name": "Crm2"})).await;
    ok(s, &renamed);
    assert_eq!(app.get("/apps").await.1.as_array().map(Vec::len), Some(1));
    assert_eq!(app.delete("/apps/Crm2").await.0, StatusCode::NO_CONTENT);
    refused(app.get("/apps/Crm2").await, StatusCode::NOT_FOUND, "not found");
}

async fn bulk_upsert_reports_bad_rows_and_writes_the_rest(app: &common::TestApp) {
    create_user(app, "boss").await;
    let (s, v) = app
        .post(
            "/users/bulk",
            json!({"upsert": [
                {"userName": "new1", "jobTitle": "A"},
                {"userName": "boss", "jobTitle": "Chief"},
                {"userName": "new2", "manager": "ghost"},
                {"userName": "new3", "wings": true},
                {"userName": "new4", "manager": "boss"},
                {"userName": "boss", "jobTitle": "Chief"}
            ]}),
        )
        .await;
    ok(s, &v);
    let statuses: Vec<&str> =
        v["results"].as_array().into_iter().flatten().filter_map(|r| r["status"].as_str()).collect();
    assert_eq!(statuses, ["created", "updated", "error", "error", "created", "unchanged"]);
    assert_eq!(app.get("/users").await.1["total"], 3);
    assert_eq!(app.get("/users/boss").await.1["jobTitle"], "Chief");
}

async fn every_change_writes_the_change_feed(app: &common::TestApp) {
    let before = app.store.feed_head().await.expect("head");
    let u = create_user(app, "fed").await;
    app.patch("/users/fed", json!({"city": "Oslo"})).await;
    app.post("/groups", json!({"displayName": "G"})).await;
    app.post("/groups/G/members", json!({"user": "fed"})).await;
    refused(app.post("/users", json!({"userName": "FED"})).await, StatusCode::CONFLICT, "taken");
    let feed = app.store.feed_after(before, 100).await.expect("feed");
    let kinds: Vec<String> = feed.iter().map(|e| format!("{:?}", e.kind)).collect();
    assert_eq!(kinds, ["User", "User", "Group", "Membership"], "a refused change writes no feed entry");
    assert_eq!(feed[0].object_id, u["id"].as_str().expect("id"));
    assert_eq!(feed[3].related_id.as_deref(), u["id"].as_str());
}

on_both_backends!(
    users_are_created_read_updated_listed_and_soft_deleted,
    bad_user_input_is_refused_and_changes_nothing,
    every_call_needs_a_valid_token,
    groups_nest_and_refuse_cycles,
    assignments_reach_users_through_nested_groups,
    bulk_upsert_reports_bad_rows_and_writes_the_rest,
    every_change_writes_the_change_feed,
);

/// A refused setting is a 400 whose error names the field (`invalid_setting`),
/// so that a client puts the message next to the right input; nothing is saved.
#[tokio::test]
async fn a_refused_setting_names_its_field() {
    let Some(app) = common::TestApp::spawn(common::Db::Sqlite).await else { return };
    let (s, v) = app.post("/apps", json!({"name": "Crm"})).await;
    ok(s, &v);
    let (_, before) = app.get("/apps/Crm/provisioning").await;
    let cases = [
        (json!({"tenantUrl": "ftp://crm.example.com"}), "tenantUrl"),
        (json!({"tenantUrl": " "}), "tenantUrl"),
        (json!({"interval": "5w"}), "interval"),
        (json!({"notificationEmail": "ops"}), "notificationEmail"),
        (json!({"concurrency": 0}), "concurrency"),
        (json!({"deleteThresholdPercent": 101}), "deleteThresholdPercent"),
        (json!({"maxResponseBytes": 1}), "maxResponseBytes"),
        (json!({"adminPassword": "x"}), "adminPassword"),
        (json!({"secretToken": " "}), "secretToken"),
        (json!({"apiUrl": "http://169.254.169.254/"}), "apiUrl"),
    ];
    for (patch, field) in cases {
        let (s, v) = app.patch("/apps/Crm/provisioning", patch.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{patch}: {v}");
        assert_eq!(v["error"]["code"], "invalid_setting", "{patch}: {v}");
        assert_eq!(v["error"]["field"], field, "{patch}: {v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    }
    let (_, after) = app.get("/apps/Crm/provisioning").await;
    assert_eq!(before, after, "a refused change saves nothing");
    let (s, v) = app.patch("/apps/Crm/provisioning", json!({"tenantUrl": " https://crm.example.com/scim/ "})).await;
    ok(s, &v);
    assert_eq!(v["tenantUrl"], "https://crm.example.com/scim", "kept trimmed, without the trailing slash");
}

/// A mapping target that is not an attribute path is refused when the mapping
/// is saved, naming it; one stored before targets were checked stops the cycle
/// with an error that names it, never a panic.
#[tokio::test]
async fn a_target_that_is_not_an_attribute_path_is_refused_by_name() {
    let Some(app) = common::TestApp::spawn(common::Db::Sqlite).await else { return };
    let (s, v) = app.post("/apps", json!({"name": "Odd"})).await;
    ok(s, &v);
    let id = roster_store::AppId::from_stored(v["id"].as_str().expect("id").to_string());
    let (_, mut doc) = app.get("/apps/Odd/provisioning/mappings").await;
    let attrs = doc["objects"][0]["attributes"].as_array_mut().expect("attributes");
    attrs.push(json!({"target": "éaaaaaaa", "mapping": {"type": "constant", "value": "x"}, "apply": "always"}));
    let got = app.call(reqwest::Method::PUT, "/api/v1/apps/Odd/provisioning/mappings", Some(doc.clone())).await;
    refused(got, StatusCode::BAD_REQUEST, "éaaaaaaa");

    let settings = json!({"tenantUrl": "http://127.0.0.1:9/scim", "mode": "automatic"});
    let (s, v) = app.patch("/apps/Odd/provisioning", settings).await;
    ok(s, &v);
    let row = app.store.job(&id).await.expect("job").expect("a job row");
    app.store.save_job_config(&id, &row.settings, None, Some(&doc)).await.expect("stored as an older roster could");
    let err = app.engine.cycle(&id).await.expect_err("the cycle does not run");
    assert!(err.to_string().contains("éaaaaaaa"), "{err}");
}

/// A job row whose settings do not decode is an error that names the app and
/// the column: status says so, the cycle does not run, and a settings change
/// does not write the defaults over it.
#[tokio::test]
async fn a_corrupt_job_row_is_named_never_replaced_by_defaults() {
    let Some(app) = common::TestApp::spawn(common::Db::Sqlite).await else { return };
    let (s, v) = app.post("/apps", json!({"name": "Broken"})).await;
    ok(s, &v);
    let id = roster_store::AppId::from_stored(v["id"].as_str().expect("id").to_string());
    let (s, v) = app.patch("/apps/Broken/provisioning", json!({"tenantUrl": "http://127.0.0.1:9/scim"})).await;
    ok(s, &v);
    let corrupt = json!({"mode": 42, "status": ["on"]});
    app.store.save_job_config(&id, &corrupt, None, None).await.expect("a corrupt row, as a bad restore leaves");

    let (s, status) = app.get("/apps/Broken/provisioning/status").await;
    ok(s, &status);
    assert_eq!(status["state"], "unreadable", "{status}");
    let why = status["lastError"].as_str().unwrap_or_default();
    assert!(why.contains("settings") && why.contains(id.as_str()), "{why}");
    let err = app.engine.cycle(&id).await.expect_err("the cycle does not run");
    assert!(err.to_string().contains("settings"), "{err}");
    let (s, v) = app.patch("/apps/Broken/provisioning", json!({"notificationEmail": "ops@example.com"})).await;
    assert!(!s.is_success(), "{s} {v}");
    assert!(v["error"]["message"].as_str().unwrap_or_default().contains("settings"), "{v}");
    let row = app.store.job(&id).await.expect("job").expect("row");
    assert_eq!(row.settings, corrupt, "nothing was written over the stored settings");
}

/// The activity of an app: its log entries counted by hour, action and status;
/// a days value out of range is a 400.
#[tokio::test]
async fn activity_counts_log_entries_by_hour() {
    let Some(app) = common::TestApp::spawn(common::Db::Sqlite).await else { return };
    let (s, v) = app.post("/apps", json!({"name": "Crm"})).await;
    ok(s, &v);
    let id = roster_store::AppId::from_stored(v["id"].as_str().unwrap_or_default().to_string());
    let now = roster_store::now_ms();
    let log = |n: u32, status: roster_store::LogStatus| roster_store::LogRecord {
        id: format!("e{n}"),
        app_id: id.clone(),
        cycle_id: "c".into(),
        change_id: n.to_string(),
        at: now,
        object_kind: roster_store::ObjectKind::User,
        source_id: format!("u{n}"),
        source_name: None,
        target_id: None,
        action: roster_store::LogAction::Create,
        status,
        steps: Vec::new(),
        modified: Vec::new(),
        error_code: None,
        error_message: None,
    };
    let logs = vec![log(1, roster_store::LogStatus::Success), log(2, roster_store::LogStatus::Failure)];
    app.store.record(&id, &roster_store::RecordBatch { logs, ..Default::default() }).await.expect("log entries");
    let (s, counts) = app.get("/apps/Crm/provisioning/activity").await;
    ok(s, &counts);
    let hour = now / 3_600_000 * 3_600_000;
    assert_eq!(
        counts,
        json!([{"hour": hour, "action": "Create", "status": "Failure", "count": 1},
               {"hour": hour, "action": "Create", "status": "Success", "count": 1}])
    );
    let (s, e) = app.get("/apps/Crm/provisioning/activity?days=0").await;
    assert_eq!(s, reqwest::StatusCode::BAD_REQUEST, "{e}");
}
