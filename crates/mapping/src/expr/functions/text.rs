//! String functions: Append, InStr, Left, Len, Mid, NormalizeDiacritics,
//! PCase, StripSpaces, ToLower, ToUpper, Word. Indexes are 1-based and count
//! characters, not bytes. Functions marked "per value" apply to each value of
//! a multi-valued attribute.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::{into_text, Args};
use crate::expr::error::EvalError;
use crate::value::Value;

/// Case-insensitive comparison (full Unicode lower-casing), without
/// allocating.
pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars().flat_map(char::to_lowercase).eq(b.chars().flat_map(char::to_lowercase))
}

/// Applies `op` to the text of argument 0, per value of a multi-valued
/// attribute; null stays null (and null values of a list are dropped).
pub(crate) fn map_text(a: &Args, op: impl Fn(String) -> Result<String, EvalError>) -> Result<Value, EvalError> {
    match a.value(0)? {
        Value::Null => Ok(Value::Null),
        Value::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if let Some(s) = into_text(item, a.name(), 1)? {
                    out.push(Value::Str(op(s)?));
                }
            }
            Ok(Value::List(out))
        }
        v => match into_text(v, a.name(), 1)? {
            Some(s) => Ok(Value::Str(op(s)?)),
            None => Ok(Value::Null),
        },
    }
}

/// `Append(source, suffix)`: source followed by suffix, per value. A null
/// source gives null (so `Append([mailNickname], "@contoso.com")` sends
/// nothing rather than a bare suffix); a null suffix appends nothing.
pub(crate) fn append(a: &Args) -> Result<Value, EvalError> {
    let suffix = a.text(1)?.unwrap_or_default();
    map_text(a, |mut s| {
        s.push_str(&suffix);
        Ok(s)
    })
}

/// `Left(source, numChars)`: the first `numChars` characters; all of them
/// when the source is shorter or `numChars` is negative (as the reference
/// says); empty for 0. Null source gives null.
pub(crate) fn left(a: &Args) -> Result<Value, EvalError> {
    let n = a.int(1)?.unwrap_or(0);
    map_text(a, |s| {
        if n < 0 {
            return Ok(s);
        }
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        Ok(s.chars().take(n).collect())
    })
}

/// `Mid(source, start, length)`: `length` characters from the 1-based
/// `start`; empty when start is past the end; the rest of the string when
/// length runs past it. start < 1 or length < 0 is an error. Null source
/// gives null.
pub(crate) fn mid(a: &Args) -> Result<Value, EvalError> {
    let start = a.int(1)?.unwrap_or(1);
    let length = a.int(2)?.unwrap_or(0);
    if start < 1 {
        return Err(invalid(a, 2, format!("start must be 1 or more, got {start}")));
    }
    if length < 0 {
        return Err(invalid(a, 3, format!("length must be 0 or more, got {length}")));
    }
    let skip = usize::try_from(start - 1).unwrap_or(usize::MAX);
    let take = usize::try_from(length).unwrap_or(usize::MAX);
    map_text(a, |s| Ok(s.chars().skip(skip).take(take).collect()))
}

/// `Len(source)`: the number of characters. Null counts as 0, like
/// `Count`. A multi-valued attribute is refused (use `Count`).
pub(crate) fn len(a: &Args) -> Result<Value, EvalError> {
    let n = a.text(0)?.map_or(0, |s| s.chars().count());
    Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// `StripSpaces(source)`: removes every whitespace character, per value.
pub(crate) fn strip_spaces(a: &Args) -> Result<Value, EvalError> {
    map_text(a, |s| Ok(s.chars().filter(|c| !c.is_whitespace()).collect()))
}

/// `NormalizeDiacritics(source)`: replaces accented letters by their base
/// letter (`Zoë` → `Zoe`), per value. Letters without a decomposition are
/// mapped as the reference's table does: æ→ae, ø→o, ł→l, ß→ss, đ→d, ı→i,
/// œ→oe, þ→th, ð→d (and the capitals).
pub(crate) fn normalize_diacritics(a: &Args) -> Result<Value, EvalError> {
    map_text(a, |s| Ok(strip_diacritics(&s)))
}

/// The work of [`normalize_diacritics`], also used by tests and tools.
pub(crate) fn strip_diacritics(s: &str) -> String {
    if s.is_ascii() {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'æ' => out.push_str("ae"),
            'Æ' => out.push_str("AE"),
            'œ' => out.push_str("oe"),
            'Œ' => out.push_str("OE"),
            'ø' => out.push('o'),
            'Ø' => out.push('O'),
            'ł' => out.push('l'),
            'Ł' => out.push('L'),
            'ß' => out.push_str("ss"),
            'đ' | 'ð' => out.push('d'),
            'Đ' | 'Ð' => out.push('D'),
            'ı' => out.push('i'),
            'þ' => out.push_str("th"),
            'Þ' => out.push_str("TH"),
            c => out.push(c),
        }
    }
    out
}

