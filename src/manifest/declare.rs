//! From parsed resources to declared model objects: the normalisation contract.
//!
//! Every Account, AccountGroup, ServicePlan (and every node an AccountTree expands to)
//! becomes a [`model::Node`] or [`model::ServicePlan`] in normalized form, paired with
//! its [`Origin`] so that later checks can point back at the exact field:
//!
//! - `display_name` defaults to the name, `active` to true;
//! - `locked_settings` are sorted and deduplicated;
//! - users keep declaration order (CSV users are appended later, see [`super::users_csv`]);
//! - a trial plan without `licenses` gets 5;
//! - groups carry only type, display name, parent and plan.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rustc_hash::FxHashSet;

use super::chunked::Chunked;
use super::diagnostic::{At, FieldPath, Finding, Rule, Spot, Target};
use super::types::{
    ADOPT_ANNOTATION, AccountGroupSpec, AccountSpec, AddressSpec, Billing, ContactSpec,
    ServicePlanSpec, UserSpec,
};
use crate::model::{self, CompactString, Interner, Kind, Node, NodeSpec};

/// Licences a trial plan gets when its manifest gives none.
pub const DEFAULT_TRIAL_LICENSES: u32 = 5;

/// Where a declared object came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// The `document`-th document of source `source`.
    File { source: u32, document: u32 },
    /// A cluster resource (boxed: a place is 16 bytes, and a load of files holds one
    /// per account).
    Object(Box<ObjectPlace>),
}

/// The kind and name of a cluster resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectPlace {
    pub kind: Kind,
    pub name: String,
}

/// Where a declared object came from and where, inside its document, it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub place: Place,
    /// For a node of an AccountTree: the child indices from the tree's root (empty
    /// for the root itself). `None` for a flat resource.
    pub tree: Option<Box<[u32]>>,
}

impl Origin {
    pub fn flat(place: Place) -> Origin {
        Origin { place, tree: None }
    }

    /// The path of the object's own mapping: `spec`, or `spec.children[0].children[2]`.
    fn base(&self) -> FieldPath {
        let mut path = FieldPath::new().key("spec");
        for &child in self.tree.iter().flatten() {
            path = path.key("children").index(child as usize);
        }
        path
    }

    fn at(&self, path: FieldPath, target: Target) -> At {
        match &self.place {
            Place::File { source, document } => At::Source {
                source: *source,
                spot: Spot::Path {
                    document: *document,
                    path,
                    target,
                },
            },
            Place::Object(object) => At::Object {
                kind: object.kind,
                name: object.name.clone(),
                path,
            },
        }
    }

    /// Where the object's name is written.
    pub fn name_at(&self) -> At {
        match &self.tree {
            Some(children) if !children.is_empty() => {
                self.at(self.base().key("name"), Target::Value)
            }
            _ => self.at(FieldPath::new().key("metadata").key("name"), Target::Value),
        }
    }

    /// Where a field of the object is written, e.g. `["parent"]` for `spec.parent`.
    pub fn field_at(&self, field: &[&str], target: Target) -> At {
        let mut path = self.base();
        for key in field {
            path = path.key(*key);
        }
        self.at(path, target)
    }

    /// Where the `index`-th inline user, or a field of it, is written.
    pub fn user_at(&self, index: usize, field: Option<&str>) -> At {
        let mut path = self.base().key("users").index(index);
        if let Some(field) = field {
            path = path.key(field);
        }
        self.at(path, Target::Value)
    }

    /// Where a metadata annotation is written.
    pub fn annotation_at(&self, key: &str) -> At {
        let path = FieldPath::new().key("metadata").key("annotations").key(key);
        self.at(path, Target::Value)
    }
}

/// Where a user was declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UserOrigin {
    /// `users[index]` of the node's manifest.
    Inline(u32),
    /// A row of a CSV file (1-based line).
    Csv { source: u32, line: u32 },
}

/// A node with what validation needs to know about its declaration.
#[derive(Debug, Clone)]
pub(crate) struct DeclaredNode {
    pub node: Node,
    pub origin: Origin,
    /// `usersFrom` and where users read from it came from: most nodes have neither,
    /// and a load holds a declared node per account, so one pointer.
    users: Option<Box<DeclaredUsers>>,
}

