//! The wire types of the `canopy.dev/v1alpha1` resources: `Account`, `AccountGroup` and
//! `ServicePlan`, as written in files and stored as Kubernetes custom resources.
//!
//! The same Rust types serve both: kube's `CustomResource` derive generates the
//! top-level `Account { metadata, spec, status }` structs and their CRDs, schemars the
//! JSON Schema. Every field's `///` comment becomes its description in both, so it is
//! written for the person editing a manifest. Specs reject unknown fields, so a typo
//! is an error rather than a silently ignored key. The file-only `AccountTree`
//! shorthand lives in [`super::tree`].

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model;

/// The API group and version of every canopy resource.
pub const API_VERSION: &str = "canopy.dev/v1alpha1";
/// The API group alone, to tell a canopy resource of another version from a foreign one.
pub const API_GROUP: &str = "canopy.dev";
/// The annotation that lets a manifest take over an object that exists unmanaged.
pub const ADOPT_ANNOTATION: &str = "canopy.dev/adopt";

/// The CEL rule (on every kind's root) that keeps `metadata.name` a canopy name:
/// lowercase letters, digits and `-`, at most 63 characters. Kubernetes alone would
/// accept dots and 253 characters.
const NAME_RULE: &str = "self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')";
const NAME_MESSAGE: &str =
    "metadata.name must be lowercase letters, digits and '-', at most 63 characters";
/// The CEL rule that keeps an Account or AccountGroup from naming itself as parent.
const NOT_OWN_PARENT_RULE: &str =
    "!has(self.spec.parent) || self.spec.parent != self.metadata.name";
/// The JSON Schema pattern of a name a field refers to (a parent, a plan).
const NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";

/// An account: a subsidiary, partner, customer or enterprise.
// kube's printcolumn syntax repeats `type_ = "string"`, which clippy takes for a
// duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[kube(
    group = "canopy.dev",
    version = "v1alpha1",
    kind = "Account",
    namespaced,
    status = "AccountStatus",
    shortname = "acct",
    category = "canopy",
    derive = "PartialEq",
    doc = "An account of the hierarchy (subsidiary, partner, customer or enterprise).",
    validation = Rule::new(NAME_RULE).message(NAME_MESSAGE),
    validation = Rule::new(NOT_OWN_PARENT_RULE).message("an object cannot be its own parent"),
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "Parent", type_ = "string", json_path = ".spec.parent"),
    printcolumn(name = "Active", type_ = "boolean", json_path = ".spec.active"),
    printcolumn(
        name = "Effective",
        type_ = "boolean",
        json_path = ".status.effectiveActive"
    ),
    printcolumn(
        name = "Number",
        type_ = "string",
        json_path = ".status.accountNumber"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "self.type != 'subsidiary' || !has(self.parent)",
        "message": "a subsidiary is a root and has no parent"
    },
    {
        "rule": "has(self.parent) || self.type == 'subsidiary' || self.type == 'partner'",
        "message": "a root (no parent) must be a subsidiary or a partner"
    },
    {
        "rule": "!has(self.customerType) || self.type == 'customer'",
        "message": "customerType applies to customers only"
    }
]))]
pub struct AccountSpec {
    /// The account's level: `subsidiary` (a root administering its own partners),
    /// `partner` (a service bureau or reseller), `customer` (an end customer or a
    /// sub-division) or `enterprise` (a customer with its own organisation tree).
    #[serde(rename = "type")]
    pub account_type: AccountType,
    /// The name people see. Defaults to `metadata.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The name of the parent Account or AccountGroup. Omitted for a root, which must
    /// be a subsidiary or a partner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(NAME_PATTERN))]
    pub parent: Option<String>,
    /// Whether the account is active. An account is effectively active only if it and
    /// every ancestor are active; deactivating it deactivates everything below it.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub active: bool,
    /// For customers: `endCustomer` or `subDivision` (a part of an enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_type: Option<CustomerType>,
    /// For customers: whether the customer resells, and so may contain customers.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reseller: bool,
    /// The name of the ServicePlan the account is billed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(NAME_PATTERN))]
    pub plan: Option<String>,
    /// The account's postal address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<AddressSpec>,
    /// Who to contact about the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactSpec>,
    /// Services switched on (`true`) or off (`false`) by name. A service switched off
    /// here is unavailable to every account below, whatever they declare.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, bool>,
    /// Settings by key, with any YAML value. Inherited by the accounts below unless
    /// they set their own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "any_value_map")]
    pub settings: BTreeMap<String, serde_json::Value>,
    /// Setting keys the accounts below may not override.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locked_settings: Vec<String>,
    /// The account's users, in order. The first user of a customer or enterprise must
    /// be an admin.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserSpec>,
    /// Files only: a CSV file of further users, relative to the manifest, with the
    /// header row `email,name,role,language,timezone`. Its users follow `users`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users_from: Option<String>,
    /// Cluster only: what deleting this resource does to the account. `Orphan` (the
    /// default) keeps it, left as an orphan of its namespace's source; `Archive`
    /// archives it. Ignored in files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// What deleting a custom resource does to its object in the database.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default, JsonSchema)]
pub enum DeletionPolicy {
    /// Keep the object. It stays recorded as last managed by the namespace's source,
    /// which reports it as an orphan; declaring it again there picks it up.
    #[default]
    Orphan,
    /// Archive the object, as a prune does; its account number is kept.
    Archive,
}

/// An account's level: `subsidiary`, `partner`, `customer` or `enterprise`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AccountType {
    Subsidiary,
    Partner,
    Customer,
    Enterprise,
}

