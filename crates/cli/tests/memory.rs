//! roster's memory against hostile SCIM applications, measured the honest way:
//! the real `roster serve` binary runs as a child process and its peak resident
//! memory (`VmHWM` in /proc/PID/status) is read once it is done with the app. One
//! app pages forever (a quadrillion users claimed, a thousand fresh ones a page);
//! one answers with a body that does not end. Both must end with a clear error,
//! roster staying under 300 MiB.

#![cfg(target_os = "linux")]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use axum::http::{header, Method, Uri};
use axum::response::{IntoResponse, Response};
use common::Roster;
use serde_json::{json, Value};

const PEAK_LIMIT_KIB: u64 = 300 * 1024;

impl Roster {
    /// An app `Crm` on `base` with one assigned user.
    async fn app_on(&self, base: &str) {
        self.call(reqwest::Method::POST, "/apps", json!({"name": "Crm", "template": "scim"})).await;
        let settings = json!({"tenantUrl": base, "secretToken": "t0k3n", "mode": "automatic"});
        self.call(reqwest::Method::PATCH, "/apps/Crm/provisioning", settings).await;
        self.call(reqwest::Method::POST, "/users", json!({"userName": "ann@corp.example"})).await;
        self.call(reqwest::Method::POST, "/apps/Crm/assignments", json!({"user": "ann@corp.example"})).await;
    }

    /// The peak resident memory of the roster process so far, KiB.
    fn peak_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmHWM line")
    }
}

/// A hostile SCIM app on 127.0.0.1; its base URL and the count of what it served
/// (list pages, or body chunks of 64 KiB).
async fn hostile(endless_body: bool) -> (String, Arc<AtomicU64>) {
    let served = Arc::new(AtomicU64::new(0));
    let s = served.clone();
    let handler = move |method: Method, uri: Uri| {
        let served = s.clone();
        async move { answer(endless_body, &method, &uri, &served) }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}/scim/v2", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(handler)).await });
    (base, served)
}

fn answer(endless_body: bool, method: &Method, uri: &Uri, served: &Arc<AtomicU64>) -> Response {
    let scim_json = [(header::CONTENT_TYPE, "application/scim+json")];
    if endless_body {
        let served = served.clone();
        let chunk = axum::body::Bytes::from(vec![b' '; 64 << 10]);
        // A GiB of blanks: as good as endless for a client that reads it all.
        let stream = futures::stream::unfold(0u64, move |sent| {
            let (chunk, served) = (chunk.clone(), served.clone());
            async move {
                served.fetch_add(1, Ordering::SeqCst);
                (sent < 1 << 30).then(|| (Ok::<_, std::io::Error>(chunk.clone()), sent + chunk.len() as u64))
            }
        });
        return (scim_json, axum::body::Body::from_stream(stream)).into_response();
    }
    let list = |total: u64, resources: Vec<Value>| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": total,
            "itemsPerPage": resources.len(), "startIndex": 1, "Resources": resources})
        .to_string()
    };
    if *method != Method::GET || uri.query().unwrap_or_default().contains("filter=") {
        return (scim_json, list(0, vec![])).into_response();
    }
    let page = served.fetch_add(1, Ordering::SeqCst);
    let users = (0..1000)
        .map(|i| {
            let n = page * 1000 + i;
            json!({"id": format!("u{n}"), "userName": format!("ghost{n}@example.com"), "active": true,
                "name": {"givenName": "Ghost", "familyName": format!("Number {n}")}})
        })
        .collect();
    (scim_json, list(1_000_000_000_000_000, users)).into_response()
}

#[tokio::test]
async fn endless_paging_ends_the_cycle_with_an_error_and_bounded_memory() {
    let (base, pages) = hostile(false).await;
    let roster = Roster::start().await;
    roster.app_on(&base).await;
    roster.call(reqwest::Method::POST, "/apps/Crm/provisioning/start", json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        let st = roster.call(reqwest::Method::GET, "/apps/Crm/provisioning/status", Value::Null).await;
        if st["lastError"].is_string() {
            break st;
        }
        assert!(Instant::now() < deadline, "no error after {} pages: {st}", pages.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(status["lastError"].as_str().unwrap_or_default().contains("listed more than"), "{status}");
    let peak = roster.peak_kib();
    assert!(peak < PEAK_LIMIT_KIB, "roster peaked at {} MiB", peak / 1024);
}

#[tokio::test]
async fn an_endless_answer_fails_test_connection_with_bounded_memory() {
    let (base, chunks) = hostile(true).await;
    let roster = Roster::start().await;
    roster.app_on(&base).await;
    let t = roster.call(reqwest::Method::POST, "/apps/Crm/provisioning/test-connection", json!({})).await;
    assert_eq!(t["ok"], false, "{t}");
    assert!(t["message"].as_str().unwrap_or_default().contains("longer than 16777216 bytes"), "{t}");
    let sent_mib = chunks.load(Ordering::SeqCst) * 64 / 1024;
    assert!(sent_mib < 64, "the app could send {sent_mib} MiB: roster kept reading");
    let peak = roster.peak_kib();
    assert!(peak < PEAK_LIMIT_KIB, "roster peaked at {} MiB", peak / 1024);
}
