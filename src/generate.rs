//! A deterministic generator of realistic, valid hierarchies, shared by the property
//! tests and the benchmarks.
//!
//! ```text
//! subsidiary ─┬─ partner-group ── partner ─┬─ customer (users)
//!             └─ partner ──────────────────┼─ customer-group (pooled plan) ── customer
//!                                          ├─ customer (reseller) ── customer
//!                                          ├─ enterprise ── customer (sub-division)
//!                                          └─ partner (sub-reseller) ── customer
//! ```
//!
//! [`hierarchy`] builds a tree of about N accounts from a seed; [`mutate`] changes a
//! share of it the way operators do (moves, groupings, ungroupings, plan changes,
//! deactivations, user edits, new and removed accounts) and always yields a valid tree.
//! Same inputs, same output: the generator has its own small PRNG so that figures and
//! failing cases reproduce across machines and crate versions.

use std::collections::BTreeMap;

use crate::model::{
    Billing, CustomerType, Hierarchy, Node, NodeSpec, NodeType, PlanSpec, Role, ServicePlan, Text,
    User,
};

/// SplitMix64: tiny, fast, and stable forever (unlike a crate's default RNG).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound.max(1) as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.next_u64() % 100 < u64::from(percent)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const FIRST: &[&str] = &[
    "Alder", "Birch", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper",
    "Kestrel", "Lumen", "Maple", "Nordic", "Orchid", "Pioneer", "Quartz", "Raven", "Summit",
    "Tundra", "Umber", "Vertex", "Willow", "Xenon", "Yarrow", "Zephyr", "Atlas", "Beacon",
    "Cobalt", "Dune", "Echo", "Falcon",
];
const SECOND: &[&str] = &[
    "Logistics",
    "Dental",
    "Bakery",
    "Legal",
    "Freight",
    "Clinic",
    "Textiles",
    "Robotics",
    "Brewing",
    "Optics",
    "Marine",
    "Pharma",
    "Energy",
    "Foods",
    "Media",
    "Motors",
    "Capital",
    "Studios",
    "Metals",
    "Farms",
    "Labs",
    "Systems",
    "Travel",
    "Builders",
];
const CITIES: &[&str] = &[
    "Berlin", "Oslo", "Lyon", "Turin", "Porto", "Ghent", "Graz", "Malmo", "Tartu", "Cork",
    "Bergen", "Krakow", "Utrecht", "Aarhus", "Basel", "Nantes",
];
const LANGUAGES: &[&str] = &["de", "en", "fr", "nb", "sv", "it"];
const TIMEZONES: &[&str] = &["Europe/Berlin", "Europe/Oslo", "Europe/Paris", "UTC"];
const SERVICES: &[&str] = &["invoice-capture", "scanning", "archive", "e-signature"];

/// The names of the service plans every generated hierarchy declares.
pub const PLANS: &[&str] = &["trial", "standard", "premium", "smb-pooled", "enterprise"];

fn plans() -> Vec<ServicePlan> {
    PLANS
        .iter()
        .enumerate()
        .map(|(index, &name)| {
            let billing = if name == "trial" {
                Billing::Trial
            } else {
                Billing::Purchased
            };
            let mut limits = BTreeMap::new();
            limits.insert("documentsPerMonth".to_string(), 1000 * (index as u64 + 1));
            ServicePlan {
                name: name.to_string(),
                spec: PlanSpec {
                    billing,
                    licenses: (billing == Billing::Trial).then_some(5),
                    limits,
                    display_name: None,
                },
                adopt: false,
                live: Default::default(),
            }
        })
        .collect()
}

struct Builder {
    rng: Rng,
    nodes: Vec<Node>,
    accounts: usize,
}

impl Builder {
    fn display_name(&mut self, serial: usize) -> String {
        let first = *self.rng.pick(FIRST);
        let second = *self.rng.pick(SECOND);
        let city = *self.rng.pick(CITIES);
        format!("{first} {second} {city} {serial}")
    }

    fn add(&mut self, name: String, node_type: NodeType, parent: Option<&str>) -> String {
        let display_name = self.display_name(self.nodes.len());
        let mut spec = NodeSpec::new(node_type, display_name);
        spec.parent = parent.map(Text::from);
        if !node_type.is_group() {
            self.accounts += 1;
            spec.active = !self.rng.chance(3);
        }
        self.nodes.push(Node {
            name: name.as_str().into(),
            spec,
            adopt: false,
            live: Default::default(),
            effective: None,
        });
        name
    }

    fn last(&mut self) -> &mut NodeSpec {
        let last = self.nodes.len() - 1;
        &mut self.nodes[last].spec
    }

