"""Devices: whether a number's phone was last used by a cold caller.

A fraud crew keeps its phones and burns one SIM after another in them: when a SIM is alerted or
used up, the next goes into the same handset (一机多卡; the reason operators bar the IMEIs of
fraud numbers). A slow crew's new SIM calls a handful of strangers in its first day, under every
volume threshold of the per-number rules, yet its phone gives it away: the number before it on
that handset was a cold caller. People rarely put a new SIM into a phone that a cold caller used
(a second-hand phone changes hands less often than a crew changes SIMs, and an honest person's old
number was called back by their circle).

A *cold caller*, over the history a run reads, is a number that called at least ``min_callees``
distinct numbers and received at most ``max_in_share`` of its outgoing count as incoming calls.
``device_cold_predecessors`` is, for each number that called in the run's longest window, the
number of *other* numbers that were cold callers and used one of its IMEIs first: their first
call on it came before the number's own, and their last at most ``gap`` before it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

DEVICE_FEATURES: dict[str, str] = {
    "device_cold_predecessors": "other numbers that cold-called from one of this number's phones "
                                "before it (a crew's earlier SIMs in the same handset)",
}
MIN_CALLEES = 10
MAX_IN_SHARE = 0.1
GAP = timedelta(days=14)


def device_features(
    calls: ir.Table, *, until: datetime, since: datetime, min_callees: int = MIN_CALLEES,
    max_in_share: float = MAX_IN_SHARE, gap: timedelta = GAP,
) -> ir.Table:
    """``msisdn`` and ``device_cold_predecessors`` for every number that called from a known
    IMEI in ``calls`` placed at or after ``since`` (and before ``until``); the history before
    ``since`` in ``calls`` counts for predecessors and for who was a cold caller."""
    hist = calls.filter(calls.started_at < ibis.timestamp(until))
    on = hist.filter(hist.caller_imei.notnull())
    use = on.group_by(msisdn=on.caller, imei=on.caller_imei).agg(
        lo=on.started_at.min(), hi=on.started_at.max())
    # Only numbers on a phone that more than one number used can have a predecessor or be one:
    # the cold-caller test (a distinct count per caller, the costly part) reads their calls only.
    shared = use.group_by(s_imei=use.imei).agg(users=use.count())
    shared = shared.filter(shared.users > 1)
    use = use.join(shared, use.imei == shared.s_imei).select("msisdn", "imei", "lo", "hi")
    who = use.select(w_msisdn=use.msisdn).distinct()
    mine_calls = hist.join(who, hist.caller == who.w_msisdn)
    placed = mine_calls.group_by(msisdn=mine_calls.caller).agg(
        outs=mine_calls.count(), callees=mine_calls.callee.nunique())
    in_calls = hist.join(who, hist.callee == who.w_msisdn)
    got = in_calls.group_by(g_msisdn=in_calls.callee).agg(ins=in_calls.count())
    cold = placed.left_join(got, placed.msisdn == got.g_msisdn)
    cold = cold.filter((cold.callees >= min_callees)
                       & (cold.ins.fill_null(0) <= cold.outs * max_in_share)).select(
        cold_msisdn=cold.msisdn)
    mine = use.filter(use.hi >= ibis.timestamp(since))
    before = use.join(cold, use.msisdn == cold.cold_msisdn).select(
        p_msisdn=use.msisdn, p_imei=use.imei, p_lo=use.lo, p_hi=use.hi)
    pairs = mine.join(before, (mine.imei == before.p_imei) & (mine.msisdn != before.p_msisdn)
                      & (before.p_lo < mine.lo)
                      & (before.p_hi >= mine.lo - ibis.interval(seconds=int(gap.total_seconds()))))
    return pairs.group_by("msisdn").agg(
        device_cold_predecessors=pairs.p_msisdn.nunique().cast("int64"))
