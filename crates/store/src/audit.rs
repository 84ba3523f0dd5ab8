//! The audit log: one row per admin change (through the API or the portal),
//! sign-in, failed sign-in and token use, with who, when, from which address,
//! what, the state before and after, and the outcome.
//!
//! Append-only: the store can add an entry and read entries, nothing else. The
//! writers never hand it a secret: [`redact`] replaces every secret value of a
//! JSON document with the word `changed` before an entry is made.

use crate::access::AccessRole;
use crate::model::Page;
use crate::{now_ms, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

/// What stands in an entry for a secret value.
pub const REDACTED: &str = "changed";

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Increasing with each entry.
    pub id: i64,
    /// When (milliseconds since the epoch).
    pub at: i64,
    /// Who: `token:<name>`, `admin:<name>`, or what a failed sign-in claimed.
    pub principal: String,
    /// The principal's role then, when it is known.
    pub role: Option<AccessRole>,
    /// The address the request came from.
    pub source: Option<String>,
    /// What: `PATCH /apps/{app}/provisioning`, `POST /groups/new`, `sign-in`, `token use`.
    pub action: String,
    /// What it acted on: the request's path, or the account signing in.
    pub target: Option<String>,
    /// The request's body or form, secrets replaced by `changed`.
    pub request: Option<Value>,
    /// The acted-on resource before the change.
    pub before: Option<Value>,
    /// The acted-on resource after the change.
    pub after: Option<Value>,
    /// How it went: `ok (200)`, `failed (403 forbidden): ...`.
    pub outcome: String,
}

/// An entry to append (the store sets its id and, when zero, its time).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewAuditEntry {
    pub at: i64,
    pub principal: String,
    pub role: Option<AccessRole>,
    pub source: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub request: Option<Value>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub outcome: String,
}

/// Which entries to read, newest first. Times are milliseconds since the epoch.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditQuery {
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Exactly this principal (`token:ci`, `admin:alice`).
    pub principal: Option<String>,
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

/// Whether a JSON key names a secret: it holds `secret`, `password` or `token`
/// (any case), like `secretToken`, `adminPassword`, `clientSecret`.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "password", "token"].iter().any(|word| key.contains(word))
}

/// `value` with the value of every secret key replaced by `changed`, at any
/// depth. Objects and arrays under a secret key are searched, not replaced (the
/// token list's `token` objects name tokens, they hold no secret); `true`,
/// `false` and `null` stay (`secretTokenSet: true` tells only that one is set).
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(_) | Value::Number(_) if is_secret_key(k) => Value::String(REDACTED.into()),
                        other => redact(other),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// Every secret value of a JSON document (the values [`redact`] replaces), so
/// that text made from the document (an error message) can be scrubbed of them.
pub fn secret_values(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_secrets(value, &mut found);
    found
}

fn collect_secrets(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if is_secret_key(k) && !s.is_empty() => found.push(s.clone()),
                    Value::Number(n) if is_secret_key(k) => found.push(n.to_string()),
                    other => collect_secrets(other, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_secrets(v, found)),
        _ => {}
    }
}

/// `text` with each of `secrets` replaced by `changed`.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    secrets.iter().filter(|s| !s.is_empty()).fold(text.to_string(), |t, s| t.replace(s.as_str(), REDACTED))
}

/// The columns of the audit log's CSV export, in order.
const CSV_COLUMNS: &[&str] =
    &["id", "at", "principal", "role", "source", "action", "target", "outcome", "request", "before", "after"];

/// Entries as CSV, one row each after a header row, every cell through the one
/// CSV writer (`crate::csv`), so that a value that looks like a formula
/// opens as text; `at` is an RFC 3339 time (UTC).
pub fn audit_csv(items: &[AuditEntry]) -> String {
    let mut table = crate::csv::Table::new(CSV_COLUMNS);
    for item in items {
        let mut v = serde_json::to_value(item).unwrap_or_default();
        if let Some(at) = chrono::DateTime::from_timestamp_millis(item.at) {
            v["at"] = Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        }
        table.row(CSV_COLUMNS.iter().map(|c| crate::csv::value_text(&v[*c])));
    }
    table.finish()
}

const COLUMNS: &str = "id, at, principal, role, source, action, target, request_json, before_json, after_json, outcome";

fn json_column(row: &AnyRow, column: &str) -> Result<Option<Value>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
}

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let role: Option<String> = row.try_get("role")?;
    Ok(AuditEntry {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        principal: row.try_get("principal")?,
        role: role.as_deref().map(AccessRole::from_stored).transpose()?,
        source: row.try_get("source")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        request: json_column(row, "request_json")?,
        before: json_column(row, "before_json")?,
        after: json_column(row, "after_json")?,
        outcome: row.try_get("outcome")?,
    })
}

