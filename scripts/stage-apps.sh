#!/usr/bin/env bash
# Builds the sample plugins and stages each library into its context directory under apps/,
# so `berth run` finds it (apps/echo/libecho.so, ...). Usage: scripts/stage-apps.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=debug
args=()
if [ "${1:-}" = "--release" ]; then profile=release; args+=(--release); fi
apps=(echo chat presence auction)
packages=()
for app in "${apps[@]}"; do packages+=(-p "berth-app-$app"); done
cargo build "${args[@]}" "${packages[@]}"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
for app in "${apps[@]}"; do
  cp "$target_dir/$profile/lib$app.so" "apps/$app/lib$app.so"
done
echo "staged: ${apps[*]}"
