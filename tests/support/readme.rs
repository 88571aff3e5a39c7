//! Following a README literally: its ```` ```sh ```` blocks, run one after the other by
//! `bash -euo pipefail` in a fresh directory holding a copy of the example, with the
//! `canopy` under test first on `PATH` and canopy's environment variables removed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The ```` ```sh ```` blocks of a Markdown text, in order, without their fences.
pub fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None if line.trim_end() == "```sh" => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    blocks
}

/// Copies a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create directory");
    for entry in std::fs::read_dir(from).expect("read directory") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}

/// One README followed in a fresh directory (kept until dropped).
pub struct ReadmeRun {
    pub directory: tempfile::TempDir,
    /// Standard output of each `sh` block.
    pub outputs: Vec<String>,
}

impl ReadmeRun {
    pub fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|_| panic!("{name} written"))
    }

    /// Every output, joined.
    pub fn all_output(&self) -> String {
        self.outputs.concat()
    }
}

/// Runs every `sh` block of `examples/NAME/README.md`, each of which must succeed.
pub fn follow(example: &str) -> ReadmeRun {
    let readme = std::fs::read_to_string(format!("examples/{example}/README.md"))
        .expect("the example's README");
    let directory = tempfile::tempdir().expect("temporary directory");
    copy_tree(
        Path::new("examples").join(example).as_path(),
        &directory.path().join("examples").join(example),
    );
    let mut outputs = Vec::new();
    for block in sh_blocks(&readme) {
        let output = shell(directory.path())
            .args(["-euo", "pipefail", "-c", &block])
            .output()
            .expect("run bash");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "examples/{example}/README.md: this block failed ({}):\n{block}\nstdout:\n{stdout}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        outputs.push(stdout);
    }
    assert!(
        !outputs.is_empty(),
        "examples/{example}/README.md has sh blocks"
    );
    ReadmeRun { directory, outputs }
}

/// `bash` in `directory`, the canopy under test first on `PATH`.
fn shell(directory: &Path) -> Command {
    let binary = assert_cmd::cargo::cargo_bin("canopy");
    let bin_dir = binary.parent().expect("the binary's directory");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin_dir.to_path_buf()];
    paths.extend(std::env::split_paths(&path));
    let mut command = Command::new("bash");
    command
        .current_dir(directory)
        .env("PATH", std::env::join_paths(paths).expect("a PATH"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CANOPY_") {
            command.env_remove(name);
        }
    }
    command
}
