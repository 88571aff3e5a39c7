//! Durations as flags spell them: `500ms`, `3s`, `5m`, `1h` (one number, one unit).

use std::time::Duration;

/// Parses `<integer><unit>` with unit `ms`, `s`, `m` or `h`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let invalid = || format!("invalid duration `{text}` (expected e.g. 500ms, 3s, 5m, 1h)");
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let milliseconds_per_unit = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(invalid()),
    };
    number
        .checked_mul(milliseconds_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(invalid)
}

/// The shortest spelling [`parse`] reads back to the same duration.
pub fn display(duration: Duration) -> String {
    let milliseconds = duration.as_millis();
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if milliseconds >= size && milliseconds.is_multiple_of(size) {
            return format!("{}{unit}", milliseconds / size);
        }
    }
    format!("{milliseconds}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case("500ms", 500)]
    #[case("3s", 3_000)]
    #[case("5m", 300_000)]
    #[case("1h", 3_600_000)]
    #[case("0s", 0)]
    fn durations_parse_in_every_unit(#[case] text: &str, #[case] milliseconds: u64) {
        assert_eq!(parse(text), Ok(Duration::from_millis(milliseconds)));
    }

    #[rstest::rstest]
    #[case("")]
    #[case("5")]
    #[case("ms")]
    #[case("1.5s")]
    #[case("-3s")]
    #[case("3 s")]
    #[case("2d")]
    #[case("99999999999999999999h")]
    fn malformed_durations_are_refused(#[case] text: &str) {
        assert!(parse(text).is_err(), "{text}");
    }

    #[rstest::rstest]
    #[case(100, "100ms")]
    #[case(3_000, "3s")]
    #[case(90_000, "90s")]
    #[case(7_200_000, "2h")]
    fn durations_display_as_they_parse(#[case] milliseconds: u64, #[case] text: &str) {
        let duration = Duration::from_millis(milliseconds);
        assert_eq!(display(duration), text);
        assert_eq!(parse(text), Ok(duration));
    }
}
