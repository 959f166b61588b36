#!/usr/bin/env bash
# Runs every cargo-fuzz target of the workspace for a short while when the
# nightly toolchain is present (cargo-fuzz needs it), and says so when not.
# Budget: at most 20 s per target and 4 minutes for all targets together.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzz_dirs=()
for manifest in */fuzz/Cargo.toml; do
    [ -e "$manifest" ] && fuzz_dirs+=("$(dirname "$manifest")")
done
if [ "${#fuzz_dirs[@]}" -eq 0 ]; then
    exit 0
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: the nightly toolchain is not installed; fuzz targets not run (their crash inputs still run as regression tests)"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo +nightly install -q --locked cargo-fuzz --version 0.13.2
fi

targets=()
for dir in "${fuzz_dirs[@]}"; do
    for t in $(cd "$dir/.." && cargo +nightly fuzz list); do
        targets+=("$dir:$t")
    done
done
[ "${#targets[@]}" -gt 0 ] || exit 0
per_target=$(( 240 / ${#targets[@]} ))
[ "$per_target" -gt 20 ] && per_target=20
export CARGO_TARGET_DIR="$PWD/target/fuzz"
for entry in "${targets[@]}"; do
    dir=${entry%%:*}
    target=${entry#*:}
    echo "fuzz: $dir $target for ${per_target}s"
    (cd "$dir/.." && cargo +nightly fuzz run -s none "$target" -- \
        -max_total_time="$per_target" -print_final_stats=0 2>&1 | tail -n 3)
done
