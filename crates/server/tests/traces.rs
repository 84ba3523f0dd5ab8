//! Traces over OTLP: a cycle into the sample app, exported to a collector
//! stand-in (an HTTP server here that records what it is sent, as an
//! OpenTelemetry collector's OTLP/HTTP receiver would take it), read back as
//! spans: cycle → batch → object → request, one trace, with the app, the cycle
//! id, the change id and the object id on them.

mod common;

use axum::routing::post;
use common::{Db, EngineOptions, TestApp};
use roster_server::otlp::{self, OtlpConfig};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

/// A collector stand-in: every body POSTed to /v1/traces, kept.
async fn collector() -> (String, Arc<Mutex<Vec<Value>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |axum::Json(body): axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().expect("lock").push(body);
                axum::Json(json!({}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, bodies)
}

fn attr(span: &Value, key: &str) -> Option<String> {
    span["attributes"].as_array()?.iter().find(|a| a["key"] == key).map(|a| {
        let v = &a["value"];
        v["stringValue"].as_str().map(str::to_string).unwrap_or_else(|| v["intValue"].to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_is_one_trace_of_batches_objects_and_requests() {
    let (endpoint, bodies) = collector().await;
    let (layer, handle) =
        otlp::layer(OtlpConfig { endpoint, service_name: "roster-test".into(), interval: Duration::from_millis(200) });
    let spans = tracing_subscriber::filter::Targets::new().with_target("roster", tracing::Level::DEBUG);
    // This test binary holds this one test: the subscriber is the process's.
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer.with_filter(spans)))
        .expect("the only subscriber");

    let options = EngineOptions { manual_cycles: true, ..EngineOptions::default() };
    let Some(app) = TestApp::spawn_with(Db::Sqlite, options).await else { return };
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "t".into(), Default::default())
        .await
        .expect("sample app");
    for i in 0..3 {
        app.post("/users", json!({"userName": format!("t{i}@corp.example")})).await;
    }
    let (_, crm) = app.post("/apps", json!({"name": "Crm"})).await;
    let app_id = roster_store::AppId::from_stored(crm["id"].as_str().expect("an id").to_string());
    let settings = json!({"tenantUrl": sample.base_url, "secretToken": "t", "mode": "automatic"});
    app.patch("/apps/Crm/provisioning", settings).await;
    for i in 0..3 {
        app.post("/apps/Crm/assignments", json!({"user": format!("t{i}@corp.example")})).await;
    }
    let counts = app.engine.cycle(&app_id).await.expect("a cycle");
    assert_eq!(counts.created, 3);
    // A span closes when its last handle goes; SQLite's worker thread drops its
    // handle of the current span just after it answers, so the cycle span may
    // close a moment after the cycle returns: flush until it is out (deadline 10 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        handle.flush().await;
        let exported = bodies.lock().expect("lock").iter().any(|b| {
            b["resourceSpans"][0]["scopeSpans"][0]["spans"]
                .as_array()
                .is_some_and(|spans| spans.iter().any(|s| s["name"] == "cycle"))
        });
        if exported || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let all: Vec<Value> = bodies
        .lock()
        .expect("lock")
        .iter()
        .flat_map(|b| {
            assert_eq!(b["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"], "roster-test");
            b["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().cloned().unwrap_or_default()
        })
        .collect();
    let by_id: HashMap<String, &Value> =
        all.iter().map(|s| (s["spanId"].as_str().unwrap_or_default().to_string(), s)).collect();
    let named = |name: &str| all.iter().filter(|s| s["name"] == name).collect::<Vec<_>>();
    let parent = |s: &Value| s["parentSpanId"].as_str().and_then(|p| by_id.get(p)).copied();

    let cycles = named("cycle");
    assert_eq!(cycles.len(), 1, "one cycle span: {all:?}");
    let cycle = cycles[0];
    assert_eq!(attr(cycle, "app").as_deref(), Some(app_id.as_str()));
    let cycle_id = attr(cycle, "cycle_id").expect("the cycle's id is on its span");
    assert!(cycle["parentSpanId"].is_null(), "a cycle is a trace's root");
    let trace = cycle["traceId"].as_str().expect("a trace id");
    assert_eq!(trace.len(), 32);

    let objects = named("object");
    assert_eq!(objects.len(), 3, "one object span per user: {all:?}");
    for object in &objects {
        assert_eq!(object["traceId"], trace, "in the cycle's trace");
        let batch = parent(object).expect("an object's parent is known");
        assert_eq!(batch["name"], "batch");
        assert_eq!(parent(batch).map(|c| &c["spanId"]), Some(&cycle["spanId"]), "a batch is in the cycle");
        assert_eq!(attr(object, "cycle_id").as_deref(), Some(cycle_id.as_str()));
        assert!(attr(object, "object_id").is_some_and(|id| !id.is_empty()));
        assert!(attr(object, "change_id").is_some());
        let requests: Vec<&Value> =
            named("request").into_iter().filter(|r| r["parentSpanId"] == object["spanId"]).collect();
        assert!(!requests.is_empty(), "each user's requests are in its object span");
        for r in requests {
            assert_eq!(r["kind"], 3, "a call to the app is a client span");
            assert_eq!(attr(r, "app").as_deref(), Some(app_id.as_str()));
            assert!(attr(r, "operation").is_some());
            let (start, end) = (r["startTimeUnixNano"].as_str(), r["endTimeUnixNano"].as_str());
            let (start, end) = (start.and_then(|s| s.parse::<u64>().ok()), end.and_then(|s| s.parse::<u64>().ok()));
            assert!(matches!((start, end), (Some(s), Some(e)) if s <= e), "{r}");
        }
    }
    assert_eq!(handle.dropped(), 0);
}
