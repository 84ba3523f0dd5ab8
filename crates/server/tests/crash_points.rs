//! Crash safety, and the order of work, at chosen moments. Each scenario sets the order of the
//! directory changes, the cycle boundaries and the request at which roster
//! "dies": the counting proxy forwards that request to the app (so the app
//! applies it), then answers nothing more; the test drops the running cycle
//! (nothing after that request is recorded, as with a SIGKILL) and goes on with a
//! new engine over the same store, as a restarted process would. The scheduler
//! does not run: cycles happen only where the scenario says. So a scenario fails
//! or passes the same way on every run, unlike the chaos test's wall-clock kills.
//!
//! The invariant checked after each scenario is the one users rely on: every
//! user with an enabled account in the app is a member, in the app, of every
//! provisioned group it belongs to in the directory (nested groups included),
//! and no other account is.

mod common;

use common::{Db, EngineOptions, TestApp, TEST_KEY};
use roster_engine::reliability::{Clock, ManualClock};
use roster_engine::Engine;
use roster_sample_app::proxy::{self, CrashPoint, FaultPlan, Method, RunningProxy};
use roster_sample_app::RunningSampleApp;
use roster_store::AppId;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const APP: &str = "Crm";
const TOKEN: &str = "sample-token";

/// roster, its engine as the current "process", and the sample app behind the proxy.
struct Rig {
    app: TestApp,
    engine: Arc<Engine>,
    app_id: AppId,
    proxy: RunningProxy,
    sample: RunningSampleApp,
    http: reqwest::Client,
    /// The engines' clock (escrow delays), moved by the scenario.
    clock: Arc<ManualClock>,
    /// Users by name → id, as created.
    users: Vec<(String, String)>,
}

