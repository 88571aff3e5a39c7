//! Text the databases would store differently or not at all: control characters (NUL,
//! escape, line breaks, …) in the plain-text fields of accounts, users and plans; and
//! the bidirectional embedding, override and isolate characters (U+202A–U+202E,
//! U+2066–U+2069), which make a name display differently from what it stores
//! ("invoice\u{202E}gpj.exe" shows as "invoiceexe.jpg"). The marks U+200E/U+200F that
//! right-to-left names may need stay allowed.
//! PostgreSQL cannot store NUL in text at all, SQLite would store it; no display name,
//! user name, e-mail, language, timezone or address line needs any control character,
//! so both backends refuse the same input here, located, before anything is written.
//! The message names the character and its position, never the text (it may come
//! from a CSV file).

use crate::manifest::declare::{Declared, DeclaredNode};
use crate::manifest::diagnostic::{At, Finding, Rule, Target};

/// The first control or bidirectional-override character of `text`: its position (in
/// characters, from 1) and code point.
fn first_control(text: &str) -> Option<(usize, char)> {
    // Almost every text is printable ASCII: one pass over the bytes decides.
    if !text.bytes().any(|byte| !(0x20..0x7f).contains(&byte)) {
        return None;
    }
    text.chars()
        .enumerate()
        .find(|(_, character)| character.is_control() || is_bidi_control(*character))
        .map(|(index, character)| (index + 1, character))
}

fn is_bidi_control(character: char) -> bool {
    matches!(character, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `field` names the field in the message; it is only formatted when there is one.
fn check_field(
    text: Option<&str>,
    field: impl FnOnce() -> String,
    object: &str,
    at: impl FnOnce() -> At,
    findings: &mut Vec<Finding>,
) {
    let Some((position, character)) = text.and_then(first_control) else {
        return;
    };
    let field = field();
    findings.push(
        Finding::error(
            Rule::ControlCharacter,
            at(),
            if is_bidi_control(character) {
                format!(
                    "{field} of `{object}` contains the bidirectional control character \
                     U+{:04X} at character {position}; remove it (it makes the text display \
                     differently from what is stored)",
                    u32::from(character)
                )
            } else {
                format!(
                    "{field} of `{object}` contains the control character U+{:04X} at \
                     character {position}; remove it (no account field may contain control \
                     characters)",
                    u32::from(character)
                )
            },
        )
        .about(object),
    );
}

pub(super) fn check(declared: &Declared, findings: &mut Vec<Finding>) {
    super::each_node(declared, check_node, findings);
    for entry in &declared.plans {
        let name = entry.plan.name.as_str();
        check_field(
            entry.plan.spec.display_name.as_deref(),
            || "displayName".to_string(),
            name,
            || entry.origin.field_at(&["displayName"], Target::Value),
            findings,
        );
    }
}

fn check_node(entry: &DeclaredNode, findings: &mut Vec<Finding>) {
    let spec = &entry.node.spec;
    let name = entry.node.name.as_str();
    let field = |path: &'static [&'static str]| move || entry.origin.field_at(path, Target::Value);
    check_field(
        Some(&spec.display_name),
        || "displayName".to_string(),
        name,
        field(&["displayName"]),
        findings,
    );
    if let Some(address) = &spec.address {
        for (key, value) in [
            ("street", &address.street),
            ("city", &address.city),
            ("postalCode", &address.postal_code),
            ("state", &address.state),
            ("country", &address.country),
        ] {
            let at = || entry.origin.field_at(&["address", key], Target::Value);
            check_field(
                value.as_deref(),
                || format!("address.{key}"),
                name,
                at,
                findings,
            );
        }
    }
    if let Some(contact) = &spec.contact {
        for (key, value) in [
            ("name", &contact.name),
            ("email", &contact.email),
            ("phone", &contact.phone),
        ] {
            let at = || entry.origin.field_at(&["contact", key], Target::Value);
            check_field(
                value.as_deref(),
                || format!("contact.{key}"),
                name,
                at,
                findings,
            );
        }
    }
    for (index, user) in spec.users.iter().enumerate() {
        for (key, value) in [
            ("email", Some(&*user.email)),
            ("name", Some(&*user.name)),
            ("language", user.language.as_deref()),
            ("timezone", user.timezone.as_deref()),
        ] {
            let at = || entry.user_at(index, Some(key));
            let field = || format!("users[{index}].{key}");
            check_field(value, field, name, at, findings);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case("ACME\0GmbH", Some((5, '\0')))]
    #[case("line\nbreak", Some((5, '\n')))]
    #[case("tab\there", Some((4, '\t')))]
    #[case("esc\u{1b}[31m", Some((4, '\u{1b}')))]
    #[case("Müller & Söhne – ÆØÅ", None)]
    #[case("DEL\u{7f}", Some((4, '\u{7f}')))]
    #[case("Ünïcödé\u{202E}gpj", Some((8, '\u{202E}')))]
    fn control_characters_are_found_with_their_position(
        #[case] text: &str,
        #[case] found: Option<(usize, char)>,
    ) {
        assert_eq!(first_control(text), found);
    }
}