#[derive(Debug, Clone, Default)]
struct DeclaredUsers {
    /// `usersFrom` as written, resolved against the manifest's directory later.
    from: Option<Box<str>>,
    /// One entry per user of `node.spec.users`, in the same order; empty while every
    /// user is `users[index]` of the manifest.
    origins: Vec<UserOrigin>,
}

impl DeclaredNode {
    pub fn new(node: Node, origin: Origin, users_from: Option<Box<str>>) -> DeclaredNode {
        let users = users_from.map(|from| {
            Box::new(DeclaredUsers {
                from: Some(from),
                origins: Vec::new(),
            })
        });
        DeclaredNode {
            node,
            origin,
            users,
        }
    }

    /// `usersFrom` as written.
    pub fn users_from(&self) -> Option<&str> {
        self.users.as_ref()?.from.as_deref()
    }

    fn user_origins(&self) -> &[UserOrigin] {
        self.users
            .as_ref()
            .map_or(&[], |users| users.origins.as_slice())
    }

    /// Where the `index`-th user was declared, if there is one.
    pub fn user_origin(&self, index: usize) -> Option<UserOrigin> {
        let origins = self.user_origins();
        if origins.is_empty() {
            let inline = u32::try_from(index).ok()?;
            return (index < self.node.spec.users.len()).then_some(UserOrigin::Inline(inline));
        }
        origins.get(index).cloned()
    }

    /// Records that the next user pushed onto `node.spec.users` came from `origin`.
    pub fn push_user_origin(&mut self, origin: UserOrigin) {
        let inline = self.node.spec.users.len().saturating_sub(1);
        let origins = &mut self.users.get_or_insert_default().origins;
        if origins.is_empty() {
            origins.extend(
                (0..inline).map(|index| UserOrigin::Inline(super::input::saturating_u32(index))),
            );
        }
        origins.push(origin);
    }