impl AccountType {
    pub fn node_type(self) -> model::NodeType {
        match self {
            AccountType::Subsidiary => model::NodeType::Subsidiary,
            AccountType::Partner => model::NodeType::Partner,
            AccountType::Customer => model::NodeType::Customer,
            AccountType::Enterprise => model::NodeType::Enterprise,
        }
    }

    /// The account type of a node type; `None` for groups.
    pub fn of(node_type: model::NodeType) -> Option<AccountType> {
        match node_type {
            model::NodeType::Subsidiary => Some(AccountType::Subsidiary),
            model::NodeType::Partner => Some(AccountType::Partner),
            model::NodeType::Customer => Some(AccountType::Customer),
            model::NodeType::Enterprise => Some(AccountType::Enterprise),
            model::NodeType::PartnerGroup | model::NodeType::CustomerGroup => None,
        }
    }
}

/// What a customer is: `endCustomer` or `subDivision`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CustomerType {
    EndCustomer,
    SubDivision,
}

impl From<CustomerType> for model::CustomerType {
    fn from(value: CustomerType) -> model::CustomerType {
        match value {
            CustomerType::EndCustomer => model::CustomerType::EndCustomer,
            CustomerType::SubDivision => model::CustomerType::SubDivision,
        }
    }
}

impl From<model::CustomerType> for CustomerType {
    fn from(value: model::CustomerType) -> CustomerType {
        match value {
            model::CustomerType::EndCustomer => CustomerType::EndCustomer,
            model::CustomerType::SubDivision => CustomerType::SubDivision,
        }
    }
}

/// A user's role: `admin` or `user`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    Admin,
    #[default]
    User,
}

impl From<Role> for model::Role {
    fn from(value: Role) -> model::Role {
        match value {
            Role::Admin => model::Role::Admin,
            Role::User => model::Role::User,
        }
    }
}

impl From<model::Role> for Role {
    fn from(value: model::Role) -> Role {
        match value {
            model::Role::Admin => Role::Admin,
            model::Role::User => Role::User,
        }
    }
}

