//! Records as a source sends them, made flat: one JSON object per person whose
//! keys are the source's attribute names. A SCIM user becomes its attribute
//! paths (`name.givenName`, `emails[type eq "work"].value`, extension
//! attributes under their schema URN, `...:User:manager.value`); a CSV row
//! becomes its header's names.

use serde_json::{Map, Value};

/// The most records one batch may hold.
pub const MAX_RECORDS: usize = 100_000;
/// The most attributes one record may hold.
const MAX_ATTRIBUTES: usize = 500;

/// Why records cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct RecordError(pub String);

/// A SCIM user resource, flat.
pub fn flatten_scim_user(user: &Value) -> Result<Map<String, Value>, RecordError> {
    let Value::Object(fields) = user else {
        return Err(RecordError("a user must be a JSON object".into()));
    };
    let mut out = Map::new();
    for (k, v) in fields {
        if matches!(k.as_str(), "schemas" | "meta" | "id") {
            continue;
        }
        let is_urn = k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
        match v {
            Value::Object(ext) if is_urn => {
                for (a, v) in ext {
                    flatten(&format!("{k}:{a}"), v, &mut out);
                }
            }
            _ => flatten(k, v, &mut out),
        }
    }
    if out.len() > MAX_ATTRIBUTES {
        return Err(RecordError(format!("a user holds more than {MAX_ATTRIBUTES} attributes")));
    }
    for (k, v) in &out {
        let texts: Vec<&str> = match v {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for t in texts.into_iter().chain([k.as_str()]) {
            no_control(t).map_err(|c| RecordError(format!("{k}: {c}")))?;
        }
    }
    Ok(out)
}

/// Refuses a control character (a tab or a line break may stay): a NUL from a
/// file in the wrong encoding would otherwise reach the store.
fn no_control(text: &str) -> Result<(), String> {
    match text.chars().find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        Some(c) => Err(format!("a control character (U+{:04X}): is the file UTF-8?", c as u32)),
        None => Ok(()),
    }
}

fn flatten(path: &str, v: &Value, out: &mut Map<String, Value>) {
    match v {
        Value::Null => {}
        Value::Object(sub) => {
            for (k, v) in sub {
                flatten(&format!("{path}.{k}"), v, out);
            }
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
            out.insert(path.to_string(), v.clone());
        }
        Value::Array(items) => {
            for item in items {
                let Value::Object(fields) = item else { continue };
                let kind = fields.get("type").and_then(Value::as_str);
                let primary = fields.get("primary").and_then(Value::as_bool) == Some(true);
                for (sub, sv) in fields {
                    if matches!(sub.as_str(), "type" | "primary") {
                        continue;
                    }
                    if let Some(kind) = kind {
                        let key = format!("{path}[type eq \"{}\"].{sub}", kind.replace('"', ""));
                        if !out.contains_key(&key) {
                            flatten(&key, sv, out);
                        }
                    }
                    if primary {
                        flatten(&format!("{path}[primary eq true].{sub}"), sv, out);
                    }
                }
            }
        }
        scalar => {
            out.insert(path.to_string(), scalar.clone());
        }
    }
}

/// The users of a SCIM BulkRequest (RFC 7644, section 3.7): each operation a
/// `POST`, `PUT` or `PATCH`-free write to `/Users` whose `data` is a user.
pub fn bulk_users(body: &Value) -> Result<Vec<Value>, RecordError> {
    let ops = body
        .get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| RecordError("a BulkRequest has an Operations list".into()))?;
    if ops.len() > MAX_RECORDS {
        return Err(RecordError(format!("at most {MAX_RECORDS} operations per request")));
    }
    let mut out = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let method = op.get("method").and_then(Value::as_str).unwrap_or("");
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        if !(method.eq_ignore_ascii_case("POST") || method.eq_ignore_ascii_case("PUT")) {
            return Err(RecordError(format!(
                "operation {i}: method {method:?}: an HR source takes POST or PUT of whole users"
            )));
        }
        if !path.trim_start_matches('/').to_ascii_lowercase().starts_with("users") {
            return Err(RecordError(format!("operation {i}: path {path:?}: an HR source takes /Users")));
        }
        let data = op.get("data").ok_or_else(|| RecordError(format!("operation {i} has no data")))?;
        let flat = flatten_scim_user(data).map_err(|e| RecordError(format!("operation {i}: {e}")))?;
        out.push(Value::Object(flat));
    }
    Ok(out)
}

