#!/bin/bash
# bench/runtime.sh: `sampan runtime run` vs `crun run` vs `runc run` on one busybox bundle,
# with hyperfine, for /bin/true and for a shell that echoes. Prints each median and the ratio to crun.
#
#   bench/runtime.sh [SAMPAN_BIN]      (root; needs hyperfine, crun, runc, busybox-static)
#
# crun 1.8 refuses the hybrid cgroup layout, so every runtime runs inside one private mount
# namespace where /sys/fs/cgroup/unified is unmounted: the same conditions for all three.
# Env: RUNS (default 50), WARMUP (default 5), OUT (hyperfine JSON dir, default a temp dir).
set -euo pipefail
SAMPAN=${1:-${SAMPAN_BIN:-$(dirname "$0")/../build/sampan}}
SAMPAN=$(realpath "$SAMPAN")
RUNS=${RUNS:-50}
WARMUP=${WARMUP:-5}
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
/usr/bin/python3 - "$B/config.json" <<'PY'
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
  hyperfine -N --runs $RUNS --warmup $WARMUP --export-json "$OUT/runtime-\$w.json" \\
    -n sampan "$SAMPAN runtime --root $WORK/s-state run -b $B bench-s" \\
    $RO_ARGS \\
    -n crun   "crun --root $WORK/c-state run -b $B bench-c" \\
    -n runc   "runc --root $WORK/r-state run -b $B bench-r" >/dev/null
done
EOF2
unshare -m --propagation private bash "$WORK/inner.sh"

echo "runtime run of a busybox bundle: median over $RUNS runs (hyperfine, $(nproc) CPUs, $(uname -r))"
echo "sampan: $SAMPAN ($(stat -c %s "$SAMPAN") bytes); $(crun --version | head -1); $(runc --version | head -1)"
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
for w, what in (("true", "/bin/true"), ("echo", "sh -c 'echo hello'")):
    res = {r["command"]: r for r in json.load(open(f"{out}/runtime-{w}.json"))["results"]}
    crun = res["crun"]["median"]
    print(f"\n{what}:")
    for name in ("sampan", "sampan-ro", "crun", "runc"):
        r = res.get(name)
        if r is None:
            continue
        print(f"  {name:9s} median {r['median']*1000:7.2f} ms  mean {r['mean']*1000:7.2f} ms "
              f"± {r['stddev']*1000:5.2f}  ratio to crun {r['median']/crun:5.2f}")
PY
