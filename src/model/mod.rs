//! The hierarchy model: the one normalized shape that both sides of a plan share.
//!
//! ```text
//! manifests (files | custom resources) ──> Hierarchy (desired) ─┐
//!                                                                ├─> plan::diff
//! store snapshot (SQL)                 ──> Hierarchy (live)    ──┘
//! ```
//!
//! A [`Hierarchy`] holds nodes (accounts and account groups share one namespace, so a
//! `parent` may name either) and service plans, each keyed by its stable name. It is
//! plain data: no I/O, no database or Kubernetes types. The nesting rules live in
//! [`rules`], the downward inheritance of activation, services and settings in
//! [`effective`], the order names are listed in for people in [`natural`].
//!
//! A plan holds a million nodes on each side, so a node is kept small: the values
//! many nodes repeat (parents, plans, sources, users' languages and time zones) are
//! shared [`Text`]s handed out by an [`Interner`], the collections few nodes declare
//! (services, settings, locked settings) are [`Rare`] and allocate nothing when
//! empty, addresses and contacts are boxed, and names, display names and users' names
//! are [`CompactString`]s, which hold up to 24 bytes in place (most names) and
//! allocate only for longer ones. Lookups by name over a whole hierarchy go through a
//! [`names::NameTable`], which keeps positions only. `canopy-bench footprint` reports
//! the bytes per account each side holds.

pub mod effective;
pub mod names;
pub mod natural;
pub mod rare;
pub mod rules;
pub mod text;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use compact_str::CompactString;
pub use effective::{Effective, Inherited};
pub use rare::Rare;
pub use text::{Interner, Text};

/// What a node is. Accounts and groups share one enum so that the nesting rules are a
/// single table of (parent, child) pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeType {
    Subsidiary,
    Partner,
    Customer,
    Enterprise,
    PartnerGroup,
    CustomerGroup,
}

impl NodeType {
    pub fn is_group(self) -> bool {
        matches!(self, NodeType::PartnerGroup | NodeType::CustomerGroup)
    }

    /// The manifest kind a node of this type is declared with.
    pub fn kind(self) -> Kind {
        if self.is_group() {
            Kind::AccountGroup
        } else {
            Kind::Account
        }
    }

    /// The `spec.type` value as written in a manifest (`partner` for a partner group).
    pub fn spec_type(self) -> &'static str {
        match self {
            NodeType::Subsidiary => "subsidiary",
            NodeType::Partner | NodeType::PartnerGroup => "partner",
            NodeType::Customer | NodeType::CustomerGroup => "customer",
            NodeType::Enterprise => "enterprise",
        }
    }

    /// A stable identifier, used in the database and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Subsidiary => "subsidiary",
            NodeType::Partner => "partner",
            NodeType::Customer => "customer",
            NodeType::Enterprise => "enterprise",
            NodeType::PartnerGroup => "partner-group",
            NodeType::CustomerGroup => "customer-group",
        }
    }

    pub fn parse(text: &str) -> Option<NodeType> {
        Some(match text {
            "subsidiary" => NodeType::Subsidiary,
            "partner" => NodeType::Partner,
            "customer" => NodeType::Customer,
            "enterprise" => NodeType::Enterprise,
            "partner-group" => NodeType::PartnerGroup,
            "customer-group" => NodeType::CustomerGroup,
            _ => return None,
        })
    }
}

impl std::fmt::Display for NodeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The resource kinds canopy manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    Account,
    AccountGroup,
    ServicePlan,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Account => "Account",
            Kind::AccountGroup => "AccountGroup",
            Kind::ServicePlan => "ServicePlan",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CustomerType {
    EndCustomer,
    SubDivision,
}

impl CustomerType {
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerType::EndCustomer => "endCustomer",
            CustomerType::SubDivision => "subDivision",
        }
    }

    pub fn parse(text: &str) -> Option<CustomerType> {
        match text {
            "endCustomer" => Some(CustomerType::EndCustomer),
            "subDivision" => Some(CustomerType::SubDivision),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Billing {
    Trial,
    Purchased,
}

impl Billing {
    pub fn as_str(self) -> &'static str {
        match self {
            Billing::Trial => "trial",
            Billing::Purchased => "purchased",
        }
    }

    pub fn parse(text: &str) -> Option<Billing> {
        match text {
            "trial" => Some(Billing::Trial),
            "purchased" => Some(Billing::Purchased),
            _ => None,
        }
    }
}

/// A setting's value: whatever JSON scalar or structure the manifest gave.
pub type SettingValue = serde_json::Value;

/// A user of an account. Users are identified by e-mail within their account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// A boxed string: 16 bytes, not a `String`'s 24 (a million accounts hold two
    /// million users on each side of a plan). Most addresses are longer than the 24
    /// bytes a [`CompactString`] holds without allocating.
    pub email: Box<str>,
    /// Most names fit in the 24 bytes of a [`CompactString`]: no allocation.
    pub name: CompactString,
    pub role: Role,
    /// Shared: the users of a hierarchy have a few languages and time zones between
    /// them ([`Interner`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Text>,
}

