//! The kinds the fake API server knows, and what it says about them: discovery
//! documents (`/api`, `/apis`, `/apis/GROUP/VERSION`) and the parse of a request path
//! into a resource, a namespace, a name and a subresource.
//!
//! canopy's four kinds come from their generated CustomResourceDefinitions (so names,
//! short names, the `canopy` category and the printer columns are the ones a real
//! cluster would serve); Events, Leases and Namespaces are the built-ins the
//! controller and kubectl touch.

use kube::CustomResourceExt;
use serde_json::{Value, json};

use crate::manifest::types::{Account, AccountGroup, AccountScope, ServicePlan};

/// One kind the fake serves.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The API group; empty for the core group.
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    /// Whether `/status` is a subresource: then writes to the object keep its status
    /// and writes to `/status` keep everything else.
    pub status_subresource: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// The CRD's `additionalPrinterColumns`, for the Table kubectl asks for.
    pub printer_columns: Vec<Value>,
}

impl Resource {
    /// `group/version`, or `version` alone for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn builtin(group: &str, version: &str, plural: &str, kind: &str, namespaced: bool) -> Self {
        Resource {
            group: group.to_owned(),
            version: version.to_owned(),
            plural: plural.to_owned(),
            singular: kind.to_lowercase(),
            kind: kind.to_owned(),
            namespaced,
            status_subresource: false,
            short_names: Vec::new(),
            categories: Vec::new(),
            printer_columns: Vec::new(),
        }
    }

    fn from_crd(crd: &Value) -> Self {
        let spec = &crd["spec"];
        let names = &spec["names"];
        let version = &spec["versions"][0];
        let strings = |value: &Value| -> Vec<String> {
            value
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| item.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        Resource {
            group: text(&spec["group"]),
            version: text(&version["name"]),
            plural: text(&names["plural"]),
            singular: text(&names["singular"]),
            kind: text(&names["kind"]),
            namespaced: spec["scope"] == "Namespaced",
            status_subresource: version["subresources"]["status"].is_object(),
            short_names: strings(&names["shortNames"]),
            categories: strings(&names["categories"]),
            printer_columns: version["additionalPrinterColumns"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// This kind's entries in its group version's APIResourceList.
    fn discovery_entries(&self) -> Vec<Value> {
        let verbs = [
            "create", "delete", "get", "list", "patch", "update", "watch",
        ];
        let mut entries = vec![json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": verbs,
            "shortNames": self.short_names,
            "categories": self.categories,
        })];
        if self.status_subresource {
            entries.push(json!({
                "name": format!("{}/status", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        entries
    }
}

/// Every kind the fake serves.
pub fn all() -> Vec<Resource> {
    let crds = [
        Account::crd(),
        AccountGroup::crd(),
        ServicePlan::crd(),
        AccountScope::crd(),
    ];
    let mut resources: Vec<Resource> = crds
        .iter()
        .filter_map(|crd| serde_json::to_value(crd).ok())
        .map(|crd| Resource::from_crd(&crd))
        .collect();
    resources.push(Resource::builtin(
        "events.k8s.io",
        "v1",
        "events",
        "Event",
        true,
    ));
    resources.push(Resource::builtin(
        "coordination.k8s.io",
        "v1",
        "leases",
        "Lease",
        true,
    ));
    resources.push(Resource::builtin(
        "",
        "v1",
        "namespaces",
        "Namespace",
        false,
    ));
    resources
}

/// Where a request points: a collection or one object, maybe a subresource of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Index into the resource table.
    pub resource: usize,
    /// `None` for a cluster-scoped kind, or a namespaced kind across all namespaces.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Parses `/api/v1/…` or `/apis/GROUP/VERSION/…` into a [`Target`]; `None` for a path
/// that names nothing the fake serves.
pub fn parse_target(resources: &[Resource], path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", namespace, plural, rest @ ..] => (Some(*namespace), prepend(plural, rest)),
        _ => (None, rest.to_vec()),
    };
    let (plural, name, subresource) = match rest.as_slice() {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(*name), None),
        [plural, name, subresource] => (*plural, Some(*name), Some(*subresource)),
        _ => return None,
    };
    let resource = resources.iter().position(|resource| {
        resource.group == group && resource.version == version && resource.plural == plural
    })?;
    if namespace.is_some() && !resources[resource].namespaced {
        return None;
    }
    if subresource.is_some_and(|sub| sub != "status" || !resources[resource].status_subresource) {
        return None;
    }
    Some(Target {
        resource,
        namespace: namespace.map(str::to_owned),
        name: name.map(str::to_owned),
        subresource: subresource.map(str::to_owned),
    })
}

fn prepend<'a>(first: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    std::iter::once(first).chain(rest.iter().copied()).collect()
}

/// The discovery document at `path`, if it is one.
pub fn discovery(resources: &[Resource], path: &str, server: &str) -> Option<Value> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api"] => Some(json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
        })),
        ["apis"] => Some(group_list(resources)),
        ["api", "v1"] => Some(resource_list(resources, "", "v1")),
        ["apis", group, version] => resources
            .iter()
            .any(|resource| resource.group == *group && resource.version == *version)
            .then(|| resource_list(resources, group, version)),
        ["version"] => Some(json!({
            "major": "1", "minor": "32", "gitVersion": "v1.32.0-canopy-fake",
            "platform": "linux/amd64",
        })),
        _ => None,
    }
}

