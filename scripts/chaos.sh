#!/usr/bin/env bash
# Chaos test of roster's crash safety: kills `roster serve` with SIGKILL at random
# moments of its provisioning cycles, starts it again on the same data directory,
# and checks at the end that the sample SCIM app matches the directory (no
# duplicate, missing, stale or wrongly active account; the provisioning log
# neither lost nor doubled). What it does and checks: scripts/chaos.py.
#
#   bash scripts/chaos.sh --seed-list 264607,936451,42              # fixed seeds (the test command's)
#   bash scripts/chaos.sh --seeds 200                               # by hand: 200 random seeds, counts passed
#   bash scripts/chaos.sh --seeds 50 --store postgres               # by hand: the same on PostgreSQL
#   bash scripts/chaos.sh --users 50000 --kills 50 --timeout 3600   # by hand, bigger (~5 min)
#   bash scripts/chaos.sh --seed 42 --keep                          # replay a seed, keep the logs
#
# Each run prints its seed and the command that replays it. The kills fall at
# wall-clock moments, so a replay meets the same changes but kills that may land
# a little elsewhere; the deterministic crash scenarios are in
# crates/server/tests/crash_points.rs.
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
