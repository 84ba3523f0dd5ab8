//! SCIM filters (RFC 7644 §3.4.2.2): parsing `attr op value` expressions
//! with `and`, `or`, `not (...)`, parentheses and value paths such as
//! `emails[type eq "work"].value`, and matching them against resources.

use serde_json::{Number, Value};

use crate::path::split;
use crate::resource::get_ci;

/// The deepest nesting of parentheses, `not` and brackets accepted.
const MAX_DEPTH: usize = 32;

/// Why a filter could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter at position {position}: {message}")]
pub struct FilterError {
    /// Byte offset in the filter text.
    pub position: usize,
    /// What was wrong.
    pub message: String,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// contains
    Co,
    /// starts with
    Sw,
    /// ends with
    Ew,
    /// greater than
    Gt,
    /// greater than or equal
    Ge,
    /// less than
    Lt,
    /// less than or equal
    Le,
}

impl CompareOp {
    fn parse(s: &str) -> Option<CompareOp> {
        Some(match s.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
}

/// An attribute named in a filter: `userName`, `name.givenName`,
/// `members.value`, `urn:...:User:department`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterPath {
    /// Extension schema URN (core schema prefixes are dropped).
    pub schema: Option<String>,
    /// The attribute.
    pub attr: String,
    /// The sub-attribute.
    pub sub_attr: Option<String>,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr op value`
    Compare {
        /// The attribute compared.
        path: FilterPath,
        /// The operator.
        op: CompareOp,
        /// The literal: string, number, boolean or null.
        value: Value,
    },
    /// `attr pr`
    Present(FilterPath),
    /// `a and b`
    And(Box<Filter>, Box<Filter>),
    /// `a or b`
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`
    Not(Box<Filter>),
    /// `attr[filter]` or `attr[filter].sub op value`: some entry of the
    /// multi-valued `attr` matches `filter` (and `then`, evaluated on the
    /// same entry).
    ValuePath {
        /// The multi-valued attribute.
        path: FilterPath,
        /// The filter over its entries.
        filter: Box<Filter>,
        /// The comparison of a sub-attribute after the brackets.
        then: Option<Box<Filter>>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    LBracket,
    RBracket,
    Word(String),
    Str(String),
    Num(Number),
}

fn err(position: usize, message: impl Into<String>) -> FilterError {
    FilterError { position, message: message.into() }
}

fn tokenize(s: &str) -> Result<Vec<(usize, Tok)>, FilterError> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push((start, Tok::Open));
                i += 1;
            }
            b')' => {
                out.push((start, Tok::Close));
                i += 1;
            }
            b'[' => {
                out.push((start, Tok::LBracket));
                i += 1;
            }
            b']' => {
                out.push((start, Tok::RBracket));
                i += 1;
            }
            b'"' => {
                i += 1;
                let mut escaped = false;
                while i < bytes.len() && (escaped || bytes[i] != b'"') {
                    escaped = !escaped && bytes[i] == b'\\';
                    i += 1;
                }
                if i >= bytes.len() {
                    return Err(err(start, "unterminated string"));
                }
                i += 1;
                let text: String =
                    serde_json::from_str(&s[start..i]).map_err(|e| err(start, format!("bad string: {e}")))?;
                out.push((start, Tok::Str(text)));
            }
            b'-' | b'0'..=b'9' => {
                while i < bytes.len() && matches!(bytes[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                    i += 1;
                }
                let n: Number = s[start..i].parse().map_err(|_| err(start, "bad number"))?;
                out.push((start, Tok::Num(n)));
            }
            c if c.is_ascii_alphabetic() || matches!(c, b'_' | b'$' | b'.') => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'$' | b'.' | b':' | b'-'))
                {
                    i += 1;
                }
                out.push((start, Tok::Word(s[start..i].to_string())));
            }
            _ => {
                return Err(err(start, format!("unexpected character {:?}", s[start..].chars().next().unwrap_or(' '))))
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }
    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(p, _)| *p)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(_, t)| t.clone());
        self.pos += 1;
        t
    }
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }
    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), FilterError> {
        let at = self.offset();
        match self.next() {
            Some(t) if t == tok => Ok(()),
            _ => Err(err(at, format!("expected {what}"))),
        }
    }

    fn or(&mut self, depth: usize) -> Result<Filter, FilterError> {
        if depth > MAX_DEPTH {
            return Err(err(self.offset(), "filter nested too deeply"));
        }
        let mut left = self.and(depth)?;
        while self.peek_word("or") {
            self.pos += 1;
            let right = self.and(depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let mut left = self.unary(depth)?;
        while self.peek_word("and") {
            self.pos += 1;
            let right = self.unary(depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, FilterError> {
        if self.peek_word("not") {
            self.pos += 1;
            self.expect(Tok::Open, "'(' after not")?;
            let inner = self.or(depth + 1)?;
            self.expect(Tok::Close, "')'")?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            let inner = self.or(depth + 1)?;
            self.expect(Tok::Close, "')'")?;
            return Ok(inner);
        }
        let at = self.offset();
        let path = match self.next() {
            Some(Tok::Word(w)) => parse_filter_path(&w, at)?,
            _ => return Err(err(at, "expected an attribute")),
        };
        if self.peek() == Some(&Tok::LBracket) {
            self.pos += 1;
            let inner = self.or(depth + 1)?;
            self.expect(Tok::RBracket, "']'")?;
            let then = match self.peek() {
                Some(Tok::Word(w)) if w.starts_with('.') => {
                    let at = self.offset();
                    let sub = parse_filter_path(&w[1..], at)?;
                    self.pos += 1;
                    Some(Box::new(self.comparison(sub)?))
                }
                _ => None,
            };
            return Ok(Filter::ValuePath { path, filter: Box::new(inner), then });
        }
        self.comparison(path)
    }

    fn comparison(&mut self, path: FilterPath) -> Result<Filter, FilterError> {
        let at = self.offset();
        let op = match self.next() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("pr") => return Ok(Filter::Present(path)),
            Some(Tok::Word(w)) => CompareOp::parse(&w).ok_or_else(|| err(at, format!("unknown operator {w:?}")))?,
            _ => return Err(err(at, "expected an operator")),
        };
        let at = self.offset();
        let value = match self.next() {
            Some(Tok::Str(s)) => Value::String(s),
            Some(Tok::Num(n)) => Value::Number(n),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Value::Null,
            _ => return Err(err(at, "expected a value")),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

fn parse_filter_path(word: &str, at: usize) -> Result<FilterPath, FilterError> {
    let raw = split(word).map_err(|e| err(at, e.to_string()))?;
    Ok(FilterPath { schema: raw.schema, attr: raw.attr.to_string(), sub_attr: raw.sub.map(str::to_string) })
}

/// The values a path names in `resource`, multi-valued ones flattened.
fn resolve<'a>(resource: &'a Value, path: &FilterPath) -> Vec<&'a Value> {
    let Some(root) = resource.as_object() else {
        return Vec::new();
    };
    let container = match &path.schema {
        Some(schema) => match get_ci(root, schema).and_then(Value::as_object) {
            Some(c) => c,
            None => return Vec::new(),
        },
        None => root,
    };
    let Some(value) = get_ci(container, &path.attr) else {
        return Vec::new();
    };
    let sub_of = |v: &'a Value, sub: &str| v.as_object().and_then(|o| get_ci(o, sub));
    let mut out = Vec::new();
    match (value, &path.sub_attr) {
        (Value::Array(items), Some(sub)) => out.extend(items.iter().filter_map(|i| sub_of(i, sub))),
        (Value::Array(items), None) => {
            out.extend(items.iter().map(|i| if i.is_object() { sub_of(i, "value").unwrap_or(i) } else { i }))
        }
        (v, Some(sub)) => out.extend(sub_of(v, sub)),
        (v, None) => out.push(v),
    }
    out.retain(|v| !v.is_null());
    out
}

fn compare(candidate: &Value, op: CompareOp, literal: &Value, exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordering = match (candidate, literal) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = if exact { (a.clone(), b.clone()) } else { (a.to_lowercase(), b.to_lowercase()) };
            match op {
                CompareOp::Co => return a.contains(&b),
                CompareOp::Sw => return a.starts_with(&b),
                CompareOp::Ew => return a.ends_with(&b),
                _ => a.cmp(&b),
            }
        }
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Less),
            _ => return false,
        },
        (Value::Bool(a), Value::Bool(b)) if matches!(op, CompareOp::Eq | CompareOp::Ne) => a.cmp(b),
        _ => return false,
    };
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

impl Filter {
    /// Parses a filter.
    pub fn parse(s: &str) -> Result<Filter, FilterError> {
        let toks = tokenize(s)?;
        if toks.is_empty() {
            return Err(err(0, "empty filter"));
        }
        let mut p = Parser { toks, pos: 0, end: s.len() };
        let f = p.or(0)?;
        if p.pos < p.toks.len() {
            return Err(err(p.offset(), "unexpected text after the filter"));
        }
        Ok(f)
    }

    /// Whether `resource` matches. Strings compare case-insensitively,
    /// except `id` and `externalId`; `ne` matches an absent attribute.
    pub fn matches(&self, resource: &Value) -> bool {
        match self {
            Filter::Compare { path, op, value } => {
                let found = resolve(resource, path);
                if value.is_null() {
                    return match op {
                        CompareOp::Eq => found.is_empty(),
                        CompareOp::Ne => !found.is_empty(),
                        _ => false,
                    };
                }
                let name = path.sub_attr.as_deref().unwrap_or(&path.attr);
                let exact = path.sub_attr.is_none()
                    && (name.eq_ignore_ascii_case("id") || name.eq_ignore_ascii_case("externalId"));
                if *op == CompareOp::Ne {
                    return !found.iter().any(|c| compare(c, CompareOp::Eq, value, exact));
                }
                found.iter().any(|c| compare(c, *op, value, exact))
            }
            Filter::Present(path) => resolve(resource, path).iter().any(|v| match v {
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            }),
            Filter::And(a, b) => a.matches(resource) && b.matches(resource),
            Filter::Or(a, b) => a.matches(resource) || b.matches(resource),
            Filter::Not(a) => !a.matches(resource),
            Filter::ValuePath { path, filter, then } => {
                let entries: Vec<&Value> = {
                    let whole = FilterPath { sub_attr: None, ..path.clone() };
                    let root = resource.as_object();
                    let container = match &whole.schema {
                        Some(s) => root.and_then(|r| get_ci(r, s)).and_then(Value::as_object),
                        None => root,
                    };
                    match container.and_then(|c| get_ci(c, &whole.attr)) {
                        Some(Value::Array(items)) => items.iter().collect(),
                        Some(v @ Value::Object(_)) => vec![v],
                        _ => Vec::new(),
                    }
                };
                entries.into_iter().any(|e| filter.matches(e) && then.as_ref().is_none_or(|t| t.matches(e)))
            }
        }
    }

    /// If the filter is exactly `attr eq "string"` on a core attribute
    /// (no sub-attribute), that attribute and string: lets servers use an
    /// index.
    pub fn as_simple_eq(&self) -> Option<(&str, &str)> {
        match self {
            Filter::Compare { path, op: CompareOp::Eq, value: Value::String(s) }
                if path.schema.is_none() && path.sub_attr.is_none() =>
            {
                Some((path.attr.as_str(), s.as_str()))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(filter: &str, resource: &Value, want: Result<bool, ()>) {
        let got = Filter::parse(filter).map(|f| f.matches(resource)).map_err(|_| ());
        assert_eq!(got, want, "{filter}");
    }

    #[test]
    fn parses_and_matches() {
        let user = json!({
            "id": "AbC", "externalId": "Ext", "userName": "Alice@Example.com", "active": true,
            "name": {"givenName": "Alice"}, "age": 30,
            "emails": [{"type": "work", "value": "a@w.com"}, {"type": "home", "value": "a@h.com"}],
            "members": [{"value": "u1"}, {"value": "u2"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"},
            "meta": {"lastModified": "2024-05-01T00:00:00Z"}
        });
        let cases: Vec<(&str, Result<bool, ()>)> = vec![
            ("userName eq \"alice@example.com\"", Ok(true)),
            ("USERNAME Eq \"ALICE@example.com\"", Ok(true)),
            ("userName ne \"alice@example.com\"", Ok(false)),
            ("title ne \"x\"", Ok(true)),
            ("userName co \"example\"", Ok(true)),
            ("userName sw \"ali\"", Ok(true)),
            ("userName ew \".com\"", Ok(true)),
            ("id eq \"abc\"", Ok(false)),
            ("id eq \"AbC\"", Ok(true)),
            ("externalId eq \"ext\"", Ok(false)),
            ("title pr", Ok(false)),
            ("name.givenName pr", Ok(true)),
            ("active eq true", Ok(true)),
            ("active eq false", Ok(false)),
            ("title eq null", Ok(true)),
            ("age gt 29", Ok(true)),
            ("age le 29", Ok(false)),
            ("age ge 30 and age lt 31", Ok(true)),
            ("meta.lastModified gt \"2024-01-01T00:00:00Z\"", Ok(true)),
            ("emails[type eq \"work\"].value eq \"a@w.com\"", Ok(true)),
            ("emails[type eq \"work\"].value eq \"a@h.com\"", Ok(false)),
            ("emails[type eq \"work\" and value co \"@w\"]", Ok(true)),
            ("emails.value eq \"a@h.com\"", Ok(true)),
            ("members.value eq \"u2\"", Ok(true)),
            ("members[value eq \"u3\"]", Ok(false)),
            ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"sales\"", Ok(true)),
            ("urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"a\"", Ok(true)),
            ("not (userName eq \"x\")", Ok(true)),
            ("userName eq \"x\" or (active eq true and not (title pr))", Ok(true)),
            ("userName eq \"x\" or userName eq \"y\"", Ok(false)),
            ("userName eq \"a\\\"b\"", Ok(false)),
            ("", Err(())),
            ("userName", Err(())),
            ("userName zz \"x\"", Err(())),
            ("userName eq", Err(())),
            ("userName eq \"x", Err(())),
            ("(userName eq \"x\"", Err(())),
            ("userName eq \"x\" extra", Err(())),
            ("not userName eq \"x\"", Err(())),
            ("emails[type eq \"work\"", Err(())),
            ("userName eq x", Err(())),
            ("userName eq \"x\" #", Err(())),
        ];
        for (f, want) in cases {
            check(f, &user, want);
        }
    }

    #[test]
    fn limits_depth_and_reports_position() {
        let deep = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
        assert!(Filter::parse(&deep).is_err());
        let ok = format!("{}userName pr{}", "(".repeat(10), ")".repeat(10));
        assert!(Filter::parse(&ok).is_ok());
        assert_eq!(Filter::parse("userName zz \"x\"").err().map(|e| e.position), Some(9));
    }

    #[test]
    fn simple_eq() {
        let f = Filter::parse("userName eq \"Bob\"").ok();
        assert_eq!(f.as_ref().and_then(Filter::as_simple_eq), Some(("userName", "Bob")));
        let f = Filter::parse("userName sw \"Bob\"").ok();
        assert_eq!(f.as_ref().and_then(Filter::as_simple_eq), None);
    }
}
