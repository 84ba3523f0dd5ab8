//! Inbound provisioning from HR: joiners (a future start date), movers
//! (department and manager), leavers (an end date), rehires, the held
//! threshold, and hostile pushes — through the API, on a clock the test
//! moves, on SQLite and PostgreSQL.

mod common;

use common::{Db, EngineOptions, TestApp};
use reqwest::{Method, StatusCode};
use roster_engine::reliability::ManualClock;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// 2027-01-04T00:00:00Z.
const START: i64 = 1_799_020_800_000;
const DAY: Duration = Duration::from_secs(24 * 3600);

const HEADER: &str = "EmployeeId,UserName,FirstName,LastName,Department,ManagerEmployeeId,WorkerType,StartDate,EndDate";

struct Hr {
    app: TestApp,
    clock: Arc<ManualClock>,
}

async fn spawn(db: Db) -> Option<Hr> {
    let clock = ManualClock::new(START);
    let options = EngineOptions { clock: Some(clock.clone()), manual_cycles: true, ..EngineOptions::default() };
    let app = TestApp::spawn_with(db, options).await?;
    Some(Hr { app, clock })
}

impl Hr {
    async fn raw(&self, token: &str, path: &str, content_type: &str, body: String) -> (StatusCode, Value) {
        let resp = self
            .app
            .http
            .post(format!("{}/api/v1{path}", self.app.base))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = resp.status();
        (status, serde_json::from_str(&resp.text().await.expect("body")).unwrap_or(Value::Null))
    }

    /// Pushes CSV rows (after the header) to the source `Workday`.
    async fn push(&self, rows: &[&str]) -> Value {
        let body = format!("{HEADER}\n{}\n", rows.join("\n"));
        let (s, batch) = self.raw(&self.app.token, "/sources/Workday/csv", "text/csv", body).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{batch}");
        batch
    }

    async fn user(&self, name: &str) -> Value {
        let (s, u) = self.app.get(&format!("/users/{name}")).await;
        assert_eq!(s, StatusCode::OK, "{name}: {u}");
        u
    }

    async fn missing(&self, name: &str) -> bool {
        self.app.get(&format!("/users/{name}")).await.0 == StatusCode::NOT_FOUND
    }

    /// Moves the clock, then runs the background pass (due starts and ends).
    async fn after(&self, by: Duration) {
        self.clock.advance(by);
        self.app.engine.inbound_pass().await;
    }

    async fn logs(&self) -> Vec<Value> {
        let (_, page) = self.app.get("/apps/Workday/provisioning/logs?limit=200").await;
        page["items"].as_array().cloned().unwrap_or_default()
    }
}

async fn csv_source(hr: &Hr, threshold: u32) {
    let (s, src) = hr.app.post("/sources", json!({"name": "Workday", "template": "hr-csv"})).await;
    assert_eq!(s, StatusCode::CREATED, "{src}");
    let mut settings = src["settings"].clone();
    settings["disableThreshold"] = json!(threshold);
    settings["prehireDays"] = json!(7);
    // Only employees: contractors stay out.
    settings["mapping"]["scoping"] = json!({"groups": [{"clauses": [
        {"attribute": "WorkerType", "operator": "EQUALS", "value": "Employee"}]}]});
    let (s, saved) = hr.app.call(Method::PUT, "/api/v1/sources/Workday/settings", Some(settings)).await;
    assert_eq!(s, StatusCode::OK, "{saved}");
}

