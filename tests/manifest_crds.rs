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

#[test]
fn the_crds_are_cluster_scoped_and_cover_every_kind() {
    let generated = canopy_output("crds");
    let documents: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&generated)
        .map(|document| serde::Deserialize::deserialize(document).expect("a YAML document"))
        .collect();
    let kinds: Vec<&str> = documents
        .iter()
        .map(|crd| crd["spec"]["names"]["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["Account", "AccountGroup", "ServicePlan"]);
    for crd in &documents {
        assert_eq!(crd["spec"]["scope"].as_str(), Some("Cluster"));
        assert_eq!(crd["spec"]["group"].as_str(), Some("canopy.dev"));
        assert_eq!(
            crd["spec"]["versions"][0]["name"].as_str(),
            Some("v1alpha1")
        );
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
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
