//! The file-only `AccountTree` shorthand: one document that declares a subtree by
//! nesting, instead of one Account or AccountGroup per document with `parent` set.
//!
//! ```yaml
//! apiVersion: canopy.dev/v1alpha1
//! kind: AccountTree
//! metadata: {name: partner-nordic}        # the root node's name
//! spec:
//!   type: partner                         # the root's own fields, as in an Account
//!   parent: acme-holding                  # only the root may name a parent
//!   children:
//!     - name: nordic-smb
//!       kind: AccountGroup                # default: Account
//!       type: customer
//!       children:
//!         - {name: acme-eu, type: customer}
//! ```
//!
//! Expansion turns every node into the flat kinds (parent taken from the nesting),
//! remembering where each came from so that later errors still point into the tree.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::declare::{Declared, Origin};
use super::diagnostic::{Finding, Rule, Target};
use super::types::{
    AccountGroupSpec, AccountSpec, AccountType, AddressSpec, ContactSpec, CustomerType, GroupType,
    UserSpec,
};

/// A whole AccountTree document (files only; there is no such custom resource).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AccountTree {
    /// `metadata.name` is the name of the tree's root node.
    pub metadata: ObjectMeta,
    pub spec: TreeNode,
}

/// Which flat kind a tree node expands to.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default, JsonSchema)]
pub enum TreeKind {
    #[default]
    Account,
    AccountGroup,
}

/// A node of an AccountTree: an account (the default) or a group, with its children.
/// The fields are those of an Account's spec; a group uses only `type`,
/// `displayName` and `plan`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TreeNode {
    /// Children only: the node's name (the root's name is `metadata.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Account` (the default) or `AccountGroup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<TreeKind>,
    /// For an account: `subsidiary`, `partner`, `customer` or `enterprise`; for a
    /// group: `partner` or `customer`.
    #[serde(rename = "type")]
    pub node_type: AccountType,
    /// The name people see. Defaults to the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Root only: the Account or AccountGroup the whole tree hangs under. Children
    /// get their parent from the nesting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Accounts: whether the account is active (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Customers: `endCustomer` or `subDivision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_type: Option<CustomerType>,
    /// Customers: whether the customer resells, and so may contain customers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reseller: Option<bool>,
    /// The name of a ServicePlan (not for partner groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Accounts: the postal address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<AddressSpec>,
    /// Accounts: who to contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactSpec>,
    /// Accounts: services switched on or off by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, bool>,
    /// Accounts: settings by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "super::types::any_value_map")]
    pub settings: BTreeMap<String, serde_json::Value>,
    /// Accounts: setting keys the accounts below may not override.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locked_settings: Vec<String>,
    /// Accounts: users, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserSpec>,
    /// Accounts: a CSV file of further users, relative to this manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users_from: Option<String>,
    /// The nodes below this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<TreeNode>,
}

impl TreeNode {
    /// The account-only fields this node sets, for a group that must not set them.
    fn account_fields(&self) -> Vec<&'static str> {
        let set = [
            ("active", self.active.is_some()),
            ("customerType", self.customer_type.is_some()),
            ("reseller", self.reseller.is_some()),
            ("address", self.address.is_some()),
            ("contact", self.contact.is_some()),
            ("services", !self.services.is_empty()),
            ("settings", !self.settings.is_empty()),
            ("lockedSettings", !self.locked_settings.is_empty()),
            ("users", !self.users.is_empty()),
            ("usersFrom", self.users_from.is_some()),
        ];
        set.into_iter()
            .filter_map(|(field, is_set)| is_set.then_some(field))
            .collect()
    }
}

