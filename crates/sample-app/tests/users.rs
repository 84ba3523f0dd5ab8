//! HTTP tests of the sample app's discovery, authentication and `/Users`.

mod common;

use common::{app, assert_error, call, call_with};
use reqwest::Method;
use roster_sample_app::SampleOptions;
use serde_json::{json, Value};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
           "emails": [{"type": "work", "value": format!("{name}@x.com"), "primary": true}], "active": true})
}

#[tokio::test]
async fn discovery_and_auth() {
    let app = app(SampleOptions::default()).await;
    let cases: Vec<(Method, &str, Option<&str>, u16)> = vec![
        (Method::GET, "/ServiceProviderConfig", None, 200),
        (Method::GET, "/ResourceTypes", Some(common::TOKEN), 200),
        (Method::GET, "/Schemas", Some(common::TOKEN), 200),
        (Method::GET, "/Users", None, 401),
        (Method::GET, "/Users", Some("wrong"), 401),
        (Method::GET, "/Groups", Some("wrong"), 401),
        (Method::GET, "/Users", Some(common::TOKEN), 200),
        (Method::GET, "/Nope", Some(common::TOKEN), 404),
        (Method::POST, "/Users/abc", Some(common::TOKEN), 405),
    ];
    for (method, path, token, want) in cases {
        let (status, headers, body) = call_with(&app, method.clone(), path, None, token).await;
        assert_eq!(status, want, "{method} {path}");
        if status >= 400 {
            assert_error(status, &body, want, None);
        }
        if status == 401 {
            assert!(headers.contains_key("www-authenticate"));
        }
        assert_eq!(headers.get("content-type").and_then(|v| v.to_str().ok()), Some("application/scim+json"));
    }
    let (_, _, spc) = call(&app, Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(spc["patch"]["supported"], true);
    let (_, _, types) = call(&app, Method::GET, "/ResourceTypes", None).await;
    assert_eq!(types["totalResults"], 2);
}

#[tokio::test]
async fn user_crud() {
    let app = app(SampleOptions::default()).await;
    let (status, headers, created) = call(&app, Method::POST, "/Users", Some(user("alice"))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(id.len(), 32);
    assert_eq!(
        headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("{}/Users/{id}", app.base_url).as_str())
    );
    assert_eq!(headers.get("etag").and_then(|v| v.to_str().ok()), Some("W/\"1\""));
    assert_eq!(created["meta"]["version"], "W/\"1\"");

    let (status, _, body) = call(&app, Method::POST, "/Users", Some(user("ALICE"))).await;
    assert_error(status, &body, 409, Some("uniqueness"));

    let (status, _, got) = call(&app, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!((status, got["userName"].clone()), (200, json!("alice")));
    let (status, _, body) = call(&app, Method::GET, "/Users/nope", None).await;
    assert_error(status, &body, 404, None);
    assert_eq!(body["detail"], "User 'nope' not found");

    let mut replacement = user("alice2");
    replacement["title"] = json!("Boss");
    let (status, _, put) = call(&app, Method::PUT, &format!("/Users/{id}"), Some(replacement)).await;
    assert_eq!((status, put["title"].clone(), put["meta"]["version"].clone()), (200, json!("Boss"), json!("W/\"2\"")));
    assert!(app.state.user_by_name("ALICE2").await.is_some());
    assert!(app.state.user_by_name("alice").await.is_none());

    let (status, _, _) = call(&app, Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(status, 204);
    for method in [Method::GET, Method::DELETE] {
        let (status, _, body) = call(&app, method, &format!("/Users/{id}"), None).await;
        assert_error(status, &body, 404, None);
    }
    assert_eq!(app.state.user_count().await, 0);
}

#[tokio::test]
async fn user_refusals() {
    let app = app(SampleOptions::default()).await;
    let cases: Vec<(Value, u16, Option<&str>)> = vec![
        (json!({"displayName": "no user name"}), 400, Some("invalidValue")),
        (json!({"userName": "a", "active": "yes"}), 400, Some("invalidValue")),
        (json!({"userName": "a", "bogus": 1}), 400, Some("invalidSyntax")),
        (json!({"userName": "a", ENT: {"manager": "m1"}}), 400, Some("invalidValue")),
        (json!([1, 2]), 400, Some("invalidSyntax")),
    ];
    for (body, want, scim_type) in cases {
        let (status, _, resp) = call(&app, Method::POST, "/Users", Some(body.clone())).await;
        assert_error(status, &resp, want, scim_type);
    }
    let client = reqwest::Client::new();
    let big = format!("{{\"userName\":\"{}\"}}", "x".repeat(1 << 21));
    let resp = client
        .post(format!("{}/Users", app.base_url))
        .bearer_auth(common::TOKEN)
        .header("content-type", "application/scim+json")
        .body(big)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 413);
    let resp = client
        .post(format!("{}/Users", app.base_url))
        .bearer_auth(common::TOKEN)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 415);
    let resp = client
        .post(format!("{}/Users", app.base_url))
        .bearer_auth(common::TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn user_filters_and_paging() {
    let app = app(SampleOptions::default()).await;
    for i in 0..25 {
        let mut u = user(&format!("user{i:02}"));
        u[ENT] = json!({"department": if i % 2 == 0 { "Even" } else { "Odd" }});
        let (status, _, _) = call(&app, Method::POST, "/Users", Some(u)).await;
        assert_eq!(status, 201);
    }
    let cases: Vec<(&str, u64, usize)> = vec![
        ("", 25, 25),
        ("?count=10", 25, 10),
        ("?startIndex=21&count=10", 25, 5),
        ("?count=0", 25, 0),
        ("?filter=userName%20eq%20%22USER03%22", 1, 1),
        ("?filter=userName%20eq%20%22nobody%22", 0, 0),
        ("?filter=userName%20sw%20%22user1%22", 10, 10),
        ("?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22user04%40x.com%22", 1, 1),
        ("?filter=urn%3Aietf%3Aparams%3Ascim%3Aschemas%3Aextension%3Aenterprise%3A2.0%3AUser%3Adepartment%20eq%20%22odd%22", 12, 12),
        ("?filter=userName%20eq%20%22user01%22%20or%20userName%20eq%20%22user02%22", 2, 2),
    ];
    for (query, total, items) in cases {
        let (status, _, body) = call(&app, Method::GET, &format!("/Users{query}"), None).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body["totalResults"], total, "{query}");
        assert_eq!(body["Resources"].as_array().map(Vec::len), Some(items), "{query}");
        assert_eq!(body["itemsPerPage"], items as u64, "{query}");
    }
    let (_, _, a) = call(&app, Method::GET, "/Users?count=5", None).await;
    let (_, _, b) = call(&app, Method::GET, "/Users?startIndex=6&count=5", None).await;
    assert_ne!(a["Resources"][0]["id"], b["Resources"][0]["id"]);
    let (status, _, body) = call(&app, Method::GET, "/Users?filter=userName%20zz%20%22x%22", None).await;
    assert_error(status, &body, 400, Some("invalidFilter"));
    let (status, _, body) = call(&app, Method::GET, "/Users?count=abc", None).await;
    assert_error(status, &body, 400, Some("invalidValue"));
    let (_, _, body) = call(&app, Method::GET, "/Users?count=1&attributes=userName", None).await;
    let keys: Vec<&String> = body["Resources"][0].as_object().map(|o| o.keys().collect()).unwrap_or_default();
    assert_eq!(keys, ["id", "schemas", "userName"]);
    let (_, _, body) = call(&app, Method::GET, "/Users?count=1&excludedAttributes=emails,meta", None).await;
    assert!(body["Resources"][0].get("emails").is_none() && body["Resources"][0].get("userName").is_some());
    assert_eq!(app.state.counter("GET /Users?filter"), 6);
}

type Case<'a> = (Value, Result<(&'a str, Value), (u16, &'a str)>);

#[tokio::test]
async fn user_patch() {
    let app = app(SampleOptions::default()).await;
    let (_, _, created) = call(&app, Method::POST, "/Users", Some(user("bob"))).await;
    let (_, _, other) = call(&app, Method::POST, "/Users", Some(user("carol"))).await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap_or_default());
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let cases: Vec<Case> = vec![
        (json!([{"op": "replace", "path": "title", "value": "CTO"}]), Ok(("/title", json!("CTO")))),
        (json!([{"op": "replace", "path": "name.givenName", "value": "Bob"}]), Ok(("/name/givenName", json!("Bob")))),
        (json!([{"op": "replace", "path": "active", "value": false}]), Ok(("/active", json!(false)))),
        (
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b2@x.com"}]),
            Ok(("/emails/0/value", json!("b2@x.com"))),
        ),
        (
            json!([{"op": "replace", "path": format!("{ENT}:department"), "value": "R&D"}]),
            Ok(("/schemas/1", json!(ENT))),
        ),
        (
            json!([{"op": "replace", "path": format!("{ENT}:manager"), "value": {"value": other["id"]}}]),
            Ok(("/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User/manager/value", other["id"].clone())),
        ),
        (json!([{"op": "add", "value": {"nickName": "bobby"}}]), Ok(("/nickName", json!("bobby")))),
        (json!([{"op": "remove", "path": "nickName"}]), Ok(("/nickName", Value::Null))),
        (
            json!([{"op": "add", "path": "phoneNumbers", "value": [{"type": "mobile", "value": "1"}]}]),
            Ok(("/phoneNumbers/0/type", json!("mobile"))),
        ),
        (
            json!([{"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "X"}]),
            Err((400, "noTarget")),
        ),
        (json!([{"op": "replace", "path": format!("{ENT}:manager"), "value": "bare"}]), Err((400, "invalidValue"))),
        (json!([{"op": "replace", "path": "id", "value": "x"}]), Err((400, "mutability"))),
        (json!([{"op": "replace", "path": "bogus", "value": "x"}]), Err((400, "invalidPath"))),
        (json!([{"op": "replace", "path": "userName", "value": "CAROL"}]), Err((409, "uniqueness"))),
        (json!([{"op": "replace", "path": "active", "value": "maybe"}]), Err((400, "invalidValue"))),
    ];
    for (ops, want) in cases {
        let (status, _, body) = call(&app, Method::PATCH, &path, Some(patch(ops.clone()))).await;
        match want {
            Ok((pointer, value)) => {
                assert_eq!(status, 200, "{ops}: {body}");
                assert_eq!(body.pointer(pointer).cloned().unwrap_or(Value::Null), value, "{ops}: {body}");
            }
            Err((code, scim_type)) => assert_error(status, &body, code, Some(scim_type)),
        }
    }
    let (status, _, body) = call(&app, Method::PATCH, "/Users/nope", Some(patch(json!([])))).await;
    assert_error(status, &body, 404, None);
    let (status, _, body) = call(&app, Method::PATCH, &path, Some(json!({"ops": []}))).await;
    assert_error(status, &body, 400, Some("invalidSyntax"));
    assert_eq!(app.state.counter("PATCH /Users/{id}"), 17);
    app.state.reset_counters();
    assert_eq!(app.state.counter("PATCH /Users/{id}"), 0);
}

#[tokio::test]
async fn delete_behind_back() {
    let app = app(SampleOptions::default()).await;
    let (_, _, created) = call(&app, Method::POST, "/Users", Some(user("dave"))).await;
    let id = created["id"].as_str().unwrap_or_default();
    assert!(app.state.delete_user_behind_back(id).await);
    assert!(!app.state.delete_user_behind_back(id).await);
    let (status, _, _) = call(&app, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(status, 404);
    let (status, _, _) = call(&app, Method::POST, "/Users", Some(user("dave"))).await;
    assert_eq!(status, 201);
    app.stop().await.expect("stopped");
}
