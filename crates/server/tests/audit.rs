//! The audit log over real HTTP, on SQLite and on PostgreSQL: every change the
//! API is asked for (one call per mutating operation of the OpenAPI document)
//! leaves an entry naming who, from where, what, before and after, and how it
//! went; no secret value a request carried is stored anywhere in the log;
//! refusals, unknown tokens and token use are written down too.

mod common;

use reqwest::{Method, StatusCode};
use roster_store::{AccessRole, AuditEntry, AuditQuery};
use serde_json::{json, Value};

const SECRET_TOKEN: &str = "scim-secret-9f3a1c";
const ADMIN_PASSWORD: &str = "hunter2-admin-pw-77";
const CLIENT_SECRET: &str = "client-secret-b81d";
const USER_PASSWORD: &str = "users-own-password-5e";

/// The newest entries of the log.
async fn entries(app: &common::TestApp) -> Vec<AuditEntry> {
    app.store.audit(&AuditQuery { limit: Some(10_000), ..AuditQuery::default() }).await.expect("the log reads").items
}

/// The mutating operations of the served document, DELETEs last.
async fn changes_of_the_document(app: &common::TestApp) -> Vec<(Method, String)> {
    let doc = app.http.get(format!("{}/api/v1/openapi.json", app.base)).send().await.expect("the document");
    let doc: Value = doc.json().await.expect("JSON");
    let mut changes: Vec<(Method, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item")
                .keys()
                .filter(|m| ["post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(|m| (Method::from_bytes(m.to_ascii_uppercase().as_bytes()).expect("a method"), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    changes.sort_by_key(|(m, p)| (*m == Method::DELETE, p.starts_with("/apps/{app}") && *m == Method::DELETE));
    changes
}

/// A representative call of each change: its concrete path and body.
fn call_of(method: &Method, template: &str, app_id: &str, mappings: &Value) -> (String, Option<Value>) {
    let path = template
        .replace("{user}", "alice")
        .replace("{group}", "Eng")
        .replace("{member}", "alice")
        .replace("{app}", app_id)
        .replace("{role}", "Viewer")
        .replace("{name}", "victim")
        .replace("{source}", "Workday")
        .replace("{batch}", "none");
    let body = match (method.as_str(), template) {
        ("POST", "/users") => json!({"userName": "dave", "extensions": {"password": USER_PASSWORD}}),
        ("POST", "/users/bulk") => json!({"upsert": [{"userName": "carol"}]}),
        ("PATCH", "/users/{user}") => json!({"jobTitle": "Lead"}),
        ("POST", "/groups") => json!({"displayName": "Ops"}),
        ("PATCH", "/groups/{group}") => json!({"description": "engineers"}),
        ("POST", "/groups/{group}/members") => json!({"user": "bob"}),
        ("POST", "/apps") => json!({"name": "Wiki", "template": "scim"}),
        ("PATCH", "/apps/{app}") => json!({"name": "Crm2"}),
        ("POST", "/apps/{app}/roles") => json!({"name": "Editor"}),
        ("POST", "/apps/{app}/assignments") => json!({"user": "bob"}),
        ("PATCH", "/apps/{app}/provisioning") => {
            json!({"tenantUrl": "http://127.0.0.1:9/scim", "secretToken": SECRET_TOKEN, "adminPassword": ADMIN_PASSWORD, "clientSecret": CLIENT_SECRET})
        }
        ("POST", "/apps/{app}/provisioning/provision-on-demand") => json!({"user": "alice"}),
        ("PUT", "/apps/{app}/provisioning/mappings") => mappings.clone(),
        ("POST", "/apps/{app}/provisioning/handoff/confirm") => json!({"id": 1}),
        ("POST", "/expressions/evaluate") => json!({"expression": "[userName]", "user": "alice"}),
        ("POST", "/tokens") => json!({"name": "ci", "role": "read"}),
        ("POST", "/sources") => json!({"name": "Payroll", "template": "hr-csv"}),
        ("PUT", "/sources/{source}/settings") => json!({}),
        ("POST", "/sources/{source}/bulkUpload") => {
            json!({"Operations": [{"method": "POST", "path": "/Users", "data": {"userName": "hank", "externalId": "HR-SECRET-NOTE"}}]})
        }
        _ => return (if template == "/apps/{app}/assignments" { format!("{path}?user=alice") } else { path }, None),
    };
    (path, Some(body))
}

async fn every_change_is_audited_without_its_secrets(app: &common::TestApp) {
    for user in ["alice", "bob"] {
        assert!(app.post("/users", json!({"userName": user})).await.0.is_success());
    }
    assert!(app.post("/groups", json!({"displayName": "Eng"})).await.0.is_success());
    assert!(app.post("/groups/Eng/members", json!({"user": "alice"})).await.0.is_success());
    let (_, created) = app.post("/apps", json!({"name": "Crm", "template": "scim"})).await;
    let app_id = created["id"].as_str().expect("app id").to_string();
    assert!(app.post(&format!("/apps/{app_id}/roles"), json!({"name": "Viewer"})).await.0.is_success());
    assert!(app.post(&format!("/apps/{app_id}/assignments"), json!({"user": "alice"})).await.0.is_success());
    app.store.create_token("victim", AccessRole::Read, None).await.expect("a token to revoke");
    let mappings = app.get(&format!("/apps/{app_id}/provisioning/mappings")).await.1;
    assert!(app.post("/sources", json!({"name": "Workday", "template": "hr-scim"})).await.0.is_success());

    let changes = changes_of_the_document(app).await;
    assert!(changes.len() >= 30, "every change of the document: {}", changes.len());
    let mut token_secrets = Vec::new();
    for (method, template) in &changes {
        let (path, body) = call_of(method, template, &app_id, &mappings);
        let (status, answer) = app.call(method.clone(), &format!("/api/v1{path}"), body).await;
        if let Some(secret) = answer["secret"].as_str() {
            token_secrets.push(secret.to_string());
        }
        let action = format!("{method} {template}");
        let all = entries(app).await;
        let entry = all
            .iter()
            .find(|e| e.action == action && e.target.as_deref() == Some(path.as_str()))
            .unwrap_or_else(|| panic!("no entry for {action} on {path} ({status}: {answer})"));
        assert_eq!(entry.principal, "token:admin", "{action}");
        assert_eq!(entry.role, Some(AccessRole::Admin), "{action}");
        assert_eq!(entry.source.as_deref(), Some("127.0.0.1"), "{action}");
        let ok = status.is_success();
        assert_eq!(entry.outcome.starts_with("ok ("), ok, "{action} {status}: {}", entry.outcome);
        assert!(ok || entry.outcome.starts_with(&format!("failed ({}", status.as_u16())), "{}", entry.outcome);
    }

    let all = entries(app).await;
    let find = |action: &str| {
        all.iter().find(|e| e.action == action).unwrap_or_else(|| panic!("an entry for {action}")).clone()
    };
    let patch = find("PATCH /users/{user}");
    assert!(patch.before.as_ref().is_some_and(|b| b["jobTitle"].is_null()), "{patch:?}");
    assert_eq!(patch.after.as_ref().map(|a| a["jobTitle"].clone()), Some(json!("Lead")));
    assert_eq!(patch.request, Some(json!({"jobTitle": "Lead"})));
    let disable = find("POST /users/{user}/disable");
    assert_eq!(disable.after.as_ref().map(|a| a["active"].clone()), Some(json!(false)), "seen through the user");
    let settings = find("PATCH /apps/{app}/provisioning");
    let request = settings.request.expect("the body is kept");
    assert_eq!(request["secretToken"], "changed");
    assert_eq!(request["adminPassword"], "changed");
    assert_eq!(request["clientSecret"], "changed");
    assert_eq!(request["tenantUrl"], "http://127.0.0.1:9/scim");
    let created = find("POST /users");
    assert_eq!(created.after.as_ref().map(|a| a["userName"].clone()), Some(json!("dave")), "the answer is the after");
    let token = find("POST /tokens");
    let names: Vec<Value> =
        token.after.iter().flat_map(|a| a.as_array().cloned().unwrap_or_default()).map(|t| t["name"].clone()).collect();
    assert!(names.contains(&json!("ci")), "the token list after: {names:?}");

    let everything = serde_json::to_string(&all).expect("entries serialize");
    assert!(!token_secrets.is_empty(), "a token was made");
    for secret in [SECRET_TOKEN, ADMIN_PASSWORD, CLIENT_SECRET, USER_PASSWORD]
        .iter()
        .copied()
        .chain(token_secrets.iter().map(String::as_str))
    {
        assert!(!everything.contains(secret), "the secret {secret:?} is in the audit log");
    }
    assert!(!everything.contains(&app.token), "nor is the admin token");
    assert!(!everything.contains("HR-SECRET-NOTE"), "a push's records stay out of the audit log");
    assert_eq!(app.get("/users/hank").await.0, StatusCode::OK, "the push was applied");
    let (status, page) = app.get("/audit?limit=5").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(5));
    assert!(page["total"].as_i64().unwrap_or(0) >= changes.len() as i64);
}

async fn refusals_unknown_tokens_and_token_use_are_audited(app: &common::TestApp) {
    let (_, reader) = app.store.create_token("reader", AccessRole::Read, None).await.expect("a token");
    let (status, _) = app.call_as(&reader, Method::GET, "/api/v1/users", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call_as(&reader, Method::GET, "/api/v1/users", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call_as(&reader, Method::POST, "/api/v1/users", Some(json!({"userName": "x"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.call_as(&reader, Method::GET, "/api/v1/audit", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the audit log is for admins only");
    let (status, _) = app.call_as("rst_not-a-token-at-all", Method::GET, "/api/v1/users", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let page = app.get("/audit?principal=token:reader").await.1;
    let mine: Vec<&Value> = page["items"].as_array().into_iter().flatten().collect();
    let uses = mine.iter().filter(|e| e["action"] == "token use").count();
    assert_eq!(uses, 1, "the first use of a minute, once: {mine:?}");
    let refused = mine.iter().find(|e| e["action"] == "POST /users").expect("the refused change");
    assert_eq!(refused["role"], "read");
    assert!(refused["outcome"].as_str().unwrap_or_default().starts_with("refused (403 forbidden)"), "{refused}");
    assert!(mine.iter().any(|e| e["action"] == "GET /audit"), "a refused read is written down too");
    let tokens = app.get("/tokens").await.1;
    let listed = tokens.as_array().into_iter().flatten().find(|t| t["name"] == "reader").expect("listed");
    assert!(listed["lastUsedAt"].is_i64(), "its last use is shown: {listed}");

    let page = app.get("/audit?principal=token:(unknown)").await.1;
    let unknown = page["items"].as_array().and_then(|a| a.first()).cloned().expect("the unknown token");
    assert!(unknown["outcome"].as_str().unwrap_or_default().starts_with("refused (401 unauthorized)"));
    assert!(!page.to_string().contains("rst_not-a-token-at-all"), "the presented token is not kept");

    let now = roster_store::now_ms();
    assert_eq!(app.get(&format!("/audit?since={}", now + 60_000)).await.1["total"], 0);
    assert!(app.get(&format!("/audit?until={}", now + 60_000)).await.1["total"].as_i64().unwrap_or(0) > 0);
}

on_both_backends!(every_change_is_audited_without_its_secrets, refusals_unknown_tokens_and_token_use_are_audited);
