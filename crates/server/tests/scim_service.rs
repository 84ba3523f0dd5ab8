//! roster's own SCIM service at /scim/v2: checked by PyPI's scim2-tester (a
//! conformance checker nobody here wrote), then attacked and exercised the way
//! identity providers push: tokens of the wrong scope, malformed filters,
//! duplicates, stale versions, Entra ID's PATCH forms, and a push that flows on
//! to an app through the engine. On SQLite and PostgreSQL.

mod common;

use common::{Db, EngineOptions, TestApp};
use reqwest::{Method, StatusCode};
use roster_store::AccessRole;
use serde_json::{json, Value};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

struct Scim<'a> {
    app: &'a TestApp,
    token: String,
}

impl Scim<'_> {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req =
            self.app.http.request(method, format!("{}/scim/v2{path}", self.app.base)).bearer_auth(&self.token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/scim+json").body(b.to_string());
        }
        let answer = req.send().await.expect("answered");
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None, &[]).await
    }
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body), &[]).await
    }
    async fn patch(&self, path: &str, ops: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(json!({"schemas": [PATCH], "Operations": ops})), &[]).await
    }
}

async fn scim(app: &TestApp) -> Scim<'_> {
    let (_, token) = app.store.create_token("hr", AccessRole::Scim, None).await.expect("a scim token");
    Scim { app, token }
}

fn is_scim_error(v: &Value, status: u16) -> bool {
    v["schemas"][0] == "urn:ietf:params:scim:api:messages:2.0:Error"
        && v["status"].as_str() == Some(status.to_string().as_str())
}

/// Every check of scim2-tester that applies passes; the ones that fail are the
/// known differences of the directory's model, each named here with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_passes_every_check_that_applies() {
    let Some(python) = std::env::var("ROSTER_PYTHON").ok().filter(|p| !p.is_empty()) else {
        assert!(std::env::var("ROSTER_REQUIRE_PEERS").is_err(), "ROSTER_REQUIRE_PEERS is set but ROSTER_PYTHON is not");
        eprintln!("skipped: ROSTER_PYTHON (a Python with scim2-tester) is not set");
        return;
    };
    let Some(app) = TestApp::spawn_with(Db::Sqlite, EngineOptions { manual_cycles: true, ..Default::default() }).await
    else {
        return;
    };
    let s = scim(&app).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/scim_conformance.py");
    let url = format!("{}/scim/v2", app.base);
    let out =
        tokio::process::Command::new(python).args([script, &url, &s.token]).output().await.expect("scim2-tester runs");
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    let errors = String::from_utf8_lossy(&out.stderr).to_string();
    eprintln!("{report}");
    assert!(matches!(out.status.code(), Some(0 | 1)) && !report.is_empty(), "the checker could not run: {errors}");
    // Why each remaining failure is not a fault of the service:
    let known = [
        // The checker names a random id as the manager or as a member: the
        // directory refuses a reference to no one (400 invalidValue).
        "is not a user of the directory",
        "is neither a user nor a group of the directory",
    ];
    let failures: Vec<&str> = report.lines().filter(|l| l.starts_with("ERROR") || l.starts_with("CRITICAL")).collect();
    let unexplained: Vec<&&str> = failures.iter().filter(|l| !known.iter().any(|k| l.contains(k))).collect();
    assert!(unexplained.is_empty(), "failures without a known reason: {unexplained:#?}");
    let passed: usize =
        report.lines().last().and_then(|l| l.split(' ').next()).and_then(|n| n.parse().ok()).expect("a closing count");
    assert!(passed >= 59, "{passed} checks passed:\n{report}");
}

async fn tokens_of_the_wrong_scope_are_refused(app: &TestApp) {
    let s = scim(app).await;
    let url = format!("{}/scim/v2/Users", app.base);
    let none = app.http.get(&url).send().await.expect("answered");
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert!(is_scim_error(&none.json().await.unwrap_or(Value::Null), 401));
    let (_, reader) = app.store.create_token("reader", AccessRole::Read, None).await.expect("token");
    let read = app.http.get(&url).bearer_auth(&reader).send().await.expect("answered");
    assert_eq!(read.status(), StatusCode::FORBIDDEN, "a read token reaches no SCIM");
    let api = app.http.get(format!("{}/api/v1/users", app.base)).bearer_auth(&s.token).send().await.expect("answered");
    assert_eq!(api.status(), StatusCode::FORBIDDEN, "a scim token reaches none of the admin API");
    // The discovery document needs no token.
    let spc = app.http.get(format!("{}/scim/v2/ServiceProviderConfig", app.base)).send().await.expect("answered");
    assert_eq!(spc.status(), StatusCode::OK);
}

