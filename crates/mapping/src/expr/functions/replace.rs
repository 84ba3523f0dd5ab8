//! `Replace(source, oldValue, regexPattern, regexGroupName, replacementValue,
//! replacementAttributeName, template)` and its forms. Which arguments are
//! given decides what it does, as in the reference's table:
//!
//! | given                                               | result |
//! |-----------------------------------------------------|--------|
//! | oldValue, replacementValue                          | every oldValue in source replaced by replacementValue (case-sensitive) |
//! | oldValue, template                                  | every oldValue in template replaced by source |
//! | regexPattern, replacementValue                      | every match in source replaced by replacementValue (which may use `$1`, `${name}`, `$&`) |
//! | regexPattern, regexGroupName, replacementValue      | in every match, the named group's text replaced by replacementValue |
//! | regexPattern, regexGroupName, replacementAttributeName | source if it has a value; else the named group of the first match in the replacement attribute |
//!
//! The form is decided at parse time from which slots are filled; other
//! combinations are parse errors. A constant pattern is compiled once.

use std::borrow::Cow;

use regex::Regex;

use super::text::{invalid, map_text};
use super::{into_text, Args, Prepared};
use crate::expr::error::{EvalError, ParseError};
use crate::expr::limits::{replace_bounded, string_too_long, MAX_STRING_BYTES};
use crate::expr::{eval_node, Node};
use crate::value::Value;

const SOURCE: usize = 0;
const OLD_VALUE: usize = 1;
const REGEX: usize = 2;
const GROUP: usize = 3;
const REPLACEMENT: usize = 4;
const ATTRIBUTE: usize = 5;
const TEMPLATE: usize = 6;

/// Which form of Replace a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// oldValue → replacementValue.
    Plain,
    /// oldValue in template → source.
    Template,
    /// regexPattern → replacementValue.
    Regex,
    /// regexPattern's group regexGroupName → replacementValue.
    RegexGroup,
    /// source, or regexGroupName extracted from replacementAttributeName.
    GroupFromAttribute,
}

/// The prepared form of a Replace call.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    mode: Mode,
    regex: Option<Regex>,
}

impl Plan {
    /// The replacementAttributeName when written as a string constant.
    pub(crate) fn attribute_by_name<'a>(&self, args: &'a [Node]) -> Option<&'a str> {
        match (self.mode, args.get(ATTRIBUTE)) {
            (Mode::GroupFromAttribute, Some(Node::Const(Value::Str(name)))) => Some(name),
            _ => None,
        }
    }
}

fn filled(args: &[Node], i: usize) -> bool {
    !matches!(args.get(i), None | Some(Node::Empty))
}

/// Decides the form of a Replace call and compiles a constant pattern.
pub(crate) fn plan(args: &[Node], positions: &[usize], pos: usize) -> Result<Plan, ParseError> {
    let has = |i| filled(args, i);
    let fail = |m: &str| Err(ParseError::new(pos, format!("Replace: {m}")));
    let mode = match (has(OLD_VALUE), has(REGEX)) {
        (true, true) => return fail("give either an oldValue or a regexPattern, not both"),
        (false, false) => return fail("needs an oldValue or a regexPattern"),
        (true, false) if has(TEMPLATE) => Mode::Template,
        (true, false) if has(REPLACEMENT) => Mode::Plain,
        (true, false) => return fail("an oldValue needs a replacementValue or a template"),
        (false, true) => match (has(GROUP), has(REPLACEMENT), has(ATTRIBUTE)) {
            (_, true, true) => return fail("give either a replacementValue or a replacementAttributeName, not both"),
            (false, true, false) => Mode::Regex,
            (true, true, false) => Mode::RegexGroup,
            (true, false, true) => Mode::GroupFromAttribute,
            (false, false, true) => return fail("a replacementAttributeName needs a regexGroupName to extract"),
            (_, false, false) => return fail("a regexPattern needs a replacementValue or a replacementAttributeName"),
        },
    };
    let regex = match args.get(REGEX) {
        Some(Node::Const(Value::Str(pattern))) => {
            let at = positions.get(REGEX).copied().unwrap_or(pos);
            let re = Regex::new(pattern)
                .map_err(|e| ParseError::new(at, format!("invalid regular expression: {}", first_line(&e))))?;
            if let Some(Node::Const(Value::Str(group))) = args.get(GROUP) {
                if re.capture_names().flatten().all(|n| n != group) {
                    let at = positions.get(GROUP).copied().unwrap_or(pos);
                    return Err(ParseError::new(at, format!("the regexPattern has no group named {group:?}")));
                }
            }
            Some(re)
        }
        _ => None,
    };
    Ok(Plan { mode, regex })
}

fn first_line(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .map_or(text.clone(), |l| l.trim_start_matches("error:").trim().to_string())
}