/// A hire 3 days ahead is created disabled and enabled on the date; one 60 days
/// ahead waits until 7 days before it; a contractor is out of scope.
async fn joiner(hr: &Hr) {
    csv_source(hr, 0).await;
    let batch = hr
        .push(&[
            "E1,ada@corp.example,Ada,Lovelace,Research,,Employee,2027-01-07,",
            "E2,bob@corp.example,Bob,Babbage,Research,,Employee,2027-03-05,",
            "C1,cy@corp.example,Cy,Contractor,Research,,Contractor,2027-01-01,",
        ])
        .await;
    assert_eq!(batch["status"], "applied", "{batch}");
    assert_eq!(batch["summary"]["created"], 1, "{batch}");
    let ada = hr.user("ada@corp.example").await;
    assert_eq!(ada["active"], false, "created disabled before the start date: {ada}");
    assert_eq!(ada["givenName"], "Ada");
    assert_eq!(ada["employeeId"], "E1");
    assert!(hr.missing("bob@corp.example").await, "60 days ahead: not created yet");
    assert!(hr.missing("cy@corp.example").await, "a contractor is out of scope");

    // A hire put off, then moved closer: created now, its put-off record gone.
    hr.push(&["E3,cy@corp.example,Cy,Young,Research,,Employee,2027-02-20,"]).await;
    assert!(hr.missing("cy@corp.example").await);
    hr.push(&["E3,cy@corp.example,Cy,Young,Research,,Employee,2027-01-06,"]).await;
    assert_eq!(hr.user("cy@corp.example").await["active"], false);
    let (_, src) = hr.app.get("/sources/Workday").await;
    let creates: Vec<&Value> =
        src["scheduled"].as_array().into_iter().flatten().filter(|a| a["action"] == "create").collect();
    assert_eq!(creates.len(), 1, "only E2's: {src}");
    assert_eq!(creates[0]["subject"], "E2");

    hr.after(DAY * 2).await;
    assert_eq!(hr.user("ada@corp.example").await["active"], false, "not before the date");
    hr.after(DAY).await;
    assert_eq!(hr.user("ada@corp.example").await["active"], true, "enabled on the start date");

    // 2027-03-05 minus 7 days is 2027-02-26: 53 days after the start.
    hr.after(DAY * 49).await;
    assert!(hr.missing("bob@corp.example").await);
    hr.after(DAY).await;
    let bob = hr.user("bob@corp.example").await;
    assert_eq!(bob["active"], false, "created prehireDays before the start, disabled: {bob}");
    hr.after(DAY * 7).await;
    assert_eq!(hr.user("bob@corp.example").await["active"], true);

    let logs = hr.logs().await;
    let actions: Vec<(&str, &str)> = logs
        .iter()
        .map(|l| (l["action"].as_str().unwrap_or_default(), l["sourceId"].as_str().unwrap_or_default()))
        .collect();
    for expected in
        [("Create", "E1"), ("Enable", "E1"), ("Skip", "E2"), ("Create", "E2"), ("Enable", "E2"), ("Skip", "C1")]
    {
        assert!(actions.contains(&expected), "{expected:?} in {actions:?}");
    }
}

/// A department and manager change reach the user; a manager later in the
/// same file is found; an unknown manager is a warning, not a failure.
async fn mover(hr: &Hr) {
    csv_source(hr, 0).await;
    hr.push(&[
        "E1,ada@corp.example,Ada,Lovelace,Research,E9,Employee,2026-01-01,",
        "E9,boss@corp.example,Grace,Hopper,Board,,Employee,2026-01-01,",
        "E5,eve@corp.example,Eve,Moneypenny,Sales,E404,Employee,2026-01-01,",
    ])
    .await;
    let boss = hr.user("boss@corp.example").await;
    let ada = hr.user("ada@corp.example").await;
    assert_eq!(ada["manager"], boss["id"], "the manager later in the file is resolved: {ada}");
    let eve = hr.user("eve@corp.example").await;
    assert_eq!(eve["manager"], Value::Null);
    assert!(hr.logs().await.iter().any(|l| l["status"] == "Warning" && l["sourceId"] == "E5"));

    let batch = hr
        .push(&[
            "E1,ada@corp.example,Ada,Lovelace,Engineering,E5,Employee,2026-01-01,",
            "E9,boss@corp.example,Grace,Hopper,Board,,Employee,2026-01-01,",
        ])
        .await;
    assert_eq!(batch["summary"]["updated"], 1, "{batch}");
    assert_eq!(batch["summary"]["unchanged"], 1, "{batch}");
    let ada = hr.user("ada@corp.example").await;
    assert_eq!(ada["department"], "Engineering");
    assert_eq!(ada["manager"], eve["id"]);
    let update = hr.logs().await.into_iter().find(|l| l["action"] == "Update" && l["sourceId"] == "E1");
    let modified = update.map(|l| l["modified"].to_string()).unwrap_or_default();
    assert!(modified.contains("Engineering") && modified.contains("Research"), "old and new are logged: {modified}");
}

