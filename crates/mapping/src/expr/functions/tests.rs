//! Table-driven tests of the string, list, logic, encoding and Replace
//! functions: one line per case, including the reference's own examples.

use chrono::{DateTime, TimeZone, Utc};

use crate::expr::{parse, EvalContext};
use crate::value::{AppRoleAssignment, MapSource, Value};

/// The clock every test runs at: 2021-07-02T15:33:38Z.
pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2021, 7, 2, 15, 33, 38).single().unwrap_or_default()
}

/// The user every expression is evaluated against.
pub(super) fn fixture() -> MapSource {
    let role = |id: &str, name: &str, value: &str| AppRoleAssignment {
        id: id.into(),
        display_name: name.into(),
        value: value.into(),
    };
    MapSource::new()
        .with("givenName", "John")
        .with("surname", "Doe")
        .with("accented", " Zoë  Saldaña ")
        .with("mailNickname", "john_doe72")
        .with("mail", "John.Doe@contoso.com")
        .with("IsSoftDeleted", false)
        .with("accountEnabled", true)
        .with("businessPhones", vec!["+1 425 555 0100", "+1 425 555 0101"])
        .with("proxyAddresses", vec!["SMTP:a@x.com", "smtp:b@x.com", "SMTP:a@x.com"])
        .with("extensionAttribute1", "20150123105347.1Z")
        .with("employeeHireDate", "2012-03-16-07:00")
        .with("country", "USA")
        .with("department", "Sales")
        .with("userAccountControl", 514)
        .with("telephoneNumber", "+91 (080) 2555 0100")
        .with("empty", "")
        .with_role(role("r1", "Administrator", "admin"))
        .with_role(role("r2", "Reader", ""))
}

pub(super) fn s(v: &str) -> Result<Value, &'static str> {
    Ok(Value::str(v))
}
pub(super) fn i(v: i64) -> Result<Value, &'static str> {
    Ok(Value::Int(v))
}
pub(super) fn b(v: bool) -> Result<Value, &'static str> {
    Ok(Value::Bool(v))
}
pub(super) fn list(v: &[&str]) -> Result<Value, &'static str> {
    Ok(Value::List(v.iter().map(|x| Value::str(*x)).collect()))
}
pub(super) const NULL: Result<Value, &str> = Ok(Value::Null);

