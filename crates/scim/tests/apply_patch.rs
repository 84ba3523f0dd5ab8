//! Table tests of `apply_patch` (RFC 7644 §3.5.2 semantics).

use roster_scim::{apply_patch, PatchOperation, ENTERPRISE_USER, USER_SCHEMA};
use serde_json::{json, Value};

fn check(start: Value, ops: Value, want: Result<Value, &str>) {
    let ops: Vec<PatchOperation> = match serde_json::from_value(ops.clone()) {
        Ok(ops) => ops,
        Err(e) => panic!("bad ops {ops}: {e}"),
    };
    let mut resource = start.clone();
    let got = apply_patch(&mut resource, &ops).map(|()| resource.clone()).map_err(|e| e.scim_type());
    assert_eq!(got, want, "start {start} ops {ops:?}");
    if want.is_err() {
        assert_eq!(resource, start, "resource changed on error");
    }
}

#[test]
fn applies_operations() {
    let user = json!({
        "schemas": [USER_SCHEMA], "id": "1", "userName": "a", "title": "t",
        "name": {"givenName": "G", "familyName": "F"},
        "emails": [{"type": "work", "value": "w@x", "primary": true}, {"type": "home", "value": "h@x"}]
    });
    let with = |patch: Value| {
        let mut u = user.clone();
        if let (Some(u), Some(p)) = (u.as_object_mut(), patch.as_object()) {
            for (k, v) in p {
                if v.is_null() {
                    u.remove(k);
                } else {
                    u.insert(k.clone(), v.clone());
                }
            }
        }
        u
    };
    let cases: Vec<(Value, Result<Value, &str>)> = vec![
        (json!([{"op":"replace","path":"title","value":"T2"}]), Ok(with(json!({"title":"T2"})))),
        (json!([{"op":"Replace","path":"TITLE","value":"T2"}]), Ok(with(json!({"title":"T2"})))),
        (json!([{"op":"remove","path":"title"}]), Ok(with(json!({"title":null})))),
        (
            json!([{"op":"replace","path":"name.givenName","value":"H"}]),
            Ok(with(json!({"name":{"givenName":"H","familyName":"F"}}))),
        ),
        (
            json!([{"op":"remove","path":"name.givenName"},{"op":"remove","path":"name.familyName"}]),
            Ok(with(json!({"name":null}))),
        ),
        (
            json!([{"op":"replace","path":"emails[type eq \"work\"].value","value":"w2@x"}]),
            Ok(with(json!({"emails":[{"type":"work","value":"w2@x","primary":true},{"type":"home","value":"h@x"}]}))),
        ),
        (json!([{"op":"replace","path":"emails[type eq \"other\"].value","value":"o"}]), Err("noTarget")),
        (json!([{"op":"remove","path":"emails[type eq \"other\"]"}]), Ok(user.clone())),
        (
            json!([{"op":"remove","path":"emails[type eq \"home\"]"}]),
            Ok(with(json!({"emails":[{"type":"work","value":"w@x","primary":true}]}))),
        ),
        (json!([{"op":"remove","path":"emails"}]), Ok(with(json!({"emails":null})))),
        (
            json!([{"op":"add","path":"emails","value":[{"type":"other","value":"o@x"}]}]),
            Ok(with(
                json!({"emails":[{"type":"work","value":"w@x","primary":true},{"type":"home","value":"h@x"},{"type":"other","value":"o@x"}]}),
            )),
        ),
        (json!([{"op":"add","value":{"title":"T3","nickName":"n"}}]), Ok(with(json!({"title":"T3","nickName":"n"})))),
        (
            json!([{"op":"replace","value":{"name":{"givenName":"Z"},"active":false}}]),
            Ok(with(json!({"name":{"givenName":"Z","familyName":"F"},"active":false}))),
        ),
        (
            json!([{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"D"}]),
            Ok(with(json!({"schemas":[USER_SCHEMA, ENTERPRISE_USER], ENTERPRISE_USER:{"department":"D"}}))),
        ),
        (
            json!([{"op":"add","value":{ENTERPRISE_USER:{"manager":{"value":"m"}}}}]),
            Ok(with(json!({"schemas":[USER_SCHEMA, ENTERPRISE_USER], ENTERPRISE_USER:{"manager":{"value":"m"}}}))),
        ),
        (json!([{"op":"replace","path":"id","value":"2"}]), Err("mutability")),
        (json!([{"op":"remove","path":"meta"}]), Err("mutability")),
        (json!([{"op":"remove"}]), Err("noTarget")),
        (json!([{"op":"replace","path":"title"}]), Err("invalidValue")),
        (json!([{"op":"add","value":"x"}]), Err("invalidValue")),
        (json!([{"op":"replace","path":"emails[type eq ]","value":"x"}]), Err("invalidPath")),
        (json!([{"op":"replace","path":"bad path","value":"x"}]), Err("invalidPath")),
        (
            json!([{"op":"replace","path":"title","value":"ok"},{"op":"replace","path":"id","value":"2"}]),
            Err("mutability"),
        ),
    ];
    for (ops, want) in cases {
        check(user.clone(), ops, want);
    }
}

#[test]
fn applies_member_operations() {
    let group = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g","displayName":"G",
                       "members":[{"value":"a"},{"value":"b"},{"value":"c"}]});
    let members = |ids: &[&str]| {
        let mut g = group.clone();
        g["members"] = Value::Array(ids.iter().map(|i| json!({"value": i})).collect());
        if ids.is_empty() {
            if let Some(o) = g.as_object_mut() {
                o.remove("members");
            }
        }
        g
    };
    let cases: Vec<(Value, Result<Value, &str>)> = vec![
        (
            json!([{"op":"add","path":"members","value":[{"value":"d"},{"value":"a"}]}]),
            Ok(members(&["a", "b", "c", "d"])),
        ),
        (json!([{"op":"remove","path":"members[value eq \"b\"]"}]), Ok(members(&["a", "c"]))),
        (json!([{"op":"remove","path":"members[value eq \"zz\"]"}]), Ok(members(&["a", "b", "c"]))),
        (json!([{"op":"remove","path":"members","value":[{"value":"a"},{"value":"c"}]}]), Ok(members(&["b"]))),
        (json!([{"op":"remove","path":"members"}]), Ok(members(&[]))),
        (json!([{"op":"replace","path":"members","value":[{"value":"z"}]}]), Ok(members(&["z"]))),
        (
            json!([{"op":"replace","path":"displayName","value":"H"}]),
            Ok({
                let mut g = group.clone();
                g["displayName"] = json!("H");
                g
            }),
        ),
    ];
    for (ops, want) in cases {
        check(group.clone(), ops, want);
    }
}