    fn customer(&mut self, name: String, parent: &str, customer_type: CustomerType) -> String {
        let name = self.add(name, NodeType::Customer, Some(parent));
        let users = 1 + self.rng.below(3);
        let plan = *self.rng.pick(&PLANS[..3]);
        let rng = &mut self.rng;
        let language = *rng.pick(LANGUAGES);
        let timezone = *rng.pick(TIMEZONES);
        let spec = self.last();
        spec.customer_type = Some(customer_type);
        spec.plan = Some(plan.into());
        spec.users = (0..users)
            .map(|k| User {
                email: format!("user{k}@{name}.example").into(),
                name: format!("User {k} of {name}").into(),
                role: if k == 0 { Role::Admin } else { Role::User },
                language: Some(language.into()),
                timezone: Some(timezone.into()),
            })
            .collect();
        name
    }

    /// A partner and its customers: plain, grouped, a reseller's, an enterprise's.
    fn partner(&mut self, name: String, parent: &str, budget: usize) {
        let partner = self.add(name, NodeType::Partner, Some(parent));
        if self.rng.chance(30) {
            let service = *self.rng.pick(SERVICES);
            self.last().services.insert(service.to_string(), false);
        }
        if self.rng.chance(20) {
            let spec = self.last();
            spec.settings
                .insert("passwordExpiryDays".to_string(), serde_json::json!(90));
            spec.locked_settings.push("passwordExpiryDays".to_string());
        }
        let mut made = 1;
        let mut serial = 0;
        let mut next_name = |suffix: &str| {
            serial += 1;
            format!("{partner}-{suffix}{serial}")
        };
        let group = if budget > 20 {
            let group = self.add(next_name("g"), NodeType::CustomerGroup, Some(&partner));
            self.last().plan = Some("smb-pooled".into());
            Some(group)
        } else {
            None
        };
        while made < budget {
            let roll = self.rng.below(100);
            match (roll, &group) {
                (0..=24, Some(group)) => {
                    let group = group.clone();
                    self.customer(next_name("c"), &group, CustomerType::EndCustomer);
                    made += 1;
                }
                (25..=29, _) if budget - made > 4 => {
                    let reseller =
                        self.customer(next_name("r"), &partner, CustomerType::EndCustomer);
                    self.last().reseller = true;
                    for _ in 0..3 {
                        self.customer(next_name("c"), &reseller, CustomerType::EndCustomer);
                    }
                    made += 4;
                }
                (30..=33, _) if budget - made > 3 => {
                    let enterprise = self.add(next_name("e"), NodeType::Enterprise, Some(&partner));
                    self.last().plan = Some("enterprise".into());
                    for _ in 0..2 {
                        self.customer(next_name("d"), &enterprise, CustomerType::SubDivision);
                    }
                    made += 3;
                }
                _ => {
                    self.customer(next_name("c"), &partner, CustomerType::EndCustomer);
                    made += 1;
                }
            }
        }
    }
}

/// A valid hierarchy of about `accounts` accounts (at least one subsidiary and partner).
pub fn hierarchy(accounts: usize, seed: u64) -> Hierarchy {
    let mut builder = Builder {
        rng: Rng::new(seed),
        nodes: Vec::with_capacity(accounts + accounts / 20),
        accounts: 0,
    };
    let subsidiaries = accounts.div_ceil(50_000).max(1);
    let per_subsidiary = accounts.div_ceil(subsidiaries);
    for s in 0..subsidiaries {
        let subsidiary = builder.add(format!("sub{s}"), NodeType::Subsidiary, None);
        let partner_group = builder.add(
            format!("sub{s}-pg"),
            NodeType::PartnerGroup,
            Some(&subsidiary),
        );
        let partners = (per_subsidiary / 100).max(1);
        let per_partner = (per_subsidiary / partners).max(2);
        for p in 0..partners {
            let parent = if p % 4 == 0 {
                &partner_group
            } else {
                &subsidiary
            };
            builder.partner(format!("p{s}x{p}"), parent, per_partner - 1);
        }
    }
    Hierarchy::new(builder.nodes, plans())
}

