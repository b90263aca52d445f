#!/usr/bin/env bash
# Pod start-up benchmark: N busybox `sleep` pods (image present) on one node in a network namespace made
# like the pod tests' (tests/pods/netns.py); p50/p99 from create to Running, measured by the client's
# clock and from the pods' own timestamps (creationTimestamp, containerStatuses[].state.running.startedAt).
# Targets: p50 <= 150 ms, p99 <= 400 ms; the Kubernetes SLO is p99 <= 5 s.
#
#   bench/pod-startup.sh [SAMPAN_BIN]       (root)
#
# Environment: PODS (default 100), RATE (pods/s in the paced run, default 10), RUNS ("serial,paced,burst"),
# BENCH_OUT (results file, default bench/results/pod-startup-<date>.txt), POD_STARTUP_ARGS (more
# pod_startup.py arguments, e.g. "--server-arg=--debug" with SAMPAN_E2E_KEEP=1 to keep the server log
# with the agent's per-pod timings).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SAMPAN_BIN="$(readlink -f "${1:-${SAMPAN_BIN:-$ROOT/build/sampan}}")"
PODS="${PODS:-100}"
RATE="${RATE:-10}"
RUNS="${RUNS:-serial,paced,burst}"
OUT="${BENCH_OUT:-$ROOT/bench/results/pod-startup-$(date -u +%Y-%m-%d).txt}"
[[ -x "$SAMPAN_BIN" ]] || { echo "sampan binary not found: $SAMPAN_BIN" >&2; exit 1; }
[[ $EUID -eq 0 ]] || { echo "pod-startup.sh needs root" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$ROOT" diff --quiet 2>/dev/null || rev="$rev-dirty"
{
  echo "# sampan pod start-up benchmark — $(date -u '+%Y-%m-%d %H:%M:%S') UTC"
  echo "sampan: $rev ($SAMPAN_BIN)"
  echo "machine: $(uname -srm); $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  if [[ "$(stat -fc %T /sys/fs/cgroup)" == cgroup2fs ]]; then cg=v2
  elif [[ -d /sys/fs/cgroup/unified ]] && [[ "$(stat -fc %T /sys/fs/cgroup/unified)" == cgroup2fs ]]; then cg="v1 (hybrid)"
  else cg=v1; fi
  echo "cgroups: $cg"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)  (the machine is shared; numbers are noisy)"
  echo "targets: p50 <= 150 ms, p99 <= 400 ms (create -> Running, image present); Kubernetes SLO p99 <= 5 s"
  echo "client = request sent -> watch saw Running (client clock); api = creationTimestamp -> watch saw"
  echo "Running; started = creationTimestamp -> last container startedAt (server timestamps);"
  echo "to_bound / bound_to_running = client split at the moment the watch shows spec.nodeName"
  # shellcheck disable=SC2086  # POD_STARTUP_ARGS is a list of words
  /usr/bin/python3 "$ROOT/bench/pod_startup.py" --pods "$PODS" --rate "$RATE" --runs "$RUNS" \
    ${POD_STARTUP_ARGS:-}
} 2>&1 | tee "$OUT"
