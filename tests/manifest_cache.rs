//! The parse cache: a file is parsed once per content, yet every changed byte (of a
//! manifest or of a `usersFrom` CSV file) is seen, damaged entries are ignored, and a
//! load gives the same result, diagnostics included, with the cache cold, warm or off.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use canopy::manifest::{self, LoadError, Loaded, ParseCache};
use rstest::rstest;
use tempfile::TempDir;

/// Over a kilobyte (the comment), so that the parse cache stores it: smaller
/// manifests are parsed afresh every time.
const ACME: &str = "# A kilobyte of comment, so that the parse cache stores this file: smaller manifests are parsed afresh.\n# ----------------------------------------------------------------------------\n# ----------------------------------------------------------------------------\n# ----------------------------------------------------------------------------\n# ----------------------------------------------------------------------------\n# ----------------------------------------------------------------------------\n# ----------------------------------------------------------------------------\n# ----------------------------------------------------------------------------\n# ----------------------------------------------------------------------------\n# ----------------------------------------------------------------------------\n# ----------------------------------------------------------------------------\n# ----------------------------------------------------------------------------\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {name: partner-nordic}\nspec: {type: partner, settings: {retention: 30, ratio: 0.5}}\n---\napiVersion: canopy.dev/v1alpha1\nkind: Account\nmetadata: {name: acme}\nspec:\n  type: customer\n  parent: partner-nordic\n  displayName: ACME\n  users:\n    - {email: anna@acme.example, name: Anna, role: admin}\n  usersFrom: users.csv\n";

/// Quoted, so that it is cached (a plain CSV file is always split afresh).
const CSV: &str =
    "email,name,role,language,timezone\n\"bo@acme.example\",Bo,user,sv,Europe/Stockholm\n";

fn manifests(files: &[(&str, &str)]) -> TempDir {
    let directory = TempDir::new().expect("a temporary directory");
    for (name, content) in files {
        std::fs::write(directory.path().join(name), content).expect("write a test file");
    }
    directory
}

fn load(directory: &Path, cache: &ParseCache) -> Result<Loaded, LoadError> {
    manifest::load_with_cache(&[directory.display().to_string()], None, cache)
}

/// The cache entries, sorted (temporary files start with a dot and are not entries).
fn entries(cache: &Path) -> Vec<PathBuf> {
    let Ok(listing) = std::fs::read_dir(cache.join("parsed")) else {
        return Vec::new();
    };
    let mut entries: Vec<PathBuf> = listing
        .map(|entry| entry.expect("a cache entry").path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| !name.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    entries
}

fn display_name(loaded: &Loaded, name: &str) -> String {
    loaded
        .hierarchy
        .node(name)
        .expect("the node is declared")
        .spec
        .display_name
        .to_string()
}

#[test]
fn a_changed_byte_is_seen_with_a_warm_cache() {
    let directory = manifests(&[("acme.yaml", ACME), ("users.csv", CSV)]);
    let cache_directory = TempDir::new().expect("a cache directory");
    let cache = ParseCache::in_directory(cache_directory.path());
    let first = load(directory.path(), &cache).expect("valid manifests");
    assert_eq!(display_name(&first, "acme"), "ACME");
    assert_eq!(
        entries(cache_directory.path()).len(),
        2,
        "the manifest and the CSV file"
    );

    let changed = ACME.replace("displayName: ACME", "displayName: ACMF");
    std::fs::write(directory.path().join("acme.yaml"), changed).expect("edit the manifest");
    let second = load(directory.path(), &cache).expect("valid manifests");
    assert_eq!(display_name(&second, "acme"), "ACMF");
    assert_eq!(entries(cache_directory.path()).len(), 3);
}

#[test]
fn a_changed_csv_file_is_seen_with_a_warm_cache() {
    let directory = manifests(&[("acme.yaml", ACME), ("users.csv", CSV)]);
    let cache_directory = TempDir::new().expect("a cache directory");
    let cache = ParseCache::in_directory(cache_directory.path());
    let emails = |loaded: &Loaded| -> Vec<String> {
        let acme = loaded.hierarchy.node("acme").expect("acme is declared");
        acme.spec
            .users
            .iter()
            .map(|u| u.email.to_string())
            .collect()
    };
    let first = load(directory.path(), &cache).expect("valid manifests");
    assert_eq!(emails(&first), ["anna@acme.example", "bo@acme.example"]);

    let csv = CSV.replace("bo@acme.example", "cy@acme.example");
    std::fs::write(directory.path().join("users.csv"), csv).expect("edit the CSV file");
    let second = load(directory.path(), &cache).expect("valid manifests");
    assert_eq!(emails(&second), ["anna@acme.example", "cy@acme.example"]);
}

#[rstest]
#[case::truncated(|bytes: &mut Vec<u8>| bytes.truncate(bytes.len() / 2))]
#[case::empty(|bytes: &mut Vec<u8>| bytes.clear())]
#[case::flipped_payload_byte(|bytes: &mut Vec<u8>| {
    let last = bytes.len() - 1;
    bytes[last] ^= 0x20;
})]
#[case::other_format(|bytes: &mut Vec<u8>| bytes[8] = bytes[8].wrapping_add(1))]
#[case::garbage(|bytes: &mut Vec<u8>| *bytes = b"not a cache entry at all".repeat(8))]
fn a_damaged_cache_entry_is_ignored_and_rewritten(#[case] damage: fn(&mut Vec<u8>)) {
    let directory = manifests(&[("acme.yaml", ACME), ("users.csv", CSV)]);
    let cache_directory = TempDir::new().expect("a cache directory");
    let cache = ParseCache::in_directory(cache_directory.path());
    let first = load(directory.path(), &cache);
    let stored = entries(cache_directory.path());
    assert_eq!(
        stored.len(),
        2,
        "one entry for the manifest, one for the CSV file"
    );
    let mut intact = Vec::new();
    for entry in &stored {
        let bytes = std::fs::read(entry).expect("read the entry");
        let mut damaged = bytes.clone();
        damage(&mut damaged);
        std::fs::write(entry, &damaged).expect("damage the entry");
        intact.push(bytes);
    }

    let second = load(directory.path(), &cache);
    assert_eq!(second, first);
    for (entry, intact) in stored.iter().zip(intact) {
        assert_eq!(
            std::fs::read(entry).expect("read the entry"),
            intact,
            "the damaged entry is replaced by a good one"
        );
    }
}