impl Store {
    /// Appends an entry. The JSON it carries is redacted again here, so that a
    /// writer that forgot cannot store a secret under a secret key.
    pub async fn append_audit(&self, entry: &NewAuditEntry) -> Result<(), StoreError> {
        let json = |v: &Option<Value>| v.as_ref().map(|v| redact(v).to_string());
        let at = if entry.at > 0 { entry.at } else { now_ms() };
        sqlx::query(
            "INSERT INTO audit_log (at, principal, role, source, action, target, request_json, before_json, \
             after_json, outcome) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
        )
        .bind(at)
        .bind(&entry.principal)
        .bind(entry.role.map(AccessRole::as_str))
        .bind(&entry.source)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(json(&entry.request))
        .bind(json(&entry.before))
        .bind(json(&entry.after))
        .bind(&entry.outcome)
        .execute(self.writes())
        .await?;
        Ok(())
    }

    /// Entries, newest first.
    pub async fn audit(&self, q: &AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
        let offset = q.offset.unwrap_or(0).max(0);
        let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
        let mut filter = "1 = 1".to_string();
        if let Some(since) = q.since {
            filter.push_str(&format!(" AND at >= {since}"));
        }
        if let Some(until) = q.until {
            filter.push_str(&format!(" AND at < {until}"));
        }
        if q.principal.is_some() {
            filter.push_str(" AND principal = $1");
        }
        let count_sql = format!("SELECT COUNT(*) FROM audit_log WHERE {filter}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        let list_sql =
            format!("SELECT {COLUMNS} FROM audit_log WHERE {filter} ORDER BY id DESC LIMIT {limit} OFFSET {offset}");
        let mut list = sqlx::query(&list_sql);
        if let Some(p) = &q.principal {
            count = count.bind(p);
            list = list.bind(p);
        }
        let total = count.fetch_one(self.pool()).await?;
        let items = list.fetch_all(self.pool()).await?.iter().map(entry_from_row).collect::<Result<_, _>>()?;
        Ok(Page { items, total, offset, limit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(input: Value, expected: Value) {
        assert_eq!(redact(&input), expected, "{input}");
    }

    #[test]
    fn secrets_are_replaced_at_any_depth() {
        check(json!({"secretToken": "s3"}), json!({"secretToken": "changed"}));
        check(
            json!({"adminPassword": "pw", "adminUsername": "ops"}),
            json!({"adminPassword": "changed", "adminUsername": "ops"}),
        );
        check(json!({"clientSecret": "cs", "clientId": "id"}), json!({"clientSecret": "changed", "clientId": "id"}));
        check(json!({"password": 1234}), json!({"password": "changed"}));
        check(json!({"token": "rst_x"}), json!({"token": "changed"}));
        check(json!({"refresh_token": "r"}), json!({"refresh_token": "changed"}));
        check(json!({"PASSWORD": "p"}), json!({"PASSWORD": "changed"}));
        check(json!({"secretTokenSet": true}), json!({"secretTokenSet": true}));
        check(json!({"clientSecret": null}), json!({"clientSecret": null}));
        check(
            json!({"token": {"name": "ci", "role": "read"}, "secret": "rst_y"}),
            json!({"token": {"name": "ci", "role": "read"}, "secret": "changed"}),
        );
        check(json!([{"users": [{"password": "p"}]}]), json!([{"users": [{"password": "changed"}]}]));
        check(json!({"userName": "alice", "jobTitle": "Lead"}), json!({"userName": "alice", "jobTitle": "Lead"}));
        check(json!("plain"), json!("plain"));
    }

    #[test]
    fn the_csv_export_neutralises_formulas() {
        let entry = AuditEntry {
            id: 7,
            at: 0,
            principal: "=cmd|' /C calc'!A0".into(),
            role: Some(AccessRole::Admin),
            source: Some("127.0.0.1".into()),
            action: "PATCH /users/{user}".into(),
            target: Some("@evil".into()),
            request: Some(json!({"jobTitle": "Lead"})),
            before: None,
            after: None,
            outcome: "ok (200)".into(),
        };
        let csv = audit_csv(&[entry]);
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("id,at,principal,role,source,action,target,outcome,request,before,after"));
        assert_eq!(
            lines.next(),
            Some(
                "7,1970-01-01T00:00:00.000Z,'=cmd|' /C calc'!A0,admin,127.0.0.1,PATCH /users/{user},'@evil,ok (200),\
                 \"{\"\"jobTitle\"\":\"\"Lead\"\"}\",,"
            )
        );
    }

    #[test]
    fn secret_values_are_found_and_scrubbed_from_text() {
        let body = json!({"secretToken": "s3cr3t", "nested": {"adminPassword": "hunter22"}, "name": "x"});
        let secrets = secret_values(&body);
        assert_eq!(secrets, vec!["hunter22".to_string(), "s3cr3t".to_string()]);
        assert_eq!(scrub("bad token s3cr3t for hunter22", &secrets), "bad token changed for changed");
    }
}