/// Evaluates `input` against [`fixture`]; `Err(text)` expects a parse or
/// evaluation error whose message contains `text`.
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
fn reference_examples() {
    check(r#"Join(",", [givenName], [surname])"#, s("John,Doe"));
    check(r#"Replace([mailNickname], , "[a-zA-Z_]*", , "", , )"#, s("72"));
    check(r#"Switch([IsSoftDeleted], , "False", "True", "True", "False")"#, s("True"));
    check(r#"Mid("John Doe", 3, 5)"#, s("hn Do"));
    check(r#"Word("The quick brown fox", 3, " ")"#, s("brown"));
    check(r#"Word("This,string!has&many separators", 3, ",!&#")"#, s("has"));
    check(r#"FormatDateTime([extensionAttribute1], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")"#, s("2015-01-23"));
    check(r#"NormalizeDiacritics("Zoë")"#, s("Zoe"));
    check(r#"Append([mailNickname], "@contoso.com")"#, s("john_doe72@contoso.com"));
    check(r#"BitAnd([userAccountControl], 2)"#, i(2));
    check(r#"ConvertToBase64("Hello world!")"#, s("SABlAGwAbABvACAAdwBvAHIAbABkACEA"));
    check(r#"ConvertToUTF8Hex("Hello world!")"#, s("48656C6C6F20776F726C6421"));
    check(r#"Count([proxyAddresses])"#, i(3));
    check(r#"IIF([country]="USA",[country],[department])"#, s("USA"));
    check(r#"InStr("The quick brown fox","quick")"#, i(5));
    check(r#"InStr("repEated","e",3,vbBinaryCompare)"#, i(7));
    check(r#"InStr("repEated","e",3,vbTextCompare)"#, i(4));
    check(r#"Left("John Doe", 3)"#, s("Joh"));
    check(r#"PCase("NEW YORK")"#, s("New York"));
    check(r#"PCase("pablo gonsalves (SECOND)")"#, s("Pablo Gonsalves (Second)"));
    check(r#"ToLower("JOHN.DOE@CONTOSO.COM")"#, s("john.doe@contoso.com"));
    check(r#"ToUpper("John.Doe@contoso.com", "en-US")"#, s("JOHN.DOE@CONTOSO.COM"));
    check(r#"StripSpaces(" John  Doe ")"#, s("JohnDoe"));
    check(r#"Split("a,b,c", ",")"#, list(&["a", "b", "c"]));
    check(
        r#"Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )\\((?<areaCode>\\d*)\\)(?<number>.*)", , "${isdCode}${areaCode}${number}", , )"#,
        s("91 080 2555 0100"),
    );
    check(r#"Replace([mail], "@contoso.com", , , "@fabrikam.com", , )"#, s("John.Doe@fabrikam.com"));
    check(r#"Replace([mailNickname], "<nick>", , , , , "<nick>@contoso.com")"#, s("john_doe72@contoso.com"));
    check(
        r#"SelectUniqueValue(Join("@", NormalizeDiacritics(StripSpaces([givenName])), "contoso.com"), Join("@", NormalizeDiacritics(StripSpaces(Left([givenName], 1))), "contoso.com"))"#,
        s("John@contoso.com"),
    );
    check(r#"SingleAppRoleAssignment([appRoleAssignments])"#, s("admin"));
    check(r#"Join(" ", Item([businessPhones], 2), "ext")"#, s("+1 425 555 0101 ext"));
    check(r#"RemoveDuplicates([proxyAddresses])"#, list(&["SMTP:a@x.com", "smtp:b@x.com"]));
}

#[test]
fn strings() {
    check(r#"Append([missing], "@x")"#, NULL);
    check(r#"Append("a", [missing])"#, s("a"));
    check(r#"Append([businessPhones], "!")"#, list(&["+1 425 555 0100!", "+1 425 555 0101!"]));
    check(r#"Append(1, 2)"#, s("12"));
    check(r#"Left("John", 0)"#, s(""));
    check(r#"Left("John", 10)"#, s("John"));
    check(r#"Left("John", -1)"#, s("John"));
    check(r#"Left("Zoë", 3)"#, s("Zoë"));
    check(r#"Left([missing], 2)"#, NULL);
    check(r#"Left("John", "x")"#, Err("Left: argument 2 must be a whole number, got string"));
    check(r#"Left("John")"#, Err("parse: at character 0: Left expects 2 arguments, got 1"));
    check(r#"Mid("John Doe", 1, 4)"#, s("John"));
    check(r#"Mid("John Doe", 6, 100)"#, s("Doe"));
    check(r#"Mid("John Doe", 20, 2)"#, s(""));
    check(r#"Mid("John Doe", 0, 2)"#, Err("Mid: argument 2: start must be 1 or more"));
    check(r#"Mid("John Doe", 1, -2)"#, Err("Mid: argument 3: length must be 0 or more"));
    check(r#"Mid([missing], 1, 2)"#, NULL);
    check(r#"Mid("a", 1)"#, Err("Mid expects 3 arguments"));
    check(r#"Len("Zoë")"#, i(3));
    check(r#"Len([missing])"#, i(0));
    check(r#"Len([businessPhones])"#, Err("Len: argument 1 must be a single value, got multi-valued attribute"));
    check(r#"Len(12345)"#, i(5));
    check(r#"StripSpaces([missing])"#, NULL);
    check(r#"StripSpaces("a\tb c")"#, s("atbc"));
    check(r#"NormalizeDiacritics([accented])"#, s(" Zoe  Saldana "));
    check(r#"NormalizeDiacritics("Ærøskøbing Łódź Straße İstanbul")"#, s("AEroskobing Lodz Strasse Istanbul"));
    check(r#"NormalizeDiacritics([missing])"#, NULL);
    check(r#"PCase("joHN dOE")"#, s("John Doe"));
    check(r#"PCase("NEW YORK-city", " ")"#, s("New York-city"));
    check(r#"PCase("NEW YORK-city")"#, s("New York-City"));
    check(r#"PCase("o'neil mcdonald")"#, s("O'neil Mcdonald"));
    check(r#"PCase([missing])"#, NULL);
    check(r#"PCase("a", " ", 1)"#, Err("PCase expects 1 to 2 arguments, got 3"));
    check(r#"ToLower([missing])"#, NULL);
    check(r#"ToUpper([businessPhones])"#, list(&["+1 425 555 0100", "+1 425 555 0101"]));
    check(r#"tOuPpEr("straße")"#, s("STRASSE"));
    check(r#"Word("The quick brown fox", 5, " ")"#, s(""));
    check(r#"Word("The quick brown fox", 0, " ")"#, s(""));
    check(r#"Word("  The   quick ", 2, " ")"#, s("quick"));
    check(r#"Word("a b", 1, )"#, s("a"));
    check(r#"Word([missing], 1, " ")"#, NULL);
    check(r#"Word("a", "one", " ")"#, Err("Word: argument 2 must be a whole number"));
    check(r#"InStr("abc", "")"#, i(1));
    check(r#"InStr("abc", "c", 4)"#, i(0));
    check(r#"InStr("abc", "z")"#, i(0));
    check(r#"InStr("ZOË zoë", "zoë", 1, 1)"#, i(1));
    check(r#"InStr("ZOË zoë", "zoë", 1, 0)"#, i(5));
    check(r#"InStr([missing], "a")"#, NULL);
    check(r#"InStr("abc", "a", 0)"#, Err("InStr: argument 3: start must be 1 or more"));
    check(r#"InStr("abc", "a", 1, 7)"#, Err("compareType must be 0 (vbBinaryCompare) or 1"));
    check(r#"InStr("abc")"#, Err("InStr expects 2 to 4 arguments, got 1"));
}

#[test]
fn logic() {
    check(r#"Switch([IsSoftDeleted], , "False", "True", "True", "False")"#, s("True"));
    check(r#"Switch([accountEnabled], "?", "true", "yes", "false", "no")"#, s("yes"));
    check(r#"Switch([missing], "default", "a", "1")"#, s("default"));
    check(r#"Switch([missing], , "a", "1")"#, NULL);
    check(r#"Switch([country], "0", "usa", "1", "FR", "2")"#, s("1"));
    check(r#"Switch([department], "0", "usa", "1")"#, s("0"));
    check(r#"IIF([country]="FR", "fr", "other")"#, s("other"));
    check(r#"IIF([missing], "yes", "no")"#, s("no"));
    check(r#"IIF("True", "yes", "no")"#, s("yes"));
    check(r#"IIF(IsPresent([mail]), [mail], IgnoreFlowIfNullOrEmpty([missing]))"#, s("John.Doe@contoso.com"));
    check(r#"IIF("maybe", 1, 2)"#, Err("IIF: argument 1 must be a boolean"));
    check(r#"IIF(True, 1)"#, Err("IIF expects 3 arguments, got 2"));
    check(r#"Coalesce([missing], [empty], [mail])"#, s("John.Doe@contoso.com"));
    check(r#"Coalesce([missing], [empty])"#, NULL);
    check(r#"Coalesce([mailNickname], "x")"#, s("john_doe72"));
    check(r#"IsNull([missing])"#, b(true));
    check(r#"IsNull([empty])"#, b(false));
    check(r#"IsNullOrEmpty([empty])"#, b(true));
    check(r#"IsNullOrEmpty([mail])"#, b(false));
    check(r#"IsPresent([empty])"#, b(false));
    check(r#"IsPresent([givenName])"#, b(true));
    check(r#"IsString([givenName])"#, b(true));
    check(r#"IsString([userAccountControl])"#, b(false));
    check(r#"IsString([missing])"#, b(false));
    check(r#"Not([IsSoftDeleted])"#, b(true));
    check(r#"Not("TRUE")"#, b(false));
    check(r#"Not([missing])"#, NULL);
    check(r#"Not("x")"#, Err("Not: argument 1 must be a boolean"));
    check(r#"CBool([accountEnabled])"#, b(true));
    check(r#"CBool(0)"#, b(false));
    check(r#"CBool("7")"#, b(true));
    check(r#"CBool([missing])"#, b(false));
    check(r#"CBool([givenName] = [surname])"#, b(false));
    check(r#"CBool([givenName] = "JOHN")"#, b(true));
    check(r#"CBool("abc")"#, Err("CBool: argument 1 must be a boolean"));
    check(r#"CStr([userAccountControl])"#, s("514"));
    check(r#"CStr([IsSoftDeleted])"#, s("False"));
    check(r#"CStr([missing])"#, NULL);
    check(r#"CStr([proxyAddresses])"#, Err("CStr: argument 1 must be a single value"));
    check(r#"BitAnd(6, "3")"#, i(2));
    check(r#"BitAnd([missing], 3)"#, NULL);
    check(r#"BitAnd("x", 3)"#, Err("BitAnd: argument 1 must be a whole number"));
    check(r#"IgnoreFlowIfNullOrEmpty([mail])"#, s("John.Doe@contoso.com"));
    check(r#"IgnoreFlowIfNullOrEmpty([empty])"#, Err("IgnoreFlowIfNullOrEmpty"));
    check(r#"Redact([givenName])"#, s("John"));
    check(r#"SelectUniqueValue([missing], [empty], [surname])"#, s("Doe"));
    check(r#"SelectUniqueValue([missing], [empty])"#, NULL);
    check(r#"SelectUniqueValue([givenName])"#, Err("SelectUniqueValue expects at least 2 arguments, got 1"));
    check(r#"Guid(1)"#, Err("Guid expects no arguments, got 1"));
}

#[test]
fn lists() {
    check(r#"Count([missing])"#, i(0));
    check(r#"Count([mail])"#, i(1));
    check(r#"Item([businessPhones], 1)"#, s("+1 425 555 0100"));
    check(r#"Item([businessPhones], 3)"#, NULL);
    check(r#"Item([businessPhones], 0)"#, NULL);
    check(r#"Item([mail], 1)"#, s("John.Doe@contoso.com"));
    check(r#"Item([mail], 2)"#, NULL);
    check(r#"Item([missing], 1)"#, NULL);
    check(r#"Item([businessPhones], "a")"#, Err("Item: argument 2 must be a whole number"));
    check(r#"Join(" ", [givenName], [missing], [surname])"#, s("John Doe"));
    check(r#"Join(" ", [givenName], [empty])"#, s("John"));
    check(r#"Join(";", [businessPhones])"#, s("+1 425 555 0100;+1 425 555 0101"));
    check(r#"Join(" ", [missing])"#, NULL);
    check(r#"Join(, "a", "b")"#, s("ab"));
    check(r#"Join(",")"#, Err("Join expects at least 2 arguments, got 1"));
    check(r#"Split("a,,b", ",")"#, list(&["a", "", "b"]));
    check(r#"Split("a--b", "--")"#, list(&["a", "b"]));
    check(r#"Split("abc", "")"#, list(&["abc"]));
    check(r#"Split([missing], ",")"#, NULL);
    check(r#"Split([businessPhones], ",")"#, Err("Split: argument 1 must be a single value"));
    check(r#"RemoveDuplicates([mail])"#, s("John.Doe@contoso.com"));
    check(r#"RemoveDuplicates([missing])"#, NULL);
    check(r#"Count(RemoveDuplicates(Split("a,b,a,A", ",")))"#, i(3));
    check(r#"SingleAppRoleAssignment([missing])"#, NULL);
    check(r#"SingleAppRoleAssignment(1)"#, Err("argument 1 must be [appRoleAssignments]"));
    check(r#"Count([appRoleAssignments])"#, i(2));
    check(r#"Count(AppRoleAssignmentsComplex([appRoleAssignments]))"#, i(2));
    check(r#"AppRoleAssignmentsComplex([missing])"#, NULL);
    check(r#"AppRoleAssignmentsComplex("x")"#, Err("argument 1 must be [appRoleAssignments]"));
}

#[test]
fn app_role_assignments_complex_shape() {
    let e = parse("AppRoleAssignmentsComplex([appRoleAssignments])").map_err(|e| e.to_string());
    let got = e.and_then(|e| e.eval(&fixture(), &EvalContext::at(now())).map_err(|e| e.to_string()));
    let expected = serde_json::json!([
        {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "Administrator", "value": "admin"},
        {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "Reader", "value": ""}
    ]);
    assert_eq!(got.map(|v| v.to_json()), Ok(expected));
}

#[test]
fn encodings() {
    check(r#"ConvertToBase64("")"#, s(""));
    check(r#"ConvertToBase64("é")"#, s("6QA="));
    check(r#"ConvertToBase64([missing])"#, NULL);
    check(r#"ConvertToUTF8Hex("é")"#, s("C3A9"));
    check(r#"ConvertToUTF8Hex([missing])"#, NULL);
    check(
        r#"ConvertToUTF8Hex([proxyAddresses])"#,
        list(&["534D54503A6140782E636F6D", "736D74703A6240782E636F6D", "534D54503A6140782E636F6D"]),
    );
}

#[test]
fn replace_forms() {
    check(r#"Replace([mail], "o", , , "0", , )"#, s("J0hn.D0e@c0nt0s0.c0m"));
    check(r#"Replace([mail], "O", , , "0", , )"#, s("John.Doe@contoso.com"));
    check(r#"Replace([missing], "o", , , "0", , )"#, NULL);
    check(r#"Replace([mail], "o", , , "0")"#, s("J0hn.D0e@c0nt0s0.c0m"));
    check(r#"Replace([businessPhones], " ", , , "", , )"#, list(&["+14255550100", "+14255550101"]));
    check(r#"Replace([givenName], "{x}", , , , , "cn={x},ou=Users")"#, s("cn=John,ou=Users"));
    check(r#"Replace([mail], , "(\\w+)\\.(\\w+)@.*", , "$2, $1", , )"#, s("Doe, John"));
    check(r#"Replace([mail], , "o", , "$&$&", , )"#, s("Joohn.Dooe@coontoosoo.coom"));
    check(r#"Replace([mail], , "(J)", , "$1a", , )"#, s("Jaohn.Doe@contoso.com"));
    check(r#"Replace([mail], , "@", , "$$ $x", , )"#, s("John.Doe$ $xcontoso.com"));
    check(
        r#"Replace([mail], , "^(?<user>[^@]*)@(?<domain>.*)$", "domain", "fabrikam.com", , )"#,
        s("John.Doe@fabrikam.com"),
    );
    check(r#"Replace([mail], , "(?<d>\\d)", "d", "*", , )"#, s("John.Doe@contoso.com"));
    check(r#"Replace([mailNickname], , "(?<d>\\d)", "d", "*", , )"#, s("john_doe**"));
    check(r#"Replace([missing], , "^(?<user>[^@]*)@", "user", , [mail], )"#, s("John.Doe"));
    check(r#"Replace([missing], , "^(?<user>[^@]*)@", "user", , "mail", )"#, s("John.Doe"));
    check(r#"Replace([givenName], , "^(?<user>[^@]*)@", "user", , [mail], )"#, s("John"));
    check(r#"Replace([missing], , "^(?<user>[^@]*)@", "user", , [missing], )"#, NULL);
    check(r#"Replace([missing], , "^(?<user>[^@]*)#", "user", , [mail], )"#, NULL);
    check(r#"Replace([mail], , Append("\\", "d"), , "*", , )"#, s("John.Doe@contoso.com"));
    check(r#"Replace([mail], , Append("(", ""), , "*", , )"#, Err("eval: Replace: invalid regular expression \"(\""));
    check(
        r#"Replace([mail], , "(?<a>x)", "b", "*", , )"#,
        Err("parse: at character 29: the regexPattern has no group named \"b\""),
    );
    check(
        r#"Replace([mail], , "(?<a>x)", [givenName], "*", , )"#,
        Err("eval: Replace: argument 4: the regexPattern has no group named \"John\""),
    );
    check(r#"Replace([mail], "a", "b", , "c", , )"#, Err("not both"));
    check(r#"Replace([mail], "a", , , , , )"#, Err("an oldValue needs a replacementValue or a template"));
    check(r#"Replace([mail], , "a", , , , )"#, Err("a regexPattern needs a replacementValue"));
    check(r#"Replace([mail], , "a", , , [mail], )"#, Err("needs a regexGroupName"));
    check(r#"Replace([mail], , "(?<a>a)", "a", "x", [mail], )"#, Err("not both"));
    check(r#"Replace([mail], "a")"#, Err("Replace expects 3 to 7 arguments, got 2"));
    check(r#"Replace([mail], "a", , , "b", , , )"#, Err("Replace expects 3 to 7 arguments, got 8"));
}

#[test]
fn references_include_named_replacement_attribute() {
    let e = parse(r#"Replace([missing], , "^(?<user>[^@]*)@", "user", , "mail", )"#);
    assert_eq!(e.map(|e| e.references()), Ok(vec!["missing".to_string(), "mail".to_string()]));
}

/// A string constant of `n` copies of `c`, as expression source.
fn repeated(c: char, n: usize) -> String {
    format!("\"{}\"", c.to_string().repeat(n))
}

#[test]
fn values_that_grow_past_the_bounds_are_refused_naming_the_function() {
    let x100 = repeated('x', 100);
    // Three nested Replace calls that multiply by 100 each: 1,000,000 bytes.
    let nested = format!(
        r#"Replace(Replace(Replace({a}, "a", , , {x100}), "x", , , {x100}), "x", , , {x100})"#,
        a = repeated('a', 100)
    );
    check(&nested, Err("Replace: the result is too large: an expression may compute a string of at most 65536 bytes"));
    let regex = format!(r#"Replace(Replace({a}, "a", , , {x100}), , "x", , {x100})"#, a = repeated('a', 100));
    check(&regex, Err("Replace: the result is too large"));
    let group = format!(r#"Replace(Replace({a}, "a", , , {x100}), , "(?<g>x)", "g", {x100})"#, a = repeated('a', 100));
    check(&group, Err("Replace: the result is too large"));
    let template = format!(
        r#"Replace(Replace({a}, "a", , , {x100}), "{{x}}", , , , , Replace({x100}, "x", , , "{{x}}"))"#,
        a = repeated('a', 100)
    );
    check(&template, Err("Replace: the result is too large"));
    let joined = format!(
        r#"Join(Replace({a}, "a", , , {x100}), Split({a}, ""), Split(Replace({a}, "a", , , "a,"), ","))"#,
        a = repeated('a', 100)
    );
    check(&joined, Err("Join: the result is too large"));
    let many =
        format!(r#"Split(Replace({a}, "a", , , "b,b,b,b,b,b,b,b,b,b,b,b,b,b,b"), ",")"#, a = repeated('a', 1000));
    check(&many, Err("Split: the result is too large: an expression may compute a list of at most 10000 items"));
    // Within the bounds, nothing changes.
    check(r#"Replace("aaa", "a", , , "bb")"#, s("bbbbbb"));
}
