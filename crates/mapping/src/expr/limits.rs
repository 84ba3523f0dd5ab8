//! Bounds on what an expression may compute. A few nested calls can multiply a
//! value's size (three `Replace` calls in a 512-byte expression once made 100 MB),
//! and the API, the engine, the preview and the portal's tester all evaluate
//! expressions: every value a function returns is checked here, and the functions
//! that multiply (`Replace`, `Join`) stop as soon as their result passes the bound,
//! before it is built whole.

use super::error::EvalError;
use crate::value::Value;

/// The most bytes of one string an expression may compute: 64 KiB.
pub const MAX_STRING_BYTES: usize = 64 << 10;

/// The most items of one list an expression may compute.
pub const MAX_LIST_ITEMS: usize = 10_000;

/// The error of `function` computing a string past [`MAX_STRING_BYTES`].
pub(crate) fn string_too_long(function: &'static str) -> EvalError {
    EvalError::TooLarge { function, limit: format!("a string of at most {MAX_STRING_BYTES} bytes") }
}

/// Checks the value `function` returned against the bounds.
pub(crate) fn check(value: Value, function: &'static str) -> Result<Value, EvalError> {
    match &value {
        Value::Str(s) if s.len() > MAX_STRING_BYTES => Err(string_too_long(function)),
        Value::List(items) if items.len() > MAX_LIST_ITEMS => {
            Err(EvalError::TooLarge { function, limit: format!("a list of at most {MAX_LIST_ITEMS} items") })
        }
        Value::List(items) if items.iter().any(|i| matches!(i, Value::Str(s) if s.len() > MAX_STRING_BYTES)) => {
            Err(string_too_long(function))
        }
        _ => Ok(value),
    }
}

/// `s` with every `old` replaced by `new`, or the error when the result would
/// pass [`MAX_STRING_BYTES`] (computed before anything is built).
pub(crate) fn replace_bounded(s: &str, old: &str, new: &str, function: &'static str) -> Result<String, EvalError> {
    let count = s.matches(old).count();
    let length = (s.len() - count * old.len()).saturating_add(count.saturating_mul(new.len()));
    if length > MAX_STRING_BYTES {
        return Err(string_too_long(function));
    }
    Ok(s.replace(old, new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_within_the_bounds_pass_and_others_name_the_function() {
        let ok = |v: Value| assert!(check(v, "Replace").is_ok());
        ok(Value::Str("x".repeat(MAX_STRING_BYTES)));
        ok(Value::List(vec![Value::Int(1); MAX_LIST_ITEMS]));
        let refused = |v: Value, limit: &str| {
            let e = check(v, "Replace").expect_err("past the bound");
            assert!(e.to_string().starts_with("Replace: ") && e.to_string().contains(limit), "{e}");
        };
        refused(Value::Str("x".repeat(MAX_STRING_BYTES + 1)), "65536 bytes");
        refused(Value::List(vec![Value::Int(1); MAX_LIST_ITEMS + 1]), "10000 items");
        refused(Value::List(vec![Value::Str("x".repeat(MAX_STRING_BYTES + 1))]), "65536 bytes");
    }

    #[test]
    fn a_replacement_past_the_bound_is_refused_before_it_is_built() {
        assert_eq!(replace_bounded("a-b", "-", "+", "Replace"), Ok("a+b".to_string()));
        let big = "x".repeat(1000);
        assert!(replace_bounded(&"a".repeat(1000), "a", &big, "Replace").is_err());
    }
}
