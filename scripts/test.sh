#!/usr/bin/env bash
# Runs every check a change must pass: formatting, lints, all tests (unit, property, integration, doc), and a
# short bounded run of every fuzz target (scripts/fuzz.sh).
# Usage: scripts/test.sh        (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
    echo "scripts/test.sh: cargo is not installed; install Rust (https://rustup.rs) first" >&2
    exit 1
fi
# METIS (the reference partitioner, vendored C) builds with a C compiler.
if ! command -v cc >/dev/null 2>&1; then
    say "installing a C compiler for the vendored METIS"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq build-essential >/dev/null
    else
        echo "scripts/test.sh: no C compiler (cc) found; install gcc or clang" >&2
        exit 1
    fi
fi
# The dashboard's browser test (crates/orrery/tests/dashboard.rs) drives Debian's headless Chromium through its
# chromedriver (packages chromium, chromium-driver). It fails rather than skip without them, so install them here.
ensure_browser() {
    if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
        return 0
    fi
    say "installing chromium and chromium-driver for the dashboard's browser test"
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "scripts/test.sh: chromium or chromedriver is missing, and the dashboard's browser test needs both;" >&2
        echo "scripts/test.sh: as root run: apt-get update && apt-get install -y chromium chromium-driver" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }; then
        # An interrupted earlier install can leave dpkg half done ("unmet dependencies"): finish it, try again.
        echo "scripts/test.sh: installing chromium failed; repairing dpkg's state and trying once more" >&2
        dpkg --configure -a || true
        apt-get install -y -qq -f >/dev/null || true
        if ! apt-get install -y -qq chromium chromium-driver >/dev/null; then
            echo "scripts/test.sh: could not install chromium and chromium-driver with apt-get (see above);" >&2
            echo "scripts/test.sh: the dashboard's browser test cannot run without them" >&2
            exit 1
        fi
    fi
    if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
        echo "scripts/test.sh: apt-get installed chromium and chromium-driver, yet chromium or chromedriver is" >&2
        echo "scripts/test.sh: still not on PATH ($PATH); the dashboard's browser test cannot run" >&2
        exit 1
    fi
}
ensure_browser
# Tests that check the premapper on the real EVE map read it from ../shared/data/eve; they fail loudly if it
# is missing rather than skip.
if [ ! -f ../shared/data/eve/systems.csv ]; then
    echo "scripts/test.sh: warning: ../shared/data/eve is missing; the EVE-map tests will fail and say so" >&2
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# Real NATS and PostgreSQL servers for the tests that need them (the Bus and Store conformance suites):
# installed if missing, started on free ports, their URLs exported, stopped when this script exits.
say "starting NATS and PostgreSQL (scripts/services.sh)"
source scripts/services.sh
trap orrery_services_stop EXIT
orrery_services_start

if cargo nextest --version >/dev/null 2>&1; then
    say "cargo nextest run"
    cargo nextest run --workspace --no-fail-fast
    say "doc tests"
    cargo test --workspace --doc
else
    say "cargo test (cargo-nextest not installed)"
    cargo test --workspace --no-fail-fast
fi

# A short bounded run of every fuzz target (docs/fuzzing.md), from the kept corpus and regressions. It installs a
# nightly toolchain and cargo-fuzz when missing (or fails saying why), builds in fuzz/target, and fails if a
# target crashes, naming the input and how to reproduce it. ORRERY_FUZZ_SECONDS: seconds per target.
say "scripts/fuzz.sh ${ORRERY_FUZZ_SECONDS:-20} (every fuzz target, bounded)"
scripts/fuzz.sh "${ORRERY_FUZZ_SECONDS:-20}"
