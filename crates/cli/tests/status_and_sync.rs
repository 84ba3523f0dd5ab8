//! The CLI tells trouble: `roster app status` shows a quarantine, the escrow
//! and what to do, and `roster app sync --wait` exits non-zero with the reason
//! when the cycle fails. The `roster` CLI runs against `roster serve` (on a fresh
//! SQLite store) and roster's sample SCIM app, both on 127.0.0.1.

mod common;

use common::Roster;
use serde_json::{json, Value};
use std::process::Output;

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// An app that refuses roster's token: the sync fails with the reason and a
/// non-zero status, and the status shows the quarantine and how it ends. With
/// the right token, the sync exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_fails_loudly_and_status_shows_the_quarantine() {
    let server = Roster::start().await;
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "right".into(), Default::default())
        .await
        .expect("the sample app starts");
    server.call(reqwest::Method::POST, "/users", json!({"userName": "ann@corp.example"})).await;
    server.call(reqwest::Method::POST, "/apps", json!({"name": "Crm"})).await;
    server.call(reqwest::Method::POST, "/apps/Crm/assignments", json!({"user": "ann@corp.example"})).await;
    let settings = json!({"tenantUrl": sample.base_url, "secretToken": "wrong", "mode": "automatic"});
    server.call(reqwest::Method::PATCH, "/apps/Crm/provisioning", settings).await;

    let out = server.cli(&["app", "sync", "Crm", "--wait"]).await;
    assert!(!out.status.success(), "a refused token is a failure: {}", text(&out));
    assert!(text(&out).contains("quarantine"), "the reason is said: {}", text(&out));

    let out = server.cli(&["app", "status", "Crm"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("quarantine   BadCredentials"), "{said}");
    assert!(said.contains("roster app restart Crm"), "{said}");
    let out = server.cli(&["--json", "app", "status", "Crm"]).await;
    let status: Value = serde_json::from_slice(&out.stdout).expect("JSON status");
    assert_eq!(status["quarantine"]["reason"], "BadCredentials", "{status}");

    let settings = json!({"secretToken": "right"});
    server.call(reqwest::Method::PATCH, "/apps/Crm/provisioning", settings).await;
    let out = server.cli(&["app", "sync", "Crm", "--wait"]).await;
    assert!(out.status.success(), "a healthy cycle exits 0: {}", text(&out));
    assert_eq!(sample.state.user_count().await, 1);
}
