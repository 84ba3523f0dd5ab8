//! PATCH operations (RFC 7644 §3.5.2): the operation type, request bodies,
//! the minimal operations between two exported attribute sets, and group
//! member changes.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Map, Value};

use crate::{coerce, AttrPath, PATCH_OP};

/// A PATCH operation kind. Serialised lowercase; parsed in any case
/// (some clients send `Replace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchOp {
    /// `add`
    Add,
    /// `replace`
    Replace,
    /// `remove`
    Remove,
}

impl<'de> Deserialize<'de> for PatchOp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_ascii_lowercase().as_str() {
            "add" => Ok(PatchOp::Add),
            "replace" => Ok(PatchOp::Replace),
            "remove" => Ok(PatchOp::Remove),
            _ => Err(serde::de::Error::custom(format!("unknown PATCH op {s:?}"))),
        }
    }
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchOperation {
    /// The operation.
    pub op: PatchOp,
    /// The target path; absent means the resource itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The value (absent for most removes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl PatchOperation {
    /// An operation with a path.
    pub fn new(op: PatchOp, path: impl Into<String>, value: Option<Value>) -> Self {
        PatchOperation { op, path: Some(path.into()), value }
    }
}

/// How group members are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum MemberRemoval {
    /// One operation per member: `remove` `members[value eq "id"]`
    /// (what scim2-server and most apps accept).
    #[default]
    Filter,
    /// One operation for all: `remove` `members` with a value list.
    ValueList,
    /// `remove` `members[value eq "id"]`, one member per request (for apps
    /// that take neither many operations in one PATCH nor a value list).
    OnePerRequest,
}

/// The PATCH request body for `ops`.
pub fn patch_body(ops: &[PatchOperation]) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

fn member_values(ids: &[String]) -> Value {
    Value::Array(ids.iter().map(|id| json!({ "value": id })).collect())
}

/// Operations adding and removing group members (by target id).
pub fn members_patch(add: &[String], remove: &[String], removal_form: MemberRemoval) -> Vec<PatchOperation> {
    let mut ops = Vec::new();
    if !add.is_empty() {
        ops.push(PatchOperation::new(PatchOp::Add, "members", Some(member_values(add))));
    }
    if !remove.is_empty() {
        match removal_form {
            MemberRemoval::Filter | MemberRemoval::OnePerRequest => ops.extend(remove.iter().map(|id| {
                PatchOperation::new(PatchOp::Remove, format!("members[value eq {}]", Value::String(id.clone())), None)
            })),
            MemberRemoval::ValueList => {
                ops.push(PatchOperation::new(PatchOp::Remove, "members", Some(member_values(remove))))
            }
        }
    }
    ops
}

/// Parses and coerces a path → value list, dropping nulls and bad paths;
/// a later duplicate path wins.
fn parsed<'a>(pairs: impl Iterator<Item = (&'a String, &'a Value)>) -> Vec<(AttrPath, Value)> {
    let mut out: Vec<(AttrPath, Value)> = Vec::new();
    for (p, v) in pairs {
        if v.is_null() {
            continue;
        }
        let Ok(path) = AttrPath::parse(p) else {
            continue;
        };
        let v = coerce(&path, v.clone());
        match out.iter_mut().find(|(q, _)| q.same_path(&path)) {
            Some(slot) => slot.1 = v,
            None => out.push((path, v)),
        }
    }
    out
}

