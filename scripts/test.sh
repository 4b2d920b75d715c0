#!/usr/bin/env bash
# Runs every check a change must pass: formatting, lints, and all tests (unit, property, integration, doc).
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
# Tests that check the premapper on the real EVE map read it from ../shared/data/eve; they fail loudly if it
# is missing rather than skip.
if [ ! -f ../shared/data/eve/systems.csv ]; then
    echo "scripts/test.sh: warning: ../shared/data/eve is missing; the EVE-map tests will fail and say so" >&2
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

if cargo nextest --version >/dev/null 2>&1; then
    say "cargo nextest run"
    cargo nextest run --workspace --no-fail-fast
    say "doc tests"
    cargo test --workspace --doc
else
    say "cargo test (cargo-nextest not installed)"
    cargo test --workspace --no-fail-fast
fi
