//! Attribute paths as used by attribute mappings and PATCH operations
//! (RFC 7644 §3.5.2 `PATH`): `userName`, `name.givenName`,
//! `emails[type eq "work"].value`, `urn:...:enterprise:2.0:User:manager`.

use std::fmt;

use serde_json::Value;

use crate::{is_boolean_attr, parse_bool, ENTERPRISE_USER, GROUP_SCHEMA, USER_SCHEMA};

/// Why a path could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is empty.
    #[error("empty attribute path")]
    Empty,
    /// An attribute name has characters SCIM does not allow.
    #[error("invalid attribute name {0:?}")]
    InvalidName(String),
    /// A `[` has no matching `]`.
    #[error("unclosed '[' in attribute path")]
    UnclosedBracket,
    /// The value filter is not `attr eq value`.
    #[error("unsupported value filter {0:?}: only `attr eq value` is supported")]
    UnsupportedFilter(String),
    /// Text follows the value filter that is not `.subAttribute`.
    #[error("unexpected text after value filter: {0:?}")]
    Trailing(String),
}

/// The `[attr eq value]` part of a path into a multi-valued attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueFilter {
    /// The sub-attribute compared, e.g. `type`.
    pub attr: String,
    /// The value it must equal (a string or a boolean).
    pub value: Value,
}

/// How many parsed paths [`AttrPath::parse_cached`] keeps per thread.
pub const PARSED_KEPT: usize = 1024;

/// A parsed attribute path.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The extension schema URN, or `None` for core attributes (a core
    /// schema URN prefix is dropped).
    pub schema: Option<String>,
    /// The attribute name, e.g. `emails`.
    pub attr: String,
    /// The value filter of a multi-valued attribute.
    pub filter: Option<ValueFilter>,
    /// The sub-attribute, e.g. `value` or `givenName`.
    pub sub_attr: Option<String>,
}

/// A path split into its parts, the filter still as text.
#[derive(Debug)]
pub(crate) struct RawPath<'a> {
    pub schema: Option<String>,
    pub attr: &'a str,
    pub filter: Option<&'a str>,
    pub sub: Option<&'a str>,
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '$' || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
}

fn name(s: &str) -> Result<&str, PathError> {
    if valid_name(s) {
        Ok(s)
    } else {
        Err(PathError::InvalidName(s.to_string()))
    }
}

/// Normalises a schema URN: core schemas become `None`, the enterprise
/// extension gets its canonical spelling.
pub(crate) fn normalize_schema(urn: &str) -> Option<String> {
    if urn.eq_ignore_ascii_case(USER_SCHEMA) || urn.eq_ignore_ascii_case(GROUP_SCHEMA) {
        None
    } else if urn.eq_ignore_ascii_case(ENTERPRISE_USER) {
        Some(ENTERPRISE_USER.to_string())
    } else {
        Some(urn.to_string())
    }
}

/// Index of the `]` closing the `[` at `open`, skipping quoted strings.
fn closing_bracket(s: &str, open: usize) -> Option<usize> {
    let mut in_str = false;
    let mut escaped = false;
    let mut depth = 0usize;
    for (i, c) in s.char_indices().skip_while(|(i, _)| *i < open) {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '[' => depth += 1,
            ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits a path into schema, attribute, filter text and sub-attribute.
pub(crate) fn split(s: &str) -> Result<RawPath<'_>, PathError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(PathError::Empty);
    }
    let bracket = s.find('[');
    let head = &s[..bracket.unwrap_or(s.len())];
    let (schema, rest) = if crate::is_urn(head) {
        let idx = head.rfind(':').ok_or(PathError::Empty)?;
        (normalize_schema(&head[..idx]), &head[idx + 1..])
    } else {
        (None, head)
    };
    match bracket {
        None => {
            let (attr, sub) = match rest.split_once('.') {
                Some((a, b)) => (a, Some(name(b)?)),
                None => (rest, None),
            };
            Ok(RawPath { schema, attr: name(attr)?, filter: None, sub })
        }
        Some(open) => {
            let close = closing_bracket(s, open).ok_or(PathError::UnclosedBracket)?;
            let after = &s[close + 1..];
            let sub = if after.is_empty() {
                None
            } else if let Some(sub) = after.strip_prefix('.') {
                Some(name(sub)?)
            } else {
                return Err(PathError::Trailing(after.to_string()));
            };
            Ok(RawPath { schema, attr: name(rest)?, filter: Some(&s[open + 1..close]), sub })
        }
    }
}

