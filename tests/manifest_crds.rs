//! Generated artefacts stay generated: the committed CRDs equal `canopy crds`, and
//! `canopy schema` describes every kind.

use assert_cmd::Command;

fn canopy_output(command: &str) -> String {
    let output = Command::cargo_bin("canopy")
        .expect("the canopy binary is built")
        .arg(command)
        .output()
        .expect("canopy runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[test]
fn the_committed_crds_equal_the_generated_ones() {
    let generated = canopy_output("crds");
    let committed = include_str!("../crds/canopy.dev_crds.yaml");
    assert!(
        generated == committed,
        "crds/canopy.dev_crds.yaml is stale: run `bash scripts/generate.sh`"
    );
}

#[test]
fn the_charts_crds_equal_the_generated_ones() {
    let generated = canopy_output("crds");
    let committed = include_str!("../charts/canopy/crds/canopy.dev_crds.yaml");
    assert!(
        generated == committed,
        "charts/canopy/crds/canopy.dev_crds.yaml is stale: run `bash scripts/generate.sh`"
    );
}

fn generated_crds() -> Vec<serde_yaml::Value> {
    let generated = canopy_output("crds");
    serde_yaml::Deserializer::from_str(&generated)
        .map(|document| serde::Deserialize::deserialize(document).expect("a YAML document"))
        .collect()
}

fn crd_of<'a>(documents: &'a [serde_yaml::Value], kind: &str) -> &'a serde_yaml::Value {
    documents
        .iter()
        .find(|crd| crd["spec"]["names"]["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("a CRD for {kind}"))
}

fn strings(value: &serde_yaml::Value) -> Vec<&str> {
    value
        .as_sequence()
        .map(|items| items.iter().filter_map(|item| item.as_str()).collect())
        .unwrap_or_default()
}

#[test]
fn the_three_kinds_are_namespaced_and_scopes_cluster_wide() {
    let documents = generated_crds();
    let kinds: Vec<(&str, &str)> = documents
        .iter()
        .map(|crd| {
            (
                crd["spec"]["names"]["kind"].as_str().unwrap_or_default(),
                crd["spec"]["scope"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("Account", "Namespaced"),
            ("AccountGroup", "Namespaced"),
            ("ServicePlan", "Namespaced"),
            ("AccountScope", "Cluster"),
        ]
    );
    for crd in &documents {
        assert_eq!(crd["spec"]["group"].as_str(), Some("canopy.dev"));
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["name"].as_str(), Some("v1alpha1"));
        assert!(
            version["subresources"]["status"].is_mapping(),
            "{:?} has a status subresource",
            crd["spec"]["names"]["kind"]
        );
        assert_eq!(strings(&crd["spec"]["names"]["categories"]), ["canopy"]);
        let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let properties = spec["properties"].as_mapping().expect("spec properties");
        for (name, property) in properties {
            assert!(
                property["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "field {name:?} has no description"
            );
        }
    }
}

#[test]
fn kubectl_shows_short_names_and_the_status_columns() {
    let documents = generated_crds();
    let short_names: Vec<Vec<&str>> = documents
        .iter()
        .map(|crd| strings(&crd["spec"]["names"]["shortNames"]))
        .collect();
    assert_eq!(
        short_names,
        [["acct"], ["acctgrp"], ["svcplan"], ["acctscope"]]
    );
    let account = crd_of(&documents, "Account");
    let columns: Vec<&str> = account["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_sequence()
        .expect("printer columns")
        .iter()
        .filter_map(|column| column["name"].as_str())
        .collect();
    assert_eq!(
        columns,
        [
            "Type",
            "Parent",
            "Active",
            "Effective",
            "Number",
            "Ready",
            "Age"
        ]
    );
}

#[test]
fn the_schema_carries_enums_and_cel_rules() {
    let documents = generated_crds();
    let account = crd_of(&documents, "Account");
    let root = &account["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let spec = &root["properties"]["spec"];
    assert_eq!(
        strings(&spec["properties"]["type"]["enum"]),
        ["subsidiary", "partner", "customer", "enterprise"]
    );
    assert_eq!(
        strings(&spec["properties"]["deletionPolicy"]["enum"]),
        ["Orphan", "Archive"]
    );
    let spec_rules: Vec<&str> = spec["x-kubernetes-validations"]
        .as_sequence()
        .expect("spec rules")
        .iter()
        .filter_map(|rule| rule["rule"].as_str())
        .collect();
    assert!(spec_rules.contains(&"self.type != 'subsidiary' || !has(self.parent)"));
    let root_rules = root["x-kubernetes-validations"]
        .as_sequence()
        .expect("root rules");
    assert!(
        root_rules.iter().any(|rule| rule["rule"]
            .as_str()
            .is_some_and(|r| r.contains("metadata.name"))),
        "metadata.name is checked against canopy's name rule"
    );
    let status = &root["properties"]["status"]["properties"];
    assert_eq!(status["accountNumber"]["type"].as_str(), Some("string"));
    assert!(status["observedGeneration"].is_mapping());
    let scope = crd_of(&documents, "AccountScope");
    let scope_spec =
        &scope["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(strings(&scope_spec["required"]), ["namespaces"]);
}

#[test]
fn the_json_schema_offers_every_kind() {
    let schema: serde_json::Value =
        serde_json::from_str(&canopy_output("schema")).expect("the schema is JSON");
    let kinds: Vec<&str> = schema["oneOf"]
        .as_array()
        .expect("a oneOf of kinds")
        .iter()
        .map(|kind| {
            kind["properties"]["kind"]["const"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        kinds,
        ["Account", "AccountGroup", "ServicePlan", "AccountTree"]
    );
    let account = &schema["definitions"]["AccountSpec"];
    assert_eq!(account["additionalProperties"], false);
    assert!(account["properties"]["usersFrom"]["description"].is_string());
}
