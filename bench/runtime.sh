#!/bin/bash
# bench/runtime.sh: `sampan runtime run` vs `crun run` vs `runc run` on one busybox bundle,
# with hyperfine, for /bin/true and for a shell that echoes. Prints each median and the ratio to crun.
#
#   bench/runtime.sh [SAMPAN_BIN]      (root; needs hyperfine, crun, runc, busybox-static)
#
# crun 1.8 refuses the hybrid cgroup layout, so every runtime runs inside one private mount
# namespace where /sys/fs/cgroup/unified is unmounted: the same conditions for all three.
# On a shared machine the load drifts within seconds, so the runs are split into ROUNDS
# hyperfine invocations with RUNS/ROUNDS runs of every command each: a load spike hits all
# commands alike. Medians are over all runs; "round ratios" are each round's median ratio to
# crun (min / median / max); "cpu" is user+system time per run (the runtime and the container's
# process), the number the load disturbs least, and its ratio to crun's.
# Env: RUNS (default 50), ROUNDS (default 5), WARMUP (default 3 per round), OUT (hyperfine
# JSON files and hyperfine.log with its warnings; default a temp dir).
set -euo pipefail
SAMPAN=${1:-${SAMPAN_BIN:-$(dirname "$0")/../build/sampan}}
SAMPAN=$(realpath "$SAMPAN")
RUNS=${RUNS:-50}
ROUNDS=${ROUNDS:-5}
WARMUP=${WARMUP:-3}
PER=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
[ "$(id -u)" = 0 ] || { echo "bench/runtime.sh: must run as root" >&2; exit 2; }
for t in hyperfine crun runc /bin/busybox; do command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }; done

WORK=$(mktemp -d /tmp/sampan-bench-rt.XXXXXX)
chmod 755 "$WORK"
trap 'chattr -i "$WORK/sampan-installed" 2>/dev/null; rm -rf "$WORK"' EXIT
# "sampan" runs the build output as is: it re-executes itself from its protected cached copy
# (CVE-2019-5736). "sampan-ro" is the same binary installed protected (root-owned, 0555,
# immutable), as a package would install it: then no re-exec is needed.
INSTALLED=$WORK/sampan-installed
cp "$SAMPAN" "$INSTALLED" && chmod 0555 "$INSTALLED" && chattr +i "$INSTALLED" || INSTALLED=
B=$WORK/bundle
mkdir -p "$B/rootfs/bin" "$B/rootfs/proc" "$B/rootfs/sys" "$B/rootfs/dev" "$B/rootfs/tmp"
cp /bin/busybox "$B/rootfs/bin/"
for a in sh true echo; do ln -s busybox "$B/rootfs/bin/$a"; done
(cd "$B" && runc spec)
${PY:-/usr/bin/python3} - "$B/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open(p, "w"), indent=1)
PY
sed 's|"/bin/true"|"/bin/sh", "-c", "echo hello"|' "$B/config.json" > "$WORK/echo.json"
cp "$B/config.json" "$WORK/true.json"

OUT=${OUT:-$WORK}
mkdir -p "$OUT"
RO_ARGS=
[ -z "$INSTALLED" ] || RO_ARGS="-n sampan-ro '$INSTALLED runtime --root $WORK/i-state run -b $B bench-i'"
cat > "$WORK/inner.sh" <<EOF2
set -e
umount /sys/fs/cgroup/unified 2>/dev/null || true
for w in true echo; do
  cp "$WORK/\$w.json" "$B/config.json"
  for r in \$(seq $ROUNDS); do
    hyperfine -N --runs $PER --warmup $WARMUP --export-json "$OUT/runtime-\$w-\$r.json" \\
      -n sampan "$SAMPAN runtime --root $WORK/s-state run -b $B bench-s" \\
      $RO_ARGS \\
      -n crun   "crun --root $WORK/c-state run -b $B bench-c" \\
      -n runc   "runc --root $WORK/r-state run -b $B bench-r" >/dev/null 2>>"$OUT/hyperfine.log"
  done
done
EOF2
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
unshare -m --propagation private bash "$WORK/inner.sh"

echo "runtime run of a busybox bundle: median over $((PER * ROUNDS)) runs in $ROUNDS rounds (hyperfine, $(nproc) CPUs, $(uname -r))"
echo "load average (1/5/15 min) before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "sampan: $SAMPAN ($(stat -c %s "$SAMPAN") bytes, $(file -b "$SAMPAN" | grep -o 'static-pie linked\|dynamically linked\|statically linked')); $(crun --version | head -1); $(runc --version | head -1)"
${PY:-/usr/bin/python3} - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
for w, what in (("true", "/bin/true"), ("echo", "sh -c 'echo hello'")):
    times, ratios, cpu = {}, {}, {}
    for r in range(1, rounds + 1):
        res = {x["command"]: x for x in json.load(open(f"{out}/runtime-{w}-{r}.json"))["results"]}
        crun = statistics.median(res["crun"]["times"])
        for name, x in res.items():
            times.setdefault(name, []).extend(x["times"])
            ratios.setdefault(name, []).append(statistics.median(x["times"]) / crun)
            cpu.setdefault(name, []).append(x["user"] + x["system"])  # mean per run, children too
    crun = statistics.median(times["crun"])
    crun_cpu = statistics.mean(cpu["crun"])
    print(f"\n{what}:")
    for name in ("sampan", "sampan-ro", "crun", "runc"):
        t = times.get(name)
        if t is None:
            continue
        rr = ratios[name]
        c = statistics.mean(cpu[name])
        print(f"  {name:9s} median {statistics.median(t)*1000:6.2f} ms  mean {statistics.mean(t)*1000:6.2f} ms "
              f"± {statistics.stdev(t)*1000:5.2f}  ratio to crun {statistics.median(t)/crun:4.2f} "
              f"(rounds {min(rr):.2f} / {statistics.median(rr):.2f} / {max(rr):.2f})  "
              f"cpu {c*1000:5.2f} ms ({c/crun_cpu:4.2f})")
PY
