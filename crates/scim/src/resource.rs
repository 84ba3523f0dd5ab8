//! Building SCIM resources from flat (path, value) lists, value coercion,
//! and reading a path's value back out of a resource.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::path::filter_value_eq;
use crate::{is_boolean_attr, parse_bool, AttrPath, ENTERPRISE_USER, GROUP_SCHEMA, USER_SCHEMA};

/// The kind of a SCIM resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResourceKind {
    /// A user (`/Users`).
    User,
    /// A group (`/Groups`).
    Group,
}

impl ResourceKind {
    /// The endpoint name: `Users` or `Groups`.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
        }
    }

    /// The resource type name: `User` or `Group`.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// The core schema URN.
    pub fn schema(self) -> &'static str {
        match self {
            ResourceKind::User => USER_SCHEMA,
            ResourceKind::Group => GROUP_SCHEMA,
        }
    }
}

/// Looks up `name` in `obj` ignoring letter case (an exact match first).
pub fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

/// The key under which `name` is stored in `obj` (any case), or `name`.
/// One pass over the keys: the exact name wins over another case of it.
pub(crate) fn key_ci(obj: &Map<String, Value>, name: &str) -> String {
    let mut other_case = None;
    for k in obj.keys() {
        if k == name {
            return name.to_string();
        }
        if other_case.is_none() && k.eq_ignore_ascii_case(name) {
            other_case = Some(k);
        }
    }
    other_case.cloned().unwrap_or_else(|| name.to_string())
}

/// The object stored under `name` (any case), created (or replacing a
/// non-object) when needed.
pub(crate) fn object_entry<'a>(obj: &'a mut Map<String, Value>, name: &str) -> &'a mut Map<String, Value> {
    let key = key_ci(obj, name);
    let slot = obj.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(m) => m,
        _ => unreachable!("slot was just made an object"),
    }
}

/// The array stored under `name` (any case), created (or wrapping a
/// single value) when needed.
pub(crate) fn array_entry<'a>(obj: &'a mut Map<String, Value>, name: &str) -> &'a mut Vec<Value> {
    let key = key_ci(obj, name);
    let slot = obj.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        let old = slot.take();
        *slot = Value::Array(if old.is_null() { Vec::new() } else { vec![old] });
    }
    match slot {
        Value::Array(a) => a,
        _ => unreachable!("slot was just made an array"),
    }
}

/// Whether a multi-valued entry matches a path's value filter.
pub(crate) fn entry_matches(entry: &Value, attr: &str, value: &Value) -> bool {
    entry.as_object().and_then(|o| get_ci(o, attr)).is_some_and(|v| filter_value_eq(v, value))
}

/// Coerces a value for a path: `"True"`/`"False"` (any case) to booleans
/// for boolean attributes (`active`, `primary`), a string manager id to
/// `{"value": id}`, member ids to `[{"value": id}]`.
pub fn coerce(path: &AttrPath, v: Value) -> Value {
    match v {
        Value::String(s) if is_boolean_attr(path.sub_attr.as_deref().unwrap_or(&path.attr)) => match parse_bool(&s) {
            Some(b) => Value::Bool(b),
            None => Value::String(s),
        },
        Value::String(s) if path.sub_attr.is_none() && path.attr.eq_ignore_ascii_case("manager") => {
            let mut m = Map::new();
            m.insert("value".to_string(), Value::String(s));
            Value::Object(m)
        }
        v if path.sub_attr.is_none() && path.filter.is_none() && path.attr.eq_ignore_ascii_case("members") => {
            let wrap = |v: Value| match v {
                Value::String(s) => {
                    let mut m = Map::new();
                    m.insert("value".to_string(), Value::String(s));
                    Value::Object(m)
                }
                other => other,
            };
            match v {
                Value::Array(items) => Value::Array(items.into_iter().map(wrap).collect()),
                Value::String(_) => Value::Array(vec![wrap(v)]),
                other => other,
            }
        }
        v => v,
    }
}

