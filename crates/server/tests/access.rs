//! Access roles over real HTTP, on SQLite and on PostgreSQL: every operation of
//! the served OpenAPI document, called with a token of each role, is admitted
//! exactly when the document's `x-roster-role` says so, and refused with a 403
//! that names the role it needs; tokens carry a role and an expiry.

mod common;

use reqwest::{Method, StatusCode};
use roster_store::AccessRole;
use serde_json::{json, Value};

fn ok(status: StatusCode, body: &Value) {
    assert!(status.is_success(), "expected success, got {status}: {body}");
}

/// The operations of the served document: (method, path template, role).
async fn documented_operations(app: &common::TestApp) -> Vec<(Method, String, AccessRole)> {
    let doc: Value = app
        .http
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .expect("the document is served without a token")
        .json()
        .await
        .expect("the document is JSON");
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item").iter().filter(|(k, _)| *k != "parameters") {
            let role = operation["x-roster-role"].as_str().unwrap_or_default();
            let role = AccessRole::parse(role).unwrap_or_else(|_| panic!("{method} {path} has no valid x-roster-role"));
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("an HTTP method");
            operations.push((method, path.clone(), role));
        }
    }
    // Changes that remove things last, so that the other calls find what they name.
    operations.sort_by_key(|(m, _, _)| *m == Method::DELETE);
    operations
}

/// A path of the document with its parameters filled in from the fixtures.
fn concrete(template: &str, app_id: &str) -> String {
    template
        .replace("{user}", "alice")
        .replace("{group}", "Eng")
        .replace("{member}", "alice")
        .replace("{app}", app_id)
        .replace("{role}", "Viewer")
        .replace("{template}", "scim")
        .replace("{name}", "victim")
}

async fn every_documented_operation_admits_exactly_the_roles_it_names(app: &common::TestApp) {
    ok(app.post("/users", json!({"userName": "alice"})).await.0, &Value::Null);
    ok(app.post("/groups", json!({"displayName": "Eng"})).await.0, &Value::Null);
    let (s, created) = app.post("/apps", json!({"name": "Crm", "template": "scim"})).await;
    ok(s, &created);
    let app_id = created["id"].as_str().expect("app id").to_string();
    ok(app.post(&format!("/apps/{app_id}/roles"), json!({"name": "Viewer"})).await.0, &Value::Null);
    app.store.create_token("victim", AccessRole::Read, None).await.expect("a token to revoke");

    let operations = documented_operations(app).await;
    assert!(operations.len() >= 50, "the document lists every operation: {}", operations.len());
    for role in AccessRole::ALL {
        let (_, secret) = app.store.create_token(&format!("as-{role}"), role, None).await.expect("a token");
        for (method, template, needed) in &operations {
            let path = format!("/api/v1{}", concrete(template, &app_id));
            let body = matches!(*method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
            let (status, answer) = app.call_as(&secret, method.clone(), &path, body).await;
            let what = format!("{method} {template} with a {role} token");
            if role.allows(*needed) {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{what} is admitted, got {status}: {answer}"
                );
                assert!(
                    status != StatusCode::METHOD_NOT_ALLOWED && answer["error"]["message"] != "no such route",
                    "{what}: the document names a route the router does not serve ({status}: {answer})"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{what} is refused: {answer}");
                assert_eq!(answer["error"]["code"], "forbidden", "{what}");
                let message = answer["error"]["message"].as_str().unwrap_or_default();
                let expected = format!("this token's role ({role}) cannot {method} {template}");
                assert!(message.starts_with(&expected), "{what}: {message:?} should start with {expected:?}");
                assert!(message.ends_with(&format!("that needs the {needed} role")), "{what}: {message:?}");
            }
        }
    }
}

async fn a_refused_change_changes_nothing(app: &common::TestApp) {
    let (_, reader) = app.store.create_token("reader", AccessRole::Read, None).await.expect("a token");
    let (status, _) = app.call_as(&reader, Method::POST, "/api/v1/users", Some(json!({"userName": "mallory"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/users?userName=mallory").await.1["total"], 0, "no user was made");
    let (status, _) =
        app.call_as(&reader, Method::POST, "/api/v1/tokens", Some(json!({"name": "mine", "role": "admin"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a read token cannot make itself an admin token");
    assert_eq!(app.get("/tokens").await.1.as_array().map(Vec::len), Some(2), "no token was made");
}

async fn tokens_are_made_with_a_role_and_an_expiry(app: &common::TestApp) {
    let (s, t) = app.post("/tokens", json!({"name": "ops", "role": "operator", "expiresIn": "30d"})).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(t["token"]["role"], "operator");
    let expires = t["token"]["expiresAt"].as_i64().expect("an expiry");
    let in_30_days = roster_store::now_ms() + 30 * 24 * 3600 * 1000;
    assert!((in_30_days - expires).abs() < 60_000, "30 days from now: {expires}");
    let (s, t) = app.post("/tokens", json!({"name": "ci", "role": "read", "expiresAt": "2100-01-01T00:00:00Z"})).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(t["token"]["expiresAt"], 4_102_444_800_000_i64);

    let list = app.get("/tokens").await.1;
    let admin = list.as_array().into_iter().flatten().find(|t| t["name"] == "admin").expect("the first token");
    assert_eq!(admin["role"], "admin", "the first start's token is an admin token");
    assert!(admin["expiresAt"].is_null(), "and it does not expire");
    let ops = list.as_array().into_iter().flatten().find(|t| t["name"] == "ops").expect("listed");
    assert_eq!(ops["role"], "operator");
    assert!(ops["expiresAt"].is_i64());

    for (body, fragment) in [
        (json!({"name": "x"}), "give the token a role"),
        (json!({"name": "x", "role": "root"}), "unknown role \"root\""),
        (json!({"name": "x", "role": "read", "expiresIn": "soon"}), "not a duration"),
        (json!({"name": "x", "role": "read", "expiresIn": "1d", "expiresAt": 1}), "not both"),
        (json!({"name": "x", "role": "read", "expiresAt": "2001-01-01T00:00:00Z"}), "in the future"),
    ] {
        let (s, v) = app.post("/tokens", body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(fragment), "{body}: {message:?} should contain {fragment:?}");
    }
}

async fn an_expired_token_is_a_401_that_says_so(app: &common::TestApp) {
    let soon = roster_store::now_ms() + 300;
    let (_, secret) = app.store.create_token("brief", AccessRole::Admin, Some(soon)).await.expect("a token");
    let (status, _) = app.call_as(&secret, Method::GET, "/api/v1/users", None).await;
    assert_eq!(status, StatusCode::OK, "alive until its expiry");
    let answer = common::eventually(10, "the token to expire", || async {
        let (status, answer) = app.call_as(&secret, Method::GET, "/api/v1/users", None).await;
        (status == StatusCode::UNAUTHORIZED).then_some(answer)
    })
    .await;
    assert_eq!(answer["error"]["code"], "token_expired");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("token expired"), "{message}");
    assert!(message.contains("\"brief\""), "it names the token: {message}");
}

on_both_backends!(
    every_documented_operation_admits_exactly_the_roles_it_names,
    a_refused_change_changes_nothing,
    tokens_are_made_with_a_role_and_an_expiry,
    an_expired_token_is_a_401_that_says_so,
);
