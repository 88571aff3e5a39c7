//! A realistic hierarchy (every node type, groups, users, services, locked settings,
//! nested and non-ASCII values, an inactive partner) and hand-built plans over it.
//! Plans are plain data (`plan::Writes`), so the store is tested without the planner.

use std::collections::BTreeMap;

use canopy::model::effective::{compute_all, parent_indices, top_down_order};
use canopy::model::{
    Address, Billing, Contact, CustomerType, Hierarchy, Kind, LiveMeta, Node, NodeSpec, NodeType,
    PlanSpec, Role, ServicePlan, User,
};
use canopy::plan::{Change, NodeWrite, Op, Plan};
use serde_json::json;

pub const SOURCE: &str = "git:platform";

pub fn user(email: &str, name: &str, role: Role) -> User {
    User {
        email: email.into(),
        name: name.into(),
        role,
        language: Some("de".into()),
        timezone: Some("Europe/Berlin".into()),
    }
}

pub fn node(name: &str, node_type: NodeType, parent: Option<&str>, display_name: &str) -> Node {
    let mut spec = NodeSpec::new(node_type, display_name);
    spec.parent = parent.map(Into::into);
    Node {
        name: name.into(),
        spec,
        adopt: false,
        live: LiveMeta::default(),
        effective: None,
    }
}

fn plan(name: &str, billing: Billing, licenses: Option<u32>, limit: Option<u64>) -> ServicePlan {
    ServicePlan {
        name: name.to_string(),
        spec: PlanSpec {
            billing,
            licenses,
            limits: limit
                .map(|limit| BTreeMap::from([("documentsPerMonth".to_string(), limit)]))
                .unwrap_or_default(),
            display_name: Some(name.to_uppercase()),
        },
        adopt: false,
        live: LiveMeta::default(),
    }
}

/// The realistic example: a subsidiary with a partner, a reseller group, a customer
/// group with a pooled plan, customers, a reseller customer, and an enterprise.
pub fn example() -> Hierarchy {
    let mut holding = node("acme-sub", NodeType::Subsidiary, None, "ACME Holding");
    holding.spec.services = BTreeMap::from([
        ("invoice-capture".to_string(), true),
        ("scanning".to_string(), true),
    ])
    .into();
    holding.spec.settings = BTreeMap::from([
        ("passwordExpiryDays".to_string(), json!(90)),
        ("theme".to_string(), json!({"color": "green", "dark": true})),
    ])
    .into();
    holding.spec.locked_settings = vec!["passwordExpiryDays".to_string()].into();

    let mut nordic = node(
        "partner-nordic",
        NodeType::Partner,
        Some("acme-sub"),
        "Nordic Partner AB",
    );
    nordic.spec.address = Some(Box::new(Address {
        street: Some("Storgatan 1".into()),
        city: Some("Ålesund".into()),
        postal_code: Some("6002".into()),
        state: None,
        country: Some("NO".into()),
    }));
    nordic.spec.contact = Some(Box::new(Contact {
        name: Some("Ola Nordmann".into()),
        email: Some("ola@nordic.example".into()),
        phone: None,
    }));
    nordic.spec.settings = BTreeMap::from([("scanQuality".to_string(), json!(1.5))]).into();

    let resellers = node(
        "resellers",
        NodeType::PartnerGroup,
        Some("acme-sub"),
        "Resellers",
    );
    let mut reseller_one = node(
        "reseller-one",
        NodeType::Partner,
        Some("resellers"),
        "Reseller One",
    );
    reseller_one.spec.active = false;
    let mut shop = node(
        "shop-one",
        NodeType::Customer,
        Some("reseller-one"),
        "Shop One",
    );
    shop.spec.customer_type = Some(CustomerType::EndCustomer);
    shop.spec.users = vec![user("owner@shop.example", "Shop Owner", Role::Admin)];

    let mut smb = node(
        "nordic-smb",
        NodeType::CustomerGroup,
        Some("partner-nordic"),
        "Nordic SMB",
    );
    smb.spec.plan = Some("smb-pooled".into());

    let mut acme_eu = node(
        "acme-eu",
        NodeType::Customer,
        Some("nordic-smb"),
        "ACME Europe GmbH",
    );
    acme_eu.spec.customer_type = Some(CustomerType::EndCustomer);
    acme_eu.spec.plan = Some("standard".into());
    acme_eu.spec.address = Some(Box::new(Address {
        state: Some("Bavaria".into()),
        country: Some("DE".into()),
        ..Address::default()
    }));
    acme_eu.spec.contact = Some(Box::new(Contact {
        email: Some("it@acme.example".into()),
        ..Contact::default()
    }));
    acme_eu.spec.services = BTreeMap::from([("scanning".to_string(), false)]).into();
    acme_eu.spec.settings = BTreeMap::from([("passwordExpiryDays".to_string(), json!(365))]).into();
    acme_eu.spec.users = vec![
        user("zoe@acme.example", "Zoë Admin", Role::Admin),
        user("anna@acme.example", "Anna Berg", Role::User),
        User {
            email: "bob@acme.example".into(),
            name: "Bob".into(),
            role: Role::User,
            language: None,
            timezone: None,
        },
    ];

    let mut acme_dk = node(
        "acme-dk",
        NodeType::Customer,
        Some("nordic-smb"),
        "ACME Danmark",
    );
    acme_dk.spec.customer_type = Some(CustomerType::SubDivision);
    acme_dk.spec.reseller = true;
    acme_dk.spec.locked_settings = vec!["a".into(), "b".into()].into();
    let acme_dk_sub = node(
        "acme-dk-aarhus",
        NodeType::Customer,
        Some("acme-dk"),
        "ACME Aarhus",
    );

    let mut bigcorp = node(
        "bigcorp",
        NodeType::Enterprise,
        Some("partner-nordic"),
        "BigCorp",
    );
    bigcorp.spec.plan = Some("trial".into());
    let bigcorp_hr = node(
        "bigcorp-hr",
        NodeType::Customer,
        Some("bigcorp"),
        "BigCorp HR",
    );

    Hierarchy::new(
        vec![
            holding,
            nordic,
            resellers,
            reseller_one,
            shop,
            smb,
            acme_eu,
            acme_dk,
            acme_dk_sub,
            bigcorp,
            bigcorp_hr,
        ],
        vec![
            plan("standard", Billing::Purchased, None, Some(5000)),
            plan("smb-pooled", Billing::Purchased, Some(40), Some(20000)),
            plan("trial", Billing::Trial, Some(5), None),
        ],
    )
}

