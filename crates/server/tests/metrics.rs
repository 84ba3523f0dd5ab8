//! `/api/v1/metrics`: scraped with a read token after a cycle into the sample
//! app, read back with a Prometheus text-format parser.

mod common;

use common::{eventually, Db, TestApp};
use reqwest::StatusCode;
use roster_store::AccessRole;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_token_scrapes_every_series() {
    let Some(app) = TestApp::spawn(Db::Sqlite).await else { return };
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "t".into(), Default::default())
        .await
        .expect("sample app");
    for i in 0..3 {
        app.post("/users", json!({"userName": format!("m{i}@corp.example"), "jobTitle": "Engineer"})).await;
    }
    app.post("/apps", json!({"name": "Crm"})).await;
    let settings = json!({"tenantUrl": sample.base_url, "secretToken": "t", "mode": "automatic"});
    let (s, v) = app.patch("/apps/Crm/provisioning", settings).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for i in 0..3 {
        app.post("/apps/Crm/assignments", json!({"user": format!("m{i}@corp.example")})).await;
    }
    app.post("/apps/Crm/provisioning/start", json!({})).await;
    eventually(30, "the initial cycle ends", || async {
        let (_, st) = app.get("/apps/Crm/provisioning/status").await;
        (st["phase"] == "incremental" && st["accounts"]["enabled"] == 3).then_some(())
    })
    .await;
    let (_, crm) = app.get("/apps/Crm").await;
    let id = crm["id"].as_str().expect("an app id").to_string();

    let url = format!("{}/api/v1/metrics", app.base);
    let anonymous = app.http.get(&url).send().await.expect("answered");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "a scrape needs a token");
    let (_, reader) = app.store.create_token("prometheus", AccessRole::Read, None).await.expect("a token");
    let scrape = || async {
        let answer = app.http.get(&url).bearer_auth(&reader).send().await.expect("answered");
        assert_eq!(answer.status(), StatusCode::OK);
        let kind = answer.headers()["content-type"].to_str().unwrap_or_default().to_string();
        assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
        let text = answer.text().await.expect("a body");
        let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("the text parses");
        (text, parsed)
    };
    // The assignments are changes too: wait until the job has processed them all.
    let (text, parsed) = eventually(10, "the job has caught up with the change feed", || async {
        let (text, parsed) = scrape().await;
        text.contains(&format!("roster_feed_lag_entries{{app=\"{id}\"}} 0")).then_some((text, parsed))
    })
    .await;

    let value = |name: &str, labels: &[(&str, &str)]| {
        parsed
            .samples
            .iter()
            .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum::<f64>()
    };
    let app_label = [("app", id.as_str())];
    assert!(value("roster_cycles_total", &[("app", id.as_str()), ("outcome", "success")]) >= 1.0, "{text}");
    assert_eq!(value("roster_objects_total", &[("app", id.as_str()), ("action", "create")]), 3.0, "{text}");
    assert!(
        value("roster_app_requests_total", &[("app", id.as_str()), ("operation", "create"), ("outcome", "ok")]) >= 3.0,
        "{text}"
    );
    assert_eq!(value("roster_escrow_objects", &app_label), 0.0, "{text}");
    assert_eq!(value("roster_quarantined", &app_label), 0.0, "{text}");
    assert_eq!(value("roster_feed_lag_entries", &app_label), 0.0, "{text}");
    assert_eq!(value("roster_lease_held", &app_label), 1.0, "the one worker runs the job: {text}");
    // Prometheus's default path answers the same, under the same token check.
    let root = format!("{}/metrics", app.base);
    let anonymous = app.http.get(&root).send().await.expect("answered");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "a scrape of /metrics needs a token");
    let at_root = app.http.get(&root).bearer_auth(&reader).send().await.expect("answered");
    assert_eq!(at_root.status(), StatusCode::OK);
    assert!(at_root.text().await.expect("a body").contains("roster_cycles_total"));
    for series in [
        "roster_cycles",
        "roster_cycle_seconds",
        "roster_objects",
        "roster_app_requests",
        "roster_app_request_seconds",
        "roster_app_held_seconds",
        "roster_escrow_objects",
        "roster_quarantined",
        "roster_feed_lag_entries",
        "roster_feed_lag_seconds",
        "roster_lease_held",
        "roster_fencing_refusals",
        "roster_store_seconds",
    ] {
        assert!(text.contains(&format!("# TYPE {series} ")), "{series} is described: {text}");
    }
    for series in ["roster_cycle_seconds", "roster_app_request_seconds"] {
        assert!(
            parsed
                .samples
                .iter()
                .any(|s| s.metric == series && matches!(s.value, prometheus_parse::Value::Histogram(_))),
            "{series} is a histogram with samples: {text}"
        );
    }
}