async fn users_are_created_found_patched_and_deleted(app: &TestApp) {
    let s = scim(app).await;
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": "Bjensen@Corp.example", "externalId": "hr-1", "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen", "title": "Engineer", "active": true,
        "emails": [{"value": "bjensen@corp.example", "type": "work", "primary": true}],
        ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations"}});
    let (st, created) = s.post("/Users", body.clone()).await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("an id").to_string();
    assert_eq!(created[ENTERPRISE]["employeeNumber"], "701984");
    // The directory has the person, as any other.
    let (st, u) = app.get(&format!("/users/{id}")).await;
    assert_eq!(st, StatusCode::OK, "{u}");
    assert_eq!(u["department"], "Tour Operations");
    // A second one with the same userName (any case) is a uniqueness conflict.
    let (st, dup) = s.post("/Users", json!({"userName": "bjensen@corp.example"})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{dup}");
    assert_eq!(dup["scimType"], "uniqueness");
    // Filters, answered by the store.
    for (filter, hits) in [
        (r#"userName eq "BJENSEN@corp.example""#, 1),
        (r#"emails[type eq "work" and value co "@corp.example"]"#, 1),
        (r#"name.familyName sw "Jen" and not (active eq false)"#, 1),
        (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#, 1),
        (r#"title pr and externalId eq "hr-2""#, 0),
    ] {
        let (st, list) = s.get(&format!("/Users?filter={}", urlencode(filter))).await;
        assert_eq!(st, StatusCode::OK, "{filter}: {list}");
        assert_eq!(list["totalResults"], hits, "{filter}: {list}");
    }
    for bad in [r#"userName eq"#, r#"userName zz "x""#, r#"nickName eq "x""#, r#"((userName eq "x")"#] {
        let (st, e) = s.get(&format!("/Users?filter={}", urlencode(bad))).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {e}");
        assert_eq!(e["scimType"], "invalidFilter", "{bad}: {e}");
    }
    let (_, picked) = s.get("/Users?attributes=userName").await;
    let first = &picked["Resources"][0];
    assert!(first.get("title").is_none() && first["userName"].is_string() && first["id"].is_string(), "{first}");
    // Entra ID's forms: a capitalised op, "False" as a string, a value object without a path.
    let (st, patched) = s
        .patch(
            &format!("/Users/{id}"),
            json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "replace", "value": {"title": "Director", format!("{ENTERPRISE}:department"): "Sales"}},
            ]),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{patched}");
    assert_eq!(patched["active"], false);
    assert_eq!(patched["title"], "Director");
    assert_eq!(patched[ENTERPRISE]["department"], "Sales");
    // A stale version is refused; the current one goes through.
    let (st, e) = s
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "X"}]})),
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(st, StatusCode::PRECONDITION_FAILED, "{e}");
    let version = patched["meta"]["version"].as_str().expect("a version").to_string();
    let (st, _) = s.call(Method::GET, &format!("/Users/{id}"), None, &[("if-none-match", &version)]).await;
    assert_eq!(st, StatusCode::NOT_MODIFIED);
    // A delete is the directory's soft delete: gone from SCIM, restorable.
    let (st, _) = s.call(Method::DELETE, &format!("/Users/{id}"), None, &[]).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, e) = s.get(&format!("/Users/{id}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(is_scim_error(&e, 404), "{e}");
    let (st, restored) = app.post(&format!("/users/{id}/restore"), json!({})).await;
    assert_eq!(st, StatusCode::OK, "{restored}");
}

async fn a_pushed_group_reaches_the_app(app: &TestApp) {
    let s = scim(app).await;
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "t".into(), Default::default())
        .await
        .expect("sample app");
    let (_, ann) = s.post("/Users", json!({"userName": "ann@corp.example", "displayName": "Ann"})).await;
    let (_, bob) = s.post("/Users", json!({"userName": "bob@corp.example", "displayName": "Bob"})).await;
    let (st, group) = s
        .post("/Groups", json!({"displayName": "Sales", "members": [{"value": ann["id"]}, {"value": bob["id"]}]}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{group}");
    assert_eq!(group["members"].as_array().map(Vec::len), Some(2));
    let (_, found) = s
        .get(&format!(
            "/Groups?filter={}",
            urlencode(&format!("members.value eq \"{}\"", ann["id"].as_str().unwrap_or_default()))
        ))
        .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    // Bob leaves the group (a PATCH as identity providers send it).
    let gid = group["id"].as_str().expect("an id").to_string();
    let remove = format!("members[value eq \"{}\"]", bob["id"].as_str().unwrap_or_default());
    let (st, after) = s.patch(&format!("/Groups/{gid}"), json!([{"op": "remove", "path": remove}])).await;
    assert_eq!(st, StatusCode::OK, "{after}");
    assert_eq!(after["members"].as_array().map(Vec::len), Some(1));
    // An unknown member is refused, and the group is left as it was.
    let (st, e) = s
        .patch(&format!("/Groups/{gid}"), json!([{"op": "add", "path": "members", "value": [{"value": "nobody"}]}]))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    // The group, assigned to an app, reaches it through the engine.
    app.post("/apps", json!({"name": "Crm"})).await;
    let settings = json!({"tenantUrl": sample.base_url, "secretToken": "t", "mode": "automatic"});
    app.patch("/apps/Crm/provisioning", settings).await;
    app.post("/apps/Crm/assignments", json!({"group": "Sales"})).await;
    let (_, crm) = app.get("/apps/Crm").await;
    let crm = roster_store::AppId::from_stored(crm["id"].as_str().expect("an id").to_string());
    app.engine.cycle(&crm).await.expect("a cycle");
    assert_eq!(
        sample.state.user_count().await,
        1,
        "Ann, pushed over SCIM, has an account in the app; Bob, removed, none"
    );
}

async fn a_bulk_request_makes_a_group_of_users_it_makes(app: &TestApp) {
    let s = scim(app).await;
    let bulk = |ops: Value, fail: Option<u64>| {
        let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops});
        if let Some(n) = fail {
            body["failOnErrors"] = json!(n);
        }
        body
    };
    let ops = json!([
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "cy@corp.example"}},
        {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"userName": "di@corp.example"}},
        {"method": "POST", "path": "/Groups", "bulkId": "g1",
         "data": {"displayName": "Bulk team", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}},
        {"method": "PATCH", "path": "/Users/bulkId:u2",
         "data": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]}},
    ]);
    let (st, answer) = s.post("/Bulk", bulk(ops, None)).await;
    assert_eq!(st, StatusCode::OK, "{answer}");
    let statuses: Vec<&str> =
        answer["Operations"].as_array().expect("a list").iter().filter_map(|o| o["status"].as_str()).collect();
    assert_eq!(statuses, vec!["201", "201", "201", "200"], "{answer}");
    let (_, team) = s.get(&format!("/Groups?filter={}", urlencode(r#"displayName eq "Bulk team""#))).await;
    assert_eq!(team["Resources"][0]["members"].as_array().map(Vec::len), Some(2), "{team}");
    // failOnErrors 1: a duplicate stops the run; what follows it is not done.
    let ops = json!([
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "ed@corp.example"}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "cy@corp.example"}},
        {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"userName": "flo@corp.example"}},
    ]);
    let (st, answer) = s.post("/Bulk", bulk(ops, Some(1))).await;
    assert_eq!(st, StatusCode::OK, "{answer}");
    let done = answer["Operations"].as_array().expect("a list");
    assert_eq!(done.len(), 2, "the run stops at the first error: {answer}");
    assert_eq!(done[1]["status"], "409");
    assert_eq!(done[1]["response"]["scimType"], "uniqueness");
    let (_, flo) = s.get(&format!("/Users?filter={}", urlencode(r#"userName eq "flo@corp.example""#))).await;
    assert_eq!(flo["totalResults"], 0, "nothing after the stop is done");
    // A reference to nothing made before, and a request too big, are refused.
    let ops = json!([{"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "X", "members": [{"value": "bulkId:nope"}]}}]);
    let (_, answer) = s.post("/Bulk", bulk(ops, None)).await;
    assert_eq!(answer["Operations"][0]["status"], "409", "{answer}");
    let many: Vec<Value> = (0..10_001).map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")})).collect();
    let (st, e) = s.post("/Bulk", bulk(Value::Array(many), None)).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{e}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What a client gives beyond the directory's attributes comes back as given (a
/// middle name, a home email, a fax, a nickname, a group's externalId), never a
/// password; once the directory's own value changes by another way, the
/// directory's value wins.
async fn what_the_directory_does_not_keep_comes_back(app: &TestApp) {
    let s = scim(app).await;
    let emails = json!([{"value": "bj@corp.example", "type": "work", "primary": true},
                        {"value": "babs@home.example", "type": "home"}]);
    let phones = json!([{"value": "+1 555 0100", "type": "fax"}, {"value": "+1 555 0101", "type": "mobile"}]);
    let (st, u) = s
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "bjensen", "password": "t0p-secret",
            "name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane", "honorificPrefix": "Ms."},
            "nickName": "Babs", "emails": emails, "phoneNumbers": phones}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{u}");
    let id = u["id"].as_str().unwrap_or_default().to_string();
    let (_, got) = s.get(&format!("/Users/{id}")).await;
    assert_eq!(got["name"]["middleName"], "Jane", "{got}");
    assert_eq!(got["name"]["givenName"], "Barbara");
    assert_eq!(got["nickName"], "Babs");
    assert_eq!(got["emails"], emails);
    assert_eq!(got["phoneNumbers"], phones);
    assert!(!got.to_string().contains("t0p-secret"), "a password never comes back: {got}");
    let (_, user) = app.get("/users/bjensen").await;
    assert_eq!((user["mail"].as_str(), user["mobile"].as_str()), (Some("bj@corp.example"), Some("+1 555 0101")));

    let (st, patched) =
        s.patch(&format!("/Users/{id}"), json!([{"op": "replace", "path": "name.middleName", "value": "J."}])).await;
    assert_eq!(st, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"]["middleName"], "J.");
    assert_eq!(patched["emails"], emails, "untouched by the patch");

    // The directory's mail changed by the admin API: the directory's email shows.
    app.patch("/users/bjensen", json!({"mail": "barbara@corp.example"})).await;
    let (_, got) = s.get(&format!("/Users/{id}")).await;
    assert_eq!(got["emails"], json!([{"value": "barbara@corp.example", "type": "work", "primary": true}]), "{got}");
    assert_eq!(got["nickName"], "Babs");

    let (st, g) = s.post("/Groups", json!({"schemas": [GROUP], "displayName": "Ops", "externalId": "hr-42"})).await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    assert_eq!(g["externalId"], "hr-42");
    let gid = g["id"].as_str().unwrap_or_default().to_string();
    let (st, g2) =
        s.patch(&format!("/Groups/{gid}"), json!([{"op": "replace", "path": "externalId", "value": "hr-43"}])).await;
    assert_eq!(st, StatusCode::OK, "{g2}");
    assert_eq!(g2["externalId"], "hr-43");
    assert_ne!(g2["meta"]["version"], g["meta"]["version"], "the version moves with the extra");
}

macro_rules! on_both {
    ($($name:ident),*) => {
        mod sqlite { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() {
            if let Some(app) = super::TestApp::spawn_with(super::Db::Sqlite, super::EngineOptions { manual_cycles: true, ..Default::default() }).await { super::$name(&app).await }
        })* }
        mod postgres { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() {
            if let Some(app) = super::TestApp::spawn_with(super::Db::Postgres, super::EngineOptions { manual_cycles: true, ..Default::default() }).await { super::$name(&app).await }
        })* }
    };
}

on_both!(
    tokens_of_the_wrong_scope_are_refused,
    users_are_created_found_patched_and_deleted,
    a_pushed_group_reaches_the_app,
    a_bulk_request_makes_a_group_of_users_it_makes,
    what_the_directory_does_not_keep_comes_back
);
