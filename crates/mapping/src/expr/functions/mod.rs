//! The built-in functions: their names and argument counts (checked at parse
//! time), what is prepared once at parse time (compiled regexes, the form of
//! `Replace`), the dispatch from a call to its implementation, and the
//! conversions of argument values that every function shares.
//!
//! Null handling is uniform unless a function's doc says otherwise: a null
//! input gives a null result, and a null result means "no value" to a
//! mapping.

mod dates;
mod encoding;
mod lists;
mod logic;
mod random;
mod replace;
pub(crate) mod text;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_dates;

use chrono::{DateTime, Utc};

use super::error::{EvalError, ParseError};
use super::{eval_node, Call, EvalContext, Node};
use crate::value::{SourceObject, Value};

/// Every function of the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Append,
    AppRoleAssignmentsComplex,
    BitAnd,
    CBool,
    CDate,
    Coalesce,
    ConvertToBase64,
    ConvertToUtf8Hex,
    Count,
    CStr,
    DateAdd,
    DateDiff,
    DateFromNum,
    FormatDateTime,
    Guid,
    IgnoreFlowIfNullOrEmpty,
    Iif,
    InStr,
    IsNull,
    IsNullOrEmpty,
    IsPresent,
    IsString,
    Item,
    Join,
    Left,
    Len,
    Mid,
    NormalizeDiacritics,
    Not,
    Now,
    NumFromDate,
    PCase,
    RandomString,
    Redact,
    RemoveDuplicates,
    Replace,
    SelectUniqueValue,
    SingleAppRoleAssignment,
    Split,
    StripSpaces,
    Switch,
    ToLower,
    ToUpper,
    Word,
}

/// No upper bound on the number of arguments.
const MANY: usize = usize::MAX;

/// A function's name as the reference spells it and its argument counts.
pub(crate) struct Spec {
    pub name: &'static str,
    pub func: Func,
    pub min: usize,
    pub max: usize,
}

const fn spec(name: &'static str, func: Func, min: usize, max: usize) -> Spec {
    Spec { name, func, min, max }
}

/// The function table, one row per function.
const SPECS: &[Spec] = &[
    spec("Append", Func::Append, 2, 2),
    spec("AppRoleAssignmentsComplex", Func::AppRoleAssignmentsComplex, 1, 1),
    spec("BitAnd", Func::BitAnd, 2, 2),
    spec("CBool", Func::CBool, 1, 1),
    spec("CDate", Func::CDate, 1, 1),
    spec("Coalesce", Func::Coalesce, 1, MANY),
    spec("ConvertToBase64", Func::ConvertToBase64, 1, 1),
    spec("ConvertToUTF8Hex", Func::ConvertToUtf8Hex, 1, 1),
    spec("Count", Func::Count, 1, 1),
    spec("CStr", Func::CStr, 1, 1),
    spec("DateAdd", Func::DateAdd, 3, 3),
    spec("DateDiff", Func::DateDiff, 3, 3),
    spec("DateFromNum", Func::DateFromNum, 1, 1),
    spec("FormatDateTime", Func::FormatDateTime, 3, 6),
    spec("Guid", Func::Guid, 0, 0),
    spec("IgnoreFlowIfNullOrEmpty", Func::IgnoreFlowIfNullOrEmpty, 1, 1),
    spec("IIF", Func::Iif, 3, 3),
    spec("InStr", Func::InStr, 2, 4),
    spec("IsNull", Func::IsNull, 1, 1),
    spec("IsNullOrEmpty", Func::IsNullOrEmpty, 1, 1),
    spec("IsPresent", Func::IsPresent, 1, 1),
    spec("IsString", Func::IsString, 1, 1),
    spec("Item", Func::Item, 2, 2),
    spec("Join", Func::Join, 2, MANY),
    spec("Left", Func::Left, 2, 2),
    spec("Len", Func::Len, 1, 1),
    spec("Mid", Func::Mid, 3, 3),
    spec("NormalizeDiacritics", Func::NormalizeDiacritics, 1, 1),
    spec("Not", Func::Not, 1, 1),
    spec("Now", Func::Now, 0, 0),
    spec("NumFromDate", Func::NumFromDate, 1, 1),
    spec("PCase", Func::PCase, 1, 2),
    spec("RandomString", Func::RandomString, 1, 6),
    spec("Redact", Func::Redact, 1, 1),
    spec("RemoveDuplicates", Func::RemoveDuplicates, 1, 1),
    spec("Replace", Func::Replace, 3, 7),
    spec("SelectUniqueValue", Func::SelectUniqueValue, 2, MANY),
    spec("SingleAppRoleAssignment", Func::SingleAppRoleAssignment, 1, 1),
    spec("Split", Func::Split, 2, 2),
    spec("StripSpaces", Func::StripSpaces, 1, 1),
    spec("Switch", Func::Switch, 4, MANY),
    spec("ToLower", Func::ToLower, 1, 2),
    spec("ToUpper", Func::ToUpper, 1, 2),
    spec("Word", Func::Word, 3, 3),
];

