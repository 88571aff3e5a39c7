//! Benchmark (not a test): loading 100,000 accounts spread over 1,000 files (with the
//! parse cache off, cold and warm), against serde_yaml alone parsing the same bytes on
//! one thread.
//!
//! `cargo bench --bench manifest_load` prints the figures; `CANOPY_BENCH_ACCOUNTS`
//! and `CANOPY_BENCH_FILES` change the size.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use canopy::manifest;
use canopy::model::{Address, Contact, Hierarchy, Node, NodeSpec, NodeType, Role, User};

fn main() {
    let accounts = env_number("CANOPY_BENCH_ACCOUNTS", 100_000);
    let files = env_number("CANOPY_BENCH_FILES", 1_000);
    let directory = tempfile::TempDir::new().expect("a temporary directory");
    let bytes = write_files(directory.path(), accounts, files);
    let inputs = vec![directory.path().display().to_string()];

    let load_with = |cache: &manifest::ParseCache| {
        let loaded = manifest::load_with_cache(&inputs, None, cache)
            .expect("the generated manifests are valid");
        assert_eq!(loaded.hierarchy.account_count(), accounts);
    };
    let uncached = best_of(3, || load_with(&manifest::ParseCache::disabled()));
    let cache_directory = tempfile::TempDir::new().expect("a cache directory");
    let cache = manifest::ParseCache::in_directory(cache_directory.path());
    let cold = best_of(1, || load_with(&cache));
    let warm = best_of(3, || load_with(&cache));
    let texts: Vec<String> = read_all(directory.path());
    let serde_value = best_of(3, || {
        for text in &texts {
            for document in serde_yaml::Deserializer::from_str(text) {
                let value: serde_yaml::Value =
                    serde::Deserialize::deserialize(document).expect("valid YAML");
                std::hint::black_box(value);
            }
        }
    });
    let parse_only = best_of(3, || {
        for text in &texts {
            std::hint::black_box(manifest::parse_file(text));
        }
    });
    let threads = rayon::current_num_threads();
    println!(
        "manifest_load: {accounts} accounts in {files} files, {bytes} bytes, {threads} threads"
    );
    println!("  canopy manifest::load (read, parse, validate, normalize):");
    println!("    parse cache off:                                        {uncached:?}");
    println!("    cold parse cache (parse and write every entry):         {cold:?}");
    println!("    warm parse cache (no file changed):                     {warm:?}");
    println!("  canopy parse_file alone (typed resources), one thread:    {parse_only:?}");
    println!("  serde_yaml alone, to serde_yaml::Value, one thread:       {serde_value:?}");
    println!(
        "  warm load / serde_yaml alone: {:.2}",
        warm.as_secs_f64() / serde_value.as_secs_f64()
    );
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn best_of(runs: usize, mut run: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn read_all(directory: &std::path::Path) -> Vec<String> {
    let mut paths: Vec<_> = std::fs::read_dir(directory)
        .expect("the directory")
        .map(|entry| entry.expect("an entry").path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| std::fs::read_to_string(path).expect("a file"))
        .collect()
}

/// Writes a subsidiary, then per file one partner with a customer group and
/// customers (each with an address, a contact, a service and an admin user).
fn write_files(directory: &std::path::Path, accounts: usize, files: usize) -> usize {
    let per_file = accounts.div_ceil(files).max(2);
    let mut written = 0;
    let mut bytes = 0;
    let root = node("holding", NodeType::Subsidiary, None);
    bytes += write(
        directory,
        "000-root.yaml",
        &Hierarchy::new(vec![root], vec![]),
    );
    written += 1;
    let mut file = 0;
    while written < accounts {
        let partner = format!("partner-{file}");
        let group = format!("{partner}-smb");
        let mut nodes = vec![
            node(&partner, NodeType::Partner, Some("holding")),
            node(&group, NodeType::CustomerGroup, Some(&partner)),
        ];
        written += 1;
        for index in 0..per_file - 1 {
            if written == accounts {
                break;
            }
            let name = format!("{partner}-customer-{index}");
            let parent = if index % 2 == 0 { &group } else { &partner };
            nodes.push(customer(&name, parent));
            written += 1;
        }
        let hierarchy = Hierarchy::new(nodes, vec![]);
        bytes += write(directory, &format!("{file:03}-{partner}.yaml"), &hierarchy);
        file += 1;
    }
    bytes
}

fn write(directory: &std::path::Path, name: &str, hierarchy: &Hierarchy) -> usize {
    let yaml = manifest::to_yaml(hierarchy);
    std::fs::write(directory.join(name), &yaml).expect("write a manifest");
    yaml.len()
}

fn node(name: &str, node_type: NodeType, parent: Option<&str>) -> Node {
    let mut spec = NodeSpec::new(node_type, format!("{name} display name"));
    spec.parent = parent.map(Into::into);
    Node {
        name: name.into(),
        spec,
        adopt: false,
        live: Default::default(),
        effective: None,
    }
}

fn customer(name: &str, parent: &str) -> Node {
    let mut customer = node(name, NodeType::Customer, Some(parent));
    let spec = &mut customer.spec;
    spec.address = Some(Box::new(Address {
        city: Some("Munich".to_string()),
        country: Some("DE".to_string()),
        ..Address::default()
    }));
    spec.contact = Some(Box::new(Contact {
        email: Some(format!("it@{name}.example")),
        ..Contact::default()
    }));
    spec.services = BTreeMap::from([("invoice-capture".to_string(), true)]).into();
    spec.users = vec![User {
        email: format!("admin@{name}.example").into(),
        name: "Anna Admin".into(),
        role: Role::Admin,
        language: Some("de".into()),
        timezone: Some("Europe/Berlin".into()),
    }];
    customer
}
