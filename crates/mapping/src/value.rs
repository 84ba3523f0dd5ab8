//! Values that flow through mappings, and the source objects they are read from.
//!
//! A [`Value`] is what an attribute of the directory holds and what an
//! expression produces. A [`SourceObject`] is the read-only view of one user or
//! group that expressions, direct mappings and scoping filters read from;
//! [`MapSource`] is a simple in-memory implementation for tests and tools.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};

/// A value read from a source object or produced by an expression.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// No value: the attribute is absent.
    #[default]
    Null,
    /// A boolean (`accountEnabled`, `IsSoftDeleted`, ...).
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A string. Dates read from the directory are strings too (ISO-8601).
    Str(String),
    /// A point in time, produced by the date functions (`CDate`, `Now`,
    /// `DateAdd`, `DateFromNum`). Rendered as ISO-8601 UTC
    /// (`2012-03-16T07:00:00Z`) when turned into a string or JSON.
    Date(DateTime<Utc>),
    /// A multi-valued attribute (`businessPhones`, `proxyAddresses`, ...).
    List(Vec<Value>),
    /// A complex value (an app role assignment); fields keep their order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// Builds a string value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True for null, the empty string and the empty list: the values that
    /// "have no value" for `IsNullOrEmpty`, `Coalesce` and mappings.
    pub fn is_null_or_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Str(s) => s.is_empty(),
            Value::List(l) => l.is_empty(),
            Value::Object(o) => o.is_empty(),
            Value::Bool(_) | Value::Int(_) | Value::Date(_) => false,
        }
    }

    /// The string inside a [`Value::Str`], if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The text form of a scalar, as the reference's .NET engine prints it:
    /// strings as they are, numbers in decimal, booleans as `True`/`False`,
    /// dates as ISO-8601 UTC. `None` for null, lists and objects.
    pub fn to_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Str(s) => Some(Cow::Borrowed(s.as_str())),
            Value::Int(i) => Some(Cow::Owned(i.to_string())),
            Value::Bool(b) => Some(Cow::Borrowed(bool_text(*b))),
            Value::Date(d) => Some(Cow::Owned(format_iso(d))),
            Value::Null | Value::List(_) | Value::Object(_) => None,
        }
    }

    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Str(_) => "string",
            Value::Date(_) => "date",
            Value::List(_) => "multi-valued attribute",
            Value::Object(_) => "complex value",
        }
    }

    /// Converts to JSON: dates become ISO-8601 strings, objects JSON objects.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Str(s) => J::String(s.clone()),
            Value::Date(d) => J::String(format_iso(d)),
            Value::List(l) => J::Array(l.iter().map(Value::to_json).collect()),
            Value::Object(o) => J::Object(o.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// Converts from JSON. Whole numbers become [`Value::Int`]; other numbers
    /// keep their JSON text as a string; strings stay strings (no date
    /// guessing).
    pub fn from_json(json: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => n.as_i64().map(Value::Int).unwrap_or_else(|| Value::Str(n.to_string())),
            J::String(s) => Value::Str(s.clone()),
            J::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            J::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()),
        }
    }
}

/// How booleans print, like .NET's `Boolean.ToString()`.
pub(crate) fn bool_text(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// ISO-8601 UTC text of a date, with fractional seconds only when present.
pub(crate) fn format_iso(d: &DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::List(_) | Value::Object(_) => write!(f, "{}", self.to_json()),
            _ => match self.to_text() {
                Some(t) => f.write_str(&t),
                None => Ok(()),
            },
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(d: DateTime<Utc>) -> Self {
        Value::Date(d)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(l: Vec<T>) -> Self {
        Value::List(l.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Null, Into::into)
    }
}

/// An app role assigned to the user for this application.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAssignment {
    /// The role's id.
    pub id: String,
    /// The role's display name.
    pub display_name: String,
    /// The role's value, what the application knows it by.
    pub value: String,
}

impl AppRoleAssignment {
    /// The assignment as the complex value the virtual attribute
    /// `[appRoleAssignments]` yields: `{id, displayName, value}`.
    pub fn to_value(&self) -> Value {
        Value::Object(vec![
            ("id".to_string(), Value::Str(self.id.clone())),
            ("displayName".to_string(), Value::Str(self.display_name.clone())),
            ("value".to_string(), Value::Str(self.value.clone())),
        ])
    }
}

/// What an expression reads: a user (or group) of the directory.
pub trait SourceObject {
    /// Attribute by name, case-insensitive (e.g. "userName", "givenName",
    /// "surname", "mail", "businessPhones" (a list), "IsSoftDeleted",
    /// "extension_<name>" ...). Missing → [`Value::Null`].
    fn attribute(&self, name: &str) -> Value;

    /// The app roles assigned to the user for this application (the virtual
    /// attribute `appRoleAssignments`).
    fn app_role_assignments(&self) -> Vec<AppRoleAssignment>;
}

/// A source object held in memory: a case-insensitive map of attribute name
/// to value, plus app role assignments. For tests and tools.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MapSource {
    /// Keys are lower-cased names.
    attributes: HashMap<String, Value>,
    roles: Vec<AppRoleAssignment>,
}

