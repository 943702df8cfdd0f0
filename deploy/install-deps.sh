#!/usr/bin/env bash
# Installs every build and test dependency of tcpsec from Debian 12 packages.
# Idempotent: packages already present are skipped by apt-get.
set -euo pipefail

packages=(
  build-essential meson ninja-build pkg-config clang lld libclang-rt-14-dev
  dpdk dpdk-dev libdpdk-dev libpcap-dev libnuma-dev
  libipsec-mb-dev libssl-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libbenchmark-dev libgtest-dev libgmock-dev
  tshark python3-scapy python3-pytest python3-grpcio python3-protobuf nftables iproute2 tcpdump netcat-openbsd ethtool iputils-ping
  strongswan-charon strongswan-swanctl libcharon-extra-plugins
  libstrongswan-standard-plugins strongswan-pki
  clang-format
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
