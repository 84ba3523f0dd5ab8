//! Reading a CSV file (RFC 4180, through the `csv` crate): quoted fields,
//! doubled quotes, CRLF or LF, newlines inside quotes and a UTF-8 byte order
//! mark at the start. Each record comes with the line it starts on, so that a
//! bad row can be reported by its line.

/// A record that is not the file's: it is appended to the text read, and a
/// quoted field left open swallows it. The `csv` crate takes an open quote to
/// run to the end of the file, so this is how a file cut short is told from a
/// whole one.
const END_MARK: &str = "roster-end-of-file";

/// Splits `text` into records of fields, each with its 1-based starting line.
/// Blank lines are skipped; a quoted field that is never closed is an error
/// that names the line its record starts on.
pub fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let marked = format!("{text}\n{END_MARK}");
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(marked.as_bytes());
    let mut lines = Lines { text: marked.as_bytes(), at: 0, line: 1 };
    let mut out: Vec<(usize, Vec<String>)> = Vec::new();
    for record in reader.records() {
        // Text read from memory has no I/O or UTF-8 faults, and a flexible
        // reader takes records of any length: this is for what the crate may add.
        let record = record.map_err(|e| match e.position() {
            Some(p) => format!("line {}: {e}", lines.of(p.byte())),
            None => e.to_string(),
        })?;
        // A record of one empty field is a blank line (or `""` alone on one).
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        let line = record.position().map_or(lines.line, |p| lines.of(p.byte()));
        out.push((line, record.iter().map(str::to_string).collect()));
    }
    match out.pop() {
        Some((_, last)) if last.len() == 1 && last[0] == END_MARK => Ok(out),
        Some((line, _)) => Err(format!("line {line}: a quoted field is not closed")),
        None => Err("a quoted field is not closed".to_string()),
    }
}

/// The line a record starts on, from the byte offset the `csv` crate gives.
/// Its own line count is one short after a CRLF, and the offset it gives is
/// where it began to look: before the blank lines and the LF of a CRLF it
/// skips. A record never starts with a CR or an LF, so those are skipped here.
struct Lines<'a> {
    text: &'a [u8],
    /// How far the text is counted, and the line there.
    at: usize,
    line: usize,
}

impl Lines<'_> {
    /// The line of the first byte at or after `offset` that is no line break;
    /// offsets come in increasing order.
    fn of(&mut self, offset: u64) -> usize {
        let mut start = usize::try_from(offset).unwrap_or(usize::MAX).clamp(self.at, self.text.len());
        while matches!(self.text.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        self.line += self.text[self.at..start].iter().filter(|b| **b == b'\n').count();
        self.at = start;
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::records;

    fn check(input: &str, expected: &[(usize, &[&str])]) {
        let got = records(input).expect("parses");
        let want: Vec<(usize, Vec<String>)> =
            expected.iter().map(|(l, f)| (*l, f.iter().map(|s| s.to_string()).collect())).collect();
        assert_eq!(got, want, "input {input:?}");
    }

    #[test]
    fn reads_records() {
        check("a,b\n1,2\n", &[(1, &["a", "b"]), (2, &["1", "2"])]);
        check("a,b\r\n1,2", &[(1, &["a", "b"]), (2, &["1", "2"])]);
        check("a\n\"x,\"\"y\"\"\"\n", &[(1, &["a"]), (2, &["x,\"y\""])]);
        check("a,b\n\"l1\nl2\",z\nq,r\n", &[(1, &["a", "b"]), (2, &["l1\nl2", "z"]), (4, &["q", "r"])]);
        check("a,,c\n\n", &[(1, &["a", "", "c"])]);
        check("\u{feff}userName,mail\r\nann,a@x\r\n", &[(1, &["userName", "mail"]), (2, &["ann", "a@x"])]);
        check("a\r\n\"l1\r\nl2\",\"\"\r\n\r\nb", &[(1, &["a"]), (2, &["l1\r\nl2", ""]), (5, &["b"])]);
        check("a\"b,\"c\"d\n", &[(1, &["a\"b", "cd"])]);
        check("a\rb\n", &[(1, &["a"]), (1, &["b"])]);
        check("", &[]);
        check("\u{feff}", &[]);
    }

    #[test]
    fn an_unclosed_quote_names_the_line_its_record_starts_on() {
        assert_eq!(records("\"open"), Err("line 1: a quoted field is not closed".to_string()));
        assert_eq!(records("a,b\nc,\"d\ne\n"), Err("line 2: a quoted field is not closed".to_string()));
        assert_eq!(records("a\n\"x\"\"\n"), Err("line 2: a quoted field is not closed".to_string()));
    }

    mod properties {
        use super::records;
        use proptest::prelude::*;

        /// Writes records as RFC 4180 does, every field quoted.
        fn write(rows: &[Vec<String>]) -> String {
            let mut out = String::new();
            for row in rows {
                let fields: Vec<String> = row.iter().map(|f| format!("\"{}\"", f.replace('"', "\"\""))).collect();
                out.push_str(&fields.join(","));
                out.push_str("\r\n");
            }
            out
        }

        fn field() -> impl Strategy<Value = String> {
            // Any text, with the characters CSV gives a meaning to made likely.
            prop_oneof![any::<String>(), "[a-z,\"\r\n =+@-]{0,12}"]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

            /// Whatever the file holds, reading it ends with records or an error, never a panic.
            /// Lines are counted by LF; a lone CR ends a record too (as spreadsheets
            /// read it), so two records may start on one line, never on an earlier one.
            #[test]
            fn any_text_reads_without_panic(text in any::<String>()) {
                if let Ok(rows) = records(&text) {
                    let lines = text.matches('\n').count() + 1;
                    let mut last = 1;
                    for (line, _) in rows {
                        prop_assert!(line >= last && line <= lines, "line {line} after {last}, of {lines}");
                        last = line;
                    }
                }
            }

            /// Records written by the RFC's rules read back as they were, each
            /// with the line it starts on.
            #[test]
            fn written_records_read_back(rows in prop::collection::vec(prop::collection::vec(field(), 1..5), 0..8)) {
                // A record of one empty field is a blank line, which a reader skips.
                let rows: Vec<Vec<String>> = rows.into_iter().filter(|r| !(r.len() == 1 && r[0].is_empty())).collect();
                let text = write(&rows);
                let read = records(&text).map_err(TestCaseError::fail)?;
                let mut line = 1;
                let mut want = Vec::new();
                for row in &rows {
                    want.push((line, row.clone()));
                    line += row.iter().map(|f| f.matches('\n').count()).sum::<usize>() + 1;
                }
                prop_assert_eq!(read, want);
            }
        }
    }
}
