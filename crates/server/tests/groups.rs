//! Group provisioning end to end: roster's engine provisions groups and their
//! members into a third-party SCIM server (PyPI's scim2-server) and into roster's
//! sample app. Every request goes through roster's counting proxy, so the tests
//! can count PATCHes, look at their bodies and prove that no group is read back.

mod common;

use common::{eventually, Db, Scim2Server, TestApp};
use roster_sample_app::proxy::{self, CrashPoint, ErrorStatus, FaultPlan, Method, RunningProxy};
use roster_sample_app::{MemberRemoval, SampleOptions};
use serde_json::{json, Value};

/// The app as the tests see it: requests from roster go through `proxy`; the
/// tests read the app directly, so that their reads are not counted.
struct Peer {
    direct_url: String,
    token: String,
    proxy: RunningProxy,
    http: reqwest::Client,
}

impl Peer {
    async fn new(direct_url: &str, token: &str) -> Peer {
        let proxy = proxy::start("127.0.0.1:0".parse().expect("addr"), direct_url, FaultPlan::none())
            .await
            .expect("proxy starts");
        Peer { direct_url: direct_url.to_string(), token: token.to_string(), proxy, http: reqwest::Client::new() }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        self.http
            .get(format!("{}{path}", self.direct_url))
            .query(query)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("the app answers")
            .json()
            .await
            .expect("json")
    }

    /// Deletes an account in the app behind roster's back, as an admin of the
    /// app would (the sample app keeps its id in the groups that held it).
    async fn delete_user(&self, id: &str) {
        let answer = self
            .http
            .delete(format!("{}/Users/{id}", self.direct_url))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("the app answers");
        assert!(answer.status().is_success(), "the account is deleted: {}", answer.status());
    }

    async fn find(&self, resource: &str, filter: String) -> Option<Value> {
        let list = self.get(&format!("/{resource}"), &[("filter", filter.as_str())]).await;
        let found = list["Resources"].as_array().cloned().unwrap_or_default();
        assert!(found.len() <= 1, "duplicates in the app for {filter}: {found:?}");
        found.into_iter().next()
    }

    async fn user_id(&self, user_name: &str) -> Option<String> {
        let u = self.find("Users", format!("userName eq \"{user_name}\"")).await?;
        u["id"].as_str().map(String::from)
    }

    async fn user_active(&self, user_name: &str) -> Option<bool> {
        self.find("Users", format!("userName eq \"{user_name}\"")).await.and_then(|u| u["active"].as_bool())
    }

    /// The group and the sorted ids of its members, read with its members.
    async fn group(&self, name: &str) -> Option<(Value, Vec<String>)> {
        let g = self.find("Groups", format!("displayName eq \"{name}\"")).await?;
        let id = g["id"].as_str()?.to_string();
        let full = self.get(&format!("/Groups/{id}"), &[]).await;
        let mut members: Vec<String> = full["members"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m["value"].as_str().map(String::from))
            .collect();
        members.sort();
        Some((full, members))
    }

    /// Requests roster sent of one kind, e.g. "PATCH /Groups".
    fn count(&self, kind: &str) -> u64 {
        self.proxy.control.stats().count(kind)
    }
}

async fn user_ids(peer: &Peer, names: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for n in names {
        ids.push(peer.user_id(n).await.unwrap_or_else(|| panic!("{n} has an account")));
    }
    ids.sort();
    ids
}

/// The bodies of the group PATCHes that removed members, as the proxy recorded them.
fn removal_bodies(peer: &Peer) -> Vec<String> {
    peer.proxy
        .control
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.resource == "/Groups")
        .filter_map(|r| r.body.map(|b| String::from_utf8_lossy(&b).into_owned()))
        .filter(|b| b.contains("\"remove\""))
        .collect()
}