/// Expands a tree into `declared`. `origin` is the document's origin (flat).
pub(crate) fn expand(tree: AccountTree, origin: Origin, declared: &mut Declared) {
    let root_origin = Origin {
        place: origin.place,
        tree: Some(Box::default()),
    };
    let Some(name) = declared.name(tree.metadata.name.as_deref(), &root_origin) else {
        return;
    };
    let adopt = declared.adoption(&tree.metadata, &root_origin);
    if tree.spec.name.is_some() {
        declared.findings.push(Finding::error(
            Rule::TreeShape,
            root_origin.field_at(&["name"], Target::Key),
            "the root of an AccountTree is named by `metadata.name`; remove `spec.name`",
        ));
    }
    let mut spec = tree.spec;
    let parent = spec.parent.take();
    push_node(name, spec, parent, adopt, root_origin, declared);
}

/// Declares one tree node and, recursively, its children.
fn push_node(
    name: String,
    mut node: TreeNode,
    parent: Option<String>,
    adopt: bool,
    origin: Origin,
    declared: &mut Declared,
) {
    let children = std::mem::take(&mut node.children);
    let declared_ok = match node.kind.unwrap_or_default() {
        TreeKind::Account => {
            declared.push_account(
                name.clone(),
                account_spec(node, parent),
                adopt,
                origin.clone(),
            );
            true
        }
        TreeKind::AccountGroup => push_group(&name, node, parent, adopt, &origin, declared),
    };
    if !declared_ok {
        // Children of a node that could not be declared would only add dangling-parent
        // noise; their real problem is reported already.
        declared.unparsed.insert(name.clone());
    }
    for (index, mut child) in children.into_iter().enumerate() {
        let mut path = origin
            .tree
            .as_deref()
            .map(<[u32]>::to_vec)
            .unwrap_or_default();
        path.push(index as u32);
        let child_origin = Origin {
            place: origin.place.clone(),
            tree: Some(path.into_boxed_slice()),
        };
        if child.parent.take().is_some() {
            declared.findings.push(Finding::error(
                Rule::TreeShape,
                child_origin.field_at(&["parent"], Target::Key),
                format!("a child in an AccountTree takes its parent from the nesting (`{name}`); remove `parent`"),
            ));
        }
        let Some(child_name) = child.name.take() else {
            declared.findings.push(Finding::error(
                Rule::TreeShape,
                child_origin.field_at(&[], Target::Value),
                format!("a child of `{name}` in an AccountTree needs a `name`"),
            ));
            continue;
        };
        push_node(
            child_name,
            child,
            Some(name.clone()),
            false,
            child_origin,
            declared,
        );
    }
}

fn push_group(
    name: &str,
    node: TreeNode,
    parent: Option<String>,
    adopt: bool,
    origin: &Origin,
    declared: &mut Declared,
) -> bool {
    let group_type = match node.node_type {
        AccountType::Partner => GroupType::Partner,
        AccountType::Customer => GroupType::Customer,
        other => {
            declared.findings.push(
                Finding::error(
                    Rule::TreeShape,
                    origin.field_at(&["type"], Target::Value),
                    format!(
                        "an AccountGroup's type is `partner` or `customer`, not `{}`",
                        other.node_type()
                    ),
                )
                .about(name),
            );
            return false;
        }
    };
    for field in node.account_fields() {
        declared.findings.push(
            Finding::error(
                Rule::TreeShape,
                origin.field_at(&[field], Target::Key),
                format!("`{field}` is an account field; a group (`kind: AccountGroup`) takes only type, displayName and plan"),
            )
            .about(name),
        );
    }
    let spec = AccountGroupSpec {
        group_type,
        display_name: node.display_name,
        parent,
        plan: node.plan,
        deletion_policy: None,
    };
    declared.push_group(name.to_string(), spec, adopt, origin.clone());
    true
}

fn account_spec(node: TreeNode, parent: Option<String>) -> AccountSpec {
    AccountSpec {
        account_type: node.node_type,
        display_name: node.display_name,
        parent,
        active: node.active.unwrap_or(true),
        customer_type: node.customer_type,
        reseller: node.reseller.unwrap_or(false),
        plan: node.plan,
        address: node.address,
        contact: node.contact,
        services: node.services,
        settings: node.settings,
        locked_settings: node.locked_settings,
        users: node.users,
        users_from: node.users_from,
        deletion_policy: None,
    }
}
