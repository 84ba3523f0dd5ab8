//! `Roster`: the real `roster serve` binary as a child process on a fresh data
//! directory and a free port on 127.0.0.1, with the admin token it wrote, an
//! HTTP client for its API, and the `roster` CLI run against it.

#![allow(dead_code)]

use serde_json::Value;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `roster serve` on a fresh data directory; killed when dropped.
pub struct Roster {
    pub child: Child,
    pub base: String,
    pub token: String,
    http: reqwest::Client,
    dir: std::path::PathBuf,
}

impl Drop for Roster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Roster {
    pub async fn start() -> Roster {
        let dir = std::env::temp_dir().join(format!("roster-memory-{}", uuid::Uuid::new_v4().simple()));
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        let child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["--data-dir", &dir.to_string_lossy(), "serve", "--listen", &format!("127.0.0.1:{port}")])
            .env_remove("ROSTER_DATABASE_URL")
            .env_remove("ROSTER_MASTER_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("roster serve starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let token = loop {
            let up = http.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success());
            if let (true, Ok(token)) = (up, std::fs::read_to_string(dir.join("admin.token"))) {
                break token.trim().to_string();
            }
            assert!(Instant::now() < deadline, "roster serve did not come up within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        Roster { child, base, token, http, dir }
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let r = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("roster answers");
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// Runs the `roster` CLI against this server.
    pub async fn cli(&self, args: &[&str]) -> Output {
        self.cli_as(&self.token, args).await
    }

    /// Runs the `roster` CLI against this server with `token`, on its data directory.
    pub async fn cli_as(&self, token: &str, args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster"));
        cmd.args(["--server", &self.base, "--token", token, "--data-dir", &self.dir.to_string_lossy()])
            .args(args)
            .env_remove("ROSTER_TOKEN")
            .env_remove("ROSTER_DATABASE_URL");
        tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .expect("roster ends within 120 s")
            .expect("roster runs")
    }
}
