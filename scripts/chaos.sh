#!/usr/bin/env bash
# Chaos: a multi-process cluster (scripts/cluster-up.sh: NATS, PostgreSQL, coordinator, N nodes, 2 proxies)
# under `orrery bots` load, with a random sol node killed (kill -9) every KILL_EVERY seconds and started again
# a few seconds later, for DURATION seconds. Then a summary: recovery time per kill (from the node's last
# report to its systems handed out: p50, max), the ticks lost per system (from the dead node's last stored
# checkpoint), the bots' errors and disconnects, and ships lost or duplicated (counted in the database against
# the characters). Everything runs on 127.0.0.1 and is bounded in time.
#
# Usage: scripts/chaos.sh [--nodes N] [--bots COUNT] [--duration S] [--kill-every S]
#   defaults: 3 nodes, 300 bots, 180 s, a kill every 20 s. ORRERY_BIN as for cluster-up.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

nodes=3
bots=300
duration=180
kill_every=20
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) nodes="$2"; shift 2 ;;
        --bots) bots="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --kill-every) kill_every="$2"; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "chaos.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
say() { printf 'chaos: %s\n' "$*" >&2; }
bin="${ORRERY_BIN:-target/release/orrery}"
[ -x "$bin" ] || cargo build --release -p orrery >&2

# shellcheck source=scripts/services.sh
source scripts/services.sh
orrery_services_start
dir=$(mktemp -d -t orrery-chaos.XXXXXX)
port=$((20000 + RANDOM % 20000))
universe=(--generate-systems 1000)
# The nodes this script restarts are not cluster-up.sh's to stop: their pids are in the pid files.
stop_all() {
    trap - EXIT INT TERM
    for pid_file in "$dir"/node-*.pid; do kill -TERM "$(cat "$pid_file")" 2>/dev/null || true; done
    orrery_cluster_stop
}
trap stop_all EXIT INT TERM
orrery_cluster_start "$bin" "$dir" "$port" "$nodes" "${universe[@]}" --admin-token chaos
say "cluster up in $dir; $bots bots for ${duration}s, a node killed every ${kill_every}s"

"$bin" bots --connect "127.0.0.1:$port" --count $((bots / 2)) --scenario mixed --duration "$duration" --json \
    --name-prefix chaosa "${universe[@]}" 2>"$dir/bots-a.err" | tail -1 >"$dir/bots-a.json" &
bots_a=$!
"$bin" bots --connect "127.0.0.1:$((port + 10))" --count $((bots - bots / 2)) --scenario mixed --duration "$duration" \
    --json --name-prefix chaosb "${universe[@]}" 2>"$dir/bots-b.err" | tail -1 >"$dir/bots-b.json" &
bots_b=$!

end=$(($(date +%s) + duration - kill_every))
kills=0
sleep "$kill_every"
while [ "$(date +%s)" -lt "$end" ]; do
    victim=$((RANDOM % nodes))
    pid=$(cat "$dir/node-$victim.pid")
    say "kill -9 node $victim (pid $pid)"
    kill -9 "$pid" 2>/dev/null || true
    kills=$((kills + 1))
    sleep 5
    # The node comes back empty (its systems went to the others); it takes systems again only when moved.
    "$bin" node --id "$victim" --bus "$ORRERY_TEST_NATS_URL" --store "$ORRERY_TEST_POSTGRES_URL" --nodes "$nodes" \
        --data-dir "$dir" "${universe[@]}" >>"$dir/node-$victim.log" 2>&1 &
    echo $! >"$dir/node-$victim.pid"
    sleep $((kill_every - 5))
done
wait "$bots_a" "$bots_b" || true

psql_url="$ORRERY_TEST_POSTGRES_URL"
q() { psql "$psql_url" -tAc "$1"; }
lost=$(q "SELECT count(*) FROM characters c LEFT JOIN ships s ON s.ship_id = c.ship_id WHERE s.ship_id IS NULL")
doubled=$(q "SELECT count(*) FROM (SELECT character_id FROM ships GROUP BY character_id HAVING count(*) > 1) d")
characters=$(q "SELECT count(*) FROM characters")
recoveries=$(grep -ho 'node failed over.*recovered_after_ms=[0-9]*' "$dir/coordinator.log" | grep -o '[0-9]*$' | sort -n || true)
count=$(echo "$recoveries" | grep -c . || true)
p50=$(echo "$recoveries" | awk -v n="$count" 'NR == int((n + 1) / 2) {print}')
max=$(echo "$recoveries" | tail -1)
# Ticks lost per failed-over system: from the dead node's last stored checkpoint to the hand-out, in that
# system's ticks (not run, or run and undone); the worst system of each failover, then p50 and max over them.
lost_ticks=$(grep -ho 'node failed over.*ticks_lost_max=[0-9]*' "$dir/coordinator.log" | grep -o '[0-9]*$' | sort -n || true)
lost_p50=$(echo "$lost_ticks" | awk -v n="$count" 'NR == int((n + 1) / 2) {print}')
lost_max=$(echo "$lost_ticks" | tail -1)
lost_mean=$(grep -ho 'ticks_lost_mean=[0-9.]*' "$dir/coordinator.log" | cut -d= -f2 | awk '{s += $1} END {if (NR) printf "%.1f", s / NR}')
errors=$(python3 -c 'import json,sys; print(sum(json.load(open(f))["errors"] for f in sys.argv[1:]))' "$dir/bots-a.json" "$dir/bots-b.json")
disconnects=$(python3 -c 'import json,sys; print(sum(json.load(open(f))["disconnects"] for f in sys.argv[1:]))' "$dir/bots-a.json" "$dir/bots-b.json")
connected=$(python3 -c 'import json,sys; print(sum(json.load(open(f))["connected"] for f in sys.argv[1:]))' "$dir/bots-a.json" "$dir/bots-b.json")
echo "chaos summary: nodes=$nodes bots=$bots connected=$connected duration_s=$duration kills=$kills failovers=$count"
echo "  recovery (node's last report -> systems handed out): p50 ${p50:-?} ms, max ${max:-?} ms"
echo "  ticks lost per system (last stored checkpoint -> hand-out): worst system p50 ${lost_p50:-?}, max ${lost_max:-?}; mean over all systems ${lost_mean:-?}"
echo "  bots: errors $errors, disconnects $disconnects"
python3 -c 'import json,sys
codes = {}
for f in sys.argv[1:]:
    for code, n in json.load(open(f)).get("error_codes", {}).items():
        codes[code] = codes.get(code, 0) + n
print("  error codes:", ", ".join(f"{c} {n}" for c, n in sorted(codes.items())) or "none")' "$dir/bots-a.json" "$dir/bots-b.json"
echo "  ships: characters $characters, lost $lost, duplicated $doubled"
echo "  logs in $dir"
