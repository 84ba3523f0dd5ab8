# shellcheck shell=bash
# Third-party peers for roster's end-to-end tests: a SCIM 2.0 server
# (scim2-server), a SCIM conformance checker (scim2-tester) and an SMTP sink
# (aiosmtpd), all from PyPI, installed in .venv at the repo root.
#
# Source this file, then call the functions:
#
#   source scripts/peers.sh
#   peers_install                                 # once; quick when up to date
#   base_url=$(scim2_server_start 18080 secret)   # -> http://127.0.0.1:18080/v2
#   maildir=$(smtp_sink_start 18025 target/peers/mail)   # -> <abs path of maildir>
#   scim2_tester_run "$base_url" secret           # conformance report, rc!=0 on failure
#   scim2_server_stop; smtp_sink_stop
#
# Every peer listens on 127.0.0.1 only. PIDs and logs go to target/peers/.
# Safe under `set -euo pipefail`; it does not change the caller's options.
# See docs/peers.md for how the peers behave.

PEERS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_VENV="${PEERS_VENV:-$PEERS_ROOT/.venv}"
PEERS_STATE="${PEERS_STATE:-$PEERS_ROOT/target/peers}"
PEERS_START_TIMEOUT="${PEERS_START_TIMEOUT:-30}"     # seconds to wait for a peer to answer
PEERS_INSTALL_TIMEOUT="${PEERS_INSTALL_TIMEOUT:-600}" # seconds for venv + pip

# Exact versions, transitive dependencies included, so that every machine runs
# the same peers. Bump them together, then re-run the e2e tests.
PEERS_PINS=(
  "scim2-server==0.8.3"
  "scim2-tester[httpx2]==0.5.2"
  "aiosmtpd==1.4.6"
  "annotated-types==0.8.0"
  "anyio==4.16.0"
  "atpublic==9.0.0"
  "attrs==26.1.0"
  "dnspython==2.9.2"
  "email-validator==2.4.0"
  "h11==0.16.0"
  "httpcore2==2.16.2"
  "httpx2==2.16.2"
  "idna==3.20"
  "lark==1.3.1"
  "pydantic==2.14.3"
  "pydantic-core==2.50.4"
  "scim2-client==0.13.2"
  "scim2-models==0.12.3"
  "truststore==0.10.5"
  "typing-extensions==4.16.0"
  "typing-inspection==0.4.5"
)

_peers_log() { printf 'peers: %s\n' "$*" >&2; }

# peers_install: create .venv (python3 -m venv) if missing and install the
# pinned peers. A stamp file makes a second call a no-op.
peers_install() {
  local stamp="$PEERS_VENV/.peers-pins" want
  want="$(printf '%s\n' "${PEERS_PINS[@]}")"
  if [[ -x "$PEERS_VENV/bin/scim2-server" && -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  if [[ ! -x "$PEERS_VENV/bin/python" ]]; then
    _peers_log "creating $PEERS_VENV"
    timeout 120 python3 -m venv "$PEERS_VENV" || { _peers_log "python3 -m venv failed"; return 1; }
  fi
  _peers_log "installing ${PEERS_PINS[*]}"
  if ! timeout "$PEERS_INSTALL_TIMEOUT" "$PEERS_VENV/bin/python" -m pip install \
      --quiet --disable-pip-version-check --no-input "${PEERS_PINS[@]}"; then
    _peers_log "pip install failed"
    return 1
  fi
  printf '%s\n' "$want" >"$stamp"
}

# _peers_running PID: true while PID exists and is not a zombie (a zombie still
# answers kill -0 until its parent reaps it).
_peers_running() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null || true)"
  [[ "$state" != "Z" ]]
}

# _peers_pid_alive PIDFILE PATTERN: true when the PID in PIDFILE runs a command
# line holding PATTERN (so a recycled PID is never taken for a peer).
_peers_pid_alive() {
  local pidfile="$1" pattern="$2" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  _peers_running "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"
}