/// The rows of a CSV file with a header row; empty cells are left out.
pub fn csv_rows(text: &str) -> Result<Vec<Value>, RecordError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| RecordError(format!("the header row cannot be read: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    for h in &headers {
        no_control(h).map_err(|c| RecordError(format!("the header {h:?}: {c}")))?;
    }
    if headers.iter().all(String::is_empty) {
        return Err(RecordError("the file has no header row".into()));
    }
    if headers.len() > MAX_ATTRIBUTES {
        return Err(RecordError(format!("more than {MAX_ATTRIBUTES} columns")));
    }
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| RecordError(format!("line {}: {e}", i + 2)))?;
        if out.len() >= MAX_RECORDS {
            return Err(RecordError(format!("more than {MAX_RECORDS} rows")));
        }
        let mut record = Map::new();
        for (h, cell) in headers.iter().zip(row.iter()) {
            let cell = cell.trim();
            no_control(cell).map_err(|c| RecordError(format!("line {}, column {h}: {c}", i + 2)))?;
            if !h.is_empty() && !cell.is_empty() {
                record.insert(h.clone(), Value::String(cell.to_string()));
            }
        }
        if !record.is_empty() {
            out.push(Value::Object(record));
        }
    }
    Ok(out)
}

/// Reads a date as HR systems write it: `YYYY-MM-DD` (the day's start in UTC),
/// RFC 3339, or `YYYY-MM-DDTHH:MM:SS` (UTC). Milliseconds since the epoch.
pub fn parse_date(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|dt| dt.and_utc().timestamp_millis());
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_millis());
    }
    chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S").ok().map(|dt| dt.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_scim_user_is_made_flat() {
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@contoso.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"type": "work", "value": "ada@contoso.com", "primary": true}],
            "phoneNumbers": [{"type": "mobile", "value": "+1 555"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "E1", "manager": {"value": "E0"}
            },
            "active": true
        });
        let flat = flatten_scim_user(&user).unwrap_or_default();
        assert_eq!(flat["userName"], "ada@contoso.com");
        assert_eq!(flat["name.givenName"], "Ada");
        assert_eq!(flat["emails[type eq \"work\"].value"], "ada@contoso.com");
        assert_eq!(flat["emails[primary eq true].value"], "ada@contoso.com");
        assert_eq!(flat["phoneNumbers[type eq \"mobile\"].value"], "+1 555");
        assert_eq!(flat["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"], "E1");
        assert_eq!(flat["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"], "E0");
        assert!(!flat.contains_key("schemas"));
        assert!(flatten_scim_user(&json!("x")).is_err());
    }

    #[test]
    fn bulk_takes_writes_of_users_only() {
        let ok =
            json!({"Operations": [{"method": "POST", "path": "/Users", "bulkId": "1", "data": {"userName": "a"}}]});
        assert_eq!(bulk_users(&ok).map(|v| v.len()), Ok(1));
        let delete = json!({"Operations": [{"method": "DELETE", "path": "/Users/1"}]});
        assert!(bulk_users(&delete).is_err_and(|e| e.0.contains("DELETE")));
        let groups = json!({"Operations": [{"method": "POST", "path": "/Groups", "data": {}}]});
        assert!(bulk_users(&groups).is_err());
        assert!(bulk_users(&json!({})).is_err());
    }

    #[test]
    fn csv_rows_by_header() {
        let rows = csv_rows("\u{feff}EmployeeId, UserName ,Note\nE1,ada@x,\"=1+2\"\nE2,bob@x,\n").unwrap_or_default();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["UserName"], "ada@x");
        // A formula is text: it reaches the directory as written, never evaluated.
        assert_eq!(rows[0]["Note"], "=1+2");
        assert!(rows[1].get("Note").is_none());
        let e = csv_rows("A,B\n1,2,3\n").err().map(|e| e.0).unwrap_or_default();
        assert!(e.starts_with("line 2"), "{e}");
        // UTF-16 read as UTF-8 is full of NULs: refused, naming where.
        let e = csv_rows("A,B\nx\0y,2\n").err().map(|e| e.0).unwrap_or_default();
        assert!(e.starts_with("line 2, column A: a control character (U+0000)"), "{e}");
        assert!(csv_rows("A,B\n\"two\nlines\",\tz\n").is_ok(), "a line break in a quoted cell stays");
        assert!(flatten_scim_user(&json!({"userName": "a\u{1}b"})).is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("2027-01-04"), Some(1_799_020_800_000));
        assert_eq!(parse_date("2027-01-04T00:00:00Z"), Some(1_799_020_800_000));
        assert_eq!(parse_date("2027-01-04T01:00:00+01:00"), Some(1_799_020_800_000));
        assert_eq!(parse_date("2027-01-04T00:00:00"), Some(1_799_020_800_000));
        assert_eq!(parse_date("04/01/2027"), None);
        assert_eq!(parse_date(""), None);
    }
}
