//! `Roster`: the real `roster serve` binary as a child process on a fresh data
//! directory and a free port on 127.0.0.1, with the admin token it wrote, an
//! HTTP client for its API, its log, and the `roster` CLI run against it; over
//! plain HTTP or over HTTPS with a certificate of a test CA ([`certs`]).

#![allow(dead_code)]

pub mod certs;

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `roster serve` on a fresh data directory; killed when dropped.
pub struct Roster {
    pub child: Child,
    pub base: String,
    pub token: String,
    http: reqwest::Client,
    dir: PathBuf,
    log: PathBuf,
}

impl Drop for Roster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Roster {
    /// `roster serve` over plain HTTP.
    pub async fn start() -> Roster {
        Roster::spawn(&[], "http", reqwest::Client::new()).await
    }

    /// `roster serve --tls-cert --tls-key` with the files of `tls`, reached by
    /// `http` (a client that trusts the test's CA only: [`certs::TestCa::client`]).
    pub async fn start_https(tls: &certs::TlsFiles, http: reqwest::Client) -> Roster {
        let (cert, key) = (tls.cert().to_string_lossy().into_owned(), tls.key().to_string_lossy().into_owned());
        Roster::spawn(&["--tls-cert", &cert, "--tls-key", &key], "https", http).await
    }

    async fn spawn(serve_args: &[&str], scheme: &str, http: reqwest::Client) -> Roster {
        let dir = std::env::temp_dir().join(format!("roster-memory-{}", uuid::Uuid::new_v4().simple()));
        let log = dir.with_extension("log");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["--data-dir", &dir.to_string_lossy(), "serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(serve_args)
            .env_remove("ROSTER_DATABASE_URL")
            .env_remove("ROSTER_MASTER_KEY")
            .env_remove("ROSTER_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a log file"))
            .spawn()
            .expect("roster serve starts");
        let base = format!("{scheme}://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        let token = loop {
            let up = http.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success());
            if let (true, Ok(token)) = (up, std::fs::read_to_string(dir.join("admin.token"))) {
                break token.trim().to_string();
            }
            if let Ok(Some(status)) = child.try_wait() {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("roster serve ended ({status}) before it came up:\n{said}");
            }
            assert!(Instant::now() < deadline, "roster serve did not come up within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        Roster { child, base, token, http, dir, log }
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the server's log says `text`.
    pub async fn wait_for_log(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.log().contains(text) {
            assert!(Instant::now() < deadline, "the log did not say {text:?} within 30 s:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the server process ends, and how it ended.
    pub async fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("the server's status") {
                return status;
            }
            assert!(Instant::now() < deadline, "roster serve did not end within 60 s:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends the server a signal (`HUP`, `TERM`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").args(["-s", name, &self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill -s {name} failed");
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

    /// The server's data directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Runs the `roster` CLI against this server.
    pub async fn cli(&self, args: &[&str]) -> Output {
        self.cli_full(&self.token, &[], args).await
    }

    /// Runs the `roster` CLI against this server with these environment variables.
    pub async fn cli_with_env(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        self.cli_full(&self.token, env, args).await
    }

    /// Runs the `roster` CLI against this server with `token`, on its data directory.
    pub async fn cli_as(&self, token: &str, args: &[&str]) -> Output {
        self.cli_full(token, &[], args).await
    }

    async fn cli_full(&self, token: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster"));
        cmd.args(["--server", &self.base, "--token", token, "--data-dir", &self.dir.to_string_lossy()])
            .args(args)
            .env_remove("ROSTER_TOKEN")
            .env_remove("ROSTER_DATABASE_URL")
            .env_remove("ROSTER_CA_CERT")
            .envs(env.iter().copied());
        tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .expect("roster ends within 120 s")
            .expect("roster runs")
    }
}
