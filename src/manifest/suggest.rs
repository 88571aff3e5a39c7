//! "Did you mean": the closest of a set of known names to a mistyped one, shared by
//! references (a parent or plan that does not exist) and unknown fields.

/// How similar (Jaro-Winkler, 0 to 1) a candidate must be to be suggested.
const THRESHOLD: f64 = 0.85;

/// The most similar candidate, if one is close enough; ties go to the first in
/// alphabetical order.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
        .filter(|(score, _)| *score >= THRESHOLD)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, candidate)| candidate)
}

/// `; did you mean `x`?`, or nothing.
pub(crate) fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    closest(name, candidates)
        .map(|candidate| format!("; did you mean `{candidate}`?"))
        .unwrap_or_default()
}

/// Adds a suggestion to serde's "unknown field `x`, expected one of `a`, `b`" (or
/// "expected `a`"), when one of the expected fields is close to `x`.
pub(crate) fn unknown_field(message: &str) -> String {
    let Some(start) = message.find("unknown field `") else {
        return message.to_string();
    };
    let rest = &message[start + "unknown field `".len()..];
    let Some((field, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let candidates = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|candidate| !candidate.is_empty());
    format!("{message}{}", did_you_mean(field, candidates))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case(
        "unknown field `dispalyName`, expected one of `type`, `displayName`, `parent`",
        "; did you mean `displayName`?"
    )]
    #[case("unknown field `activ`, expected `active`", "; did you mean `active`?")]
    #[case("unknown field `zzz`, expected one of `type`, `displayName`", "")]
    #[case("missing field `type`", "")]
    fn unknown_fields_get_the_closest_expected_one(#[case] message: &str, #[case] added: &str) {
        assert_eq!(unknown_field(message), format!("{message}{added}"));
    }

    #[test]
    fn nothing_close_suggests_nothing() {
        assert_eq!(closest("acme", ["zebra", "other"].into_iter()), None);
        assert_eq!(
            closest("acme-eu", ["acme-eux", "x"].into_iter()),
            Some("acme-eux")
        );
    }
}
