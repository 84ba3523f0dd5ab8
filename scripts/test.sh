#!/usr/bin/env bash
# Runs every test of roster: installs the third-party peers (scim2-server,
# scim2-tester, aiosmtpd from PyPI, into .venv), makes sure the local PostgreSQL
# is up so that every store test also runs on PostgreSQL, then runs the whole
# workspace's tests with cargo-nextest (extra arguments go to nextest), the chaos test
# and the portal's browser test.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/peers.sh
source scripts/peers.sh
peers_install

# PostgreSQL: the machine's local server (trust auth, database `test`).
pg_url="${ROSTER_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
if ! timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5432' 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    timeout 60 pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
if timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5432' 2>/dev/null; then
  export ROSTER_TEST_POSTGRES="$pg_url"
  export ROSTER_REQUIRE_POSTGRES=1
  # Drop the databases earlier test runs left behind.
  if command -v psql >/dev/null; then
    psql "$pg_url" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'roster_t_%' OR datname LIKE 'roster_bench_%'" 2>/dev/null |
      while read -r db; do psql "$pg_url" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done
  fi
else
  echo "test: PostgreSQL is not reachable on 127.0.0.1:5432; its half of the store tests is skipped" >&2
fi

export ROSTER_SCIM2_SERVER="$PWD/.venv/bin/scim2-server"
export ROSTER_PYTHON="$PWD/.venv/bin/python"
export ROSTER_SMTP_SINK="$PWD/.venv/bin/aiosmtpd"
export ROSTER_REQUIRE_PEERS=1

if ! command -v cargo-nextest >/dev/null && ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
cargo nextest run --workspace --no-fail-fast "$@"

# The crash-safety chaos test (SIGKILL at 20 moments of 5,000-user cycles) on a fixed
# list of seeds: 264607 found a member left out of its group after a kill, 936451 an
# account made for a user never in scope (a nesting change during the initial walk);
# 42 adds variety. A failure names its seed and the command that replays it. The random
# soak (scripts/chaos.sh --seeds 200) is run by hand. Then the portal's browser test
# in headless Chromium. Both bounded in time.
bash scripts/chaos.sh --seed-list 264607,936451,42
if [ -n "${ROSTER_TEST_POSTGRES:-}" ]; then
  bash scripts/chaos.sh --seed-list 264607 --store postgres --postgres-url "$ROSTER_TEST_POSTGRES"
  # Three workers on PostgreSQL, five apps: one worker killed mid-cycle, one paused
  # past its lease (scripts/failover.sh without flags runs the 20,000-user size).
  bash scripts/failover.sh --users 3000 --latency-ms 20 --concurrency 4 --timeout 600 \
    --postgres-url "$ROSTER_TEST_POSTGRES"
fi
bash scripts/portal-test.sh
