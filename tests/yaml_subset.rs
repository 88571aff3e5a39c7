//! The YAML subset's fast path reads every document exactly as serde_yaml does, or
//! leaves it to serde_yaml: the two readers of `canopy::manifest::parse` give equal
//! parsed files (resources, problems with their positions and messages, unparsed
//! names) on every example and bad input, on generated repositories, on hand-written
//! tricky documents, and on thousands of randomly mutated files. The fast path must
//! also actually read what canopy writes, or it would be a slower no-op.

use std::path::{Path, PathBuf};

use canopy::generate::{self, Rng};
use canopy::manifest::parse::{Reader, parse_file_with, read_by_subset, split_documents};
use canopy::manifest::to_yaml;
use canopy::testing::repo::{self, Layout};

fn yaml_files(directory: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, found);
        } else if path
            .extension()
            .is_some_and(|extension| extension == "yaml" || extension == "yml")
        {
            found.push(path);
        }
    }
}

fn corpus() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    yaml_files(&root.join("examples"), &mut paths);
    yaml_files(&root.join("tests/bad_inputs"), &mut paths);
    yaml_files(&root.join("crds"), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let bytes = std::fs::read(&path).ok()?;
            Some((path, String::from_utf8(bytes).ok()?))
        })
        .collect()
}

#[track_caller]
fn same_reading(text: &str, what: &str) {
    let reference = parse_file_with(text, Reader::SerdeYaml);
    let fast = parse_file_with(text, Reader::SubsetFirst);
    assert_eq!(fast, reference, "the readers differ on {what}:\n{text}");
}

#[test]
fn every_example_and_bad_input_reads_the_same() {
    let files = corpus();
    assert!(files.len() > 60, "only {} files found", files.len());
    let mut documents = 0;
    let mut subset = 0;
    for (path, text) in &files {
        same_reading(text, &path.display().to_string());
        for chunk in split_documents(text) {
            documents += 1;
            subset += usize::from(read_by_subset(chunk.text));
        }
    }
    // The hand-written examples use flow mappings, quoted scalars and comments: most
    // of their documents are in the subset.
    assert!(
        subset * 2 > documents,
        "the subset read {subset} of {documents} documents"
    );
}

/// Generated repositories in every layout, each document one flow-style line in
/// `Layout::Flow`.
#[test]
fn generated_layouts_read_the_same_and_wholly_by_the_subset() {
    for (seed, layout) in [
        (4, Layout::Flow),
        (5, Layout::PerNode),
        (6, Layout::Chunks(250)),
    ] {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let hierarchy = generate::hierarchy(600, seed);
        repo::write_with(&hierarchy, directory.path(), layout).expect("write the repository");
        let mut paths = Vec::new();
        yaml_files(directory.path(), &mut paths);
        for path in paths {
            let text = std::fs::read_to_string(&path).expect("read");
            same_reading(&text, &path.display().to_string());
            for chunk in split_documents(&text) {
                assert!(
                    read_by_subset(chunk.text),
                    "the subset left a document of {layout:?}:\n{}",
                    chunk.text
                );
            }
        }
    }
}

#[test]
fn generated_repositories_read_the_same_and_wholly_by_the_subset() {
    for seed in 1..=3 {
        let hierarchy = generate::hierarchy(600, seed);
        let text = to_yaml(&hierarchy);
        same_reading(&text, &format!("the generated hierarchy of seed {seed}"));
        for chunk in split_documents(&text) {
            assert!(
                read_by_subset(chunk.text),
                "the subset left a generated document:\n{}",
                chunk.text
            );
        }
    }
}

/// A spec with `count` services (more than the subset compares one by one), the last
/// one repeating the first when `repeat`.
fn many_services(count: usize, repeat: bool) -> String {
    let mut spec =
        "spec:\n  type: customer\n  displayName: A\n  parent: p\n  services:\n".to_string();
    for index in 0..count {
        let name = if repeat && index + 1 == count {
            0
        } else {
            index
        };
        spec.push_str(&format!("    s{name}: true\n"));
    }
    spec
}

const ACCOUNT_HEAD: &str = "apiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata:\n  name: a\n";

