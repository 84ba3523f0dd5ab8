//! .NET-style date formats (`yyyyMMddHHmmss.fZ`, `yyyy-MM-dd`, `o`, ...):
//! compiling a format string, parsing text with it and formatting a date
//! with it, in the invariant culture; plus the flexible date reading of
//! `CDate` and the time zones `FormatDateTime` accepts.
//!
//! Custom specifiers: `y`..`yyyy`, `M`..`MMMM`, `d`..`dddd`, `h`, `hh`, `H`,
//! `HH`, `m`, `mm`, `s`, `ss`, `f`..`fffffff`, `F`..`FFFFFFF`, `t`, `tt`,
//! `z`, `zz`, `zzz`, `K`; `'...'`/`"..."` quote literals, `\` escapes one
//! character, `%` is ignored; every other character (`-`, `:`, `/`, `T`,
//! `Z`, ...) is literal and matches case-insensitively when parsing.
//! Standard one-letter formats: `d`, `D`, `g`, `G`, `o`/`O`, `r`/`R`, `s`,
//! `u`. Time zones: `UTC`/`GMT`/`Z` and fixed offsets (`+02:00`, `-0700`,
//! `UTC+2`); named zones such as `Pacific Standard Time` are not supported.

use std::sync::OnceLock;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// One element of a compiled format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Year(usize),
    Month(usize),
    Day(usize),
    DayName(usize),
    Hour24(usize),
    Hour12(usize),
    Minute(usize),
    Second(usize),
    /// `f` (exactly n digits) or `F` (up to n digits, trailing zeros cut).
    Fraction {
        digits: usize,
        optional: bool,
    },
    AmPm(usize),
    Offset(usize),
    Kind,
    Literal(char),
}

/// The custom pattern behind a one-letter standard format.
fn standard(c: char) -> Option<&'static str> {
    Some(match c {
        'd' => "MM/dd/yyyy",
        'D' => "dddd, dd MMMM yyyy",
        'g' => "MM/dd/yyyy HH:mm",
        'G' => "MM/dd/yyyy HH:mm:ss",
        'o' | 'O' => "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
        'r' | 'R' => "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
        's' => "yyyy'-'MM'-'dd'T'HH':'mm':'ss",
        'u' => "yyyy'-'MM'-'dd HH':'mm':'ss'Z'",
        _ => return None,
    })
}

/// Compiles a .NET date format string.
pub(crate) fn compile_format(format: &str) -> Result<Vec<Piece>, String> {
    let mut chars: Vec<char> = format.chars().collect();
    if chars.is_empty() {
        return Err("the format is empty".into());
    }
    if chars.len() == 1 {
        let pattern = standard(chars[0]).ok_or_else(|| format!("{format:?} is not a supported standard format"))?;
        chars = pattern.chars().collect();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        let piece = match c {
            'y' => Piece::Year(run),
            'M' => Piece::Month(run.min(4)),
            'd' if run <= 2 => Piece::Day(run),
            'd' => Piece::DayName(run.min(4)),
            'H' => Piece::Hour24(run.min(2)),
            'h' => Piece::Hour12(run.min(2)),
            'm' => Piece::Minute(run.min(2)),
            's' => Piece::Second(run.min(2)),
            'f' | 'F' if run > 7 => return Err(format!("at most 7 '{c}' are allowed")),
            'f' | 'F' => Piece::Fraction { digits: run, optional: c == 'F' },
            't' => Piece::AmPm(run.min(2)),
            'z' => Piece::Offset(run.min(3)),
            'K' => Piece::Kind,
            'g' => return Err("era specifiers ('g') are not supported".into()),
            '\'' | '"' => {
                let close =
                    chars[i + 1..].iter().position(|&x| x == c).ok_or_else(|| format!("unterminated quote {c}"))?;
                out.extend(chars[i + 1..i + 1 + close].iter().map(|&x| Piece::Literal(x)));
                i += close + 2;
                continue;
            }
            '\\' => {
                let next = chars.get(i + 1).ok_or("the format ends with '\\'")?;
                out.push(Piece::Literal(*next));
                i += 2;
                continue;
            }
            '%' => {
                i += 1;
                continue;
            }
            other => {
                out.push(Piece::Literal(other));
                i += 1;
                continue;
            }
        };
        out.push(piece);
        i += run;
    }
    Ok(out)
}

