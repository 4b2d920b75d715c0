#!/usr/bin/env bash
# Runs InspIRCd in the foreground on 127.0.0.1:PORT with a generated config in DIR (created if missing).
#   scripts/irc/start-inspircd.sh PORT DIR
# exec's the server, so the caller's $! is the server's pid.
set -euo pipefail
port=${1:?port}; dir=${2:?dir}
here=$(cd "$(dirname "$0")" && pwd)
command -v inspircd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq inspircd >/dev/null; }
mkdir -p "$dir"
sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" "$here/inspircd.conf.template" > "$dir/inspircd.conf"
echo "chat race" > "$dir/motd.txt"
# --nofork: foreground; --runasroot: the bench may run as root; --nopid: the pid is $! of the caller.
exec inspircd --nofork --runasroot --config="$dir/inspircd.conf"
