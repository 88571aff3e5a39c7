//! Field-level comparison: the `fields` of `update` and `update-user`, and user ops.
//!
//! Field names are the manifest's camelCase names; values are JSON, so a renderer or
//! the audit log shows them exactly as a manifest would write them. Fields are sorted
//! by name. Structural fields (parent, plan, active) are not here: they have their own
//! operations (move/group/ungroup, change-plan, activate/deactivate).

use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use serde_json::Value;
use similar::{Algorithm, DiffOp, capture_diff_slices};

use crate::model::{Kind, NodeSpec, PlanSpec, User};
use crate::plan::{Change, FieldChange, Op};

/// Serializes a model value; the model types are plain data and always serialize.
fn json<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn push_if_changed<T: Serialize + PartialEq + ?Sized>(
    fields: &mut Vec<FieldChange>,
    name: &str,
    before: &T,
    after: &T,
) {
    if before != after {
        fields.push(FieldChange {
            name: name.to_string(),
            before: json(before),
            after: json(after),
        });
    }
}

/// The non-structural spec fields that differ, sorted by name.
pub(super) fn node_fields(before: &NodeSpec, after: &NodeSpec) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    push_if_changed(&mut fields, "address", &before.address, &after.address);
    push_if_changed(&mut fields, "contact", &before.contact, &after.contact);
    push_if_changed(
        &mut fields,
        "customerType",
        &before.customer_type.map(|value| value.as_str()),
        &after.customer_type.map(|value| value.as_str()),
    );
    push_if_changed(
        &mut fields,
        "displayName",
        &before.display_name,
        &after.display_name,
    );
    push_if_changed(
        &mut fields,
        "lockedSettings",
        &before.locked_settings,
        &after.locked_settings,
    );
    push_if_changed(&mut fields, "reseller", &before.reseller, &after.reseller);
    push_if_changed(&mut fields, "services", &before.services, &after.services);
    push_if_changed(&mut fields, "settings", &before.settings, &after.settings);
    push_if_changed(
        &mut fields,
        "type",
        before.node_type.as_str(),
        after.node_type.as_str(),
    );
    fields
}

/// The service plan fields that differ, sorted by name.
pub(super) fn plan_fields(before: &PlanSpec, after: &PlanSpec) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    push_if_changed(
        &mut fields,
        "billing",
        before.billing.as_str(),
        after.billing.as_str(),
    );
    push_if_changed(
        &mut fields,
        "displayName",
        &before.display_name,
        &after.display_name,
    );
    push_if_changed(&mut fields, "licenses", &before.licenses, &after.licenses);
    push_if_changed(&mut fields, "limits", &before.limits, &after.limits);
    fields
}

/// The `managedBy` field of an adoption: unmanaged → this source.
pub(super) fn adoption_field(source: &str) -> FieldChange {
    FieldChange {
        name: "managedBy".to_string(),
        before: Value::Null,
        after: Value::String(source.to_string()),
    }
}

/// Inserts a field keeping the list sorted by name.
pub(super) fn insert_sorted(fields: &mut Vec<FieldChange>, field: FieldChange) {
    let at = fields.partition_point(|existing| existing.name < field.name);
    fields.insert(at, field);
}

/// User operations of one account, users identified by e-mail: updates and additions
/// in the desired order, then removals in the live order.
///
/// A position change counts as an update, but only for users whose order relative to
/// the other kept users changed (a longest-common-subsequence diff), so adding one user
/// at the top does not report every other user as moved.
pub(super) fn user_changes(
    kind: Kind,
    account: &str,
    before: &[User],
    after: &[User],
) -> Vec<Change> {
    // Accounts may carry thousands of users from a CSV file: index them once.
    let before_positions: FxHashMap<&str, usize> = before
        .iter()
        .enumerate()
        .map(|(index, user)| (&*user.email, index))
        .collect();
    let after_emails: FxHashSet<&str> = after.iter().map(|user| &*user.email).collect();
    let before_position = |email: &str| before_positions.get(email).copied();
    let after_has = |email: &str| after_emails.contains(email);
    let kept_before: Vec<&str> = before
        .iter()
        .map(|user| &*user.email)
        .filter(|email| after_has(email))
        .collect();
    let kept_after: Vec<&str> = after
        .iter()
        .map(|user| &*user.email)
        .filter(|email| before_position(email).is_some())
        .collect();
    let reordered = reordered_users(&kept_before, &kept_after);
    let change = |op: Op, email: &str, fields: Vec<FieldChange>| Change {
        op,
        kind,
        name: account.into(),
        from: None,
        to: None,
        user: Some(email.to_string()),
        fields,
        cascade: None,
    };
    let mut changes = Vec::new();
    for (after_index, user) in after.iter().enumerate() {
        let Some(before_index) = before_position(&user.email) else {
            changes.push(change(Op::AddUser, &user.email, Vec::new()));
            continue;
        };
        let mut fields = user_fields(&before[before_index], user);
        if reordered.binary_search(&&*user.email).is_ok() {
            insert_sorted(
                &mut fields,
                FieldChange {
                    name: "position".to_string(),
                    before: Value::from(before_index),
                    after: Value::from(after_index),
                },
            );
        }
        if !fields.is_empty() {
            changes.push(change(Op::UpdateUser, &user.email, fields));
        }
    }
    for user in before.iter().filter(|user| !after_has(&user.email)) {
        changes.push(change(Op::RemoveUser, &user.email, Vec::new()));
    }
    changes
}

fn user_fields(before: &User, after: &User) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    push_if_changed(&mut fields, "language", &before.language, &after.language);
    push_if_changed(&mut fields, "name", &before.name, &after.name);
    push_if_changed(
        &mut fields,
        "role",
        before.role.as_str(),
        after.role.as_str(),
    );
    push_if_changed(&mut fields, "timezone", &before.timezone, &after.timezone);
    fields
}

/// The kept users (by e-mail) that are not part of the longest common subsequence.
fn reordered_users<'a>(before: &[&'a str], after: &[&'a str]) -> Vec<&'a str> {
    if before == after {
        return Vec::new();
    }
    let mut reordered: Vec<&str> = capture_diff_slices(Algorithm::Myers, before, after)
        .into_iter()
        .filter(|operation| !matches!(operation, DiffOp::Equal { .. }))
        .flat_map(|operation| after[operation.new_range()].to_vec())
        .collect();
    reordered.sort_unstable();
    reordered
}