impl MapSource {
    /// An object with no attributes and no roles.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder form of [`MapSource::set`].
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.set(name, value);
        self
    }

    /// Builder form of [`MapSource::add_role`].
    pub fn with_role(mut self, role: AppRoleAssignment) -> Self {
        self.add_role(role);
        self
    }

    /// Sets an attribute (replacing any value under the same name in any
    /// case). Setting [`Value::Null`] removes it.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        let value = value.into();
        let key = name.to_lowercase();
        if value.is_null() {
            self.attributes.remove(&key);
        } else {
            self.attributes.insert(key, value);
        }
    }

    /// Adds an app role assignment.
    pub fn add_role(&mut self, role: AppRoleAssignment) {
        self.roles.push(role);
    }

    /// Builds an object from a JSON object of attributes (other JSON gives
    /// an empty object).
    pub fn from_json(json: &serde_json::Value) -> Self {
        let mut out = Self::new();
        if let serde_json::Value::Object(map) = json {
            for (k, v) in map {
                out.set(k, Value::from_json(v));
            }
        }
        out
    }

    /// The value under `name` (any case), if set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        // Most names are short ASCII: lower-case them on the stack so a
        // lookup does not allocate.
        let mut buf = [0u8; 64];
        if name.is_ascii() && name.len() <= buf.len() {
            let slot = &mut buf[..name.len()];
            slot.copy_from_slice(name.as_bytes());
            slot.make_ascii_lowercase();
            let key = std::str::from_utf8(slot).ok()?;
            self.attributes.get(key)
        } else {
            self.attributes.get(&name.to_lowercase())
        }
    }
}

impl SourceObject for MapSource {
    fn attribute(&self, name: &str) -> Value {
        self.get(name).cloned().unwrap_or(Value::Null)
    }

    fn app_role_assignments(&self) -> Vec<AppRoleAssignment> {
        self.roles.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(input: serde_json::Value, expected: Value) {
        let got = Value::from_json(&input);
        assert_eq!(got, expected, "from_json({input})");
        assert_eq!(got.to_json(), input, "to_json round trip of {input}");
    }

    #[test]
    fn json_round_trips() {
        check(json!(null), Value::Null);
        check(json!(true), Value::Bool(true));
        check(json!(42), Value::Int(42));
        check(json!("a"), Value::str("a"));
        check(json!(["a", 1]), Value::List(vec![Value::str("a"), Value::Int(1)]));
        check(json!({"k": "v"}), Value::Object(vec![("k".into(), Value::str("v"))]));
    }

    #[test]
    fn null_or_empty() {
        assert!(Value::Null.is_null_or_empty());
        assert!(Value::str("").is_null_or_empty());
        assert!(Value::List(vec![]).is_null_or_empty());
        assert!(!Value::Bool(false).is_null_or_empty());
        assert!(!Value::Int(0).is_null_or_empty());
    }

    #[test]
    fn map_source_is_case_insensitive() {
        let s = MapSource::new().with("GivenName", "Zoë").with("Ünïcode", "x");
        assert_eq!(s.attribute("givenname"), Value::str("Zoë"));
        assert_eq!(s.attribute("GIVENNAME"), Value::str("Zoë"));
        assert_eq!(s.attribute("üNÏCODE"), Value::str("x"));
        assert_eq!(s.attribute("surname"), Value::Null);
        let long = "a".repeat(100);
        assert_eq!(s.clone().with(&long, 1).attribute(&long.to_uppercase()), Value::Int(1));
    }
}
