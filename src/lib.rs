//! canopy keeps account hierarchies in a SQL database equal to what YAML manifests or
//! Kubernetes custom resources declare.
//!
//! ```text
//! manifest ──> model::Hierarchy (desired) ─┐
//!                                          ├─> plan::diff ─> plan::render / store apply
//! store    ──> model::Hierarchy (live)   ──┘
//! ```
//!
//! - [`manifest`]: the resource types, loading files and validation.
//! - [`model`]: the normalized hierarchy, nesting rules, inheritance.
//! - [`plan`]: the pure diff and its renderings.
//! - [`reconcile`]: the one pass (snapshot → load → diff → gate → apply) every caller shares.
//! - [`store`]: the live database behind one trait (SQLite, PostgreSQL).
//! - [`controller`]: custom resources to desired state per namespace, status back.
//! - [`daemon`]: `canopy run --watch DIR`, the reconcile loop with its HTTP endpoints.
//! - [`cli`]: the command line.
//! - `testing`, `generate`: a throwaway PostgreSQL, generated hierarchies and
//!   repositories, for tests and `canopy-bench` (cargo feature `testing`, on in every
//!   test and bench build; hidden from the docs).

pub mod cli;
pub mod controller;
pub mod daemon;
#[cfg(feature = "testing")]
pub mod generate;
pub mod manifest;
pub mod model;
pub mod plan;
pub mod reconcile;
pub mod store;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing;