# _peers_port_busy PORT: true when something already accepts on 127.0.0.1:PORT.
_peers_port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _peers_stop PIDFILE PATTERN: TERM the recorded PID, KILL it after 5 s.
_peers_stop() {
  local pidfile="$1" pattern="$2" pid i
  if _peers_pid_alive "$pidfile" "$pattern"; then
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      _peers_running "$pid" || break
      sleep 0.1
    done
    if _peers_running "$pid"; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

# _peers_wait PID PROBE_CMD...: wait until PROBE_CMD succeeds, while PID lives.
_peers_wait() {
  local pid="$1" deadline
  shift
  deadline=$((SECONDS + PEERS_START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! _peers_running "$pid"; then
      return 1
    fi
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# scim2_server_start PORT [TOKEN]: start scim2-server on 127.0.0.1:PORT in the
# background, in-memory, with the default RFC 7643 schemas (User with the
# Enterprise User extension, Group). With TOKEN, requests need
# "Authorization: Bearer TOKEN" (except /ServiceProviderConfig); without it,
# every request is accepted. Prints the base URL once it answers.
scim2_server_start() {
  local port="${1:?usage: scim2_server_start PORT [TOKEN]}" token="${2:-}"
  local pidfile="$PEERS_STATE/scim2-server-$port.pid" log="$PEERS_STATE/scim2-server-$port.log"
  local bin="$PEERS_VENV/bin/scim2-server" pid
  local -a args=(--hostname 127.0.0.1 --port "$port")
  [[ -n "$token" ]] && args+=(--bearer-token "$token")
  [[ -x "$bin" ]] || { _peers_log "$bin missing: run peers_install"; return 1; }
  mkdir -p "$PEERS_STATE"
  _peers_stop "$pidfile" scim2-server
  if _peers_port_busy "$port"; then
    _peers_log "127.0.0.1:$port is already in use"
    return 1
  fi
  nohup "$bin" "${args[@]}" >"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pidfile"
  if ! _peers_wait "$pid" "$PEERS_VENV/bin/python" -c '
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
' "http://127.0.0.1:$port/v2/ServiceProviderConfig"; then
    _peers_log "scim2-server did not answer on 127.0.0.1:$port within ${PEERS_START_TIMEOUT}s; log:"
    tail -n 20 "$log" >&2 || true
    _peers_stop "$pidfile" scim2-server
    return 1
  fi
  printf 'http://127.0.0.1:%s/v2\n' "$port"
}

# scim2_server_stop [PORT]: stop the scim2-server of PORT, or every one this
# library started.
scim2_server_stop() {
  local f
  if [[ -n "${1:-}" ]]; then
    _peers_stop "$PEERS_STATE/scim2-server-$1.pid" scim2-server
    return 0
  fi
  for f in "$PEERS_STATE"/scim2-server-*.pid; do
    [[ -e "$f" ]] && _peers_stop "$f" scim2-server
  done
  return 0
}

# smtp_sink_start PORT DIR: start an aiosmtpd SMTP server on 127.0.0.1:PORT
# (no TLS, no AUTH) that stores every received message in the Maildir DIR
# (one file per message under DIR/new/). Prints the absolute path of DIR.
smtp_sink_start() {
  local port="${1:?usage: smtp_sink_start PORT DIR}" dir="${2:?usage: smtp_sink_start PORT DIR}"
  local pidfile="$PEERS_STATE/smtp-sink-$port.pid" log="$PEERS_STATE/smtp-sink-$port.log"
  local py="$PEERS_VENV/bin/python" pid
  [[ -x "$py" ]] || { _peers_log "$py missing: run peers_install"; return 1; }
  # aiosmtpd only creates the Maildir layout when DIR does not exist yet.
  mkdir -p "$PEERS_STATE" "$dir/tmp" "$dir/new" "$dir/cur"
  dir="$(cd "$dir" && pwd)"
  _peers_stop "$pidfile" aiosmtpd
  if _peers_port_busy "$port"; then
    _peers_log "127.0.0.1:$port is already in use"
    return 1
  fi
  nohup "$py" -m aiosmtpd -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$dir" \
    >"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pidfile"
  if ! _peers_wait "$pid" "$py" -c '
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=2)
s.noop()
s.quit()
' "$port"; then
    _peers_log "SMTP sink did not answer on 127.0.0.1:$port within ${PEERS_START_TIMEOUT}s; log:"
    tail -n 20 "$log" >&2 || true
    _peers_stop "$pidfile" aiosmtpd
    return 1
  fi
  printf '%s\n' "$dir"
}

# smtp_sink_stop [PORT]: stop the SMTP sink of PORT, or every one this library
# started.
smtp_sink_stop() {
  local f
  if [[ -n "${1:-}" ]]; then
    _peers_stop "$PEERS_STATE/smtp-sink-$1.pid" aiosmtpd
    return 0
  fi
  for f in "$PEERS_STATE"/smtp-sink-*.pid; do
    [[ -e "$f" ]] && _peers_stop "$f" aiosmtpd
  done
  return 0
}

# scim2_tester_run BASE_URL [TOKEN] [TAG...]: run the scim2-tester conformance
# checks against a SCIM server. TAGs restrict the run (discovery, crud,
# crud:create, crud:read, crud:update, crud:delete, patch, misc, ...).
# Prints one line per check ("STATUS title [resource type] reason") and a
# closing "N passed, N failed" line. Returns 1 when a check is ERROR or
# CRITICAL, 2 when it could not run.
scim2_tester_run() {
  local url="${1:?usage: scim2_tester_run BASE_URL [TOKEN] [TAG...]}" token="${2:-}"
  shift $(($# < 2 ? $# : 2))
  [[ -x "$PEERS_VENV/bin/python" ]] || { _peers_log "run peers_install first"; return 2; }
  timeout 900 "$PEERS_VENV/bin/python" "$(dirname "${BASH_SOURCE[0]}")/scim_conformance.py" "$url" "$token" "$@"
}
