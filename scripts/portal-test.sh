#!/usr/bin/env bash
# The portal's browser test: installs Debian's Chromium (scripts/browser.sh) and
# playwright-core (npm ci in tests/portal), builds roster, then runs
# tests/portal/tutorial.test.mjs, which starts a real `roster serve` and the
# sample SCIM app and drives headless Chromium through the tutorial's path.
# Screenshots land in target/portal-screenshots/. Every step is bounded in time;
# every process the test started is stopped by its PID at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/browser.sh
source scripts/browser.sh
browser_install

nice -n 10 cargo build -p roster
(cd tests/portal && timeout 300 npm ci --no-audit --no-fund --loglevel=error)

work="$(mktemp -d)"
artifacts="$PWD/target/portal-screenshots"  # in the repository's target/, wherever cargo builds
mkdir -p "$artifacts"
stop_started() {
  if [ -f "$work/pids" ]; then
    while read -r pid; do
      if kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
    done <"$work/pids"
  fi
  rm -rf "$work"
}
trap stop_started EXIT

status=0
target_dir="$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
ROSTER_BIN="$target_dir/debug/roster" PORTAL_ARTIFACTS="$artifacts" PORTAL_WORK="$work" \
  timeout --kill-after=15 600 node --test --test-timeout=540000 --test-reporter=spec tests/portal/tutorial.test.mjs || status=$?
echo "portal-test: screenshots in $artifacts" >&2
exit "$status"
