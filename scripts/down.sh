#!/usr/bin/env bash
# Stops the server started by up.sh. Usage: down.sh DATA_DIR
set -euo pipefail
data=$1
pidfile="$data/server.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  echo "sampan server stopped."
else
  echo "no sampan server running from $data."
fi
rm -f "$pidfile"
