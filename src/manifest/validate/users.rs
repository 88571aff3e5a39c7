//! Users and contact addresses: the first user of a customer (or enterprise) is an
//! admin, e-mail addresses look like e-mail addresses, no e-mail appears twice in one
//! account, and every user has a name.

use rustc_hash::FxHashMap;

use crate::manifest::declare::{Declared, DeclaredNode, UserOrigin};
use crate::manifest::diagnostic::{Finding, Rule, Target};
use crate::model::{NodeType, Role};

pub(super) fn check(declared: &Declared, findings: &mut Vec<Finding>) {
    super::each_node(declared, check_node, findings);
}

fn check_node(entry: &DeclaredNode, findings: &mut Vec<Finding>) {
    check_contact(entry, findings);
    if entry.node.spec.users.is_empty() {
        return;
    }
    check_first_user(entry, findings);
    check_users(entry, findings);
}

fn check_contact(entry: &DeclaredNode, findings: &mut Vec<Finding>) {
    let Some(email) = entry
        .node
        .spec
        .contact
        .as_ref()
        .and_then(|contact| contact.email.as_deref())
    else {
        return;
    };
    if !is_valid_email(email) {
        findings.push(
            Finding::error(
                Rule::InvalidEmail,
                entry.origin.field_at(&["contact", "email"], Target::Value),
                format!("invalid contact e-mail `{email}` of `{}`", entry.node.name),
            )
            .about(&entry.node.name),
        );
    }
}

fn check_first_user(entry: &DeclaredNode, findings: &mut Vec<Finding>) {
    let spec = &entry.node.spec;
    if !matches!(spec.node_type, NodeType::Customer | NodeType::Enterprise) {
        return;
    }
    let Some(first) = spec.users.first() else {
        return;
    };
    if first.role != Role::Admin {
        findings.push(
            Finding::error(
                Rule::FirstUserNotAdmin,
                entry.user_at(0, Some("role")),
                format!(
                    "the first user of {} `{}` must be an admin, but {} is a {}; list an admin first",
                    spec.node_type,
                    entry.node.name,
                    shown(entry, 0, &first.email),
                    first.role.as_str()
                ),
            )
            .about(&entry.node.name),
        );
    }
}

/// A user's value as a message may show it: quoted when it was written in a manifest,
/// never when it came from a CSV file (errors about a file's content quote no data;
/// the location names the row).
fn shown(entry: &DeclaredNode, position: usize, value: &str) -> String {
    match entry.user_origin(position) {
        Some(UserOrigin::Csv { .. }) => "in this CSV row".to_string(),
        _ => format!("`{value}`"),
    }
}

fn check_users(entry: &DeclaredNode, findings: &mut Vec<Finding>) {
    let name = &entry.node.name;
    let mut seen: FxHashMap<String, usize> = FxHashMap::default();
    for (position, user) in entry.node.spec.users.iter().enumerate() {
        if !is_valid_email(&user.email) {
            findings.push(
                Finding::error(
                    Rule::InvalidEmail,
                    entry.user_at(position, Some("email")),
                    format!(
                        "invalid e-mail {} for a user of `{name}`",
                        shown(entry, position, &user.email)
                    ),
                )
                .about(name),
            );
        }
        if user.name.trim().is_empty() {
            findings.push(
                Finding::error(
                    Rule::InvalidUser,
                    entry.user_at(position, Some("name")),
                    format!(
                        "user {} of `{name}` has no name",
                        shown(entry, position, &user.email)
                    ),
                )
                .about(name),
            );
        }
        if entry.node.spec.users.len() == 1 {
            continue;
        }
        // E-mail addresses are compared without case: mail systems treat them so.
        match seen.entry(user.email.to_lowercase()) {
            std::collections::hash_map::Entry::Occupied(first) => findings.push(
                Finding::error(
                    Rule::DuplicateUserEmail,
                    entry.user_at(position, Some("email")),
                    format!(
                        "user e-mail {} appears twice in `{name}`",
                        shown(entry, position, &user.email)
                    ),
                )
                .about(name)
                .also_at(entry.user_at(*first.get(), Some("email"))),
            ),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(position);
            }
        }
    }
}

/// A practical e-mail check: one `@`, a local part, and a domain of at least two
/// dot-separated labels of letters, digits and `-`; no spaces. (RFC 5322 allows more,
/// but such addresses would not work in the products canopy provisions.)
pub fn is_valid_email(email: &str) -> bool {
    // Almost every address is ASCII: then bytes are checked, not decoded characters.
    let ascii = email.is_ascii();
    let has_space_or_control = if ascii {
        email
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    } else {
        email.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    if email.len() > 254 || has_space_or_control {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let label_characters_ok = |label: &str| {
        if ascii {
            label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        } else {
            label.chars().all(|c| c.is_alphanumeric() || c == '-')
        }
    };
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label_characters_ok(label)
        });
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::is_valid_email;

    #[rstest]
    #[case("anna@acme.example", true)]
    #[case("anna.berg+it@sub.acme.example", true)]
    #[case("anna@acme", false)]
    #[case("anna@@acme.example", false)]
    #[case("@acme.example", false)]
    #[case("anna@", false)]
    #[case("anna berg@acme.example", false)]
    #[case("anna@acme..example", false)]
    #[case("anna@-acme.example", false)]
    #[case(".anna@acme.example", false)]
    #[case("anna\u{b}x@acme.example", false)]
    #[case("jürgen@müller.example", true)]
    #[case("jürgen@mül ler.example", false)]
    #[case("jürgen@mül_ler.example", false)]
    fn email_addresses_are_checked(#[case] email: &str, #[case] valid: bool) {
        assert_eq!(is_valid_email(email), valid, "{email}");
    }
}
