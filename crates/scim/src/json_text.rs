//! JSON text written straight into one string: the same text as
//! `serde_json::to_string`, for what roster writes for every object it
//! provisions (a request's body, a log entry's steps and changes, a shadow),
//! in about half the instructions of going through serde's serializer. Most
//! strings need no escaping: they are checked, then copied whole.

use serde_json::{Map, Number, Value};
use std::fmt::Write;

/// A value written as JSON text.
pub trait JsonText {
    fn write_json(&self, out: &mut String);
}

/// `value` as JSON text, in a string that starts at `capacity` bytes.
pub fn json_text<T: JsonText + ?Sized>(value: &T, capacity: usize) -> String {
    let mut out = String::with_capacity(capacity);
    value.write_json(&mut out);
    out
}

/// Whether JSON needs `s` escaped: a control character, a quote or a backslash
/// (exactly what serde_json escapes). Eight bytes at a time: a byte below 0x20,
/// a quote or a backslash sets the high bit of its lane. A borrow carries only
/// out of a lane that matched, so the word is non-zero exactly when a byte does.
fn needs_escape(s: &str) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |v: u64, n: u8| v.wrapping_sub(ONES * n as u64) & !v & HIGH;
    let mut chunks = s.as_bytes().chunks_exact(8);
    for chunk in &mut chunks {
        let mut lanes = [0u8; 8];
        lanes.copy_from_slice(chunk);
        let v = u64::from_le_bytes(lanes);
        if below(v, 0x20) | below(v ^ (ONES * b'"' as u64), 1) | below(v ^ (ONES * b'\\' as u64), 1) != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Appends `s` as a JSON string.
pub fn write_string(out: &mut String, s: &str) {
    if needs_escape(s) {
        // Rare: serde_json's own escaping; writing a string into a String cannot fail.
        if let Ok(text) = serde_json::to_string(s) {
            out.push_str(&text);
        }
        return;
    }
    out.reserve(s.len() + 2);
    out.push('"');
    out.push_str(s);
    out.push('"');
}

fn number(out: &mut String, n: &Number) {
    // Writing into a String cannot fail.
    let _ = match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => write!(out, "{u}"),
        (None, Some(i)) => write!(out, "{i}"),
        // A float is written as serde_json writes it (shortest round trip).
        (None, None) => serde_json::to_string(n).map(|t| out.push_str(&t)).map_err(|_| std::fmt::Error),
    };
}

/// Appends `items` as a JSON array.
pub fn write_list<T: JsonText>(out: &mut String, items: &[T]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        item.write_json(out);
    }
    out.push(']');
}

impl JsonText for Value {
    fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => number(out, n),
            Value::String(s) => write_string(out, s),
            Value::Array(items) => write_list(out, items),
            Value::Object(map) => map.write_json(out),
        }
    }
}

impl JsonText for Map<String, Value> {
    fn write_json(&self, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(out, k);
            out.push(':');
            v.write_json(out);
        }
        out.push('}');
    }
}

impl JsonText for String {
    fn write_json(&self, out: &mut String) {
        write_string(out, self);
    }
}

impl<T: JsonText> JsonText for [T] {
    fn write_json(&self, out: &mut String) {
        write_list(out, self);
    }
}

impl<T: JsonText> JsonText for Vec<T> {
    fn write_json(&self, out: &mut String) {
        write_list(out, self);
    }
}

/// Appends `,"name":`: an object's member after its first.
pub fn write_field(out: &mut String, name: &str) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":");
}

#[cfg(test)]
mod tests {
    use super::{json_text, needs_escape};
    use serde_json::{json, Map, Value};

    /// Strings that need escaping, or look as if they might.
    const HOSTILE: &[&str] = &[
        "",
        "plain",
        "a \"quoted\" word",
        "back\\slash",
        "line\nbreak\r\ttab",
        "\u{0}\u{1}\u{1f}",
        "\u{7f} delete is not escaped",
        "émoji 👩‍💻 and ünïcödé",
        "</script>",
        "emails[type eq \"work\"].value",
        "=HYPERLINK(\"x\")",
    ];

    #[test]
    fn writes_what_serde_json_writes() {
        let mut values: Vec<Value> = HOSTILE.iter().map(|s| json!(s)).collect();
        values.extend([
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-12),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1.5),
            json!(1e21),
            json!(-0.000001),
            json!([]),
            json!({}),
            json!([1, "two", [3], {"four": null}]),
            json!({"value": "m1", "b": {"c\"d": [true, "é"]}, "a": 1}),
        ]);
        for v in &values {
            assert_eq!(json_text(v, 0), serde_json::to_string(v).unwrap(), "{v}");
        }
        let map: Map<String, Value> =
            HOSTILE.iter().enumerate().map(|(i, s)| (s.to_string(), values[i % values.len()].clone())).collect();
        assert_eq!(json_text(&map, 8), serde_json::to_string(&map).unwrap());
    }

    #[test]
    fn finds_a_byte_to_escape_wherever_it_stands() {
        for b in 0u8..0x80 {
            let special = b < 0x20 || b == b'"' || b == b'\\';
            for len in 1..20 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    let s = String::from_utf8(bytes).unwrap();
                    assert_eq!(needs_escape(&s), special, "byte {b:#x} at {at} of {len}");
                    assert_eq!(json_text(&Value::String(s.clone()), 0), serde_json::to_string(&s).unwrap());
                }
            }
            // Between characters of more than one byte.
            let s = format!("é{}ü👩{}", char::from(b), char::from(b));
            assert_eq!(json_text(&Value::String(s.clone()), 0), serde_json::to_string(&s).unwrap(), "byte {b:#x}");
        }
        assert!(!needs_escape("ünïcödé ü ⁂ 👩‍💻 stays as it is"));
    }

    #[test]
    fn agrees_with_a_byte_by_byte_check_beside_any_other_byte() {
        // Pieces whose bytes cover every lane value class: specials, plain
        // ASCII, DEL, and multi-byte characters (bytes 0x80 to 0xFF).
        let pieces = [
            "\"",
            "\\",
            "\n",
            "\u{0}",
            "\u{1f}",
            " ",
            "!",
            "#",
            "[",
            "]",
            "a",
            "~",
            "\u{7f}",
            "\u{80}",
            "é",
            "ÿ",
            "\u{7ff}",
            "€",
            "\u{ffff}",
            "👩",
            "\u{10ffff}",
        ];
        let naive = |s: &str| s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
        // A fixed-seed linear congruential generator: the same strings every run.
        let mut seed: u64 = 0x5eed;
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = (seed >> 59) as usize;
            let mut s = String::new();
            for _ in 0..len {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                // One draw in four is a piece; the rest are `é`, so that a special also
                // stands alone in a long string.
                let i = (seed >> 33) as usize % (pieces.len() * 4);
                s.push_str(pieces.get(i).copied().unwrap_or("é"));
            }
            assert_eq!(needs_escape(&s), naive(&s), "{s:?}");
        }
    }
}
