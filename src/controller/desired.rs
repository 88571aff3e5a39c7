//! The desired state of each namespace, built from the custom resources the
//! reflectors hold.
//!
//! ```text
//! reflector stores ─ by_namespace ─> Resources per namespace
//!    Resources + Binding ─ desired ─> Desired::Source { source, scope, resources,
//!                                                       archive, release }
//!                                   | Desired::Refused (no scope / scope conflict)
//! DesiredSource::load(&live) (inside the reconcile pass) ─> Loaded | LoadError
//! ```
//!
//! Resources being deleted (a `deletionTimestamp`, held by canopy's finalizer) are left
//! out of the desired state; those asking for `deletionPolicy: Archive` are listed so
//! that the reconcile pass archives exactly them, the others (the default, Orphan) so
//! that it keeps them released: unmanaged, nobody's orphan. Validation is
//! [`manifest::from_resources_against`], the same rules as files, with errors naming
//! the object; it runs inside the pass, against the live hierarchy, so a scope root
//! that only the database (or another namespace) declares is a valid parent.

use std::collections::BTreeMap;

use crate::manifest::types::DeletionPolicy;
use crate::manifest::{self, Account, AccountGroup, LoadError, Loaded, ServicePlan};
use crate::model::{Hierarchy, Kind};

use super::scope::Binding;

/// The finalizer canopy holds on its resources until the database transaction that
/// applies their deletion has committed.
pub const FINALIZER: &str = "canopy.dev/deletion-policy";

/// The custom resources of one namespace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    pub accounts: Vec<Account>,
    pub groups: Vec<AccountGroup>,
    pub plans: Vec<ServicePlan>,
}

impl Resources {
    pub fn len(&self) -> usize {
        self.accounts.len() + self.groups.len() + self.plans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every object as (kind, name), in kind then name order.
    pub fn objects(&self) -> Vec<(Kind, String)> {
        let mut objects = Vec::with_capacity(self.len());
        let name = |meta: &kube::core::ObjectMeta| meta.name.clone().unwrap_or_default();
        objects.extend(
            self.accounts
                .iter()
                .map(|a| (Kind::Account, name(&a.metadata))),
        );
        objects.extend(
            self.groups
                .iter()
                .map(|g| (Kind::AccountGroup, name(&g.metadata))),
        );
        objects.extend(
            self.plans
                .iter()
                .map(|p| (Kind::ServicePlan, name(&p.metadata))),
        );
        objects.sort();
        objects
    }
}

/// Splits the cluster's resources by namespace (cluster-scoped copies, which the CRDs
/// do not allow, fall under the empty namespace and so under no scope).
pub fn by_namespace(
    accounts: impl IntoIterator<Item = Account>,
    groups: impl IntoIterator<Item = AccountGroup>,
    plans: impl IntoIterator<Item = ServicePlan>,
) -> BTreeMap<String, Resources> {
    let mut namespaces: BTreeMap<String, Resources> = BTreeMap::new();
    let key = |meta: &kube::core::ObjectMeta| meta.namespace.clone().unwrap_or_default();
    for account in accounts {
        let entry = namespaces.entry(key(&account.metadata)).or_default();
        entry.accounts.push(account);
    }
    for group in groups {
        let entry = namespaces.entry(key(&group.metadata)).or_default();
        entry.groups.push(group);
    }
    for plan in plans {
        let entry = namespaces.entry(key(&plan.metadata)).or_default();
        entry.plans.push(plan);
    }
    namespaces
}

/// What the controller asks the reconcile pass to do for one namespace.
#[derive(Debug, Clone, PartialEq)]
pub enum Desired {
    /// Reconcile `resources` as `source`, limited to `scope`.
    Source(DesiredSource),
    /// The namespace's resources change nothing (see [`Binding`]).
    Refused(Binding),
}

/// One namespace's desired state.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredSource {
    pub namespace: String,
    pub source: String,
    pub scope: Option<String>,
    /// The resources that declare the desired state (those being deleted left out).
    pub resources: Resources,
    /// Objects being deleted with `deletionPolicy: Archive`: archive exactly these.
    pub archive: Vec<(Kind, String)>,
    /// Objects being deleted with the default policy (Orphan; service plans always):
    /// keep them in the database, released (unmanaged).
    pub release: Vec<(Kind, String)>,
    /// Every object being deleted (the finalizers to remove once the pass committed).
    pub deleting: Vec<(Kind, String)>,
}