/// A changed copy of `base`: about `percent`% of its accounts touched, still valid.
pub fn mutate(base: &Hierarchy, seed: u64, percent: u32) -> Hierarchy {
    let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(7));
    let mut nodes = base.nodes.clone();
    let index: BTreeMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.to_string(), i))
        .collect();
    let node_type = |nodes: &[Node], name: &str| index.get(name).map(|&i| nodes[i].spec.node_type);
    let customer_groups: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].spec.node_type == NodeType::CustomerGroup)
        .collect();
    let partners: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].spec.node_type == NodeType::Partner)
        .collect();
    let mut has_children = vec![false; nodes.len()];
    for node in &nodes {
        if let Some(&p) = node
            .spec
            .parent
            .as_ref()
            .and_then(|p| index.get(p.as_str()))
        {
            has_children[p] = true;
        }
    }
    let mut removed = vec![false; nodes.len()];
    let mut created = Vec::new();
    for i in 0..nodes.len() {
        if !rng.chance(percent) {
            continue;
        }
        let parent_type = nodes[i]
            .spec
            .parent
            .as_deref()
            .and_then(|p| node_type(&nodes, p));
        let is_plain_customer = nodes[i].spec.node_type == NodeType::Customer
            && !nodes[i].spec.reseller
            && matches!(
                parent_type,
                Some(NodeType::Partner | NodeType::CustomerGroup)
            );
        match rng.below(9) {
            0 if is_plain_customer && !customer_groups.is_empty() => {
                // group, move between groups, or ungroup to the partner level
                let group_parent = nodes[i]
                    .spec
                    .parent
                    .as_deref()
                    .and_then(|group| index.get(group))
                    .and_then(|&group| nodes[group].spec.parent.clone());
                let target = if parent_type == Some(NodeType::CustomerGroup) && rng.chance(50) {
                    group_parent
                } else {
                    Some(nodes[*rng.pick(&customer_groups)].name.as_str().into())
                };
                nodes[i].spec.parent = target;
            }
            1 if is_plain_customer && !partners.is_empty() => {
                nodes[i].spec.parent = Some(nodes[*rng.pick(&partners)].name.as_str().into());
            }
            2 if crate::model::rules::may_carry_plan(nodes[i].spec.node_type) => {
                nodes[i].spec.plan = Some((*rng.pick(PLANS)).into());
            }
            3 if !nodes[i].spec.node_type.is_group() => {
                nodes[i].spec.active = !nodes[i].spec.active
            }
            4 if nodes[i].spec.node_type == NodeType::Customer => {
                let email = format!("new{}@{}.example", rng.below(1000), nodes[i].name);
                let users = &mut nodes[i].spec.users;
                match rng.below(3) {
                    0 => users.push(User {
                        email: email.into(),
                        name: "New User".into(),
                        role: Role::User,
                        language: None,
                        timezone: None,
                    }),
                    1 if users.len() > 1 => {
                        users.pop();
                    }
                    _ => {
                        if let Some(user) = users.last_mut() {
                            user.language = Some((*rng.pick(LANGUAGES)).into());
                        }
                    }
                }
                dedup_users(users);
            }
            5 => nodes[i].spec.display_name.push_str(" (renamed)"),
            6 if !nodes[i].spec.node_type.is_group() => {
                let service = rng.pick(SERVICES).to_string();
                let enabled = rng.chance(50);
                nodes[i].spec.services.insert(service, enabled);
            }
            7 if nodes[i].spec.node_type == NodeType::Customer && !has_children[i] => {
                removed[i] = true
            }
            8 if nodes[i].spec.node_type == NodeType::Partner => {
                let parent = nodes[i].name.clone();
                let mut spec = NodeSpec::new(NodeType::Customer, format!("Newco {seed} {i}"));
                spec.parent = Some(parent.as_str().into());
                spec.customer_type = Some(CustomerType::EndCustomer);
                created.push(Node {
                    name: format!("new-{seed}-{i}").into(),
                    spec,
                    adopt: false,
                    live: Default::default(),
                    effective: None,
                });
            }
            _ => {}
        }
    }
    let mut kept: Vec<Node> = nodes
        .into_iter()
        .zip(removed)
        .filter_map(|(node, removed)| (!removed).then_some(node))
        .collect();
    kept.extend(
        created
            .into_iter()
            .filter(|n| !index.contains_key(n.name.as_str())),
    );
    let mut plans = base.plans.clone();
    if let Some(plan) = plans.get_mut(rng.below(PLANS.len())) {
        plan.spec.limits.insert(
            "documentsPerMonth".to_string(),
            500 + rng.below(10_000) as u64,
        );
    }
    Hierarchy::new(kept, plans)
}

fn dedup_users(users: &mut Vec<User>) {
    let mut seen = std::collections::BTreeSet::new();
    users.retain(|user| seen.insert(user.email.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rules::{Placement, placement};

    fn assert_valid(h: &Hierarchy) {
        for node in &h.nodes {
            let parent = node.spec.parent.as_deref().map(|p| {
                let parent = h
                    .node(p)
                    .unwrap_or_else(|| panic!("{} has a dangling parent {p}", node.name));
                (parent.spec.node_type, parent.spec.reseller)
            });
            assert_eq!(
                placement(parent, node.spec.node_type),
                Placement::Allowed,
                "{} under {:?}",
                node.name,
                node.spec.parent
            );
            if node.spec.node_type == NodeType::Customer
                && let Some(first) = node.spec.users.first()
            {
                assert_eq!(first.role, Role::Admin, "{}", node.name);
            }
        }
    }

    #[test]
    fn generated_hierarchies_follow_the_nesting_rules() {
        for seed in 0..20 {
            let h = hierarchy(500, seed);
            assert_valid(&h);
            assert_valid(&mutate(&h, seed, 30));
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_hierarchy() {
        assert_eq!(hierarchy(300, 7), hierarchy(300, 7));
        assert_ne!(hierarchy(300, 7), hierarchy(300, 8));
    }

    #[test]
    fn the_account_count_is_close_to_the_request() {
        let h = hierarchy(10_000, 1);
        let count = h.account_count();
        assert!((9_000..=11_000).contains(&count), "{count}");
    }
}
