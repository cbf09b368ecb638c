"""Who holds a line, and the company's other lines: signals of a business, from the registry.

A telemarketing or debt-collection office looks, number by number, like a fraud SIM: 50-200
calls a day to strangers, half unanswered, hardly anyone calling back, from one cell. What
the operator knows and a fraud crew rarely has is the registry behind the numbers: lines
registered to a company (holder kind ``enterprise`` or ``iot``), several live lines under one
identity (``id_hash``: an enterprise's lines share it), and those lines calling side by side
from the same cell, day after day, for years. None of this proves honesty — shell companies
buy enterprise cards too — so rules read it together with the line's age and with what victims
say (call-backs, long answered calls, police clues), never as a pass on its own.

A second, registry-free sign of an office is co-location with *old* heavy callers: an office
registered to its staff as individuals still has 4-12 long-held lines calling dozens of
numbers each from one cell, where a SIM-box den's SIMs are days old and swapped every few days.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

from telshield.detect.portable import days_between

OLD_DAYS = 180  # a line held this long is "old": fraud SIMs are weeks old when they start
HEAVY_CALLEES = 20  # distinct numbers called in 24 h that make a line a heavy caller
HOLDER_FEATURES: dict[str, str] = {
    "holder_enterprise": "1 if the line is registered to a company (holder kind enterprise or iot)",
    "id_lines": "lines registered with us under the same identity (id_hash), this one included",
    "holder_age_days": "days since the oldest line registered with us under the same identity was "
                       "registered: how long the holder (a company, a person) has been a customer",
}
OFFICE_FEATURES: dict[str, str] = {
    "id_lines_cell_24h": "other lines of the same identity that called in the last 24 h from a "
                         "cell this number called from (a company's office)",
    "cell_old_callers_24h": f"other lines of ours, registered at least {OLD_DAYS} days, that "
                            f"called at least {HEAVY_CALLEES} numbers in the last 24 h from a "
                            "cell this number called from (an office's other desks)",
}
_DAY = timedelta(hours=24)


def _registry(subscribers: ir.Table, until: datetime) -> ir.Table:
    """One row per number registered before ``until``: its latest registration."""
    s = subscribers.filter(subscribers.registered_at < ibis.timestamp(until))
    latest = s.group_by("msisdn").aggregate(registered_at=s.registered_at.max())
    return s.join(latest, ["msisdn", "registered_at"]).select(
        "msisdn", "id_hash", "holder_kind", "registered_at")


def _who(subscribers: ir.Table, until: datetime, old_days: int) -> ir.Table:
    reg = _registry(subscribers, until)
    lines = reg.group_by("id_hash").aggregate(id_lines=reg.msisdn.count(),
                                              since=reg.registered_at.min())
    old_since = ibis.timestamp(until - timedelta(days=old_days))
    j = reg.join(lines, "id_hash")
    return j.select(
        "msisdn", "id_hash", "id_lines",
        holder_age_days=days_between(ibis.timestamp(until), j.since),
        holder_enterprise=reg.holder_kind.isin(["enterprise", "iot"]).cast("int64"),
        old=(reg.registered_at <= old_since).cast("int64"))


def holder_features(subscribers: ir.Table, *, until: datetime) -> ir.Table:
    """``msisdn`` and the ``HOLDER_FEATURES`` of every number registered with us before
    ``until``."""
    who = _who(subscribers, until, OLD_DAYS)
    return who.select("msisdn", who.holder_enterprise, who.id_lines.cast("int64"),
                      who.holder_age_days)


def office_features(
    subscribers: ir.Table, calls: ir.Table, *, until: datetime,
    old_days: int = OLD_DAYS, heavy_callees: int = HEAVY_CALLEES,
) -> ir.Table:
    """``msisdn`` and the ``OFFICE_FEATURES`` of every number that called from a known cell in
    the 24 h before ``until``."""
    who = _who(subscribers, until, old_days).drop("holder_enterprise", "id_lines",
                                                  "holder_age_days")
    day = calls.filter((calls.started_at >= ibis.timestamp(until - _DAY))
                       & (calls.started_at < ibis.timestamp(until)))
    placed = day.filter(day.caller_cell.notnull())
    at_cell = placed.group_by(msisdn=placed.caller, cell=placed.caller_cell).agg()
    callees = day.group_by(msisdn=day.caller).agg(n=day.callee.nunique())
    t = at_cell.left_join(who, "msisdn").drop("msisdn_right")
    t = t.left_join(callees, "msisdn").drop("msisdn_right")
    t = t.mutate(heavy_old=((t.old == 1) & (t.n >= heavy_callees)).fill_null(False)
                 .cast("int64"))
    per_cell = t.group_by(c_cell=t.cell).agg(old_callers=t.heavy_old.sum())
    per_id = t.filter(t.id_hash.notnull()).group_by(i_cell=t.cell, i_id=t.id_hash).agg(
        same_id=t.msisdn.count())
    j = t.join(per_cell, t.cell == per_cell.c_cell)
    j = j.left_join(per_id, (j.cell == per_id.i_cell) & (j.id_hash == per_id.i_id))
    others_id = j.same_id.fill_null(1) - 1  # the number itself does not count
    others_old = j.old_callers - j.heavy_old
    return j.group_by("msisdn").agg(
        id_lines_cell_24h=others_id.max().cast("int64"),
        cell_old_callers_24h=others_old.max().cast("int64"),
    )
