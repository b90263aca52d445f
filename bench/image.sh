#!/usr/bin/env bash
# Image benchmark: time to unpack an image and prepare a container rootfs, sampan vs umoci.
#
#   bench/image.sh [SAMPAN_BIN]
#
# Builds two images offline with tests/images/mkimage.py: the small busybox+kubia image of the
# e2e tests (2 layers) and a larger 4-layer image made of Debian files: /usr/include/c++,
# /usr/include/linux, /usr/share/zoneinfo and /usr/lib/git-core (gzip layers). For each,
# hyperfine times, from an empty store:
#   sampan: `sampan image import ARCHIVE` (verify + unpack each layer into a snapshot) and
#           `sampan image rootfs REF c1` (the overlay rootfs of a container, not mounted);
#   umoci:  `umoci unpack` of the same image from an OCI layout directory (flattened rootfs);
# and prints the medians and the ratio. Writes bench/results/image-<date>.txt.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SAMPAN_BIN="$(readlink -f "${1:-${SAMPAN_BIN:-$ROOT/build/sampan}}")"
RUNS="${RUNS:-10}"
OUT="${BENCH_OUT:-$ROOT/bench/results/image-$(date -u +%Y-%m-%d).txt}"
command -v umoci >/dev/null || { echo "umoci not installed (apt-get install umoci)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine not installed" >&2; exit 1; }
WORK="$(mktemp -d -p /var/tmp sampan-image-bench-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# The images.
"$ROOT/scripts/build-test-images.sh" "$WORK/small" >/dev/null
echo '{"Cmd":["/bin/sh"]}' >"$WORK/config.json"
layers=()
for src in /usr/include/c++ /usr/include/linux /usr/share/zoneinfo /usr/lib/git-core; do
  d="$WORK/layer$(( ${#layers[@]} + 1 ))"
  mkdir -p "$d$(dirname "$src")"
  cp -a "$src" "$d$(dirname "$src")/" 2>/dev/null || true
  layers+=(--layer "$d")
done
/usr/bin/python3 "$ROOT/tests/images/mkimage.py" "${layers[@]}" --config "$WORK/config.json" \
  --name localhost/bench/big:latest --oci "$WORK/big.oci.tar"
rm -rf "$WORK"/layer*

bench_one() {  # NAME ARCHIVE REF TAG
  local name=$1 archive=$2 ref=$3 tag=$4
  mkdir -p "$WORK/$name-layout"
  tar -xf "$archive" -C "$WORK/$name-layout"
  local size
  size=$(du -sh "$archive" | cut -f1)
  echo "## $name: $(jq -r '.manifests[0].digest' "$WORK/$name-layout/index.json" 2>/dev/null || true) archive $size"
  hyperfine --runs "$RUNS" --warmup 1 --export-json "$WORK/$name.json" -N \
    --prepare "rm -rf $WORK/store $WORK/bundle" \
    -n "sampan import+rootfs" \
    "sh -c '$SAMPAN_BIN image --data-dir $WORK/store import $archive >/dev/null && $SAMPAN_BIN image --data-dir $WORK/store rootfs $ref c1 >/dev/null'" \
    -n "umoci unpack" \
    "umoci unpack --image $WORK/$name-layout:$tag $WORK/bundle" 2>&1 | grep -v '^\s*$'
  /usr/bin/python3 - "$WORK/$name.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
s, u = r["sampan import+rootfs"]["median"], r["umoci unpack"]["median"]
print(f"median: sampan {s*1000:.1f} ms, umoci {u*1000:.1f} ms, ratio sampan/umoci {s/u:.2f}x")
PY
}

{
  echo "# sampan image benchmark — $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "sampan: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) ($SAMPAN_BIN)"
  echo "machine: $(uname -srm); $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "memory: $(free -h | awk '/Mem:/ {print $2}'); disk: $(df -h /var/tmp | awk 'NR==2 {print $1, $2}')"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "umoci: $(umoci --version 2>&1 | head -1)"
  echo
  bench_one small "$WORK/small/kubia.oci.tar" docker.io/luksa/kubia:latest latest
  echo
  bench_one big "$WORK/big.oci.tar" localhost/bench/big:latest latest
} | tee "$OUT"
