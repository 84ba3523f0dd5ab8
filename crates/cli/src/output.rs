//! Output for humans (aligned tables) or scripts (`--json`).

use serde_json::Value;

/// Prints `rows` as a table with `columns` (JSON field, heading), or as JSON.
pub fn table(json: bool, value: &Value, rows: &[Value], columns: &[(&str, &str)]) {
    if json {
        println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
        return;
    }
    let cells: Vec<Vec<String>> = rows.iter().map(|r| columns.iter().map(|(f, _)| cell(&r[*f])).collect()).collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, h))| cells.iter().map(|c| c[i].chars().count()).chain([h.len()]).max().unwrap_or(0).min(48))
        .collect();
    let line = |items: Vec<String>| {
        items
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{:<w$}", truncate(s, *w), w = *w))
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!("{}", line(columns.iter().map(|(_, h)| h.to_string()).collect()).trim_end());
    for c in cells {
        println!("{}", line(c).trim_end());
    }
}

/// Prints one object as `key: value` lines, or as JSON.
pub fn object(json: bool, value: &Value) {
    if json {
        println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
        return;
    }
    if let Some(map) = value.as_object() {
        let width = map.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in map {
            println!("{k:<width$}  {}", cell(v));
        }
    } else {
        println!("{}", cell(value));
    }
}

/// A time stored as milliseconds since the epoch, as the tables show it (UTC).
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}

/// One value as a cell.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(", "),
        Value::Object(o) if o.is_empty() => String::new(),
        other => other.to_string(),
    }
}

fn truncate(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
