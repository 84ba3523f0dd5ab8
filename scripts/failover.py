#!/usr/bin/env python3
"""Failover test of roster's workers on PostgreSQL (Python 3.11, standard library only).

Starts several `roster serve` processes (workers) on one fresh PostgreSQL database
and several sample SCIM apps, each in its own process; seeds a directory of
--users people, all assigned to every app, and starts provisioning. While the
initial cycles run:
  1. the worker holding the most jobs is killed with SIGKILL: its jobs must be
     taken by the other workers within 30 s (the lease expires, another worker
     takes it with a higher fencing token and resumes from the last record);
  2. a worker with a cycle running is stopped with SIGSTOP until the others took
     its jobs, then continued: it must write nothing (its log shows the fencing
     refusals: the store refused the writes of the cycle it had under way).
At the end, once every job is at steady state, each app must hold exactly the
directory's accounts (none missing, none twice, none stale, every one active),
and each app's provisioning log must have no entry twice, no account created
twice, and an entry for every account.

  bash scripts/failover.sh                                   # the test command's size
  bash scripts/failover.sh --users 20000 --latency-ms 0      # by hand: the issue's size
  ROSTER_BIN=target/release/roster python3 scripts/failover.py --keep

Options: --users N (per app), --apps N, --workers N (at least 3), --lease-ttl SECS,
--latency-ms MS (each sample app holds its answers back this long, so that cycles
last long enough to be cut at the small size), --concurrency N (requests in flight
per app), --postgres-url URL (a fresh database is made on that server and dropped
after), --timeout SECS, --keep (keep the logs and the database).
"""

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import shutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos import OPENER, Deadline, Failure, free_port, fresh_postgres, http, psql, start_sample_app, tail  # noqa: E402

import urllib.error  # noqa: E402

DOMAIN = "failover.example"
FAILOVER_LIMIT = 30.0  # seconds: a dead worker's jobs run elsewhere within this


