#!/usr/bin/env bash
# Outages of the real services under load: a multi-process cluster (scripts/cluster-up.sh: NATS, PostgreSQL, a
# coordinator, 2 sol nodes, 2 proxies) with `orrery bots` on it; PostgreSQL is frozen (SIGSTOP of the postmaster
# and its backends: connections stay open and nothing answers, as on a hung host) for STORE_S seconds, then,
# 20 s after it is back, the NATS server is frozen for BUS_S seconds. Prints what the admin API said during
# each outage, how the checkpoint rows queued and drained (the nodes' logs), the failovers (there should be
# none: the nodes were alive all along), and the bots' summary. Everything runs on 127.0.0.1, bounded in time.
#
# Usage: scripts/outage.sh [--bots N] [--store-s S] [--bus-s S]   (defaults: 500 bots, 15 s, 8 s)
set -euo pipefail
cd "$(dirname "$0")/.."

bots=500
store_s=15
bus_s=8
while [ $# -gt 0 ]; do
    case "$1" in
        --bots) bots="$2"; shift 2 ;;
        --store-s) store_s="$2"; shift 2 ;;
        --bus-s) bus_s="$2"; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "outage.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
say() { printf 'outage: %s\n' "$*" >&2; }
bin="${ORRERY_BIN:-target/release/orrery}"
[ -x "$bin" ] || cargo build --release -p orrery >&2

# shellcheck source=scripts/services.sh
source scripts/services.sh
orrery_services_start
dir=$(mktemp -d -t orrery-outage.XXXXXX)
port=$((20000 + RANDOM % 20000))
admin="127.0.0.1:$((port + 100))"
postmaster=$(head -1 "$ORRERY_SERVICES_DIR/pg/data/postmaster.pid")
nats=$(cat "$ORRERY_SERVICES_DIR"/nats/*.pid)
thaw() { kill -CONT "$postmaster" $(pgrep -P "$postmaster" || true) "$nats" 2>/dev/null || true; }
trap 'trap - EXIT INT TERM; thaw; orrery_cluster_stop' EXIT INT TERM
orrery_cluster_start "$bin" "$dir" "$port" 2 --generate-systems 1000 --admin-token outage
duration=$((20 + store_s + 20 + bus_s + 25))
say "cluster up in $dir; $bots bots for ${duration}s"
"$bin" bots --connect "127.0.0.1:$port" --count "$bots" --scenario mixed --duration "$duration" --json \
    --generate-systems 1000 2>"$dir/bots.err" | tail -1 >"$dir/bots.json" &
bots_pid=$!
view() { curl -s -m 5 -H "Authorization: Bearer outage" "http://$admin/api/v1/cluster" || echo '{}'; }
services() {
    python3 -c 'import json,sys
v = json.load(sys.stdin)
s = v.get("services", {})
print("   ", json.dumps(s))
for n in v.get("nodes", []):
    print("    node", n["node_id"], "queued rows", n.get("store_queued_rows"), "store down ms", n.get("store_down_ms"), "late ticks", n.get("late_ticks"))'
}

sleep 20
say "freezing PostgreSQL for ${store_s}s"
kill -STOP "$postmaster" $(pgrep -P "$postmaster" || true)
sleep $((store_s - 3))
echo "during the store outage, the admin API said:"
view | services
sleep 3
thaw
say "PostgreSQL thawed"
sleep 20
say "freezing NATS for ${bus_s}s"
kill -STOP "$nats"
sleep $((bus_s - 2))
echo "during the bus outage, the admin API (the coordinator, cut off too) said:"
view | services
sleep 2
kill -CONT "$nats"
say "NATS thawed"
wait "$bots_pid" || true
echo "after both, the admin API said:"
view | services

echo "outage summary: bots=$bots store_frozen_s=$store_s bus_frozen_s=$bus_s"
echo "  store: the nodes' checkpoint writers"
grep -h "the store is unreachable\|the store answers again" "$dir"/node-*.log | sed 's/^/    /' | cut -c1-260 || true
echo "  bus: connections lost and regained"
grep -h "lost its connection\|connected again" "$dir"/*.log | sed 's/^/    /' | cut -c1-200 | sort | uniq -c | sort -rn | head || true
echo "  failovers: $(grep -c 'node failed over' "$dir/coordinator.log" || true) (expected 0: the nodes were alive)"
python3 -c 'import json,sys
s = json.load(open(sys.argv[1]))
l = s["latency_ms"]
print("  bots: connected", s["connected"], "errors", s["errors"], "disconnects", s["disconnects"], "error codes", s["error_codes"], "latency ms p50 / p99 / max", round(l["p50"]), round(l["p99"]), round(l["max"]))' "$dir/bots.json"
echo "  logs in $dir"
