//! Table-driven tests of the date functions, plus the shape checks of the
//! random functions and SelectUniqueValue with a uniqueness probe.

use chrono::{DateTime, Utc};

use super::tests::{fixture, i, now, s, NULL};
use crate::expr::{parse, EvalContext, EvalError, UniquenessProbe};
use crate::value::Value;

fn date(iso: &str) -> Result<Value, &'static str> {
    DateTime::parse_from_rfc3339(iso).map(|d| Value::Date(d.with_timezone(&Utc))).map_err(|_| "bad test date")
}

/// Evaluates `input` against the shared fixture at the fixed clock;
/// `Err(text)` expects an error whose message contains `text`.
fn check(input: &str, expected: Result<Value, &str>) {
    let ctx = EvalContext::at(now());
    let got = parse(input)
        .map_err(|e| format!("parse: {e}"))
        .and_then(|e| e.eval(&fixture(), &ctx).map_err(|e| format!("eval: {e}")));
    match (&got, &expected) {
        (Ok(v), Ok(w)) => assert_eq!(v, w, "{input}"),
        (Err(e), Err(needle)) => assert!(e.contains(needle), "{input}: {e:?} lacks {needle:?}"),
        _ => panic!("{input}: got {got:?}, expected {expected:?}"),
    }
}