/// `PCase(source[, wordSeparators])`: the first letter of each word in
/// upper case, every other letter in lower case (`"NEW YORK"` → `"New
/// York"`), per value. Without `wordSeparators`, any character that is not
/// a letter, a digit or an apostrophe separates words (close to .NET's
/// `ToTitleCase`: `o'neil` → `O'neil`); with it, only its characters do.
pub(crate) fn pcase(a: &Args) -> Result<Value, EvalError> {
    let separators: Option<Vec<char>> = a.text(1)?.map(|s| s.chars().collect());
    map_text(a, |s| {
        let mut out = String::with_capacity(s.len());
        let mut word_start = true;
        for c in s.chars() {
            let is_separator = match &separators {
                Some(set) => set.contains(&c),
                None => !c.is_alphanumeric() && c != '\'' && c != '’',
            };
            if is_separator {
                out.push(c);
                word_start = true;
            } else if word_start {
                out.extend(c.to_uppercase());
                word_start = false;
            } else {
                out.extend(c.to_lowercase());
            }
        }
        Ok(out)
    })
}

/// `Word(source, wordNumber, delimiters)`: the 1-based `wordNumber`-th word,
/// words being separated by runs of any of the `delimiters` characters
/// (`Word("This,string!has&many separators", 3, ",!&#")` → `"has"`). Empty
/// when there are fewer words or `wordNumber` < 1 (as the reference says).
/// Null delimiters mean a space. Null source gives null.
pub(crate) fn word(a: &Args) -> Result<Value, EvalError> {
    let number = a.int(1)?.unwrap_or(0);
    let delimiters: Vec<char> = a.text(2)?.unwrap_or_else(|| " ".into()).chars().collect();
    let Some(source) = a.text(0)? else {
        return Ok(Value::Null);
    };
    if number < 1 {
        return Ok(Value::Str(String::new()));
    }
    let index = usize::try_from(number - 1).unwrap_or(usize::MAX);
    let found = source.split(|c| delimiters.contains(&c)).filter(|w| !w.is_empty()).nth(index).unwrap_or("");
    Ok(Value::Str(found.to_string()))
}

/// `InStr(value1, value2[, start[, compareType]])`: the 1-based position of
/// the first `value2` in `value1` at or after `start` (default 1), 0 when
/// not found. compareType: 0 / `vbBinaryCompare` (default, case-sensitive)
/// or 1 / `vbTextCompare` (case-insensitive). An empty `value2` is found at
/// `start`. Null `value1` or `value2` gives null.
pub(crate) fn instr(a: &Args) -> Result<Value, EvalError> {
    let haystack = a.text(0)?;
    let needle = a.text(1)?;
    let start = a.int(2)?.unwrap_or(1);
    let ignore_case = compare_type(a, 3)?;
    let (Some(haystack), Some(needle)) = (haystack, needle) else {
        return Ok(Value::Null);
    };
    if start < 1 {
        return Err(invalid(a, 3, format!("start must be 1 or more, got {start}")));
    }
    let fold = |c: char| {
        if ignore_case {
            c.to_lowercase().next().unwrap_or(c)
        } else {
            c
        }
    };
    let hay: Vec<char> = haystack.chars().map(fold).collect();
    let pat: Vec<char> = needle.chars().map(fold).collect();
    let from = usize::try_from(start - 1).unwrap_or(usize::MAX);
    if from > hay.len() {
        return Ok(Value::Int(0));
    }
    if pat.is_empty() {
        return Ok(Value::Int(start));
    }
    let found = hay[from..].windows(pat.len()).position(|w| w == pat.as_slice()).map_or(0, |p| p + from + 1);
    Ok(Value::Int(i64::try_from(found).unwrap_or(0)))
}

/// Reads InStr's compareType: true for a case-insensitive comparison.
fn compare_type(a: &Args, i: usize) -> Result<bool, EvalError> {
    let v = a.value(i)?;
    let text = v.to_text();
    match text.as_deref().map(str::trim) {
        None => match v {
            Value::Null => Ok(false),
            _ => Err(super::wrong_type(a.name(), i + 1, "0 or 1", &v)),
        },
        Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(t) if t.eq_ignore_ascii_case("vbBinaryCompare") => Ok(false),
        Some(t) if t.eq_ignore_ascii_case("vbTextCompare") => Ok(true),
        Some(t) => {
            Err(invalid(a, i + 1, format!("compareType must be 0 (vbBinaryCompare) or 1 (vbTextCompare), got {t:?}")))
        }
    }
}

/// An [`EvalError::InvalidArgument`] for argument `argument` (1-based).
pub(crate) fn invalid(a: &Args, argument: usize, message: String) -> EvalError {
    EvalError::InvalidArgument { function: a.name(), argument, message }
}
