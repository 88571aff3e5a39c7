//! The Kubernetes side of canopy: custom resources in, status out.
//!
//! ```text
//! AccountScope ── scope::ScopeIndex ── namespace → Binding (source kubernetes/<ns>, root)
//! Account/AccountGroup/ServicePlan ── desired::by_namespace ── desired::desired
//!        └─> Desired per namespace ──> the reconcile pass (the one engine) ──> Outcome
//! Outcome + live snapshot ── status::*_status ──> status patches (only on change)
//! ```
//!
//! [`scope`], [`desired`] and [`status`] are pure: they compute values from the
//! objects a reflector holds and from what the reconcile pass reported, and are tested
//! without an API server.

pub mod desired;
pub mod scope;
pub mod status;
pub mod sync;
