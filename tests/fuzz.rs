//! Fuzzing on stable Rust (cargo-fuzz needs nightly): seeded, reproducible random
//! inputs, in process, each under `catch_unwind`.
//!
//! - the manifest loader, on the realistic example's files mutated at random (bytes
//!   flipped, ranges cut or doubled, YAML syntax and control characters inserted):
//!   it must answer with a hierarchy or located diagnostics, never panic;
//! - the planner, on arbitrary live and desired hierarchies (random types, parents
//!   that are missing, the node itself or a cycle, random plans, owners, archived
//!   rows: what a hand-edited database may hold): it must answer with a plan or
//!   problems, never panic.
//!
//! CI runs a short bounded run. A long run, e.g. a million cases each:
//! `CANOPY_FUZZ_CASES=1000000 cargo nextest run --release --test fuzz --no-capture`;
//! `CANOPY_FUZZ_SEED=N` picks another sequence. A failure prints the seed and case
//! that reproduce it; add it to the regression list below.

#[macro_use]
mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use canopy::generate::Rng;
use canopy::manifest::{ParseCache, load_with_cache};
use canopy::model::{Billing, Hierarchy, LiveMeta, NodeType, PlanSpec, ServicePlan};
use canopy::plan::{PlanOptions, diff};
use support::fixtures::node;

fn cases(default: usize) -> usize {
    std::env::var("CANOPY_FUZZ_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

fn seed() -> u64 {
    std::env::var("CANOPY_FUZZ_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20_261_202)
}

const INSERTS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ":",
    ": ",
    "- ",
    "---\n",
    "\t",
    "\"",
    "'",
    "&a ",
    "*a",
    "!!str ",
    "\0",
    "\u{202e}",
    "\u{1b}",
    "\n",
    "  ",
    "#",
    "|",
    ">",
    "%YAML 1.2\n",
    "? ",
    ",",
    "~",
    "\u{feff}",
    "parent: ",
    "type: ",
    "usersFrom: ../x.csv",
    "9999999999999999999999",
];

/// One random mutation of `bytes`.
fn mutate(bytes: &mut Vec<u8>, rng: &mut Rng) {
    if bytes.is_empty() {
        bytes.extend_from_slice(rng.pick(INSERTS).as_bytes());
        return;
    }
    let at = rng.below(bytes.len());
    match rng.below(5) {
        0 => bytes[at] ^= 1 << rng.below(8),
        1 => {
            let end = (at + rng.below(64)).min(bytes.len());
            bytes.drain(at..end);
        }
        2 => {
            let end = (at + rng.below(256)).min(bytes.len());
            let copy = bytes[at..end].to_vec();
            bytes.splice(at..at, copy);
        }
        3 => {
            let insert = rng.pick(INSERTS).as_bytes().to_vec();
            bytes.splice(at..at, insert);
        }
        _ => bytes[at] = rng.next_u64() as u8,
    }
}

#[test]
fn the_loader_never_panics_on_mutated_manifests() {
    let example = Path::new("examples/realistic");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(example)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
            )
        })
        .collect();
    files.sort();
    let seed = seed();
    let mut rng = Rng::new(seed);
    let scratch = tempfile::tempdir().unwrap();
    let (mut loaded, mut refused) = (0, 0);
    for case in 0..cases(300) {
        let directory = scratch.path().join(format!("case-{}", case % 4));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        let victim = rng.below(files.len());
        for (index, (name, bytes)) in files.iter().enumerate() {
            let mut bytes = bytes.clone();
            if index == victim {
                for _ in 0..=rng.below(3) {
                    mutate(&mut bytes, &mut rng);
                }
            }
            std::fs::write(directory.join(name), bytes).unwrap();
        }
        let input = vec![directory.display().to_string()];
        let result = catch_unwind(AssertUnwindSafe(|| {
            load_with_cache(&input, None, &ParseCache::disabled())
        }));
        match result {
            Ok(Ok(_)) => loaded += 1,
            Ok(Err(error)) => {
                assert!(
                    !error.diagnostics.is_empty(),
                    "seed {seed} case {case}: refused without a diagnostic"
                );
                refused += 1;
            }
            Err(_) => panic!(
                "seed {seed} case {case}: the loader panicked on {}",
                files[victim].0
            ),
        }
    }
    println!("loader: {loaded} loaded, {refused} refused, 0 panics");
}

const TYPES: &[NodeType] = &[
    NodeType::Subsidiary,
    NodeType::Partner,
    NodeType::Customer,
    NodeType::Enterprise,
    NodeType::PartnerGroup,
    NodeType::CustomerGroup,
];

