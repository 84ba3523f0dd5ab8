//! SCIM message bodies: the error response (RFC 7644 §3.12) and the list
//! response (§3.4.2).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::{ERROR_SCHEMA, LIST_RESPONSE};

fn status_to_string<S: Serializer>(status: &u16, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&status.to_string())
}

fn status_from_any<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| serde::de::Error::custom("status out of range")),
        Value::String(s) => s.trim().parse().map_err(serde::de::Error::custom),
        _ => Err(serde::de::Error::custom("status must be a string or a number")),
    }
}

fn default_error_schemas() -> Vec<String> {
    vec![ERROR_SCHEMA.to_string()]
}

/// A SCIM error body. `status` is written as a string (as RFC 7644 shows)
/// and read from a string or a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimError {
    /// Always `[ERROR_SCHEMA]` when written.
    #[serde(default = "default_error_schemas")]
    pub schemas: Vec<String>,
    /// The HTTP status.
    #[serde(serialize_with = "status_to_string", deserialize_with = "status_from_any")]
    pub status: u16,
    /// The SCIM error type (`uniqueness`, `invalidFilter`, ...).
    #[serde(rename = "scimType", default, skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<String>,
    /// A human-readable explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl ScimError {
    /// An error body.
    pub fn new(status: u16, scim_type: Option<&str>, detail: impl Into<String>) -> Self {
        ScimError {
            schemas: default_error_schemas(),
            status,
            scim_type: scim_type.map(str::to_string),
            detail: Some(detail.into()),
        }
    }

    /// The body as JSON.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Parses an error body; `None` if `body` is not one.
    pub fn parse(body: &[u8]) -> Option<ScimError> {
        serde_json::from_slice(body).ok()
    }
}

fn default_list_schemas() -> Vec<String> {
    vec![LIST_RESPONSE.to_string()]
}

fn one() -> u64 {
    1
}

/// A list response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListResponse {
    /// Always `[LIST_RESPONSE]` when written.
    #[serde(default = "default_list_schemas")]
    pub schemas: Vec<String>,
    /// Number of results matching the query.
    #[serde(rename = "totalResults")]
    pub total_results: u64,
    /// 1-based index of the first resource returned.
    #[serde(rename = "startIndex", default = "one")]
    pub start_index: u64,
    /// Number of resources returned.
    #[serde(rename = "itemsPerPage", default)]
    pub items_per_page: u64,
    /// The resources (may be absent when there are none).
    #[serde(rename = "Resources", alias = "resources", default)]
    pub resources: Vec<Value>,
}

impl ListResponse {
    /// A page of results.
    pub fn new(total_results: u64, start_index: u64, resources: Vec<Value>) -> Self {
        ListResponse {
            schemas: default_list_schemas(),
            total_results,
            start_index,
            items_per_page: resources.len() as u64,
            resources,
        }
    }

    /// The body as JSON.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Parses a list response body; `None` if `body` is not one.
    pub fn parse(body: &[u8]) -> Option<ListResponse> {
        serde_json::from_slice(body).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_bodies() {
        let e = ScimError::new(409, Some("uniqueness"), "taken");
        assert_eq!(
            e.to_value(),
            json!({"schemas":[ERROR_SCHEMA],"status":"409","scimType":"uniqueness","detail":"taken"})
        );
        for (body, want) in [
            (r#"{"schemas":["x"],"status":"404","detail":"User 'a' not found"}"#, Some((404, None))),
            (r#"{"status":400,"scimType":"invalidFilter"}"#, Some((400, Some("invalidFilter")))),
            (r#"{"status":"abc"}"#, None),
            ("<html>", None),
        ] {
            let got = ScimError::parse(body.as_bytes()).map(|e| (e.status, e.scim_type));
            assert_eq!(got, want.map(|(s, t)| (s, t.map(str::to_string))), "{body}");
        }
    }

    #[test]
    fn list_bodies() {
        let l = ListResponse::new(5, 2, vec![json!({"id":"a"})]);
        assert_eq!(
            l.to_value(),
            json!({"schemas":[LIST_RESPONSE],"totalResults":5,"startIndex":2,"itemsPerPage":1,"Resources":[{"id":"a"}]})
        );
        for (body, want) in [
            (r#"{"totalResults":0}"#, Some((0, 0))),
            (r#"{"totalResults":2,"Resources":[{},{}]}"#, Some((2, 2))),
            (r#"{"schemas":[],"detail":"x"}"#, None),
        ] {
            let got = ListResponse::parse(body.as_bytes()).map(|l| (l.total_results, l.resources.len()));
            assert_eq!(got, want, "{body}");
        }
    }
}
