//! A working directory for running the real `canopy` binary: a copy of
//! `examples/realistic` as `manifests/`, and either the README's default database
//! (`canopy.db` in the directory, [`Workspace::default_database`]) or a fresh
//! [`TestDb`] on either backend ([`Workspace::new`]).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

use super::{Backend, TestDb};

pub struct Workspace {
    /// `None`: the default `sqlite://canopy.db` in the working directory.
    pub db: Option<TestDb>,
    pub directory: tempfile::TempDir,
}

impl Workspace {
    /// A workspace whose database is a fresh one on `backend`.
    pub fn new(backend: Backend) -> Workspace {
        Workspace {
            db: Some(TestDb::new(backend)),
            ..Workspace::default_database()
        }
    }

    /// A workspace using canopy's default database, `canopy.db` in the directory.
    pub fn default_database() -> Workspace {
        let directory = tempfile::tempdir().expect("temporary directory");
        copy_dir(
            Path::new("examples/realistic"),
            &directory.path().join("manifests"),
        );
        Workspace {
            db: None,
            directory,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    pub fn manifests(&self) -> PathBuf {
        self.path("manifests")
    }

    /// The default database file (used when the workspace has no [`TestDb`]).
    pub fn database(&self) -> PathBuf {
        self.path("canopy.db")
    }

    /// The database URL canopy is given.
    pub fn url(&self) -> String {
        match &self.db {
            Some(db) => db.url.clone(),
            None => format!("sqlite://{}", self.database().display()),
        }
    }

    /// The test database (a workspace made with [`Workspace::new`]).
    pub fn test_db(&self) -> &TestDb {
        self.db.as_ref().expect("a workspace with a test database")
    }

    /// The binary, run in the workspace with a clean environment.
    pub fn canopy(&self, args: &[&str]) -> Command {
        let mut command = Command::cargo_bin("canopy").expect("the canopy binary");
        command
            .current_dir(self.directory.path())
            .env_remove("CANOPY_SOURCE")
            .env_remove("CANOPY_LOG")
            .env_remove("CANOPY_REVISION")
            .env_remove("NO_COLOR")
            .args(args);
        match &self.db {
            Some(db) => command.env("CANOPY_DATABASE_URL", &db.url),
            None => command.env_remove("CANOPY_DATABASE_URL"),
        };
        command
    }

    /// Runs canopy and returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let output = self.canopy(args).output().expect("run canopy");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// `canopy apply manifests --yes`, which must succeed.
    pub fn apply(&self) {
        self.canopy(&["apply", "manifests", "--yes"])
            .assert()
            .success();
    }

    /// `canopy get -o json`, parsed.
    pub fn get(&self) -> Vec<Value> {
        let (code, stdout, stderr) = self.run(&["get", "-o", "json"]);
        assert_eq!(code, 0, "get failed: {stderr}");
        serde_json::from_str(&stdout).expect("get JSON")
    }

    /// One live object of `get -o json`.
    pub fn object(&self, name: &str) -> Value {
        self.get()
            .into_iter()
            .find(|object| object["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not live"))
    }

    /// Replaces `from` by `to` in a manifest file (exactly once).
    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.manifests().join(file);
        let text = std::fs::read_to_string(&path).expect("read manifest");
        assert_eq!(
            text.matches(from).count(),
            1,
            "{from:?} must occur once in {file}"
        );
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write manifest");
    }

    /// Writes a file in the workspace (directories created as needed).
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create directory");
        }
        std::fs::write(&path, text).expect("write file");
        path
    }
}

/// Copies the files of a directory (not recursive: examples are flat).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create directory");
    for entry in std::fs::read_dir(from).expect("read directory") {
        let entry = entry.expect("directory entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy file");
    }
}
