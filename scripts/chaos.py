#!/usr/bin/env python3
"""Chaos test of roster's crash safety (Python 3.11, standard library only).

Starts roster's sample SCIM app (kept up all along: it holds the app's state) and
`roster serve` on a fresh SQLite data directory, seeds a directory (users, groups,
a nested group, direct and group assignments, some disabled and deleted users),
turns provisioning on, and kills roster with SIGKILL at random moments: first
during the initial cycle, then during incremental cycles, each a random 0-500 ms
after a burst of directory changes made through the API (attributes, userName,
disable/enable, soft delete/restore, direct (un)assignments, group members, users
leaving and coming back while their groups change, a nested group in and out of its
team, whole groups (un)assigned, bulk updates); most small changes go to a hot set of about
a hundred users, so that changes meet kills and each other. roster is started
again on the same data directory and port after each kill. Every change is
recorded, so the expected final state is known.

At the end, once roster is at steady state, the app is checked against the
directory and the recorded changes:
  - every user in scope has exactly one account, active, with userName,
    displayName, title and externalId up to date;
  - every account of a user out of scope is disabled; a user never in scope has
    no account; no account belongs to nobody;
  - every assigned group exists once in the app with exactly its members in scope;
  - the directory holds every change that was acknowledged;
  - the provisioning log has no entry twice, no second creation of an account,
    an entry for every account, and its last word on each account matches the app;
  - no admin API request was answered with a 5xx (such a request is counted in
    server_errors and sent again, so that the other checks still run).
It prints one line per kill and the counts, and exits 0 only if every count is 0.

  bash scripts/chaos.sh --seed-list 264607,936451,42                # the test command's fixed seeds
  bash scripts/chaos.sh --seeds 200                                # by hand: a soak of random seeds
  bash scripts/chaos.sh --seeds 50 --store postgres                # the same on PostgreSQL
  bash scripts/chaos.sh --users 50000 --kills 50 --timeout 3600    # by hand, bigger (~5 min)
  ROSTER_BIN=target/release/roster python3 scripts/chaos.py --seed 7 --keep

Options: --users N, --kills K, --seed S (default: random, printed), --seeds N (a soak:
N runs with random seeds, and how many passed), --seed-list S1,S2 (runs with those
seeds: the test command's fixed list), --store sqlite|postgres (--postgres-url: the
server on which each run gets a fresh database), --timeout SECS (the deadline of each
run, default 600), --keep (keep the temporary directory with the data directory and
the server logs), --term (stop roster with SIGTERM, a graceful shutdown, instead of
SIGKILL). ROSTER_BIN names the roster binary. Each run prints its seed and the exact
command that replays it.
"""

import argparse
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