/// An end date in the future disables on that date; one in the past at once;
/// a leaver never in the directory is not created.
async fn leaver(hr: &Hr) {
    csv_source(hr, 0).await;
    hr.push(&[
        "E1,ada@corp.example,Ada,Lovelace,Research,,Employee,2026-01-01,",
        "E2,bob@corp.example,Bob,Babbage,Research,,Employee,2026-01-01,",
    ])
    .await;
    let batch = hr
        .push(&[
            "E1,ada@corp.example,Ada,Lovelace,Research,,Employee,2026-01-01,2027-01-06",
            "E2,bob@corp.example,Bob,Babbage,Research,,Employee,2026-01-01,2027-01-02",
            "E3,old@corp.example,Old,Timer,Research,,Employee,2020-01-01,2021-01-01",
        ])
        .await;
    assert_eq!(batch["summary"]["disabled"], 1, "{batch}");
    assert_eq!(hr.user("bob@corp.example").await["active"], false, "a past end date disables at once");
    assert_eq!(hr.user("ada@corp.example").await["active"], true, "not before the end date");
    assert!(hr.missing("old@corp.example").await, "a leaver is not created");
    hr.after(DAY).await;
    assert_eq!(hr.user("ada@corp.example").await["active"], true);
    hr.after(DAY).await;
    assert_eq!(hr.user("ada@corp.example").await["active"], false, "disabled on the end date");
    let (_, src) = hr.app.get("/sources/Workday").await;
    assert_eq!(src["scheduled"], json!([]), "nothing left scheduled: {src}");
}

/// A former employee hired again keeps the same user, enabled on the new start
/// date: never a second user.
async fn rehire(hr: &Hr) {
    csv_source(hr, 0).await;
    hr.push(&["E1,ada@corp.example,Ada,Lovelace,Research,,Employee,2020-01-01,"]).await;
    let first = hr.user("ada@corp.example").await;
    hr.push(&["E1,ada@corp.example,Ada,Lovelace,Research,,Employee,2020-01-01,2026-06-30"]).await;
    assert_eq!(hr.user("ada@corp.example").await["active"], false);
    // Rehired under a new userName, starting in two days: matched by employee id.
    let batch = hr.push(&["E1,ada.l@corp.example,Ada,Lovelace,Research,,Employee,2027-01-06,2026-06-30"]).await;
    assert_eq!(batch["summary"]["updated"], 1, "{batch}");
    let again = hr.user("ada.l@corp.example").await;
    assert_eq!(again["id"], first["id"], "the same user");
    assert_eq!(again["active"], false, "not before the new start date");
    hr.after(DAY * 2).await;
    assert_eq!(hr.user("ada.l@corp.example").await["active"], true, "enabled on the new start date");
    let (_, all) = hr.app.get("/users?limit=50").await;
    assert_eq!(all["total"], 1, "{all}");
    let logs = hr.logs().await;
    assert!(logs.iter().any(|l| l["steps"].to_string().contains("Rehire")), "{logs:?}");
}