impl Rig {
    async fn new(db: Db) -> Option<Rig> {
        let clock = ManualClock::new(1_800_000_000_000);
        let options = EngineOptions {
            manual_cycles: true,
            clock: Some(clock.clone() as Arc<dyn Clock>),
            ..EngineOptions::default()
        };
        let app = TestApp::spawn_with(db, options).await?;
        let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), TOKEN.into(), Default::default())
            .await
            .expect("the sample app starts");
        let proxy = proxy::start("127.0.0.1:0".parse().expect("addr"), &sample.base_url, FaultPlan::none())
            .await
            .expect("the proxy starts");
        let (s, v) = app.post("/apps", json!({"name": APP})).await;
        assert!(s.is_success(), "{v}");
        let app_id = AppId::from_stored(v["id"].as_str().expect("the app's id").to_string());
        // One request at a time: the crash falls between two known requests.
        let settings =
            json!({"tenantUrl": proxy.base_url, "secretToken": TOKEN, "mode": "automatic", "concurrency": 1});
        let (s, v) = app.patch(&format!("/apps/{APP}/provisioning"), settings).await;
        assert!(s.is_success(), "{v}");
        let engine = app.engine.clone();
        Some(Rig { app, engine, app_id, proxy, sample, http: reqwest::Client::new(), clock, users: Vec::new() })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.app.call(method.clone(), &format!("/api/v1{path}"), body).await;
        assert!(s.is_success(), "{method} {path}: {s} {v}");
        v
    }

    async fn users(&mut self, names: &[&str]) {
        for name in names {
            self.user(name).await;
        }
    }

    async fn user(&mut self, name: &str) {
        let v = self.call(reqwest::Method::POST, "/users", Some(json!({"userName": name, "displayName": name}))).await;
        self.users.push((name.to_string(), v["id"].as_str().expect("id").to_string()));
    }

    fn id(&self, name: &str) -> String {
        self.users.iter().find(|(n, _)| n == name).map(|(_, id)| id.clone()).expect("a user of the scenario")
    }

    async fn group(&self, name: &str, members: &[&str]) {
        self.call(reqwest::Method::POST, "/groups", Some(json!({"displayName": name}))).await;
        let ids: Vec<String> = members.iter().map(|m| self.id(m)).collect();
        if !ids.is_empty() {
            self.call(reqwest::Method::POST, &format!("/groups/{name}/members"), Some(json!({"users": ids}))).await;
        }
    }

    async fn add_member(&self, group: &str, user: &str) {
        let body = json!({"user": self.id(user)});
        self.call(reqwest::Method::POST, &format!("/groups/{group}/members"), Some(body)).await;
    }

    async fn remove_member(&self, group: &str, user: &str) {
        self.call(reqwest::Method::DELETE, &format!("/groups/{group}/members/{}", self.id(user)), None).await;
    }

    async fn nest(&self, outer: &str, inner: &str) {
        self.call(reqwest::Method::POST, &format!("/groups/{outer}/members"), Some(json!({"group": inner}))).await;
    }

    async fn assign(&self, principal: Value) {
        self.call(reqwest::Method::POST, &format!("/apps/{APP}/assignments"), Some(principal)).await;
    }

    async fn unassign_group(&self, group: &str) {
        self.call(reqwest::Method::DELETE, &format!("/apps/{APP}/assignments?group={group}"), None).await;
    }

    async fn set_active(&self, user: &str, active: bool) {
        let verb = if active { "enable" } else { "disable" };
        self.call(reqwest::Method::POST, &format!("/users/{}/{verb}", self.id(user)), None).await;
    }

    /// One whole cycle, in which nothing fails.
    async fn cycle(&self) {
        let failed = self.cycle_failing().await;
        assert_eq!(failed, 0, "no object failed");
    }

    /// One whole cycle; returns how many objects failed.
    async fn cycle_failing(&self) -> u64 {
        let run = tokio::time::timeout(Duration::from_secs(60), self.engine.cycle(&self.app_id)).await;
        run.expect("the cycle ends within 60 s").expect("the cycle succeeds").failed
    }

    /// A cycle in which roster dies right after `point`'s request reached the
    /// app; then a new engine over the same store, as after a restart.
    async fn cycle_crashing_at(&mut self, point: CrashPoint) {
        self.proxy.control.crash_at(point.clone());
        tokio::select! {
            ended = self.engine.cycle(&self.app_id) => panic!("the cycle ended before {point:?}: {ended:?}"),
            _ = self.proxy.control.crashed() => {}
            _ = tokio::time::sleep(Duration::from_secs(60)) => panic!("no crash at {point:?} within 60 s"),
        }
        let cipher = roster_store::secrets::Cipher::from_key(TEST_KEY);
        self.engine = Engine::with(self.app.store.clone(), cipher, self.clock.clone(), None);
        self.proxy.control.revive();
    }

    async fn app_get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.sample.base_url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("the app answers")
            .json()
            .await
            .expect("json")
    }

    /// Every account in the app: (userName, id, active).
    async fn accounts(&self) -> Vec<(String, String, bool)> {
        let list = self.app_get("/Users?count=1000").await;
        list["Resources"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| {
                let name = u["userName"].as_str().unwrap_or_default().to_string();
                (name, u["id"].as_str().unwrap_or_default().to_string(), u["active"].as_bool().unwrap_or(true))
            })
            .collect()
    }

    /// The userNames of a group's members in the app, sorted.
    async fn members_in_app(&self, group: &str) -> Vec<String> {
        let list = self.app_get(&format!("/Groups?filter=displayName%20eq%20%22{group}%22")).await;
        let found = list["Resources"].as_array().cloned().unwrap_or_default();
        assert_eq!(found.len(), 1, "one group {group} in the app: {found:?}");
        let id = found[0]["id"].as_str().expect("group id").to_string();
        let full = self.app_get(&format!("/Groups/{id}")).await;
        let accounts = self.accounts().await;
        let mut names: Vec<String> = full["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["value"].as_str())
            .map(|v| accounts.iter().find(|(_, id, _)| id == v).map(|(n, _, _)| n.clone()).unwrap_or(v.to_string()))
            .collect();
        names.sort();
        names
    }

    async fn assert_members(&self, group: &str, want: &[&str]) {
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(self.members_in_app(group).await, want, "the members of {group} in the app");
    }

    async fn assert_active(&self, user: &str, want: bool) {
        let accounts = self.accounts().await;
        let found: Vec<_> = accounts.iter().filter(|(n, _, _)| n == user).collect();
        assert_eq!(found.len(), 1, "one account for {user}: {accounts:?}");
        assert_eq!(found[0].2, want, "{user} is active in the app");
    }
}

