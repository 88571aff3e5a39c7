//! Which namespace may change what: `AccountScope` objects resolved per namespace.
//!
//! ```text
//! AccountScope { namespaces: [a, b], root: partner-nordic } ─┐
//! AccountScope { namespaces: [ops] }  (whole tree)          ─┴─> ScopeIndex
//! ScopeIndex::binding("a")   → Scoped { source: kubernetes/a, root: Some(partner-nordic) }
//! ScopeIndex::binding("x")   → NoScope      (its resources change nothing)
//! ScopeIndex::binding("dup") → Conflict     (named by two scopes: refused, not guessed)
//! ```
//!
//! Each namespace is its own source (`kubernetes/<namespace>`), so one tenant never
//! prunes or takes over another's accounts; the scope root becomes the plan's
//! `--scope`, with the same rules (nothing above or beside the root, a partner-group
//! root creates no partners).

use std::collections::BTreeMap;

use crate::manifest::AccountScope;

/// The prefix of every source the controller manages objects for.
pub const SOURCE_PREFIX: &str = "kubernetes/";

/// The ownership source of a namespace's resources.
pub fn source_of(namespace: &str) -> String {
    format!("{SOURCE_PREFIX}{namespace}")
}

/// What governs a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// One scope names the namespace: reconcile it as `source`, limited to `root`
    /// (`None`: the whole tree).
    Scoped {
        scope: String,
        source: String,
        root: Option<String>,
    },
    /// No scope names the namespace: its resources change nothing.
    NoScope,
    /// Several scopes name the namespace; which one applies is not guessed.
    Conflict { scopes: Vec<String> },
}

/// The scopes of the cluster, indexed by namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeIndex {
    /// Namespace → (scope name, root) of every scope naming it, in scope-name order.
    by_namespace: BTreeMap<String, Vec<(String, Option<String>)>>,
}

impl ScopeIndex {
    /// Indexes every scope (scopes being deleted govern nothing).
    pub fn new<'a>(scopes: impl IntoIterator<Item = &'a AccountScope>) -> ScopeIndex {
        let mut by_namespace: BTreeMap<String, Vec<(String, Option<String>)>> = BTreeMap::new();
        for scope in scopes {
            if scope.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let Some(name) = scope.metadata.name.clone() else {
                continue;
            };
            for namespace in &scope.spec.namespaces {
                let entry = by_namespace.entry(namespace.clone()).or_default();
                if !entry.iter().any(|(other, _)| *other == name) {
                    entry.push((name.clone(), scope.spec.root.clone()));
                }
            }
        }
        for entries in by_namespace.values_mut() {
            entries.sort();
        }
        ScopeIndex { by_namespace }
    }

    /// What governs `namespace`.
    pub fn binding(&self, namespace: &str) -> Binding {
        match self.by_namespace.get(namespace).map(Vec::as_slice) {
            None | Some([]) => Binding::NoScope,
            Some([(scope, root)]) => Binding::Scoped {
                scope: scope.clone(),
                source: source_of(namespace),
                root: root.clone(),
            },
            Some(many) => Binding::Conflict {
                scopes: many.iter().map(|(scope, _)| scope.clone()).collect(),
            },
        }
    }

    /// The namespaces `scope` names that another scope names too, with those others.
    pub fn conflicts_of(&self, scope: &str) -> Vec<(String, Vec<String>)> {
        self.by_namespace
            .iter()
            .filter(|(_, entries)| entries.len() > 1 && entries.iter().any(|(s, _)| s == scope))
            .map(|(namespace, entries)| {
                let others = entries
                    .iter()
                    .filter(|(s, _)| s != scope)
                    .map(|(s, _)| s.clone())
                    .collect();
                (namespace.clone(), others)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::types::AccountScopeSpec;

    fn scope(name: &str, namespaces: &[&str], root: Option<&str>) -> AccountScope {
        AccountScope::new(
            name,
            AccountScopeSpec {
                namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
                root: root.map(str::to_string),
            },
        )
    }

    #[test]
    fn a_named_namespace_is_its_own_source_limited_to_the_root() {
        let scopes = [scope("nordic", &["team-nordic"], Some("partner-nordic"))];
        let index = ScopeIndex::new(&scopes);
        assert_eq!(
            index.binding("team-nordic"),
            Binding::Scoped {
                scope: "nordic".to_string(),
                source: "kubernetes/team-nordic".to_string(),
                root: Some("partner-nordic".to_string()),
            }
        );
    }

    #[test]
    fn a_scope_without_root_grants_the_whole_tree() {
        let scopes = [scope("platform", &["ops"], None)];
        let binding = ScopeIndex::new(&scopes).binding("ops");
        assert!(matches!(binding, Binding::Scoped { root: None, .. }));
    }

    #[test]
    fn a_namespace_no_scope_names_is_not_bound() {
        let scopes = [scope("nordic", &["team-nordic"], Some("partner-nordic"))];
        assert_eq!(
            ScopeIndex::new(&scopes).binding("default"),
            Binding::NoScope
        );
    }

    #[test]
    fn a_namespace_two_scopes_name_is_a_conflict_for_both() {
        let scopes = [
            scope("b-scope", &["shared", "b"], Some("b-root")),
            scope("a-scope", &["shared"], Some("a-root")),
        ];
        let index = ScopeIndex::new(&scopes);
        assert_eq!(
            index.binding("shared"),
            Binding::Conflict {
                scopes: vec!["a-scope".to_string(), "b-scope".to_string()]
            }
        );
        assert_eq!(
            index.conflicts_of("b-scope"),
            vec![("shared".to_string(), vec!["a-scope".to_string()])]
        );
        assert!(matches!(index.binding("b"), Binding::Scoped { .. }));
    }

    #[test]
    fn a_scope_being_deleted_governs_nothing() {
        let mut deleting = scope("nordic", &["team-nordic"], None);
        deleting.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()),
        );
        assert_eq!(
            ScopeIndex::new(&[deleting]).binding("team-nordic"),
            Binding::NoScope
        );
    }
}
