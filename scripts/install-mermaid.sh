#!/usr/bin/env bash
# Installs the Mermaid parser the tests use (npm packages mermaid and jsdom, pinned)
# into target/tools/mermaid and prints the path of its checker script (run it as
# `node PATH FILE...`). Cached: a second run only prints the path.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=target/tools/mermaid
if [ ! -f "$tools/node_modules/mermaid/package.json" ] || [ ! -f "$tools/node_modules/jsdom/package.json" ]; then
  mkdir -p "$tools"
  (cd "$tools" && npm install --silent --no-audit --no-fund --no-save mermaid@11.17.2 jsdom@29.1.1 >/dev/null)
fi
cp scripts/mermaid-check.mjs "$tools/check.mjs"
echo "$PWD/$tools/check.mjs"