    /// Where the `index`-th user (or one of its fields) was declared.
    pub fn user_at(&self, index: usize, field: Option<&str>) -> At {
        match self.user_origin(index) {
            Some(UserOrigin::Csv { source, line }) => At::Source {
                source,
                spot: Spot::Position { line, column: 1 },
            },
            Some(UserOrigin::Inline(inline)) => self.origin.user_at(inline as usize, field),
            None => self.origin.field_at(&["users"], Target::Key),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct DeclaredPlan {
    pub plan: model::ServicePlan,
    pub origin: Origin,
}

/// Everything the sources declare, before validation.
#[derive(Debug, Default)]
pub(crate) struct Declared {
    /// Kept as each file declared them (see [`Chunked`]).
    pub nodes: Chunked<DeclaredNode>,
    pub plans: Vec<DeclaredPlan>,
    /// Names of documents that failed to parse: references to them are not reported
    /// as dangling, because the real problem is already reported.
    pub unparsed: FxHashSet<String>,
    pub findings: Vec<Finding>,
    /// The languages and time zones of the users declared so far.
    pub strings: Interner,
}

impl Declared {
    /// Adds everything `other` declared, after what is here.
    pub fn append(&mut self, mut other: Declared) {
        self.nodes.append(&mut other.nodes);
        self.plans.append(&mut other.plans);
        self.unparsed.extend(other.unparsed);
        self.findings.append(&mut other.findings);
    }

    /// Adds an Account.
    pub fn account(&mut self, mut metadata: ObjectMeta, spec: AccountSpec, origin: Origin) {
        let Some(name) = self.take_name(&mut metadata, &origin) else {
            return;
        };
        let adopt = self.adoption(&metadata, &origin);
        self.push_account(name, spec, adopt, origin);
    }

    /// Adds an account node of a given name (also used by AccountTree expansion).
    pub fn push_account(
        &mut self,
        name: String,
        mut spec: AccountSpec,
        adopt: bool,
        origin: Origin,
    ) {
        let users_from = spec.users_from.take().map(String::into_boxed_str);
        let node = Node {
            spec: account_spec(&name, spec, &mut self.strings),
            name: name.into(),
            adopt,
            live: model::LiveMeta::default(),
            effective: None,
        };
        self.nodes.push(DeclaredNode::new(node, origin, users_from));
    }

    /// Adds an AccountGroup.
    pub fn group(&mut self, mut metadata: ObjectMeta, spec: AccountGroupSpec, origin: Origin) {
        let Some(name) = self.take_name(&mut metadata, &origin) else {
            return;
        };
        let adopt = self.adoption(&metadata, &origin);
        self.push_group(name, spec, adopt, origin);
    }

    /// Adds a group node of a given name (also used by AccountTree expansion).
    pub fn push_group(
        &mut self,
        name: String,
        spec: AccountGroupSpec,
        adopt: bool,
        origin: Origin,
    ) {
        let mut node_spec = NodeSpec::new(
            spec.group_type.node_type(),
            spec.display_name.unwrap_or_else(|| name.clone()),
        );
        node_spec.parent = self.strings.optional(spec.parent.as_deref());
        node_spec.plan = self.strings.optional(spec.plan.as_deref());
        let node = Node {
            name: name.into(),
            spec: node_spec,
            adopt,
            live: model::LiveMeta::default(),
            effective: None,
        };
        self.nodes.push(DeclaredNode::new(node, origin, None));
    }

    /// Adds a ServicePlan.
    pub fn plan(&mut self, mut metadata: ObjectMeta, spec: ServicePlanSpec, origin: Origin) {
        let Some(name) = self.take_name(&mut metadata, &origin) else {
            return;
        };
        let adopt = self.adoption(&metadata, &origin);
        let licenses = match (spec.billing, spec.licenses) {
            (Billing::Trial, None) => Some(DEFAULT_TRIAL_LICENSES),
            (_, licenses) => licenses,
        };
        let plan = model::ServicePlan {
            name,
            spec: model::PlanSpec {
                billing: spec.billing.into(),
                licenses,
                limits: spec.limits,
                display_name: spec.display_name,
            },
            adopt,
            live: model::LiveMeta::default(),
        };
        self.plans.push(DeclaredPlan { plan, origin });
    }

    /// Takes the object's name out of its metadata, or reports it missing.
    fn take_name(&mut self, metadata: &mut ObjectMeta, origin: &Origin) -> Option<String> {
        match metadata.name.take() {
            Some(name) => Some(name),
            None => self.name(None, origin),
        }
    }

    /// The object's name, or an error when `metadata.name` is missing.
    pub fn name(&mut self, name: Option<&str>, origin: &Origin) -> Option<String> {
        match name {
            Some(name) => Some(name.to_string()),
            None => {
                let at = origin.name_at();
                self.findings.push(Finding::error(
                    Rule::MissingField,
                    at,
                    "missing field `metadata.name`: every resource needs a name",
                ));
                None
            }
        }
    }

    /// Whether the manifest opts in to adopting an unmanaged object.
    pub fn adoption(&mut self, metadata: &ObjectMeta, origin: &Origin) -> bool {
        let value = metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(ADOPT_ANNOTATION));
        match value.map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                self.findings.push(Finding::error(
                    Rule::InvalidAnnotation,
                    origin.annotation_at(ADOPT_ANNOTATION),
                    format!("annotation `{ADOPT_ANNOTATION}` must be \"true\" or \"false\", not {other:?}"),
                ));
                false
            }
        }
    }
}

/// The normalized spec of an account.
fn account_spec(name: &str, spec: AccountSpec, strings: &mut Interner) -> NodeSpec {
    let mut locked_settings = spec.locked_settings;
    locked_settings.sort_unstable();
    locked_settings.dedup();
    NodeSpec {
        node_type: spec.account_type.node_type(),
        display_name: spec
            .display_name
            .map_or_else(|| name.into(), CompactString::from),
        parent: strings.optional(spec.parent.as_deref()),
        active: spec.active,
        customer_type: spec.customer_type.map(Into::into),
        reseller: spec.reseller,
        plan: strings.optional(spec.plan.as_deref()),
        address: spec.address.map(address),
        contact: spec.contact.map(contact),
        services: spec.services.into(),
        settings: spec.settings.into(),
        locked_settings: locked_settings.into(),
        users: users(spec.users, strings),
    }
}

