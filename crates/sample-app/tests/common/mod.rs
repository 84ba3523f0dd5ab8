//! Helpers shared by the sample app's HTTP tests.

#![allow(dead_code)]

use reqwest::{Client, Method};
use roster_sample_app::{start, RunningSampleApp, SampleOptions};
use serde_json::Value;

pub const TOKEN: &str = "test-token";

pub async fn app(options: SampleOptions) -> RunningSampleApp {
    match start("127.0.0.1:0".parse().expect("valid address"), TOKEN.to_string(), options).await {
        Ok(app) => app,
        Err(e) => panic!("cannot start the sample app: {e}"),
    }
}

/// Sends a request with the token; returns status, headers and JSON body
/// (Null when empty).
pub async fn call(
    app: &RunningSampleApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    call_with(app, method, path, body, Some(TOKEN)).await
}

pub async fn call_with(
    app: &RunningSampleApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = Client::new().request(method, format!("{}{path}", app.base_url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/scim+json").body(b.to_string());
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body read");
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON body") };
    (status, headers, body)
}

/// Asserts a SCIM error body with this status and scimType.
pub fn assert_error(status: u16, body: &Value, want_status: u16, want_type: Option<&str>) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{body}");
    assert_eq!(body["status"], Value::String(want_status.to_string()), "{body}");
    assert_eq!(body["scimType"].as_str(), want_type, "{body}");
}
