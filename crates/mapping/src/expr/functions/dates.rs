//! Date functions: CDate, DateAdd, DateDiff, DateFromNum, FormatDateTime,
//! NumFromDate (Now is in the dispatch). Dates are UTC; any date argument
//! also accepts text in the forms `CDate` reads.

use chrono::{DateTime, Datelike, FixedOffset, Months, TimeDelta, Utc};

use super::text::invalid;
use super::{into_text, Args, Func};
use crate::expr::datetime::{self, Piece};
use crate::expr::error::{EvalError, ParseError};
use crate::expr::Node;
use crate::value::Value;

/// 100-nanosecond intervals between 1601-01-01 (the AD epoch) and 1970-01-01.
const FILETIME_UNIX_OFFSET_SECONDS: i64 = 11_644_473_600;

/// A DateAdd / DateDiff interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interval {
    Year,
    Quarter,
    Month,
    DayOfYear,
    Day,
    Weekday,
    Week,
    Hour,
    Minute,
    Second,
}

fn interval(text: &str) -> Option<Interval> {
    Some(match text.trim().to_ascii_lowercase().as_str() {
        "yyyy" => Interval::Year,
        "q" => Interval::Quarter,
        "m" => Interval::Month,
        "y" => Interval::DayOfYear,
        "d" => Interval::Day,
        "w" => Interval::Weekday,
        "ww" => Interval::Week,
        "h" => Interval::Hour,
        "n" => Interval::Minute,
        "s" => Interval::Second,
        _ => return None,
    })
}

const INTERVALS: &str = "yyyy, q, m, y, d, w, ww, h, n or s";

/// Refuses an unknown constant interval of DateAdd / DateDiff at parse time.
pub(crate) fn check_constant_interval(func: Func, args: &[Node], positions: &[usize]) -> Result<(), ParseError> {
    if let Some(Node::Const(Value::Str(s))) = args.first() {
        if interval(s).is_none() {
            let at = positions.first().copied().unwrap_or(0);
            return Err(ParseError::new(at, format!("{}: unknown interval {s:?} (use {INTERVALS})", func.name())));
        }
    }
    Ok(())
}

/// The argument slots of FormatDateTime: (styles, input, output, input
/// zone, output zone). The 3-argument form is the older
/// `FormatDateTime(source, inputFormat, outputFormat)`.
fn format_slots(len: usize) -> (Option<usize>, usize, usize, usize, usize) {
    if len == 3 {
        (None, 1, 2, 3, 4)
    } else {
        (Some(1), 2, 3, 4, 5)
    }
}

/// Refuses constant formats, styles and time zones of FormatDateTime that
/// cannot work, at parse time.
pub(crate) fn check_constant_formats(args: &[Node], positions: &[usize]) -> Result<(), ParseError> {
    let (styles, input, output, in_zone, out_zone) = format_slots(args.len());
    let constant = |i: usize| match args.get(i) {
        Some(Node::Const(Value::Str(s))) => Some((s.as_str(), positions.get(i).copied().unwrap_or(0))),
        _ => None,
    };
    let fail = |at: usize, m: String| Err(ParseError::new(at, format!("FormatDateTime: {m}")));
    for i in [input, output] {
        if let Some((s, at)) = constant(i) {
            if let Err(m) = datetime::compile_format(s) {
                return fail(at, format!("invalid format {s:?}: {m}"));
            }
        }
    }
    for i in [in_zone, out_zone] {
        if let Some((s, at)) = constant(i) {
            if let Err(m) = datetime::parse_zone(s) {
                return fail(at, format!("invalid time zone {s:?}: {m}"));
            }
        }
    }
    if let Some((s, at)) = styles.and_then(constant) {
        if let Err(m) = check_styles(s) {
            return fail(at, m);
        }
    }
    Ok(())
}

/// The .NET DateTimeStyles accepted (and, as dates are UTC here, ignored).
const STYLES: &[&str] = &[
    "None",
    "AdjustToUniversal",
    "AssumeUniversal",
    "AssumeLocal",
    "RoundtripKind",
    "AllowWhiteSpaces",
    "AllowLeadingWhite",
    "AllowTrailingWhite",
    "AllowInnerWhite",
    "NoCurrentDateDefault",
];