/// Evaluates a Replace call.
pub(crate) fn replace(a: &Args) -> Result<Value, EvalError> {
    let Prepared::Replace(plan) = a.prepared() else {
        return Err(invalid(a, 1, "Replace was not prepared".into()));
    };
    match plan.mode {
        Mode::Plain => {
            let old = a.text(OLD_VALUE)?.unwrap_or_default();
            let new = a.text(REPLACEMENT)?.unwrap_or_default();
            map_text(a, |s| if old.is_empty() { Ok(s) } else { replace_bounded(&s, &old, &new, a.name()) })
        }
        Mode::Template => {
            let old = a.text(OLD_VALUE)?.unwrap_or_default();
            let template = a.text(TEMPLATE)?.unwrap_or_default();
            map_text(a, |s| {
                if old.is_empty() {
                    Ok(template.clone())
                } else {
                    replace_bounded(&template, &old, &s, a.name())
                }
            })
        }
        Mode::Regex => {
            let re = regex(a, plan)?;
            let new = dotnet_replacement(&a.text(REPLACEMENT)?.unwrap_or_default());
            map_text(a, |s| replace_all_bounded(&re, &new, &s).ok_or_else(|| string_too_long(a.name())))
        }
        Mode::RegexGroup => {
            let re = regex(a, plan)?;
            let group = group_name(a, &re)?;
            let new = dotnet_replacement(&a.text(REPLACEMENT)?.unwrap_or_default());
            map_text(a, |s| replace_group(&re, &group, &new, &s).ok_or_else(|| string_too_long(a.name())))
        }
        Mode::GroupFromAttribute => {
            let source = a.value(SOURCE)?;
            if !source.is_null_or_empty() {
                return Ok(source);
            }
            let re = regex(a, plan)?;
            let group = group_name(a, &re)?;
            let from = match a.node(ATTRIBUTE) {
                Some(Node::Const(Value::Str(name))) => a.source().attribute(name),
                Some(node) => eval_node(node, a.source(), a.context())?,
                None => Value::Null,
            };
            let Some(text) = into_text(from, a.name(), ATTRIBUTE + 1)? else {
                return Ok(Value::Null);
            };
            Ok(re
                .captures(&text)
                .and_then(|c| c.name(&group))
                .map_or(Value::Null, |m| Value::Str(m.as_str().to_string())))
        }
    }
}

/// The prepared regex, or the pattern evaluated and compiled now.
fn regex<'p>(a: &Args, plan: &'p Plan) -> Result<Cow<'p, Regex>, EvalError> {
    if let Some(re) = &plan.regex {
        return Ok(Cow::Borrowed(re));
    }
    let pattern = a.text(REGEX)?.unwrap_or_default();
    Regex::new(&pattern).map(Cow::Owned).map_err(|e| EvalError::InvalidRegex {
        function: a.name(),
        pattern,
        message: first_line(&e),
    })
}

fn group_name(a: &Args, re: &Regex) -> Result<String, EvalError> {
    let group = a.text(GROUP)?.unwrap_or_default();
    if re.capture_names().flatten().any(|n| n == group) {
        Ok(group)
    } else {
        Err(invalid(a, GROUP + 1, format!("the regexPattern has no group named {group:?}")))
    }
}

/// Replaces the text of group `group` in every match by `new` (expanded
/// against that match's groups); `None` once the result passes the bound.
fn replace_group(re: &Regex, group: &str, new: &str, s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for caps in re.captures_iter(s) {
        if let Some(m) = caps.name(group) {
            out.push_str(&s[last..m.start()]);
            caps.expand(new, &mut out);
            last = m.end();
            if out.len() > MAX_STRING_BYTES {
                return None;
            }
        }
    }
    out.push_str(&s[last..]);
    (out.len() <= MAX_STRING_BYTES).then_some(out)
}

/// What `Regex::replace_all` gives (`new` expanded against each match), built
/// match by match; `None` once the result passes the bound.
fn replace_all_bounded(re: &Regex, new: &str, s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for caps in re.captures_iter(s) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&s[last..m.start()]);
        caps.expand(new, &mut out);
        last = m.end();
        if out.len() > MAX_STRING_BYTES {
            return None;
        }
    }
    out.push_str(&s[last..]);
    (out.len() <= MAX_STRING_BYTES).then_some(out)
}

/// Rewrites a .NET replacement string for the regex crate: `$1` becomes
/// `${1}` (so `$1a` stays group 1 then `a`), `$&` the whole match, `${name}`
/// and `$$` are kept, and any other `$` is a literal dollar.
pub(crate) fn dotnet_replacement(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.push_str("$$");
                i += 2;
            }
            Some('&') => {
                out.push_str("${0}");
                i += 2;
            }
            Some('{') => match chars[i..].iter().position(|&c| c == '}') {
                Some(close) => {
                    out.extend(&chars[i..=i + close]);
                    i += close + 1;
                }
                None => {
                    out.push_str("$$");
                    i += 1;
                }
            },
            Some(c) if c.is_ascii_digit() => {
                let digits: String = chars[i + 1..].iter().take_while(|c| c.is_ascii_digit()).collect();
                out.push_str("${");
                out.push_str(&digits);
                out.push('}');
                i += 1 + digits.len();
            }
            _ => {
                out.push_str("$$");
                i += 1;
            }
        }
    }
    out
}
