#!/usr/bin/env bash
# Installs the headless browser the portal's browser tests drive: Debian's
# chromium and chromium-driver. Idempotent (skips the install when
# /usr/bin/chromium is there) and bounded in time (apt-get gets 15 minutes).
# Source it and call browser_install, or run it directly.
set -euo pipefail

browser_install() {
  if [ -x /usr/bin/chromium ]; then
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    sudo="sudo"
  fi
  echo "browser: installing chromium and chromium-driver from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 $sudo apt-get update -qq
  timeout 900 $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
  if [ ! -x /usr/bin/chromium ]; then
    echo "browser: /usr/bin/chromium is still missing after the install" >&2
    return 1
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  browser_install
fi