/// Formats `dt` (already in the output zone). `utc` decides what `K`
/// prints: `Z`, or the offset.
pub(crate) fn format(dt: &DateTime<FixedOffset>, pieces: &[Piece], utc: bool) -> String {
    let mut out = String::new();
    let pad = |out: &mut String, v: i64, width: usize| out.push_str(&format!("{v:0width$}"));
    for piece in pieces {
        match *piece {
            Piece::Year(1) => out.push_str(&(dt.year() % 100).to_string()),
            Piece::Year(n) => pad(&mut out, i64::from(if n == 2 { dt.year() % 100 } else { dt.year() }), n),
            Piece::Month(n @ 1..=2) => pad(&mut out, i64::from(dt.month()), n),
            Piece::Month(n) => out.push_str(name(&MONTHS, dt.month0() as usize, n)),
            Piece::Day(n) => pad(&mut out, i64::from(dt.day()), n),
            Piece::DayName(n) => out.push_str(name(&DAYS, dt.weekday().num_days_from_monday() as usize, n)),
            Piece::Hour24(n) => pad(&mut out, i64::from(dt.hour()), n),
            Piece::Hour12(n) => pad(&mut out, i64::from((dt.hour() + 11) % 12 + 1), n),
            Piece::Minute(n) => pad(&mut out, i64::from(dt.minute()), n),
            Piece::Second(n) => pad(&mut out, i64::from(dt.second()), n),
            Piece::Fraction { digits, optional } => {
                let all = format!("{:09}", dt.nanosecond().min(999_999_999));
                let mut part = all[..digits.min(9)].to_string();
                if optional {
                    part.truncate(part.trim_end_matches('0').len());
                    if part.is_empty() && out.ends_with('.') {
                        out.pop();
                    }
                }
                out.push_str(&part);
            }
            Piece::AmPm(n) => {
                let pm = dt.hour() >= 12;
                out.push_str(match (n, pm) {
                    (1, false) => "A",
                    (1, true) => "P",
                    (_, false) => "AM",
                    (_, true) => "PM",
                });
            }
            Piece::Offset(n) => out.push_str(&offset_text(dt.offset().local_minus_utc(), n)),
            Piece::Kind if utc => out.push('Z'),
            Piece::Kind => out.push_str(&offset_text(dt.offset().local_minus_utc(), 3)),
            Piece::Literal(c) => out.push(c),
        }
    }
    out
}

fn name(names: &[&'static str], i: usize, n: usize) -> &'static str {
    let full = names.get(i).copied().unwrap_or("");
    if n >= 4 {
        full
    } else {
        full.get(..3).unwrap_or(full)
    }
}

fn offset_text(seconds: i32, n: usize) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    let (h, m) = (minutes / 60, minutes % 60);
    match n {
        1 => format!("{sign}{h}"),
        2 => format!("{sign}{h:02}"),
        _ => format!("{sign}{h:02}:{m:02}"),
    }
}

/// What parsing text with a format found: the local date and time, and the
/// offset if the text had one.
pub(crate) type Parsed = (NaiveDateTime, Option<FixedOffset>);

struct Cursor<'a> {
    chars: &'a [char],
    i: usize,
}

