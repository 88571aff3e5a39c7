#!/usr/bin/env bash
# Regenerates the committed artefacts from the Rust types: the CRDs under crds/ and the
# chart's copy. Tests fail when the committed copies differ from what this writes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet -- crds > crds/canopy.dev_crds.yaml
cp crds/canopy.dev_crds.yaml charts/canopy/crds/canopy.dev_crds.yaml