/// Sets `v` at `path` inside `container` (the resource or its extension
/// object), creating complex and multi-valued entries as needed.
pub(crate) fn set_in(container: &mut Map<String, Value>, path: &AttrPath, v: Value) {
    match (&path.filter, &path.sub_attr) {
        (None, None) => {
            let key = key_ci(container, &path.attr);
            container.insert(key, v);
        }
        (None, Some(sub)) => {
            let obj = object_entry(container, &path.attr);
            let key = key_ci(obj, sub);
            obj.insert(key, v);
        }
        (Some(filter), sub) => {
            let arr = array_entry(container, &path.attr);
            let idx = match arr.iter().position(|e| entry_matches(e, &filter.attr, &filter.value)) {
                Some(i) => i,
                None => {
                    let mut m = Map::new();
                    m.insert(filter.attr.clone(), filter.value.clone());
                    arr.push(Value::Object(m));
                    arr.len() - 1
                }
            };
            if !arr[idx].is_object() {
                arr[idx] = Value::Object(Map::new());
            }
            if let Value::Object(entry) = &mut arr[idx] {
                match (sub, v) {
                    (Some(sub), v) => {
                        let key = key_ci(entry, sub);
                        entry.insert(key, v);
                    }
                    (None, Value::Object(fields)) => entry.extend(fields),
                    (None, v) => {
                        entry.insert("value".to_string(), v);
                    }
                }
            }
        }
    }
}

/// Builds a SCIM resource from (path, value) pairs. Null values and paths
/// that do not parse are skipped. `schemas` gets the core schema, plus the
/// enterprise extension when one of its attributes is present; values are
/// [`coerce`]d; the first `emails` entry is marked `primary` unless one is.
pub fn build_resource(kind: ResourceKind, attrs: &[(String, Value)]) -> Value {
    let mut root = Map::new();
    let mut extensions: Vec<String> = Vec::new();
    for (p, v) in attrs {
        if v.is_null() {
            continue;
        }
        let Ok(path) = AttrPath::parse_cached(p) else {
            continue;
        };
        let v = coerce(&path, v.clone());
        let container = match &path.schema {
            None => &mut root,
            Some(schema) => {
                if !extensions.iter().any(|e| e.eq_ignore_ascii_case(schema)) {
                    extensions.push(schema.clone());
                }
                object_entry(&mut root, schema)
            }
        };
        set_in(container, &path, v);
    }
    mark_primary_email(&mut root);
    let mut schemas = vec![Value::String(kind.schema().to_string())];
    extensions.sort_by_key(|e| !e.eq_ignore_ascii_case(ENTERPRISE_USER));
    schemas.extend(extensions.into_iter().map(Value::String));
    root.insert("schemas".to_string(), Value::Array(schemas));
    Value::Object(root)
}

/// Marks the first `emails` entry primary unless one already is.
fn mark_primary_email(root: &mut Map<String, Value>) {
    let key = key_ci(root, "emails");
    if let Some(Value::Array(emails)) = root.get_mut(&key) {
        let any_primary = emails
            .iter()
            .any(|e| e.as_object().and_then(|o| get_ci(o, "primary")).is_some_and(|p| p == &Value::Bool(true)));
        if !any_primary {
            if let Some(Value::Object(first)) = emails.first_mut() {
                first.insert("primary".to_string(), Value::Bool(true));
            }
        }
    }
}

