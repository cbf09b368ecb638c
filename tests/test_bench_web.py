"""``python -m bench web --data-dir``: the pages timed over an existing data directory, logged in
as a user added for the run and disabled at its end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.cases import Case, CaseStatus
from telshield.store.sql import open_store

ROOT = Path(__file__).resolve().parents[1]
AT = datetime(2026, 11, 10, 6)


def test_pages_over_an_existing_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    cli = [sys.executable, "-m", "telshield"]
    subprocess.run([*cli, "init", "--data-dir", str(data)], env=env, check=True,
                   capture_output=True)
    store = open_store(f"sqlite:///{(data / 'telshield.db').as_posix()}")
    try:
        with store.transaction() as tx:
            tx.alerts.upsert([Alert("8613800000001", 0.9, Tier.SUSPEND,
                                    (Reason("rule:x", "x"),), AT, AT)])
            tx.cases.add([Case("8613800000001", CaseStatus.OPEN, "suspend", AT, AT)])
    finally:
        store.dispose()
    r = subprocess.run(
        [sys.executable, "-m", "bench", "web", "--data-dir", str(data), "--requests", "2",
         "--at", AT.isoformat(), "--only", "/web/", "/web/cases/1", "/web/trace/8613800000001"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert rows[0]["case"] == 1 and rows[0]["at"] == AT.isoformat()
    timed = {x["page"]: x for x in rows if "p95_ms" in x}
    assert set(timed) == {"/healthz", "/web/", "/web/cases/1", "/web/trace/8613800000001"}
    assert all(x["p95_ms"] > 0 for x in timed.values())
    store = open_store(f"sqlite:///{(data / 'telshield.db').as_posix()}")
    try:
        with store.transaction(write=False) as tx:
            bench = [u for u in tx.users.all() if u.name.startswith("bench-web-")]
            events = {e.event.action for e in tx.audit.read(actor="bench")}
    finally:
        store.dispose()
    assert len(bench) == 1 and not bench[0].active  # added for the run, disabled after
    assert {"user.add", "user.disable"} <= events