/// A wide hierarchy of `accounts` customers under 100 partners under one subsidiary.
pub fn wide(accounts: usize) -> Hierarchy {
    let mut nodes = vec![node("root", NodeType::Subsidiary, None, "Root")];
    for partner in 0..100 {
        nodes.push(node(
            &format!("partner-{partner:03}"),
            NodeType::Partner,
            Some("root"),
            "Partner",
        ));
    }
    for index in 0..accounts {
        let parent = format!("partner-{:03}", index % 100);
        let mut customer = node(
            &format!("customer-{index:07}"),
            NodeType::Customer,
            Some(&parent),
            "Customer",
        );
        customer.spec.customer_type = Some(CustomerType::EndCustomer);
        nodes.push(customer);
    }
    Hierarchy::new(nodes, vec![])
}

pub fn change(op: Op, kind: Kind, name: &str) -> Change {
    Change {
        op,
        kind,
        name: name.into(),
        from: None,
        to: None,
        user: None,
        fields: Vec::new(),
        cascade: None,
    }
}

/// Node writes for every node, parents first, with computed effective values.
pub fn node_writes(hierarchy: &Hierarchy, create: bool) -> Vec<NodeWrite> {
    let effective = compute_all(hierarchy);
    top_down_order(&parent_indices(hierarchy))
        .into_iter()
        .map(|index| {
            let node = &hierarchy.nodes[index];
            NodeWrite {
                name: node.name.clone(),
                spec: node.spec.clone(),
                effective: effective[index].clone(),
                create,
                users_changed: create && !node.spec.users.is_empty(),
            }
        })
        .collect()
}

/// The plan that creates all of `hierarchy` on a database whose fingerprint is `base`.
pub fn create_all(hierarchy: &Hierarchy, base: &str) -> Plan {
    let mut plan = Plan {
        source: SOURCE.to_string(),
        base_fingerprint: base.to_string(),
        ..Plan::default()
    };
    plan.writes.plans = hierarchy.plans.clone();
    plan.writes.nodes = node_writes(hierarchy, true);
    plan.changes = hierarchy
        .plans
        .iter()
        .map(|service_plan| change(Op::Create, Kind::ServicePlan, &service_plan.name))
        .chain(plan.writes.nodes.iter().map(|write| {
            let mut created = change(Op::Create, write.spec.node_type.kind(), &write.name);
            created.to = write.spec.parent.as_deref().map(Into::into);
            created
        }))
        .collect();
    plan
}

/// What a snapshot must hold after `desired` was created by `source`: the same specs,
/// the computed effective values, `managed_by` set; account numbers are taken from
/// `live` after checking that exactly the accounts have one.
pub fn assert_round_trip(live: &Hierarchy, desired: &Hierarchy) {
    let effective = compute_all(desired);
    let mut expected = desired.clone();
    for (index, node) in expected.nodes.iter_mut().enumerate() {
        node.effective = Some(effective[index].clone());
        node.live.managed_by = Some(SOURCE.into());
        let number = live
            .node(&node.name)
            .and_then(|live| live.live.account_number);
        assert_eq!(
            number.is_some(),
            !node.spec.node_type.is_group(),
            "{}: accounts have numbers, groups none",
            node.name
        );
        node.live.account_number = number;
    }
    for service_plan in &mut expected.plans {
        service_plan.live.managed_by = Some(SOURCE.into());
    }
    assert_eq!(live.plans, expected.plans);
    assert_eq!(live.nodes.len(), expected.nodes.len());
    for (live_node, expected_node) in live.nodes.iter().zip(&expected.nodes) {
        assert_eq!(live_node, expected_node);
    }
}
