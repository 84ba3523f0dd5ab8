//! Durations as people type them: `45s`, `90m`, `12h`, `30d`, `2w`.

/// The length of `text` in milliseconds: a whole number followed by `s`, `m`,
/// `h`, `d` or `w`; `None` when it is not one, is zero, or overflows.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().ok().filter(|n| *n > 0)?;
    let unit_ms: i64 = match unit {
        "s" => 1000,
        "m" => 60 * 1000,
        "h" => 3600 * 1000,
        "d" => 24 * 3600 * 1000,
        "w" => 7 * 24 * 3600 * 1000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

#[cfg(test)]
mod tests {
    use super::parse_duration_ms;

    fn check(text: &str, expected: Option<i64>) {
        assert_eq!(parse_duration_ms(text), expected, "{text:?}");
    }

    #[test]
    fn durations() {
        check("45s", Some(45_000));
        check("90m", Some(5_400_000));
        check("12h", Some(43_200_000));
        check("30d", Some(2_592_000_000));
        check("2w", Some(1_209_600_000));
        check(" 1h ", Some(3_600_000));
        check("0d", None);
        check("12", None);
        check("h", None);
        check("1y", None);
        check("-1d", None);
        check("1.5h", None);
        check("99999999999999999999d", None);
        check("9223372036854775807w", None);
    }
}