/// Postal address of an account; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// Contact details of an account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// The declared state of one account or account group: everything a manifest can say
/// about it and that planning compares. Groups use only `node_type`, `display_name`,
/// `parent` and `plan`; the other fields keep their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    pub node_type: NodeType,
    pub display_name: CompactString,
    /// Shared ([`Interner`]): siblings name one parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Text>,
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_type: Option<CustomerType>,
    #[serde(default)]
    pub reseller: bool,
    /// Shared ([`Interner`]): a hierarchy has a few plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Text>,
    /// Boxed, as the contact: few accounts have one, and every node carries the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Box<Address>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Box<Contact>>,
    /// [`Rare`], as the settings and locked settings: few nodes declare any.
    #[serde(default, skip_serializing_if = "Rare::is_empty")]
    pub services: Rare<BTreeMap<String, bool>>,
    #[serde(default, skip_serializing_if = "Rare::is_empty")]
    pub settings: Rare<BTreeMap<String, SettingValue>>,
    /// Sorted and free of duplicates.
    #[serde(default, skip_serializing_if = "Rare::is_empty")]
    pub locked_settings: Rare<Vec<String>>,
    /// In declaration order: the first user of a customer must be an admin.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<User>,
}

impl NodeSpec {
    /// A node of the given type with every optional field empty and `active: true`.
    pub fn new(node_type: NodeType, display_name: impl Into<CompactString>) -> NodeSpec {
        NodeSpec {
            node_type,
            display_name: display_name.into(),
            parent: None,
            active: true,
            customer_type: None,
            reseller: false,
            plan: None,
            address: None,
            contact: None,
            services: Rare::new(),
            settings: Rare::new(),
            locked_settings: Rare::new(),
            users: Vec::new(),
        }
    }
}

/// Facts about a node that the live database knows and a manifest does not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveMeta {
    /// Assigned once on create, never changed (accounts only; groups have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_number: Option<i64>,
    /// The source that manages the object; `None` is unmanaged. Shared ([`Interner`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<Text>,
    /// Set when the object was pruned: archived rows are kept, never hard-deleted.
    #[serde(default)]
    pub archived: bool,
}

/// One account or account group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub name: CompactString,
    pub spec: NodeSpec,
    /// Desired side: whether the manifest opts in to adopting an unmanaged object
    /// (`canopy.dev/adopt: "true"`). Live side: always false.
    #[serde(default)]
    pub adopt: bool,
    #[serde(default)]
    pub live: LiveMeta,
    /// Live side only: the effective values stored in the database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<Effective>,
}

/// The declared state of a service plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanSpec {
    pub billing: Billing,
    /// Licence count; trial plans default to 5, purchased plans have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licenses: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// One service plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlan {
    pub name: String,
    pub spec: PlanSpec,
    #[serde(default)]
    pub adopt: bool,
    #[serde(default)]
    pub live: LiveMeta,
}

/// A whole hierarchy: the desired state read from sources, or a live snapshot.
///
/// Nodes and plans are kept sorted by name so that every walk over them is
/// deterministic; [`Hierarchy::node`] and [`Hierarchy::plan`] find by binary search.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hierarchy {
    pub nodes: Vec<Node>,
    pub plans: Vec<ServicePlan>,
    /// Archived accounts and groups of a live snapshot (pruned, restorable only by the
    /// source that managed them), sorted by name. Empty on the desired side.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub archived: Vec<Archived>,
}

/// What a live snapshot keeps of an archived node: enough to number a restore and to
/// decide who may restore it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Archived {
    pub name: CompactString,
    pub parent: Option<Text>,
    pub managed_by: Option<Text>,
    pub account_number: Option<i64>,
}

impl Hierarchy {
    /// Builds a hierarchy, sorting nodes and plans by name.
    pub fn new(mut nodes: Vec<Node>, mut plans: Vec<ServicePlan>) -> Hierarchy {
        nodes.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        plans.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Hierarchy {
            nodes,
            plans,
            archived: Vec::new(),
        }
    }

    /// The archived node of this name, if the snapshot read one.
    pub fn archived(&self, name: &str) -> Option<&Archived> {
        self.archived
            .binary_search_by(|archived| archived.name.as_str().cmp(name))
            .ok()
            .map(|index| &self.archived[index])
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes
            .binary_search_by(|n| n.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.nodes[i])
    }

    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes
            .binary_search_by(|n| n.name.as_str().cmp(name))
            .ok()
    }

    pub fn plan(&self, name: &str) -> Option<&ServicePlan> {
        self.plans
            .binary_search_by(|p| p.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.plans[i])
    }

    /// The number of accounts (groups not counted).
    pub fn account_count(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| !n.spec.node_type.is_group())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every account of a million-account hierarchy carries a node on each side of a
    /// plan: rare fields are boxed and inherited values shared to keep this small.
    #[test]
    fn a_node_stays_small() {
        let size = std::mem::size_of::<Node>();
        assert!(size <= 200, "a Node takes {size} bytes");
        let size = std::mem::size_of::<User>();
        assert!(size <= 64, "a User takes {size} bytes");
    }
}
