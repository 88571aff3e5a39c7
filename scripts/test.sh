#!/usr/bin/env bash
# Runs every test: unit, integration (the real binary), both store backends.
# Installs what the tests need on a fresh machine (PostgreSQL server binaries,
# cargo-nextest, helm, actionlint, the mermaid parser) before running them.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_bin=${CANOPY_PG_BIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$pg_bin/postgres" ]; then
  echo "installing PostgreSQL server binaries (apt-get install postgresql)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
export CANOPY_PG_BIN="$pg_bin"
# The chart tests (tests/chart.rs) run helm lint and helm template.
CANOPY_HELM=${CANOPY_HELM:-$(bash scripts/install-helm.sh)}
export CANOPY_HELM
# The CI examples test (tests/ci_examples.rs) runs actionlint on the GitHub workflow;
# tests/mermaid_parse.rs parses every diagram with the mermaid package.
CANOPY_ACTIONLINT=${CANOPY_ACTIONLINT:-$(bash scripts/install-actionlint.sh)}
CANOPY_MERMAID=${CANOPY_MERMAID:-$(bash scripts/install-mermaid.sh)}
export CANOPY_ACTIONLINT CANOPY_MERMAID
# Benches (harness = false) are not tests: nextest would run them to list them.
cargo nextest run --lib --bins --tests --no-fail-fast "$@"
