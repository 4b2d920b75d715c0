#!/usr/bin/env bash
# A short, bounded run of every fuzz target (fuzz/fuzz_targets/*.rs; see docs/fuzzing.md).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  per target (default 15); TARGETs default to all of them.
#
# Needs a nightly toolchain (installed with rustup if missing) and cargo-fuzz (installed with
# `cargo install cargo-fuzz --locked` if missing). Each target runs from its corpus (fuzz/corpus/<target>/:
# the committed seed-* files plus whatever earlier runs found, which git ignores). A crash, an out-of-memory
# or a timeout fails the run: the input is copied to fuzz/regressions/<target>/, where
# crates/proto/tests/fuzz_regressions.rs replays it on stable Rust from then on, and this script exits 1
# after trying the remaining targets. Environment: FUZZ_TIMEOUT (seconds one input may take, default 10),
# FUZZ_RSS_LIMIT_MB (default 2048), CARGO_TARGET_DIR is ignored (the fuzz build lives in fuzz/target).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }
die() { echo "scripts/fuzz.sh: $*" >&2; exit 2; }

seconds=${1:-15}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive whole number, not '$seconds' (usage: scripts/fuzz.sh [SECONDS] [TARGET...])"
shift $(( $# > 0 ? 1 : 0 ))

all_targets=()
for file in fuzz/fuzz_targets/*.rs; do
    all_targets+=("$(basename "$file" .rs)")
done
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=("${all_targets[@]}")
fi
for target in "${targets[@]}"; do
    [ -f "fuzz/fuzz_targets/$target.rs" ] || die "no fuzz target '$target' (targets: ${all_targets[*]})"
done

command -v cargo >/dev/null 2>&1 || die "cargo is not installed; install Rust (https://rustup.rs) first"
if ! cargo +nightly --version >/dev/null 2>&1; then
    command -v rustup >/dev/null 2>&1 || die "cargo-fuzz needs a nightly toolchain, and rustup is not there to install one"
    say "installing a nightly toolchain (rustup toolchain install nightly --profile minimal)"
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked
fi

# The fuzz project is not a member of the workspace; a CARGO_TARGET_DIR meant for stable builds would mix its
# sanitizer builds with them (and cargo-fuzz looks for the binaries under fuzz/target anyway).
unset CARGO_TARGET_DIR

say "cargo +nightly fuzz build (address sanitizer, optimised, debug assertions on)"
if [ ${#targets[@]} -eq 1 ]; then
    cargo +nightly fuzz build "${targets[0]}"
else
    cargo +nightly fuzz build
fi

failed=()
for target in "${targets[@]}"; do
    say "fuzzing $target for ${seconds}s"
    artifacts="fuzz/artifacts/$target"
    mkdir -p "$artifacts" "fuzz/corpus/$target"
    marker=$(mktemp)
    status=0
    cargo +nightly fuzz run "$target" -- \
        -max_total_time="$seconds" \
        -timeout="${FUZZ_TIMEOUT:-10}" \
        -rss_limit_mb="${FUZZ_RSS_LIMIT_MB:-2048}" \
        -print_final_stats=1 || status=$?
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        found=0
        while IFS= read -r -d '' input; do
            mkdir -p "fuzz/regressions/$target"
            cp "$input" "fuzz/regressions/$target/"
            found=1
            echo "scripts/fuzz.sh: $target: kept $input as fuzz/regressions/$target/$(basename "$input")" >&2
            echo "scripts/fuzz.sh:   reproduce: cargo +nightly fuzz run $target fuzz/regressions/$target/$(basename "$input")" >&2
            echo "scripts/fuzz.sh:   on stable: cargo test -p orrery-proto --test fuzz_regressions" >&2
        done < <(find "$artifacts" -type f -newer "$marker" -print0)
        if [ "$found" = 0 ]; then
            echo "scripts/fuzz.sh: $target failed (exit $status) without leaving an input in $artifacts (see above)" >&2
        fi
    fi
    rm -f "$marker"
done

if [ ${#failed[@]} -gt 0 ]; then
    echo >&2
    echo "scripts/fuzz.sh: FAILED: ${failed[*]}; the inputs are under fuzz/regressions/ (keep them: fix the bug, then commit them)" >&2
    exit 1
fi
say "fuzzing passed: ${targets[*]}, ${seconds}s each"