/// An arbitrary hierarchy over a small name space (so live and desired overlap).
fn arbitrary(rng: &mut Rng, live: bool) -> Hierarchy {
    let names: Vec<String> = (0..12).map(|index| format!("n{index}")).collect();
    let plans: Vec<String> = (0..3).map(|index| format!("p{index}")).collect();
    let mut nodes = Vec::new();
    for name in &names {
        if rng.chance(30) {
            continue;
        }
        let parent = match rng.below(4) {
            0 => None,
            1 => Some(format!("missing-{}", rng.below(3))),
            _ => Some(rng.pick(&names).clone()),
        };
        let mut node = node(name, *rng.pick(TYPES), parent.as_deref(), name);
        node.spec.active = !rng.chance(20);
        node.spec.reseller = rng.chance(20);
        if rng.chance(40) {
            node.spec.plan = Some(rng.pick(&plans).as_str().into());
        }
        if rng.chance(20) {
            node.spec.locked_settings = vec!["k".into()].into();
        }
        node.adopt = !live && rng.chance(20);
        if live {
            node.live = LiveMeta {
                account_number: rng.chance(80).then(|| rng.below(1000) as i64),
                managed_by: match rng.below(3) {
                    0 => None,
                    1 => Some("other".into()),
                    _ => Some("fuzz".into()),
                },
                archived: rng.chance(10),
            };
        }
        nodes.push(node);
    }
    let kept: Vec<&String> = plans.iter().filter(|_| rng.chance(70)).collect();
    let plans = kept
        .into_iter()
        .map(|name| ServicePlan {
            name: name.clone(),
            spec: PlanSpec {
                billing: if rng.chance(50) {
                    Billing::Trial
                } else {
                    Billing::Purchased
                },
                licenses: rng.chance(50).then(|| rng.below(10) as u32),
                limits: Default::default(),
                display_name: None,
            },
            adopt: false,
            live: LiveMeta {
                managed_by: live.then(|| "fuzz".into()),
                ..LiveMeta::default()
            },
        })
        .collect();
    Hierarchy::new(nodes, plans)
}

/// A generated (valid) tree as live and a mutation of it as desired, each with a few
/// corruptions: a parent pointing anywhere, owners and archived flags at random.
fn generated(rng: &mut Rng) -> (Hierarchy, Hierarchy) {
    let base = canopy::generate::hierarchy(20 + rng.below(60), rng.next_u64());
    let mut desired = canopy::generate::mutate(&base, rng.next_u64(), 1 + rng.below(40) as u32);
    let mut live = base;
    for node in &mut live.nodes {
        node.live.managed_by = match rng.below(200) {
            0 => None,
            1 => Some("other".into()),
            _ => Some("fuzz".into()),
        };
        node.live.archived = rng.below(200) == 0;
    }
    for plan in &mut live.plans {
        plan.live.managed_by = Some("fuzz".into());
    }
    for hierarchy in [&mut live, &mut desired] {
        if rng.chance(15) && !hierarchy.nodes.is_empty() {
            let victim = rng.below(hierarchy.nodes.len());
            let target = rng.below(hierarchy.nodes.len());
            hierarchy.nodes[victim].spec.parent =
                Some(hierarchy.nodes[target].name.as_str().into());
        }
    }
    (live, desired)
}

#[test]
fn the_planner_never_panics_on_arbitrary_hierarchies() {
    let seed = seed();
    let mut rng = Rng::new(seed);
    let (mut planned, mut refused) = (0, 0);
    for case in 0..cases(2_000) {
        let (live, desired) = if rng.chance(33) {
            (arbitrary(&mut rng, true), arbitrary(&mut rng, false))
        } else {
            generated(&mut rng)
        };
        let mut options = PlanOptions::new("fuzz");
        options.prune = rng.chance(50);
        options.max_prune_percent = 100.0;
        if rng.chance(25) {
            options.scope = Some(format!("n{}", rng.below(12)));
        }
        match catch_unwind(AssertUnwindSafe(|| diff(&live, &desired, &options))) {
            Ok(Ok(_)) => planned += 1,
            Ok(Err(error)) => {
                if refused == 0 {
                    println!("first refusal (case {case}): {error}");
                }
                refused += 1
            }
            Err(_) => panic!("seed {seed} case {case}: the planner panicked"),
        }
    }
    println!("planner: {planned} planned, {refused} refused, 0 panics");
}
