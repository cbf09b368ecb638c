"""Police coordination: how long the operator's approval of a request takes (it reads the lake,
executes and seals the response in one transaction), against a depth-1 trace of the same number
(the lake read an analyst already does) in the same run.

    python -m bench police [--subscribers 20000] [--calls 200000] [--repeat 5] [--work DIR]

A synthetic lake (subscribers, five numbers to an ID; calls spread over 30 days, each caller
with a few cells and IMEIs) and an embedded SQLite store. Each repetition files, prepares and
approves (two people) a query by number, a query by ID and a block control on an ID; the median
of each is printed in milliseconds, with the trace's.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from telshield.domain.users import Role, User
from telshield.reference.schemas import FEEDS
from telshield.services.police import PoliceService
from telshield.services.store import FixedClock
from telshield.settings import Settings
from telshield.store.sql import open_store
from telshield.wiring.police import police
from telshield.wiring.trace import tracer

T0 = datetime(2026, 2, 1)


def _write(root: Path, feed: str, cols: dict[str, list[Any]]) -> None:
    schema = FEEDS[feed].schema
    n = len(next(iter(cols.values())))
    table = pa.table({f.name: pa.array(cols.get(f.name, [None] * n), f.type) for f in schema},
                     schema=schema)
    (root / feed).mkdir(parents=True, exist_ok=True)
    pq.write_table(table, root / feed / "part.parquet")


def _lake(root: Path, subscribers: int, calls: int) -> list[str]:
    rng = random.Random(7)
    numbers = [f"86138{i:08d}" for i in range(subscribers)]
    _write(root, "subscribers", {
        "msisdn": numbers, "imsi": ["460001234567890"] * subscribers,
        "id_hash": [f"{i // 5:064x}" for i in range(subscribers)],
        "holder_kind": ["person"] * subscribers,
        "registered_at": [T0 + timedelta(minutes=i) for i in range(subscribers)],
        "channel_id": [f"CH-{i % 50}" for i in range(subscribers)],
        "staff_id": [f"ST-{i % 300}" for i in range(subscribers)],
        "status": ["active"] * subscribers})
    callers = [rng.randrange(subscribers) for _ in range(calls)]
    _write(root, "calls", {
        "call_id": [f"C{i}" for i in range(calls)],
        "started_at": [T0 + timedelta(seconds=rng.randrange(30 * 86400)) for _ in range(calls)],
        "duration_s": [30] * calls, "caller": [numbers[c] for c in callers],
        "callee": [numbers[rng.randrange(subscribers)] for _ in range(calls)],
        "ingress": ["radio"] * calls,
        "caller_cell": [f"CELL-{(c * 7 + rng.randrange(3)) % 2000}" for c in callers],
        "caller_imei": [f"{86000000000000 + c * 2 + rng.randrange(2)}" for c in callers]})
    return numbers


def _time(svc: PoliceService, cop: User, **request: str) -> float:
    q = svc.submit(cop, legal_doc="L", case_ref="C", reason="bench", **request)
    svc.prepare(int(q.id or 0), actor="maker")
    t = time.perf_counter()
    svc.approve(int(q.id or 0), actor="checker")
    return (time.perf_counter() - t) * 1000


def main(argv: list[str]) -> None:
    """Run the benchmark and print medians in milliseconds."""
    ap = argparse.ArgumentParser(prog="python -m bench police")
    ap.add_argument("--subscribers", type=int, default=20_000)
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--work", type=Path, default=None)
    a = ap.parse_args(argv)
    work = a.work or Path(tempfile.mkdtemp(prefix="bench-police-"))
    lake = work / "lake"
    numbers = _lake(lake, a.subscribers, a.calls)
    store = open_store(f"sqlite:///{(work / 'store.db').as_posix()}")
    clock = FixedClock(datetime(2026, 3, 1, 9))
    settings = Settings(data_dir=work)
    svc = police(settings, store, clock=clock, lake=lake)
    svc.add_unit("U1", "bench unit", actor="bench")
    cop = User("cop", Role.POLICE, "h" * 64, clock.now(), "U1")
    trace = tracer(settings, store, clock=clock, lake=lake)
    rng = random.Random(11)
    got: dict[str, list[float]] = {"trace depth 1": [], "query by number": [],
                                   "query by ID": [], "block an ID's numbers": []}
    for _ in range(a.repeat):
        n = numbers[rng.randrange(len(numbers))]
        idh = f"{rng.randrange(len(numbers) // 5):064x}"
        t = time.perf_counter()
        trace.trace(n, actor="bench", depth=1)
        got["trace depth 1"].append((time.perf_counter() - t) * 1000)
        got["query by number"].append(_time(svc, cop, kind="query", target_kind="number",
                                            target=n, action=""))
        got["query by ID"].append(_time(svc, cop, kind="query", target_kind="id", target=idh,
                                        action=""))
        got["block an ID's numbers"].append(_time(svc, cop, kind="control", target_kind="id",
                                                  target=idh, action="block"))
    print(f"lake: {a.subscribers} subscribers, {a.calls} calls; {a.repeat} repetitions")
    for name, ms in got.items():
        print(f"{name:24s} median {statistics.median(ms):8.1f} ms  max {max(ms):8.1f} ms")
    store.dispose()
