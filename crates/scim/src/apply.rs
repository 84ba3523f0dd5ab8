//! Applying PATCH operations to a resource (RFC 7644 §3.5.2), as a SCIM
//! server does: add, replace and remove, with and without path, value
//! filters, sub-attributes, extension URN paths and group members in both
//! removal forms. Schema-agnostic: it does not know which attributes exist.

use serde_json::{Map, Value};

use crate::path::{normalize_schema, split};
use crate::resource::{get_ci, key_ci, object_entry};
use crate::{Filter, PatchOp, PatchOperation, GROUP_SCHEMA, USER_SCHEMA};

/// Why a PATCH could not be applied; [`PatchError::scim_type`] gives the
/// RFC 7644 `scimType`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The path does not parse.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value filter matched nothing, or a remove had no path.
    #[error("no target: {0}")]
    NoTarget(String),
    /// The value is missing or of the wrong shape.
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// The attribute is read-only (`id`, `meta`).
    #[error("attribute {0:?} is read-only")]
    Mutability(String),
}

impl PatchError {
    /// The `scimType` of the error response.
    pub fn scim_type(&self) -> &'static str {
        match self {
            PatchError::InvalidPath { .. } => "invalidPath",
            PatchError::NoTarget(_) => "noTarget",
            PatchError::InvalidValue(_) => "invalidValue",
            PatchError::Mutability(_) => "mutability",
        }
    }
}

/// Whether an array entry equals a value being added or removed: by their
/// `value` and `type` sub-attributes when both have a `value` (so a member
/// `{"value": id}` matches `{"value": id, "display": ..}`), else as JSON.
fn same_item(a: &Value, b: &Value) -> bool {
    let sub = |v: &Value, name: &str| v.as_object().and_then(|o| get_ci(o, name)).cloned();
    match (sub(a, "value"), sub(b, "value")) {
        (Some(x), Some(y)) => x == y && sub(a, "type") == sub(b, "type"),
        _ => a == b,
    }
}

fn add_value(container: &mut Map<String, Value>, attr: &str, v: Value) {
    let key = key_ci(container, attr);
    match (container.get_mut(&key), v) {
        (Some(Value::Array(items)), v) => {
            let new = match v {
                Value::Array(new) => new,
                single => vec![single],
            };
            for item in new {
                if !items.iter().any(|i| same_item(i, &item)) {
                    items.push(item);
                }
            }
        }
        (Some(Value::Object(obj)), Value::Object(fields)) => merge(obj, fields),
        (_, v) => {
            container.insert(key, v);
        }
    }
}

fn merge(obj: &mut Map<String, Value>, fields: Map<String, Value>) {
    for (k, v) in fields {
        let key = key_ci(obj, &k);
        obj.insert(key, v);
    }
}

fn replace_value(container: &mut Map<String, Value>, attr: &str, v: Value) {
    let key = key_ci(container, attr);
    match (container.get_mut(&key), v) {
        (Some(Value::Object(obj)), Value::Object(fields)) => merge(obj, fields),
        (_, v) => {
            container.insert(key, v);
        }
    }
}

fn check_writable(attr: &str) -> Result<(), PatchError> {
    if attr.eq_ignore_ascii_case("id") || attr.eq_ignore_ascii_case("meta") {
        return Err(PatchError::Mutability(attr.to_string()));
    }
    Ok(())
}

fn is_core_schema(urn: &str) -> bool {
    urn.eq_ignore_ascii_case(USER_SCHEMA) || urn.eq_ignore_ascii_case(GROUP_SCHEMA)
}

