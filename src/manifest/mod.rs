//! Manifests: the resource types, loading files, and validation (being built, issue 2).
