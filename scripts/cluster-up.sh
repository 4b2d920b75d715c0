#!/usr/bin/env bash
# A multi-process orrery cluster on this machine: NATS and PostgreSQL (installed and started by
# scripts/services.sh on free ports, unless ORRERY_BUS and ORRERY_STORE name running ones), a coordinator,
# N sol node processes and P proxies. Prints where everything listens; Ctrl-C stops them all (each role
# gracefully: sessions closed, every ship stored) and then the services it started.
#
# Usage: scripts/cluster-up.sh [--nodes N] [--proxies P] [--port BASE] [-- ORRERY_OPTIONS...]
#   --nodes N     sol node processes (default 2)
#   --proxies P   proxy processes (default 2); proxy k listens on BASE+10k (TCP) and BASE+10k+1 (WebSocket)
#   --port BASE   first client port (default 7777); the admin API listens on 7780
#   after --      options every role gets (the same universe for all), e.g. -- --generate-systems 500
# Environment: ORRERY_BIN (default: target/release/orrery, built if missing), ORRERY_BUS, ORRERY_STORE,
# ORRERY_CLUSTER_DIR (logs and pid files; default: a new temp dir), ORRERY_ADMIN_LISTEN (default 127.0.0.1:7780).
set -euo pipefail
cd "$(dirname "$0")/.."

nodes=2
proxies=2
base=7777
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) nodes="$2"; shift 2 ;;
        --proxies) proxies="$2"; shift 2 ;;
        --port) base="$2"; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "cluster-up.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

say() { printf 'cluster-up: %s\n' "$*" >&2; }
bin="${ORRERY_BIN:-target/release/orrery}"
if [ ! -x "$bin" ]; then
    say "building $bin (cargo build --release -p orrery)"
    cargo build --release -p orrery >&2
fi
dir="${ORRERY_CLUSTER_DIR:-$(mktemp -d -t orrery-cluster.XXXXXX)}"
mkdir -p "$dir"
pids=()
started_services=0

stop_all() {
    trap - INT TERM EXIT
    say "stopping: proxies, then nodes, then the coordinator"
    # Proxies first (their sessions' ships leave space), then nodes (last checkpoint), then the coordinator.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[$i]}" 2>/dev/null || true
        wait "${pids[$i]}" 2>/dev/null || true
    done
    if [ "$started_services" = 1 ]; then
        orrery_services_stop
    fi
    say "stopped (logs in $dir)"
}
trap stop_all INT TERM EXIT

if [ -z "${ORRERY_BUS:-}" ] || [ -z "${ORRERY_STORE:-}" ]; then
    # shellcheck source=scripts/services.sh
    source scripts/services.sh
    orrery_services_start
    started_services=1
    ORRERY_BUS="$ORRERY_TEST_NATS_URL"
    ORRERY_STORE="$ORRERY_TEST_POSTGRES_URL"
fi
common=(--bus "$ORRERY_BUS" --store "$ORRERY_STORE" --nodes "$nodes" --data-dir "$dir" "${extra[@]}")

wait_for_line() { # FILE PATTERN SECONDS
    for _ in $(seq 1 $(($3 * 10))); do
        if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    say "no '$2' in $1 after $3 s:"; tail -n 20 "$1" >&2; return 1
}

# Role processes are started in the order they are stopped in reverse: coordinator, nodes, proxies.
"$bin" coordinator "${common[@]}" --admin-listen "${ORRERY_ADMIN_LISTEN:-127.0.0.1:7780}" >"$dir/coordinator.log" 2>&1 &
pids+=($!)
echo "${pids[-1]}" >"$dir/coordinator.pid"
wait_for_line "$dir/coordinator.log" "mapping epoch" 180
for ((k = 0; k < nodes; k++)); do
    "$bin" node --id "$k" "${common[@]}" >"$dir/node-$k.log" 2>&1 &
    pids+=($!)
    echo "${pids[-1]}" >"$dir/node-$k.pid"
done
for ((k = 0; k < nodes; k++)); do wait_for_line "$dir/node-$k.log" "systems, mapping epoch" 120; done
for ((p = 1; p <= proxies; p++)); do
    tcp=$((base + 10 * (p - 1)))
    "$bin" proxy --id "$p" "${common[@]}" --listen "127.0.0.1:$tcp" --ws-listen "127.0.0.1:$((tcp + 1))" \
        >"$dir/proxy-$p.log" 2>&1 &
    pids+=($!)
    echo "${pids[-1]}" >"$dir/proxy-$p.pid"
done
for ((p = 1; p <= proxies; p++)); do wait_for_line "$dir/proxy-$p.log" "clients tcp://" 60; done

echo "orrery cluster up (logs and pid files in $dir)"
echo "  bus:   $ORRERY_BUS"
echo "  store: $ORRERY_STORE"
grep -h "^admin:" "$dir/coordinator.log" | sed 's/^/  /'
for ((k = 0; k < nodes; k++)); do grep -h "^orrery node" "$dir/node-$k.log" | sed 's/^/  /'; done
for ((p = 1; p <= proxies; p++)); do grep -h "^orrery proxy" "$dir/proxy-$p.log" | sed 's/^/  /'; done
echo "  bots:  $bin bots --connect 127.0.0.1:$base --count 100 --scenario mixed --duration 60"
echo "Ctrl-C stops everything."
echo "ready" >"$dir/ready"
# Wait in short, interruptible steps (a foreground `sleep` would hold off the Ctrl-C trap until it ends).
# A role process that exits (e.g. a node killed by scripts/chaos.sh) is reported, and the rest keep going.
while true; do
    for pid in "${pids[@]}"; do
        if ! kill -0 "$pid" 2>/dev/null && [ ! -e "$dir/exited-$pid" ]; then
            touch "$dir/exited-$pid"
            say "process $pid exited; see the logs in $dir"
        fi
    done
    sleep 1 &
    wait $! || true
done
