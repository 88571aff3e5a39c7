//! Helpers for tests and benchmarks that need more than a unit test's scope: a real,
//! throwaway PostgreSQL server ([`postgres`]), a generated GitOps repository of
//! manifests ([`repo`]) and the raw-SQL baselines canopy is measured against
//! ([`baseline`]). Not part of canopy's interface for users; the integration
//! tests and the `canopy-bench` binary share them so that there is one copy.

pub mod baseline;
pub mod postgres;
pub mod repo;