/// A file disabling more users than the threshold is held: nothing changes
/// until an admin approves it; a rejected one changes nothing.
async fn held_threshold(hr: &Hr) {
    csv_source(hr, 2).await;
    let staff: Vec<String> =
        (1..=5).map(|i| format!("E{i},p{i}@corp.example,P,{i},Ops,,Employee,2026-01-01,")).collect();
    hr.push(&staff.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let leaving: Vec<String> =
        (1..=3).map(|i| format!("E{i},p{i}@corp.example,P,{i},Ops,,Employee,2026-01-01,2027-01-01")).collect();
    let rows: Vec<&str> = leaving.iter().map(String::as_str).collect();
    let batch = hr.push(&rows).await;
    assert_eq!(batch["status"], "held", "{batch}");
    assert_eq!(batch["summary"]["disables"], 3, "{batch}");
    for i in 1..=3 {
        assert_eq!(hr.user(&format!("p{i}@corp.example")).await["active"], true, "held: nobody disabled");
    }
    let id = batch["id"].as_str().unwrap_or_default().to_string();
    let (_, src) = hr.app.get("/sources/Workday").await;
    assert_eq!(src["held"][0]["id"], id.as_str(), "{src}");

    // A batch received after a held one waits for the decision.
    let later = hr.push(&["E6,late@corp.example,Late,Hire,Ops,,Employee,2026-01-01,"]).await;
    assert_eq!(later["status"], "queued", "{later}");
    assert!(hr.missing("late@corp.example").await);

    // A read token cannot approve.
    let (_, read) = hr.app.post("/tokens", json!({"name": "viewer", "role": "read"})).await;
    let viewer = read["secret"].as_str().unwrap_or_default();
    let path = format!("/api/v1/sources/Workday/batches/{id}/approve");
    let (s, _) = hr.app.call_as(viewer, Method::POST, &path, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, approved) = hr.app.post(&format!("/sources/Workday/batches/{id}/approve"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "applied", "{approved}");
    for i in 1..=3 {
        assert_eq!(hr.user(&format!("p{i}@corp.example")).await["active"], false);
    }
    assert_eq!(hr.user("late@corp.example").await["active"], true, "the waiting batch ran after the approved one");
    let (s, again) = hr.app.post(&format!("/sources/Workday/batches/{id}/approve"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "decided once: {again}");

    let rows: Vec<String> =
        (4..=5).map(|i| format!("E{i},p{i}@corp.example,P,{i},Ops,,Employee,2026-01-01,2027-01-01")).collect();
    let mut rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    rows.push("E9,new@corp.example,New,Hire,Ops,,Employee,2026-01-01,2027-02-01");
    let batch = hr.push(&rows).await;
    assert_eq!(batch["status"], "held", "two now and one later are three disables: {batch}");
    let id = batch["id"].as_str().unwrap_or_default();
    let (_, rejected) = hr.app.post(&format!("/sources/Workday/batches/{id}/reject"), json!({})).await;
    assert_eq!(rejected["status"], "rejected", "{rejected}");
    assert_eq!(hr.user("p4@corp.example").await["active"], true, "a rejected batch changes nothing");
    assert!(hr.missing("new@corp.example").await);
}

/// SCIM pushes: a BulkRequest with the enterprise and HR extensions, from a
/// token of the scim scope; bad pushes are clear 4xx and change nothing.
async fn scim_push(hr: &Hr) {
    let (s, src) = hr.app.post("/sources", json!({"name": "Workday", "template": "hr-scim"})).await;
    assert_eq!(s, StatusCode::CREATED, "{src}");
    let (_, t) = hr.app.post("/tokens", json!({"name": "workday", "role": "scim"})).await;
    let token = t["secret"].as_str().unwrap_or_default().to_string();
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let ext = "urn:roster:params:scim:schemas:extension:hr:2.0:User";
    let user = |n: &str, id: &str, manager: Option<&str>| {
        json!({"method": "POST", "path": "/Users", "bulkId": id, "data": {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ent, ext],
            "userName": format!("{n}@corp.example"),
            "name": {"givenName": n, "familyName": "Smith"},
            "title": "Engineer",
            "emails": [{"type": "work", "value": format!("{n}@corp.example"), "primary": true}],
            ent: {"employeeNumber": id, "department": "R&D", "manager": manager.map(|m| json!({"value": m}))},
            ext: {"startDate": "2026-11-01"}
        }})
    };
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [user("kim", "100", Some("200")), user("lee", "200", None)]});
    let (s, batch) = hr.raw(&token, "/sources/Workday/bulkUpload", "application/scim+json", bulk.to_string()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{batch}");
    assert_eq!(batch["summary"]["created"], 2, "{batch}");
    let kim = hr.user("kim@corp.example").await;
    let lee = hr.user("lee@corp.example").await;
    assert_eq!((kim["jobTitle"].as_str(), kim["department"].as_str()), (Some("Engineer"), Some("R&D")));
    assert_eq!(kim["mail"], "kim@corp.example");
    assert_eq!(kim["employeeId"], "100");
    assert_eq!(kim["manager"], lee["id"]);
    assert_eq!(kim["active"], true);

    // The scim token pushes, and does nothing else.
    let (s, _) = hr.app.call_as(&token, Method::GET, "/api/v1/users", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for (body, what) in [
        ("{not json".to_string(), "not JSON"),
        (json!({"Operations": [{"method": "DELETE", "path": "/Users/1"}]}).to_string(), "a DELETE"),
        (json!({"Operations": [{"method": "POST", "path": "/Groups", "data": {}}]}).to_string(), "a group"),
        (json!({"Operations": "x"}).to_string(), "no operation list"),
    ] {
        let (s, e) = hr.raw(&token, "/sources/Workday/bulkUpload", "application/scim+json", body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{what}: {e}");
        assert!(e["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {e}");
    }
    let (s, e) = hr.raw(&token, "/sources/Workday/csv", "text/csv", "A,B\n1,2,3\n".into()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    // A record with a bad date or no matching value fails alone, logged.
    let bad = json!({"Operations": [
        {"method": "POST", "path": "/Users", "data": {"userName": "x@corp.example", ent: {"employeeNumber": "300"}, ext: {"startDate": "soon"}}},
        {"method": "POST", "path": "/Users", "data": {"displayName": "nobody"}}
    ]});
    let (s, batch) = hr.raw(&token, "/sources/Workday/bulkUpload", "application/scim+json", bad.to_string()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{batch}");
    assert_eq!(batch["summary"]["failed"], 2, "{batch}");
    assert!(hr.missing("x@corp.example").await);
    let logs = hr.logs().await;
    assert!(logs.iter().any(|l| l["errorCode"] == "InvalidDate"), "{logs:?}");
    assert!(logs.iter().any(|l| l["errorCode"] == "NoMatchingValue"), "{logs:?}");
    assert_eq!(hr.app.get("/users?limit=50").await.1["total"], 2);

    // Settings are checked: a target that is no directory attribute is named.
    let mut settings = src["settings"].clone();
    settings["mapping"]["attributes"][0]["target"] = json!("salary");
    let (s, e) = hr.app.call(Method::PUT, "/api/v1/sources/Workday/settings", Some(settings)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["error"]["message"].as_str().is_some_and(|m| m.contains("salary")), "{e}");
    // A source is not an outbound app.
    let (s, e) = hr.app.patch("/apps/Workday/provisioning", json!({"mode": "automatic"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
}

/// Hostile pushes: a record the directory refuses (a value too long, a control
/// character, a userName another employee holds) fails alone and is logged, the
/// rest of its chunk is written; an oversized file is refused whole; a revoked
/// token pushes nothing.
async fn hostile_records(hr: &Hr) {
    csv_source(hr, 0).await;
    let long = "x".repeat(5000);
    let rows = [
        "E1,ada@corp.example,Ada,Lovelace,Research,,Employee,2026-01-01,".to_string(),
        format!("E2,bob@corp.example,{long},B,Research,,Employee,2026-01-01,"),
        "E4,ada@corp.example,Other,Ada,Research,,Employee,2026-01-01,".to_string(),
        "E5,eve@corp.example,Eve,E,Research,,Employee,2026-01-01,".to_string(),
    ];
    let batch = hr.push(&rows.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(batch["summary"]["created"], 2, "{batch}");
    assert_eq!(batch["summary"]["failed"], 2, "{batch}");
    assert_eq!(
        hr.user("ada@corp.example").await["employeeId"],
        "E1",
        "another employee's record does not take Ada over by her userName"
    );
    assert_eq!(hr.user("eve@corp.example").await["active"], true, "written after the refused records");
    assert!(hr.missing("bob@corp.example").await);
    let logs = hr.logs().await;
    let refused: Vec<&str> =
        logs.iter().filter(|l| l["errorCode"] == "DirectoryRefused").filter_map(|l| l["sourceId"].as_str()).collect();
    assert_eq!(refused, ["E2"], "{logs:?}");
    let takeover =
        logs.iter().find(|l| l["sourceId"] == "E4").map(|l| (l["errorCode"].clone(), l["errorMessage"].clone()));
    assert!(
        takeover.as_ref().is_some_and(|(c, m)| c == "AmbiguousMatch" && m.as_str().is_some_and(|m| m.contains("E1"))),
        "{takeover:?}"
    );

    // A control character (a file in the wrong encoding): the file is refused
    // whole, naming where, and nothing of it is applied.
    let bell = format!(
        "{HEADER}\nE3,cy@corp.example,Cy,C,R,,Employee,2026-01-01,\nE6,\"d\u{7}@corp.example\",D,D,R,,Employee,,\n"
    );
    let (s, e) = hr.raw(&hr.app.token, "/sources/Workday/csv", "text/csv", bell).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["error"]["message"].as_str().is_some_and(|m| m.starts_with("line 3, column UserName")), "{e}");
    assert!(hr.missing("cy@corp.example").await);

    let big = format!("{HEADER}\n{}", "E9,p@corp.example,P,Q,R,,Employee,,\n".repeat(100_001));
    let (s, e) = hr.raw(&hr.app.token, "/sources/Workday/csv", "text/csv", big).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["error"]["message"].as_str().is_some_and(|m| m.contains("100000")), "{e}");

    let (_, t) = hr.app.post("/tokens", json!({"name": "hr", "role": "scim"})).await;
    let token = t["secret"].as_str().unwrap_or_default().to_string();
    let (s, _) = hr.app.delete("/tokens/hr").await;
    assert!(s.is_success());
    let body = format!("{HEADER}\nE7,zed@corp.example,Zed,Z,R,,Employee,2026-01-01,\n");
    let (s, _) = hr.raw(&token, "/sources/Workday/csv", "text/csv", body).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a revoked token");
    assert!(hr.missing("zed@corp.example").await);
}

/// A batch cut short (its worker died while it ran) is taken again: at once on
/// SQLite (one process per store), after 10 minutes on PostgreSQL; records
/// already written are not written twice.
async fn a_batch_cut_short_is_taken_again(hr: &Hr) {
    csv_source(hr, 0).await;
    hr.push(&["E1,ada@corp.example,Ada,Lovelace,Research,,Employee,2026-01-01,"]).await;
    let source = hr.app.store.find_app("Workday").await.expect("the source").id;
    let records = json!([
        {"EmployeeId": "E1", "UserName": "ada@corp.example", "FirstName": "Ada", "LastName": "Lovelace", "WorkerType": "Employee"},
        {"EmployeeId": "E2", "UserName": "bob@corp.example", "FirstName": "Bob", "WorkerType": "Employee"}
    ]);
    let id = hr.app.store.queue_batch(&source, "csv", &records, START).await.expect("queued");
    let claimed = hr.app.store.claim_batch(START, START - 1).await.expect("claim").map(|(b, _)| b.id);
    assert_eq!(claimed.as_deref(), Some(id.as_str()), "a worker took it, then died");
    if hr.app.store.backend() == roster_store::Backend::Postgres {
        hr.after(Duration::from_secs(5 * 60)).await;
        assert!(hr.missing("bob@corp.example").await, "another worker may still be on it");
        hr.after(Duration::from_secs(6 * 60)).await;
    } else {
        hr.app.engine.inbound_pass().await;
    }
    assert_eq!(hr.user("bob@corp.example").await["active"], true);
    let (_, batches) = hr.app.get("/sources/Workday/batches").await;
    let again = batches.as_array().into_iter().flatten().find(|b| b["id"] == id.as_str()).cloned().unwrap_or_default();
    assert_eq!(again["status"], "applied", "{again}");
    assert_eq!(again["summary"]["created"], 1, "Ada was not made twice: {again}");
    assert_eq!(again["summary"]["unchanged"], 1, "{again}");
}

macro_rules! hr_scenarios {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[tokio::test] async fn $name() { if let Some(hr) = spawn(Db::Sqlite).await { super::$name(&hr).await } })*
        }
        mod postgres {
            use super::*;
            $(#[tokio::test] async fn $name() { if let Some(hr) = spawn(Db::Postgres).await { super::$name(&hr).await } })*
        }
    };
}

/// The watched folder: a settled CSV file is taken and moved to `processed/`; a
/// bad one goes to `failed/` with why; a file still being written waits.
async fn watched_folder(hr: &Hr) {
    csv_source(hr, 0).await;
    let dir = common::fresh_dir().join("inbox");
    let inbox = dir.join("Workday");
    std::fs::create_dir_all(&inbox).expect("inbox");
    hr.app.engine.watch_inbound_dir(dir.clone());
    let settled = |name: &str, text: &str| {
        let path = inbox.join(name);
        std::fs::write(&path, text).expect("write");
        let old = std::time::SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options().write(true).open(&path).and_then(|f| f.set_modified(old)).expect("mtime");
    };
    settled("monday.csv", &format!("{HEADER}\nE1,ada@corp.example,Ada,Lovelace,Research,,Employee,2026-01-01,\n"));
    settled("broken.csv", "EmployeeId,UserName\nE2,bob@corp.example,extra\n");
    std::fs::write(inbox.join("fresh.csv"), format!("{HEADER}\nE3,cy@corp.example,Cy,X,R,,Employee,2026-01-01,\n"))
        .expect("write");
    hr.app.engine.inbound_pass().await;
    assert_eq!(hr.user("ada@corp.example").await["active"], true);
    assert!(hr.missing("bob@corp.example").await);
    assert!(hr.missing("cy@corp.example").await, "a file written just now waits until it settles");
    assert!(!inbox.join("monday.csv").exists() && !inbox.join("broken.csv").exists());
    assert!(inbox.join("fresh.csv").exists());
    let processed: Vec<String> = std::fs::read_dir(inbox.join("processed"))
        .expect("processed/")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    assert!(processed.iter().any(|n| n.ends_with("-monday.csv")), "{processed:?}");
    let why = std::fs::read_to_string(inbox.join("failed").join("broken.csv.error.txt")).expect("the error file");
    assert!(why.contains("line 2"), "{why}");
    let (_, batches) = hr.app.get("/sources/Workday/batches").await;
    assert_eq!(batches[0]["origin"], "folder", "{batches}");
}

hr_scenarios!(
    joiner,
    mover,
    leaver,
    rehire,
    held_threshold,
    scim_push,
    watched_folder,
    hostile_records,
    a_batch_cut_short_is_taken_again
);

/// The account of `user_name` in a SCIM app, when there is one.
async fn account(base: &str, token: &str, user_name: &str) -> Option<Value> {
    let filter = format!("userName eq \"{user_name}\"");
    let resp = reqwest::Client::new()
        .get(format!("{base}/Users"))
        .query(&[("filter", filter.as_str())])
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    let page: Value = resp.json().await.ok()?;
    page["Resources"].as_array()?.first().cloned()
}

/// People pushed by HR reach an outbound app through the change feed: a hire
/// gets an account with the mapped attributes, a leaver's account is disabled.
async fn push_reaches_the_app(app: &TestApp, base: &str, token: &str) {
    app.post("/apps", json!({"name": "Wiki", "template": "scim"})).await;
    let (s, e) = app
        .patch(
            "/apps/Wiki/provisioning",
            json!({"tenantUrl": base, "secretToken": token, "mode": "automatic", "scope": "all"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    app.post("/apps/Wiki/provisioning/start", json!({})).await;
    app.post("/sources", json!({"name": "Workday", "template": "hr-csv"})).await;
    let push = |rows: &str| {
        let body = format!("{HEADER}\n{rows}\n");
        let url = format!("{}/api/v1/sources/Workday/csv", app.base);
        let req = app.http.post(url).bearer_auth(&app.token).header("content-type", "text/csv").body(body);
        async move { req.send().await.map(|r| r.status()) }
    };
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let hire = format!("E7,nia@corp.example,Nia,Ward,Research,,Employee,{yesterday},");
    assert_eq!(push(&hire).await.ok(), Some(StatusCode::ACCEPTED));
    let made = common::eventually(30, "the hire's account in the app", || async {
        account(base, token, "nia@corp.example").await.filter(|a| a["active"] == true)
    })
    .await;
    assert_eq!(made["name"]["givenName"], "Nia", "{made}");
    let leaver = format!("E7,nia@corp.example,Nia,Ward,Research,,Employee,{yesterday},{today}");
    assert_eq!(push(&leaver).await.ok(), Some(StatusCode::ACCEPTED));
    common::eventually(30, "the leaver's account disabled in the app", || async {
        account(base, token, "nia@corp.example").await.filter(|a| a["active"] == false)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_reaches_scim2_server() {
    let Some(server) = common::Scim2Server::start().await else { return };
    let Some(app) = TestApp::spawn(Db::Sqlite).await else { return };
    push_reaches_the_app(&app, &server.base_url, &server.token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_reaches_the_sample_app_on_postgres() {
    let Some(app) = TestApp::spawn(Db::Postgres).await else { return };
    let sample =
        roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "sample-token".into(), Default::default())
            .await
            .expect("sample app");
    push_reaches_the_app(&app, &sample.base_url, "sample-token").await;
}
