#!/usr/bin/env bash
# The project's one test command (README, .ci/run): installs what the tests
# need when it is missing, then checks formatting, lints, runs every test of
# the workspace, compiles (never runs) the benchmarks, and fuzzes briefly.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-peers.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --quiet
# mesh-core's `config` feature is off by default; lint and test it explicitly.
cargo clippy -p mesh-core --features config --all-targets --quiet -- -D warnings
cargo test -p mesh-core --features config --quiet
cargo build -p mesh-benches --benches --quiet
scripts/fuzz.sh