/// A disable PATCH (the only PATCH that sends `false`).
fn disable_of_user() -> CrashPoint {
    CrashPoint::new(Method::PATCH, "/Users").with_body("\"value\":false")
}

/// The chaos test's finding, made deterministic. A group's assignment is taken
/// away and given back (as when an admin changes the role it is assigned with):
/// its members leave the app, and roster dies right after one of them was removed
/// from the group and disabled, before it recorded either. The group is out of
/// scope when roster comes back, so no group sync sees the member that is gone;
/// when the assignment returns and the member is enabled again, roster must add
/// it to the group again instead of believing it is still there.
async fn member_removed_before_a_crash_returns_to_its_group(db: Db) {
    let Some(mut rig) = Rig::new(db).await else { return };
    rig.users(&["ann@corp.example", "ben@corp.example"]).await;
    rig.group("Team", &["ann@corp.example", "ben@corp.example"]).await;
    for role in ["Reader", "Writer"] {
        rig.call(reqwest::Method::POST, &format!("/apps/{APP}/roles"), Some(json!({"name": role}))).await;
    }
    rig.assign(json!({"group": "Team", "role": "Reader"})).await;
    rig.assign(json!({"user": rig.id("ann@corp.example")})).await;
    rig.cycle().await;
    rig.assert_members("Team", &["ann@corp.example", "ben@corp.example"]).await;

    // Team leaves the app: ben (only there through Team) is removed from Team in
    // the app and disabled; roster dies right after the disable.
    rig.unassign_group("Team").await;
    rig.cycle_crashing_at(disable_of_user()).await;
    rig.cycle().await;
    rig.assert_active("ben@corp.example", false).await;

    // Team comes back with another role: ben is enabled and must be a member again.
    rig.assign(json!({"group": "Team", "role": "Writer"})).await;
    rig.cycle().await;
    rig.assert_active("ben@corp.example", true).await;
    rig.assert_members("Team", &["ann@corp.example", "ben@corp.example"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_removed_before_a_crash_returns_to_its_group_on_sqlite() {
    member_removed_before_a_crash_returns_to_its_group(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_removed_before_a_crash_returns_to_its_group_on_postgres() {
    member_removed_before_a_crash_returns_to_its_group(Db::Postgres).await
}

/// The same leave and return with the group in scope all along: the user is
/// disabled (removed from its group, then disabled, then the crash), removed
/// from the group in the directory while out, added back and enabled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_disabled_before_a_crash_and_back_is_a_member_again() {
    let Some(mut rig) = Rig::new(Db::Sqlite).await else { return };
    rig.users(&["ann@corp.example", "ben@corp.example"]).await;
    rig.group("Team", &["ann@corp.example", "ben@corp.example"]).await;
    rig.group("Other", &["ben@corp.example"]).await;
    rig.assign(json!({"group": "Team"})).await;
    rig.assign(json!({"group": "Other"})).await;
    rig.cycle().await;

    rig.set_active("ben@corp.example", false).await;
    rig.cycle_crashing_at(disable_of_user()).await;
    // Before roster is back, ben leaves Team in the directory.
    rig.remove_member("Team", "ben@corp.example").await;
    rig.cycle().await;
    rig.assert_active("ben@corp.example", false).await;
    rig.assert_members("Team", &["ann@corp.example"]).await;
    rig.assert_members("Other", &[]).await;

    rig.add_member("Team", "ben@corp.example").await;
    rig.set_active("ben@corp.example", true).await;
    rig.cycle().await;
    rig.assert_members("Team", &["ann@corp.example", "ben@corp.example"]).await;
    rig.assert_members("Other", &["ben@corp.example"]).await;
}

/// A user out of scope (disabled) whose group is nested into an assigned group
/// meanwhile, then enabled; roster dies right after creating its account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_group_added_while_out_of_scope_reaches_the_app_after_a_crash() {
    let Some(mut rig) = Rig::new(Db::Sqlite).await else { return };
    rig.users(&["ann@corp.example", "cat@corp.example"]).await;
    rig.group("Team", &["ann@corp.example"]).await;
    rig.group("Inner", &["cat@corp.example"]).await;
    rig.assign(json!({"group": "Team"})).await;
    rig.set_active("cat@corp.example", false).await;
    rig.cycle().await;

    rig.nest("Team", "Inner").await;
    rig.cycle().await;
    rig.assert_members("Team", &["ann@corp.example"]).await;

    rig.set_active("cat@corp.example", true).await;
    rig.cycle_crashing_at(CrashPoint::new(Method::POST, "/Users")).await;
    rig.cycle().await;
    rig.assert_active("cat@corp.example", true).await;
    rig.assert_members("Team", &["ann@corp.example", "cat@corp.example"]).await;
}

/// A group renamed while a member leaves and another joins; roster dies right
/// after the rename reached the app, then once more after the member removal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_renamed_with_member_changes_survives_two_crashes() {
    let Some(mut rig) = Rig::new(Db::Sqlite).await else { return };
    rig.users(&["ann@corp.example", "ben@corp.example", "dan@corp.example"]).await;
    rig.group("Team", &["ann@corp.example", "ben@corp.example"]).await;
    rig.assign(json!({"group": "Team"})).await;
    rig.assign(json!({"user": rig.id("dan@corp.example")})).await;
    rig.cycle().await;

    rig.call(reqwest::Method::PATCH, "/groups/Team", Some(json!({"displayName": "Team Two"}))).await;
    rig.set_active("ben@corp.example", false).await;
    rig.add_member("Team Two", "dan@corp.example").await;
    // First the leaving member's removal, then the rename: each a crash.
    rig.cycle_crashing_at(CrashPoint::new(Method::PATCH, "/Groups").with_body("\"remove\"")).await;
    rig.cycle_crashing_at(CrashPoint::new(Method::PATCH, "/Groups").with_body("Team Two")).await;
    rig.cycle().await;
    rig.assert_active("ben@corp.example", false).await;
    rig.assert_members("Team Two", &["ann@corp.example", "dan@corp.example"]).await;

    rig.set_active("ben@corp.example", true).await;
    rig.cycle().await;
    rig.assert_members("Team Two", &["ann@corp.example", "ben@corp.example", "dan@corp.example"]).await;
}

/// Provision on demand between cycles: the user's account is enabled at once,
/// and so are its memberships, without waiting for the next cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_on_demand_brings_the_user_into_its_groups() {
    let Some(mut rig) = Rig::new(Db::Sqlite).await else { return };
    rig.users(&["ann@corp.example", "ben@corp.example"]).await;
    rig.group("Team", &["ann@corp.example", "ben@corp.example"]).await;
    rig.assign(json!({"group": "Team"})).await;
    rig.set_active("ben@corp.example", false).await;
    rig.cycle().await;
    rig.assert_members("Team", &["ann@corp.example"]).await;

    rig.set_active("ben@corp.example", true).await;
    let body = json!({"user": rig.id("ben@corp.example")});
    let v = rig.call(reqwest::Method::POST, &format!("/apps/{APP}/provisioning/provision-on-demand"), Some(body)).await;
    assert_eq!(v["status"], "Success", "{v}");
    rig.assert_active("ben@corp.example", true).await;
    rig.assert_members("Team", &["ann@corp.example", "ben@corp.example"]).await;
    // The cycle that follows finds nothing left to do for ben's groups.
    rig.proxy.control.reset();
    rig.cycle().await;
    assert_eq!(rig.proxy.control.stats().count("PATCH /Groups"), 0, "{:?}", rig.proxy.control.stats());
    rig.assert_members("Team", &["ann@corp.example", "ben@corp.example"]).await;
}

/// A user whose enabling failed goes to escrow; a later cycle's escrow retry
/// enables it, and it joins its groups then, though no change in the feed names
/// them any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_enabled_by_an_escrow_retry_joins_its_groups() {
    let Some(mut rig) = Rig::new(Db::Sqlite).await else { return };
    rig.users(&["ann@corp.example", "ben@corp.example"]).await;
    rig.group("Team", &["ann@corp.example", "ben@corp.example"]).await;
    rig.assign(json!({"group": "Team"})).await;
    rig.set_active("ben@corp.example", false).await;
    rig.cycle().await;

    rig.set_active("ben@corp.example", true).await;
    rig.proxy.control.set_plan(FaultPlan { error_rate: 1.0, ..FaultPlan::none() });
    assert_eq!(rig.cycle_failing().await, 1, "ben's enabling fails and is escrowed");
    rig.proxy.control.set_plan(FaultPlan::none());
    rig.assert_members("Team", &["ann@corp.example"]).await;

    rig.clock.advance(Duration::from_secs(3600));
    rig.cycle().await;
    rig.assert_active("ben@corp.example", true).await;
    rig.assert_members("Team", &["ann@corp.example", "ben@corp.example"]).await;
}