impl Cursor<'_> {
    fn number(&mut self, min: usize, max: usize) -> Result<u32, String> {
        let start = self.i;
        while self.i < self.chars.len() && self.i - start < max && self.chars[self.i].is_ascii_digit() {
            self.i += 1;
        }
        if self.i - start < min {
            return Err(format!("expected {min} digit(s) at character {start}"));
        }
        let text: String = self.chars[start..self.i].iter().collect();
        text.parse().map_err(|_| format!("bad number at character {start}"))
    }

    fn word(&mut self, options: &[&str], n: usize) -> Result<usize, String> {
        for (k, full) in options.iter().enumerate() {
            let w = if n >= 4 { full } else { full.get(..3).unwrap_or(full) };
            let len = w.chars().count();
            let here: String = self.chars[self.i..].iter().take(len).collect();
            if here.eq_ignore_ascii_case(w) {
                self.i += len;
                return Ok(k);
            }
        }
        Err(format!("expected a month or day name at character {}", self.i))
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn offset(&mut self, kind: bool) -> Result<Option<FixedOffset>, String> {
        match self.peek() {
            Some('Z' | 'z') if kind => {
                self.i += 1;
                Ok(FixedOffset::east_opt(0))
            }
            Some(sign @ ('+' | '-')) => {
                self.i += 1;
                let h = self.number(1, 2)?;
                if self.peek() == Some(':') {
                    self.i += 1;
                }
                let m = if self.peek().is_some_and(|c| c.is_ascii_digit()) { self.number(2, 2)? } else { 0 };
                let secs = i32::try_from(h * 3600 + m * 60).map_err(|_| "offset out of range")?;
                let secs = if sign == '-' { -secs } else { secs };
                FixedOffset::east_opt(secs).map(Some).ok_or_else(|| "offset out of range".into())
            }
            _ if kind => Ok(None),
            _ => Err(format!("expected an offset at character {}", self.i)),
        }
    }
}

/// Parses `text` with a compiled format (surrounding whitespace allowed).
pub(crate) fn parse_with(text: &str, pieces: &[Piece]) -> Result<Parsed, String> {
    let chars: Vec<char> = text.trim().chars().collect();
    let mut c = Cursor { chars: &chars, i: 0 };
    let (mut year, mut month, mut day) = (1i32, 1u32, 1u32);
    let (mut hour, mut minute, mut second, mut nanos) = (0u32, 0u32, 0u32, 0u32);
    let mut pm: Option<bool> = None;
    let mut offset = None;
    for piece in pieces {
        match *piece {
            Piece::Year(n) if n <= 2 => {
                let y = c.number(n, 2)?;
                year = i32::try_from(if y < 50 { 2000 + y } else { 1900 + y }).unwrap_or(1);
            }
            Piece::Year(n) => year = i32::try_from(c.number(n.min(4), n.max(4))?).map_err(|_| "bad year")?,
            Piece::Month(n @ 1..=2) => month = c.number(n, 2)?,
            Piece::Month(n) => month = u32::try_from(c.word(&MONTHS, n)? + 1).unwrap_or(1),
            Piece::Day(n) => day = c.number(n, 2)?,
            Piece::DayName(n) => {
                c.word(&DAYS, n)?;
            }
            Piece::Hour24(n) | Piece::Hour12(n) => hour = c.number(n, 2)?,
            Piece::Minute(n) => minute = c.number(n, 2)?,
            Piece::Second(n) => second = c.number(n, 2)?,
            Piece::Fraction { digits, optional } => {
                let start = c.i;
                c.number(if optional { 0 } else { digits }, digits)
                    .or_else(|e| if optional { Ok(0) } else { Err(e) })?;
                let got: String = chars[start..c.i].iter().collect();
                nanos = format!("{got:0<9}").parse().unwrap_or(0);
            }
            Piece::AmPm(n) => {
                let options: &[&str] = if n == 1 { &["A", "P"] } else { &["AM", "PM"] };
                let k = options
                    .iter()
                    .position(|o| {
                        let here: String = chars[c.i..].iter().take(o.len()).collect();
                        here.eq_ignore_ascii_case(o)
                    })
                    .ok_or_else(|| format!("expected AM or PM at character {}", c.i))?;
                c.i += options[k].len();
                pm = Some(k == 1);
            }
            Piece::Offset(_) => offset = c.offset(false)?,
            Piece::Kind => offset = c.offset(true)?,
            Piece::Literal(l) => match c.peek() {
                Some(x) if x == l || x.eq_ignore_ascii_case(&l) || (l.is_whitespace() && x.is_whitespace()) => c.i += 1,
                _ => return Err(format!("expected {l:?} at character {}", c.i)),
            },
        }
    }
    if c.i != chars.len() {
        return Err(format!("unexpected text at character {}", c.i));
    }
    if let Some(pm) = pm {
        if !(1..=12).contains(&hour) {
            return Err("a 12-hour clock hour must be 1 to 12".into());
        }
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or("no such date")?;
    let time = date.and_hms_nano_opt(hour, minute, second, nanos).ok_or("no such time")?;
    Ok((time, offset))
}

/// Resolves a parsed date to UTC, assuming `zone` when the text had no
/// offset.
pub(crate) fn to_utc((local, offset): Parsed, zone: FixedOffset) -> Option<DateTime<Utc>> {
    let zone = offset.unwrap_or(zone);
    zone.from_local_datetime(&local).single().map(|d| d.with_timezone(&Utc))
}

/// The forms `CDate` and every date argument accept, tried in order.
const FLEXIBLE: &[&str] = &[
    "yyyy-MM-ddTHH:mm:ss.FFFFFFFK",
    "yyyy-MM-ddTHH:mm:ssK",
    "yyyy-MM-ddTHH:mmK",
    "yyyy-MM-dd HH:mm:ss.FFFFFFFK",
    "yyyy-MM-dd HH:mm:ssK",
    "yyyy-MM-ddK",
    "yyyyMMddHHmmss.FFFFFFFK",
    "yyyyMMddHHmmssK",
    "M/d/yyyy h:mm:ss tt",
    "M/d/yyyy H:mm:ss",
    "M/d/yyyy h:mm tt",
    "M/d/yyyy",
];

fn flexible_formats() -> &'static [Vec<Piece>] {
    static FORMATS: OnceLock<Vec<Vec<Piece>>> = OnceLock::new();
    FORMATS.get_or_init(|| FLEXIBLE.iter().filter_map(|f| compile_format(f).ok()).collect())
}