class Worker:
    """One `roster serve` process on the shared PostgreSQL."""

    def __init__(self, binary, name, tmp, database, master_key, lease_ttl, deadline):
        self.binary, self.name, self.database, self.deadline = binary, name, database, deadline
        self.data_dir = os.path.join(tmp, name)
        self.log_path = os.path.join(tmp, f"{name}.log")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, ROSTER_DATABASE_URL=database, ROSTER_MASTER_KEY=master_key,
                        ROSTER_LEASE_TTL=f"{lease_ttl}s", ROSTER_WORKER_NAME=name,
                        ROSTER_LOG=os.environ.get("ROSTER_LOG", "roster=info,warn"))
        self.env.pop("ROSTER_TOKEN", None)
        self.proc = None
        self.id = None

    def start(self):
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                [self.binary, "--data-dir", self.data_dir, "serve", "--listen", f"127.0.0.1:{self.port}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env)
        t0 = time.monotonic()
        while True:
            self.deadline.check(f"waiting for {self.name} to start")
            if self.proc.poll() is not None:
                raise Failure(f"{self.name} exited with status {self.proc.returncode}; see {self.log_path}")
            try:
                with OPENER.open(f"{self.url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - t0 > 60:
                raise Failure(f"{self.name} did not answer /healthz within 60 s")
            time.sleep(0.05)
        with open(self.log_path) as f:
            for line in f:
                if line.startswith("roster: worker "):
                    self.id = line.split()[-1]
        if not self.id:
            raise Failure(f"{self.name} did not say its worker id")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self):
        if not self.alive():
            return
        try:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


class Failover:
    def __init__(self, args, binary, tmp, database):
        self.args, self.binary, self.tmp, self.database = args, binary, tmp, database
        self.deadline = Deadline(args.timeout)
        self.t0 = time.monotonic()
        self.key = secrets.token_hex(32)
        self.app_token = "failover-" + secrets.token_hex(12)
        self.samples = []  # (process, base URL)
        self.workers = []
        self.token = None
        self.failures = []
        self.figures = []

    def now(self):
        return time.monotonic() - self.t0

    def say(self, text):
        print(f"failover: +{self.now():6.1f}s {text}", flush=True)

    def api(self, worker, method, path, body=None, ok=(200, 201, 202, 204), timeout=60):
        return http(method, f"{worker.url}/api/v1{path}", self.token, body, ok, timeout)[1]

    def live(self):
        return [w for w in self.workers if w.alive()]

    def holders(self, via):
        """app id -> worker id, for leases held by live workers, as `via` sees them."""
        out = {}
        for w in self.api(via, "GET", "/workers"):
            if w["live"]:
                for job in w["jobs"]:
                    out[job] = w["id"]
        return out

    def app_count(self, base):
        _, page = http("GET", f"{base}/Users?count=0", self.app_token)
        return page.get("totalResults", 0)

    # ---- setup -------------------------------------------------------------------------------------------

    def setup(self):
        a = self.args
        latency = ["--latency-ms", str(a.latency_ms)] if a.latency_ms > 0 else []
        for i in range(a.apps):
            log = os.path.join(self.tmp, f"sample-app-{i}.log")
            proc, base = start_sample_app_with(self.binary, self.app_token, log, self.deadline, latency)
            self.samples.append((proc, base))
        for i in range(a.workers):
            w = Worker(self.binary, f"worker-{i + 1}", self.tmp, self.database, self.key, a.lease_ttl, self.deadline)
            w.start()
            if self.token is None:
                with open(os.path.join(w.data_dir, "admin.token")) as f:
                    self.token = f.read().strip()
            self.workers.append(w)
        self.say(f"{a.workers} workers and {a.apps} sample apps started")
        first = self.workers[0]
        ids = []
        for start in range(0, a.users, 5000):
            self.deadline.check("seeding users")
            rows = [{"userName": f"user{i:06d}@{DOMAIN}", "displayName": f"User {i}", "givenName": "User",
                     "surname": f"N{i}"} for i in range(start, min(a.users, start + 5000))]
            res = self.api(first, "POST", "/users/bulk", {"upsert": rows})["results"]
            bad = [x for x in res if x.get("status") != "created"]
            if bad:
                raise Failure(f"bulk create refused rows: {bad[:3]}")
            ids.extend(x["id"] for x in sorted(res, key=lambda x: x["index"]))
        self.api(first, "POST", "/groups", {"displayName": "everyone"})
        for start in range(0, len(ids), 50000):
            self.api(first, "POST", "/groups/everyone/members", {"users": ids[start:start + 50000]})
        self.app_ids = []
        for i, (_, base) in enumerate(self.samples):
            app = self.api(first, "POST", "/apps", {"name": f"app{i}"})
            self.app_ids.append(app["id"])
            self.api(first, "POST", f"/apps/app{i}/assignments", {"group": "everyone"})
            self.api(first, "PATCH", f"/apps/app{i}/provisioning",
                     {"tenantUrl": base, "secretToken": self.app_token, "mode": "automatic",
                      "deleteThreshold": a.users, "concurrency": a.concurrency})
        for i in range(a.apps):
            self.api(first, "POST", f"/apps/app{i}/provisioning/start")
        self.say(f"{a.users} users assigned to {a.apps} apps; provisioning started")

    # ---- the kill ----------------------------------------------------------------------------------------

    def wait_for_jobs_elsewhere(self, gone, what):
        """Waits until every job `gone` (a worker) held is held by another live worker; returns the seconds."""
        t0 = time.monotonic()
        via = next(w for w in self.live() if w is not gone)
        while True:
            self.deadline.check(what)
            holders = self.holders(via)
            live_ids = {w.id for w in self.live() if w is not gone}
            if all(holders.get(app) in live_ids for app in self.app_ids):
                return time.monotonic() - t0, holders
            if time.monotonic() - t0 > 120:
                raise Failure(f"{what}: not every job is held by another worker after 120 s: {holders}")
            time.sleep(0.2)

    def kill_one(self):
        """SIGKILL, mid-cycle, the worker holding the most jobs."""
        a, first = self.args, self.workers[0]
        while True:
            self.deadline.check("waiting for the initial cycles to be under way")
            holders = self.holders(first)
            counts = [self.app_count(base) for _, base in self.samples]
            if len(holders) == a.apps and min(counts) >= a.users * 0.05:
                break
            if max(counts) >= a.users:
                raise Failure("an initial cycle ended before the kill: raise --users or --latency-ms")
            time.sleep(0.1)
        by_worker = {}
        for app, wid in holders.items():
            by_worker.setdefault(wid, []).append(app)
        victim = max(self.live(), key=lambda w: len(by_worker.get(w.id, [])))
        jobs = by_worker.get(victim.id, [])
        victim.signal(signal.SIGKILL)
        victim.proc.wait()
        self.say(f"SIGKILL {victim.name} holding {len(jobs)} jobs; the apps hold {counts} of {a.users}")
        took, holders = self.wait_for_jobs_elsewhere(victim, "after the SIGKILL")
        self.say(f"its jobs run on other workers {took:.1f}s after the kill")
        self.figures.append(f"failover after SIGKILL: {took:.1f}s (limit {FAILOVER_LIMIT:.0f}s)")
        if took > FAILOVER_LIMIT:
            self.failures.append(f"the killed worker's jobs resumed after {took:.1f}s, past {FAILOVER_LIMIT:.0f}s")

    # ---- the pause ---------------------------------------------------------------------------------------

    def pause_one(self):
        """SIGSTOP a worker with a cycle running until its jobs move, then SIGCONT: it writes nothing."""
        a = self.args
        target = None
        while target is None:
            self.deadline.check("looking for a cycle to pause")
            holders = self.holders(self.live()[0])
            for w in self.live():
                for app in [x for x, wid in holders.items() if wid == w.id]:
                    st = self.api(w, "GET", f"/apps/{app}/provisioning/status")
                    if (st.get("progress") or {}).get("running") and st.get("phase") == "initial":
                        target = w
            if target is None:
                counts = [self.app_count(base) for _, base in self.samples]
                if min(counts) >= a.users:
                    raise Failure("every initial cycle ended before the pause: raise --users or --latency-ms")
                time.sleep(0.1)
        before = target.log().count("fencing refusal")
        target.signal(signal.SIGSTOP)
        self.say(f"SIGSTOP {target.name}, mid-cycle")
        took, _ = self.wait_for_jobs_elsewhere(target, "after the SIGSTOP")
        self.say(f"its jobs run on other workers {took:.1f}s after the pause; SIGCONT {target.name}")
        self.figures.append(f"failover after SIGSTOP: {took:.1f}s")
        target.signal(signal.SIGCONT)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20:
            refusals = target.log().count("fencing refusal") - before
            if refusals > 0:
                break
            time.sleep(0.2)
        refusals = target.log().count("fencing refusal") - before
        self.say(f"{target.name} continued: {refusals} fencing refusals in its log")
        self.figures.append(f"fencing refusals of the paused worker: {refusals}")
        if refusals == 0:
            self.failures.append(f"{target.name}, continued after losing its lease, logged no fencing refusal")

    # ---- the end -----------------------------------------------------------------------------------------

    def settle(self):
        """Waits until every app has every account and every job is at steady state."""
        a = self.args
        via = self.live()[0]
        while True:
            self.deadline.check("waiting for steady state")
            counts = [self.app_count(base) for _, base in self.samples]
            states = [self.api(via, "GET", f"/apps/app{i}/provisioning/status") for i in range(a.apps)]
            done = all(st.get("phase") == "incremental" and (st.get("accounts") or {}).get("enabled") == a.users
                       for st in states)
            if done and all(c >= a.users for c in counts):
                self.say(f"steady state: {counts}")
                return
            time.sleep(0.5)

    def read_app(self, base):
        out, start = [], 1
        while True:
            _, page = http("GET", f"{base}/Users?startIndex={start}&count=1000", self.app_token)
            items = page.get("Resources") or []
            out.extend(items)
            start += len(items)
            if not items or start > page.get("totalResults", 0):
                return out

    def read_logs(self, app):
        out, offset, via = [], 0, self.live()[0]
        while True:
            page = self.api(via, "GET", f"/apps/{app}/provisioning/logs?format=json&limit=10000&offset={offset}")
            out.extend(page["items"])
            offset += 10000
            if offset >= page["total"]:
                return out

    def check(self):
        a = self.args
        want = {f"user{i:06d}@{DOMAIN}": f"User {i}" for i in range(a.users)}
        for i, (_, base) in enumerate(self.samples):
            name = f"app{i}"
            accounts = self.read_app(base)
            by_name, by_external = {}, {}
            for acc in accounts:
                by_name.setdefault(acc.get("userName"), []).append(acc)
                by_external.setdefault(acc.get("externalId"), []).append(acc)
            missing = [u for u in want if u not in by_name]
            extra = [u for u in by_name if u not in want]
            doubled = [e for e, accs in by_external.items() if len(accs) > 1]
            stale = [u for u, accs in by_name.items() if u in want and accs[0].get("displayName") != want[u]]
            inactive = [u for u, accs in by_name.items() if accs[0].get("active") is not True]
            logs = self.read_logs(self.app_ids[i])
            ids, creates, logged = set(), {}, set()
            log_doubled = 0
            for e in logs:
                if e["id"] in ids:
                    log_doubled += 1
                ids.add(e["id"])
                if e["objectKind"] != "user" or e["status"] != "Success":
                    continue
                if e.get("targetId"):
                    logged.add(e["targetId"])
                if e["action"] == "Create":
                    creates[e["sourceId"]] = creates.get(e["sourceId"], 0) + 1
            double_create = [u for u, n in creates.items() if n > 1]
            lost = [acc["id"] for acc in accounts if acc["id"] not in logged]
            line = (f"{name}: {len(accounts)} accounts; missing {len(missing)}, extra {len(extra)}, "
                    f"twice {len(doubled)}, stale {len(stale)}, inactive {len(inactive)}; log: {len(logs)} entries, "
                    f"doubled {log_doubled}, created twice {len(double_create)}, lost {len(lost)}")
            self.say(line)
            for what, bad in [("missing", missing), ("extra", extra), ("twice", doubled), ("stale", stale),
                              ("inactive", inactive), ("log entry doubled", [None] * log_doubled),
                              ("created twice in the log", double_create), ("account with no log entry", lost)]:
                if bad:
                    self.failures.append(f"{name}: {len(bad)} {what}, e.g. {bad[:3]}")

    def run(self):
        self.setup()
        self.kill_one()
        self.pause_one()
        self.settle()
        self.check()
        self.say(f"figures: {'; '.join(self.figures)}")
        if self.failures:
            raise Failure("; ".join(self.failures))

    def cleanup(self):
        for w in self.workers:
            w.stop()
        for proc, _ in self.samples:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def start_sample_app_with(binary, token, log_path, deadline, extra):
    """A sample app process with `extra` arguments (the latency)."""
    if not extra:
        return start_sample_app(binary, token, log_path, deadline)
    wrapper = os.path.join(os.path.dirname(log_path), "sample-app.sh")
    with open(wrapper, "w") as f:
        f.write(f'#!/bin/sh\nexec "{binary}" "$@" {" ".join(extra)}\n')
    os.chmod(wrapper, 0o700)
    return start_sample_app(wrapper, token, log_path, deadline)


def main():
    ap = argparse.ArgumentParser(description="Failover test: several workers on PostgreSQL, one killed, one paused.")
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--apps", type=int, default=5)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--lease-ttl", type=int, default=5, help="seconds")
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--postgres-url",
                    default=os.environ.get("ROSTER_TEST_POSTGRES") or "postgres://postgres@127.0.0.1:5432/test")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if args.workers < 3 or args.apps < 1 or args.users < 100:
        ap.error("--workers must be at least 3, --apps at least 1 and --users at least 100")
    binary = os.environ.get("ROSTER_BIN") or "target/release/roster"
    if not os.access(binary, os.X_OK):
        print(f"failover: no roster binary at {binary}: build it or set ROSTER_BIN", file=sys.stderr)
        return 2
    binary = os.path.abspath(binary)
    print(f"failover: --users {args.users} --apps {args.apps} --workers {args.workers} --lease-ttl {args.lease_ttl} "
          f"--latency-ms {args.latency_ms} --concurrency {args.concurrency}", flush=True)

    def on_alarm(_signum, _frame):
        raise Failure(f"timed out: the test did not finish within --timeout {args.timeout:g}s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.timeout) + 10)
    tmp = tempfile.mkdtemp(prefix="roster-failover-")
    db_name, run, code = None, None, 0
    try:
        database, db_name = fresh_postgres(args.postgres_url)
        run = Failover(args, binary, tmp, database)
        run.run()
        print(f"failover: passed in {run.now():.0f}s", flush=True)
    except Exception as e:  # noqa: BLE001 - any failure ends the run with the evidence and a cleanup
        code = 1
        print(f"failover: FAILED: {e}", file=sys.stderr)
        for w in (run.workers if run else []):
            print(f"--- last lines of {w.name}'s log ---", file=sys.stderr)
            print(tail(w.log_path), file=sys.stderr, end="")
    finally:
        signal.alarm(0)
        if run is not None:
            run.cleanup()
        if args.keep:
            print(f"failover: kept {tmp} and the database {db_name}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            if db_name:
                try:
                    psql(args.postgres_url, f"DROP DATABASE IF EXISTS {db_name}")
                except (Failure, OSError, subprocess.SubprocessError) as e:
                    print(f"failover: could not drop the database {db_name}: {e}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
