#!/usr/bin/env bash
# Builds Berth and the sample plugins (staged into apps/), then serves apps/ with
# conf/server.xml. Extra arguments go to `berth run`, e.g. scripts/run.sh --listen 127.0.0.1:9000
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/stage-apps.sh --release
cargo build --release -p berth
exec target/release/berth run --conf conf/server.xml "$@"
