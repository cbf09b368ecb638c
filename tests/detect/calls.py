"""A calls table for feature tests, built from a few hand-written calls."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import ibis
import pyarrow as pa

from telshield.reference.schemas import FEEDS

# hours before `until`, caller, callee, ingress, caller cell
Call = tuple[float, str, str, str, str | None]


def calls_before(until: datetime, rows: Iterable[Call], duration_s: int = 60,
                 imei_of: dict[str, str] | None = None) -> ibis.Table:
    """The calls feed's table of ``rows``: each (hours before ``until``, caller, callee, ingress,
    caller cell), all answered and ``duration_s`` long, each caller's device from ``imei_of``
    (unknown for callers it does not name)."""
    rows = list(rows)
    n = len(rows)
    imei = imei_of or {}
    return ibis.memtable(pa.table({
        "call_id": [f"C{i}" for i in range(n)],
        "started_at": pa.array([until - timedelta(hours=r[0]) for r in rows], pa.timestamp("us")),
        "duration_s": pa.array([duration_s] * n, pa.int32()),
        "caller": [r[1] for r in rows],
        "callee": [r[2] for r in rows],
        "ingress": [r[3] for r in rows],
        "caller_cell": pa.array([r[4] for r in rows], pa.string()),
        "caller_imei": pa.array([imei.get(r[1]) for r in rows], pa.string()),
        "callee_cell": pa.nulls(n, pa.string()), "ingress_carrier": pa.nulls(n, pa.string()),
    }, schema=FEEDS["calls"].schema))
