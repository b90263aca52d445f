#!/usr/bin/env bash
# Installs every Debian 12 package that building, running and testing sampan needs.
# Idempotent: packages already present are skipped quickly.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev
  libssl-dev libsqlite3-dev sqlite3 libyaml-cpp-dev zlib1g-dev
  libseccomp-dev libcap-dev libarchive-dev
  libacl1-dev libzstd-dev liblz4-dev  # static archives libarchive.a needs (static-pie sampan)
  libgtest-dev libgmock-dev
  busybox-static iproute2 procps util-linux nftables
  python3 python3-pytest python3-kubernetes python3-yaml
  crun runc hyperfine umoci jq
  docker-registry skopeo zstd file python3-cryptography openssl
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
command -v kubectl >/dev/null || { echo "kubectl not found on PATH (the e2e tests drive the real kubectl)" >&2; exit 1; }
