#!/usr/bin/env bash
# System package for the page's browser suite (test/web_browser.test.ts): Debian's chromium,
# which playwright-core drives (no browser download: only apt and npm are reachable).
# Promise: idempotent (a second run changes nothing), prints each step, runs before `npm ci`.
set -euo pipefail

say() { echo "[install-browser] $*"; }

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi

if dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q 'install ok installed'; then
  say "chromium $(dpkg-query -W -f='${Version}' chromium) already installed"
else
  say "apt-get update"
  $SUDO apt-get update -qq
  say "installing chromium"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi

say "done: $(command -v chromium)"
