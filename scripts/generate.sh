#!/usr/bin/env bash
# Regenerates the committed artefacts from the Rust types: the CRDs under crds/ and the
# chart's copy. Tests fail when the committed copies differ from what this writes.
set -euo pipefail
cd "$(dirname "$0")/.."
generated=$(mktemp)
trap 'rm -f "$generated"' EXIT
# Written to a temporary file first, so a failed build leaves the committed copies be.
cargo run --quiet --bin canopy -- crds > "$generated"
cp "$generated" crds/canopy.dev_crds.yaml
cp "$generated" charts/canopy/crds/canopy.dev_crds.yaml
