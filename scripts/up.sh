#!/usr/bin/env bash
# Starts a one-machine sampan cluster in the background on the embedded store and
# waits until its API answers. Usage: up.sh SAMPAN_BIN DATA_DIR KUBECONFIG
set -euo pipefail
bin=$(readlink -f "$1"); data=$2; kubeconfig=$3
mkdir -p "$data"
log="$data/server.log"
if [ -f "$data/server.pid" ] && kill -0 "$(cat "$data/server.pid")" 2>/dev/null; then
  echo "sampan server already running (pid $(cat "$data/server.pid")); 'make down' stops it."
else
  nohup "$bin" server --data-dir "$data" --write-kubeconfig "$kubeconfig" >"$log" 2>&1 &
  echo $! >"$data/server.pid"
fi
for _ in $(seq 1 100); do
  if [ -f "$kubeconfig" ] && kubectl --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null 2>&1; then
    echo "sampan is up (pid $(cat "$data/server.pid"), log $log)."
    echo
    echo "Use it with kubectl:"
    echo "  export KUBECONFIG=$kubeconfig"
    echo "  kubectl get namespaces"
    echo "  kubectl create -f pod.yaml"
    echo
    echo "Join another machine (as root there, with this machine's address):"
    echo "  sampan agent --server https://<this machine>:6443 --token $(cat "$data/server/node-token" 2>/dev/null)"
    echo
    echo "Stop it with: make down"
    exit 0
  fi
  if ! kill -0 "$(cat "$data/server.pid")" 2>/dev/null; then
    echo "sampan server exited; its log ($log):" >&2
    tail -20 "$log" >&2
    exit 1
  fi
  sleep 0.2
done
echo "sampan server did not become ready in 20 s; see $log" >&2
exit 1
