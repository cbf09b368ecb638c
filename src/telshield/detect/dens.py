"""GOIP den candidates as lazy expressions over the lake.

A den port is a SIM that, in the window, placed calls from our cells to at least ``min_callees``
distinct numbers and received almost none (``max_inbound_share`` of what it placed). ``ports``
gives one row per such SIM and cell it called from, with its IMEI (the one it called with most
there), the device kind the police's ``device_intel`` gives that IMEI's TAC, its SIM's age (days
since it was registered with us; null for other operators' SIMs) and its call figures. A den's
SIMs are bought and swapped every few days: a SIM of ours older than ``max_sim_age_days`` is an
honest line that happens to call like a port (an office line calling out, say) and is no port.
``port_hours`` the hours each port called in (for parallelism); ``relays`` the phones on our
cells that took calls from abroad and placed none (the audio-cable form's relay phone). Grouping
ports into dens is the service's work.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from telshield.detect.portable import days_between, epoch_s, most_common


def _window(calls: ir.Table, since: datetime, until: datetime) -> ir.Table:
    return calls.filter((calls.started_at >= ibis.timestamp(since))
                        & (calls.started_at < ibis.timestamp(until)))


def one_way(calls: ir.Table, *, since: datetime, until: datetime, min_callees: int,
            max_inbound_share: float) -> ir.Table:
    """``msisdn, placed, callees, inbound``: numbers that called many and were called little."""
    w = _window(calls, since, until)
    placed = w.filter(w.caller_cell.notnull())
    out = placed.group_by(msisdn=placed.caller).agg(placed=placed.count(),
                                                    callees=placed.callee.nunique())
    got = w.group_by(g_msisdn=w.callee).agg(inbound=w.count())
    j = out.left_join(got, out.msisdn == got.g_msisdn)
    j = j.select(out.msisdn, out.placed, out.callees, inbound=got.inbound.fill_null(0))
    return j.filter((j.callees >= min_callees)
                    & (j.inbound.cast("float64") <= j.placed.cast("float64") * max_inbound_share))


def sim_ages(subscribers: ir.Table, until: datetime) -> ir.Table:
    """``a_msisdn, sim_age_days``: days from each of our SIMs' (latest) registration before
    ``until`` to ``until``."""
    s = subscribers.filter(subscribers.registered_at < ibis.timestamp(until))
    s = s.group_by(a_msisdn=s.msisdn).agg(registered_at=s.registered_at.max())
    return s.select("a_msisdn",
                    sim_age_days=days_between(ibis.timestamp(until), s.registered_at))


def ports(calls: ir.Table, intel: ir.Table | None, *, since: datetime, until: datetime,
          min_callees: int, max_inbound_share: float, subscribers: ir.Table | None = None,
          max_sim_age_days: float = 0) -> ir.Table:
    """``msisdn, cell, imei, kind, sim_age_days, calls, answered, median_s, first_at,
    last_at``: one row per one-way caller and cell it called from. With ``subscribers`` and
    ``max_sim_age_days`` above 0, our SIMs registered longer ago than that are left out (SIMs
    not in ``subscribers`` have no known age and stay)."""
    w = _window(calls, since, until)
    w = w.filter(w.caller_cell.notnull())
    ow = one_way(calls, since=since, until=until, min_callees=min_callees,
                 max_inbound_share=max_inbound_share).select(o_msisdn="msisdn")
    w = w.join(ow, w.caller == ow.o_msisdn)
    g = w.group_by(msisdn=w.caller, cell=w.caller_cell).agg(
        calls=w.count(), answered=(w.duration_s > 0).sum().cast("int64"),
        median_s=w.duration_s.median().cast("float64"),
        first_at=w.started_at.min(), last_at=w.started_at.max())
    im = most_common(w, ["caller", "caller_cell"], "caller_imei")
    g = g.left_join(im, (g.msisdn == im.caller) & (g.cell == im.caller_cell))
    g = g.select(g.msisdn, g.cell, imei=im.caller_imei, calls=g.calls, answered=g.answered,
                 median_s=g.median_s, first_at=g.first_at, last_at=g.last_at)
    if subscribers is None:
        g = g.mutate(sim_age_days=ibis.literal(None, "float64"))
    else:
        a = sim_ages(subscribers, until)
        g = g.left_join(a, g.msisdn == a.a_msisdn).drop("a_msisdn")
        if max_sim_age_days > 0:
            g = g.filter(g.sim_age_days.isnull() | (g.sim_age_days <= max_sim_age_days))
    cols = ("msisdn", "cell", "imei", "kind", "sim_age_days", "calls", "answered", "median_s",
            "first_at", "last_at")
    if intel is None:
        return g.mutate(kind=ibis.literal(None, "string")).select(*cols)
    k = intel.select(t_tac="tac", t_kind="kind")
    j = g.left_join(k, g.imei.substr(0, 8) == k.t_tac)
    return j.mutate(kind=j.t_kind).select(*cols)


def port_hours(calls: ir.Table, msisdns: ir.Table, *, since: datetime,
               until: datetime) -> ir.Table:
    """``msisdn, hour``: the hours (epoch hour numbers) in which each given number called."""
    w = _window(calls, since, until)
    m = msisdns.select(p_msisdn="msisdn")
    w = w.join(m, w.caller == m.p_msisdn)
    return w.select(msisdn=w.caller,
                    hour=(epoch_s(w.started_at) // 3600).cast("int64")).distinct()


def relays(calls: ir.Table, *, since: datetime, until: datetime, min_calls: int) -> ir.Table:
    """``msisdn, cell, calls, first_at, last_at``: numbers on our cells that took at least
    ``min_calls`` calls from abroad in the window and placed none."""
    w = _window(calls, since, until)
    inb = w.filter((w.ingress == "international") & w.callee_cell.notnull())
    g = inb.group_by(msisdn=inb.callee, cell=inb.callee_cell).agg(
        calls=inb.count(), first_at=inb.started_at.min(), last_at=inb.started_at.max())
    callers = w.select(c_msisdn=w.caller).distinct()
    g = g.anti_join(callers, g.msisdn == callers.c_msisdn)
    return g.filter(g.calls >= min_calls)
