#!/usr/bin/env bash
# Durable creates/s through the sqlite store backend with 1, 8 and 64 concurrent
# writers (and one thread with 256 async writes in flight), side by side with raw
# SQLite WAL + synchronous=FULL on the same disk: 1 row per commit and 100 rows per
# commit; plus Get/s. The configurations take turns in short slices (ROUNDS) so
# drifting disk latency on a shared machine hits all of them alike. Prints ratios;
# appends the machine description and output to bench/results/store-<date>.txt.
#
#   bench/store.sh                     # build/ and a scratch dir inside it
#   BUILD=build-x STORE_BENCH_DIR=/var/lib/sampan/bench RUN_SECONDS=20 ROUNDS=40 bench/store.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DIR=${STORE_BENCH_DIR:-$BUILD/store-bench}
RUN_SECONDS=${RUN_SECONDS:-10}
ROUNDS=${ROUNDS:-20}
WRITERS=${WRITERS:-1,8,64}

[ -f "$BUILD/build.ninja" ] || cmake -S . -B "$BUILD" -G Ninja >/dev/null
ninja -C "$BUILD" store_bench >/dev/null
mkdir -p "$DIR" bench/results
out=bench/results/store-$(date -u +%F).txt

{
  echo "== bench/store.sh  $(date -u +%FT%TZ)  commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "cpu:     $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "memory:  $(free -h | awk '/^Mem:/ {print $2}')"
  echo "disk:    $(findmnt -no SOURCE,FSTYPE -T "$DIR" | tr -s ' ') ($(df -h --output=size "$DIR" | tail -1 | tr -d ' ') total)," \
       "rotational=$(lsblk -dno ROTA "$(findmnt -no SOURCE -T "$DIR")" 2>/dev/null | tr -d " " || echo "?")"
  echo "kernel:  $(uname -r)"
  echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, before the run)"
  "$BUILD/store_bench" --dir "$DIR" --seconds "$RUN_SECONDS" --rounds "$ROUNDS" --writers "$WRITERS"
  echo
} 2>&1 | tee -a "$out"
echo "recorded in $out"
