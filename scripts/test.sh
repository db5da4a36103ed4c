#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this).
# Installs what the tests need when it is missing, then runs, in named steps:
# fmt, clippy, unit + end-to-end tests, doc tests, real clients (Python, Node, Chromium),
# Autobahn conformance (kosoku, all 517 cases), rustdoc with warnings denied.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "install test dependencies"
scripts/install-test-deps.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (unit, end-to-end, doc)"
cargo test --workspace --locked

step "real clients: python websockets, node ws, headless chromium (scripts/clients.sh)"
scripts/clients.sh

step "autobahn conformance, all 517 cases (scripts/conformance.sh)"
scripts/conformance.sh

step "benchmark smoke run: every scenario once, tiny counts (scripts/bench.sh --smoke)"
scripts/bench.sh --smoke

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

echo
echo "all steps passed"
