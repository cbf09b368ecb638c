"""Co-location: how many one-way callers share a number's cell.

A SIM-box den puts 8-32 SIMs on one or two cells, every port calling strangers all day and
nobody calling back; its SIMs are swapped every few days, so each new SIM starts with no history.
Operators find dens by exactly this: many numbers on one cell that only call out. A new SIM on a
cell that already carries several such callers looks like the den's next SIM from its first
hour, long before its own history is long enough for the per-number rules.

A *one-way caller* over the last 24 h is a number that called at least ``min_callees`` distinct
numbers and received no call. ``cell_one_way_callers_24h`` is, for each number that called from
a cell in those 24 h, the largest count of *other* one-way callers on any of its cells.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

COLOCATION_FEATURES: dict[str, str] = {
    "cell_one_way_callers_24h": "other numbers on the same cell in 24 h that called several "
                                "strangers and received no call (a den's other ports)",
}
MIN_CALLEES = 5
_DAY = timedelta(hours=24)


def colocation_features(
    calls: ir.Table, *, until: datetime, min_callees: int = MIN_CALLEES
) -> ir.Table:
    """``msisdn`` and ``cell_one_way_callers_24h`` for every number that called from a known cell
    in the 24 h before ``until``."""
    day = calls.filter(
        (calls.started_at >= ibis.timestamp(until - _DAY))
        & (calls.started_at < ibis.timestamp(until))
    )
    out = day.group_by(msisdn=day.caller).agg(callees=day.callee.nunique())
    called = day.select(msisdn=day.callee).distinct()
    one_way = out.filter(out.callees >= min_callees).anti_join(called, "msisdn").select(
        "msisdn", one_way=ibis.literal(1))
    placed = day.filter(day.caller_cell.notnull())
    at_cell = placed.group_by(msisdn=placed.caller, cell=placed.caller_cell).agg()
    flagged = at_cell.left_join(one_way, "msisdn").select(
        at_cell.msisdn, at_cell.cell, one_way=one_way.one_way.fill_null(0))
    per_cell = flagged.group_by("cell").agg(n=flagged.one_way.sum())
    joined = flagged.join(per_cell, "cell")
    others = joined.n - joined.one_way  # the number itself does not count
    return joined.group_by("msisdn").agg(
        cell_one_way_callers_24h=others.max().cast("int64"))
