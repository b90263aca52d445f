#!/usr/bin/env bash
# A/B of the pod start-up burst: two sampan binaries, alternating, ROUNDS rounds of one burst each (a
# fresh node per run, as bench/pod-startup.sh does), so that load drift on a shared machine hits both
# alike. One line per run: label, time, load average, create/all-Running seconds, client p50/p90/p99.
#
#   bench/pod-startup-ab.sh A_BIN B_BIN      (root; labels A and B, or set A_LABEL / B_LABEL)
#
# Environment: ROUNDS (default 3), PODS (default 100), RUNS (default burst); A_ROOT / B_ROOT: the source
# tree whose bench/pod_startup.py (and tests/pods harness) drives that side (default this one; an older
# binary may need its own tree's harness, e.g. `git archive HEAD` unpacked beside its build).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -eq 2 ]] || { echo "usage: $0 A_BIN B_BIN" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "pod-startup-ab.sh needs root" >&2; exit 1; }
A="$(readlink -f "$1")"; B="$(readlink -f "$2")"
A_LABEL="${A_LABEL:-A}"; B_LABEL="${B_LABEL:-B}"
ROUNDS="${ROUNDS:-3}"; PODS="${PODS:-100}"; RUNS="${RUNS:-burst}"
echo "# A/B ($RUNS, $PODS pods, $ROUNDS rounds): $A_LABEL = $A, $B_LABEL = $B"
for ((i = 0; i < ROUNDS; i++)); do
  for side in A B; do
    if [[ $side == A ]]; then bin="$A" label="$A_LABEL" tree="${A_ROOT:-$ROOT}"
    else bin="$B" label="$B_LABEL" tree="${B_ROOT:-$ROOT}"; fi
    load="$(cut -d' ' -f1 /proc/loadavg)"
    when="$(date -u +%H:%M:%S)"
    SAMPAN_BIN="$bin" /usr/bin/python3 "$tree/bench/pod_startup.py" --pods "$PODS" --runs "$RUNS" |
      /usr/bin/python3 -c '
import json, sys
label, when, load = sys.argv[1:4]
for line in sys.stdin:
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    c = r["client"]
    print("  {} {} load {} run {} create_s {} all_s {} p50 {} p90 {} p99 {} not_running {}".format(
        label, when, load, r["run"], r["create_seconds"], r["all_running_seconds"], c["p50_ms"],
        c["p90_ms"], c["p99_ms"], r["not_running"]), flush=True)
' "$label" "$when" "$load"
  done
done
