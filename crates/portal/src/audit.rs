//! What the portal writes to the audit log: every form action (who, from where,
//! which route, on which path, the form's fields with each secret replaced by
//! `changed`, and how it went), refusals of a role, sign-ins, failed sign-ins and
//! sign-outs. The same log as the API's (`Store::append_audit`); the API's
//! entries also carry the resource before and after, the portal's carry the form.

use crate::form::FormFields;
use crate::session::CSRF_FIELD;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::StatusCode;
use roster_store::audit::redact;
use roster_store::{AccessRole, NewAuditEntry, Store};
use serde_json::{Map, Value};
use std::net::SocketAddr;

/// The principal of an entry about a token no one has (the API writes the same).
pub const UNKNOWN_TOKEN: &str = "token:(unknown)";

/// The address a request came from, as the log writes it.
pub fn source(parts: &Parts) -> Option<String> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string())
}

/// A form's fields as JSON, without the CSRF token, secrets replaced by
/// `changed` (a field sent twice is a list).
pub fn fields(form: &FormFields) -> Value {
    let mut map = Map::new();
    for (k, v) in form.0.iter().filter(|(k, _)| k != CSRF_FIELD) {
        match map.get_mut(k) {
            Some(Value::Array(items)) => items.push(Value::String(v.clone())),
            Some(first) => *first = Value::Array(vec![first.clone(), Value::String(v.clone())]),
            None => {
                map.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    redact(&Value::Object(map))
}

/// How an answer went: `ok (303)`, `failed (400)`, `refused (403): ...`.
pub fn outcome(status: StatusCode) -> String {
    if status.is_success() || status.is_redirection() {
        format!("ok ({})", status.as_u16())
    } else {
        format!("failed ({})", status.as_u16())
    }
}

/// One entry of the portal, written now; a failure to write is logged, never
/// shown to the admin (the action itself is done).
#[allow(clippy::too_many_arguments)]
pub async fn write(
    store: &Store,
    principal: &str,
    role: Option<AccessRole>,
    source: Option<String>,
    action: &str,
    target: &str,
    request: Option<Value>,
    outcome: String,
) {
    let entry = NewAuditEntry {
        principal: principal.to_string(),
        role,
        source,
        action: action.to_string(),
        target: Some(target.to_string()),
        request,
        outcome,
        ..NewAuditEntry::default()
    };
    if let Err(e) = store.append_audit(&entry).await {
        tracing::error!(error = %e, action, principal, "cannot write the audit log");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_fields_keep_no_csrf_token_and_no_secret() {
        let form =
            FormFields::parse(b"_csrf=abc&tenantUrl=https%3A%2F%2Fx&secretToken=s3&adminPassword=pw&kind=a&kind=b");
        assert_eq!(
            fields(&form),
            json!({"tenantUrl": "https://x", "secretToken": "changed", "adminPassword": "changed", "kind": ["a", "b"]})
        );
    }
}
