"""A calls table for feature tests, built from a few hand-written calls."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import ibis
import pyarrow as pa

from telshield.reference.schemas import FEEDS

# hours before `until`, caller, callee, ingress, caller cell
Call = tuple[float, str, str, str, str | None]


def calls_before(until: datetime, rows: Iterable[Call], duration_s: int = 60) -> ibis.Table:
    """The calls feed's table of ``rows``: each (hours before ``until``, caller, callee, ingress,
    caller cell), all answered and ``duration_s`` long, devices unknown."""
    rows = list(rows)
    n = len(rows)
    return ibis.memtable(pa.table({
        "call_id": [f"C{i}" for i in range(n)],
        "started_at": pa.array([until - timedelta(hours=r[0]) for r in rows], pa.timestamp("us")),
        "duration_s": pa.array([duration_s] * n, pa.int32()),
        "caller": [r[1] for r in rows],
        "callee": [r[2] for r in rows],
        "ingress": [r[3] for r in rows],
        "caller_cell": pa.array([r[4] for r in rows], pa.string()),
        "caller_imei": pa.nulls(n, pa.string()),
        "callee_cell": pa.nulls(n, pa.string()),
    }, schema=FEEDS["calls"].schema))