/// Reads the value at `path` out of a resource (attribute names in any
/// case). A sub-attribute of a multi-valued attribute without filter reads
/// the primary entry's (else the first's). Null reads as `None`.
pub fn extract(resource: &Value, path: &AttrPath) -> Option<Value> {
    let root = resource.as_object()?;
    let container = match &path.schema {
        Some(schema) => get_ci(root, schema)?.as_object()?,
        None => root,
    };
    let value = get_ci(container, &path.attr)?;
    let found = match (&path.filter, &path.sub_attr) {
        (Some(filter), sub) => {
            let entry = value.as_array()?.iter().find(|e| entry_matches(e, &filter.attr, &filter.value))?;
            match sub {
                Some(sub) => get_ci(entry.as_object()?, sub)?,
                None => entry,
            }
        }
        (None, Some(sub)) => match value {
            Value::Object(o) => get_ci(o, sub)?,
            Value::Array(items) => {
                let entry =
                    items.iter().find(|e| entry_matches(e, "primary", &Value::Bool(true))).or_else(|| items.first())?;
                get_ci(entry.as_object()?, sub)?
            }
            _ => return None,
        },
        (None, None) => value,
    };
    (!found.is_null()).then(|| found.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs.iter().map(|(p, v)| (p.to_string(), v.clone())).collect()
    }

    #[test]
    fn a_key_is_found_in_any_case_and_its_exact_case_first() {
        let obj = |keys: &[&str]| -> Map<String, Value> { keys.iter().map(|k| (k.to_string(), json!(1))).collect() };
        assert_eq!(key_ci(&obj(&["Name", "name", "NAME"]), "name"), "name");
        assert_eq!(key_ci(&obj(&["emails", "Name"]), "name"), "Name");
        assert_eq!(key_ci(&obj(&["NAME", "Name"]), "nAmE"), "NAME");
        assert_eq!(key_ci(&obj(&["emails"]), "name"), "name");
        assert_eq!(key_ci(&Map::new(), "name"), "name");
    }

    fn check(kind: ResourceKind, input: &[(&str, Value)], want: Value) {
        assert_eq!(build_resource(kind, &attrs(input)), want, "{input:?}");
    }

    type Case<'a> = (ResourceKind, Vec<(&'a str, Value)>, Value);

    #[test]
    fn builds_resources() {
        let ent = ENTERPRISE_USER;
        let cases: Vec<Case> = vec![
            (
                ResourceKind::User,
                vec![("userName", json!("a@x")), ("active", json!("True"))],
                json!({"schemas":[USER_SCHEMA],"userName":"a@x","active":true}),
            ),
            (
                ResourceKind::User,
                vec![("active", json!("false")), ("title", Value::Null)],
                json!({"schemas":[USER_SCHEMA],"active":false}),
            ),
            (
                ResourceKind::User,
                vec![("name.givenName", json!("A")), ("name.familyName", json!("B"))],
                json!({"schemas":[USER_SCHEMA],"name":{"givenName":"A","familyName":"B"}}),
            ),
            (
                ResourceKind::User,
                vec![
                    ("emails[type eq \"work\"].value", json!("a@x")),
                    ("emails[type eq \"home\"].value", json!("h@x")),
                ],
                json!({"schemas":[USER_SCHEMA],"emails":[{"type":"work","value":"a@x","primary":true},{"type":"home","value":"h@x"}]}),
            ),
            (
                ResourceKind::User,
                vec![
                    ("addresses[type eq \"work\"].locality", json!("L")),
                    ("addresses[type eq \"work\"].postalCode", json!("1")),
                ],
                json!({"schemas":[USER_SCHEMA],"addresses":[{"type":"work","locality":"L","postalCode":"1"}]}),
            ),
            (
                ResourceKind::User,
                vec![("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", json!("D"))],
                json!({"schemas":[USER_SCHEMA, ent], ent: {"department":"D"}}),
            ),
            (
                ResourceKind::User,
                vec![("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", json!("m1"))],
                json!({"schemas":[USER_SCHEMA, ent], ent: {"manager":{"value":"m1"}}}),
            ),
            (
                ResourceKind::User,
                vec![("roles[primary eq \"True\"].value", json!("admin"))],
                json!({"schemas":[USER_SCHEMA],"roles":[{"primary":true,"value":"admin"}]}),
            ),
            (
                ResourceKind::Group,
                vec![("displayName", json!("G")), ("members", json!(["u1", "u2"]))],
                json!({"schemas":[GROUP_SCHEMA],"displayName":"G","members":[{"value":"u1"},{"value":"u2"}]}),
            ),
            (ResourceKind::User, vec![("bad path!", json!("x"))], json!({"schemas":[USER_SCHEMA]})),
        ];
        for (kind, input, want) in cases {
            check(kind, &input, want);
        }
    }

    #[test]
    fn extracts_values() {
        let ent = ENTERPRISE_USER;
        let user = json!({
            "userName": "A@x", "name": {"givenName": "G"},
            "emails": [{"type": "home", "value": "h@x"}, {"type": "Work", "value": "w@x", "primary": true}],
            ent: {"department": "D", "manager": {"value": "m1"}}
        });
        let cases: Vec<(&str, Option<Value>)> = vec![
            ("userName", Some(json!("A@x"))),
            ("USERNAME", Some(json!("A@x"))),
            ("name.givenName", Some(json!("G"))),
            ("name.familyName", None),
            ("emails[type eq \"work\"].value", Some(json!("w@x"))),
            ("emails[type eq \"other\"].value", None),
            ("emails.value", Some(json!("w@x"))),
            ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", Some(json!("D"))),
            ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", Some(json!("m1"))),
            ("title", None),
        ];
        for (p, want) in cases {
            let path = AttrPath::parse(p).ok();
            assert_eq!(path.and_then(|p| extract(&user, &p)), want, "{p}");
        }
    }

    #[test]
    fn coerces() {
        for (p, v, want) in [
            ("active", json!("TRUE"), json!(true)),
            ("active", json!("maybe"), json!("maybe")),
            ("emails[type eq \"work\"].primary", json!("False"), json!(false)),
            ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", json!("m"), json!({"value":"m"})),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                json!({"value":"m"}),
                json!({"value":"m"}),
            ),
            ("title", json!("True"), json!("True")),
        ] {
            let path = AttrPath::parse(p).ok();
            assert_eq!(path.map(|p| coerce(&p, v.clone())), Some(want), "{p}");
        }
    }
}