fn check_styles(s: &str) -> Result<(), String> {
    for style in s.split([',', '|', ' ']).filter(|x| !x.is_empty()) {
        if !STYLES.iter().any(|k| k.eq_ignore_ascii_case(style)) {
            return Err(format!("unknown dateTimeStyles {style:?} (use {})", STYLES.join(", ")));
        }
    }
    Ok(())
}

/// `CDate(expression)`: the date the text denotes, in UTC
/// (`CDate("2012-03-16-07:00")` is 2012-03-16T07:00:00Z). Null gives null.
pub(crate) fn cdate(a: &Args) -> Result<Value, EvalError> {
    Ok(a.date(0)?.map_or(Value::Null, Value::Date))
}

fn out_of_range(a: &Args) -> EvalError {
    EvalError::OutOfRange { function: a.name() }
}

fn interval_arg(a: &Args) -> Result<Interval, EvalError> {
    let text = a.text(0)?.unwrap_or_default();
    interval(&text).ok_or_else(|| invalid(a, 1, format!("unknown interval {text:?} (use {INTERVALS})")))
}

/// `DateAdd(interval, value, dateTime)`: the date moved by `value`
/// intervals (yyyy year, q quarter, m month, y/d/w day, ww week, h hour, n
/// minute, s second; months clamp to the month's last day). Null value or
/// date gives null.
pub(crate) fn date_add(a: &Args) -> Result<Value, EvalError> {
    let unit = interval_arg(a)?;
    let (Some(n), Some(date)) = (a.int(1)?, a.date(2)?) else {
        return Ok(Value::Null);
    };
    let months = |m: i64| -> Option<DateTime<Utc>> {
        let abs = u32::try_from(m.unsigned_abs()).ok()?;
        if m >= 0 {
            date.checked_add_months(Months::new(abs))
        } else {
            date.checked_sub_months(Months::new(abs))
        }
    };
    let delta = |d: Option<TimeDelta>| d.and_then(|d| date.checked_add_signed(d));
    let result = match unit {
        Interval::Year => n.checked_mul(12).and_then(months),
        Interval::Quarter => n.checked_mul(3).and_then(months),
        Interval::Month => months(n),
        Interval::DayOfYear | Interval::Day | Interval::Weekday => delta(TimeDelta::try_days(n)),
        Interval::Week => delta(TimeDelta::try_weeks(n)),
        Interval::Hour => delta(TimeDelta::try_hours(n)),
        Interval::Minute => delta(TimeDelta::try_minutes(n)),
        Interval::Second => delta(TimeDelta::try_seconds(n)),
    };
    result.map(Value::Date).ok_or_else(|| out_of_range(a))
}

/// `DateDiff(interval, date1, date2)`: how many intervals from date1 to
/// date2 (negative when date2 is earlier). yyyy, q and m count calendar
/// boundaries crossed (like VB); ww counts Sundays crossed; d, y, w (whole
/// weeks), h, n and s count whole elapsed units. Null dates give null.
pub(crate) fn date_diff(a: &Args) -> Result<Value, EvalError> {
    let unit = interval_arg(a)?;
    let (Some(d1), Some(d2)) = (a.date(1)?, a.date(2)?) else {
        return Ok(Value::Null);
    };
    let span = d2.signed_duration_since(d1);
    let months = |d: &DateTime<Utc>| i64::from(d.year()) * 12 + i64::from(d.month0());
    let week = |d: &DateTime<Utc>| i64::from(d.num_days_from_ce()).div_euclid(7);
    let n = match unit {
        Interval::Year => i64::from(d2.year()) - i64::from(d1.year()),
        Interval::Quarter => months(&d2).div_euclid(3) - months(&d1).div_euclid(3),
        Interval::Month => months(&d2) - months(&d1),
        Interval::DayOfYear | Interval::Day => span.num_days(),
        Interval::Weekday => span.num_days() / 7,
        Interval::Week => week(&d2) - week(&d1),
        Interval::Hour => span.num_hours(),
        Interval::Minute => span.num_minutes(),
        Interval::Second => span.num_seconds(),
    };
    Ok(Value::Int(n))
}

