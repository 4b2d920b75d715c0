#!/usr/bin/env bash
# The chat race: orrery's local chat against ngIRCd and InspIRCd on chat fan-out, one command.
#
#   scripts/chat-race.sh [N] [B] [SERVERS] [MODES]
#     N        clients in the channel / system (default 500); everyone talks
#     B        message bytes (default 100)
#     SERVERS  any of "orrery ngircd inspircd" (default all three)
#     MODES    any of "sweep idle" (default "sweep")
#   env: DURATION (s per sweep step, default 8, at most 10), IDLE (idle clients, default 10000),
#        SWEEP_START (first offered deliveries/s, default 50000), OUT (results dir, default a temp dir),
#        CARGO_TARGET_DIR (default /tmp/target-chat)
#
# Every server runs in the foreground from a temp dir with a generated config, on a random 127.0.0.1 port,
# pinned to core 0 (taskset -c 0); the generator (orrery-chatbench, one tokio thread) is pinned to core 1.
# Prints markdown tables (per-step rows, the best step of each server) and leaves the full logs in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500}
B=${2:-100}
SERVERS=${3:-"orrery ngircd inspircd"}
MODES=${4:-"sweep"}
DURATION=${DURATION:-8}
IDLE=${IDLE:-10000}
SWEEP_START=${SWEEP_START:-50000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/target-chat}
OUT=${OUT:-$(mktemp -d /tmp/chat-race.XXXXXX)}
mkdir -p "$OUT"

# Many sockets: the servers and the generator inherit this limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

for server in ngircd inspircd; do
    if [[ " $SERVERS " == *" $server "* ]] && ! command -v "$server" >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$server" >/dev/null
    fi
done

cargo build --release -q -p orrery -p orrery-chatbench
BENCH="$CARGO_TARGET_DIR/release/orrery-chatbench"
ORRERY="$CARGO_TARGET_DIR/release/orrery"

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: nproc=$(nproc), $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem:/{print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "orrery: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' (+ local changes)')"
    command -v ngircd >/dev/null && echo "ngircd: $(ngircd --version | head -1)"
    command -v inspircd >/dev/null && echo "inspircd: $(inspircd --version | head -1)"
    echo "ulimit -n: $(ulimit -n); server on core 0, generator on core 1 (taskset)"
} | tee "$OUT/machine.txt"

free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
    done
    echo "no free port" >&2; return 1
}

wait_port() {
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server on port $1 did not come up" >&2; return 1
}

# run_irc SERVER MODE-ARGS...: starts the server pinned to core 0, runs the generator on core 1, stops it.
run_irc() {
    local server=$1; shift
    local port dir pid
    port=$(free_port)
    dir=$(mktemp -d "/tmp/chat-race-$server.XXXXXX")
    taskset -c 0 "scripts/irc/start-$server.sh" "$port" "$dir" >"$dir/server.log" 2>&1 &
    pid=$!
    wait_port "$port"
    local status=0
    taskset -c 1 "$BENCH" --target irc --connect "127.0.0.1:$port" --server-pid "$pid" --label "$server" "$@" || status=$?
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
    return $status
}

run_one() {
    local server=$1; shift
    case $server in
        orrery) taskset -c 1 "$BENCH" --target orrery --orrery-bin "$ORRERY" --server-cpu 0 --label orrery "$@" ;;
        # ngIRCd: compile-time listen backlog of 10, so 8 logins in flight. InspIRCd completes registrations
        # from its once-a-second background timer, so it needs many in flight (its somaxconn is 4096 here).
        ngircd) run_irc ngircd --concurrency 8 "$@" ;;
        inspircd) run_irc inspircd --concurrency 1000 "$@" ;;
        *) echo "unknown server $server" >&2; return 1 ;;
    esac
}

for mode in $MODES; do
    for server in $SERVERS; do
        log="$OUT/$mode-$server-n$N-b$B.log"
        echo "== $mode $server (N=$N B=$B) → $log"
        case $mode in
            sweep) run_one "$server" --clients "$N" --bytes "$B" --sweep --duration "$DURATION" \
                       --sweep-start "$SWEEP_START" --max-steps 10 2>&1 | tee "$log" || true ;;
            idle) run_one "$server" --idle "$IDLE" --source-addrs 8 2>&1 | tee "$log" || true ;;
        esac
    done
done

echo
echo "## Results ($OUT)"
cat "$OUT/machine.txt"
for mode in $MODES; do
    echo
    echo "### $mode"
    first=1
    for log in "$OUT/$mode"-*.log; do
        [[ -e $log ]] || continue
        if [[ $first == 1 ]]; then grep -m2 '^|' "$log" || true; first=0; fi
        grep '^| ' "$log" | grep -v '^| server' || true
    done
    grep -h '^RESULT' "$OUT/$mode"-*.log 2>/dev/null || true
done