/// The function named `name`, any case.
pub(crate) fn lookup(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// The names of all functions, as the reference spells them.
pub fn names() -> impl Iterator<Item = &'static str> {
    SPECS.iter().map(|s| s.name)
}

impl Func {
    /// The function's name as the reference spells it.
    pub(crate) fn name(self) -> &'static str {
        SPECS.iter().find(|s| s.func == self).map_or("?", |s| s.name)
    }
}

impl Spec {
    /// Refuses a call with too few or too many arguments, at the call.
    pub(crate) fn check_arity(&self, got: usize, pos: usize) -> Result<(), ParseError> {
        if (self.min..=self.max).contains(&got) {
            return Ok(());
        }
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        let expected = match (self.min, self.max) {
            (0, 0) => "no arguments".to_string(),
            (min, max) if min == max => format!("{min} {}", plural(min)),
            (min, MANY) => format!("at least {min} {}", plural(min)),
            (min, max) => format!("{min} to {max} arguments"),
        };
        Err(ParseError::new(pos, format!("{} expects {expected}, got {got}", self.name)))
    }
}

/// What a call prepares once, at parse time.
#[derive(Debug, Clone)]
pub(crate) enum Prepared {
    /// Nothing to prepare.
    Nothing,
    /// The form of a `Replace` call and its compiled constant regex.
    Replace(replace::Plan),
}

/// Checks what can be checked of a call's arguments before evaluation and
/// prepares what can be prepared. `positions` are the arguments' offsets.
pub(crate) fn prepare(func: Func, args: &[Node], positions: &[usize], pos: usize) -> Result<Prepared, ParseError> {
    match func {
        Func::Switch if args.len() % 2 != 0 => Err(ParseError::new(
            pos,
            "Switch expects key/value pairs after source and defaultValue \
             (an even number of arguments)",
        )),
        Func::Replace => replace::plan(args, positions, pos).map(Prepared::Replace),
        Func::DateAdd | Func::DateDiff => {
            dates::check_constant_interval(func, args, positions)?;
            Ok(Prepared::Nothing)
        }
        Func::FormatDateTime => {
            dates::check_constant_formats(args, positions)?;
            Ok(Prepared::Nothing)
        }
        _ => Ok(Prepared::Nothing),
    }
}

/// An attribute named by a string constant rather than referenced with
/// `[...]` (the `replacementAttributeName` of `Replace`).
pub(crate) fn named_attribute_argument(call: &Call) -> Option<&str> {
    match &call.prepared {
        Prepared::Replace(plan) => plan.attribute_by_name(&call.args),
        Prepared::Nothing => None,
    }
}

