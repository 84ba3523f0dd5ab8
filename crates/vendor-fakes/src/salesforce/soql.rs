//! The part of SOQL the fake understands: `SELECT f, ... FROM Object
//! [WHERE Field = literal] [ORDER BY Field [ASC|DESC]] [LIMIT n]` over
//! User, Profile, UserRole and Organization, with SOQL's quoted string
//! escapes. Keywords, field and object names are case-insensitive, and so
//! is `=` on text, as in Salesforce.

use serde_json::{json, Map, Value};

use super::users::USER_FIELDS;
use super::SalesforceState;

/// A refusal of a query: Salesforce's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SoqlError {
    pub(super) code: &'static str,
    pub(super) message: String,
}

fn malformed(message: impl Into<String>) -> SoqlError {
    SoqlError { code: "MALFORMED_QUERY", message: message.into() }
}

/// A literal of a condition.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Literal {
    Text(String),
    Bool(bool),
    Null,
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Soql {
    pub(super) fields: Vec<String>,
    pub(super) object: String,
    pub(super) condition: Option<(String, Literal)>,
    pub(super) order: Option<(String, bool)>,
    pub(super) limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Comma,
    Equals,
    Text(String),
}

/// Reads a quoted string after its opening quote; SOQL's escapes only.
fn quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<String, SoqlError> {
    let mut out = String::new();
    loop {
        match chars.next() {
            None => return Err(malformed("unterminated string literal")),
            Some('\'') => return Ok(out),
            Some('\\') => {
                let escaped = match chars.next() {
                    Some('n' | 'N') => '\n',
                    Some('r' | 'R') => '\r',
                    Some('t' | 'T') => '\t',
                    Some('b' | 'B') => '\u{8}',
                    Some('f' | 'F') => '\u{c}',
                    Some('"') => '"',
                    Some('\'') => '\'',
                    Some('\\') => '\\',
                    Some('u') => {
                        let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                        u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| malformed(format!("invalid unicode escape \\u{hex}")))?
                    }
                    other => {
                        return Err(malformed(format!(
                            "Invalid string literal: a backslash before {:?} is not a SOQL escape",
                            other.unwrap_or(' ')
                        )))
                    }
                };
                out.push(escaped);
            }
            Some(c) => out.push(c),
        }
    }
}

fn tokens(q: &str) -> Result<Vec<Token>, SoqlError> {
    let mut out = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            ',' => {
                chars.next();
                out.push(Token::Comma);
            }
            '=' => {
                chars.next();
                out.push(Token::Equals);
            }
            '\'' => {
                chars.next();
                out.push(Token::Text(quoted(&mut chars)?));
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' => {
                let mut word = String::new();
                while let Some(&c) = chars.peek().filter(|c| c.is_alphanumeric() || **c == '_' || **c == '.') {
                    word.push(c);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
            other => return Err(malformed(format!("unexpected token: '{other}'"))),
        }
    }
    Ok(out)
}

