//! `TestApp`: one real roster server on a random port over a real store, SQLite
//! (a fresh file) or PostgreSQL (a fresh database when `ROSTER_TEST_POSTGRES`
//! holds a server URL), with a real HTTP client and an admin token.

#![allow(dead_code)]

use reqwest::{Method, StatusCode};
use roster_server::AppState;
use roster_store::Store;
use serde_json::Value;
use sqlx::{Connection, Executor};

/// The backends a scenario runs on.
#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// How the test's engine is made.
#[derive(Default)]
pub struct EngineOptions {
    /// The clock (the real one by default).
    pub clock: Option<std::sync::Arc<dyn roster_engine::reliability::Clock>>,
    /// Where alerts are mailed (nowhere by default).
    pub smtp: Option<roster_notify::SmtpConfig>,
    /// No scheduler: cycles run only when the test calls `engine.cycle`.
    pub manual_cycles: bool,
}

/// The key that seals the test server's credentials.
pub const TEST_KEY: [u8; 32] = [9; 32];

pub struct TestApp {
    pub base: String,
    pub token: String,
    pub store: Store,
    pub http: reqwest::Client,
    /// The server's engine (its scheduler runs unless `manual_cycles`).
    pub engine: std::sync::Arc<roster_engine::Engine>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// A fresh PostgreSQL database on the server `ROSTER_TEST_POSTGRES` names, or
/// `None` when it is unset (the PostgreSQL half of a test is then skipped, and says so).
pub async fn fresh_postgres() -> Option<String> {
    let base = std::env::var("ROSTER_TEST_POSTGRES").ok().filter(|s| !s.is_empty())?;
    sqlx::any::install_default_drivers();
    let name = format!("roster_t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::AnyConnection::connect(&base).await.expect("connect to ROSTER_TEST_POSTGRES");
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
    let (prefix, _) = base.rsplit_once('/').expect("a postgres URL ends with /database");
    Some(format!("{prefix}/{name}"))
}

/// A fresh SQLite data directory.
pub fn fresh_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("roster-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

impl TestApp {
    /// Starts a server on `db`; `None` when that backend is not available here.
    pub async fn spawn(db: Db) -> Option<TestApp> {
        TestApp::spawn_with(db, EngineOptions::default()).await
    }

    /// Like [`TestApp::spawn`], with the engine's clock and SMTP server.
    pub async fn spawn_with(db: Db, options: EngineOptions) -> Option<TestApp> {
        let store = TestApp::open(db).await?;
        TestApp::start(store, options).await
    }

    /// Starts a server over a store the test opened itself.
    pub async fn spawn_on(store: Store) -> Option<TestApp> {
        TestApp::start(store, EngineOptions::default()).await
    }

    async fn open(db: Db) -> Option<Store> {
        Some(match db {
            Db::Sqlite => Store::open_sqlite(&fresh_dir()).await.expect("open sqlite store"),
            Db::Postgres => match fresh_postgres().await {
                Some(url) => Store::connect(&url).await.expect("open postgres store"),
                None => {
                    if std::env::var("ROSTER_REQUIRE_POSTGRES").is_ok() {
                        panic!("ROSTER_REQUIRE_POSTGRES is set but ROSTER_TEST_POSTGRES is not");
                    }
                    eprintln!("skipped on PostgreSQL: ROSTER_TEST_POSTGRES is not set");
                    return None;
                }
            },
        })
    }

    async fn start(store: Store, options: EngineOptions) -> Option<TestApp> {
        let token = store.ensure_admin_token().await.expect("token").expect("first token");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let cipher = roster_store::secrets::Cipher::from_key(TEST_KEY);
        let clock = options.clock.unwrap_or_else(|| std::sync::Arc::new(roster_engine::reliability::SystemClock));
        let engine = roster_engine::Engine::with(store.clone(), cipher, clock, options.smtp);
        let (stop_engine, engine_stopped) = tokio::sync::oneshot::channel::<()>();
        if !options.manual_cycles {
            tokio::spawn(engine.clone().run(async {
                let _ = engine_stopped.await;
            }));
        }
        let state = AppState { store: store.clone(), engine: Some(engine.clone()), public_url: base.clone() };
        tokio::spawn(roster_server::serve(listener, state, async {
            let _ = rx.await;
            let _ = stop_engine.send(());
        }));
        Some(TestApp { base, token, store, http: reqwest::Client::new(), engine, _shutdown: tx })
    }

    /// Sends a request with the admin token; returns status and JSON body (Null when empty).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_as(&self.token, method, path, body).await
    }

    /// Sends a request with `token`; returns status and JSON body (Null when empty).
    pub async fn call_as(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, &format!("/api/v1{path}"), None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, &format!("/api/v1{path}"), Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, &format!("/api/v1{path}"), Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, &format!("/api/v1{path}"), None).await
    }
}

/// A third-party SCIM server (PyPI's scim2-server) on a free loopback port,
/// killed by PID when dropped. `None` when `ROSTER_SCIM2_SERVER` is unset (then
/// the test says it is skipped, unless `ROSTER_REQUIRE_PEERS` makes it fail).
pub struct Scim2Server {
    pub base_url: String,
    pub token: String,
    child: std::process::Child,
}

impl Drop for Scim2Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Scim2Server {
    pub async fn start() -> Option<Scim2Server> {
        let Some(bin) = std::env::var("ROSTER_SCIM2_SERVER").ok().filter(|s| !s.is_empty()) else {
            if std::env::var("ROSTER_REQUIRE_PEERS").is_ok() {
                panic!(
                    "ROSTER_REQUIRE_PEERS is set but ROSTER_SCIM2_SERVER is not: run the tests with scripts/test.sh"
                );
            }
            eprintln!("skipped against scim2-server: ROSTER_SCIM2_SERVER is not set (scripts/test.sh sets it)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let token = format!("t{}", uuid::Uuid::new_v4().simple());
        let child = std::process::Command::new(bin)
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string(), "--bearer-token", &token])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start scim2-server");
        let base_url = format!("http://127.0.0.1:{port}/v2");
        let server = Scim2Server { base_url, token, child };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let http = reqwest::Client::new();
        loop {
            let ok = http
                .get(format!("{}/ServiceProviderConfig", server.base_url))
                .send()
                .await
                .map(|r| r.status().is_success());
            if ok.unwrap_or(false) {
                return Some(server);
            }
            assert!(std::time::Instant::now() < deadline, "scim2-server did not answer within 30 s");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// Polls `check` until it returns `Some`, or fails after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out after {secs} s waiting for: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Runs `scenario` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[tokio::test] async fn $name() { if let Some(app) = common::TestApp::spawn(common::Db::Sqlite).await { super::$name(&app).await } })*
        }
        mod postgres {
            use super::*;
            $(#[tokio::test] async fn $name() { if let Some(app) = common::TestApp::spawn(common::Db::Postgres).await { super::$name(&app).await } })*
        }
    };
}

/// roster with manual cycles, and an app `name` provisioning into the SCIM app
/// at `base_url` through a counting proxy: `settings` add to (or replace) the
/// tenant URL, token and automatic mode.
pub async fn app_behind_proxy(
    db: Db,
    name: &str,
    base_url: &str,
    token: &str,
    settings: Value,
) -> Option<(TestApp, roster_store::AppId, roster_sample_app::proxy::RunningProxy)> {
    use roster_sample_app::proxy::{self, FaultPlan};
    let options = EngineOptions { manual_cycles: true, ..EngineOptions::default() };
    let app = TestApp::spawn_with(db, options).await?;
    let proxy = proxy::start("127.0.0.1:0".parse().expect("addr"), base_url, FaultPlan::none()).await.expect("proxy");
    let (s, v) = app.post("/apps", serde_json::json!({"name": name})).await;
    assert!(s.is_success(), "{v}");
    let app_id = roster_store::AppId::from_stored(v["id"].as_str().expect("id").to_string());
    let mut body = serde_json::json!({"tenantUrl": proxy.base_url, "secretToken": token, "mode": "automatic"});
    if let (Some(b), Some(extra)) = (body.as_object_mut(), settings.as_object()) {
        b.extend(extra.clone());
    }
    let (s, v) = app.patch(&format!("/apps/{name}/provisioning"), body).await;
    assert!(s.is_success(), "{v}");
    Some((app, app_id, proxy))
}