/// A user of an account, identified by e-mail within the account.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSpec {
    /// The user's e-mail address, unique within the account.
    pub email: String,
    /// The user's full name.
    pub name: String,
    /// `admin` or `user` (the default).
    #[serde(default, skip_serializing_if = "is_default_role")]
    pub role: Role,
    /// Preferred language, e.g. `de` or `en-GB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// IANA time zone, e.g. `Europe/Berlin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// A postal address; every part is optional.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressSpec {
    /// Street and house number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    /// City or town.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// State, province or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Country, as an ISO 3166 code such as `DE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// Contact details; every part is optional.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactSpec {
    /// The contact person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The contact e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The contact telephone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// What the system reports about an account (written by the controller).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Reconciling` and `Stalled`, in the kstatus style.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<StatusCondition>,
    /// The number the system assigned when the account was created, or `Pending`
    /// until then. It never changes, whatever moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_number: Option<String>,
    /// Whether the account and all its ancestors are active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_active: Option<bool>,
}

/// Usage of one period against a plan's limits.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageStatus {
    /// The period, `YYYY-MM`.
    pub period: String,
    /// One line per metric recorded in the period.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricUsage>,
}

/// The usage of one metric against its limit.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricUsage {
    /// The metric, e.g. `documentsPerMonth`.
    pub metric: String,
    /// The amount used, summed over the group's members.
    pub amount: f64,
    /// The plan's limit; absent when the plan sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// `ok`, `approaching` (at least 80%), `exceeding` (above 100%) or `unlimited`.
    pub status: String,
}

/// A condition in the Kubernetes (kstatus) style.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCondition {
    /// `Ready`, `Reconciling` or `Stalled`.
    #[serde(rename = "type")]
    pub condition_type: String,
    /// `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// A machine-readable reason in CamelCase, e.g. `Applied` or `OutOfScope`.
    pub reason: String,
    /// A human-readable explanation.
    #[serde(default)]
    pub message: String,
    /// When `status` last changed (RFC 3339); a new reason or message keeps it.
    pub last_transition_time: String,
    /// The `metadata.generation` the condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The status of a condition.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// An optional level between an account and its children: a group of partners or of
/// customers.
// kube's printcolumn syntax repeats `type_ = "string"`, which clippy takes for a
// duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[kube(
    group = "canopy.dev",
    version = "v1alpha1",
    kind = "AccountGroup",
    namespaced,
    status = "AccountGroupStatus",
    shortname = "acctgrp",
    category = "canopy",
    derive = "PartialEq",
    doc = "A group of partners or of customers between an account and its children.",
    validation = Rule::new(NAME_RULE).message(NAME_MESSAGE),
    validation = Rule::new(NOT_OWN_PARENT_RULE).message("an object cannot be its own parent"),
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "Parent", type_ = "string", json_path = ".spec.parent"),
    printcolumn(name = "Plan", type_ = "string", json_path = ".spec.plan"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "!has(self.plan) || self.type == 'customer'",
        "message": "only a customer group carries a plan"
    }
]))]
pub struct AccountGroupSpec {
    /// What the group holds: `partner` (partners) or `customer` (customers and
    /// enterprises).
    #[serde(rename = "type")]
    pub group_type: GroupType,
    /// The name people see. Defaults to `metadata.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The account the group belongs to. Groups do not nest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(NAME_PATTERN))]
    pub parent: Option<String>,
    /// Customer groups only: a ServicePlan pooled over the members (its usage is the
    /// sum of theirs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(NAME_PATTERN))]
    pub plan: Option<String>,
    /// Cluster only: what deleting this resource does to the group. `Orphan` (the
    /// default) keeps it, left as an orphan of its namespace's source; `Archive`
    /// archives it. Ignored in files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// What a group holds: `partner` or `customer`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum GroupType {
    Partner,
    Customer,
}

impl GroupType {
    pub fn node_type(self) -> model::NodeType {
        match self {
            GroupType::Partner => model::NodeType::PartnerGroup,
            GroupType::Customer => model::NodeType::CustomerGroup,
        }
    }