DOMAIN = "chaos.example"
TEAMS = 8  # groups chaos-team-0..7; the first ASSIGNED_TEAMS are assigned to the app
ASSIGNED_TEAMS = 5
TITLES = ["Engineer", "Designer", "Analyst", "Manager", "Director", "Support", "Sales", "Counsel", "Nurse", "Pilot"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SERVER_ERRORS = tuple(range(500, 600))
# The global deadline, once the test runs.
DEADLINE = None
# Proxies from the environment must not see requests to 127.0.0.1.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Failure(Exception):
    """The test cannot go on (or a check failed): the message says why."""


class Deadline:
    def __init__(self, secs):
        self.secs = secs
        self.end = time.monotonic() + secs

    def left(self):
        return self.end - time.monotonic()

    def check(self, doing):
        if self.left() <= 0:
            raise Failure(f"timed out: the test did not finish within --timeout {self.secs:g}s (while {doing})")


def http(method, url, token, body=None, ok=(200, 201, 202, 204), timeout=60):
    """One JSON request; returns (status, parsed body or None). Bounded by the deadline."""
    if DEADLINE is not None:
        DEADLINE.check(f"{method} {url}")
        timeout = min(timeout, max(0.5, DEADLINE.left()))
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with OPENER.open(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        raise Failure(f"{method} {url} failed: {e}") from e
    if status not in ok:
        raise Failure(f"{method} {url} answered HTTP {status}: {raw[:400].decode(errors='replace')}")
    if not raw.strip():
        return status, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw[:400].decode(errors="replace")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Roster:
    """`roster serve` on one data directory and port, started again after each kill."""

    def __init__(self, binary, data_dir, port, log_path, deadline, database=None):
        self.binary, self.data_dir, self.port, self.log_path, self.deadline = binary, data_dir, port, log_path, deadline
        self.database = database  # a PostgreSQL URL, or None for SQLite in the data directory
        self.url = f"http://127.0.0.1:{port}"
        self.proc = None
        self.starts = 0
        self.token = None
        self.server_errors = []  # (time, what)

    def start(self):
        self.starts += 1
        env = dict(os.environ, ROSTER_LOG=os.environ.get("ROSTER_LOG", "roster=info,warn"))
        env.pop("ROSTER_TOKEN", None)
        env.pop("ROSTER_DATABASE_URL", None)
        if self.database:
            env["ROSTER_DATABASE_URL"] = self.database
            # A restart is a new worker, which takes the jobs once the killed
            # one's leases expire: short leases keep the test quick.
            env["ROSTER_LEASE_TTL"] = "2s"
        with open(self.log_path, "a") as log:
            log.write(f"===== chaos: start {self.starts} at {time.time():.3f} =====\n")
            log.flush()
            self.proc = subprocess.Popen(
                [self.binary, "--data-dir", self.data_dir, "serve", "--listen", f"127.0.0.1:{self.port}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        t0 = time.monotonic()
        while True:
            self.deadline.check("waiting for roster to start")
            if self.proc.poll() is not None:
                raise Failure(f"roster exited with status {self.proc.returncode} on start {self.starts}; see its log")
            try:
                with OPENER.open(f"{self.url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - t0 > 60:
                raise Failure(f"roster did not answer /healthz within 60 s on start {self.starts}")
            time.sleep(0.02)
        if self.token is None:
            with open(os.path.join(self.data_dir, "admin.token")) as f:
                self.token = f.read().strip()
        return time.monotonic() - t0

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        """Graceful stop (SIGTERM), then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def api(self, method, path, body=None, ok=(200, 201, 202, 204), timeout=60):
        """A request to the admin API. A 5xx answer is a finding (counted in
        `server_errors`); the request is sent again, a few times, so that the
        crash-safety checks still run."""
        for attempt in range(6):
            status, answer = http(method, f"{self.url}/api/v1{path}", self.token, body, ok + SERVER_ERRORS, timeout)
            if status not in SERVER_ERRORS:
                return answer
            self.server_errors.append((time.time(), f"{method} /api/v1{path} answered HTTP {status}: {answer}"))
            time.sleep(0.05 * 2**attempt)
        raise Failure(f"{method} /api/v1{path} kept answering HTTP {status}: {answer}")


def start_sample_app(binary, token, log_path, deadline):
    env = dict(os.environ, ROSTER_SAMPLE_TOKEN=token)
    with open(log_path, "a") as log:
        proc = subprocess.Popen([binary, "sample-app", "--listen", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], min(60, max(1, deadline.left())))
    line = proc.stdout.readline().strip() if ready else ""
    if not line.startswith("http://127.0.0.1:"):
        proc.kill()
        proc.wait()
        raise Failure(f"the sample app did not print its base URL (got {line!r})")
    return proc, line


class Model:
    """The directory as the test changed it: what every check expects."""

    def __init__(self):
        self.users = {}  # id -> dict(name, display, title, active, deleted)
        self.members = {}  # group name -> set of user ids
        self.children = {}  # group name -> set of group names
        self.assigned = set()  # group names assigned to the app
        self.direct = set()  # user ids assigned directly
        self.ever = set()  # user ids ever in scope
        self.history = {}  # user id -> [(t, round, what)]
        self.scope_cache = None

    def note(self, uid, t, rnd, what):
        self.history.setdefault(uid, []).append((t, rnd, what))

    def transitive(self, g, seen=None):
        seen = seen if seen is not None else set()
        if g in seen:
            return set()
        seen.add(g)
        out = set(self.members.get(g, ()))
        for c in self.children.get(g, ()):
            out |= self.transitive(c, seen)
        return out

    def reached(self):
        """Users the app reaches by assignment (whatever their state)."""
        out = set(self.direct)
        for g in self.assigned:
            out |= self.transitive(g)
        return out

    def in_scope(self):
        if self.scope_cache is None:
            self.scope_cache = {u for u in self.reached() if self.users[u]["active"] and not self.users[u]["deleted"]}
        return self.scope_cache

    def changed(self):
        self.scope_cache = None
        self.ever |= self.in_scope()


class Tally:
    """Counts of failed checks, and the users behind them."""

    NAMES = ["duplicates", "missing", "stale", "wrongly_active", "wrongly_inactive", "never_in_scope", "orphans",
             "group_missing", "group_duplicates", "group_orphans", "member_missing", "member_extra",
             "directory_lost", "assignment_mismatch", "shadow_mismatch", "log_doubled", "log_double_create",
             "log_lost", "log_state_mismatch", "server_errors"]

    def __init__(self):
        self.counts = {}
        self.users = {}  # check name -> user ids

    def fail(self, name, uid=None, n=1):
        self.counts[name] = self.counts.get(name, 0) + n
        if uid is not None:
            self.users.setdefault(name, []).append(uid)

    def line(self):
        return " ".join(f"{k}={self.counts.get(k, 0)}" for k in self.NAMES)


def status(roster):
    return roster.api("GET", "/apps/chaos-app/provisioning/status", timeout=10)


def describe(st):
    p = st.get("progress") or {}
    if p.get("running"):
        return f"{p.get('phase')} cycle running, {p.get('done')}/{p.get('total')} done"
    return f"no cycle running (phase {st.get('phase')})"


class Chaos:
    """One run: the processes, the model of the directory, the kills and the checks."""

    def __init__(self, args, binary, tmp, database=None):
        self.args = args
        self.database = database
        self.rng = random.Random(args.seed)
        global DEADLINE
        self.deadline = DEADLINE = Deadline(args.timeout)
        self.tmp = tmp
        self.binary = binary
        self.model = Model()
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.round = 0
        self.kills = []  # (n, phase, wall time, what was running)
        self.sample = None
        self.roster = None
        self.app_token = "chaos-" + "".join(self.rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(24))
        self.hot = []
        self.renames = 0

    def now(self):
        return time.monotonic() - self.t0

    # ---- setup -------------------------------------------------------------------------------------------

    def setup(self):
        n, rng, m = self.args.users, self.rng, self.model
        self.sample, self.base = start_sample_app(self.binary, self.app_token, os.path.join(self.tmp, "sample-app.log"),
                                                  self.deadline)
        data = os.path.join(self.tmp, "data")
        self.roster = Roster(self.binary, data, free_port(), os.path.join(self.tmp, "roster.log"), self.deadline,
                             self.database)
        self.roster.start()
        r = self.roster
        rows = []
        for i in range(n):
            active = rng.random() >= 0.01
            rows.append({"userName": f"user{i:06d}@{DOMAIN}", "displayName": f"User {i}", "givenName": "User",
                         "surname": f"N{i}", "jobTitle": rng.choice(TITLES), "active": active})
        ids = []
        for start in range(0, n, 5000):
            self.deadline.check("seeding users")
            chunk = rows[start:start + 5000]
            res = r.api("POST", "/users/bulk", {"upsert": chunk})["results"]
            bad = [x for x in res if x.get("status") != "created"]
            if bad:
                raise Failure(f"bulk create refused rows: {bad[:3]}")
            for row, x in zip(chunk, sorted(res, key=lambda x: x["index"])):
                ids.append(x["id"])
                m.users[x["id"]] = {"name": row["userName"], "display": row["displayName"], "title": row["jobTitle"],
                                    "active": row["active"], "deleted": False}
        self.ids = ids
        # Teams: most users in one, some in two; an inner group nested in team 0.
        for t in range(TEAMS):
            r.api("POST", "/groups", {"displayName": f"chaos-team-{t}"})
            m.members[f"chaos-team-{t}"] = set()
        r.api("POST", "/groups", {"displayName": "chaos-inner"})
        m.members["chaos-inner"] = set()
        for uid in ids:
            if rng.random() < 0.75:
                m.members[f"chaos-team-{rng.randrange(TEAMS)}"].add(uid)
            if rng.random() < 0.2:
                m.members[f"chaos-team-{rng.randrange(TEAMS)}"].add(uid)
            if rng.random() < 0.03:
                m.members["chaos-inner"].add(uid)
        for g, members in m.members.items():
            members = sorted(members)
            for start in range(0, len(members), 50000):
                r.api("POST", f"/groups/{g}/members", {"users": members[start:start + 50000]})
        r.api("POST", "/groups/chaos-team-0/members", {"group": "chaos-inner"})
        m.children["chaos-team-0"] = {"chaos-inner"}
        # Soft-delete a few users; assign some users directly.
        for uid in rng.sample(ids, max(1, n // 200)):
            r.api("DELETE", f"/users/{uid}")
            m.users[uid]["deleted"] = True
        r.api("POST", "/apps", {"name": "chaos-app"})
        for uid in rng.sample(ids, max(1, n // 50)):
            if not m.users[uid]["deleted"]:
                r.api("POST", "/apps/chaos-app/assignments", {"user": uid})
                m.direct.add(uid)
        for t in range(ASSIGNED_TEAMS):
            r.api("POST", "/apps/chaos-app/assignments", {"group": f"chaos-team-{t}"})
            m.assigned.add(f"chaos-team-{t}")
        m.changed()
        # Most random changes go to a small hot set, so that changes to one user
        # meet kills and other changes to the same user.
        self.hot = rng.sample(ids, min(len(ids), max(10, min(100, n // 50))))
        # The accidental-deletion guard would rightly hold a whole group leaving the
        # app; here such changes are meant, so its threshold is the directory's size.
        r.api("PATCH", "/apps/chaos-app/provisioning",
              {"tenantUrl": self.base, "secretToken": self.app_token, "mode": "automatic", "deleteThreshold": n})
        r.api("POST", "/apps/chaos-app/provisioning/start")
        print(f"chaos: {n} users ({len(m.in_scope())} in scope), {TEAMS + 1} groups, {len(m.direct)} direct "
              f"assignments; provisioning started at +{self.now():.1f}s", flush=True)

    # ---- kills -------------------------------------------------------------------------------------------

    def kill_and_restart(self, last, note):
        if self.args.term:
            self.roster.stop()
        else:
            self.roster.kill()
        phase = (last or {}).get("phase", "unknown")
        at = time.time()
        n = len(self.kills) + 1
        self.kills.append((n, phase, at, describe(last) if last else "status unknown"))
        took = self.roster.start()
        print(f"{'stop' if self.args.term else 'kill'} {n:2d}/{self.args.kills} [{phase}] +{self.now():6.1f}s {note}; "
              f"{self.kills[-1][3]}; restarted in {took:.2f}s", flush=True)

    def initial_kills(self, count):
        """Kills at random moments of the initial cycle; returns how many were made.

        Each kill comes a random fraction of the expected rest of the walk after the
        cycle is seen running; the walk's speed is measured from its progress."""
        n, in_scope = self.args.users, max(1, len(self.model.in_scope()))
        rate = 8000.0  # users per second until measured
        made = 0
        for _ in range(count):
            u = self.rng.uniform(0.02, 0.9)
            running_since, last, elapsed = None, None, 0.0
            while True:
                self.deadline.check("killing during the initial cycle")
                st = status(self.roster)
                if st.get("phase") != "initial":
                    print(f"chaos: the initial cycle ended before kill {len(self.kills) + 1}; "
                          f"the remaining kills go to incremental cycles", flush=True)
                    return made
                last = st
                p = st.get("progress") or {}
                if p.get("running") and running_since is None:
                    running_since = time.monotonic()
                if running_since is not None:
                    elapsed = time.monotonic() - running_since
                    if p.get("done", 0) > 0 and elapsed > 0.05:
                        rate = p["done"] / elapsed
                    # The users walked so far, about: accounts made, over the share in scope.
                    walked = min(n, (st.get("accounts") or {}).get("provisioned", 0) * n / in_scope)
                    if elapsed >= u * max(0.1, (n - walked) / rate):
                        break
                time.sleep(0.01)
            self.kill_and_restart(last, f"{elapsed:.2f}s into the initial cycle")
            made += 1
        return made

    def pick_user(self, cond, hot=0.6):
        rng = self.rng
        for _ in range(200):
            pool = self.hot if rng.random() < hot else self.ids
            uid = rng.choice(pool)
            if cond(self.model.users[uid]):
                return uid
        return None

    def change(self):
        """One random directory change, applied and recorded; returns its description."""
        rng, m, r = self.rng, self.model, self.roster
        t = self.now()
        kind = rng.choices(
            ["title", "display", "rename", "disable", "enable", "delete", "restore", "assign", "unassign",
             "add_member", "remove_member", "inner_member", "churn", "nest"],
            weights=[20, 10, 3, 8, 8, 3, 3, 6, 5, 8, 8, 3, 8, 1])[0]
        live = lambda u: not u["deleted"]  # noqa: E731
        if kind in ("title", "display", "rename"):
            uid = self.pick_user(live)
            if uid is None:
                return None
            u = m.users[uid]
            if kind == "title":
                u["title"] = rng.choice([x for x in TITLES if x != u["title"]])
                r.api("PATCH", f"/users/{uid}", {"jobTitle": u["title"]})
                what = f"jobTitle={u['title']}"
            elif kind == "display":
                u["display"] = f"User {uid[:8]} r{self.round}.{rng.randrange(1000)}"
                r.api("PATCH", f"/users/{uid}", {"displayName": u["display"]})
                what = f"displayName={u['display']!r}"
            else:
                self.renames += 1
                local = u["name"].split("@")[0].split(".")[0]
                u["name"] = f"{local}.r{self.renames}@{DOMAIN}"
                r.api("PATCH", f"/users/{uid}", {"userName": u["name"]})
                what = f"userName={u['name']}"
        elif kind == "disable":
            uid = self.pick_user(lambda u: live(u) and u["active"])
            if uid is None:
                return None
            m.users[uid]["active"] = False
            r.api("POST", f"/users/{uid}/disable")
            what = "disabled"
        elif kind == "enable":
            uid = self.pick_user(lambda u: live(u) and not u["active"], hot=0.8)
            if uid is None:
                return None
            m.users[uid]["active"] = True
            r.api("POST", f"/users/{uid}/enable")
            what = "enabled"
        elif kind == "delete":
            uid = self.pick_user(live)
            if uid is None:
                return None
            m.users[uid]["deleted"] = True
            r.api("DELETE", f"/users/{uid}")
            what = "soft-deleted"
        elif kind == "restore":
            uid = self.pick_user(lambda u: u["deleted"], hot=0.8)
            if uid is None:
                return None
            m.users[uid]["deleted"] = False
            r.api("POST", f"/users/{uid}/restore")
            what = "restored"
        elif kind == "assign":
            uid = self.pick_user(live)
            if uid is None or uid in m.direct:
                return None
            m.direct.add(uid)
            r.api("POST", "/apps/chaos-app/assignments", {"user": uid})
            what = "assigned directly"
        elif kind == "unassign":
            pool = [u for u in self.hot if u in m.direct] if rng.random() < 0.6 else sorted(m.direct)
            if not pool:
                return None
            uid = rng.choice(pool)
            m.direct.discard(uid)
            r.api("DELETE", f"/apps/chaos-app/assignments?user={uid}")
            what = "unassigned (direct)"
        elif kind == "churn":
            # A user leaves the app and comes back while its groups change: the
            # sequence behind the crash-safety bugs found so far.
            uid = self.pick_user(live, hot=0.9)
            if uid is None:
                return None
            u, teams = m.users[uid], [f"chaos-team-{i}" for i in range(TEAMS)]
            mine = [g for g in teams if uid in m.members[g]]
            others = [g for g in teams if uid not in m.members[g]]
            steps = []
            if u["active"]:
                u["active"] = False
                r.api("POST", f"/users/{uid}/disable")
                steps.append("disabled")
            if mine:
                g = rng.choice(mine)
                m.members[g].discard(uid)
                r.api("DELETE", f"/groups/{g}/members/{uid}")
                steps.append(f"removed from {g}")
            if others:
                g = rng.choice(others)
                m.members[g].add(uid)
                r.api("POST", f"/groups/{g}/members", {"user": uid})
                steps.append(f"added to {g}")
            if rng.random() < 0.5:
                u["active"] = True
                r.api("POST", f"/users/{uid}/enable")
                steps.append("enabled")
            what = "churn: " + ", ".join(steps)
        elif kind == "nest":
            # chaos-inner in and out of chaos-team-0: its users join or leave the team.
            nested = "chaos-inner" in m.children.get("chaos-team-0", set())
            if nested:
                m.children["chaos-team-0"].discard("chaos-inner")
                r.api("DELETE", "/groups/chaos-team-0/members/chaos-inner")
                what = "chaos-inner taken out of chaos-team-0"
            else:
                m.children.setdefault("chaos-team-0", set()).add("chaos-inner")
                r.api("POST", "/groups/chaos-team-0/members", {"group": "chaos-inner"})
                what = "chaos-inner nested in chaos-team-0"
            for uid in m.transitive("chaos-inner"):
                m.note(uid, t, self.round, what)
            m.changed()
            return kind
        elif kind in ("add_member", "remove_member", "inner_member"):
            g = "chaos-inner" if kind == "inner_member" else f"chaos-team-{rng.randrange(TEAMS)}"
            uid = self.pick_user(live)
            if uid is None:
                return None
            if uid in m.members[g]:
                m.members[g].discard(uid)
                r.api("DELETE", f"/groups/{g}/members/{uid}")
                what = f"removed from {g}"
            else:
                m.members[g].add(uid)
                r.api("POST", f"/groups/{g}/members", {"user": uid})
                what = f"added to {g}"
        m.note(uid, t, self.round, what)
        m.changed()
        return f"{kind}"

    def big_change(self):
        """A change that reaches many users at once, so that cycles take a while."""
        rng, m, r = self.rng, self.model, self.roster
        t = self.now()
        kind = rng.choice(["group_assignment", "bulk_titles", "bulk_members"])
        if kind == "group_assignment":
            g = f"chaos-team-{rng.randrange(1, TEAMS)}"
            if g in m.assigned and len(m.assigned) > 2:
                m.assigned.discard(g)
                r.api("DELETE", f"/apps/chaos-app/assignments?group={g}")
                what = f"group {g} unassigned"
            else:
                if g in m.assigned:
                    return None
                m.assigned.add(g)
                r.api("POST", "/apps/chaos-app/assignments", {"group": g})
                what = f"group {g} assigned"
            for uid in m.transitive(g):
                m.note(uid, t, self.round, what)
        elif kind == "bulk_titles":
            chosen = rng.sample(self.ids, min(len(self.ids), rng.randrange(100, 600)))
            rows = []
            for uid in chosen:
                u = m.users[uid]
                u["title"] = rng.choice([x for x in TITLES if x != u["title"]])
                rows.append({"userName": u["name"], "jobTitle": u["title"]})
                m.note(uid, t, self.round, f"bulk jobTitle={u['title']}")
            res = r.api("POST", "/users/bulk", {"upsert": rows})["results"]
            bad = [x for x in res if x.get("status") != "updated"]
            if bad:
                raise Failure(f"bulk update refused rows: {bad[:3]}")
            what = f"{len(rows)} titles in one bulk request"
        else:
            g = rng.choice(sorted(m.assigned))
            chosen = [u for u in rng.sample(self.ids, min(len(self.ids), rng.randrange(100, 400)))
                      if u not in m.members[g] and not m.users[u]["deleted"]]
            if not chosen:
                return None
            m.members[g] |= set(chosen)
            r.api("POST", f"/groups/{g}/members", {"users": chosen})
            for uid in chosen:
                m.note(uid, t, self.round, f"bulk added to {g}")
            what = f"{len(chosen)} members added to {g}"
        m.changed()
        return what

    def incremental_kills(self, count):
        for _ in range(count):
            self.round += 1
            self.deadline.check("making changes")
            made, big = 0, None
            wanted = self.rng.randrange(5, 40)
            if self.rng.random() < 0.4:
                big = self.big_change()
            while made < wanted:
                if self.change() is not None:
                    made += 1
            # The kill comes a random 0-500 ms after the last change: at the first
            # moment past the drawn delay when a cycle is running, else at 500 ms.
            t_last = time.monotonic()
            delay = self.rng.uniform(0.0, 0.5)
            while True:
                last = status(self.roster)
                waited = time.monotonic() - t_last
                if waited >= 0.5 or (waited >= delay and (last.get("progress") or {}).get("running")):
                    break
                time.sleep(0.01)
            note = f"{made} changes{' + ' + big if big else ''}, killed {waited * 1000:.0f} ms after the last"
            self.kill_and_restart(last, note)

    # ---- steady state ------------------------------------------------------------------------------------

    def settle(self):
        """Waits until a cycle run on request finds nothing to do (twice in a row)."""
        quiet, failed_cycles, said = 0, 0, time.monotonic()
        while quiet < 2:
            st = status(self.roster)
            summary = (f"state {st.get('state')}, phase {st.get('phase')}, {describe(st)}, "
                       f"last error {st.get('lastError')!r}, quarantine {json.dumps(st.get('quarantine'))}")
            self.deadline.check(f"waiting for steady state; roster says: {summary}")
            if st.get("quarantine"):
                raise Failure(f"the job went into quarantine, so it cannot settle: {summary}")
            if time.monotonic() - said > 30:
                print(f"chaos: still waiting for steady state: {summary}", flush=True)
                said = time.monotonic()
            if st.get("phase") != "incremental" or (st.get("progress") or {}).get("running"):
                time.sleep(0.3)
                continue
            res = self.roster.api("POST", "/apps/chaos-app/provisioning/sync?wait=true",
                                  timeout=max(5, self.deadline.left()))
            c = res.get("counts") or {}
            if c.get("failed"):
                failed_cycles += 1
            changes = sum(c.get(k, 0) for k in ("created", "updated", "disabled", "enabled", "deleted"))
            quiet = quiet + 1 if changes == 0 and not c.get("failed") else 0
            if failed_cycles >= 5:
                raise Failure(f"steady state not reached: cycles keep failing ({c}); last error: {st.get('lastError')}")
            time.sleep(0.5)
        return status(self.roster)

    # ---- checks ------------------------------------------------------------------------------------------

    def read_all_app(self, resource):
        out, start = [], 1
        while True:
            _, page = http("GET", f"{self.base}/{resource}?startIndex={start}&count=1000", self.app_token)
            items = page.get("Resources") or []
            out.extend(items)
            start += len(items)
            if not items or start > page.get("totalResults", 0):
                return out

    def read_all_api(self, path, limit=1000):
        out, offset = [], 0
        sep = "&" if "?" in path else "?"
        while True:
            page = self.roster.api("GET", f"{path}{sep}limit={limit}&offset={offset}")
            out.extend(page["items"])
            offset += limit
            if offset >= page["total"]:
                return out

    def check(self, final_status):
        """Every check; returns the tally of what failed."""
        tally = Tally()
        self.check_directory(tally)
        self.check_accounts(tally)
        self.check_groups(tally)
        self.check_log(tally)
        if self.roster.server_errors:
            tally.fail("server_errors", None, len(self.roster.server_errors))
        # roster's own view: its shadow of enabled accounts.
        enabled, in_scope = (final_status.get("accounts") or {}).get("enabled"), len(self.model.in_scope())
        if enabled != in_scope:
            tally.fail("shadow_mismatch", None, abs((enabled or 0) - in_scope) or 1)
        return tally

    def check_directory(self, tally):
        """The directory holds every acknowledged change."""
        m = self.model
        directory = {u["id"]: u for u in self.read_all_api("/users?includeDeleted=true")}
        for uid, mu in m.users.items():
            d = directory.get(uid)
            seen = d and (d["userName"], d.get("displayName"), d.get("jobTitle"), d["active"],
                          d.get("deletedAt") is not None)
            if seen != (mu["name"], mu["display"], mu["title"], mu["active"], mu["deleted"]):
                tally.fail("directory_lost", uid)
        effective = {e["userId"] for e in self.read_all_api("/apps/chaos-app/effective-assignments")}
        for uid in effective ^ m.reached():
            tally.fail("assignment_mismatch", uid)

    def check_accounts(self, tally):
        """Accounts in the app, by externalId (the directory user's id), against the scope."""
        m, scope = self.model, self.model.in_scope()
        self.accounts, self.target_of = {}, {}
        for a in self.read_all_app("Users"):
            self.accounts.setdefault(a.get("externalId"), []).append(a)
        for ext, accs in self.accounts.items():
            if ext not in m.users:
                tally.fail("orphans", None, len(accs))
        for uid, mu in m.users.items():
            accs = self.accounts.get(uid, [])
            if len(accs) > 1:
                tally.fail("duplicates", uid)
            if uid not in scope:
                if accs and uid not in m.ever:
                    tally.fail("never_in_scope", uid)
                if any(a.get("active") is not False for a in accs):
                    tally.fail("wrongly_active", uid)
                continue
            if not accs:
                tally.fail("missing", uid)
                continue
            # Of duplicates, the one with the current userName is judged (the rest are counted once).
            a = next((x for x in accs if x.get("userName") == mu["name"]), accs[0])
            self.target_of[uid] = a["id"]
            if a.get("active") is not True:
                tally.fail("wrongly_inactive", uid)
            if (a.get("userName"), a.get("displayName"), a.get("title")) != (mu["name"], mu["display"], mu["title"]):
                tally.fail("stale", uid)

    def check_groups(self, tally):
        """Every assigned group once in the app, with exactly its members in scope."""
        m, scope = self.model, self.model.in_scope()
        groups = {}
        for g in self.read_all_app("Groups"):
            groups.setdefault(g.get("displayName"), []).append(g)
        for name, gs in groups.items():
            if name not in m.members:
                tally.fail("group_orphans", None, len(gs))
            elif len(gs) > 1:
                tally.fail("group_duplicates")
        by_target = {t: u for u, t in self.target_of.items()}
        for name in sorted(m.assigned):
            gs = groups.get(name, [])
            if not gs:
                tally.fail("group_missing")
                continue
            held = {x.get("value") for x in gs[0].get("members") or []}
            want = {self.target_of[u] for u in m.transitive(name) if u in scope and u in self.target_of}
            for t in want - held:
                tally.fail("member_missing", by_target.get(t))
            for t in held - want:
                tally.fail("member_extra", by_target.get(t))

    def check_log(self, tally):
        """The provisioning log: nothing twice, nothing lost, its last word as the app."""
        self.logs = self.read_all_api("/apps/chaos-app/provisioning/logs?format=json", limit=10000)
        seen_ids, seen_keys, creates, last_word, logged_targets = set(), set(), {}, {}, set()
        for e in self.logs:  # newest first
            # A group may have two entries in one change (members leaving, then the
            # group itself); a user has one at most, and no entry is recorded twice.
            key = (e["cycleId"], e["changeId"], e["sourceId"], e["action"])
            if e["id"] in seen_ids or (e["objectKind"] == "user" and key in seen_keys):
                tally.fail("log_doubled", e["sourceId"] if e["objectKind"] == "user" else None)
            seen_ids.add(e["id"])
            if e["objectKind"] != "user":
                continue
            seen_keys.add(key)
            if e["status"] != "Success":
                continue
            uid = e["sourceId"]
            if e.get("targetId"):
                logged_targets.add(e["targetId"])
            if e["action"] == "Create":
                creates[uid] = creates.get(uid, 0) + 1
            if e["action"] in ("Create", "Update", "Enable", "Disable") and uid not in last_word:
                last_word[uid] = e["action"]
        for uid, n in creates.items():
            if n > 1:
                tally.fail("log_double_create", uid)
        for uid, accs in self.accounts.items():
            for a in accs:
                if a["id"] not in logged_targets:
                    tally.fail("log_lost", uid if uid in self.model.users else None)
            if uid in self.model.users and len(accs) == 1 and uid in last_word:
                if (last_word[uid] == "Disable") != (accs[0].get("active") is False):
                    tally.fail("log_state_mismatch", uid)

    # ---- reporting ---------------------------------------------------------------------------------------

    def explain(self, bad):
        """Evidence for a few failing users: what the test did, the app, the log, the kills."""
        def utc(t):
            return time.strftime("%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}"

        kills = ", ".join(f"#{n} {ph} +{at - self.wall0:.2f}s ({utc(at)}Z)" for n, ph, at, _ in self.kills)
        print(f"kills: {kills}")
        for at, what in self.roster.server_errors[:5]:
            print(f"--- server_errors: +{at - self.wall0:.2f}s ({utc(at)}Z) {what}")
        shown = 0
        for name, uids in bad.items():
            for uid in list(dict.fromkeys(u for u in uids if u))[:2]:
                if shown >= 12:
                    return
                shown += 1
                mu = self.model.users.get(uid, {})
                print(f"--- {name}: user {uid} ({mu.get('name')}): directory active={mu.get('active')} "
                      f"deleted={mu.get('deleted')} in_scope={uid in self.model.in_scope()} "
                      f"ever_in_scope={uid in self.model.ever}")
                for t, rnd, what in self.model.history.get(uid, [])[-8:]:
                    print(f"    change +{t:.2f}s round {rnd}: {what}")
                for a in self.accounts.get(uid, []):
                    meta = a.get("meta") or {}
                    print(f"    app account {a['id']}: userName={a.get('userName')} active={a.get('active')} "
                          f"displayName={a.get('displayName')!r} title={a.get('title')!r} "
                          f"created={meta.get('created')} lastModified={meta.get('lastModified')}")
                for e in reversed([e for e in self.logs if e["sourceId"] == uid][:10]):
                    steps = "; ".join(s.get("outcome", "") for s in e.get("steps") or [])
                    print(f"    log +{e['at'] / 1000 - self.wall0:.2f}s cycle {e['cycleId'][:8]} change "
                          f"{e['changeId']}: {e['action']} {e['status']} target={e.get('targetId')}: {steps}")

    def run(self):
        self.setup()
        n_initial = min(self.args.kills, max(1, self.args.kills // 4)) if self.args.kills else 0
        made = self.initial_kills(n_initial)
        self.incremental_kills(self.args.kills - made)
        mid = sum(1 for k in self.kills if k[3].endswith("done"))
        print(f"chaos: {len(self.kills)} kills done at +{self.now():.1f}s ({mid} with a cycle seen running); "
              f"waiting for steady state", flush=True)
        st = self.settle()
        print(f"chaos: steady state at +{self.now():.1f}s; checking the app against the directory", flush=True)
        tally = self.check(st)
        accounts = sum(len(v) for v in self.accounts.values())
        active = sum(1 for v in self.accounts.values() for a in v if a.get("active") is True)
        print(f"chaos: {len(self.model.in_scope())} users in scope, {accounts} accounts in the app ({active} active), "
              f"{len(self.logs)} log entries, {self.roster.starts} starts of roster")
        print(tally.line())
        warnings = server_warnings(self.roster.log_path)
        if warnings:
            print(f"chaos: roster logged {len(warnings)} warning(s) or error(s); the first: {warnings[0]}")
        if any(tally.counts.values()):
            for w in list(dict.fromkeys(warnings))[:10]:
                print(f"    roster: {w}")
            self.explain(tally.users)
            raise Failure("the app does not match the directory after the kills (counts above)")


def server_warnings(path):
    """roster's WARN and ERROR lines, without their timestamps."""
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                line = ANSI.sub("", line)
                if " WARN " in line or " ERROR " in line:
                    out.append(line.strip().split(" ", 1)[-1])
    except OSError:
        pass
    return out


def tail(path, n=40):
    """The last lines of a server log, without the routine ones of each start."""
    routine = ("===== chaos: start", "roster: serving on", "roster: created the admin API token")
    try:
        with open(path, errors="replace") as f:
            lines = [ANSI.sub("", x) for x in f if not x.startswith(routine)]
    except OSError:
        return ""
    return "".join(lines[-n:])


def replay_command(args, seed):
    """The command that runs `seed` again, as this run did."""
    extra = f" --store {args.store}" if args.store != "sqlite" else ""
    extra += " --term" if args.term else ""
    return f"bash scripts/chaos.sh --seed {seed} --users {args.users} --kills {args.kills}{extra}"


def psql(url, sql):
    """Runs one statement with the psql client (the test stays standard library only)."""
    res = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], capture_output=True, text=True,
                         timeout=60)
    if res.returncode != 0:
        raise Failure(f"psql failed ({sql}): {res.stderr.strip()}")
    return res.stdout


def fresh_postgres(url):
    """A fresh database on the PostgreSQL server `url` names: (its URL, its name)."""
    if "/" not in url.split("://", 1)[-1]:
        raise Failure(f"--postgres-url {url!r} must end with /database")
    name = "roster_chaos_" + "".join(random.SystemRandom().choice("0123456789abcdef") for _ in range(12))
    psql(url, f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name, name


def run_one(args, seed, binary):
    """One chaos run with `seed`; returns 0 when every check passed."""
    args.seed = seed
    print(f"chaos: --users {args.users} --kills {args.kills} --seed {seed} --timeout {args.timeout:g} "
          f"--store {args.store}{' --term' if args.term else ''}", flush=True)
    print(f"chaos: replay with: {replay_command(args, seed)}", flush=True)

    def on_alarm(_signum, _frame):
        raise Failure(f"timed out: the test did not finish within --timeout {args.timeout:g}s")

    # A backstop for the deadline, should anything block past it.
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.timeout) + 10)
    tmp = tempfile.mkdtemp(prefix="roster-chaos-")
    database, db_name, chaos = None, None, None
    started = time.monotonic()
    code = 0
    try:
        if args.store == "postgres":
            database, db_name = fresh_postgres(args.postgres_url)
        chaos = Chaos(args, binary, tmp, database)
        chaos.run()
        print(f"chaos: passed in {time.monotonic() - started:.0f}s (seed {seed})")
    except Exception as e:  # noqa: BLE001 - any failure ends the run with the evidence and a cleanup
        code = 1
        if not isinstance(e, Failure):
            traceback.print_exc()
        print(f"chaos: FAILED after {time.monotonic() - started:.0f}s (seed {seed}): {e}", file=sys.stderr)
        print(f"chaos: replay with: {replay_command(args, seed)}", file=sys.stderr)
        log = tail(os.path.join(tmp, "roster.log"))
        print("--- last lines of roster's log (ROSTER_LOG sets its filter) ---" if log
              else "--- roster logged nothing but its starts ---", file=sys.stderr)
        print(log, file=sys.stderr, end="")
    finally:
        signal.alarm(0)
        if chaos is not None and chaos.roster is not None:
            chaos.roster.stop()
        if chaos is not None and chaos.sample is not None:
            chaos.sample.terminate()
            try:
                chaos.sample.wait(timeout=10)
            except subprocess.TimeoutExpired:
                chaos.sample.kill()
                chaos.sample.wait()
        if args.keep:
            print(f"chaos: kept {tmp}{f' and the database {db_name}' if db_name else ''}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            if db_name:
                try:
                    psql(args.postgres_url, f"DROP DATABASE IF EXISTS {db_name}")
                except (Failure, OSError, subprocess.SubprocessError) as e:
                    print(f"chaos: could not drop the database {db_name}: {e}", file=sys.stderr)
    return code


def main():
    ap = argparse.ArgumentParser(description="Chaos test: SIGKILL roster mid-cycle, then check the app.")
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=None, help="one run with this seed")
    ap.add_argument("--seeds", type=int, default=None, help="a soak: this many runs, each with a random seed")
    ap.add_argument("--seed-list", default=None, help="runs with these seeds, comma-separated")
    ap.add_argument("--timeout", type=float, default=600, help="the deadline of each run, in seconds")
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--postgres-url",
                    default=os.environ.get("ROSTER_TEST_POSTGRES") or "postgres://postgres@127.0.0.1:5432/test",
                    help="with --store postgres: the server on which each run gets a fresh database")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (and database)")
    ap.add_argument("--term", action="store_true",
                    help="stop roster with SIGTERM (a graceful shutdown, which must be as safe) instead of SIGKILL")
    args = ap.parse_args()
    if args.users < 10 or args.kills < 0:
        ap.error("--users must be at least 10 and --kills at least 0")
    if sum(x is not None for x in (args.seed, args.seeds, args.seed_list)) > 1:
        ap.error("give at most one of --seed, --seeds and --seed-list")
    system = random.SystemRandom()
    if args.seed_list is not None:
        try:
            seeds = [int(x) for x in args.seed_list.split(",") if x.strip()]
        except ValueError:
            ap.error(f"--seed-list must be comma-separated numbers, not {args.seed_list!r}")
    elif args.seeds is not None:
        seeds = [system.randrange(1, 1_000_000) for _ in range(max(1, args.seeds))]
    else:
        seeds = [args.seed if args.seed is not None else system.randrange(1, 1_000_000)]
    binary = os.environ.get("ROSTER_BIN") or "target/release/roster"
    if not os.access(binary, os.X_OK):
        print(f"chaos: no roster binary at {binary}: build it (cargo build --release -p roster) or set ROSTER_BIN",
              file=sys.stderr)
        return 2
    binary = os.path.abspath(binary)

    def on_signal(signum, _frame):
        raise Failure(f"interrupted by signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    failed, started = [], time.monotonic()
    for i, seed in enumerate(seeds, 1):
        if len(seeds) > 1:
            print(f"chaos: run {i} of {len(seeds)}", flush=True)
        if run_one(args, seed, binary) != 0:
            failed.append(seed)
    if len(seeds) > 1:
        print(f"chaos: {len(seeds) - len(failed)} of {len(seeds)} runs passed on {args.store} "
              f"in {time.monotonic() - started:.0f}s; seeds: {','.join(map(str, seeds))}", flush=True)
        for seed in failed:
            print(f"chaos: seed {seed} failed; replay with: {replay_command(args, seed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
