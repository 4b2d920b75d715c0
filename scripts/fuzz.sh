#!/usr/bin/env bash
# A short, bounded run of every fuzz target (fuzz/fuzz_targets/*.rs; see docs/fuzzing.md). scripts/test.sh
# runs it as the last step of the test suite.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  per target (default 20); TARGETs default to all of them.
#
# Needs a nightly toolchain (installed with `rustup toolchain install nightly --profile minimal` if missing) and
# cargo-fuzz (installed with `cargo install cargo-fuzz --locked` if missing); when it cannot install them it
# fails (exit 2) and says why: it never skips the fuzzing. All targets are built by one `cargo fuzz build`
# into their own target directory (fuzz/target, or FUZZ_TARGET_DIR), so the workspace's build is untouched.
#
# Each target starts from its corpus (fuzz/corpus/<target>/: the committed seed-* files plus whatever earlier
# runs found, which git ignores) and from the kept crashers in fuzz/regressions/<target>/. A crash, an
# out-of-memory (-rss_limit_mb) or a timeout (-timeout) fails the run: the input is copied to
# fuzz/regressions/<target>/ (where crates/proto/tests/fuzz_regressions.rs replays it on stable Rust from
# then on) and printed in base64 (a CI machine's files are gone after the run), with the commands that
# reproduce it; the script tries the remaining targets, then exits 1.
#
# Environment: FUZZ_TIMEOUT (seconds one input may take, default 10), FUZZ_RSS_LIMIT_MB (default 1024),
# FUZZ_TARGET_DIR (default fuzz/target; CARGO_TARGET_DIR is ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }
die() {
    echo "scripts/fuzz.sh: $*" >&2
    exit 2
}

seconds=${1:-20}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive whole number, not '$seconds' (usage: scripts/fuzz.sh [SECONDS] [TARGET...])"
shift $(($# > 0 ? 1 : 0))
timeout=${FUZZ_TIMEOUT:-10}
rss_limit=${FUZZ_RSS_LIMIT_MB:-1024}
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "FUZZ_TIMEOUT must be a positive whole number of seconds, not '$timeout'"
[[ $rss_limit =~ ^[1-9][0-9]*$ ]] || die "FUZZ_RSS_LIMIT_MB must be a positive whole number, not '$rss_limit'"

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

# --- The tools: a nightly toolchain and cargo-fuzz, installed if missing, or a loud failure. ---
command -v cargo >/dev/null 2>&1 || die "cargo is not installed; install Rust (https://rustup.rs) first"
if ! cargo +nightly --version >/dev/null 2>&1; then
    command -v rustup >/dev/null 2>&1 ||
        die "the fuzz targets need a nightly toolchain (for -Zsanitizer), there is none, and rustup is not there to install one; install rustup (https://rustup.rs), then: rustup toolchain install nightly --profile minimal"
    say "installing a nightly toolchain (rustup toolchain install nightly --profile minimal)"
    rustup toolchain install nightly --profile minimal ||
        die "could not install a nightly toolchain (see above); the fuzz targets cannot be built without one"
    cargo +nightly --version >/dev/null 2>&1 ||
        die "rustup installed a nightly toolchain, yet 'cargo +nightly --version' still fails"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    # --debug: cargo-fuzz only drives cargo and libFuzzer, so an unoptimised build of it is as good, and it
    # compiles in about half the time of a release build.
    say "installing cargo-fuzz (cargo install cargo-fuzz --locked --debug)"
    cargo install cargo-fuzz --locked --debug ||
        die "could not install cargo-fuzz (see above); install it with: cargo install cargo-fuzz --locked"
    cargo fuzz --version >/dev/null 2>&1 ||
        die "cargo-fuzz was installed, yet 'cargo fuzz --version' fails (is ~/.cargo/bin on PATH? PATH=$PATH)"
fi

# --- One build of every target, in the fuzz project's own target directory. ---
# The fuzz project is not a member of the workspace; a CARGO_TARGET_DIR meant for the stable builds would mix
# its sanitizer builds with them and make each rebuild the other's crates.
unset CARGO_TARGET_DIR
target_dir=${FUZZ_TARGET_DIR:-fuzz/target}
# cargo-fuzz's defaults: address sanitizer, optimised, debug assertions and overflow checks on, one codegen
# unit (16 built no faster on 2 cores: docs/fuzzing.md). The same options for build and run, or `cargo fuzz
# run` would rebuild; and the same as a plain `cargo +nightly fuzz run`, which so reuses this build.
build_options=(--target-dir "$target_dir")

say "cargo +nightly fuzz build ${build_options[*]} (every target at once)"
build_start=$SECONDS
cargo +nightly fuzz build "${build_options[@]}"
echo "scripts/fuzz.sh: built in $((SECONDS - build_start)) s"

# --- A bounded run of each target. ---
run_start=$SECONDS
failed=()
for target in "${targets[@]}"; do
    say "fuzzing $target for ${seconds}s (-rss_limit_mb=$rss_limit, -timeout=$timeout)"
    artifacts="fuzz/artifacts/$target"
    corpora=("fuzz/corpus/$target")
    if [ -d "fuzz/regressions/$target" ]; then
        corpora+=("fuzz/regressions/$target") # read only: libFuzzer adds new inputs to the first directory
    fi
    mkdir -p "$artifacts" "fuzz/corpus/$target"
    marker=$(mktemp)
    status=0
    cargo +nightly fuzz run "${build_options[@]}" "$target" "${corpora[@]}" -- \
        -max_total_time="$seconds" \
        -timeout="$timeout" \
        -rss_limit_mb="$rss_limit" \
        -print_final_stats=1 || status=$?
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        found=0
        while IFS= read -r -d '' input; do
            found=1
            name=$(basename "$input")
            kept="fuzz/regressions/$target/$name"
            mkdir -p "fuzz/regressions/$target"
            # An input already kept under another name (a regression that fails again) is not copied twice.
            for old in "fuzz/regressions/$target"/*; do
                if [ -f "$old" ] && cmp -s "$old" "$input"; then
                    kept=$old
                fi
            done
            [ -f "$kept" ] || cp "$input" "$kept"
            {
                echo
                echo "scripts/fuzz.sh: $target FAILED on $input ($(wc -c <"$input") bytes), kept as $kept"
                echo "scripts/fuzz.sh:   reproduce: cargo +nightly fuzz run ${build_options[*]} $target $kept -- -rss_limit_mb=$rss_limit -timeout=$timeout"
                echo "scripts/fuzz.sh:   on stable: cargo test -p orrery-proto --test fuzz_regressions"
                echo "scripts/fuzz.sh:   the input in base64 (to recreate it from a CI log, paste these lines into: base64 -d > $kept):"
                base64 -w 76 "$input" | sed 's/^/    /'
            } >&2
        done < <(find "$artifacts" -type f -newer "$marker" -print0)
        if [ "$found" = 0 ]; then
            echo "scripts/fuzz.sh: $target failed (exit $status) without leaving an input in $artifacts (see above)" >&2
        fi
    fi
    rm -f "$marker"
done
echo "scripts/fuzz.sh: fuzzed for $((SECONDS - run_start)) s"

if [ ${#failed[@]} -gt 0 ]; then
    echo >&2
    echo "scripts/fuzz.sh: FAILED: ${failed[*]}; the inputs are under fuzz/regressions/ (keep them: fix the bug, then commit them; see docs/fuzzing.md)" >&2
    exit 1
fi
say "fuzzing passed: ${targets[*]}, ${seconds}s each"
