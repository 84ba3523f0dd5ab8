#!/usr/bin/env python3
"""Runs PyPI's scim2-tester conformance checks against a SCIM server.

  python scim_conformance.py BASE_URL [TOKEN] [TAG...]

TAGs restrict the run (discovery, crud, crud:create, crud:read, crud:update,
crud:delete, patch, misc, ...). Prints one line per check ("STATUS title
[resource type] reason") and a closing "N passed, N failed, N skipped" line.
Exits 1 when a check is ERROR or CRITICAL, 2 when the checker could not run.
"""
import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

url, token, tags = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else ""), set(sys.argv[3:])
headers = {"Authorization": f"Bearer {token}"} if token else {}
try:
    with httpx2.Client(base_url=url, headers=headers, timeout=60) as http:
        results = check_server(SyncSCIMClient(http), include_tags=tags or None)
except Exception as exc:  # the checker itself failed
    print(f"scim2-tester could not run: {exc!r}", file=sys.stderr)
    sys.exit(2)

bad = {Status.ERROR, Status.CRITICAL}
passed = failed = skipped = 0
for r in results:
    if r.status is Status.SKIPPED:
        skipped += 1
        continue
    if r.status in bad:
        failed += 1
    else:
        passed += 1
    where = f" [{r.resource_type}]" if r.resource_type else ""
    reason = f" {r.reason}" if r.reason else ""
    print(f"{r.status.name:10} {r.title}{where}{reason}".replace("\n", " | "))
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