/// The model users of an account, in a vector of exactly their number. Not collected
/// in place: that would keep the block of the (larger) manifest users, which the
/// allocator does not give back when asked to shrink it by less than half.
fn users(specs: Vec<UserSpec>, strings: &mut Interner) -> Vec<model::User> {
    let mut users = Vec::with_capacity(specs.len());
    users.extend(specs.into_iter().map(|spec| user(spec, strings)));
    users
}

pub(crate) fn user(user: UserSpec, strings: &mut Interner) -> model::User {
    model::User {
        language: strings.optional(user.language.as_deref()),
        timezone: strings.optional(user.timezone.as_deref()),
        email: user.email.into(),
        name: user.name.into(),
        role: user.role.into(),
    }
}

fn address(address: AddressSpec) -> Box<model::Address> {
    Box::new(model::Address {
        street: address.street,
        city: address.city,
        postal_code: address.postal_code,
        state: address.state,
        country: address.country,
    })
}

fn contact(contact: ContactSpec) -> Box<model::Contact> {
    Box::new(model::Contact {
        name: contact.name,
        email: contact.email,
        phone: contact.phone,
    })
}

/// The manifest spec of a model node, the reverse of the normalisation (used by
/// export): defaults are left out so that the manifest stays short.
pub(crate) fn account_manifest(node: &Node) -> Option<AccountSpec> {
    let spec = &node.spec;
    let account_type = super::types::AccountType::of(spec.node_type)?;
    Some(AccountSpec {
        account_type,
        display_name: (spec.display_name != node.name).then(|| spec.display_name.to_string()),
        parent: spec.parent.as_deref().map(str::to_string),
        active: spec.active,
        customer_type: spec.customer_type.map(Into::into),
        reseller: spec.reseller,
        plan: spec.plan.as_deref().map(str::to_string),
        address: spec.address.as_ref().map(|a| AddressSpec {
            street: a.street.clone(),
            city: a.city.clone(),
            postal_code: a.postal_code.clone(),
            state: a.state.clone(),
            country: a.country.clone(),
        }),
        contact: spec.contact.as_ref().map(|c| ContactSpec {
            name: c.name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
        }),
        services: (*spec.services).clone(),
        settings: (*spec.settings).clone(),
        locked_settings: (*spec.locked_settings).clone(),
        users: spec
            .users
            .iter()
            .map(|u| UserSpec {
                email: u.email.to_string(),
                name: u.name.to_string(),
                role: u.role.into(),
                language: u.language.as_deref().map(str::to_string),
                timezone: u.timezone.as_deref().map(str::to_string),
            })
            .collect(),
        users_from: None,
        deletion_policy: None,
    })
}

/// The manifest spec of a group node.
pub(crate) fn group_manifest(node: &Node) -> Option<AccountGroupSpec> {
    let spec = &node.spec;
    Some(AccountGroupSpec {
        group_type: super::types::GroupType::of(spec.node_type)?,
        display_name: (spec.display_name != node.name).then(|| spec.display_name.to_string()),
        parent: spec.parent.as_deref().map(str::to_string),
        plan: spec.plan.as_deref().map(str::to_string),
        deletion_policy: None,
    })
}

/// The manifest spec of a plan. A trial plan's default licence count is left out.
pub(crate) fn plan_manifest(plan: &model::ServicePlan) -> ServicePlanSpec {
    let spec = &plan.spec;
    let licenses = match (spec.billing, spec.licenses) {
        (model::Billing::Trial, Some(DEFAULT_TRIAL_LICENSES)) => None,
        (_, licenses) => licenses,
    };
    ServicePlanSpec {
        billing: spec.billing.into(),
        licenses,
        limits: spec.limits.clone(),
        display_name: spec.display_name.clone(),
    }
}

/// Metadata with a name and, when adopting, the adoption annotation.
pub(crate) fn metadata(name: &str, adopt: bool) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        annotations: adopt
            .then(|| BTreeMap::from([(ADOPT_ANNOTATION.to_string(), "true".to_string())])),
        ..ObjectMeta::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A load holds one declared node per account until the desired hierarchy is
    /// built: at a million accounts each byte here is a megabyte of the peak.
    #[test]
    fn a_declared_node_stays_small() {
        let size = std::mem::size_of::<DeclaredNode>();
        assert!(size <= 232, "a DeclaredNode takes {size} bytes");
    }
}
