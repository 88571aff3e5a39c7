//! Test hierarchies for the planner and its renderers: small builders over the plain
//! model types, a named example tree, and a generated large one for scale tests.
//!
//! ```text
//! sub (subsidiary)
//! ├── partner-nordic (partner)
//! │   ├── acme-de, acme-fr (customers)
//! │   ├── nordic-enterprise (customer group, plan standard)
//! │   └── nordic-smb (customer group, plan smb-pooled)
//! │       └── acme-eu (customer, user anna)
//! ├── partner-x (partner)
//! │   └── x-one, x-three, x-two (customers; x-three inactive itself)
//! └── resellers (partner group)
//!     └── partner-y (partner)
//! ```

use crate::model::effective::compute_all;
use crate::model::{
    Billing, Hierarchy, LiveMeta, Node, NodeSpec, NodeType, PlanSpec, Role, ServicePlan, User,
};

pub const SOURCE: &str = "default";

pub fn node(name: &str, node_type: NodeType, parent: Option<&str>) -> Node {
    let mut spec = NodeSpec::new(node_type, display_name(name));
    spec.parent = parent.map(Into::into);
    Node {
        name: name.into(),
        spec,
        adopt: false,
        live: LiveMeta::default(),
        effective: None,
    }
}

/// "acme-eu" → "Acme Eu": a display name as the manifest loader's default would not
/// give it, so that tests notice when display names are mixed up with names.
fn display_name(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut characters = word.chars();
            characters.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(characters).collect()
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn customer(name: &str, parent: &str) -> Node {
    node(name, NodeType::Customer, Some(parent))
}

pub fn partner(name: &str, parent: Option<&str>) -> Node {
    node(name, NodeType::Partner, parent)
}

pub fn service_plan(name: &str, billing: Billing) -> ServicePlan {
    ServicePlan {
        name: name.to_string(),
        spec: PlanSpec {
            billing,
            licenses: (billing == Billing::Trial).then_some(5),
            limits: Default::default(),
            display_name: None,
        },
        adopt: false,
        live: LiveMeta::default(),
    }
}

pub fn user(email: &str, role: Role) -> User {
    User {
        email: email.into(),
        name: email.split('@').next().unwrap_or(email).into(),
        role,
        language: None,
        timezone: None,
    }
}

/// The desired side of the example tree in the module documentation.
pub fn example() -> Hierarchy {
    let mut smb = node(
        "nordic-smb",
        NodeType::CustomerGroup,
        Some("partner-nordic"),
    );
    smb.spec.plan = Some("smb-pooled".into());
    let mut enterprise = node(
        "nordic-enterprise",
        NodeType::CustomerGroup,
        Some("partner-nordic"),
    );
    enterprise.spec.plan = Some("standard".into());
    let mut acme_eu = customer("acme-eu", "nordic-smb");
    acme_eu.spec.users = vec![user("anna@acme.example", Role::Admin)];
    let mut x_three = customer("x-three", "partner-x");
    x_three.spec.active = false;
    Hierarchy::new(
        vec![
            node("sub", NodeType::Subsidiary, None),
            partner("partner-nordic", Some("sub")),
            smb,
            enterprise,
            acme_eu,
            customer("acme-de", "partner-nordic"),
            customer("acme-fr", "partner-nordic"),
            partner("partner-x", Some("sub")),
            customer("x-one", "partner-x"),
            customer("x-two", "partner-x"),
            x_three,
            node("resellers", NodeType::PartnerGroup, Some("sub")),
            partner("partner-y", Some("resellers")),
        ],
        vec![
            service_plan("smb-pooled", Billing::Purchased),
            service_plan("standard", Billing::Purchased),
        ],
    )
}

/// What the store would hold after applying `desired` for `source`: every object
/// managed by it, account numbers assigned, effective values stored.
pub fn live_of(desired: &Hierarchy, source: Option<&str>) -> Hierarchy {
    let effective = compute_all(desired);
    let mut live = desired.clone();
    for (number, (node, effective)) in live.nodes.iter_mut().zip(effective).enumerate() {
        node.adopt = false;
        node.live = LiveMeta {
            account_number: (!node.spec.node_type.is_group()).then_some(1000 + number as i64),
            managed_by: source.map(Into::into),
            archived: false,
        };
        node.effective = Some(effective);
    }
    for plan in &mut live.plans {
        plan.adopt = false;
        plan.live.managed_by = source.map(Into::into);
    }
    live
}

/// Changes the desired node `name` in place.
pub fn edit(hierarchy: &mut Hierarchy, name: &str, change: impl FnOnce(&mut Node)) {
    let index = hierarchy
        .node_index(name)
        .unwrap_or_else(|| panic!("test hierarchy has no node {name}"));
    change(&mut hierarchy.nodes[index]);
}

/// Removes the desired node `name`.
pub fn remove(hierarchy: &mut Hierarchy, name: &str) {
    hierarchy.nodes.retain(|node| node.name != name);
}

/// A subsidiary with `partners` partners, each holding a customer group and
/// `customers_per_partner` customers (the first few in the group), all with a plan and
/// one user: about `partners × (customers_per_partner + 2)` nodes.
pub fn large(partners: usize, customers_per_partner: usize) -> Hierarchy {
    let mut nodes = Vec::with_capacity(partners * (customers_per_partner + 2) + 1);
    nodes.push(node("root", NodeType::Subsidiary, None));
    for p in 0..partners {
        let partner_name = format!("partner-{p:05}");
        let group_name = format!("group-{p:05}");
        let mut group = node(&group_name, NodeType::CustomerGroup, Some(&partner_name));
        group.spec.plan = Some("standard".into());
        nodes.push(partner(&partner_name, Some("root")));
        nodes.push(group);
        for c in 0..customers_per_partner {
            let parent = if c < 3 { &group_name } else { &partner_name };
            let mut account = customer(&format!("customer-{p:05}-{c:03}"), parent);
            account.spec.display_name = format!("Customer {p:05} {c:03} GmbH").into();
            account.spec.users = vec![user(&format!("admin@c{p}-{c}.example"), Role::Admin)];
            nodes.push(account);
        }
    }
    Hierarchy::new(nodes, vec![service_plan("standard", Billing::Purchased)])
}