/// The check after a group sync: a user joins the group in the directory while
/// the group's member PATCH is on its way (read before, sent after), so the
/// shadow ends the sync without it; the same cycle finds the difference, syncs
/// the group again and logs why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_that_changed_during_a_group_sync_are_repaired_in_the_same_cycle() {
    let Some(rig) = Rig::new(Db::Sqlite).await else { return };
    let mut rig = rig;
    for u in ["ann@corp.example", "ben@corp.example"] {
        rig.user(u).await;
        rig.assign(json!({"user": rig.id(u)})).await;
    }
    rig.group("Team", &[]).await;
    rig.assign(json!({"group": "Team"})).await;
    rig.cycle().await;

    rig.add_member("Team", "ann@corp.example").await;
    rig.proxy.control.pause_at(CrashPoint::new(Method::PATCH, "/Groups"));
    let meanwhile = async {
        rig.proxy.control.paused().await;
        rig.add_member("Team", "ben@corp.example").await;
        rig.proxy.control.resume();
    };
    let (run, ()) = tokio::join!(rig.engine.cycle(&rig.app_id), meanwhile);
    assert_eq!(run.expect("the cycle succeeds").failed, 0);
    rig.assert_members("Team", &["ann@corp.example", "ben@corp.example"]).await;

    let logs = rig.call(reqwest::Method::GET, &format!("/apps/{APP}/provisioning/logs?limit=50"), None).await;
    let checks: Vec<&Value> = logs["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["changeId"].as_str().is_some_and(|c| c.ends_with(":check")))
        .collect();
    assert_eq!(checks.len(), 1, "one log entry of the repair: {logs}");
    assert!(checks[0]["steps"].to_string().contains("differed"), "{}", checks[0]);
    assert_eq!(checks[0]["modified"][0]["added"].as_array().map(Vec::len), Some(1), "{}", checks[0]);
}