/// The PATCH operations turning the attributes last exported (`old`,
/// path → value) into `new`, for only what changed. Null values count as
/// absent. Removes come first, then replaces, then adds:
/// - a changed simple, complex-sub or enterprise attribute: `replace` path;
/// - a changed sub-attribute of a filtered entry that existed before:
///   `replace` `emails[type eq "work"].value`;
/// - a filtered entry that did not exist: `add` `emails` with
///   `[{"type":"work","value":..}]` (all its sub-attributes in one entry;
///   `primary: true` for an `emails` entry when no other email remains);
/// - a removed path: `remove` path, or `remove` `emails[type eq "work"]`
///   when every sub-attribute of that entry went away.
pub fn diff_patch(old: &Map<String, Value>, new: &[(String, Value)]) -> Vec<PatchOperation> {
    let old = parsed(old.iter());
    let new = parsed(new.iter().map(|(p, v)| (p, v)));
    let mut removes = Vec::new();
    let mut removed_entries: Vec<AttrPath> = Vec::new();
    for (path, _) in &old {
        if new.iter().any(|(p, _)| p.same_path(path)) {
            continue;
        }
        if path.filter.is_some() && !new.iter().any(|(p, _)| p.same_entry(path)) {
            let entry = path.entry();
            if !removed_entries.iter().any(|e| e.same_entry(&entry)) {
                removes.push(PatchOperation::new(PatchOp::Remove, entry.to_string(), None));
                removed_entries.push(entry);
            }
        } else {
            removes.push(PatchOperation::new(PatchOp::Remove, path.to_string(), None));
        }
    }
    let mut replaces = Vec::new();
    let mut added: Vec<(AttrPath, Map<String, Value>)> = Vec::new();
    for (path, value) in &new {
        if let Some((_, was)) = old.iter().find(|(p, _)| p.same_path(path)) {
            if was == value {
                continue;
            }
        }
        let Some(filter) = path.filter.as_ref().filter(|_| !old.iter().any(|(p, _)| p.same_entry(path))) else {
            replaces.push(PatchOperation::new(PatchOp::Replace, path.to_string(), Some(value.clone())));
            continue;
        };
        let idx = match added.iter().position(|(e, _)| e.same_entry(path)) {
            Some(i) => i,
            None => {
                let mut m = Map::new();
                m.insert(filter.attr.clone(), filter.value.clone());
                added.push((path.entry(), m));
                added.len() - 1
            }
        };
        let entry = &mut added[idx].1;
        match (&path.sub_attr, value) {
            (Some(sub), v) => {
                entry.insert(sub.clone(), v.clone());
            }
            (None, Value::Object(fields)) => entry.extend(fields.clone()),
            (None, v) => {
                entry.insert("value".to_string(), v.clone());
            }
        }
    }
    let mut adds = Vec::new();
    let mut email_kept = old.iter().any(|(p, _)| {
        p.attr.eq_ignore_ascii_case("emails") && p.schema.is_none() && new.iter().any(|(q, _)| q.same_entry(p))
    });
    for (entry, mut fields) in added {
        if entry.attr.eq_ignore_ascii_case("emails") && entry.schema.is_none() && !email_kept {
            fields.entry("primary".to_string()).or_insert(Value::Bool(true));
            email_kept = true;
        }
        let target = entry.attribute().to_string();
        adds.push(PatchOperation::new(PatchOp::Add, target, Some(Value::Array(vec![Value::Object(fields)]))));
    }
    removes.extend(replaces);
    removes.extend(adds);
    removes
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";
    const MGR: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";

    fn check(old: Value, new: &[(&str, Value)], want: Value) {
        let old = old.as_object().cloned().unwrap_or_default();
        let new: Vec<(String, Value)> = new.iter().map(|(p, v)| (p.to_string(), v.clone())).collect();
        let got = serde_json::to_value(diff_patch(&old, &new)).unwrap_or_default();
        assert_eq!(got, want, "old {old:?} new {new:?}");
    }

    type Case<'a> = (Value, Vec<(&'a str, Value)>, Value);

    #[test]
    fn diffs() {
        let cases: Vec<Case> = vec![
            (json!({"userName": "a"}), vec![("userName", json!("a"))], json!([])),
            (json!({"title": "x"}), vec![("title", json!("y"))], json!([{"op":"replace","path":"title","value":"y"}])),
            (json!({"active": "True"}), vec![("active", json!(true))], json!([])),
            (
                json!({"active": true}),
                vec![("active", json!("False"))],
                json!([{"op":"replace","path":"active","value":false}]),
            ),
            (
                json!({}),
                vec![("name.givenName", json!("G"))],
                json!([{"op":"replace","path":"name.givenName","value":"G"}]),
            ),
            (
                json!({"emails[type eq \"work\"].value": "a"}),
                vec![("emails[type eq \"work\"].value", json!("b"))],
                json!([{"op":"replace","path":"emails[type eq \"work\"].value","value":"b"}]),
            ),
            (
                json!({}),
                vec![("emails[type eq \"work\"].value", json!("b"))],
                json!([{"op":"add","path":"emails","value":[{"type":"work","value":"b","primary":true}]}]),
            ),
            (
                json!({}),
                vec![
                    ("addresses[type eq \"work\"].locality", json!("L")),
                    ("addresses[type eq \"work\"].postalCode", json!("1")),
                ],
                json!([{"op":"add","path":"addresses","value":[{"type":"work","locality":"L","postalCode":"1"}]}]),
            ),
            (
                json!({"addresses[type eq \"work\"].locality": "L", "addresses[type eq \"work\"].postalCode": "1"}),
                vec![],
                json!([{"op":"remove","path":"addresses[type eq \"work\"]"}]),
            ),
            (
                json!({"addresses[type eq \"work\"].locality": "L", "addresses[type eq \"work\"].postalCode": "1"}),
                vec![("addresses[type eq \"work\"].locality", json!("L"))],
                json!([{"op":"remove","path":"addresses[type eq \"work\"].postalCode"}]),
            ),
            (json!({"title": "x"}), vec![("title", Value::Null)], json!([{"op":"remove","path":"title"}])),
            (json!({DEPT: "a"}), vec![(DEPT, json!("b"))], json!([{"op":"replace","path":DEPT,"value":"b"}])),
            (json!({}), vec![(MGR, json!("m1"))], json!([{"op":"replace","path":MGR,"value":{"value":"m1"}}])),
            (json!({MGR: "m1"}), vec![(MGR, json!({"value": "m1"}))], json!([])),
            (
                json!({"emails[type eq \"work\"].value": "a", "title": "t"}),
                vec![("displayName", json!("d"))],
                json!([{"op":"remove","path":"emails[type eq \"work\"]"},{"op":"remove","path":"title"},
                    {"op":"replace","path":"displayName","value":"d"}]),
            ),
        ];
        for (old, new, want) in cases {
            check(old, &new, want);
        }
    }

    #[test]
    fn member_ops() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases = vec![
            (
                ids(&["a", "b"]),
                ids(&[]),
                MemberRemoval::Filter,
                json!([{"op":"add","path":"members","value":[{"value":"a"},{"value":"b"}]}]),
            ),
            (
                ids(&[]),
                ids(&["a", "b\""]),
                MemberRemoval::Filter,
                json!([{"op":"remove","path":"members[value eq \"a\"]"},{"op":"remove","path":"members[value eq \"b\\\"\"]"}]),
            ),
            (
                ids(&["c"]),
                ids(&["a"]),
                MemberRemoval::ValueList,
                json!([{"op":"add","path":"members","value":[{"value":"c"}]},{"op":"remove","path":"members","value":[{"value":"a"}]}]),
            ),
            (ids(&[]), ids(&[]), MemberRemoval::ValueList, json!([])),
        ];
        for (add, remove, form, want) in cases {
            assert_eq!(serde_json::to_value(members_patch(&add, &remove, form)).unwrap_or_default(), want);
        }
    }

    #[test]
    fn body_and_op_case() {
        let ops = vec![PatchOperation::new(PatchOp::Remove, "title", None)];
        assert_eq!(patch_body(&ops), json!({"schemas":[PATCH_OP],"Operations":[{"op":"remove","path":"title"}]}));
        let parsed: Result<PatchOperation, _> = serde_json::from_value(json!({"op":"Replace","value":{"a":1}}));
        assert_eq!(parsed.ok().map(|o| o.op), Some(PatchOp::Replace));
        assert!(serde_json::from_value::<PatchOperation>(json!({"op":"move"})).is_err());
    }
}
