#!/usr/bin/env bash
# The cluster acceptance run: `orrery run` (embedded default) and `orrery bots` side by side on this machine.
# Prints the bots' JSON summary and the server's RSS/CPU, then stops the server with SIGTERM and checks it
# exits 0. Usage: scripts/cluster-acceptance.sh [COUNT] [SCENARIO] [DURATION_S]
set -euo pipefail
count=${1:-2000}
scenario=${2:-mixed}
duration=${3:-60}
cd "$(dirname "$0")/.."
cargo build --release -q -p orrery
bin=target/release/orrery
data=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
"$bin" run --data-dir "$data" --listen 127.0.0.1:$port --ws-listen 127.0.0.1:$((port + 1)) >"$data/server.out" 2>"$data/server.err" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 100); do grep -q "^clients:" "$data/server.out" 2>/dev/null && break; sleep 0.2; done
start_ticks=$(awk '{print $14 + $15}' /proc/$server/stat)
start=$(date +%s.%N)
"$bin" bots --connect 127.0.0.1:$port --count "$count" --scenario "$scenario" --duration "$duration" --json \
    2>"$data/bots.err" | tail -1 >"$data/summary.json"
end=$(date +%s.%N)
end_ticks=$(awk '{print $14 + $15}' /proc/$server/stat)
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$server/status)
hz=$(getconf CLK_TCK)
cpu=$(awk -v t=$((end_ticks - start_ticks)) -v hz="$hz" -v s="$start" -v e="$end" 'BEGIN {printf "%.2f", t / hz / (e - s)}')
echo "bots: $(cat "$data/summary.json")"
echo "server: rss_mb=$((rss_kb / 1024)) cpu_cores=$cpu nodes=$(grep -o '[0-9]* sol nodes' "$data/server.out")"
kill -TERM $server
wait $server && echo "server: exit 0 after SIGTERM" || { echo "server: exit $? after SIGTERM"; exit 1; }
