//! Job leases between workers sharing one store: each job runs on one worker,
//! jobs spread over the live workers, a worker that dies loses its jobs to the
//! others once its leases expire, and a worker that lost its lease (paused past
//! it) neither calls the app nor writes. Two engines over one store stand for two
//! `roster serve` processes (the failover script, scripts/failover.sh, runs real
//! processes). On SQLite and on PostgreSQL.

mod common;

use common::{eventually, Db, EngineOptions, TestApp, TEST_KEY};
use roster_engine::reliability::SystemClock;
use roster_engine::{Engine, EngineError, WorkerConfig};
use roster_store::{AppId, Fence, JobStateUpdate, StoreError};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const TTL: Duration = Duration::from_secs(1);

async fn rig(db: Db) -> Option<TestApp> {
    TestApp::spawn_with(db, EngineOptions { manual_cycles: true, ..EngineOptions::default() }).await
}

fn worker(app: &TestApp, name: &str) -> Arc<Engine> {
    let cipher = roster_store::secrets::Cipher::from_key(TEST_KEY);
    let config = WorkerConfig::shared(Some(name.into()), TTL);
    Engine::build(app.store.clone(), cipher, Arc::new(SystemClock), None, config)
}

/// `n` apps provisioned into `sample` (a user of its own each), turned on if
/// `start`; their ids.
async fn apps(app: &TestApp, sample: &str, n: usize, start: bool) -> Vec<AppId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let user = format!("lee{i}@corp.example");
        let (s, v) = app.post("/users", json!({"userName": user, "displayName": "Lee"})).await;
        assert!(s.is_success(), "{v}");
        let name = format!("App{i}");
        let (s, v) = app.post("/apps", json!({"name": name})).await;
        assert!(s.is_success(), "{v}");
        ids.push(AppId::from_stored(v["id"].as_str().expect("an id").to_string()));
        let settings = json!({"tenantUrl": sample, "secretToken": "t", "mode": "automatic"});
        let (s, v) = app.patch(&format!("/apps/{name}/provisioning"), settings).await;
        assert!(s.is_success(), "{v}");
        app.post(&format!("/apps/{name}/assignments"), json!({"user": user})).await;
        if start {
            app.post(&format!("/apps/{name}/provisioning/start"), json!({})).await;
        }
    }
    ids
}

async fn held(engine: &Engine) -> Vec<String> {
    let workers = engine.workers().await.expect("workers");
    workers.into_iter().find(|w| w.this).map(|w| w.jobs).unwrap_or_default()
}

async fn spread_and_failover(db: Db) {
    let Some(app) = rig(db).await else { return };
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "t".into(), Default::default())
        .await
        .expect("sample app");
    let ids = apps(&app, &sample.base_url, 4, true).await;
    let (a, b) = (worker(&app, "a"), worker(&app, "b"));
    // Alone, a takes every job; once b is alive, a gives half back and b takes it.
    a.tick(0).await;
    assert_eq!(held(&a).await.len(), 4);
    b.tick(0).await;
    assert_eq!(held(&b).await.len(), 0, "b takes no lease a holds");
    eventually(10, "the jobs spread two and two", || async {
        tokio::time::sleep(TTL / 3).await;
        a.tick(0).await;
        b.tick(0).await;
        let (ha, hb) = (held(&a).await, held(&b).await);
        (ha.len() == 2 && hb.len() == 2).then_some(())
    })
    .await;
    let on_a = held(&a).await;
    assert!(held(&b).await.iter().all(|j| !on_a.contains(j)), "no job on both");
    // The status names the worker that runs each job.
    for id in &ids {
        let (_, st) = app.get(&format!("/apps/{id}/provisioning/status")).await;
        let name = st["worker"]["workerName"].as_str().expect("a worker");
        assert!(name == "a" || name == "b", "{st}");
        assert_eq!(st["worker"]["here"], false, "the API's own engine holds nothing");
    }
    // a dies (no more renewals): once its leases expire, b takes every job, each
    // with a higher fencing token, and runs them.
    drop(a);
    eventually(10, "b holds every job", || async {
        tokio::time::sleep(TTL / 3).await;
        b.tick(0).await;
        (held(&b).await.len() == 4).then_some(())
    })
    .await;
    for id in &ids {
        let lease = app.store.lease_of(id).await.expect("read").expect("a lease");
        assert!(lease.token >= 1, "{lease:?}");
        b.cycle(id).await.expect("b runs the job");
    }
    let (s, workers) = app.get("/workers").await;
    assert!(s.is_success(), "{workers}");
    let live: Vec<&str> = workers
        .as_array()
        .expect("a list")
        .iter()
        .filter(|w| w["live"] == true)
        .map(|w| w["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(live, vec!["b"], "{workers}");
    assert_eq!(sample.state.user_count().await, 4, "one account per app, none twice");
}

async fn a_worker_past_its_lease_neither_calls_nor_writes(db: Db) {
    let Some(app) = rig(db).await else { return };
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "t".into(), Default::default())
        .await
        .expect("sample app");
    // Off: the workers' passes take leases but start no cycle.
    let ids = apps(&app, &sample.base_url, 1, false).await;
    let id = &ids[0];
    let (a, b) = (worker(&app, "a"), worker(&app, "b"));
    a.tick(0).await;
    let first = app.store.lease_of(id).await.expect("read").expect("a lease");
    // a is "paused": no renewal past its lease; b takes the job over.
    tokio::time::sleep(TTL + Duration::from_millis(200)).await;
    b.tick(0).await;
    let second = app.store.lease_of(id).await.expect("read").expect("a lease");
    assert!(second.token > first.token, "a new holder raises the token: {first:?} then {second:?}");
    // a "wakes up" and runs the cycle it had begun: it sends nothing to the app,
    // and its writes are refused.
    let refused = a.cycle(id).await.expect_err("a's cycle is stopped");
    assert!(
        matches!(&refused, EngineError::Store(StoreError::Fenced { .. })),
        "a's write is a fencing refusal: {refused}"
    );
    assert_eq!(sample.state.user_count().await, 0, "a sent nothing to the app");
    let metrics = a.metrics_text().await.expect("metrics");
    assert!(metrics.contains(&format!("roster_fencing_refusals_total{{app=\"{id}\"}} 1")), "{metrics}");
    // A write under a's old token is refused; b's goes through.
    let update = JobStateUpdate { watermark: Some(0), ..JobStateUpdate::default() };
    let old = Fence { app: id.clone(), holder: first.holder.clone().expect("a holder"), token: first.token };
    let stale = app.store.fenced(old).update_job_state(id, &update).await;
    assert!(matches!(stale, Err(StoreError::Fenced { .. })), "{stale:?}");
    let current = Fence { app: id.clone(), holder: second.holder.clone().expect("a holder"), token: second.token };
    app.store.fenced(current).update_job_state(id, &update).await.expect("the holder writes");
    // b runs the job.
    b.cycle(id).await.expect("b's cycle");
    assert_eq!(sample.state.user_count().await, 1);
}

