//! The nesting rules (docs/rules.md): which node types may sit under which.
//!
//! ```text
//! subsidiary      → partner, partner-group
//! partner         → partner, customer, enterprise, customer-group, partner-group
//! customer        → customer            (only with `reseller: true`)
//! enterprise      → customer
//! partner-group   → partner
//! customer-group  → customer, enterprise
//! root            : subsidiary or partner
//! ```
//!
//! The product contract lists no parent for `enterprise` at all, which would make the type
//! unusable; canopy lets an enterprise stand wherever an end customer of a partner can
//! (under a partner or in a customer group). docs/rules.md records this departure.

use super::NodeType;

/// Why a placement is not allowed, phrased for an error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    Allowed,
    /// The type may not be a root.
    NotARoot,
    /// The parent type may not hold the child type.
    Forbidden,
    /// A customer may hold customers only when it is a reseller.
    CustomerNotReseller,
}

/// Whether a node of type `child` may have a parent of type `parent` (`None`: a root).
/// `parent_is_reseller` matters only for a customer parent.
pub fn placement(parent: Option<(NodeType, bool)>, child: NodeType) -> Placement {
    use NodeType::*;
    let Some((parent, parent_is_reseller)) = parent else {
        return match child {
            Subsidiary | Partner => Placement::Allowed,
            _ => Placement::NotARoot,
        };
    };
    let allowed = match parent {
        Subsidiary => matches!(child, Partner | PartnerGroup),
        Partner => matches!(
            child,
            Partner | Customer | Enterprise | CustomerGroup | PartnerGroup
        ),
        Customer => {
            if child == Customer && !parent_is_reseller {
                return Placement::CustomerNotReseller;
            }
            child == Customer
        }
        Enterprise => child == Customer,
        PartnerGroup => child == Partner,
        CustomerGroup => matches!(child, Customer | Enterprise),
    };
    if allowed {
        Placement::Allowed
    } else {
        Placement::Forbidden
    }
}

/// A message for a placement that is not allowed.
pub fn explain(parent: Option<(NodeType, bool)>, child: NodeType) -> Option<String> {
    match placement(parent, child) {
        Placement::Allowed => None,
        Placement::NotARoot => Some(format!(
            "a {child} cannot be a root (a root is a subsidiary or a partner); give it a parent"
        )),
        Placement::CustomerNotReseller => Some(
            "a customer may contain customers only when it is a reseller (set `reseller: true` on the parent)"
                .to_string(),
        ),
        Placement::Forbidden => {
            let (parent, _) = parent?;
            let hint = if parent.is_group() && child.is_group() {
                " (groups do not nest)"
            } else {
                ""
            };
            Some(format!("a {parent} cannot contain a {child}{hint}"))
        }
    }
}