/// Provision on demand asked while a cycle is running: it waits for the cycle
/// (never two writers of one job at once), and whichever order they end in, the
/// user is enabled and in its group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_on_demand_during_a_cycle_waits_for_it() {
    let Some(mut rig) = Rig::new(Db::Sqlite).await else { return };
    rig.users(&["ann@corp.example", "ben@corp.example", "cat@corp.example"]).await;
    rig.group("Team", &["ann@corp.example", "ben@corp.example"]).await;
    rig.assign(json!({"group": "Team"})).await;
    rig.assign(json!({"user": rig.id("cat@corp.example")})).await;
    rig.set_active("ben@corp.example", false).await;
    rig.cycle().await;

    rig.add_member("Team", "cat@corp.example").await;
    rig.proxy.control.pause_at(CrashPoint::new(Method::PATCH, "/Groups"));
    let on_demand = async {
        rig.proxy.control.paused().await;
        rig.set_active("ben@corp.example", true).await;
        let body = json!({"user": rig.id("ben@corp.example")});
        let path = format!("/apps/{APP}/provisioning/provision-on-demand");
        let (answer, ()) = tokio::join!(rig.call(reqwest::Method::POST, &path, Some(body)), async {
            rig.proxy.control.resume();
        });
        answer
    };
    let (run, answer) = tokio::join!(rig.engine.cycle(&rig.app_id), on_demand);
    assert_eq!(run.expect("the cycle succeeds").failed, 0);
    assert_ne!(answer["status"], "Failure", "{answer}");
    rig.assert_active("ben@corp.example", true).await;
    rig.assert_members("Team", &["ann@corp.example", "ben@corp.example", "cat@corp.example"]).await;
}