async fn configure(app: &TestApp, name: &str, peer: &Peer, extra: Value) {
    let (s, v) = app.post("/apps", json!({"name": name})).await;
    assert!(s.is_success(), "{v}");
    let mut settings = json!({"tenantUrl": peer.proxy.base_url, "secretToken": peer.token, "mode": "automatic"});
    if let (Some(s), Some(e)) = (settings.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    let (s, v) = app.patch(&format!("/apps/{name}/provisioning"), settings).await;
    assert!(s.is_success(), "{v}");
}

async fn steady(app: &TestApp, name: &str) {
    steady_within(app, name, 60).await
}

async fn steady_within(app: &TestApp, name: &str, secs: u64) {
    eventually(secs, "the initial cycle ends", || async {
        let (_, st) = app.get(&format!("/apps/{name}/provisioning/status")).await;
        (st["phase"] == "incremental" && st["steadyStateAt"].is_i64()).then_some(())
    })
    .await;
}

/// Assigned group → created with its members (nested groups flattened); a member
/// added or removed → one PATCH each; renamed → PATCH displayName; logs say so.
async fn group_lifecycle(app: &TestApp, peer: &Peer) {
    for u in ["ann", "ben", "cat", "dan"] {
        app.post("/users", json!({"userName": format!("{u}@corp.example"), "displayName": u})).await;
    }
    app.post("/groups", json!({"displayName": "Sales"})).await;
    app.post("/groups", json!({"displayName": "Sales EMEA"})).await;
    app.post("/groups/Sales/members", json!({"users": ["ann@corp.example", "ben@corp.example"]})).await;
    app.post("/groups/Sales EMEA/members", json!({"user": "cat@corp.example"})).await;
    app.post("/groups/Sales/members", json!({"group": "Sales EMEA"})).await;
    configure(app, "Crm", peer, json!({})).await;
    app.post("/apps/Crm/assignments", json!({"group": "Sales"})).await;
    app.post("/apps/Crm/provisioning/start", json!({})).await;
    steady(app, "Crm").await;

    let (group, members) = peer.group("Sales").await.expect("the assigned group is created");
    assert_eq!(
        members,
        user_ids(peer, &["ann@corp.example", "ben@corp.example", "cat@corp.example"]).await,
        "its members are its users, nested groups' users included"
    );
    assert_eq!(group["externalId"], app.get("/groups/Sales").await.1["id"], "externalId is the directory's id");
    assert!(peer.group("Sales EMEA").await.is_none(), "a nested group is not provisioned as a group");
    assert!(peer.user_id("dan@corp.example").await.is_none(), "an outsider gets no account");
    let created_patches = peer.count("PATCH /Groups");
    assert_eq!(created_patches, 1, "three members go out in one PATCH");

    // A member joins: the account is created, then added with one PATCH.
    app.post("/groups/Sales/members", json!({"user": "dan@corp.example"})).await;
    let dan = eventually(10, "dan is added to the group", || async {
        let dan = peer.user_id("dan@corp.example").await?;
        let (_, members) = peer.group("Sales").await?;
        members.contains(&dan).then_some(dan)
    })
    .await;
    assert_eq!(peer.count("PATCH /Groups"), created_patches + 1, "one PATCH for one member added");

    // A member leaves: removed from the group with one PATCH, before the account is disabled.
    app.delete("/groups/Sales/members/ben@corp.example").await;
    let ben = user_ids(peer, &["ben@corp.example"]).await.remove(0);
    eventually(10, "ben leaves the group and is disabled", || async {
        let (_, members) = peer.group("Sales").await?;
        (!members.contains(&ben) && peer.user_active("ben@corp.example").await == Some(false)).then_some(())
    })
    .await;
    assert_eq!(peer.count("PATCH /Groups"), created_patches + 2, "one PATCH for one member removed");
    // The proxy records a request once it is answered: wait for the disable's
    // record, then order by arrival.
    let mut patches = eventually(10, "the proxy recorded the disable", || async {
        let patches: Vec<_> = peer
            .proxy
            .control
            .requests()
            .into_iter()
            .filter(|r| r.method == "PATCH" && (r.path.ends_with(&ben) || r.resource == "/Groups"))
            .collect();
        patches.iter().any(|r| r.resource == "/Users").then_some(patches)
    })
    .await;
    patches.sort_by_key(|r| r.seq);
    let order: Vec<String> = patches.iter().map(|r| r.resource.clone()).collect();
    assert_eq!(
        order.last().map(String::as_str),
        Some("/Users"),
        "the account is disabled after it left the group: {order:?}"
    );

    // Renamed → one PATCH of displayName.
    app.patch("/groups/Sales", json!({"displayName": "Sales Team"})).await;
    eventually(10, "the group is renamed", || async { peer.group("Sales Team").await }).await;
    assert_eq!(peer.count("PATCH /Groups"), created_patches + 3);
    assert!(peer.group("Sales").await.is_none());

    // The log lists membership changes as the modified property `members`.
    let group_id = app.get("/groups/Sales Team").await.1["id"].as_str().map(String::from).expect("group id");
    let (_, logs) = app.get(&format!("/apps/Crm/provisioning/logs?user={group_id}")).await;
    let entries = logs["items"].as_array().cloned().unwrap_or_default();
    let dan_id = app.get("/users/dan@corp.example").await.1["id"].clone();
    let added = entries.iter().find(|e| e["modified"].to_string().contains(dan_id.as_str().unwrap_or("-")));
    let added = added.unwrap_or_else(|| panic!("a log entry lists dan as added: {logs}"));
    assert_eq!(added["objectKind"], "group");
    assert!(
        added["modified"]
            .as_array()
            .is_some_and(|m| m.iter().any(|p| p["name"] == "members" && p["added"] == json!([dan_id]))),
        "{added}"
    );
    let renamed = eventually(10, "the rename is logged", || async {
        let (_, logs) = app.get(&format!("/apps/Crm/provisioning/logs?user={group_id}")).await;
        let items = logs["items"].as_array().cloned().unwrap_or_default();
        items.into_iter().find(|e| e["modified"].to_string().contains("Sales Team"))
    })
    .await;
    assert_eq!(renamed["modified"], json!([{"name": "displayName", "old": "Sales", "new": "Sales Team"}]));
    let (_, st) = app.get("/apps/Crm/provisioning/status").await;
    assert_eq!(st["groups"]["provisioned"], 1, "{st}");
    assert_eq!(st["toDate"]["failed"], 0, "{st}");
    let _ = dan;

    // Unassigned: with deletes off the group is left in the app, and its users are disabled.
    app.delete("/apps/Crm/assignments?group=Sales Team").await;
    eventually(10, "the users are disabled", || async {
        (peer.user_active("ann@corp.example").await == Some(false)).then_some(())
    })
    .await;
    assert!(peer.group("Sales Team").await.is_some(), "the group is left in the app");
    eventually(10, "leaving the group in the app is logged", || async {
        let (_, logs) = app.get(&format!("/apps/Crm/provisioning/logs?user={group_id}&action=Skip")).await;
        logs["items"][0]["steps"].to_string().contains("left in the app").then_some(())
    })
    .await;
}

/// No request reads a group's members: lists exclude them, and no group is GET by id.
fn assert_no_member_reads(peer: &Peer) {
    for r in peer.proxy.control.requests() {
        if r.method == "GET" && r.resource == "/Groups" {
            let query = r.query.as_deref().unwrap_or_default();
            assert!(
                query.contains("excludedAttributes=members"),
                "a group was read with its members: {} {}?{query}",
                r.method,
                r.path
            );
        }
    }
}

/// A group of 10,000 members: at most 100 PATCHes of members; removing one member
/// is one small PATCH, and nothing reads the group back.
async fn large_group(app: &TestApp, peer: &Peer) {
    const N: usize = 10_000;
    let names: Vec<String> = (0..N).map(|i| format!("m{i:05}@corp.example")).collect();
    for chunk in names.chunks(5000) {
        let rows: Vec<Value> = chunk.iter().map(|n| json!({"userName": n})).collect();
        let (s, v) = app.post("/users/bulk", json!({"upsert": rows})).await;
        assert!(s.is_success(), "{v}");
    }
    app.post("/groups", json!({"displayName": "Everyone"})).await;
    let (s, v) = app.post("/groups/Everyone/members", json!({"users": names})).await;
    assert!(s.is_success(), "{v}");
    configure(app, "Big", peer, json!({"concurrency": 8})).await;
    app.post("/apps/Big/assignments", json!({"group": "Everyone"})).await;
    app.post("/apps/Big/provisioning/start", json!({})).await;
    let started = std::time::Instant::now();
    steady_within(app, "Big", 900).await;
    eprintln!("initial cycle of 10,000 users and one group: {:.1} s", started.elapsed().as_secs_f64());
    let patches = peer.count("PATCH /Groups");
    eprintln!("10,000 members provisioned with {patches} member PATCHes");
    assert!(patches <= 100, "{patches} PATCHes for 10,000 members");
    let (_, st) = app.get("/apps/Big/provisioning/status").await;
    assert_eq!(st["accounts"]["enabled"], N, "{st}");
    assert_eq!(st["toDate"]["failed"], 0, "{st}");
    let (_, members) = peer.group("Everyone").await.expect("the group exists");
    assert_eq!(members.len(), N);

    let before = peer.proxy.control.requests().last().map(|r| r.seq).unwrap_or(0);
    app.delete("/groups/Everyone/members/m00042@corp.example").await;
    eventually(30, "the member is disabled", || async {
        (peer.user_active("m00042@corp.example").await == Some(false)).then_some(())
    })
    .await;
    let after: Vec<_> = peer.proxy.control.requests().into_iter().filter(|r| r.seq > before).collect();
    let group_patches: Vec<_> = after.iter().filter(|r| r.method == "PATCH" && r.resource == "/Groups").collect();
    assert_eq!(group_patches.len(), 1, "one PATCH removes one member: {after:?}");
    assert!(group_patches[0].body_len < 1024, "a small PATCH: {} bytes", group_patches[0].body_len);
    assert_no_member_reads(peer);
}

async fn with_scim2_server(test: impl AsyncFnOnce(&TestApp, &Peer)) {
    let Some(server) = Scim2Server::start().await else { return };
    let Some(app) = TestApp::spawn(Db::Sqlite).await else { return };
    let peer = Peer::new(&server.base_url, &server.token).await;
    test(&app, &peer).await;
}

async fn with_sample_app(options: SampleOptions, test: impl AsyncFnOnce(&TestApp, &Peer)) {
    let Some(app) = TestApp::spawn(Db::Sqlite).await else { return };
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "sample-token".into(), options)
        .await
        .expect("sample app");
    let peer = Peer::new(&sample.base_url, "sample-token").await;
    test(&app, &peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_lifecycle_against_scim2_server() {
    with_scim2_server(group_lifecycle).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_lifecycle_against_sample_app() {
    with_sample_app(SampleOptions::default(), group_lifecycle).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_lifecycle_on_postgres() {
    let Some(app) = TestApp::spawn(Db::Postgres).await else { return };
    let sample =
        roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "sample-token".into(), Default::default())
            .await
            .expect("sample app");
    let peer = Peer::new(&sample.base_url, "sample-token").await;
    group_lifecycle(&app, &peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_group_against_scim2_server() {
    with_scim2_server(large_group).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_group_against_sample_app() {
    with_sample_app(SampleOptions::default(), large_group).await
}

/// The compatibility setting: an app that only accepts `path: "members"` with a
/// value list gets that form, and the default form is refused by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_removal_value_list_form() {
    let options = SampleOptions { member_removal_forms: vec![MemberRemoval::ValueList], ..Default::default() };
    with_sample_app(options, async |app: &TestApp, peer: &Peer| {
        for u in ["eve", "fay"] {
            app.post("/users", json!({"userName": format!("{u}@corp.example")})).await;
        }
        app.post("/groups", json!({"displayName": "Ops"})).await;
        app.post("/groups/Ops/members", json!({"users": ["eve@corp.example", "fay@corp.example"]})).await;
        configure(app, "Ops", peer, json!({"memberRemoval": "valueList"})).await;
        app.post("/apps/Ops/assignments", json!({"group": "Ops"})).await;
        app.post("/apps/Ops/assignments", json!({"user": "fay@corp.example"})).await;
        app.post("/apps/Ops/provisioning/start", json!({})).await;
        steady(app, "Ops").await;
        // fay stays assigned directly, so she keeps her account but leaves the group.
        app.delete("/groups/Ops/members/fay@corp.example").await;
        let fay = user_ids(peer, &["fay@corp.example"]).await.remove(0);
        eventually(10, "fay leaves the group", || async {
            let (_, members) = peer.group("Ops").await?;
            (!members.contains(&fay)).then_some(())
        })
        .await;
        assert_eq!(peer.user_active("fay@corp.example").await, Some(true));
        let (_, st) = app.get("/apps/Ops/provisioning/status").await;
        assert_eq!(st["toDate"]["failed"], 0, "{st}");
        // The proxy records a request once it is answered: wait for the record.
        let body =
            eventually(10, "the proxy recorded the removal", || async { removal_bodies(peer).into_iter().next() })
                .await;
        assert!(body.contains("\"path\":\"members\"") && !body.contains("value eq"), "{body}");
    })
    .await;
}

/// The same app, learning: the first removal in the filter form is refused, the
/// value list works and becomes the app's form, said once in the log and shown
/// in the status; the next removal goes straight to it (one PATCH).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_removal_form_is_learned() {
    let options = SampleOptions { member_removal_forms: vec![MemberRemoval::ValueList], ..Default::default() };
    with_sample_app(options, async |app: &TestApp, peer: &Peer| {
        for u in ["jon", "kim", "lea"] {
            app.post("/users", json!({"userName": format!("{u}@corp.example")})).await;
        }
        app.post("/groups", json!({"displayName": "Lrn"})).await;
        let users = json!({"users": ["jon@corp.example", "kim@corp.example", "lea@corp.example"]});
        app.post("/groups/Lrn/members", users).await;
        configure(app, "Lrn", peer, json!({})).await;
        for u in ["jon", "kim", "lea"] {
            app.post("/apps/Lrn/assignments", json!({"user": format!("{u}@corp.example")})).await;
        }
        app.post("/apps/Lrn/assignments", json!({"group": "Lrn"})).await;
        app.post("/apps/Lrn/provisioning/start", json!({})).await;
        steady(app, "Lrn").await;
        let mut ids = Vec::new();
        for user in ["jon@corp.example", "kim@corp.example"] {
            ids.push(peer.user_id(user).await.unwrap_or_else(|| panic!("{user} has an account")));
        }
        let removals = || removal_bodies(peer).len();
        for (user, id) in ["jon@corp.example", "kim@corp.example"].iter().zip(&ids) {
            let before = removals();
            app.delete(&format!("/groups/Lrn/members/{user}")).await;
            eventually(10, "the member leaves the group", || async {
                let (_, members) = peer.group("Lrn").await?;
                (!members.contains(id)).then_some(())
            })
            .await;
            let sent = eventually(10, "the proxy recorded the removal", || async {
                let n = removals() - before;
                (n > 0).then_some(n)
            })
            .await;
            if user.starts_with("jon") {
                assert_eq!(sent, 2, "the filter form, refused, then the value list");
            } else {
                assert_eq!(sent, 1, "straight to the learned form");
            }
        }
        let (_, st) = app.get("/apps/Lrn/provisioning/status").await;
        assert_eq!(st["dialect"]["learned"]["memberRemoval"], "valueList", "{st}");
        assert_eq!(st["toDate"]["failed"], 0, "{st}");
        let (_, logs) = app.get("/apps/Lrn/provisioning/logs?limit=100").await;
        let learned = logs["items"]
            .as_array()
            .map(|a| a.iter().filter(|l| l["steps"].to_string().contains("memberRemoval valueList")).count());
        assert_eq!(learned, Some(1), "said once: {logs}");
        let (s, forgot) = app.post("/apps/Lrn/provisioning/dialect/reset", json!({})).await;
        assert_eq!(s, reqwest::StatusCode::OK);
        assert_eq!(forgot["learned"]["memberRemoval"], "valueList", "{forgot}");
        let (_, st) = app.get("/apps/Lrn/provisioning/status").await;
        assert_eq!(st["dialect"], json!({}), "{st}");
    })
    .await;
}

/// The same app with the filter form pinned: the removal fails with the app's
/// message, logged as a failure, and nothing is lost (the member stays in the shadow).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_removal_form_mismatch_is_reported() {
    let options = SampleOptions { member_removal_forms: vec![MemberRemoval::ValueList], ..Default::default() };
    with_sample_app(options, async |app: &TestApp, peer: &Peer| {
        for u in ["gil", "hal"] {
            app.post("/users", json!({"userName": format!("{u}@corp.example")})).await;
        }
        app.post("/groups", json!({"displayName": "Qa"})).await;
        app.post("/groups/Qa/members", json!({"users": ["gil@corp.example", "hal@corp.example"]})).await;
        configure(app, "Qa", peer, json!({"memberRemoval": "filter"})).await;
        app.post("/apps/Qa/assignments", json!({"group": "Qa"})).await;
        app.post("/apps/Qa/assignments", json!({"user": "hal@corp.example"})).await;
        app.post("/apps/Qa/provisioning/start", json!({})).await;
        steady(app, "Qa").await;
        app.delete("/groups/Qa/members/hal@corp.example").await;
        let failure = eventually(10, "the refused removal is logged", || async {
            let (_, logs) = app.get("/apps/Qa/provisioning/logs?status=Failure").await;
            logs["items"].as_array().and_then(|a| a.first().cloned())
        })
        .await;
        assert!(failure["errorMessage"].as_str().is_some_and(|m| !m.is_empty()), "{failure}");
    })
    .await;
}

/// With deletes allowed in the group mapping, a group leaving scope is deleted in
/// the app (its users are still only disabled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unassigned_group_is_deleted_when_deletes_are_on() {
    with_sample_app(SampleOptions::default(), async |app: &TestApp, peer: &Peer| {
        app.post("/users", json!({"userName": "ida@corp.example"})).await;
        app.post("/groups", json!({"displayName": "Temp"})).await;
        app.post("/groups/Temp/members", json!({"user": "ida@corp.example"})).await;
        configure(app, "Tmp", peer, json!({})).await;
        let (_, mut doc) = app.get("/apps/Tmp/provisioning/mappings").await;
        let groups = doc["objects"]
            .as_array_mut()
            .and_then(|o| o.iter_mut().find(|m| m["sourceObject"] == "group" || m["targetObject"] == "Group"))
            .expect("a group mapping");
        groups["actions"]["delete"] = json!(true);
        let (s, v) = app.call(reqwest::Method::PUT, "/api/v1/apps/Tmp/provisioning/mappings", Some(doc)).await;
        assert!(s.is_success(), "{v}");
        app.post("/apps/Tmp/assignments", json!({"group": "Temp"})).await;
        app.post("/apps/Tmp/provisioning/start", json!({})).await;
        steady(app, "Tmp").await;
        assert!(peer.group("Temp").await.is_some());
        app.delete("/apps/Tmp/assignments?group=Temp").await;
        eventually(10, "the group is deleted in the app", || async {
            peer.group("Temp").await.is_none().then_some(())
        })
        .await;
        assert_eq!(peer.user_active("ida@corp.example").await, Some(false), "the user is disabled, not deleted");
        eventually(10, "the deletion is logged", || async {
            let (_, logs) = app.get("/apps/Tmp/provisioning/logs?action=Delete").await;
            (logs["items"][0]["objectKind"] == "group").then_some(())
        })
        .await;
    })
    .await;
}

/// A member's account is deleted in the app behind roster's back (the app keeps
/// its dead id in the group) and made again by roster under a new id: the new id
/// joins the group, and the removal of the old id, which the app fails at first,
/// is kept and sent again on a later cycle, until the group holds the new id only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_removal_of_a_recreated_members_old_id_is_sent_again() {
    with_sample_app(SampleOptions::default(), async |app: &TestApp, peer: &Peer| {
        for u in ["kim", "lee"] {
            app.post("/users", json!({"userName": format!("{u}@corp.example"), "displayName": u})).await;
        }
        app.post("/groups", json!({"displayName": "Support"})).await;
        app.post("/groups/Support/members", json!({"users": ["kim@corp.example", "lee@corp.example"]})).await;
        configure(app, "Desk", peer, json!({"escrowRetrySecs": 1})).await;
        app.post("/apps/Desk/assignments", json!({"group": "Support"})).await;
        app.post("/apps/Desk/provisioning/start", json!({})).await;
        steady(app, "Desk").await;
        let kim = peer.user_id("kim@corp.example").await.expect("kim has an account");
        let old = peer.user_id("lee@corp.example").await.expect("lee has an account");

        peer.delete_user(&old).await;
        let (_, members) = peer.group("Support").await.expect("the group");
        assert!(members.contains(&old), "the app keeps the dead id in the group: {members:?}");
        // Every removal of the old id fails, retries included, until the test says.
        peer.proxy
            .control
            .fail_at(CrashPoint::new(Method::PATCH, "/Groups").with_body(&old), ErrorStatus::ServiceUnavailable);
        app.patch("/users/lee@corp.example", json!({"displayName": "Lee"})).await;
        let new = eventually(20, "lee's account is made again and joins the group", || async {
            let new = peer.user_id("lee@corp.example").await.filter(|id| *id != old)?;
            let (_, members) = peer.group("Support").await?;
            members.contains(&new).then_some(new)
        })
        .await;
        let failure = eventually(20, "the failed removal is logged", || async {
            let (_, logs) = app.get("/apps/Desk/provisioning/logs?status=Failure").await;
            logs["items"].as_array()?.iter().find(|e| e["objectKind"] == "group").cloned()
        })
        .await;
        assert_eq!(failure["errorCode"], "Transient", "{failure}");
        let (_, members) = peer.group("Support").await.expect("the group");
        assert!(members.contains(&old), "the old id is still in the group: {members:?}");

        peer.proxy.control.stop_failing();
        let mut want = vec![kim, new];
        want.sort();
        eventually(30, "a later cycle removes the old id", || async {
            let (_, members) = peer.group("Support").await?;
            (members == want).then_some(())
        })
        .await;
        let removal = peer.proxy.control.requests().into_iter().any(|r| {
            r.resource == "/Groups"
                && r.fault.is_none()
                && r.status == Some(200)
                && r.body.is_some_and(|b| String::from_utf8_lossy(&b).contains(old.as_str()))
        });
        assert!(removal, "the app got the removal of the old id");
    })
    .await;
}
