//! Making what the engine sends fit Salesforce's User sObject: field names
//! (case-insensitive, `active` is `IsActive`), the required fields a create
//! must carry, the rules on `Alias`, `Username` and `CommunityNickname`, SOQL
//! string literals, and the JSON error array Salesforce answers with.
//! Pure: no I/O.

use roster_scim::{PatchOp, PatchOperation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::UserDefaults;
use crate::ConnectorError;

/// The User fields roster reads by default.
pub const DEFAULT_USER_FIELDS: &[&str] = &[
    "Id",
    "Username",
    "IsActive",
    "FederationIdentifier",
    "Email",
    "FirstName",
    "LastName",
    "Alias",
    "CommunityNickname",
    "ProfileId",
    "UserRoleId",
    "ManagerId",
    "Title",
    "Department",
    "Phone",
    "MobilePhone",
    "TimeZoneSidKey",
    "LocaleSidKey",
    "EmailEncodingKey",
    "LanguageLocaleKey",
];

/// Standard User fields by their canonical spelling: a name sent in any
/// case is sent in this one.
const KNOWN_FIELDS: &[&str] = &[
    "Id",
    "Username",
    "IsActive",
    "FederationIdentifier",
    "Email",
    "FirstName",
    "LastName",
    "MiddleName",
    "Suffix",
    "Alias",
    "CommunityNickname",
    "ProfileId",
    "UserRoleId",
    "ManagerId",
    "Title",
    "Department",
    "Division",
    "CompanyName",
    "EmployeeNumber",
    "Phone",
    "MobilePhone",
    "Fax",
    "Street",
    "City",
    "State",
    "PostalCode",
    "Country",
    "TimeZoneSidKey",
    "LocaleSidKey",
    "EmailEncodingKey",
    "LanguageLocaleKey",
];

/// The most characters Salesforce keeps in `Alias`.
pub const ALIAS_MAX: usize = 8;
/// The most characters Salesforce keeps in `CommunityNickname`.
pub const NICKNAME_MAX: usize = 40;
/// The most characters Salesforce keeps in `Username`.
pub const USERNAME_MAX: usize = 80;

fn refused(code: &str, message: String) -> ConnectorError {
    ConnectorError::Permanent { status: 400, scim_type: Some(code.to_string()), app_message: message }
}

/// The Salesforce name of an attribute: `active` (roster's switch) is
/// `IsActive`, a standard field in any case gets its canonical spelling,
/// anything else (custom fields, `Foo__c`) is kept. Refuses what is not a
/// field name, so that a name can go into SOQL as it is.
pub fn field_name(attr: &str) -> Result<String, ConnectorError> {
    let attr = attr.trim();
    if attr.eq_ignore_ascii_case("active") {
        return Ok("IsActive".to_string());
    }
    if let Some(known) = KNOWN_FIELDS.iter().find(|k| k.eq_ignore_ascii_case(attr)) {
        return Ok((*known).to_string());
    }
    let mut chars = attr.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && attr.len() <= 80;
    if !valid {
        return Err(refused(
            "INVALID_FIELD",
            format!("{attr:?} is not a Salesforce User field name: fix the attribute mapping's target attribute"),
        ));
    }
    Ok(attr.to_string())
}

/// A SOQL string literal: quoted, with `\` and `'` escaped (and the
/// control characters SOQL has escapes for).
pub fn soql_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A SOQL condition `field = value`: booleans unquoted, strings as literals.
pub fn soql_equals(field: &str, value: &str) -> String {
    if field == "IsActive" {
        if let Some(b) = parse_bool(value) {
            return format!("{field} = {b}");
        }
    }
    format!("{field} = {}", soql_literal(value))
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        t if t.eq_ignore_ascii_case("true") => Some(true),
        t if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A value for `field`: `IsActive` becomes a boolean ("True"/"False"
/// strings included), strings are trimmed.
fn field_value(field: &str, value: &Value) -> Value {
    match (field, value) {
        ("IsActive", Value::String(s)) => parse_bool(s).map_or_else(|| value.clone(), Value::Bool),
        (_, Value::String(s)) => Value::String(s.trim().to_string()),
        _ => value.clone(),
    }
}

fn text<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    record.get(field).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn first_chars(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Letters and digits of `s`, lowercased.
fn alphanumeric(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// An alias from the names (first initial and last name, as Salesforce's
/// own form suggests) or, without names, from the username.
fn derive_alias(record: &Map<String, Value>) -> String {
    let first = text(record, "FirstName").map(alphanumeric).unwrap_or_default();
    let last = text(record, "LastName").map(alphanumeric).unwrap_or_default();
    let from_names = format!("{}{last}", first.chars().next().map(String::from).unwrap_or_default());
    let candidate = if last.is_empty() {
        alphanumeric(text(record, "Username").and_then(|u| u.split('@').next()).unwrap_or_default())
    } else {
        from_names
    };
    let alias = first_chars(&candidate, ALIAS_MAX);
    if alias.is_empty() {
        "user".to_string()
    } else {
        alias
    }
}

/// `username` made email-shaped: without an `@`, the domain of `email` or
/// the configured domain is appended.
fn email_shaped(username: &str, email: Option<&str>, domain: Option<&str>) -> Result<String, ConnectorError> {
    let username: String = username.chars().filter(|c| !c.is_whitespace()).collect();
    let shaped = match username.split_once('@') {
        Some((local, host)) if !local.is_empty() && host.contains('.') && !host.contains('@') => username.clone(),
        Some(_) => return Err(not_email(&username)),
        None => {
            let domain = email
                .and_then(|e| e.rsplit_once('@').map(|(_, d)| d))
                .or(domain)
                .map(|d| d.trim().trim_start_matches('@'))
                .filter(|d| d.contains('.'))
                .ok_or_else(|| not_email(&username))?;
            format!("{username}@{domain}")
        }
    };
    if shaped.chars().count() > USERNAME_MAX {
        return Err(refused(
            "STRING_TOO_LONG",
            format!("the Salesforce Username {shaped:?} is longer than {USERNAME_MAX} characters"),
        ));
    }
    Ok(shaped)
}

fn not_email(username: &str) -> ConnectorError {
    refused(
        "INVALID_NEW_VALUE",
        format!(
            "the Salesforce Username {username:?} is not email-shaped and there is no Email or username domain to \
             complete it: map an email-shaped value to Username, or set the username domain"
        ),
    )
}

/// The nickname base: the username's local part, at most 40 characters.
fn derive_nickname(username: &str) -> String {
    let local = username.split('@').next().unwrap_or(username);
    first_chars(local, NICKNAME_MAX)
}

/// `base` with a suffix, cut so that the whole fits in 40 characters.
pub fn nickname_with_suffix(base: &str, suffix: u32) -> String {
    let suffix = suffix.to_string();
    let keep = NICKNAME_MAX.saturating_sub(suffix.len());
    format!("{}{suffix}", first_chars(base, keep))
}

/// A User record for a create: the engine's attributes, the template
/// defaults for the locale fields, a derived or shortened `Alias`, an
/// email-shaped `Username` and a `CommunityNickname`. Refuses a record
/// without `ProfileId` before sending it.
pub fn new_user(
    attrs: &[(String, Value)],
    defaults: &UserDefaults,
    username_domain: Option<&str>,
) -> Result<Map<String, Value>, ConnectorError> {
    let mut record = Map::new();
    for (attr, value) in attrs {
        if value.is_null() {
            continue;
        }
        let field = field_name(attr)?;
        record.insert(field.clone(), field_value(&field, value));
    }
    if text(&record, "ProfileId").is_none() {
        return Err(refused(
            "REQUIRED_FIELD_MISSING",
            "no ProfileId: assign the user to the Salesforce app with a role that is a Salesforce profile (the \
             Default Access role gives none), or map a ProfileId"
                .to_string(),
        ));
    }
    let email = text(&record, "Email").map(str::to_string);
    let username = text(&record, "Username").map(str::to_string).or_else(|| email.clone()).ok_or_else(|| {
        refused("REQUIRED_FIELD_MISSING", "no Username and no Email to make one from: map Username".to_string())
    })?;
    let username = email_shaped(&username, email.as_deref(), username_domain)?;
    record.insert("Username".into(), Value::String(username.clone()));
    let alias = match text(&record, "Alias") {
        Some(a) => first_chars(a, ALIAS_MAX),
        None => derive_alias(&record),
    };
    record.insert("Alias".into(), Value::String(alias));
    let nickname = match text(&record, "CommunityNickname") {
        Some(n) => first_chars(n, NICKNAME_MAX),
        None => derive_nickname(&username),
    };
    record.insert("CommunityNickname".into(), Value::String(nickname));
    for (field, value) in [
        ("TimeZoneSidKey", &defaults.time_zone_sid_key),
        ("LocaleSidKey", &defaults.locale_sid_key),
        ("EmailEncodingKey", &defaults.email_encoding_key),
        ("LanguageLocaleKey", &defaults.language_locale_key),
    ] {
        if text(&record, field).is_none() {
            record.insert(field.into(), Value::String(value.clone()));
        }
    }
    Ok(record)
}

/// The body of one PATCH of a User: the fields of `ops` only (replace and
/// add set the value, remove sets null), fitted like a create.
pub fn patch_fields(
    ops: &[PatchOperation],
    username_domain: Option<&str>,
) -> Result<Map<String, Value>, ConnectorError> {
    let mut fields = Map::new();
    for op in ops {
        match (&op.path, op.op, &op.value) {
            (Some(path), PatchOp::Remove, _) => {
                fields.insert(field_name(path)?, Value::Null);
            }
            (Some(path), _, value) => {
                let field = field_name(path)?;
                let value = value.as_ref().map(|v| field_value(&field, v)).unwrap_or(Value::Null);
                fields.insert(field, value);
            }
            (None, PatchOp::Remove, _) => {
                return Err(refused("INVALID_FIELD", "a PATCH remove without a path: name the field".to_string()))
            }
            (None, _, Some(Value::Object(map))) => {
                for (attr, value) in map {
                    let field = field_name(attr)?;
                    fields.insert(field.clone(), field_value(&field, value));
                }
            }
            (None, _, _) => {
                return Err(refused("INVALID_FIELD", "a PATCH operation without a path or an object value".into()))
            }
        }
    }
    if let Some(alias) = fields.get("Alias").and_then(Value::as_str) {
        let alias = first_chars(alias, ALIAS_MAX);
        fields.insert("Alias".into(), Value::String(alias));
    }
    if let Some(nickname) = fields.get("CommunityNickname").and_then(Value::as_str) {
        let nickname = first_chars(nickname, NICKNAME_MAX);
        fields.insert("CommunityNickname".into(), Value::String(nickname));
    }
    if let Some(username) = text(&fields, "Username") {
        let shaped = email_shaped(username, text(&fields, "Email"), username_domain)?;
        fields.insert("Username".into(), Value::String(shaped));
    }
    Ok(fields)
}

/// One entry of Salesforce's error array.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SalesforceError {
    /// `REQUIRED_FIELD_MISSING`, `DUPLICATE_USERNAME`, ...
    #[serde(rename = "errorCode", default)]
    pub error_code: String,
    /// Salesforce's message.
    #[serde(default)]
    pub message: String,
    /// The fields concerned.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// The errors of an error body: the REST array, or the `errors` of a
/// create result (`{"id","success":false,"errors":[...]}`).
pub fn parse_errors(body: &[u8]) -> Vec<SalesforceError> {
    #[derive(Deserialize)]
    struct SaveResult {
        #[serde(default)]
        errors: Vec<SaveError>,
    }
    #[derive(Deserialize)]
    struct SaveError {
        #[serde(rename = "statusCode", alias = "errorCode", default)]
        code: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        fields: Vec<String>,
    }
    if let Ok(list) = serde_json::from_slice::<Vec<SalesforceError>>(body) {
        return list;
    }
    if let Ok(SaveResult { errors }) = serde_json::from_slice::<SaveResult>(body) {
        return errors
            .into_iter()
            .map(|e| SalesforceError { error_code: e.code, message: e.message, fields: e.fields })
            .collect();
    }
    Vec::new()
}

/// `<errorCode>: <message> [fields]` for each error, joined with `; `.
pub fn describe(errors: &[SalesforceError]) -> String {
    errors
        .iter()
        .map(|e| {
            let fields = if e.fields.is_empty() { String::new() } else { format!(" [{}]", e.fields.join(", ")) };
            format!("{}: {}{fields}", e.error_code, e.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaults() -> UserDefaults {
        UserDefaults::default()
    }

    fn attrs(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn field_names() {
        let cases: &[(&str, Option<&str>)] = &[
            ("active", Some("IsActive")),
            ("Active", Some("IsActive")),
            ("username", Some("Username")),
            ("federationidentifier", Some("FederationIdentifier")),
            ("Badge__c", Some("Badge__c")),
            ("a b", None),
            ("Name) OR (Id", None),
            ("", None),
            ("1x", None),
        ];
        for (attr, want) in cases {
            assert_eq!(field_name(attr).ok().as_deref(), *want, "{attr}");
        }
    }

    #[test]
    fn soql_literals() {
        let cases: &[(&str, &str)] =
            &[("a", "'a'"), ("O'Brien", r"'O\'Brien'"), (r"a\b", r"'a\\b'"), ("a\nb", r"'a\nb'"), ("", "''")];
        for (value, want) in cases {
            assert_eq!(soql_literal(value), *want);
        }
        assert_eq!(soql_equals("IsActive", "True"), "IsActive = true");
        assert_eq!(soql_equals("Email", "true"), "Email = 'true'");
    }

    #[test]
    fn aliases() {
        let cases: &[(&[(&str, Value)], &str)] = &[
            (&[("FirstName", json!("Ann")), ("LastName", json!("Smith-Jones"))], "asmithjo"),
            (&[("LastName", json!("Li"))], "li"),
            (&[("Username", json!("zoë.q@x.com"))], "zoëq"),
            (&[("Alias", json!("waytoolongalias"))], "waytoolo"),
            (&[("Alias", json!("  ab "))], "ab"),
        ];
        for (pairs, want) in cases {
            let mut a = attrs(pairs);
            a.push(("ProfileId".into(), json!("00e000000000001")));
            if !a.iter().any(|(k, _)| k == "Username") {
                a.push(("Username".into(), json!("u@x.com")));
            }
            let r = new_user(&a, &defaults(), None).expect("fits");
            assert_eq!(r["Alias"], json!(want), "{pairs:?}");
        }
    }

    #[test]
    fn usernames() {
        // (username, email, username domain, the username sent)
        type Case = (&'static str, Option<&'static str>, Option<&'static str>, Option<&'static str>);
        let cases: &[Case] = &[
            ("ann@x.com", None, None, Some("ann@x.com")),
            ("ann", Some("ann.smith@corp.com"), None, Some("ann@corp.com")),
            ("ann", None, Some("@sf.corp.com"), Some("ann@sf.corp.com")),
            (" an n ", None, Some("x.org"), Some("ann@x.org")),
            ("ann", None, None, None),
            ("ann@", None, Some("x.org"), None),
            ("ann@localhost", None, None, None),
        ];
        for (username, email, domain, want) in cases {
            assert_eq!(email_shaped(username, *email, *domain).ok().as_deref(), *want, "{username}");
        }
    }

    #[test]
    fn create_fills_required_fields() {
        let a = attrs(&[
            ("userName", json!("ann.smith")),
            ("Email", json!("ann.smith@x.com")),
            ("LastName", json!("Smith")),
            ("active", json!("False")),
            ("profileid", json!("00e000000000001")),
            ("TimeZoneSidKey", json!("Europe/Paris")),
            ("Title", Value::Null),
        ]);
        let r = new_user(&a, &defaults(), None).expect("fits");
        assert_eq!(r["Username"], json!("ann.smith@x.com"));
        assert_eq!(r["CommunityNickname"], json!("ann.smith"));
        assert_eq!(r["IsActive"], json!(false));
        assert_eq!(r["ProfileId"], json!("00e000000000001"));
        assert_eq!(r["TimeZoneSidKey"], json!("Europe/Paris"));
        assert_eq!(r["LocaleSidKey"], json!("en_US"));
        assert_eq!(r["EmailEncodingKey"], json!("UTF-8"));
        assert_eq!(r["LanguageLocaleKey"], json!("en_US"));
        assert!(!r.contains_key("Title"));
        let none = new_user(&attrs(&[("Username", json!("a@x.com"))]), &defaults(), None);
        assert!(
            matches!(none, Err(ConnectorError::Permanent { scim_type: Some(t), .. }) if t == "REQUIRED_FIELD_MISSING")
        );
    }

    #[test]
    fn nicknames_fit() {
        assert_eq!(nickname_with_suffix("ann", 42), "ann42");
        let long = "x".repeat(45);
        assert_eq!(nickname_with_suffix(&long, 12345).chars().count(), NICKNAME_MAX);
    }

    #[test]
    fn patches_only_what_changes() {
        let ops = vec![
            PatchOperation::new(PatchOp::Replace, "active", Some(json!("False"))),
            PatchOperation::new(PatchOp::Remove, "Title", None),
            PatchOperation::new(PatchOp::Add, "alias", Some(json!("abcdefghij"))),
        ];
        let body = patch_fields(&ops, None).expect("fits");
        assert_eq!(Value::Object(body), json!({"IsActive": false, "Title": null, "Alias": "abcdefgh"}));
        let bad = vec![PatchOperation::new(PatchOp::Replace, "emails[type eq \"work\"].value", Some(json!("x")))];
        assert!(patch_fields(&bad, None).is_err());
    }

    #[test]
    fn errors_read_as_they_are() {
        let body = br#"[{"message":"Required fields are missing: [Alias]","errorCode":"REQUIRED_FIELD_MISSING","fields":["Alias"]}]"#;
        let errors = parse_errors(body);
        assert_eq!(describe(&errors), "REQUIRED_FIELD_MISSING: Required fields are missing: [Alias] [Alias]");
        let save = br#"{"id":null,"success":false,"errors":[{"statusCode":"DUPLICATE_USERNAME","message":"dup","fields":[]}]}"#;
        assert_eq!(describe(&parse_errors(save)), "DUPLICATE_USERNAME: dup");
        assert!(parse_errors(b"<html>").is_empty());
    }
}