/// A long initial walk meets a change of nesting: while the first batch is being
/// sent, a group is taken out of the assigned group it was nested in and a user
/// of a later batch joins it. That user was never in scope at any moment, so it
/// must get no account: each batch judges scope on one snapshot of the
/// assignments, the nesting and the memberships, not on assignments read when
/// the walk began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_never_in_scope_gets_no_account_when_nesting_changes_during_the_walk() {
    let Some(rig) = Rig::new(Db::Sqlite).await else { return };
    // More users than one batch (1,000), walked in id order.
    let rows: Vec<Value> = (0..1001).map(|i| json!({"userName": format!("u{i:04}@corp.example")})).collect();
    let res = rig.call(reqwest::Method::POST, "/users/bulk", Some(json!({"upsert": rows}))).await;
    let mut ids: Vec<String> =
        res["results"].as_array().expect("results").iter().filter_map(|r| r["id"].as_str().map(String::from)).collect();
    ids.sort();
    let (first, last) = (ids[0].clone(), ids[ids.len() - 1].clone());
    rig.call(reqwest::Method::POST, "/groups", Some(json!({"displayName": "Team"}))).await;
    rig.call(reqwest::Method::POST, "/groups", Some(json!({"displayName": "Inner"}))).await;
    rig.call(reqwest::Method::POST, "/groups/Team/members", Some(json!({"user": first}))).await;
    rig.nest("Team", "Inner").await;
    rig.assign(json!({"group": "Team"})).await;

    rig.proxy.control.pause_at(CrashPoint::new(Method::POST, "/Users"));
    let meanwhile = async {
        rig.proxy.control.paused().await;
        rig.call(reqwest::Method::DELETE, "/groups/Team/members/Inner", None).await;
        rig.call(reqwest::Method::POST, "/groups/Inner/members", Some(json!({"user": last}))).await;
        rig.proxy.control.resume();
    };
    let (run, ()) = tokio::join!(rig.engine.cycle(&rig.app_id), meanwhile);
    assert_eq!(run.expect("the cycle succeeds").failed, 0);
    let accounts = rig.accounts().await;
    let names: Vec<&str> = accounts.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names.len(), 1, "only the first user, who was in scope, has an account: {names:?}");
}

/// A management tree, provisioned from scratch: managers go before their reports,
/// so each account is created once with its manager, no second PATCH; then a
/// crash between two waves of managers, and still one account per user, each
/// with its manager.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_go_first_one_request_per_user_even_across_a_crash() {
    let Some(mut rig) = Rig::new(Db::Sqlite).await else { return };
    // 85 people: a root, 4 reports each, three levels down; ids are random, so
    // the walk by id meets reports before their managers.
    let rows: Vec<Value> = (0..85)
        .map(|i| {
            let manager = (i > 0).then(|| format!("p{:02}@corp.example", (i - 1) / 4));
            json!({"userName": format!("p{i:02}@corp.example"), "manager": manager})
        })
        .collect();
    let res = rig.call(reqwest::Method::POST, "/users/bulk", Some(json!({"upsert": rows}))).await;
    assert!(res["results"].as_array().is_some_and(|r| r.iter().all(|x| x["status"] == "created")), "{res}");
    rig.call(reqwest::Method::PATCH, &format!("/apps/{APP}/provisioning"), Some(json!({"scope": "all"}))).await;

    // Roster dies right after the tenth account is created (in a wave of managers).
    rig.cycle_crashing_at(CrashPoint::new(Method::POST, "/Users").after(9)).await;
    rig.cycle().await;
    let stats = rig.proxy.control.stats();
    assert_eq!(stats.count("POST /Users"), 85, "one creation per user: {stats:?}");
    assert!(stats.count("PATCH /Users") <= 1, "at most the report of the account cut short waits: {stats:?}");

    let accounts = rig.accounts().await;
    assert_eq!(accounts.len(), 85);
    let id_of = |name: &str| accounts.iter().find(|(n, _, _)| n == name).map(|(_, id, _)| id.clone());
    let list = rig.app_get("/Users?count=1000").await;
    let mgr = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    for u in list["Resources"].as_array().into_iter().flatten() {
        let name = u["userName"].as_str().unwrap_or_default();
        let i: usize = name[1..3].parse().expect("pNN");
        let want = (i > 0).then(|| id_of(&format!("p{:02}@corp.example", (i - 1) / 4))).flatten();
        assert_eq!(u[mgr]["manager"]["value"].as_str().map(String::from), want, "the manager of {name}");
    }
}