/// An add or replace without path: `value` is an object of attributes.
fn apply_pathless(root: &mut Map<String, Value>, op: PatchOp, value: Value) -> Result<(), PatchError> {
    let Value::Object(fields) = value else {
        return Err(PatchError::InvalidValue("an operation without path needs an object value".into()));
    };
    for (k, v) in fields {
        if k.eq_ignore_ascii_case("schemas") || k.eq_ignore_ascii_case("meta") {
            continue;
        }
        if k.eq_ignore_ascii_case("id") {
            if root.get("id") != Some(&v) {
                return Err(PatchError::Mutability(k));
            }
            continue;
        }
        if crate::is_urn(&k) {
            if let Value::Object(ext_fields) = v {
                let target = match normalize_schema(&k) {
                    None => &mut *root,
                    Some(schema) => object_entry(root, &schema),
                };
                for (k2, v2) in ext_fields {
                    apply_attr(target, op, &k2, v2);
                }
            } else {
                apply_one(root, &PatchOperation { op, path: Some(k), value: Some(v) })?;
            }
            continue;
        }
        apply_attr(root, op, &k, v);
    }
    Ok(())
}

fn apply_attr(container: &mut Map<String, Value>, op: PatchOp, attr: &str, v: Value) {
    match op {
        PatchOp::Add => add_value(container, attr, v),
        _ => replace_value(container, attr, v),
    }
}

