#!/usr/bin/env bash
# System packages for the gpu.js backends (test/gpujs_backends.test.ts), Debian 12 (bookworm).
# Promise: idempotent (a second run changes nothing), prints each step, runs before `npm ci`.
#   - webgpu:     Dawn (npm `webgpu`) over Mesa >= 25 lavapipe, which only bookworm-backports has;
#   - headlessgl: the npm `gl` package builds from source (needs a compiler, X11 and GL headers)
#                 and opens a context only under a virtual X display (xvfb-run).
set -euo pipefail

say() { echo "[install-gpu-deps] $*"; }

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi

# 1. The bookworm-backports suite, from the same mirror apt already uses.
BACKPORTS=/etc/apt/sources.list.d/bookworm-backports.sources
if grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  say "bookworm-backports already in apt sources"
else
  MIRROR=$(grep -rhoE 'https?://[^ ]+/debian/?$' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n1 || true)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  say "adding bookworm-backports from $MIRROR to $BACKPORTS"
  $SUDO tee "$BACKPORTS" >/dev/null <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi

# 2. Packages, installed only when missing (dpkg-query says which).
missing() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
  done
}
mesa_major() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed -E 's/^([0-9]+:)?([0-9]+).*/\2/'; }

UPDATED=
apt_update_once() { [ -n "$UPDATED" ] || { say "apt-get update"; $SUDO apt-get update -qq; UPDATED=1; }; }

BASE_PKGS=(build-essential python3 pkg-config libx11-dev libxi-dev libxext-dev libgl1-mesa-dev xvfb xauth)
TODO=$(missing "${BASE_PKGS[@]}")
if [ -n "$TODO" ]; then
  apt_update_once
  say "installing $(echo $TODO)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $TODO
else
  say "gl build deps, xvfb, xauth already installed"
fi

if [ -n "$(missing mesa-vulkan-drivers libvulkan1)" ] || [ "$(mesa_major)" -lt 25 ]; then
  apt_update_once
  say "installing mesa-vulkan-drivers libvulkan1 from bookworm-backports"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1
else
  say "mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) already installed"
fi

say "done: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers), $(command -v xvfb-run)"
