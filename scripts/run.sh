#!/usr/bin/env bash
# Builds Berth and starts it with the sample apps (echo, chat, presence) and conf/server.xml.
# Extra arguments go to `berth run`, e.g. scripts/run.sh --listen 127.0.0.1:9000
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p berth
exec target/release/berth run --conf conf/server.xml "$@"
