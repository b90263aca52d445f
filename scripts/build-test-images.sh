#!/usr/bin/env bash
# Builds the test images every e2e test uses, offline and reproducibly (same bytes on every
# run and machine with the same Debian packages):
#   OUT/busybox.oci.tar     docker.io/library/busybox:latest (+ :1.35) from Debian's busybox-static
#   OUT/busybox.docker.tar  the same image as a `docker save` archive
#   OUT/kubia.oci.tar       docker.io/luksa/kubia:latest (+ localhost:5000/kubia:v1): the busybox
#                           layer plus a static HTTP server answering "You've hit <hostname>"
#   OUT/kubia-zstd.oci.tar  the kubia image with zstd-compressed layers
# Usage: scripts/build-test-images.sh [OUT]   (default build-images/test-images)
# Import with: sampan image import OUT/busybox.oci.tar OUT/kubia.oci.tar
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/build-images/test-images}"
export SOURCE_DATE_EPOCH=0
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

busybox_bin=/bin/busybox
file -L "$busybox_bin" 2>/dev/null | grep -q 'statically linked' || {
  echo "build-test-images: $busybox_bin is not Debian's busybox-static (apt-get install busybox-static)" >&2
  exit 1
}

# --- busybox: one layer, the static binary plus a symlink per applet and a minimal /etc ---
bb="$work/busybox"
mkdir -p "$bb"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,var,home,proc,sys,dev}
install -m 0755 "$busybox_bin" "$bb/bin/busybox"
"$busybox_bin" --list-full | sort | while read -r applet; do
  [ "$applet" = "bin/busybox" ] && continue
  mkdir -p "$bb/$(dirname "$applet")"
  ln -sf /bin/busybox "$bb/$applet"
done
chmod 1777 "$bb/tmp"
chmod 0700 "$bb/root"
printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$bb/etc/passwd"
printf 'root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n' >"$bb/etc/group"
printf 'hosts: files dns\n' >"$bb/etc/nsswitch.conf"
find "$bb" -exec touch -h -d @0 {} +
cat >"$work/busybox.json" <<'JSON'
{"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
JSON

# --- kubia: a static C server on top of the busybox layer ---
kb="$work/kubia"
mkdir -p "$kb"
gcc -static -O2 -s -Wall -ffile-prefix-map="$here"=. -o "$kb/kubia" "$here/tests/images/kubia.c"
touch -h -d @0 "$kb/kubia" "$kb"
cat >"$work/kubia.json" <<'JSON'
{"Entrypoint": ["/kubia"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PORT=8080"],
 "ExposedPorts": {"8080/tcp": {}}, "WorkingDir": "/", "Labels": {"org.opencontainers.image.title": "kubia"}}
JSON

mk="/usr/bin/python3 $here/tests/images/mkimage.py"
$mk --layer "$bb" --config "$work/busybox.json" \
  --name docker.io/library/busybox:latest --name docker.io/library/busybox:1.35 \
  --oci "$out/busybox.oci.tar" --docker "$out/busybox.docker.tar"
$mk --layer "$bb" --layer "$kb" --config "$work/kubia.json" \
  --name docker.io/luksa/kubia:latest --name localhost:5000/kubia:v1 --oci "$out/kubia.oci.tar"
$mk --layer "$bb" --layer "$kb" --config "$work/kubia.json" --compress zstd \
  --name localhost:5000/kubia:zstd --oci "$out/kubia-zstd.oci.tar"
( cd "$out" && sha256sum busybox.oci.tar busybox.docker.tar kubia.oci.tar kubia-zstd.oci.tar )