fn parse_value_filter(text: &str) -> Result<ValueFilter, PathError> {
    let unsupported = || PathError::UnsupportedFilter(text.to_string());
    let t = text.trim();
    let (attr, rest) = t.split_once(char::is_whitespace).ok_or_else(unsupported)?;
    let rest = rest.trim_start();
    let (op, literal) = rest.split_once(char::is_whitespace).ok_or_else(unsupported)?;
    if !op.eq_ignore_ascii_case("eq") || !valid_name(attr) {
        return Err(unsupported());
    }
    let value: Value = serde_json::from_str(literal.trim()).map_err(|_| unsupported())?;
    let value = match value {
        Value::String(s) if is_boolean_attr(attr) => match parse_bool(&s) {
            Some(b) => Value::Bool(b),
            None => Value::String(s),
        },
        v @ (Value::String(_) | Value::Bool(_) | Value::Number(_)) => v,
        _ => return Err(unsupported()),
    };
    Ok(ValueFilter { attr: attr.to_string(), value })
}

/// Whether two filter values are equal: strings case-insensitively,
/// `"true"` equal to `true`.
pub(crate) fn filter_value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::Bool(x), Value::String(y)) | (Value::String(y), Value::Bool(x)) => parse_bool(y) == Some(*x),
        _ => a == b,
    }
}

fn opt_eq_ci(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => false,
    }
}

impl AttrPath {
    /// Parses a path. Value filters must be `attr eq value` with a string,
    /// boolean or number value; a string `"True"`/`"False"` compared with a
    /// boolean attribute (`primary`) becomes a boolean.
    pub fn parse(s: &str) -> Result<AttrPath, PathError> {
        let raw = split(s)?;
        let filter = raw.filter.map(parse_value_filter).transpose()?;
        Ok(AttrPath { schema: raw.schema, attr: raw.attr.to_string(), filter, sub_attr: raw.sub.map(str::to_string) })
    }

    /// [`AttrPath::parse`], remembered on this thread: a cycle parses the same
    /// few mapping targets for every object it sends (to coerce the values,
    /// build the resource, read the answer back). At most [`PARSED_KEPT`]
    /// paths are kept; the cache starts over when it is full, so that paths
    /// from elsewhere cannot grow it without bound. A path that does not parse
    /// is not kept.
    pub fn parse_cached(s: &str) -> Result<std::sync::Arc<AttrPath>, PathError> {
        use std::cell::RefCell;
        use std::collections::HashMap;
        use std::sync::Arc;
        // Looked up several times per attribute of every object: a fast hash,
        // seeded per map.
        type Parsed = HashMap<String, Arc<AttrPath>, foldhash::fast::RandomState>;
        thread_local! {
            static PARSED: RefCell<Parsed> = RefCell::new(Parsed::default());
        }
        if let Some(hit) = PARSED.with(|p| p.borrow().get(s).cloned()) {
            return Ok(hit);
        }
        let parsed = Arc::new(AttrPath::parse(s)?);
        PARSED.with(|p| {
            let mut p = p.borrow_mut();
            if p.len() >= PARSED_KEPT {
                p.clear();
            }
            p.insert(s.to_string(), parsed.clone());
        });
        Ok(parsed)
    }

    /// A simple core attribute path (`userName`).
    pub fn simple(attr: &str) -> AttrPath {
        AttrPath { schema: None, attr: attr.to_string(), filter: None, sub_attr: None }
    }

    /// The same path without its sub-attribute: the multi-valued entry
    /// (`emails[type eq "work"]`) or the complex attribute (`name`).
    pub fn entry(&self) -> AttrPath {
        AttrPath { sub_attr: None, ..self.clone() }
    }

    /// The attribute with its schema prefix but neither filter nor
    /// sub-attribute (`emails`, `urn:...:User:manager`).
    pub fn attribute(&self) -> AttrPath {
        AttrPath { filter: None, sub_attr: None, ..self.clone() }
    }