    /// The group type of a node type; `None` for accounts.
    pub fn of(node_type: model::NodeType) -> Option<GroupType> {
        match node_type {
            model::NodeType::PartnerGroup => Some(GroupType::Partner),
            model::NodeType::CustomerGroup => Some(GroupType::Customer),
            _ => None,
        }
    }
}

/// What the system reports about a group (written by the controller).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountGroupStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Reconciling` and `Stalled`, in the kstatus style.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<StatusCondition>,
    /// Pooled usage of the members against the group's plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageStatus>,
}

/// A service plan accounts and customer groups are billed on.
// kube's printcolumn syntax repeats `type_ = "string"`, which clippy takes for a
// duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[kube(
    group = "canopy.dev",
    version = "v1alpha1",
    kind = "ServicePlan",
    namespaced,
    status = "ServicePlanStatus",
    shortname = "svcplan",
    category = "canopy",
    derive = "PartialEq",
    doc = "A service plan that accounts and customer groups are billed on.",
    validation = Rule::new(NAME_RULE).message(NAME_MESSAGE),
    printcolumn(name = "Billing", type_ = "string", json_path = ".spec.billing"),
    printcolumn(name = "Licenses", type_ = "integer", json_path = ".spec.licenses"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePlanSpec {
    /// `trial` (a fixed licence count, default 5) or `purchased` (billed monthly for
    /// the licences used).
    pub billing: Billing,
    /// Licences (one per device). Trial plans default to 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licenses: Option<u32>,
    /// Limits by name, e.g. `documentsPerMonth: 5000`. Accounts at 80% or more of a
    /// limit are flagged as approaching it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, u64>,
    /// The name people see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// How a plan is billed: `trial` or `purchased`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Billing {
    Trial,
    Purchased,
}

impl From<Billing> for model::Billing {
    fn from(value: Billing) -> model::Billing {
        match value {
            Billing::Trial => model::Billing::Trial,
            Billing::Purchased => model::Billing::Purchased,
        }
    }
}

impl From<model::Billing> for Billing {
    fn from(value: model::Billing) -> Billing {
        match value {
            model::Billing::Trial => Billing::Trial,
            model::Billing::Purchased => Billing::Purchased,
        }
    }
}

/// What the system reports about a plan (written by the controller).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlanStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Reconciling` and `Stalled`, in the kstatus style.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<StatusCondition>,
}

/// Binds namespaces to a subtree: resources in those namespaces may declare and change
/// only accounts inside it. Cluster-scoped, so only cluster administrators create it.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[kube(
    group = "canopy.dev",
    version = "v1alpha1",
    kind = "AccountScope",
    status = "AccountScopeStatus",
    shortname = "acctscope",
    category = "canopy",
    derive = "PartialEq",
    doc = "Binds namespaces to a subtree of the account hierarchy.",
    printcolumn(name = "Root", type_ = "string", json_path = ".spec.root"),
    printcolumn(name = "Namespaces", type_ = "string", json_path = ".spec.namespaces"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountScopeSpec {
    /// The namespaces whose resources this scope governs. A namespace may be named by
    /// one scope only.
    #[schemars(length(min = 1))]
    pub namespaces: Vec<String>,
    /// The account or group at the top of the subtree. Omitted: the whole tree (for a
    /// platform administrators' namespace). A partner-group root cannot create
    /// partners; nothing above or beside the root can be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(NAME_PATTERN))]
    pub root: Option<String>,
}

/// What the system reports about a scope (written by the controller).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountScopeStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (False with reason `Conflict` when another scope names a namespace too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<StatusCondition>,
}

fn default_true() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_default_role(role: &Role) -> bool {
    *role == Role::User
}

/// A map of arbitrary values. Kubernetes needs `x-kubernetes-preserve-unknown-fields`
/// for values of no fixed type; editors ignore the extension.
pub(crate) fn any_value_map(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "additionalProperties": { "x-kubernetes-preserve-unknown-fields": true }
    })
}
