#!/usr/bin/env bash
# Regenerates the premapper comparison tables of docs/benchmarks.md on the EVE k-space map, with a load derived
# from the activity snapshot, at 3, 7, 24, 64 and 250 nodes; also the generated default universe at 24, 64 and 250,
# the pictures docs/premap-eve-24.svg and docs/premap-generated-24.svg, and imbalance sweeps of best and METIS at
# 64 and 250 nodes on both with their charts docs/premap-tradeoff-*.svg.
# Usage: scripts/premap-report.sh [EVE_DIR]   (default $ORRERY_EVE_DATA, else ../shared/data/eve) — prints Markdown on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
eve=${1:-${ORRERY_EVE_DATA:-../shared/data/eve}}
[ -f "$eve/systems.csv" ] || { echo "premap-report: no EVE map at $eve (systems.csv)" >&2; exit 1; }
cargo build --release -q -p orrery
bin=${CARGO_TARGET_DIR:-target}/release/orrery
load=$(mktemp --suffix=.csv)
trap 'rm -f "$load"' EXIT
"$bin" fingerprint --systems "$eve/systems.csv" --jumps "$eve/jumps.csv" --activity "$eve/activity.csv" --out "$load"

echo "### EVE k-space map, load from activity.csv"
echo
for nodes in 3 7 24 64 250; do
    echo "#### $nodes nodes"
    echo
    echo '```'
    echo "orrery premap --systems $eve/systems.csv --jumps $eve/jumps.csv --load LOAD.csv --nodes $nodes --strategy all --markdown"
    echo '```'
    echo
    picture=(); [ "$nodes" = 24 ] && picture=(--svg docs/premap-eve-24.svg)
    "$bin" premap --systems "$eve/systems.csv" --jumps "$eve/jumps.csv" --load "$load" --nodes "$nodes" \
        --strategy all --markdown "${picture[@]}" | grep -v '^wrote'
    echo
done

echo "### Generated default universe (seed 1), synthesised load"
echo
for nodes in 24 64 250; do
    echo "#### $nodes nodes"
    echo
    echo '```'
    echo "orrery premap --nodes $nodes --strategy all --markdown"
    echo '```'
    echo
    picture=(); [ "$nodes" = 24 ] && picture=(--svg docs/premap-generated-24.svg)
    "$bin" premap --nodes "$nodes" --strategy all --markdown "${picture[@]}" | grep -v '^wrote'
    echo
done

# Balance against locality: `best` and METIS swept over the imbalance an operator allows, with a chart each.
sweep=0,0.5,1,2,3,5,10,20,30
echo "### Balance against locality: imbalance sweeps"
echo
for case in eve:64 eve:250 generated:64 generated:250; do
    universe=${case%%:*}
    nodes=${case##*:}
    chart=docs/premap-tradeoff-$universe-$nodes.svg
    if [ "$universe" = eve ]; then
        files=(--systems "$eve/systems.csv" --jumps "$eve/jumps.csv" --load "$load")
        shown="--systems $eve/systems.csv --jumps $eve/jumps.csv --load LOAD.csv "
        name="EVE k-space map"
    else
        files=()
        shown=""
        name="Generated universe"
    fi
    echo "#### $name, $nodes nodes"
    echo
    echo '```'
    echo "orrery premap ${shown}--nodes $nodes --sweep $sweep --markdown --chart $chart"
    echo '```'
    echo
    echo "![$name, $nodes nodes: cut gates, nodes in pieces and spread against balance]($(basename "$chart"))"
    echo
    "$bin" premap "${files[@]}" --nodes "$nodes" --sweep "$sweep" --markdown --chart "$chart" | grep -v '^wrote'
    echo
done
