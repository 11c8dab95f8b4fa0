#!/usr/bin/env bash
# Runs each fuzz target for a fixed time (docs/testing.md, "Fuzzing").
#
#   fuzz/run.sh [SECONDS]            every target, SECONDS each (default 60)
#   TARGETS="token transcode" fuzz/run.sh 600
#
# Needs a nightly toolchain (libFuzzer's instrumentation and AddressSanitizer)
# and cargo-fuzz, which is installed if missing. Inputs the fuzzer finds go to
# a scratch directory; the committed seeds in corpus/ are only read. A crash
# stops the run and leaves its input in fuzz/artifacts/<target>/: copy it to
# fuzz/regressions/<target>/, where every `cargo test` replays it, and fix.
set -euo pipefail
cd "$(dirname "$0")"

SECONDS_EACH=${1:-60}
TOOLCHAIN=${FUZZ_TOOLCHAIN:-nightly}
if ! cargo "+$TOOLCHAIN" --version >/dev/null 2>&1; then
    echo "fuzz: no $TOOLCHAIN toolchain (rustup toolchain install $TOOLCHAIN)" >&2
    exit 2
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --version 0.13.2

# FUZZ_TARGET_DIR keeps the instrumented build outside the checkout (CI
# points it at a cache: a first build takes about 13 minutes on 2 cores).
target_dir=()
[[ -n ${FUZZ_TARGET_DIR:-} ]] && target_dir=(--target-dir "$FUZZ_TARGET_DIR")
targets=${TARGETS:-$(cargo "+$TOOLCHAIN" fuzz list)}
cargo "+$TOOLCHAIN" fuzz build "${target_dir[@]}"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in $targets; do
    echo "== fuzz $target for ${SECONDS_EACH}s"
    mkdir -p "$scratch/$target"
    cargo "+$TOOLCHAIN" fuzz run "${target_dir[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
        2>&1 | grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)|ERROR|panicked|SUMMARY|Test unit written' || true
    if compgen -G "artifacts/$target/*" >/dev/null; then
        echo "fuzz: $target failed; inputs in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
