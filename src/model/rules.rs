//! The nesting rules of SPEC.md §1: which node types may sit under which.
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
//! SPEC.md lists no parent for `enterprise` at all, which would make the type
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