    /// Whether the path is in the enterprise user extension.
    pub fn is_enterprise(&self) -> bool {
        self.schema.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(ENTERPRISE_USER))
    }

    /// Whether the last component (sub-attribute, else attribute) is `name`.
    pub fn ends_with(&self, name: &str) -> bool {
        self.sub_attr.as_deref().unwrap_or(&self.attr).eq_ignore_ascii_case(name)
    }

    /// Whether both paths name the same multi-valued entry or attribute,
    /// ignoring sub-attributes and letter case.
    pub fn same_entry(&self, other: &AttrPath) -> bool {
        opt_eq_ci(self.schema.as_deref(), other.schema.as_deref())
            && self.attr.eq_ignore_ascii_case(&other.attr)
            && match (&self.filter, &other.filter) {
                (None, None) => true,
                (Some(a), Some(b)) => a.attr.eq_ignore_ascii_case(&b.attr) && filter_value_eq(&a.value, &b.value),
                _ => false,
            }
    }

    /// Whether both paths are the same, ignoring letter case.
    pub fn same_path(&self, other: &AttrPath) -> bool {
        self.same_entry(other) && opt_eq_ci(self.sub_attr.as_deref(), other.sub_attr.as_deref())
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{} eq {}]", filter.attr, filter.value)?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cached_parse_is_the_parse_and_the_cache_stays_bounded() {
        let p = "emails[type eq \"work\"].value";
        assert_eq!(*AttrPath::parse_cached(p).unwrap(), AttrPath::parse(p).unwrap());
        assert_eq!(*AttrPath::parse_cached(p).unwrap(), AttrPath::parse(p).unwrap());
        assert!(AttrPath::parse_cached("emails[type eq").is_err());
        assert!(AttrPath::parse_cached("emails[type eq").is_err());
        // More distinct paths than the cache keeps: every one still parses right.
        for i in 0..PARSED_KEPT + 10 {
            let p = format!("attr{i}.sub");
            assert_eq!(AttrPath::parse_cached(&p).unwrap().attr, format!("attr{i}"));
        }
        assert_eq!(*AttrPath::parse_cached(p).unwrap(), AttrPath::parse(p).unwrap());
    }

    type Want<'a> = Result<(Option<&'a str>, &'a str, Option<(&'a str, Value)>, Option<&'a str>), ()>;

    fn check(input: &str, want: Want) {
        let got = AttrPath::parse(input);
        match (got, want) {
            (Ok(p), Ok((schema, attr, filter, sub))) => {
                assert_eq!(p.schema.as_deref(), schema, "{input}");
                assert_eq!(p.attr, attr, "{input}");
                assert_eq!(p.filter.map(|f| (f.attr, f.value)), filter.map(|(a, v)| (a.to_string(), v)), "{input}");
                assert_eq!(p.sub_attr.as_deref(), sub, "{input}");
            }
            (Err(_), Err(())) => {}
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn parses_paths() {
        let ent = Some(ENTERPRISE_USER);
        let cases: Vec<(&str, Result<_, ()>)> = vec![
            ("userName", Ok((None, "userName", None, None))),
            ("name.givenName", Ok((None, "name", None, Some("givenName")))),
            ("emails[type eq \"work\"].value", Ok((None, "emails", Some(("type", json!("work"))), Some("value")))),
            (
                "addresses[type eq \"work\"].postalCode",
                Ok((None, "addresses", Some(("type", json!("work"))), Some("postalCode"))),
            ),
            (
                "phoneNumbers[type EQ \"mobile\"].value",
                Ok((None, "phoneNumbers", Some(("type", json!("mobile"))), Some("value"))),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                Ok((ent, "department", None, None)),
            ),
            ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", Ok((ent, "manager", None, None))),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                Ok((ent, "manager", None, Some("value"))),
            ),
            ("urn:ietf:params:scim:schemas:core:2.0:User:userName", Ok((None, "userName", None, None))),
            ("roles[primary eq \"True\"].value", Ok((None, "roles", Some(("primary", json!(true))), Some("value")))),
            ("members", Ok((None, "members", None, None))),
            ("members[value eq \"a]b\"]", Ok((None, "members", Some(("value", json!("a]b"))), None))),
            ("", Err(())),
            ("emails[type eq \"work\"", Err(())),
            ("emails[type co \"w\"].value", Err(())),
            ("emails[type eq \"work\"]x", Err(())),
            ("na me", Err(())),
            ("1abc", Err(())),
        ];
        for (input, want) in cases {
            check(input, want);
        }
    }

    #[test]
    fn displays_canonically() {
        for (input, want) in [
            ("emails[type eq \"work\"].value", "emails[type eq \"work\"].value"),
            ("roles[primary eq \"True\"].value", "roles[primary eq true].value"),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            ),
            ("name.givenName", "name.givenName"),
        ] {
            assert_eq!(AttrPath::parse(input).map(|p| p.to_string()).ok().as_deref(), Some(want));
        }
    }
}