fn keyword(token: Option<&Token>, word: &str) -> bool {
    matches!(token, Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
}

fn word(token: Option<&Token>, what: &str) -> Result<String, SoqlError> {
    match token {
        Some(Token::Word(w)) => Ok(w.clone()),
        other => Err(malformed(format!("expected {what}, found {other:?}"))),
    }
}

/// Parses a query of the shape the fake supports.
pub(super) fn parse(q: &str) -> Result<Soql, SoqlError> {
    let toks = tokens(q)?;
    let mut it = toks.iter().peekable();
    if !keyword(it.next(), "SELECT") {
        return Err(malformed("unexpected token: the query must start with SELECT"));
    }
    let mut fields = vec![word(it.next(), "a field")?];
    while it.peek() == Some(&&Token::Comma) {
        it.next();
        fields.push(word(it.next(), "a field")?);
    }
    if !keyword(it.next(), "FROM") {
        return Err(malformed("expected FROM after the fields"));
    }
    let object = word(it.next(), "an object")?;
    let mut query = Soql { fields, object, condition: None, order: None, limit: None };
    if keyword(it.peek().copied(), "WHERE") {
        it.next();
        let field = word(it.next(), "a field")?;
        if it.next() != Some(&Token::Equals) {
            return Err(malformed("the fake supports only Field = value conditions"));
        }
        let literal = match it.next() {
            Some(Token::Text(s)) => Literal::Text(s.clone()),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
            other => return Err(malformed(format!("unexpected token: {other:?}"))),
        };
        query.condition = Some((field, literal));
    }
    if keyword(it.peek().copied(), "ORDER") {
        it.next();
        if !keyword(it.next(), "BY") {
            return Err(malformed("expected BY after ORDER"));
        }
        let field = word(it.next(), "a field")?;
        let mut descending = false;
        if keyword(it.peek().copied(), "ASC") || keyword(it.peek().copied(), "DESC") {
            descending = keyword(it.next(), "DESC");
        }
        query.order = Some((field, descending));
    }
    if keyword(it.peek().copied(), "LIMIT") {
        it.next();
        let n = word(it.next(), "a number")?;
        query.limit = Some(n.parse().map_err(|_| malformed(format!("invalid LIMIT {n}")))?);
    }
    if let Some(extra) = it.next() {
        return Err(malformed(format!("unexpected token: {extra:?}")));
    }
    Ok(query)
}

/// An object's records and field names.
struct Table {
    object: &'static str,
    columns: Vec<&'static str>,
    rows: Vec<Map<String, Value>>,
}

/// The table of an object named in any case.
fn table(st: &SalesforceState, object: &str) -> Option<Table> {
    let to_map = |v: Value| match v {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if object.eq_ignore_ascii_case("User") {
        let names = USER_FIELDS.iter().map(|f| f.name).collect();
        return Some(Table { object: "User", columns: names, rows: st.users.clone() });
    }
    if object.eq_ignore_ascii_case("Profile") {
        let rows = st
            .org
            .profiles
            .iter()
            .map(|p| to_map(json!({"Id": p.id, "Name": p.name, "Description": p.description, "UserType": p.user_type})))
            .collect();
        return Some(Table { object: "Profile", columns: vec!["Id", "Name", "Description", "UserType"], rows });
    }
    if object.eq_ignore_ascii_case("UserRole") {
        let rows = st.org.roles.iter().map(|r| to_map(json!({"Id": r.id, "Name": r.name}))).collect();
        return Some(Table { object: "UserRole", columns: vec!["Id", "Name"], rows });
    }
    if object.eq_ignore_ascii_case("Organization") {
        let row = to_map(
            json!({"Id": st.org.org_id, "Name": st.org.name, "IsSandbox": false, "OrganizationType": "Enterprise Edition"}),
        );
        let columns = vec!["Id", "Name", "IsSandbox", "OrganizationType"];
        return Some(Table { object: "Organization", columns, rows: vec![row] });
    }
    None
}

fn column(names: &[&'static str], object: &str, field: &str) -> Result<&'static str, SoqlError> {
    names.iter().copied().find(|n| n.eq_ignore_ascii_case(field)).ok_or_else(|| SoqlError {
        code: "INVALID_FIELD",
        message: format!(
            "No such column '{field}' on entity '{object}'. If you are attempting to use a custom field, be sure to \
             append the '__c' after the custom field name."
        ),
    })
}

fn matches(value: Option<&Value>, field: &str, literal: &Literal) -> bool {
    match (literal, value) {
        (Literal::Null, v) => v.is_none_or(Value::is_null),
        (Literal::Bool(b), Some(Value::Bool(v))) => v == b,
        (Literal::Text(t), Some(Value::String(v))) if field == "Id" || field.ends_with("Id") => v == t,
        (Literal::Text(t), Some(Value::String(v))) => v.to_lowercase() == t.to_lowercase(),
        _ => false,
    }
}

fn sort_key(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.to_lowercase(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Runs a query: the matching records with `attributes` and the selected
/// fields, in order.
pub(super) fn run(st: &SalesforceState, q: &Soql, version: &str) -> Result<Vec<Value>, SoqlError> {
    let Some(Table { object, columns: names, rows }) = table(st, &q.object) else {
        return Err(SoqlError {
            code: "INVALID_TYPE",
            message: format!("sObject type '{}' is not supported.", q.object),
        });
    };
    let fields = q.fields.iter().map(|f| column(&names, object, f)).collect::<Result<Vec<_>, _>>()?;
    let condition = match &q.condition {
        Some((f, lit)) => Some((column(&names, object, f)?, lit)),
        None => None,
    };
    let order = match &q.order {
        Some((f, desc)) => Some((column(&names, object, f)?, *desc)),
        None => None,
    };
    if let Some((field, Literal::Bool(_))) = condition {
        if !matches!(field, "IsActive" | "IsSandbox") {
            return Err(malformed(format!("field {field} is not a boolean: compare it with a quoted string")));
        }
    }
    let mut selected: Vec<Map<String, Value>> =
        rows.into_iter().filter(|r| condition.is_none_or(|(f, lit)| matches(r.get(f), f, lit))).collect();
    if let Some((field, descending)) = order {
        selected.sort_by_key(|r| sort_key(r.get(field)));
        if descending {
            selected.reverse();
        }
    }
    if let Some(limit) = q.limit {
        selected.truncate(limit);
    }
    Ok(selected
        .into_iter()
        .map(|r| {
            let id = r.get("Id").and_then(Value::as_str).unwrap_or_default();
            let mut out = Map::new();
            out.insert(
                "attributes".into(),
                json!({"type": object, "url": format!("/services/data/{version}/sobjects/{object}/{id}")}),
            );
            for f in &fields {
                out.insert((*f).to_string(), r.get(*f).cloned().unwrap_or(Value::Null));
            }
            Value::Object(out)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(q: &str, want: Result<Soql, &str>) {
        let got = parse(q).map_err(|e| e.code);
        assert_eq!(got, want, "{q}");
    }

    fn soql(fields: &[&str], object: &str) -> Soql {
        Soql {
            fields: fields.iter().map(|f| f.to_string()).collect(),
            object: object.into(),
            condition: None,
            order: None,
            limit: None,
        }
    }

    #[test]
    fn parses_what_the_connector_sends() {
        check("SELECT Id, Name FROM Profile", Ok(soql(&["Id", "Name"], "Profile")));
        check(
            r"select Id from User where Username = 'o\'b\\r\n\u00e9' order by Id desc limit 5",
            Ok(Soql {
                condition: Some(("Username".into(), Literal::Text("o'b\\r\né".into()))),
                order: Some(("Id".into(), true)),
                limit: Some(5),
                ..soql(&["Id"], "User")
            }),
        );
        check(
            "SELECT Id FROM User WHERE IsActive = false",
            Ok(Soql { condition: Some(("IsActive".into(), Literal::Bool(false))), ..soql(&["Id"], "User") }),
        );
        check("SELECT Id FROM User WHERE Username = 'a", Err("MALFORMED_QUERY"));
        check(r"SELECT Id FROM User WHERE Username = 'a\x'", Err("MALFORMED_QUERY"));
        check("SELECT Id FROM User WHERE Username = 'a' OR Id = 'b'", Err("MALFORMED_QUERY"));
        check("SELECT Id User", Err("MALFORMED_QUERY"));
        check("DELETE FROM User", Err("MALFORMED_QUERY"));
        check("SELECT Id FROM User LIMIT x", Err("MALFORMED_QUERY"));
    }
}