/// Documents at the subset's edges: each reads the same either way, and the ones in
/// the subset are read by it.
#[test]
fn documents_at_the_edges_read_the_same() {
    let specs: &[(&str, bool)] = &[
        ("spec: {type: customer, displayName: A, parent: p}\n", true),
        (
            "spec:\n  type: customer\n  displayName: 'it''s'\n  parent: p\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: \"say \\\"hi\\\"\"\n  parent: p\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: \"tab\\there\"\n  parent: p\n",
            false,
        ),
        (
            "spec:\n  type: customer  # a comment\n  displayName: A#B\n  parent: p\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n    continued\n  parent: p\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: A: B\n  parent: p\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: 123\n  parent: p\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: 1.5\n  parent: p\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: true\n  parent: p\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: ~\n  parent: p\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\n  active: True\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\n  active: yes\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\n  settings: {a: 1, b: -2, c: x, d: 1.5, e: 0x10, f: 007, g: .inf, h: ~, i: \"\"}\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\n  settings: {a: 1, b: -2, c: x y, d: true, e: null, f: 'q'}\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\n  settings:\n    nested: {list: [1, two, 'three'], empty: [], none: {}}\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\n  services:\n    a: true\n    a: false\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\n  users:\n  - email: a@x.example\n    name: A\n    role: admin\n  - {email: b@x.example, name: B}\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\n  users:\n    -\n      email: a@x.example\n      name: A\n      role: admin\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\n  users:\n    - email: a@x.example\n      name: A\n        role: admin\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: &anchor A\n  parent: p\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: |\n    A\n  parent: p\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: !!str A\n  parent: p\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: [A\n  parent: p\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: {a: b}x\n  parent: p\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: 'A'x\n  parent: p\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\n  dispalyName: B\n",
            false,
        ),
        (
            "spec:\n  type: custom\n  displayName: A\n  parent: p\n",
            false,
        ),
        ("spec:\n\ttype: customer\n", false),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\nstatus: {x: 1}\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\nextra: 1\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: Café Ünïcödé 日本\n  parent: p\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: \"a\u{85}b\"\n  parent: p\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\n  users: []\n  locked: [a, b]\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: - A\n  parent: p\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: -A\n  parent: p\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName:\n  parent: p\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\n  address: {city: \"New York, NY\", country: US}\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\n  address: {city: New York, NY, country: US}\n",
            false,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\n  contact: {email: a@b.example, phone: +1 555 0100}\n",
            true,
        ),
        (
            "spec:\n  type: customer\n  displayName: A\n  parent: p\n  contact: {email: http://x}\n",
            false,
        ),
    ];
    let long = [
        (many_services(40, false), true),
        (many_services(40, true), false),
    ];
    let long = long
        .iter()
        .map(|(spec, in_subset)| (spec.as_str(), *in_subset));
    for (spec, in_subset) in specs.iter().copied().chain(long) {
        let text = format!("{ACCOUNT_HEAD}{spec}");
        same_reading(&text, "an edge case");
        let chunk = &split_documents(&text)[0];
        assert_eq!(
            read_by_subset(chunk.text),
            in_subset,
            "whether the subset reads this document:\n{text}"
        );
    }
}

/// Random edits of the example files with YAML's significant characters: whatever
/// the subset reads must be what serde_yaml reads. `CANOPY_FUZZ_CASES` runs more.
#[test]
fn randomly_mutated_files_read_the_same() {
    let files: Vec<String> = corpus().into_iter().map(|(_, text)| text).collect();
    mutations_read_the_same(&files, fuzz_cases(3000), 0x5eed_ab1e);
}

/// The same for documents written on one flow-style line each.
#[test]
fn randomly_mutated_flow_documents_read_the_same() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let hierarchy = generate::hierarchy(300, 7);
    repo::write_with(&hierarchy, directory.path(), Layout::Flow).expect("write the repository");
    let mut paths = Vec::new();
    yaml_files(directory.path(), &mut paths);
    // Three documents per case: a whole file is a partner's subtree.
    let mut files = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        for documents in lines.chunks(6) {
            files.push(documents.join("\n") + "\n");
        }
    }
    mutations_read_the_same(&files, fuzz_cases(3000), 0xf10e);
}

fn fuzz_cases(default: usize) -> usize {
    std::env::var("CANOPY_FUZZ_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

fn mutations_read_the_same(files: &[String], cases: usize, seed: u64) {
    const PIECES: &[&str] = &[
        " ", "  ", ":", ": ", "-", "- ", "#", " #", "\"", "'", "''", "{", "}", "[", "]", ",", "\n",
        "\n  ", "\n- ", "x", "1", "-1", "0x1", "1.5", "~", "null", "true", "yes", "&a ", "*a",
        "!t ", "|", ">", "\\", "\\\"", "\t", "\r", "é", "\u{2028}", "---\n", "...\n", "%", "?",
        "@", "`", "<<: ",
    ];
    let mut rng = Rng::new(seed);
    let mut read = 0;
    for case in 0..cases {
        let original = &files[rng.below(files.len())];
        let mut text = original.clone();
        for _ in 0..=rng.below(3) {
            let mut at = rng.below(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let piece = *rng.pick::<&str>(PIECES);
            match rng.below(3) {
                0 => text.insert_str(at, piece),
                1 => {
                    let mut end = (at + 1 + rng.below(8)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(at..end, "");
                }
                _ => {
                    let mut end = (at + 1 + rng.below(8)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(at..end, piece);
                }
            }
        }
        same_reading(&text, &format!("mutation case {case}"));
        read += split_documents(&text)
            .iter()
            .filter(|chunk| read_by_subset(chunk.text))
            .count();
    }
    assert!(read > cases, "the subset read only {read} documents");
}
