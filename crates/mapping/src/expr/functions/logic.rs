//! Conditions, conversions and flow control: BitAnd, CBool, Coalesce, CStr,
//! IgnoreFlowIfNullOrEmpty, IIF, Not, SelectUniqueValue, Switch.
//! (IsNull, IsNullOrEmpty, IsPresent, IsString and Redact are one-liners in
//! the dispatch.)

use super::text::eq_ignore_case;
use super::{into_text, Args};
use crate::expr::error::EvalError;
use crate::expr::Node;
use crate::value::Value;

/// `IIF(condition, valueIfTrue, valueIfFalse)`: evaluates only the branch it
/// returns. The condition is a boolean, `True`/`False` text or a number; a
/// null condition counts as false.
pub(crate) fn iif(a: &Args) -> Result<Value, EvalError> {
    if a.boolean(0)?.unwrap_or(false) {
        a.value(1)
    } else {
        a.value(2)
    }
}

/// `Switch(source, defaultValue, key1, value1, key2, value2, ...)`: the value
/// of the first key equal to source (compared as text, case-insensitively:
/// `True` matches a boolean true), else defaultValue. A null source gives
/// defaultValue.
pub(crate) fn switch(a: &Args) -> Result<Value, EvalError> {
    let source = a.value(0)?;
    let Some(source) = source.to_text() else {
        return a.value(1);
    };
    let mut i = 2;
    while i + 1 < a.len() {
        // Keys are nearly always string constants: compare them in place.
        let matched = match a.node(i) {
            Some(Node::Const(Value::Str(key))) => eq_ignore_case(key, &source),
            _ => a.value(i)?.to_text().is_some_and(|key| eq_ignore_case(&key, &source)),
        };
        if matched {
            return a.value(i + 1);
        }
        i += 2;
    }
    a.value(1)
}

/// `Coalesce(source1, source2, ..., defaultValue)`: the first argument that
/// has a value. Empty strings and empty lists are skipped like nulls (so
/// `Coalesce([mailNickname], [objectId])` falls back on an empty nickname).
pub(crate) fn coalesce(a: &Args) -> Result<Value, EvalError> {
    for i in 0..a.len() {
        let v = a.value(i)?;
        if !v.is_null_or_empty() {
            return Ok(v);
        }
    }
    Ok(Value::Null)
}

/// `Not(source)`: the boolean negation; `True`/`False` text is accepted.
/// Null gives null.
pub(crate) fn not(a: &Args) -> Result<Value, EvalError> {
    Ok(a.boolean(0)?.map_or(Value::Null, |b| Value::Bool(!b)))
}

/// `CBool(expression)`: true for a boolean true, `True` text or a non-zero
/// number; false otherwise, including null (as the reference says). Text
/// that is neither a boolean nor a number is an error.
pub(crate) fn cbool(a: &Args) -> Result<Value, EvalError> {
    Ok(Value::Bool(a.boolean(0)?.unwrap_or(false)))
}

/// `CStr(value)`: the text of a scalar (`True`/`False` for booleans, ISO-8601
/// for dates). Null gives null; a multi-valued attribute is an error.
pub(crate) fn cstr(a: &Args) -> Result<Value, EvalError> {
    Ok(a.text(0)?.map_or(Value::Null, Value::Str))
}

/// `BitAnd(value1, value2)`: the bitwise AND of two integers. Null in
/// either gives null.
pub(crate) fn bit_and(a: &Args) -> Result<Value, EvalError> {
    match (a.int(0)?, a.int(1)?) {
        (Some(x), Some(y)) => Ok(Value::Int(x & y)),
        _ => Ok(Value::Null),
    }
}

/// `IgnoreFlowIfNullOrEmpty(expression)`: the value, or — when it is null or
/// empty — [`EvalError::IgnoreFlow`], which makes the mapping leave the
/// attribute out entirely (not even default values apply).
pub(crate) fn ignore_flow_if_null_or_empty(a: &Args) -> Result<Value, EvalError> {
    let v = a.value(0)?;
    if v.is_null_or_empty() {
        Err(EvalError::IgnoreFlow)
    } else {
        Ok(v)
    }
}

/// `SelectUniqueValue(rule1, rule2, ...)`: evaluates the rules in order and
/// returns the first non-empty value the context's uniqueness probe accepts
/// (without a probe, the first non-empty value). When every candidate is
/// taken: [`EvalError::NoUniqueValue`]. Must be the outermost function.
pub(crate) fn select_unique_value(a: &Args) -> Result<Value, EvalError> {
    let probe = a.context().uniqueness;
    let mut tried = Vec::new();
    for i in 0..a.len() {
        let Some(candidate) = into_text(a.value(i)?, a.name(), i + 1)? else {
            continue;
        };
        if candidate.is_empty() {
            continue;
        }
        match probe {
            None => return Ok(Value::Str(candidate)),
            Some(p) if p.is_unique(&candidate) => return Ok(Value::Str(candidate)),
            Some(_) => tried.push(candidate),
        }
    }
    if tried.is_empty() {
        Ok(Value::Null)
    } else {
        Err(EvalError::NoUniqueValue { candidates: tried })
    }
}
