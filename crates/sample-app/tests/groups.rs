//! HTTP tests of the sample app's `/Groups`, member PATCHes in both
//! removal forms and the request counters.

mod common;

use common::{app, assert_error, call};
use reqwest::Method;
use roster_sample_app::{MemberRemoval, SampleOptions};
use serde_json::{json, Value};

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

fn member_ids(group: &Value) -> Vec<String> {
    group["members"]
        .as_array()
        .map(|m| m.iter().filter_map(|e| e["value"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

type Case<'a> = (Value, Result<Vec<&'a str>, (u16, &'a str)>);

#[tokio::test]
async fn group_crud_and_members() {
    let app = app(SampleOptions::default()).await;
    let body = json!({"displayName": "Eng", "members": [{"value": "u1"}, {"value": "u2"}]});
    let (status, headers, created) = call(&app, Method::POST, "/Groups", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    assert!(headers.contains_key("location"));
    let path = format!("/Groups/{}", created["id"].as_str().unwrap_or_default());
    assert_eq!(member_ids(&created), ["u1", "u2"]);

    let (_, _, got) = call(&app, Method::GET, &format!("{path}?excludedAttributes=members"), None).await;
    assert!(got.get("members").is_none() && got["displayName"] == "Eng");

    let cases: Vec<Case> = vec![
        (
            json!([{"op": "add", "path": "members", "value": [{"value": "u3"}, {"value": "u1"}]}]),
            Ok(vec!["u1", "u2", "u3"]),
        ),
        (json!([{"op": "remove", "path": "members[value eq \"u2\"]"}]), Ok(vec!["u1", "u3"])),
        (json!([{"op": "remove", "path": "members[value eq \"absent\"]"}]), Ok(vec!["u1", "u3"])),
        (json!([{"op": "remove", "path": "members", "value": [{"value": "u1"}]}]), Ok(vec!["u3"])),
        (json!([{"op": "add", "value": {"members": [{"value": "u4"}], "externalId": "e"}}]), Ok(vec!["u3", "u4"])),
        (json!([{"op": "replace", "path": "members", "value": [{"value": "u9"}]}]), Ok(vec!["u9"])),
        (json!([{"op": "remove", "path": "members"}]), Ok(vec![])),
        (json!([{"op": "replace", "path": "displayName", "value": "Engineering"}]), Ok(vec![])),
        (json!([{"op": "add", "path": "members", "value": [{"nope": 1}]}]), Err((400, "invalidValue"))),
        (json!([{"op": "add", "path": "members[value eq \"x\"]", "value": "x"}]), Err((400, "invalidPath"))),
        (json!([{"op": "remove", "path": "members[value zz \"x\"]"}]), Err((400, "invalidPath"))),
        (json!([{"op": "replace", "path": "id", "value": "x"}]), Err((400, "mutability"))),
    ];
    for (ops, want) in cases {
        let (status, _, body) = call(&app, Method::PATCH, &path, Some(patch(ops.clone()))).await;
        match want {
            Ok(ids) => {
                assert_eq!(status, 200, "{ops}: {body}");
                assert_eq!(member_ids(&body), ids, "{ops}");
            }
            Err((code, t)) => assert_error(status, &body, code, Some(t)),
        }
    }
    let group = app.state.group_by_name("engineering").await.unwrap_or_default();
    assert_eq!(group["externalId"], "e");
    let (status, _, put) =
        call(&app, Method::PUT, &path, Some(json!({"displayName": "P", "members": [{"value": "z"}]}))).await;
    assert_eq!((status, member_ids(&put)), (200, vec!["z".to_string()]));

    let (_, _, list) =
        call(&app, Method::GET, "/Groups?filter=displayName%20eq%20%22p%22&excludedAttributes=members", None).await;
    assert_eq!(list["totalResults"], 1);
    assert!(list["Resources"][0].get("members").is_none());
    let (_, _, list) = call(&app, Method::GET, "/Groups?filter=members.value%20eq%20%22z%22", None).await;
    assert_eq!(list["totalResults"], 1);
    let (status, _, _) = call(&app, Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let (status, _, body) = call(&app, Method::GET, &path, None).await;
    assert_error(status, &body, 404, None);
    let (status, _, body) = call(&app, Method::POST, "/Groups", Some(json!({"members": []}))).await;
    assert_error(status, &body, 400, Some("invalidValue"));
    assert_eq!(app.state.group_count().await, 0);
}

#[tokio::test]
async fn removal_forms_are_configurable() {
    let cases = [
        (vec![MemberRemoval::Filter], (200, 400)),
        (vec![MemberRemoval::ValueList], (400, 200)),
        (vec![MemberRemoval::Filter, MemberRemoval::ValueList], (200, 200)),
    ];
    for (forms, (filter_status, list_status)) in cases {
        let app = app(SampleOptions { member_removal_forms: forms.clone(), ..Default::default() }).await;
        let (_, _, g) = call(
            &app,
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "G", "members": [{"value": "a"}, {"value": "b"}]})),
        )
        .await;
        let path = format!("/Groups/{}", g["id"].as_str().unwrap_or_default());
        let (s1, _, _) =
            call(&app, Method::PATCH, &path, Some(patch(json!([{"op": "remove", "path": "members[value eq \"a\"]"}]))))
                .await;
        let (s2, _, b2) = call(
            &app,
            Method::PATCH,
            &path,
            Some(patch(json!([{"op": "remove", "path": "members", "value": [{"value": "b"}]}]))),
        )
        .await;
        assert_eq!((s1, s2), (filter_status, list_status), "{forms:?}");
        if s2 == 400 {
            assert_error(s2, &b2, 400, Some("invalidPath"));
        }
    }
}

#[tokio::test]
async fn big_group_and_counters() {
    let app = app(SampleOptions::default()).await;
    let members: Vec<Value> = (0..10_000).map(|i| json!({"value": format!("u{i}")})).collect();
    let (status, _, g) =
        call(&app, Method::POST, "/Groups", Some(json!({"displayName": "Big", "members": members}))).await;
    assert_eq!(status, 201);
    let path = format!("/Groups/{}", g["id"].as_str().unwrap_or_default());
    app.state.reset_counters();
    let removes: Vec<Value> =
        (0..100).map(|i| json!({"op": "remove", "path": format!("members[value eq \"u{i}\"]")})).collect();
    let started = std::time::Instant::now();
    let (status, _, _) =
        call(&app, Method::PATCH, &format!("{path}?excludedAttributes=members"), Some(patch(Value::Array(removes))))
            .await;
    assert_eq!(status, 200);
    assert!(started.elapsed().as_secs() < 5);
    let ids = app.state.group_member_ids(g["id"].as_str().unwrap_or_default()).await.unwrap_or_default();
    assert_eq!(ids.len(), 9_900);
    assert_eq!(ids.first().map(String::as_str), Some("u100"));
    let (_, _, _) = call(&app, Method::GET, &format!("{path}?excludedAttributes=members"), None).await;
    assert_eq!(app.state.counter("PATCH /Groups/{id}"), 1);
    assert_eq!(app.state.counter("PATCH /Groups member values"), 100);
    assert_eq!(app.state.counter("GET /Groups/{id}"), 1);
}