#[test]
fn cdate_and_now() {
    check(r#"CDate([employeeHireDate])"#, date("2012-03-16T07:00:00Z"));
    check(r#"CDate("2021-06-30+08:00")"#, date("2021-06-29T16:00:00Z"));
    check(r#"CDate("2012-03-16")"#, date("2012-03-16T00:00:00Z"));
    check(r#"CDate("2012-03-16T07:00:00.5-02:00")"#, date("2012-03-16T09:00:00.5Z"));
    check(r#"CDate("2012-03-16 07:00:00")"#, date("2012-03-16T07:00:00Z"));
    check(r#"CDate("3/16/2012 7:00:00 PM")"#, date("2012-03-16T19:00:00Z"));
    check(r#"CDate("12/1/2012")"#, date("2012-12-01T00:00:00Z"));
    check(r#"CDate([extensionAttribute1])"#, date("2015-01-23T10:53:47.1Z"));
    check(r#"CDate([missing])"#, NULL);
    check(r#"CDate("2012-02-30")"#, Err("CDate: cannot read \"2012-02-30\" as a date"));
    check(r#"CDate("soon")"#, Err("cannot read \"soon\" as a date"));
    check(r#"CDate(5)"#, Err("CDate: argument 1 must be a date, got integer"));
    check(r#"Now()"#, date("2021-07-02T15:33:38Z"));
    check(r#"CStr(Now())"#, s("2021-07-02T15:33:38Z"));
}

#[test]
fn date_add() {
    check(r#"DateAdd("d", 7, CDate([employeeHireDate]))"#, date("2012-03-23T07:00:00Z"));
    check(r#"DateAdd("yyyy", 1, "2020-02-29T00:00:00Z")"#, date("2021-02-28T00:00:00Z"));
    check(r#"DateAdd("q", 1, "2021-01-31T00:00:00Z")"#, date("2021-04-30T00:00:00Z"));
    check(r#"DateAdd("m", -1, "2021-03-31T00:00:00Z")"#, date("2021-02-28T00:00:00Z"));
    check(r#"DateAdd("y", 1, "2021-12-31T00:00:00Z")"#, date("2022-01-01T00:00:00Z"));
    check(r#"DateAdd("w", -1, "2021-01-01T00:00:00Z")"#, date("2020-12-31T00:00:00Z"));
    check(r#"DateAdd("ww", 2, "2021-01-01T00:00:00Z")"#, date("2021-01-15T00:00:00Z"));
    check(r#"DateAdd("h", 25, "2021-01-01T00:00:00Z")"#, date("2021-01-02T01:00:00Z"));
    check(r#"DateAdd("n", 90, "2021-01-01T00:00:00Z")"#, date("2021-01-01T01:30:00Z"));
    check(r#"DateAdd("S", -1, "2021-01-01T00:00:00Z")"#, date("2020-12-31T23:59:59Z"));
    check(r#"DateAdd("d", "3", Now())"#, date("2021-07-05T15:33:38Z"));
    check(r#"DateAdd("d", 1, [missing])"#, NULL);
    check(r#"DateAdd("d", [missing], Now())"#, NULL);
    check(r#"DateAdd("x", 1, Now())"#, Err("parse: at character 8: DateAdd: unknown interval \"x\""));
    check(r#"DateAdd([department], 1, Now())"#, Err("eval: DateAdd: argument 1: unknown interval \"Sales\""));
    check(r#"DateAdd("d", "x", Now())"#, Err("DateAdd: argument 2 must be a whole number"));
    check(r#"DateAdd("yyyy", 9223372036854775807, Now())"#, Err("DateAdd: result out of range"));
    check(r#"DateAdd("d", 1)"#, Err("DateAdd expects 3 arguments, got 2"));
}

#[test]
fn date_diff() {
    check(r#"DateDiff("d", Now(), CDate("2021-07-12T15:33:38Z"))"#, i(10));
    check(r#"DateDiff("d", Now(), CDate("2021-07-12T15:33:37Z"))"#, i(9));
    check(r#"DateDiff("d", "2021-07-12T00:00:00Z", "2021-07-02T00:00:00Z")"#, i(-10));
    check(r#"DateDiff("yyyy", "2020-12-31T23:59:59Z", "2021-01-01T00:00:00Z")"#, i(1));
    check(r#"DateDiff("q", "2021-03-31T00:00:00Z", "2021-04-01T00:00:00Z")"#, i(1));
    check(r#"DateDiff("m", "2021-01-31T00:00:00Z", "2021-03-01T00:00:00Z")"#, i(2));
    check(r#"DateDiff("w", "2021-07-01T00:00:00Z", "2021-07-14T00:00:00Z")"#, i(1));
    check(r#"DateDiff("ww", "2021-07-03T00:00:00Z", "2021-07-04T00:00:00Z")"#, i(1));
    check(r#"DateDiff("ww", "2021-07-04T00:00:00Z", "2021-07-10T00:00:00Z")"#, i(0));
    check(r#"DateDiff("h", "2021-07-04T00:00:00Z", "2021-07-04T05:59:00Z")"#, i(5));
    check(r#"DateDiff("n", "2021-07-04T00:00:00Z", "2021-07-04T00:01:59Z")"#, i(1));
    check(r#"DateDiff("s", "2021-07-04T00:00:00Z", "2021-07-04T00:01:59Z")"#, i(119));
    check(r#"DateDiff("d", [missing], Now())"#, NULL);
    check(r#"DateDiff("z", Now(), Now())"#, Err("unknown interval \"z\""));
}

#[test]
fn ad_timestamps() {
    check(r#"DateFromNum(129699324000000000)"#, date("2012-01-01T23:00:00Z"));
    check(r#"DateFromNum("129699324000000000")"#, date("2012-01-01T23:00:00Z"));
    check(r#"DateFromNum(0)"#, date("1601-01-01T00:00:00Z"));
    check(r#"DateFromNum([missing])"#, NULL);
    check(r#"DateFromNum(-1)"#, Err("DateFromNum: argument 1: an AD timestamp is not negative"));
    check(r#"DateFromNum("x")"#, Err("DateFromNum: argument 1 must be a whole number"));
    check(r#"NumFromDate("2012-01-01T23:00:00Z")"#, i(129_699_324_000_000_000));
    check(r#"NumFromDate(DateFromNum(129699324001234567))"#, i(129_699_324_001_234_567));
    check(r#"NumFromDate([missing])"#, NULL);
    check(r#"NumFromDate("1500-01-01T00:00:00Z")"#, Err("NumFromDate: result out of range"));
}

#[test]
fn format_date_time() {
    check(r#"FormatDateTime([extensionAttribute1], "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")"#, s("2015-01-23"));
    check(
        r#"FormatDateTime("2015-01-23T10:53:47Z", , "yyyy-MM-ddTHH:mm:ssZ", "yyyyMMddHHmmss.0Z")"#,
        s("20150123105347.0Z"),
    );
    check(r#"FormatDateTime("2015-01-23", , "yyyy-MM-dd", "MM/dd/yy")"#, s("01/23/15"));
    check(
        r#"FormatDateTime("2021-07-02T15:33:38Z", , , "dddd, dd MMMM yyyy h:mm tt")"#,
        s("Friday, 02 July 2021 3:33 PM"),
    );
    check(r#"FormatDateTime("2021-07-02T15:33:38Z", , , "ddd d MMM yy H t")"#, s("Fri 2 Jul 21 15 P"));
    check(r#"FormatDateTime("2015-01-23T10:53:47Z", , , "HH:mm:ss.FFF")"#, s("10:53:47"));
    check(r#"FormatDateTime("2015-01-23T10:53:47.120Z", , , "HH:mm:ss.FFF fff")"#, s("10:53:47.12 120"));
    check(
        r#"FormatDateTime("2021-07-02T23:00:00Z", , , "yyyy-MM-dd HH:mm zzz", , "+02:00")"#,
        s("2021-07-03 01:00 +02:00"),
    );
    check(r#"FormatDateTime("2021-07-02T23:00:00Z", , , "HH z zz K", , "UTC-5")"#, s("18 -5 -05 -05:00"));
    check(
        r#"FormatDateTime("2021-07-02 23:00:00", , "yyyy-MM-dd HH:mm:ss", "o", "-07:00")"#,
        s("2021-07-03T06:00:00.0000000Z"),
    );
    check(
        r#"FormatDateTime("2021-07-02 23:00:00 +01:00", , "yyyy-MM-dd HH:mm:ss zzz", "s", "-07:00")"#,
        s("2021-07-02T22:00:00"),
    );
    check(
        r#"FormatDateTime(CDate([employeeHireDate]), , "yyyyMMdd", "yyyy-MM-ddTHH:mm:ssK")"#,
        s("2012-03-16T07:00:00Z"),
    );
    check(
        r#"FormatDateTime("16/03/2012", "AdjustToUniversal, AssumeUniversal", "dd/MM/yyyy", "u")"#,
        s("2012-03-16 00:00:00Z"),
    );
    check(r#"FormatDateTime("Fri, 02 Jul 2021 15:33:38 GMT", , "r", "'day' d 'of' MMMM")"#, s("day 2 of July"));
    check(r#"FormatDateTime("7/2/2021 3:33:38 PM", , "G", "yyyy")"#, Err("eval: FormatDateTime: cannot read"));
    check(r#"FormatDateTime("07/02/2021 15:33:38", , "G", "yyyy\\-\\M")"#, s("2021-M"));
    check(r#"FormatDateTime([missing], , "yyyy", "yyyy")"#, NULL);
    check(
        r#"FormatDateTime("garbage", , "yyyy-MM-dd", "yyyy")"#,
        Err("eval: FormatDateTime: cannot read \"garbage\" as a date"),
    );
    check(
        r#"FormatDateTime("2015-01-23", , "yyyy-MM-dd", "Q")"#,
        Err("parse: at character 45: FormatDateTime: invalid format \"Q\""),
    );
    check(r#"FormatDateTime("2015-01-23", , "yyyy-MM-dd", "'open")"#, Err("unterminated quote"));
    check(
        r#"FormatDateTime("2015-01-23", , "yyyy-MM-dd", "yyyy", "Pacific Standard Time")"#,
        Err("named zones are not supported"),
    );
    check(
        r#"FormatDateTime("2015-01-23", "Sometimes", "yyyy-MM-dd", "yyyy")"#,
        Err("unknown dateTimeStyles \"Sometimes\""),
    );
    check(r#"FormatDateTime("2015-01-23", , "yyyy-MM-dd", )"#, Err("the outputFormat is required"));
    check(r#"FormatDateTime("2015-01-23", , [department], "yyyy")"#, Err("eval: FormatDateTime: cannot read"));
    check(r#"FormatDateTime("2015-01-23", "yyyy")"#, Err("FormatDateTime expects 3 to 6 arguments, got 2"));
}

#[test]
fn guid_is_a_fresh_uuid() {
    let e = parse("Guid()").map_err(|e| e.to_string());
    let ctx = EvalContext::at(now());
    let a = e.clone().and_then(|e| e.eval(&fixture(), &ctx).map_err(|e| e.to_string()));
    let b = e.and_then(|e| e.eval(&fixture(), &ctx).map_err(|e| e.to_string()));
    let text =
        |v: &Result<Value, String>| v.as_ref().ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    assert!(uuid::Uuid::parse_str(&text(&a)).is_ok(), "{a:?}");
    assert_ne!(text(&a), text(&b));
}

#[test]
fn random_string_honours_its_minimums() {
    let ctx = EvalContext::at(now());
    for _ in 0..50 {
        let got = parse(r#"RandomString(12, 3, 2, 2, 2, "0Oo1lI")"#)
            .map_err(|e| e.to_string())
            .and_then(|e| e.eval(&fixture(), &ctx).map_err(|e| e.to_string()));
        let text = got.ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let count = |f: fn(&char) -> bool| text.chars().filter(&f).count();
        assert_eq!(text.chars().count(), 12, "{text}");
        assert!(count(char::is_ascii_digit) >= 3, "{text}");
        assert!(count(|c| super::random::SPECIAL_CHARACTERS.contains(*c)) >= 2, "{text}");
        assert!(count(char::is_ascii_uppercase) >= 2, "{text}");
        assert!(count(char::is_ascii_lowercase) >= 2, "{text}");
        assert!(!text.chars().any(|c| "0Oo1lI".contains(c)), "{text}");
    }
    check(r#"RandomString(3, 2, 2)"#, Err("RandomString: argument 1: the minimums add up to more than the length"));
    check(r#"RandomString(0)"#, Err("RandomString: argument 1: length must be 1 to 256"));
    check(r#"RandomString(4, 1, , , , "0123456789")"#, Err("charactersToAvoid removes a whole required class"));
}

struct Taken(&'static [&'static str]);

impl UniquenessProbe for Taken {
    fn is_unique(&self, value: &str) -> bool {
        !self.0.iter().any(|t| t.eq_ignore_ascii_case(value))
    }
}

#[test]
fn select_unique_value_asks_the_probe() {
    let src = r#"SelectUniqueValue(Join("@", [givenName], "contoso.com"), Join("@", Append([givenName], "1"), "contoso.com"), Join("@", [surname], "contoso.com"))"#;
    let e = parse(src).map_err(|e| e.to_string());
    let run = |taken: &'static [&'static str]| {
        let probe = Taken(taken);
        let ctx = EvalContext::at(now()).with_uniqueness(&probe);
        e.clone().and_then(|e| e.eval(&fixture(), &ctx).map_err(|e| e.to_string()))
    };
    assert_eq!(run(&[]), Ok(Value::str("John@contoso.com")));
    assert_eq!(run(&["john@contoso.com"]), Ok(Value::str("John1@contoso.com")));
    assert_eq!(run(&["john@contoso.com", "john1@contoso.com"]), Ok(Value::str("Doe@contoso.com")));
    let all = run(&["john@contoso.com", "john1@contoso.com", "doe@contoso.com"]);
    let expected = EvalError::NoUniqueValue {
        candidates: vec!["John@contoso.com".into(), "John1@contoso.com".into(), "Doe@contoso.com".into()],
    };
    assert_eq!(all, Err(expected.to_string()));
}