/// Whether a node of this type may carry a service plan. Partner groups may not; a
/// customer group's plan is pooled over its members.
pub fn may_carry_plan(node_type: NodeType) -> bool {
    node_type != NodeType::PartnerGroup
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::{Placement, explain, placement};
    use crate::model::NodeType::{self, *};

    /// Every (parent, child) pair: `None` is a root; the bool is the parent's
    /// `reseller` flag (it matters only for a customer parent).
    #[rstest]
    // Roots.
    #[case(None, Subsidiary, Placement::Allowed)]
    #[case(None, Partner, Placement::Allowed)]
    #[case(None, Customer, Placement::NotARoot)]
    #[case(None, Enterprise, Placement::NotARoot)]
    #[case(None, PartnerGroup, Placement::NotARoot)]
    #[case(None, CustomerGroup, Placement::NotARoot)]
    // subsidiary → partner, partner-group.
    #[case(Some((Subsidiary, false)), Subsidiary, Placement::Forbidden)]
    #[case(Some((Subsidiary, false)), Partner, Placement::Allowed)]
    #[case(Some((Subsidiary, false)), Customer, Placement::Forbidden)]
    #[case(Some((Subsidiary, false)), Enterprise, Placement::Forbidden)]
    #[case(Some((Subsidiary, false)), PartnerGroup, Placement::Allowed)]
    #[case(Some((Subsidiary, false)), CustomerGroup, Placement::Forbidden)]
    // partner → partner, customer, enterprise, customer-group, partner-group.
    #[case(Some((Partner, false)), Subsidiary, Placement::Forbidden)]
    #[case(Some((Partner, false)), Partner, Placement::Allowed)]
    #[case(Some((Partner, false)), Customer, Placement::Allowed)]
    #[case(Some((Partner, false)), Enterprise, Placement::Allowed)]
    #[case(Some((Partner, false)), PartnerGroup, Placement::Allowed)]
    #[case(Some((Partner, false)), CustomerGroup, Placement::Allowed)]
    // customer (not a reseller) → nothing.
    #[case(Some((Customer, false)), Subsidiary, Placement::Forbidden)]
    #[case(Some((Customer, false)), Partner, Placement::Forbidden)]
    #[case(Some((Customer, false)), Customer, Placement::CustomerNotReseller)]
    #[case(Some((Customer, false)), Enterprise, Placement::Forbidden)]
    #[case(Some((Customer, false)), PartnerGroup, Placement::Forbidden)]
    #[case(Some((Customer, false)), CustomerGroup, Placement::Forbidden)]
    // customer with `reseller: true` → customer.
    #[case(Some((Customer, true)), Subsidiary, Placement::Forbidden)]
    #[case(Some((Customer, true)), Partner, Placement::Forbidden)]
    #[case(Some((Customer, true)), Customer, Placement::Allowed)]
    #[case(Some((Customer, true)), Enterprise, Placement::Forbidden)]
    #[case(Some((Customer, true)), PartnerGroup, Placement::Forbidden)]
    #[case(Some((Customer, true)), CustomerGroup, Placement::Forbidden)]
    // enterprise → customer.
    #[case(Some((Enterprise, false)), Subsidiary, Placement::Forbidden)]
    #[case(Some((Enterprise, false)), Partner, Placement::Forbidden)]
    #[case(Some((Enterprise, false)), Customer, Placement::Allowed)]
    #[case(Some((Enterprise, false)), Enterprise, Placement::Forbidden)]
    #[case(Some((Enterprise, false)), PartnerGroup, Placement::Forbidden)]
    #[case(Some((Enterprise, false)), CustomerGroup, Placement::Forbidden)]
    // partner-group → partner.
    #[case(Some((PartnerGroup, false)), Subsidiary, Placement::Forbidden)]
    #[case(Some((PartnerGroup, false)), Partner, Placement::Allowed)]
    #[case(Some((PartnerGroup, false)), Customer, Placement::Forbidden)]
    #[case(Some((PartnerGroup, false)), Enterprise, Placement::Forbidden)]
    #[case(Some((PartnerGroup, false)), PartnerGroup, Placement::Forbidden)]
    #[case(Some((PartnerGroup, false)), CustomerGroup, Placement::Forbidden)]
    // customer-group → customer, enterprise.
    #[case(Some((CustomerGroup, false)), Subsidiary, Placement::Forbidden)]
    #[case(Some((CustomerGroup, false)), Partner, Placement::Forbidden)]
    #[case(Some((CustomerGroup, false)), Customer, Placement::Allowed)]
    #[case(Some((CustomerGroup, false)), Enterprise, Placement::Allowed)]
    #[case(Some((CustomerGroup, false)), PartnerGroup, Placement::Forbidden)]
    #[case(Some((CustomerGroup, false)), CustomerGroup, Placement::Forbidden)]
    fn nesting_follows_the_table(
        #[case] parent: Option<(NodeType, bool)>,
        #[case] child: NodeType,
        #[case] expected: Placement,
    ) {
        assert_eq!(placement(parent, child), expected);
        // Only forbidden placements get an explanation.
        assert_eq!(
            explain(parent, child).is_none(),
            expected == Placement::Allowed
        );
    }

    #[test]
    fn groups_inside_groups_are_explained_as_not_nesting() {
        let message = explain(Some((CustomerGroup, false)), PartnerGroup).unwrap_or_default();
        assert!(message.contains("groups do not nest"), "{message}");
    }
}
