//! A small RFC 4180 CSV reader: quoted fields, doubled quotes, CRLF or LF, and
//! newlines inside quotes. Each record comes with the line it starts on.

/// Splits `text` into records of fields, each with its 1-based starting line.
pub fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut record = Vec::new();
    let mut in_quotes = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (in_quotes, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => in_quotes = false,
            (true, '\n') => {
                line += 1;
                field.push('\n');
            }
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => in_quotes = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                if !(record.len() == 1 && record[0].is_empty()) {
                    out.push((start, std::mem::take(&mut record)));
                }
                record.clear();
                line += 1;
                start = line;
            }
            (false, c) => field.push(c),
        }
    }
    if in_quotes {
        return Err(format!("line {start}: a quoted field is not closed"));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        out.push((start, record));
    }
    Ok(out)
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
        assert!(records("\"open").is_err());
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
            #[test]
            fn any_text_reads_without_panic(text in any::<String>()) {
                if let Ok(rows) = records(&text) {
                    let lines = text.matches('\n').count() + 1;
                    let mut last = 0;
                    for (line, _) in rows {
                        prop_assert!(line > last && line <= lines, "line {line} after {last}, of {lines}");
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