/// Evaluates a call.
pub(crate) fn call(call: &Call, src: &dyn SourceObject, ctx: &EvalContext) -> Result<Value, EvalError> {
    let a = Args { call, src, ctx };
    match call.func {
        Func::Append => text::append(&a),
        Func::AppRoleAssignmentsComplex => lists::app_role_assignments_complex(&a),
        Func::BitAnd => logic::bit_and(&a),
        Func::CBool => logic::cbool(&a),
        Func::CDate => dates::cdate(&a),
        Func::Coalesce => logic::coalesce(&a),
        Func::ConvertToBase64 => encoding::convert_to_base64(&a),
        Func::ConvertToUtf8Hex => encoding::convert_to_utf8_hex(&a),
        Func::Count => lists::count(&a),
        Func::CStr => logic::cstr(&a),
        Func::DateAdd => dates::date_add(&a),
        Func::DateDiff => dates::date_diff(&a),
        Func::DateFromNum => dates::date_from_num(&a),
        Func::FormatDateTime => dates::format_date_time(&a),
        Func::Guid => Ok(random::guid()),
        Func::IgnoreFlowIfNullOrEmpty => logic::ignore_flow_if_null_or_empty(&a),
        Func::Iif => logic::iif(&a),
        Func::InStr => text::instr(&a),
        Func::IsNull => Ok(Value::Bool(a.value(0)?.is_null())),
        Func::IsNullOrEmpty => Ok(Value::Bool(a.value(0)?.is_null_or_empty())),
        Func::IsPresent => Ok(Value::Bool(!a.value(0)?.is_null_or_empty())),
        Func::IsString => Ok(Value::Bool(matches!(a.value(0)?, Value::Str(_)))),
        Func::Item => lists::item(&a),
        Func::Join => lists::join(&a),
        Func::Left => text::left(&a),
        Func::Len => text::len(&a),
        Func::Mid => text::mid(&a),
        Func::NormalizeDiacritics => text::normalize_diacritics(&a),
        Func::Not => logic::not(&a),
        Func::Now => Ok(Value::Date(ctx.now)),
        Func::NumFromDate => dates::num_from_date(&a),
        Func::PCase => text::pcase(&a),
        Func::RandomString => random::random_string(&a),
        Func::Redact => a.value(0),
        Func::RemoveDuplicates => lists::remove_duplicates(&a),
        Func::Replace => replace::replace(&a),
        Func::SelectUniqueValue => logic::select_unique_value(&a),
        Func::SingleAppRoleAssignment => lists::single_app_role_assignment(&a),
        Func::Split => lists::split(&a),
        Func::StripSpaces => text::strip_spaces(&a),
        Func::Switch => logic::switch(&a),
        Func::ToLower => text::map_text(&a, |s| Ok(s.to_lowercase())),
        Func::ToUpper => text::map_text(&a, |s| Ok(s.to_uppercase())),
        Func::Word => text::word(&a),
    }
}

/// The arguments of one call being evaluated; each is evaluated on demand,
/// so functions like `IIF` evaluate only the branch they return.
pub(crate) struct Args<'a> {
    call: &'a Call,
    src: &'a dyn SourceObject,
    ctx: &'a EvalContext<'a>,
}