/// Every committed example, valid or not: the result (hierarchy, or every diagnostic
/// with its file:line:column) is the same without a cache, cold and warm.
#[rstest]
fn the_cache_never_changes_a_result(
    #[files("examples/realistic")]
    #[files("examples/warnings")]
    #[files("examples/invalid/*")]
    #[dirs]
    input: PathBuf,
) {
    let inputs = [input.display().to_string()];
    let cache_directory = TempDir::new().expect("a cache directory");
    let cache = ParseCache::in_directory(cache_directory.path());
    let without = manifest::load_with_cache(&inputs, None, &ParseCache::disabled());
    let cold = manifest::load_with_cache(&inputs, None, &cache);
    let warm = manifest::load_with_cache(&inputs, None, &cache);
    assert_eq!(cold, without);
    assert_eq!(warm, without);
}

#[test]
fn the_realistic_example_is_served_from_the_cache() {
    let inputs = ["examples/realistic".to_string()];
    let cache_directory = TempDir::new().expect("a cache directory");
    let cache = ParseCache::in_directory(cache_directory.path());
    manifest::load_with_cache(&inputs, None, &cache).expect("the example is valid");
    let written = entries(cache_directory.path());
    assert_eq!(
        written.len(),
        3,
        "one entry per manifest file over a kilobyte (two of five) and per CSV file with \
         quotes (one of two)"
    );
    let modified = |path: &PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let before: Vec<_> = written.iter().map(modified).collect();
    manifest::load_with_cache(&inputs, None, &cache).expect("the example is valid");
    let after: Vec<_> = entries(cache_directory.path())
        .iter()
        .map(modified)
        .collect();
    assert_eq!(after, before, "a warm load writes nothing");
}

#[test]
fn files_with_errors_are_not_cached() {
    let broken = ACME.replace("type: customer", "type: planet");
    let directory = manifests(&[("acme.yaml", &broken), ("users.csv", CSV)]);
    let cache_directory = TempDir::new().expect("a cache directory");
    let cache = ParseCache::in_directory(cache_directory.path());
    assert!(load(directory.path(), &cache).is_err());
    assert!(entries(cache_directory.path()).is_empty());
}

#[test]
fn an_unwritable_cache_directory_is_not_an_error() {
    let directory = manifests(&[("acme.yaml", ACME), ("users.csv", CSV)]);
    // A directory below a regular file cannot be created, whoever runs the test.
    let blocker = TempDir::new().expect("a temporary directory");
    let file = blocker.path().join("a-file");
    std::fs::write(&file, "").expect("write a file");
    let cache = ParseCache::in_directory(file.join("cache"));
    let loaded = load(directory.path(), &cache);
    assert_eq!(loaded, load(directory.path(), &ParseCache::disabled()));
    assert!(loaded.is_ok());
}

#[test]
fn concurrent_loads_share_one_cache() {
    let directory = manifests(&[("acme.yaml", ACME), ("users.csv", CSV)]);
    let cache_directory = TempDir::new().expect("a cache directory");
    let expected = load(directory.path(), &ParseCache::disabled());
    std::thread::scope(|scope| {
        let loads: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let cache = ParseCache::in_directory(cache_directory.path());
                    (0..5)
                        .map(|_| load(directory.path(), &cache))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in loads {
            for loaded in handle.join().expect("a loading thread") {
                assert_eq!(loaded, expected);
            }
        }
    });
    assert_eq!(
        entries(cache_directory.path()).len(),
        2,
        "one entry each for the manifest and the CSV file, however many loads wrote them"
    );
}

/// Exit code, standard output and standard error of `canopy validate PATHS`.
fn validate(cache: &str, cache_directory: &Path, paths: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::cargo_bin("canopy")
        .expect("the canopy binary is built")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CANOPY_CACHE", cache)
        .env("CANOPY_CACHE_DIR", cache_directory)
        .arg("validate")
        .args(paths)
        .output()
        .expect("canopy runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_binary_reads_the_cache_settings_from_the_environment() {
    let cache_directory = TempDir::new().expect("a cache directory");
    let cache = cache_directory.path();
    let runs: [&[&str]; 2] = [
        &["examples/realistic", "examples/invalid/wrong-type.yaml"],
        &["examples/warnings"],
    ];
    for paths in runs {
        let off = validate("off", cache, paths);
        let cold = validate("on", cache, paths);
        let warm = validate("on", cache, paths);
        assert_eq!(cold, off);
        assert_eq!(warm, off);
    }
    assert_eq!(validate("off", cache, &["examples/realistic"]).0, Some(0));
    // The two realistic files over a kilobyte (smaller ones are parsed afresh) and
    // their CSV file with quotes (the plain one is always split afresh); the file with
    // an error and the small warnings file are not kept.
    assert_eq!(entries(cache).len(), 3);
    let other = TempDir::new().expect("a cache directory");
    validate("off", other.path(), &["examples/realistic"]);
    assert!(
        entries(other.path()).is_empty(),
        "CANOPY_CACHE=off writes nothing"
    );
}
