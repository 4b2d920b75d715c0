#!/usr/bin/env bash
# Runs ngIRCd in the foreground on 127.0.0.1:PORT with a generated config in DIR (created if missing).
#   scripts/irc/start-ngircd.sh PORT DIR
# exec's the server, so the caller's $! is the server's pid (e.g. `taskset -c 0 start-ngircd.sh 16667 /tmp/x &`).
set -euo pipefail
port=${1:?port}; dir=${2:?dir}
here=$(cd "$(dirname "$0")" && pwd)
command -v ngircd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ngircd >/dev/null; }
mkdir -p "$dir"
sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" -e "s|@UID@|$(id -u)|g" -e "s|@GID@|$(id -g)|g" \
    "$here/ngircd.conf.template" > "$dir/ngircd.conf"
# -n: no daemon (foreground), -f: our config; logs go to stderr.
exec ngircd -n -f "$dir/ngircd.conf"
