//! The CLI tells trouble: `roster app status` shows a quarantine, the escrow
//! and what to do, and `roster app sync --wait` exits non-zero with the reason
//! when the cycle fails. The `roster` binary runs against a real server (on a
//! fresh SQLite store) and roster's sample SCIM app, both on 127.0.0.1.

use roster_server::AppState;
use roster_store::Store;
use serde_json::{json, Value};
use std::process::Output;

struct Server {
    base: String,
    token: String,
    http: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    async fn start() -> Server {
        let dir = std::env::temp_dir().join(format!("roster-cli-{}", uuid::Uuid::new_v4().simple()));
        let store = Store::open_sqlite(&dir).await.expect("open the store");
        let token = store.ensure_admin_token().await.expect("token").expect("the first token");
        let cipher = roster_store::secrets::Cipher::from_key([3; 32]);
        let engine = roster_engine::Engine::new(store.clone(), cipher);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = AppState { store, engine: Some(engine), public_url: base.clone() };
        tokio::spawn(roster_server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        Server { base, token, http: reqwest::Client::new(), _stop: stop }
    }

    async fn api(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("the server answers");
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// Runs the `roster` binary against this server.
    async fn roster(&self, args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster"));
        cmd.args(["--server", &self.base, "--token", &self.token]).args(args).env_remove("ROSTER_TOKEN");
        tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
            .await
            .expect("roster ends within 120 s")
            .expect("roster runs")
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// An app that refuses roster's token: the sync fails with the reason and a
/// non-zero status, and the status shows the quarantine and how it ends. With
/// the right token, the sync exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_fails_loudly_and_status_shows_the_quarantine() {
    let server = Server::start().await;
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "right".into(), Default::default())
        .await
        .expect("the sample app starts");
    server.api(reqwest::Method::POST, "/users", json!({"userName": "ann@corp.example"})).await;
    server.api(reqwest::Method::POST, "/apps", json!({"name": "Crm"})).await;
    server.api(reqwest::Method::POST, "/apps/Crm/assignments", json!({"user": "ann@corp.example"})).await;
    let settings = json!({"tenantUrl": sample.base_url, "secretToken": "wrong", "mode": "automatic"});
    server.api(reqwest::Method::PATCH, "/apps/Crm/provisioning", settings).await;

    let out = server.roster(&["app", "sync", "Crm", "--wait"]).await;
    assert!(!out.status.success(), "a refused token is a failure: {}", text(&out));
    assert!(text(&out).contains("quarantine"), "the reason is said: {}", text(&out));

    let out = server.roster(&["app", "status", "Crm"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("quarantine   BadCredentials"), "{said}");
    assert!(said.contains("roster app restart Crm"), "{said}");
    let out = server.roster(&["--json", "app", "status", "Crm"]).await;
    let status: Value = serde_json::from_slice(&out.stdout).expect("JSON status");
    assert_eq!(status["quarantine"]["reason"], "BadCredentials", "{status}");

    let settings = json!({"secretToken": "right"});
    server.api(reqwest::Method::PATCH, "/apps/Crm/provisioning", settings).await;
    let out = server.roster(&["app", "sync", "Crm", "--wait"]).await;
    assert!(out.status.success(), "a healthy cycle exits 0: {}", text(&out));
    assert_eq!(sample.state.user_count().await, 1);
}
