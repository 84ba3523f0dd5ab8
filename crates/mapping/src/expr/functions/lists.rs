//! Multi-valued attributes and app roles: AppRoleAssignmentsComplex, Count,
//! Item, Join, RemoveDuplicates, SingleAppRoleAssignment, Split.

use super::text::invalid;
use super::{into_text, wrong_type, Args};
use crate::expr::error::EvalError;
use crate::expr::limits::{string_too_long, MAX_STRING_BYTES};
use crate::value::Value;

/// `Count(attribute)`: the number of values; 0 for null, 1 for a single
/// value.
pub(crate) fn count(a: &Args) -> Result<Value, EvalError> {
    let n = match a.value(0)? {
        Value::Null => 0,
        Value::List(l) => l.iter().filter(|v| !v.is_null()).count(),
        _ => 1,
    };
    Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// `Item(attribute, index)`: the 1-based `index`-th value; a single value is
/// its own item 1. Null when out of range or when the attribute is null.
pub(crate) fn item(a: &Args) -> Result<Value, EvalError> {
    let index = a.int(1)?;
    let v = a.value(0)?;
    let Some(index) = index.filter(|i| *i >= 1) else {
        return Ok(Value::Null);
    };
    let Ok(pos) = usize::try_from(index - 1) else {
        return Ok(Value::Null);
    };
    Ok(match v {
        Value::List(mut l) if pos < l.len() => l.swap_remove(pos),
        Value::List(_) | Value::Null => Value::Null,
        single if pos == 0 => single,
        _ => Value::Null,
    })
}

/// `Join(separator, source1, source2, ...)`: the text of every value joined
/// by separator; every value of a multi-valued source is joined. Null and
/// empty values are skipped (`Join(" ", [givenName], [surname])` with no
/// surname is `"John"`); nothing left gives null. A null separator is "".
pub(crate) fn join(a: &Args) -> Result<Value, EvalError> {
    let separator = a.text(0)?.unwrap_or_default();
    let mut out = String::new();
    let mut any = false;
    let name = a.name();
    // A list of short items and a long separator multiply: stop at the bound.
    let mut push = |s: &str| {
        if s.is_empty() {
            return Ok(());
        }
        if any {
            out.push_str(&separator);
        }
        out.push_str(s);
        any = true;
        if out.len() > MAX_STRING_BYTES {
            return Err(string_too_long(name));
        }
        Ok(())
    };
    for i in 1..a.len() {
        match a.value(i)? {
            Value::List(items) => {
                for item in items {
                    if let Some(s) = into_text(item, a.name(), i + 1)? {
                        push(&s)?;
                    }
                }
            }
            v => {
                if let Some(s) = into_text(v, a.name(), i + 1)? {
                    push(&s)?;
                }
            }
        }
    }
    Ok(if any { Value::Str(out) } else { Value::Null })
}

/// `Split(source, delimiter)`: the pieces of source between occurrences of
/// delimiter (a string; empty pieces are kept, like .NET). An empty
/// delimiter gives the whole string as one piece. Null source gives null.
pub(crate) fn split(a: &Args) -> Result<Value, EvalError> {
    let delimiter = a.text(1)?.unwrap_or_default();
    let Some(source) = a.text(0)? else {
        return Ok(Value::Null);
    };
    if delimiter.is_empty() {
        return Ok(Value::List(vec![Value::Str(source)]));
    }
    Ok(Value::List(source.split(delimiter.as_str()).map(|p| Value::Str(p.to_string())).collect()))
}

/// `RemoveDuplicates(attribute)`: the values with exact duplicates removed,
/// first occurrence kept (case matters: `SMTP:` and `smtp:` proxy addresses
/// differ). A single value is returned as is; null gives null.
pub(crate) fn remove_duplicates(a: &Args) -> Result<Value, EvalError> {
    Ok(match a.value(0)? {
        Value::List(items) => {
            let mut out: Vec<Value> = Vec::with_capacity(items.len());
            for item in items {
                if !item.is_null() && !out.contains(&item) {
                    out.push(item);
                }
            }
            Value::List(out)
        }
        v => v,
    })
}

/// The `value` of a role (its display name when the value is empty), from
/// the objects `[appRoleAssignments]` yields; plain strings are taken as
/// they are.
fn role_value(role: &Value) -> Option<String> {
    match role {
        Value::Object(fields) => {
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .and_then(|(_, v)| v.to_text())
                    .map(|t| t.into_owned())
                    .filter(|t| !t.is_empty())
            };
            field("value").or_else(|| field("displayName"))
        }
        other => other.to_text().map(|t| t.into_owned()),
    }
}

/// `SingleAppRoleAssignment([appRoleAssignments])`: one role's value (its
/// display name when the value is empty). With several roles the reference
/// picks any one; this returns the first, so the result is stable. No role
/// gives null.
pub(crate) fn single_app_role_assignment(a: &Args) -> Result<Value, EvalError> {
    let v = a.value(0)?;
    let first = match &v {
        Value::Null => return Ok(Value::Null),
        Value::List(l) => l.iter().find_map(role_value),
        Value::Object(_) | Value::Str(_) => role_value(&v),
        _ => return Err(wrong_type(a.name(), 1, "[appRoleAssignments]", &v)),
    };
    Ok(first.map_or(Value::Null, Value::Str))
}

/// `AppRoleAssignmentsComplex([appRoleAssignments])`: every role as the
/// SCIM `roles` complex value `{primary: false, type:
/// "WindowsAzureActiveDirectoryRole", display, value}`. No role gives null.
pub(crate) fn app_role_assignments_complex(a: &Args) -> Result<Value, EvalError> {
    let v = a.value(0)?;
    let roles = match v {
        Value::Null => return Ok(Value::Null),
        Value::List(l) => l,
        single @ Value::Object(_) => vec![single],
        other => return Err(wrong_type(a.name(), 1, "[appRoleAssignments]", &other)),
    };
    let mut out = Vec::with_capacity(roles.len());
    for role in roles {
        let Value::Object(fields) = role else {
            return Err(invalid(a, 1, "expected app role assignments".into()));
        };
        let field = |name: &str| {
            fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map_or(Value::Null, |(_, v)| v.clone())
        };
        out.push(Value::Object(vec![
            ("primary".into(), Value::Bool(false)),
            ("type".into(), Value::str("WindowsAzureActiveDirectoryRole")),
            ("display".into(), field("displayName")),
            ("value".into(), field("value")),
        ]));
    }
    Ok(if out.is_empty() { Value::Null } else { Value::List(out) })
}
