#!/usr/bin/env bash
# Failover test of roster's workers on PostgreSQL: several `roster serve` processes
# share one database; one is killed with SIGKILL mid-cycle, another stopped with
# SIGSTOP past its lease and continued; every app must end with exactly the
# directory's accounts and a log with nothing lost or doubled. What it does and
# checks: scripts/failover.py.
#
#   bash scripts/failover.sh --users 3000 --latency-ms 20 --concurrency 4   # the test command's size
#   bash scripts/failover.sh                                                # by hand: 20,000 users x 5 apps
#
# Builds roster (release) unless ROSTER_BIN names a roster binary. --timeout
# (default 900 s) bounds the test itself, not the build. Needs PostgreSQL
# (--postgres-url, default ROSTER_TEST_POSTGRES or the local server's `test`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${ROSTER_BIN:-}" ]; then
  cargo build --release -p roster
  target_dir="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  ROSTER_BIN="$target_dir/release/roster"
fi
export ROSTER_BIN
exec python3 scripts/failover.py "$@"
