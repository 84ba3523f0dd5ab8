//! The SCIM validator through the API (`POST /api/v1/scim/validate`): the
//! same report as the CLI's against roster's sample app and a third-party
//! SCIM server (PyPI's scim2-server); destinations refused as an app's tenant
//! URL is (metadata and link-local addresses, private networks and plain
//! http off loopback unless allowed); the token never reaches the audit log;
//! an operator's token is refused.

mod common;

use common::{Db, Scim2Server, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const TOKEN: &str = "validator-token-4e1d";

async fn validate(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.call(Method::POST, "/api/v1/scim/validate", Some(body)).await
}

fn outcomes(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| (c["name"].as_str().unwrap_or("").to_string(), c["outcome"].as_str().unwrap_or("").to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_validator_runs_from_the_server() {
    let Some(app) = TestApp::spawn(Db::Sqlite).await else { return };
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), TOKEN.into(), Default::default())
        .await
        .expect("the sample app starts");
    let (s, report) = validate(&app, json!({"url": sample.base_url, "token": TOKEN})).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!((report["failed"].as_u64(), report["passed"].as_u64()), (Some(0), Some(22)), "{report:#}");
    assert!(outcomes(&report).iter().all(|(_, o)| o == "passed"), "{report:#}");
    assert_eq!(sample.state.user_count().await, 0, "the validator cleans up");

    let (s, report) = validate(&app, json!({"url": sample.base_url, "token": "wrong"})).await;
    assert_eq!(s, StatusCode::OK, "a refused token is a report of failures: {report}");
    assert!(report["failed"].as_u64().unwrap_or(0) > 0, "{report:#}");

    let everything = format!("{:?}", app.store.audit(&Default::default()).await.expect("the audit log").items);
    assert!(!everything.contains(TOKEN), "the token is not in the audit log");
    assert!(everything.contains("/scim/validate"), "the run is audited");

    let (s, t) = app.post("/tokens", json!({"name": "ops", "role": "operator"})).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let ops = t["secret"].as_str().or(t["token"]["secret"].as_str()).expect("the new token").to_string();
    let (s, _) = app
        .call_as(&ops, Method::POST, "/api/v1/scim/validate", Some(json!({"url": sample.base_url, "token": TOKEN})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only an admin runs the validator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_validator_refuses_what_a_tenant_url_may_not_be() {
    let Some(app) = TestApp::spawn(Db::Sqlite).await else { return };
    for (url, extra, fragment) in [
        ("http://169.254.169.254/scim/v2", json!({}), "link-local"),
        ("http://metadata.google.internal/scim", json!({"allowInsecureHttp": true}), "metadata"),
        ("https://10.1.2.3/scim/v2", json!({}), "private network"),
        ("http://app.example.com/scim/v2", json!({}), "plain http"),
        ("ftp://app.example.com/scim", json!({}), "must be http(s)"),
        ("not a url", json!({}), "invalid SCIM base URL"),
    ] {
        let mut body = json!({"url": url, "token": TOKEN});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (s, v) = validate(&app, body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{url}: {v}");
        assert_eq!(v["error"]["field"], "url", "{url}: {v}");
        assert!(v["error"]["message"].as_str().unwrap_or("").contains(fragment), "{url}: {v}");
        assert!(!v.to_string().contains(TOKEN), "{v}");
    }
    let (s, v) = validate(&app, json!({"url": "https://app.example.com/scim/v2"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a token is needed: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_validator_passes_scim2_server_from_the_server() {
    let Some(app) = TestApp::spawn(Db::Sqlite).await else { return };
    let Some(server) = Scim2Server::start().await else { return };
    let (s, report) = validate(&app, json!({"url": server.base_url, "token": server.token})).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!((report["failed"].as_u64(), report["passed"].as_u64()), (Some(0), Some(22)), "{report:#}");
}