/// Reads a date in any of the usual forms without a format: ISO-8601 with
/// or without time and offset (`2012-03-16`, `2012-03-16-07:00`,
/// `2012-03-16T07:00:00.5Z`), generalized time (`20150123105347.1Z`) and
/// `M/d/yyyy h:mm:ss tt`. The offset is `None` when the text has none; see
/// [`to_utc`].
pub(crate) fn parse_flexible_local(text: &str) -> Option<Parsed> {
    if let Ok(d) = DateTime::parse_from_rfc3339(text.trim()) {
        return Some((d.naive_utc(), FixedOffset::east_opt(0)));
    }
    flexible_formats().iter().find_map(|f| parse_with(text, f).ok())
}

/// [`parse_flexible_local`] resolved to UTC, taking text without an offset
/// as UTC.
pub(crate) fn parse_flexible(text: &str) -> Option<DateTime<Utc>> {
    let utc = FixedOffset::east_opt(0)?;
    parse_flexible_local(text).and_then(|p| to_utc(p, utc))
}

/// Reads a time zone: `UTC`, `GMT`, `Z` (or empty) and fixed offsets such
/// as `+02:00`, `-0700`, `+2`, `UTC+02:00`, `GMT-5`.
pub(crate) fn parse_zone(text: &str) -> Result<FixedOffset, String> {
    let t = text.trim();
    let rest = ["UTC", "GMT"]
        .iter()
        .find_map(|p| t.get(..3).filter(|h| h.eq_ignore_ascii_case(p)).map(|_| &t[3..]))
        .unwrap_or(t);
    if rest.is_empty() || rest.eq_ignore_ascii_case("Z") {
        return FixedOffset::east_opt(0).ok_or_else(|| "UTC".into());
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut c = Cursor { chars: &chars, i: 0 };
    match c.offset(false) {
        Ok(Some(o)) if c.i == chars.len() => Ok(o),
        _ => Err("time zones are UTC or a fixed offset such as +02:00; named zones are not supported".into()),
    }
}
