#!/usr/bin/env bash
# Builds the browser pilot client (web/play, TypeScript with Protobuf-ES) into crates/admin/assets/play.js, the
# bundle the admin server embeds and serves at /play. The bundle is committed, so building orrery needs no npm;
# run this after changing web/play or proto/orrery/v1/game.proto.
#
# Usage: scripts/build-play.sh           regenerate the code from game.proto, bundle, and run the page's
#                                        conformance test (proto/conformance/cases.json through Protobuf-ES)
#        scripts/build-play.sh --check   the same into a temporary file; fails if the committed bundle differs
# Needs node and npm (packages from the npm registry, pinned by web/play/package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=crates/admin/assets/play.js

check=false
case "${1:-}" in
    --check) check=true ;;
    "") ;;
    *) echo "usage: scripts/build-play.sh [--check]" >&2; exit 2 ;;
esac
command -v npm >/dev/null 2>&1 || { echo "scripts/build-play.sh: npm is missing (Debian: apt-get install npm)" >&2; exit 1; }

cd web/play
# esbuild and buf ship their binaries in per-platform npm packages: no install script needs to run.
npm ci --no-audit --no-fund --ignore-scripts >/dev/null
./node_modules/.bin/buf generate
# Type-check (the TypeScript compiler comes with protoc-gen-es); esbuild below only strips the types.
./node_modules/.bin/tsc -p .
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bundle() {
    ./node_modules/.bin/esbuild src/main.ts --bundle --format=iife --target=es2020 --minify --legal-comments=none \
        --log-level=warning --outfile="$1"
}
# The page's decoder and mirror against the golden protocol cases, under node's test runner.
./node_modules/.bin/esbuild test/conformance.test.ts --bundle --platform=node --format=esm --log-level=warning \
    --outfile="$work/conformance.test.mjs"
ORRERY_CASES="$root/proto/conformance/cases.json" node --test "$work/conformance.test.mjs"

if $check; then
    bundle "$work/play.js"
    if ! cmp -s "$work/play.js" "$root/$out"; then
        echo "scripts/build-play.sh: $out is not what web/play builds to; run scripts/build-play.sh and commit it" >&2
        exit 1
    fi
    echo "$out is current"
else
    bundle "$root/$out"
    echo "wrote $out ($(wc -c <"$root/$out") bytes)"
fi