/// `DateFromNum(value)`: the date of an Active Directory timestamp
/// (100-nanosecond intervals since 1601-01-01 UTC, as in
/// `lastLogonTimestamp`); `DateFromNum(129699324000000000)` is
/// 2012-01-01T23:00:00Z. Null gives null; negative values are an error.
pub(crate) fn date_from_num(a: &Args) -> Result<Value, EvalError> {
    let Some(n) = a.int(0)? else {
        return Ok(Value::Null);
    };
    if n < 0 {
        return Err(invalid(a, 1, format!("an AD timestamp is not negative, got {n}")));
    }
    let secs = n / 10_000_000 - FILETIME_UNIX_OFFSET_SECONDS;
    let nanos = u32::try_from((n % 10_000_000) * 100).unwrap_or(0);
    DateTime::from_timestamp(secs, nanos).map(Value::Date).ok_or_else(|| out_of_range(a))
}

/// `NumFromDate(value)`: the Active Directory timestamp of a date (the
/// inverse of DateFromNum). Null gives null.
pub(crate) fn num_from_date(a: &Args) -> Result<Value, EvalError> {
    let Some(d) = a.date(0)? else {
        return Ok(Value::Null);
    };
    d.timestamp()
        .checked_add(FILETIME_UNIX_OFFSET_SECONDS)
        .and_then(|s| s.checked_mul(10_000_000))
        .and_then(|t| t.checked_add(i64::from(d.timestamp_subsec_nanos() / 100)))
        .filter(|t| *t >= 0)
        .map(Value::Int)
        .ok_or_else(|| out_of_range(a))
}

/// The compiled format in slot `i`; null or empty is `None`.
fn format_arg(a: &Args, i: usize) -> Result<Option<Vec<Piece>>, EvalError> {
    let Some(f) = a.text(i)?.filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    datetime::compile_format(&f).map(Some).map_err(|message| EvalError::InvalidFormat {
        function: a.name(),
        format: f,
        message,
    })
}

fn zone_arg(a: &Args, i: usize) -> Result<FixedOffset, EvalError> {
    let text = a.text(i)?.unwrap_or_default();
    datetime::parse_zone(&text).map_err(|message| EvalError::InvalidFormat {
        function: a.name(),
        format: text,
        message,
    })
}

/// `FormatDateTime(source, [dateTimeStyles], inputFormat, outputFormat[,
/// inputTimeZone[, outputTimeZone]])`, or the older 3-argument
/// `FormatDateTime(source, inputFormat, outputFormat)`: reads source with
/// the .NET inputFormat (any usual form when inputFormat is empty, and
/// dates from `CDate` as they are), then writes it with outputFormat
/// (`FormatDateTime("20150123105347.1Z", , "yyyyMMddHHmmss.fZ",
/// "yyyy-MM-dd")` → `"2015-01-23"`). Text without an offset is taken as
/// being in inputTimeZone; the result is written in outputTimeZone (both
/// UTC by default; fixed offsets only). dateTimeStyles values are checked
/// and otherwise ignored. Per value; null gives null.
pub(crate) fn format_date_time(a: &Args) -> Result<Value, EvalError> {
    let (styles, input, output, in_zone, out_zone) = format_slots(a.len());
    if let Some(s) = styles.map(|i| a.text(i)).transpose()?.flatten() {
        check_styles(&s).map_err(|m| invalid(a, 2, m))?;
    }
    let input_format = format_arg(a, input)?;
    let output_format =
        format_arg(a, output)?.ok_or_else(|| invalid(a, output + 1, "the outputFormat is required".into()))?;
    let in_zone = zone_arg(a, in_zone)?;
    let out_zone = zone_arg(a, out_zone)?;
    let one = |v: Value| -> Result<Value, EvalError> {
        let date = match v {
            Value::Date(d) => d,
            other => {
                let Some(text) = into_text(other, a.name(), 1)? else {
                    return Ok(Value::Null);
                };
                let parsed = match &input_format {
                    Some(f) => datetime::parse_with(&text, f),
                    None => datetime::parse_flexible_local(&text).ok_or_else(|| "not a date".to_string()),
                };
                let bad = |message: String| EvalError::InvalidDate { function: a.name(), value: text.clone(), message };
                let parsed = parsed.map_err(bad)?;
                datetime::to_utc(parsed, in_zone).ok_or_else(|| bad("no such time".into()))?
            }
        };
        let local = date.with_timezone(&out_zone);
        let utc = out_zone.local_minus_utc() == 0;
        Ok(Value::Str(datetime::format(&local, &output_format, utc)))
    };
    match a.value(0)? {
        Value::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let v = one(item)?;
                if !v.is_null() {
                    out.push(v);
                }
            }
            Ok(Value::List(out))
        }
        v => one(v),
    }
}
