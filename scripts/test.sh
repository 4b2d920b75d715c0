#!/usr/bin/env bash
# Runs every check a change must pass: formatting, lints, all tests (unit, property, integration, doc), and a
# short bounded run of every fuzz target (scripts/fuzz.sh).
# Usage: scripts/test.sh        (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

# What this script installs when it is missing, and why (only as root on Debian, through apt-get; elsewhere it
# stops and names what to install):
#   build-essential            the C compiler for the vendored METIS partitioner and SQLite (cc crate)
#   chromium, chromium-driver  the dashboard's browser test drives real headless Chromium through chromedriver
#   npm (with nodejs)          scripts/build-play.sh --check rebuilds the browser pilot client and compares
# and, through scripts/fuzz.sh, a nightly Rust toolchain (rustup) and cargo-fuzz (crates.io) for the fuzzers.
# Each install needs the package registries; without them it fails here with the package's name, not later
# with a confusing build or test error.
die() {
    echo "scripts/test.sh: $*" >&2
    exit 1
}
# install_debian WHY PACKAGE...: install Debian packages as root, or stop saying what is missing and why.
install_debian() {
    local why=$1
    shift
    say "installing $* ($why)"
    if [ "$(id -u)" != 0 ]; then
        die "$* missing ($why); this script installs them only as root. Run as root, or: sudo apt-get install -y $*"
    fi
    command -v apt-get >/dev/null 2>&1 || die "$* missing ($why) and there is no apt-get here; install them by hand"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed (no network or no Debian mirror?); cannot install $* ($why)"
    if ! apt-get install -y -qq "$@" >/dev/null; then
        # An interrupted earlier install can leave dpkg half done ("unmet dependencies"): finish it, try again.
        echo "scripts/test.sh: installing $* failed; repairing dpkg's state and trying once more" >&2
        dpkg --configure -a || true
        apt-get install -y -qq -f >/dev/null || true
        apt-get install -y -qq "$@" >/dev/null || die "could not install $* with apt-get (see above): $why"
    fi
}

command -v cargo >/dev/null 2>&1 || die "cargo is not installed; install Rust (https://rustup.rs) first"
if ! command -v cc >/dev/null 2>&1; then
    install_debian "a C compiler for the vendored METIS and SQLite" build-essential
    command -v cc >/dev/null 2>&1 || die "build-essential was installed, yet cc is not on PATH ($PATH)"
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    install_debian "the dashboard's browser test runs headless Chromium" chromium chromium-driver
    command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 ||
        die "chromium and chromium-driver were installed, yet chromium or chromedriver is not on PATH ($PATH)"
fi

# The real EVE map (systems, stargates, activity) lives outside the repository. The tests that need it find it
# through ORRERY_EVE_DATA (default ../shared/data/eve beside the repository). With the map they all run; without
# it they are left out of this run, by name, and the run says so at the start and at the end. Run on their own
# without the map they fail and say where they looked.
export ORRERY_EVE_DATA=${ORRERY_EVE_DATA:-$(cd .. && pwd)/shared/data/eve}
# nextest's filter for exactly the tests that read the EVE map.
eve_filter='binary(=eve_map) | test(/eve_map/)'
nextest_filter=()
eve_left_out=""
if [ -f "$ORRERY_EVE_DATA/systems.csv" ] && [ -f "$ORRERY_EVE_DATA/jumps.csv" ]; then
    say "EVE map found at $ORRERY_EVE_DATA: the tests that use it run"
else
    nextest_filter=(-E "not ($eve_filter)")
    eve_left_out="the EVE map is not at ORRERY_EVE_DATA=$ORRERY_EVE_DATA (no systems.csv/jumps.csv; see shared/data/eve/README.md), so these tests were NOT run:"
    say "$eve_left_out (listed at the end)"
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# The browser pilot client's committed bundle must be what web/play builds to (and its conformance test pass).
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    install_debian "scripts/build-play.sh builds the browser pilot client" nodejs npm
fi
say "scripts/build-play.sh --check (the browser pilot client's bundle is current)"
scripts/build-play.sh --check

# Real NATS and PostgreSQL servers for the tests that need them (the Bus and Store conformance suites):
# installed if missing, started on free ports, their URLs exported, stopped when this script exits.
say "starting NATS and PostgreSQL (scripts/services.sh)"
source scripts/services.sh
trap orrery_services_stop EXIT
orrery_services_start

if cargo nextest --version >/dev/null 2>&1; then
    say "cargo nextest run"
    cargo nextest run --workspace --no-fail-fast "${nextest_filter[@]}"
    say "doc tests"
    cargo test --workspace --doc
else
    # Without nextest there is no filter: the EVE-map tests run and fail loudly if the map is absent.
    say "cargo test (cargo-nextest not installed)"
    cargo test --workspace --no-fail-fast
fi

# A short bounded run of every fuzz target (docs/fuzzing.md), from the kept corpus and regressions. It installs a
# nightly toolchain and cargo-fuzz when missing (or fails saying why), builds in fuzz/target, and fails if a
# target crashes, naming the input and how to reproduce it. ORRERY_FUZZ_SECONDS: seconds per target.
say "scripts/fuzz.sh ${ORRERY_FUZZ_SECONDS:-20} (every fuzz target, bounded)"
scripts/fuzz.sh "${ORRERY_FUZZ_SECONDS:-20}"

if [ -n "$eve_left_out" ] && cargo nextest --version >/dev/null 2>&1; then
    say "NOT RUN: $eve_left_out"
    cargo nextest list --workspace -E "$eve_filter" --message-format oneline 2>/dev/null | sed 's/^/    /'
    echo "Set ORRERY_EVE_DATA to a copy of the EVE map to run them."
fi