/// The desired state of one namespace under its binding.
pub fn desired(namespace: &str, resources: Resources, binding: Binding) -> Desired {
    let Binding::Scoped { source, root, .. } = binding else {
        return Desired::Refused(binding);
    };
    let mut archive = Vec::new();
    let mut release = Vec::new();
    let mut deleting = Vec::new();
    let mut note = |kind: Kind, meta: &kube::core::ObjectMeta, policy: Option<DeletionPolicy>| {
        if meta.deletion_timestamp.is_none() {
            return true;
        }
        let name = meta.name.clone().unwrap_or_default();
        if policy == Some(DeletionPolicy::Archive) {
            archive.push((kind, name.clone()));
        } else {
            release.push((kind, name.clone()));
        }
        deleting.push((kind, name));
        false
    };
    let Resources {
        mut accounts,
        mut groups,
        mut plans,
    } = resources;
    accounts.retain(|a| note(Kind::Account, &a.metadata, a.spec.deletion_policy));
    groups.retain(|g| note(Kind::AccountGroup, &g.metadata, g.spec.deletion_policy));
    plans.retain(|p| note(Kind::ServicePlan, &p.metadata, None));
    archive.sort();
    release.sort();
    deleting.sort();
    Desired::Source(DesiredSource {
        namespace: namespace.to_string(),
        source,
        scope: root,
        resources: Resources {
            accounts,
            groups,
            plans,
        },
        archive,
        release,
        deleting,
    })
}

impl DesiredSource {
    /// The validated desired state against the live hierarchy, or every problem.
    pub fn load(&self, live: &Hierarchy) -> Result<Loaded, LoadError> {
        let resources = self.resources.clone();
        manifest::from_resources_against(
            resources.accounts,
            resources.groups,
            resources.plans,
            Some(live),
        )
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::manifest::types::{AccountSpec, AccountType};

    fn account(namespace: &str, name: &str, parent: Option<&str>) -> Account {
        let mut account = Account::new(
            name,
            AccountSpec {
                account_type: if parent.is_some() {
                    AccountType::Customer
                } else {
                    AccountType::Partner
                },
                display_name: None,
                parent: parent.map(str::to_string),
                active: true,
                customer_type: None,
                reseller: false,
                plan: None,
                address: None,
                contact: None,
                services: Default::default(),
                settings: Default::default(),
                locked_settings: Vec::new(),
                users: Vec::new(),
                users_from: None,
                deletion_policy: None,
            },
        );
        account.metadata.namespace = Some(namespace.to_string());
        account
    }

    fn scoped(namespace: &str) -> Binding {
        Binding::Scoped {
            scope: "s".to_string(),
            source: super::super::scope::source_of(namespace),
            root: None,
        }
    }

    #[test]
    fn resources_are_split_by_namespace() {
        let split = by_namespace(
            [
                account("a", "partner-a", None),
                account("b", "partner-b", None),
                account("a", "customer-a", Some("partner-a")),
            ],
            [],
            [],
        );
        assert_eq!(split.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            split["a"].objects(),
            [
                (Kind::Account, "customer-a".to_string()),
                (Kind::Account, "partner-a".to_string())
            ]
        );
    }

    #[test]
    fn a_namespace_without_scope_is_refused_before_validation() {
        let resources = Resources {
            accounts: vec![account("x", "partner-x", None)],
            ..Resources::default()
        };
        assert_eq!(
            desired("x", resources, Binding::NoScope),
            Desired::Refused(Binding::NoScope)
        );
    }

    #[test]
    fn valid_resources_become_the_sources_hierarchy() {
        let resources = Resources {
            accounts: vec![
                account("a", "partner-a", None),
                account("a", "customer-a", Some("partner-a")),
            ],
            ..Resources::default()
        };
        let Desired::Source(source) = desired("a", resources, scoped("a")) else {
            panic!("a scoped namespace is reconciled");
        };
        assert_eq!(source.source, "kubernetes/a");
        let loaded = source.load(&Hierarchy::default()).expect("valid resources");
        let names: Vec<&str> = loaded
            .hierarchy
            .nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(names, ["customer-a", "partner-a"]);
    }

    #[test]
    fn invalid_resources_are_reported_by_object() {
        let resources = Resources {
            accounts: vec![account("a", "customer-a", Some("nowhere"))],
            ..Resources::default()
        };
        let Desired::Source(source) = desired("a", resources, scoped("a")) else {
            panic!("a scoped namespace is reconciled");
        };
        let error = source
            .load(&Hierarchy::default())
            .expect_err("a dangling parent is an error");
        assert!(
            error
                .errors()
                .any(|d| d.object.as_deref() == Some("customer-a"))
        );
    }

    #[test]
    fn deleted_resources_leave_the_desired_state_and_archive_only_when_asked() {
        let mut orphaned = account("a", "customer-o", Some("partner-a"));
        orphaned.metadata.deletion_timestamp = Some(Time(Default::default()));
        let mut archived = account("a", "customer-x", Some("partner-a"));
        archived.metadata.deletion_timestamp = Some(Time(Default::default()));
        archived.spec.deletion_policy = Some(DeletionPolicy::Archive);
        let resources = Resources {
            accounts: vec![account("a", "partner-a", None), orphaned, archived],
            ..Resources::default()
        };
        let Desired::Source(source) = desired("a", resources, scoped("a")) else {
            panic!("a scoped namespace is reconciled");
        };
        assert_eq!(source.archive, [(Kind::Account, "customer-x".to_string())]);
        assert_eq!(source.release, [(Kind::Account, "customer-o".to_string())]);
        assert_eq!(source.deleting.len(), 2);
        let loaded = source.load(&Hierarchy::default()).expect("valid resources");
        assert_eq!(loaded.hierarchy.nodes.len(), 1);
    }
}