fn apply_one(root: &mut Map<String, Value>, op: &PatchOperation) -> Result<(), PatchError> {
    let value = op.value.clone();
    let Some(path) = op.path.as_deref().map(str::trim).filter(|p| !p.is_empty()) else {
        return match (op.op, value) {
            (PatchOp::Remove, _) => Err(PatchError::NoTarget("remove needs a path".into())),
            (_, None) => Err(PatchError::InvalidValue("add and replace need a value".into())),
            (o, Some(v)) => apply_pathless(root, o, v),
        };
    };
    let invalid = |reason: String| PatchError::InvalidPath { path: path.to_string(), reason };
    // A whole extension: `urn:...:enterprise:2.0:User`.
    if crate::is_urn(path) && !path.contains('[') {
        if let Some(schema) = normalize_schema(path).filter(|s| s.eq_ignore_ascii_case(crate::ENTERPRISE_USER)) {
            return match (op.op, value) {
                (PatchOp::Remove, _) => {
                    let key = key_ci(root, &schema);
                    root.remove(&key);
                    Ok(())
                }
                (o, Some(v @ Value::Object(_))) => {
                    let mut wrapper = Map::new();
                    wrapper.insert(schema, v);
                    apply_pathless(root, o, Value::Object(wrapper))
                }
                _ => Err(PatchError::InvalidValue("an extension needs an object value".into())),
            };
        }
        if is_core_schema(path) {
            return Err(invalid("a schema is not an attribute".into()));
        }
    }
    let raw = split(path).map_err(|e| invalid(e.to_string()))?;
    if raw.schema.is_none() {
        check_writable(raw.attr)?;
    }
    let filter = raw.filter.map(Filter::parse).transpose().map_err(|e| invalid(e.to_string()))?;
    let container = match (&raw.schema, op.op) {
        (None, _) => root,
        (Some(schema), PatchOp::Remove) => {
            let key = key_ci(root, schema);
            match root.get_mut(&key) {
                Some(Value::Object(ext)) => ext,
                _ => return Ok(()),
            }
        }
        (Some(schema), _) => object_entry(root, schema),
    };
    let attr = raw.attr;
    if op.op != PatchOp::Remove && value.is_none() {
        return Err(PatchError::InvalidValue(format!("{:?} needs a value", path)));
    }
    let value = value.unwrap_or(Value::Null);
    if op.op == PatchOp::Replace && value.is_null() && filter.is_none() && raw.sub.is_none() {
        let key = key_ci(container, attr);
        container.remove(&key);
        return Ok(());
    }
    match (filter, raw.sub) {
        (None, None) => match op.op {
            PatchOp::Add => add_value(container, attr, value),
            PatchOp::Replace => replace_value(container, attr, value),
            PatchOp::Remove => {
                let key = key_ci(container, attr);
                match (container.get_mut(&key), value) {
                    (Some(Value::Array(items)), Value::Array(gone)) => {
                        items.retain(|i| !gone.iter().any(|g| same_item(i, g)))
                    }
                    (Some(Value::Array(items)), gone @ Value::Object(_)) => items.retain(|i| !same_item(i, &gone)),
                    _ => {
                        container.remove(&key);
                    }
                }
            }
        },
        (None, Some(sub)) => {
            let key = key_ci(container, attr);
            match (op.op, container.get_mut(&key)) {
                (PatchOp::Remove, Some(Value::Object(obj))) => {
                    let k = key_ci(obj, sub);
                    obj.remove(&k);
                }
                (PatchOp::Remove, Some(Value::Array(items))) => {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        let k = key_ci(item, sub);
                        item.remove(&k);
                    }
                }
                (PatchOp::Remove, _) => {}
                (_, Some(Value::Array(items))) => {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        let k = key_ci(item, sub);
                        item.insert(k, value.clone());
                    }
                }
                (_, _) => {
                    let obj = object_entry(container, attr);
                    let k = key_ci(obj, sub);
                    obj.insert(k, value);
                }
            }
        }
        (Some(filter), sub) => {
            let key = key_ci(container, attr);
            let Some(Value::Array(items)) = container.get_mut(&key) else {
                if op.op == PatchOp::Remove {
                    return Ok(());
                }
                return Err(PatchError::NoTarget(format!("{path:?} matches nothing")));
            };
            let matched: Vec<usize> = (0..items.len()).filter(|&i| filter.matches(&items[i])).collect();
            if matched.is_empty() && op.op != PatchOp::Remove {
                return Err(PatchError::NoTarget(format!("{path:?} matches nothing")));
            }
            match (op.op, sub) {
                (PatchOp::Remove, None) => {
                    let mut i = 0;
                    items.retain(|_| {
                        i += 1;
                        !matched.contains(&(i - 1))
                    });
                }
                (PatchOp::Remove, Some(sub)) => {
                    for &i in &matched {
                        if let Some(entry) = items[i].as_object_mut() {
                            let k = key_ci(entry, sub);
                            entry.remove(&k);
                        }
                    }
                }
                (_, Some(sub)) => {
                    for &i in &matched {
                        if let Some(entry) = items[i].as_object_mut() {
                            let k = key_ci(entry, sub);
                            entry.insert(k, value.clone());
                        }
                    }
                }
                (_, None) => {
                    for &i in &matched {
                        match (&mut items[i], &value) {
                            (Value::Object(entry), Value::Object(fields)) => merge(entry, fields.clone()),
                            (slot, v) => *slot = v.clone(),
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Drops nulls, empty arrays and empty objects (unassigned attributes), and keeps `schemas` in step with the
/// extension objects present.
fn normalize(root: &mut Map<String, Value>) {
    fn prune(obj: &mut Map<String, Value>) {
        for v in obj.values_mut() {
            match v {
                Value::Object(inner) => prune(inner),
                Value::Array(items) => items.retain(|i| !i.is_null() && i.as_object().is_none_or(|o| !o.is_empty())),
                _ => {}
            }
        }
        obj.retain(|_, v| match v {
            Value::Null => false,
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        });
    }
    let schemas = root.remove("schemas");
    prune(root);
    let Some(Value::Array(mut schemas)) = schemas else {
        if let Some(s) = schemas {
            root.insert("schemas".into(), s);
        }
        return;
    };
    schemas.retain(|s| s.as_str().is_some_and(|s| is_core_schema(s) || root.keys().any(|k| k.eq_ignore_ascii_case(s))));
    for k in root.keys() {
        if crate::is_urn(k)
            && root[k].is_object()
            && !schemas.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(k)))
        {
            schemas.push(Value::String(k.clone()));
        }
    }
    root.insert("schemas".into(), Value::Array(schemas));
}

/// Applies `ops` in order to `resource` (a JSON object). All or nothing:
/// on error the resource is unchanged. Value filters that match nothing
/// fail with `noTarget` for add and replace and are a no-op for remove;
/// `remove` `members` with a value list removes those values; `id` and
/// `meta` are read-only.
pub fn apply_patch(resource: &mut Value, ops: &[PatchOperation]) -> Result<(), PatchError> {
    let Value::Object(current) = resource else {
        return Err(PatchError::InvalidValue("the resource is not an object".into()));
    };
    let mut root = current.clone();
    for op in ops {
        apply_one(&mut root, op)?;
    }
    normalize(&mut root);
    *current = root;
    Ok(())
}
