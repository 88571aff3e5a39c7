//! `canopy version`: the program's version and the newest database schema it knows.

use serde_json::json;

use super::{Outcome, ReportFormat};
use crate::store::migrations;

pub fn version(output: ReportFormat) -> anyhow::Result<Outcome> {
    let version = env!("CARGO_PKG_VERSION");
    match output {
        ReportFormat::Text => {
            println!("canopy {version}");
            println!("database schema version {}", migrations::LATEST);
        }
        ReportFormat::Json => println!(
            "{}",
            json!({"version": version, "schemaVersion": migrations::LATEST})
        ),
    }
    Ok(Outcome::Success)
}