async fn a_cycle_asked_of_a_worker_without_the_lease_runs_where_the_lease_is(db: Db) {
    let Some(app) = rig(db).await else { return };
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "t".into(), Default::default())
        .await
        .expect("sample app");
    let ids = apps(&app, &sample.base_url, 1, true).await;
    let (a, b) = (worker(&app, "a"), worker(&app, "b"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    a.tick(0).await;
    let running = tokio::spawn(a.clone().run(async {
        let _ = stopped.await;
    }));
    let counts = tokio::time::timeout(Duration::from_secs(30), b.cycle(&ids[0]))
        .await
        .expect("the cycle comes within 30 s")
        .expect("a ran it");
    let _ = counts;
    assert_eq!(sample.state.user_count().await, 1, "a made the account");
    assert!(held(&b).await.is_empty(), "b took nothing");
    let _ = stop.send(());
    let _ = running.await;
    a.stop_worker().await;
    let lease = app.store.lease_of(&ids[0]).await.expect("read").expect("a lease");
    assert_eq!(lease.holder, None, "a graceful stop gives the lease back");
}

async fn an_admins_operation_on_another_worker_takes_the_lease(db: Db) {
    let Some(app) = rig(db).await else { return };
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "t".into(), Default::default())
        .await
        .expect("sample app");
    let ids = apps(&app, &sample.base_url, 1, false).await;
    let id = &ids[0];
    let (a, b) = (worker(&app, "a"), worker(&app, "b"));
    a.tick(0).await;
    let first = app.store.lease_of(id).await.expect("read").expect("a lease");
    // An admin forgets the learned dialect through b: b takes the job over, so
    // that a cycle a began before cannot write its older state over the change.
    b.reset_dialect(id).await.expect("the reset");
    let second = app.store.lease_of(id).await.expect("read").expect("a lease");
    assert!(second.token > first.token, "{first:?} then {second:?}");
    assert_eq!(held(&b).await, vec![id.to_string()]);
    let update = JobStateUpdate { watermark: Some(0), ..JobStateUpdate::default() };
    let stale = Fence { app: id.clone(), holder: first.holder.clone().expect("a holder"), token: first.token };
    let refused = app.store.fenced(stale).update_job_state(id, &update).await;
    assert!(matches!(refused, Err(StoreError::Fenced { .. })), "a's cycle writes nothing more: {refused:?}");
}

macro_rules! on_both {
    ($($name:ident),*) => {
        mod sqlite { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Db::Sqlite).await })* }
        mod postgres { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Db::Postgres).await })* }
    };
}

on_both!(
    spread_and_failover,
    a_worker_past_its_lease_neither_calls_nor_writes,
    a_cycle_asked_of_a_worker_without_the_lease_runs_where_the_lease_is,
    an_admins_operation_on_another_worker_takes_the_lease
);

/// On PostgreSQL a write to the change feed wakes the workers listening (the
/// scheduler then runs at once instead of at its next poll); SQLite has none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_change_notifies_the_listening_workers() {
    if let Some(app) = rig(Db::Sqlite).await {
        assert!(app.store.feed_listener().await.expect("no error").is_none(), "SQLite polls");
    }
    let Some(app) = rig(Db::Postgres).await else { return };
    let mut listener = app.store.feed_listener().await.expect("listen").expect("a listener on PostgreSQL");
    let (s, v) = app.post("/users", json!({"userName": "nia@corp.example"})).await;
    assert!(s.is_success(), "{v}");
    tokio::time::timeout(Duration::from_secs(10), listener.next())
        .await
        .expect("woken within 10 s")
        .expect("a notification");
}