impl<'a> Args<'a> {
    /// The function's name, for errors.
    pub fn name(&self) -> &'static str {
        self.call.name
    }

    /// How many argument slots the call has (empty slots included).
    pub fn len(&self) -> usize {
        self.call.args.len()
    }

    /// The syntax node of slot `i`.
    pub fn node(&self, i: usize) -> Option<&'a Node> {
        self.call.args.get(i)
    }

    /// The source object being evaluated.
    pub fn source(&self) -> &'a dyn SourceObject {
        self.src
    }

    /// The evaluation context.
    pub fn context(&self) -> &'a EvalContext<'a> {
        self.ctx
    }

    /// The prepared data of the call.
    pub fn prepared(&self) -> &'a Prepared {
        &self.call.prepared
    }

    /// Evaluates slot `i` (0-based); a missing or empty slot is null.
    pub fn value(&self, i: usize) -> Result<Value, EvalError> {
        match self.call.args.get(i) {
            Some(node) => eval_node(node, self.src, self.ctx),
            None => Ok(Value::Null),
        }
    }

    /// Slot `i` as text (see [`into_text`]).
    pub fn text(&self, i: usize) -> Result<Option<String>, EvalError> {
        into_text(self.value(i)?, self.name(), i + 1)
    }

    /// Slot `i` as an integer (see [`into_int`]).
    pub fn int(&self, i: usize) -> Result<Option<i64>, EvalError> {
        into_int(self.value(i)?, self.name(), i + 1)
    }

    /// Slot `i` as a boolean (see [`into_bool`]).
    pub fn boolean(&self, i: usize) -> Result<Option<bool>, EvalError> {
        into_bool(self.value(i)?, self.name(), i + 1)
    }

    /// Slot `i` as a date (see [`into_date`]).
    pub fn date(&self, i: usize) -> Result<Option<DateTime<Utc>>, EvalError> {
        into_date(self.value(i)?, self.name(), i + 1)
    }
}

/// The error for an argument of the wrong type.
pub(crate) fn wrong_type(function: &'static str, argument: usize, expected: &'static str, found: &Value) -> EvalError {
    EvalError::WrongType { function, argument, expected, found: found.type_name() }
}

/// A scalar's text (see [`Value::to_text`]); null is `None`; lists and
/// complex values are refused.
pub(crate) fn into_text(v: Value, function: &'static str, argument: usize) -> Result<Option<String>, EvalError> {
    match v {
        Value::Null => Ok(None),
        Value::Str(s) => Ok(Some(s)),
        Value::List(_) | Value::Object(_) => Err(wrong_type(function, argument, "a single value", &v)),
        other => Ok(other.to_text().map(|t| t.into_owned())),
    }
}

/// An integer, or a string holding one; null is `None`.
pub(crate) fn into_int(v: Value, function: &'static str, argument: usize) -> Result<Option<i64>, EvalError> {
    match &v {
        Value::Null => Ok(None),
        Value::Int(i) => Ok(Some(*i)),
        Value::Str(s) => s.trim().parse().map(Some).map_err(|_| wrong_type(function, argument, "a whole number", &v)),
        _ => Err(wrong_type(function, argument, "a whole number", &v)),
    }
}

/// A boolean, the strings `True`/`False` (any case), or a number (non-zero
/// is true); null is `None`.
pub(crate) fn into_bool(v: Value, function: &'static str, argument: usize) -> Result<Option<bool>, EvalError> {
    match &v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::Int(i) => Ok(Some(*i != 0)),
        Value::Str(s) => {
            let t = s.trim();
            if t.eq_ignore_ascii_case("true") {
                Ok(Some(true))
            } else if t.eq_ignore_ascii_case("false") {
                Ok(Some(false))
            } else if let Ok(i) = t.parse::<i64>() {
                Ok(Some(i != 0))
            } else {
                Err(wrong_type(function, argument, "a boolean (True or False)", &v))
            }
        }
        _ => Err(wrong_type(function, argument, "a boolean (True or False)", &v)),
    }
}

/// A date, or a string in one of the date forms `CDate` reads; null is
/// `None`.
pub(crate) fn into_date(v: Value, function: &'static str, argument: usize) -> Result<Option<DateTime<Utc>>, EvalError> {
    match &v {
        Value::Null => Ok(None),
        Value::Date(d) => Ok(Some(*d)),
        Value::Str(s) => super::datetime::parse_flexible(s).map(Some).ok_or_else(|| EvalError::InvalidDate {
            function,
            value: s.clone(),
            message: "expected ISO-8601 (2012-03-16T07:00:00Z, 2012-03-16-07:00), \
                          generalized time (20150123105347.1Z) or M/d/yyyy h:mm:ss tt"
                .to_string(),
        }),
        _ => Err(wrong_type(function, argument, "a date", &v)),
    }
}
