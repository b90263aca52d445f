#!/usr/bin/env bash
# Scheduler benchmark: `sampan server` + `sampan hollow-nodes --count NODES` + PODS pending pods created
# through the API; pods/s bound end to end (from the first create to the last binding seen in a pod
# watch), and the ratio to kube-scheduler's scheduler_perf floor (680 pods/s for 5,000 nodes /
# 10,000 pods; target 5x = 3,400).
#
#   bench/scheduler.sh [SAMPAN_BIN]
#
# Environment: NODES (5000), PODS (10000), CLIENT_THREADS (creating clients, 16), STORE (memory |
# sqlite; default memory: the scheduler is measured, not the disk), SERVER_THREADS (API worker
# threads, default = nproc), BENCH_DIR (/var/tmp), BENCH_OUT (results file), PENDING_FIRST (1: the
# server runs no scheduler while the pods are created; then `sampan scheduler` starts and the
# bind window is measured, as kube-scheduler's scheduler_perf does; default 0).
# Writes bench/results/scheduler-<date>.txt with the machine's description. Only 127.0.0.1 is used.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SAMPAN_BIN="${1:-${SAMPAN_BIN:-$ROOT/build/sampan}}"
BENCH_BIN="${BENCH_BIN:-$(dirname "$SAMPAN_BIN")/scheduler_bench}"
NODES="${NODES:-5000}"
PODS="${PODS:-10000}"
CLIENT_THREADS="${CLIENT_THREADS:-16}"
STORE="${STORE:-memory}"
SERVER_THREADS="${SERVER_THREADS:-$(nproc)}"
PENDING_FIRST="${PENDING_FIRST:-0}"
STAMP="$(date -u +%Y-%m-%d)"
OUT="${BENCH_OUT:-$ROOT/bench/results/scheduler-$STAMP.txt}"

[[ -x "$SAMPAN_BIN" ]] || { echo "sampan binary not found: $SAMPAN_BIN" >&2; exit 1; }
[[ -x "$BENCH_BIN" ]] || { echo "bench client not built: $BENCH_BIN (ninja -C build scheduler_bench)" >&2; exit 1; }
mkdir -p "$ROOT/bench/results"
WORK="$(mktemp -d -p "${BENCH_DIR:-/var/tmp}" sampan-sched-bench-XXXXXX)"
SERVER_PID=""
HOLLOW_PID=""
cleanup() {
  for pid in "$HOLLOW_PID" "$SERVER_PID"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

case "$STORE" in
  memory) ENDPOINT="memory://" ;;
  sqlite) ENDPOINT="sqlite://$WORK/data/server/db/state.db" ;;
  *) echo "STORE must be memory or sqlite" >&2; exit 2 ;;
esac

KUBECONFIG_FILE="$WORK/kubeconfig.yaml"
"$SAMPAN_BIN" server --data-dir "$WORK/data" --https-listen-port 0 --bind-address 127.0.0.1 \
  --write-kubeconfig "$KUBECONFIG_FILE" --disable-agent --datastore-endpoint "$ENDPOINT" \
  --threads "$SERVER_THREADS" $([[ "$PENDING_FIRST" = 1 ]] && echo --disable-scheduler) \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  [[ -s "$KUBECONFIG_FILE" ]] && break
  sleep 0.1
done
[[ -s "$KUBECONFIG_FILE" ]] || { echo "server did not start"; tail -20 "$WORK/server.log"; exit 1; }

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
T0=$(date +%s.%N)
"$SAMPAN_BIN" hollow-nodes --kubeconfig "$KUBECONFIG_FILE" --count "$NODES" >"$WORK/hollow.log" 2>&1 &
HOLLOW_PID=$!
for _ in $(seq 1 3000); do
  grep -q "nodes ready" "$WORK/hollow.log" && break
  kill -0 "$HOLLOW_PID" 2>/dev/null || { echo "hollow-nodes exited"; tail -20 "$WORK/hollow.log"; exit 1; }
  sleep 0.1
done
T1=$(date +%s.%N)
REGISTER_S=$(awk -v a="$T0" -v b="$T1" 'BEGIN {printf "%.2f", b - a}')
# Let the scheduler's node informer catch up with every node before the pods come.
sleep 3

SCHED_ARGS=()
if [[ "$PENDING_FIRST" = 1 ]]; then
  SCHED_ARGS=(--scheduler-cmd "exec '$SAMPAN_BIN' scheduler --kubeconfig '$KUBECONFIG_FILE' >'$WORK/scheduler.log' 2>&1")
fi
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
cpu_s() { awk -v hz="$CLK_TCK" '{print ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0; }
SERVER_CPU0="$(cpu_s "$SERVER_PID")"; HOLLOW_CPU0="$(cpu_s "$HOLLOW_PID")"
RESULT="$("$BENCH_BIN" --kubeconfig "$KUBECONFIG_FILE" --pods "$PODS" --threads "$CLIENT_THREADS" \
  "${SCHED_ARGS[@]}" 2>&1)" || true
SERVER_CPU1="$(cpu_s "$SERVER_PID")"; HOLLOW_CPU1="$(cpu_s "$HOLLOW_PID")"
# CPU per pod over the whole run (creates, bindings, events, status updates, lease renewals): the
# figure a busy shared machine disturbs least. With PENDING_FIRST the scheduler is another process.
CPU_LINE="$(awk -v s0="$SERVER_CPU0" -v s1="$SERVER_CPU1" -v h0="$HOLLOW_CPU0" -v h1="$HOLLOW_CPU1" -v n="$PODS" \
  'BEGIN {printf "CPU during the run:      server %.2f s (%.0f us/pod), hollow nodes %.2f s (%.0f us/pod)", s1-s0, (s1-s0)*1e6/n, h1-h0, (h1-h0)*1e6/n}')"
CYCLES="$(grep -h "scheduling cycles" "$WORK/server.log" "$WORK/scheduler.log" 2>/dev/null || true)"
# The scheduling cycle alone (5,000 nodes, no API): src/scheduler/plugins_test.cc CycleCostTest.
UNIT="$(dirname "$SAMPAN_BIN")/scheduler_test"
ALONE=""
if [[ -x "$UNIT" ]]; then
  ALONE="$("$UNIT" --gtest_filter='CycleCost*' 2>/dev/null | grep "scheduling cycle" || true)"
fi

{
  echo "# sampan scheduler benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# $NODES hollow nodes (4 CPU, 16Gi, 110 pods each), $PODS pods (100m CPU, 100Mi) created by"
  echo "# $CLIENT_THREADS client threads; store: $STORE; API server threads: $SERVER_THREADS"
  [[ "$PENDING_FIRST" = 1 ]] && echo "# pending first: pods created with no scheduler running, then \`sampan scheduler\` started"
  echo "# sampan $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') (+ working tree)"
  echo
  echo "hollow nodes registered in ${REGISTER_S} s"
  echo "$RESULT"
  echo "$CPU_LINE"
  echo "scheduler's own account (wall time per cycle includes waiting for the CPU):"
  echo "${CYCLES:-  (none logged)}"
  [[ -n "$ALONE" ]] && echo "in isolation (no API, one thread): $ALONE"
  echo
  echo "## machine"
  echo "nproc: $(nproc)"
  lscpu | grep -E "Model name|^CPU\(s\)|Thread|Core|Socket|MHz" || true
  free -h
  echo "load average before / after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT"
