#!/usr/bin/env bash
# The cluster acceptance run on separate processes: coordinator + 2 sol nodes + 2 proxies over NATS and
# PostgreSQL (scripts/cluster-up.sh), and `orrery bots` split over the two proxies, on this machine. Prints
# the bots' summaries and the CPU and memory of the orrery processes (and, apart, of NATS and PostgreSQL), to
# compare with scripts/cluster-acceptance.sh (one process). Usage: scripts/cluster-acceptance-processes.sh
# [COUNT] [SCENARIO] [DURATION_S]
set -euo pipefail
count=${1:-2000}
scenario=${2:-mixed}
duration=${3:-60}
cd "$(dirname "$0")/.."
cargo build --release -q -p orrery
bin=target/release/orrery
# shellcheck source=scripts/services.sh
source scripts/services.sh
orrery_services_start
dir=$(mktemp -d -t orrery-acceptance.XXXXXX)
port=$((20000 + RANDOM % 20000))
trap 'trap - EXIT INT TERM; orrery_cluster_stop' EXIT INT TERM
orrery_cluster_start "$bin" "$dir" "$port" 2
role_pids() { cat "$dir"/*.pid; }
# NATS, and PostgreSQL's postmaster with its live backends (the postmaster's own times include the backends it
# has reaped: fields 16 and 17 of /proc/PID/stat).
service_pids() {
    cat "$ORRERY_SERVICES_DIR"/nats/*.pid 2>/dev/null || true
    local postmaster
    postmaster=$(head -1 "$ORRERY_SERVICES_DIR"/pg/data/postmaster.pid 2>/dev/null || true)
    if [ -n "$postmaster" ]; then echo "$postmaster"; pgrep -P "$postmaster" || true; fi
}
ticks() { for p in "$@"; do awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null || echo 0; done | awk '{t += $1} END {print t + 0}'; }
rss_mb() { for p in "$@"; do awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0; done | awk '{t += $1} END {print int(t / 1024)}'; }
mapfile -t roles < <(role_pids)
mapfile -t services < <(service_pids)
start_roles=$(ticks "${roles[@]}")
start_services=$(ticks "${services[@]}")
start=$(date +%s.%N)
"$bin" bots --connect "127.0.0.1:$port" --count $((count / 2)) --scenario "$scenario" --duration "$duration" --json \
    --name-prefix proca 2>"$dir/bots-a.err" | tail -1 >"$dir/bots-a.json" &
a=$!
"$bin" bots --connect "127.0.0.1:$((port + 10))" --count $((count - count / 2)) --scenario "$scenario" \
    --duration "$duration" --json --name-prefix procb 2>"$dir/bots-b.err" | tail -1 >"$dir/bots-b.json" &
b=$!
wait "$a" "$b"
end=$(date +%s.%N)
hz=$(getconf CLK_TCK)
cores() { awk -v t="$1" -v hz="$hz" -v s="$start" -v e="$end" 'BEGIN {printf "%.2f", t / hz / (e - s)}'; }
echo "bots (proxy 1): $(cat "$dir/bots-a.json")"
echo "bots (proxy 2): $(cat "$dir/bots-b.json")"
echo "orrery processes (coordinator, 2 nodes, 2 proxies): rss_mb=$(rss_mb "${roles[@]}") cpu_cores=$(cores $(($(ticks "${roles[@]}") - start_roles)))"
mapfile -t services_now < <(service_pids)
echo "nats + postgresql: rss_mb=$(rss_mb "${services_now[@]}") cpu_cores=$(cores $(($(ticks "${services_now[@]}") - start_services)))"