fn group_list(resources: &[Resource]) -> Value {
    let mut groups: Vec<Value> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for resource in resources
        .iter()
        .filter(|resource| !resource.group.is_empty())
    {
        if seen.contains(&resource.group.as_str()) {
            continue;
        }
        seen.push(&resource.group);
        let version = json!({
            "groupVersion": resource.api_version(),
            "version": resource.version,
        });
        groups.push(json!({
            "name": resource.group,
            "versions": [version.clone()],
            "preferredVersion": version,
        }));
    }
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(resources: &[Resource], group: &str, version: &str) -> Value {
    let entries: Vec<Value> = resources
        .iter()
        .filter(|resource| resource.group == group && resource.version == version)
        .flat_map(Resource::discovery_entries)
        .collect();
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = (String, Option<String>, Option<String>, Option<String>);

    fn target(path: &str) -> Option<Parsed> {
        let resources = all();
        parse_target(&resources, path).map(|target| {
            (
                resources[target.resource].plural.clone(),
                target.namespace,
                target.name,
                target.subresource,
            )
        })
    }

    #[test]
    fn paths_name_collections_objects_and_status() {
        let owned = |text: &str| Some(text.to_owned());
        assert_eq!(
            target("/apis/canopy.dev/v1alpha1/accounts"),
            Some(("accounts".into(), None, None, None))
        );
        assert_eq!(
            target("/apis/canopy.dev/v1alpha1/namespaces/team/accounts/acme/status"),
            Some((
                "accounts".into(),
                owned("team"),
                owned("acme"),
                owned("status")
            ))
        );
        assert_eq!(
            target("/apis/canopy.dev/v1alpha1/accountscopes/platform"),
            Some(("accountscopes".into(), None, owned("platform"), None))
        );
        assert_eq!(
            target("/api/v1/namespaces/team"),
            Some(("namespaces".into(), None, owned("team"), None))
        );
    }

    #[test]
    fn paths_the_fake_does_not_serve_are_refused() {
        assert_eq!(target("/apis/canopy.dev/v1alpha1/widgets"), None);
        assert_eq!(
            target("/apis/canopy.dev/v1alpha1/namespaces/team/accountscopes"),
            None
        );
        assert_eq!(
            target("/apis/coordination.k8s.io/v1/namespaces/a/leases/l/status"),
            None
        );
        assert_eq!(target("/healthz"), None);
    }

    #[test]
    fn discovery_lists_canopy_kinds_with_short_names_and_category() {
        let resources = all();
        let list = discovery(&resources, "/apis/canopy.dev/v1alpha1", "x").unwrap();
        let accounts = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["name"] == "accounts")
            .unwrap();
        assert_eq!(accounts["shortNames"], json!(["acct"]));
        assert_eq!(accounts["categories"], json!(["canopy"]));
        assert_eq!(accounts["namespaced"], true);
    }
}
