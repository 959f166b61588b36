#!/usr/bin/env bash
# The project's one test command (README, .ci/run): installs what the tests
# need when it is missing, then checks formatting, lints, runs every test of
# the workspace, compiles (never runs) the benchmarks, and fuzzes briefly.
set -euo pipefail
cd "$(dirname "$0")/.."

# A CI run builds once from scratch: incremental caches would only take disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Say how much disk there is, so a build that runs out of it is diagnosed at once.
df -h . "${TMPDIR:-/tmp}" | sed 's/^/disk: /'

scripts/install-peers.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --quiet
# mesh-core's `config` feature is off by default; lint and test it explicitly.
cargo clippy -p mesh-core --features config --all-targets --quiet -- -D warnings
cargo test -p mesh-core --features config --quiet
cargo build -p mesh-benches --benches --quiet
scripts/fuzz.sh
