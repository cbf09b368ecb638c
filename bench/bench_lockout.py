"""What the shared wrong-key lock-out costs each API request: the store read before every
authentication (``store.lockout.SqlLockout.retry_after``) against the authentication itself
(``UserService.authenticate``, the baseline), in the same run, on SQLite and, with ``--pg``,
PostgreSQL; and a recorded failure (one insert and the expiry delete).

    .venv/bin/python -m bench lockout --calls 2000
    .venv/bin/python -m bench lockout --calls 2000 --pg postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from telshield.services.store import SystemClock
from telshield.services.users import UserService
from telshield.store.lockout import SqlLockout
from telshield.store.sql import open_store


def _per_call(f: Callable[[], object], n: int) -> float:
    f()
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t0) / n


def _measure(url: str, schema: str, n: int) -> dict[str, float]:
    store = open_store(url, schema=schema)
    try:
        users = UserService(store, SystemClock())
        _, key = users.add("ann", "admin", actor="bench")
        lock = SqlLockout(store.engine, 20, 300.0)
        for i in range(1000):  # a thousand other clients' failures in the window
            lock.failed([f"client:10.{i // 250}.{i % 250}.1"])
        subjects = ["client:127.0.0.1", "key:0123456789ab"]
        auth = _per_call(lambda: users.authenticate(key), n)
        check = _per_call(lambda: lock.retry_after(subjects), n)
        k = iter(range(10**9))
        fail = _per_call(lambda: lock.failed([f"client:192.0.2.{next(k) % 200}"]), n // 10)
    finally:
        store.dispose()
    return {"authenticate_us": round(auth * 1e6), "lockout_check_us": round(check * 1e6),
            "check_vs_authenticate": round(check / auth, 2),
            "recorded_failure_us": round(fail * 1e6)}


def main(argv: list[str]) -> None:
    """Print the per-call costs and the ratio of check to authentication per backend."""
    ap = argparse.ArgumentParser(prog="python -m bench lockout")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--pg", default="", help="a PostgreSQL URL (a scratch schema is made)")
    a = ap.parse_args(argv)
    out = {}
    with tempfile.TemporaryDirectory() as d:
        out["sqlite"] = _measure(f"sqlite:///{Path(d) / 'store.db'}", "", a.calls)
    if a.pg:
        schema = "bench_" + uuid.uuid4().hex[:10]
        admin = sa.create_engine(a.pg)
        with admin.begin() as c:
            c.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            out["postgres"] = _measure(a.pg, schema, a.calls)
        finally:
            with admin.begin() as c:
                c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()
    print(json.dumps(out, indent=2))
