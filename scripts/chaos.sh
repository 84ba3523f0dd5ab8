#!/usr/bin/env bash
# Chaos test of roster's crash safety: kills `roster serve` with SIGKILL at random
# moments of its provisioning cycles, starts it again on the same data directory,
# and checks at the end that the sample SCIM app matches the directory (no
# duplicate, missing, stale or wrongly active account; the provisioning log
# neither lost nor doubled). What it does and checks: scripts/chaos.py.
#
#   bash scripts/chaos.sh                                           # CI: 5,000 users, 20 kills (~20 s)
#   bash scripts/chaos.sh --users 50000 --kills 50 --timeout 3600   # by hand, bigger (~5 min)
#   bash scripts/chaos.sh --seed 42 --keep                          # replay a seed, keep the logs
#
# Builds roster (release) unless ROSTER_BIN names a roster binary. --timeout (default
# 600 s) bounds the test itself, not the build. Exit status 0 only if every check passes.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${ROSTER_BIN:-}" ]; then
  cargo build --release -p roster
  target_dir="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  ROSTER_BIN="$target_dir/release/roster"
fi
export ROSTER_BIN
exec python3 scripts/chaos.py "$@"
