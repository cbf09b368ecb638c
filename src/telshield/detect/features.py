"""Per-number behaviour features over sliding windows, as lazy Ibis expressions.

Every function takes lazy tables (the feeds, already narrowed to the days a run needs) and
returns a lazy table; the caller picks the engine (DuckDB by default, Spark on a cluster).
A feature computed over a window is named ``<feature>_<window>`` (``out_calls_24h``); static
features (``sim_age_days``, ``is_subscriber``, ``out_of_province``) carry no window suffix.
``docs/features.md`` says what each feature is for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

from telshield.detect.numbering import out_of_province
from telshield.detect.portable import days_between

GOIP_KINDS = ("goip", "simbank")
# Devices that stay on a desk: modems (predictive diallers, machines) and SIM desk phones (fixed
# wireless terminals). Offices dial from them; a fraud crew's handset is a phone it carries.
FIXED_KINDS = ("modem", "deskphone")
SHORT_CALL_S = 30  # an answered call shorter than this is "short"
LONG_CALL_S = 300  # an answered call this long or longer is "long": a victim who stays on
NIGHT_FROM_HOUR, NIGHT_TO_HOUR = 22, 6  # local (CST) hours counted as night


@dataclass(frozen=True)
class Window:
    """A sliding window ending at the run's ``until``: a name (suffix) and a length."""

    name: str
    length: timedelta

    @classmethod
    def parse(cls, text: str) -> Window:
        """Parse ``1h``, ``24h``, ``7d`` or ``30m`` into a window named after the text."""
        units = {"m": "minutes", "h": "hours", "d": "days"}
        unit = units.get(text[-1:])
        if unit is None or not text[:-1].isdigit() or int(text[:-1]) <= 0:
            raise ValueError(f"window {text!r} is not a positive count of m, h or d (e.g. '24h')")
        return cls(text, timedelta(**{unit: int(text[:-1])}))


DEFAULT_WINDOWS = (Window.parse("1h"), Window.parse("24h"), Window.parse("7d"))

# Per-window features and what they measure (docs/features.md explains why each matters).
WINDOW_FEATURES: dict[str, str] = {
    "out_calls": "outgoing call attempts",
    "in_calls": "incoming call attempts",
    "distinct_callees": "distinct numbers called",
    "calls_per_callee": "outgoing calls per distinct callee",
    "short_share": f"share of outgoing calls answered for under {SHORT_CALL_S} s",
    "unanswered_share": "share of outgoing calls not answered",
    "mean_duration_s": "mean duration of answered outgoing calls",
    "callback_share": "share of callees who called this number back (at any time in the lookback)",
    "unsolicited_callers": "distinct numbers that called this number before it had ever called "
                           "them (within the lookback): people who got the number elsewhere",
    "new_callee_share": "share of callees never called before (within the lookback)",
    "night_share": "share of outgoing calls at night (22:00-06:00)",
    "distinct_cells": "distinct cells calls were placed from",
    "distinct_counties": "distinct counties calls were placed from",
    "distinct_imeis": "distinct devices (IMEIs) used to call",
    "goip_device": "1 if any calling IMEI has a GOIP / SIM-bank TAC",
    "fixed_device": "1 if any calling IMEI has a modem or SIM desk-phone TAC",
    "long_calls": f"outgoing calls answered for {LONG_CALL_S} s or more",
    "radio_share": "share of outgoing calls entering by our radio network",
    "interconnect_share": "share of outgoing calls entering from another operator",
    "international_share": "share of outgoing calls entering from abroad",
    "outgoing_share": "outgoing / (outgoing + incoming) calls",
    "sms_out": "messages sent",
    "sms_in": "messages received",
}
STATIC_FEATURES: dict[str, str] = {
    "sim_age_days": "days since the SIM was registered with us (null if not ours)",
    "is_subscriber": "1 if the number is registered with us",
    "out_of_province": "1 if the numbering plan puts the number's home outside our province",
    "active_days_7d": "days with at least one outgoing call in the last 7 days",
    "first_call_days": "days since the first call (within the look-back) to any number it called "
                       "in the longest window: how long the data has known this caller",
}

# Features of the run, the same for every number: how much history its windows could read.
RUN_FEATURES: dict[str, str] = {
    "history_days": "days of calls before the run's end that the data holds, at most the longest "
                    "window plus the look-back (a new deployment starts with hours)",
}


def history_days(first_call: datetime | None, until: datetime, span: timedelta) -> float:
    """``history_days`` for a run at ``until`` reading ``span`` back, when the earliest call the
    data holds is ``first_call`` (None: no calls at all)."""
    if first_call is None or first_call >= until:
        return 0.0
    return min(until - first_call, span) / timedelta(days=1)


def feature_names(windows: Sequence[Window] = DEFAULT_WINDOWS) -> list[str]:
    """Names of all features ``number_features`` produces for these windows."""
    names = [f"{f}_{w.name}" for w in windows for f in WINDOW_FEATURES]
    return names + list(STATIC_FEATURES)


def _share(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    return (num.cast("float64") / den.cast("float64").nullif(0.0)).cast("float64")


def _since(until: datetime, w: Window) -> ir.TimestampScalar:
    return ibis.timestamp(until - w.length)


def _places(
    c: ir.Table, cells: ir.Table, intel: ir.Table, until: datetime, windows: Sequence[Window]
) -> ir.Table:
    """Distinct cells, counties, devices, GOIP use and active days, exactly.

    Each dimension is grouped straight from the calls into a (caller, value) -> last call table
    (a few rows per caller) and counted per window from it; the TAC -> GOIP look-up joins the
    (caller, device) table, not the calls. Each calls-derived table is used exactly once: Ibis
    inlines a table used twice as two subqueries and the engine computes it twice (an earlier
    shared (caller, day, cell, device) reduction was computed four times).
    """
    geo = cells.select(cell_id=cells.cell_id, county=cells.county)
    goip = intel.filter(intel.kind.isin(GOIP_KINDS + FIXED_KINDS)).select(
        tac=intel.tac, is_goip=intel.kind.isin(GOIP_KINDS).cast("int64"),
        is_fixed=intel.kind.isin(FIXED_KINDS).cast("int64"))
    cc = c.left_join(geo, c.caller_cell == geo.cell_id)
    county = cc.group_by(caller=cc.caller, value=cc.county).aggregate(last=cc.started_at.max())
    cell = c.group_by(caller=c.caller, value=c.caller_cell).aggregate(last=c.started_at.max())
    imei = c.group_by(caller=c.caller, value=c.caller_imei).aggregate(last=c.started_at.max())
    imei = imei.left_join(goip, imei.value.substr(0, 8) == goip.tac)
    day = c.group_by(caller=c.caller, day=c.started_at.date()).aggregate(last=c.started_at.max())
    parts = []
    for name, t in (("cells", cell), ("counties", county), ("imeis", imei)):
        aggs: dict[str, ir.Value] = {
            f"distinct_{name}_{w.name}": t.count(where=(t.last >= _since(until, w))
                                                 & t.value.notnull())
            for w in windows
        }
        if name == "imeis":
            for w in windows:
                inw = t.last >= _since(until, w)
                aggs[f"goip_device_{w.name}"] = t.is_goip.max(where=inw).fill_null(0)
                aggs[f"fixed_device_{w.name}"] = t.is_fixed.max(where=inw).fill_null(0)
        parts.append(t.group_by(msisdn=t.caller).aggregate(**aggs))
    week = day.last >= ibis.timestamp(until - timedelta(days=7))
    parts.append(day.group_by(msisdn=day.caller).aggregate(active_days_7d=day.count(where=week)))
    out = parts[0]
    for part in parts[1:]:
        out = out.join(part, "msisdn")
    return out


def _outgoing(c: ir.Table, until: datetime, windows: Sequence[Window]) -> ir.Table:
    hour = c.started_at.hour()
    night = (hour >= NIGHT_FROM_HOUR) | (hour < NIGHT_TO_HOUR)
    aggs: dict[str, ir.Value] = {}
    for w in windows:
        inw = c.started_at >= _since(until, w)
        answered = inw & (c.duration_s > 0)
        aggs[f"out_calls_{w.name}"] = c.count(where=inw)
        aggs[f"_short_{w.name}"] = c.count(where=answered & (c.duration_s < SHORT_CALL_S))
        aggs[f"long_calls_{w.name}"] = c.count(where=inw & (c.duration_s >= LONG_CALL_S))
        aggs[f"_unans_{w.name}"] = c.count(where=inw & (c.duration_s == 0))
        aggs[f"_answered_{w.name}"] = c.count(where=answered)
        aggs[f"_dur_{w.name}"] = c.duration_s.sum(where=inw)
        aggs[f"_night_{w.name}"] = c.count(where=inw & night)
        for ing in ("radio", "interconnect", "international"):
            aggs[f"_{ing}_{w.name}"] = c.count(where=inw & (c.ingress == ing))
    out = c.group_by(msisdn=c.caller).aggregate(**aggs)
    derived: dict[str, ir.Value] = {}
    for w in windows:
        n = out[f"out_calls_{w.name}"]
        derived[f"short_share_{w.name}"] = _share(out[f"_short_{w.name}"], n)
        derived[f"unanswered_share_{w.name}"] = _share(out[f"_unans_{w.name}"], n)
        derived[f"mean_duration_s_{w.name}"] = _share(
            out[f"_dur_{w.name}"], out[f"_answered_{w.name}"]
        )
        derived[f"night_share_{w.name}"] = _share(out[f"_night_{w.name}"], n)
        for ing in ("radio", "interconnect", "international"):
            derived[f"{ing}_share_{w.name}"] = _share(out[f"_{ing}_{w.name}"], n)
    out = out.mutate(**derived)
    return out.drop(*[c for c in out.columns if c.startswith("_")])


def _incoming(calls: ir.Table, until: datetime, windows: Sequence[Window]) -> ir.Table:
    aggs = {f"in_calls_{w.name}": calls.count(where=calls.started_at >= _since(until, w))
            for w in windows}
    return calls.group_by(msisdn=calls.callee).aggregate(**aggs)


def _pair_table(calls: ir.Table, until: datetime, windows: Sequence[Window]) -> ir.Table:
    """(caller, callee) pairs with a call in the longest window: the first and last call, and
    the first call the other way (``back_first``, null if none) at any time of the history."""
    pairs = calls.group_by("caller", "callee").aggregate(
        first_at=calls.started_at.min(), last_at=calls.started_at.max()
    )
    back = pairs.select(b_caller=pairs.callee, b_callee=pairs.caller, back_first=pairs.first_at)
    longest = max(windows, key=lambda w: w.length)
    live = pairs.filter(pairs.last_at >= _since(until, longest))
    return live.left_join(
        back, (live.caller == back.b_caller) & (live.callee == back.b_callee)
    ).select("caller", "callee", "first_at", "last_at", "back_first")


def _pairs(p: ir.Table, until: datetime, windows: Sequence[Window]) -> ir.Table:
    """Distinct callees, callback share and new-callee share, from the pair table.

    Only pairs called within the longest window are looked up for a call back (the others count
    in no window); any pair of the whole history can be the call back.
    """
    aggs: dict[str, ir.Value] = {}
    for w in windows:
        since = _since(until, w)
        inw = p.last_at >= since
        aggs[f"distinct_callees_{w.name}"] = p.count(where=inw)
        aggs[f"_back_{w.name}"] = p.count(where=inw & p.back_first.notnull())
        aggs[f"_new_{w.name}"] = p.count(where=inw & (p.first_at >= since))
    aggs["_first"] = p.first_at.min()
    out = p.group_by(msisdn=p.caller).aggregate(**aggs)
    derived: dict[str, ir.Value] = {}
    for w in windows:
        n = out[f"distinct_callees_{w.name}"]
        derived[f"callback_share_{w.name}"] = _share(out[f"_back_{w.name}"], n)
        derived[f"new_callee_share_{w.name}"] = _share(out[f"_new_{w.name}"], n)
    derived["first_call_days"] = days_between(ibis.timestamp(until), out._first)
    out = out.mutate(**derived)
    return out.drop(*[c for c in out.columns if c.startswith("_")])


def _callers(p: ir.Table, until: datetime, windows: Sequence[Window]) -> ir.Table:
    """Per callee, the distinct callers of each window that called it before it had ever
    called them: a number given out (a shop's, a promoter's, a courier's) is called first by
    people it never called; a fraud SIM, which nobody was given, is called first by nobody
    but its handler."""
    first = p.back_first.isnull() | (p.back_first > p.first_at)
    aggs = {f"unsolicited_callers_{w.name}": p.count(where=(p.last_at >= _since(until, w)) & first)
            for w in windows}
    return p.group_by(msisdn=p.callee).aggregate(**aggs)


def _sms(sms: ir.Table, until: datetime, windows: Sequence[Window]) -> ir.Table:
    sent = sms.group_by(msisdn=sms.sender).aggregate(
        **{f"sms_out_{w.name}": sms.count(where=sms.sent_at >= _since(until, w)) for w in windows}
    )
    received = sms.group_by(msisdn=sms.receiver).aggregate(
        **{f"sms_in_{w.name}": sms.count(where=sms.sent_at >= _since(until, w)) for w in windows}
    )
    return sent.outer_join(received, "msisdn").select(
        msisdn=ibis.coalesce(sent.msisdn, received.msisdn),
        **{f"sms_{d}_{w.name}": (sent if d == "out" else received)[f"sms_{d}_{w.name}"]
           for w in windows for d in ("out", "in")},
    )


def _static(subscribers: ir.Table, until: datetime) -> ir.Table:
    s = subscribers.filter(subscribers.registered_at < ibis.timestamp(until))
    s = s.group_by("msisdn").aggregate(registered_at=s.registered_at.max())
    age = days_between(ibis.timestamp(until), s.registered_at)
    return s.select("msisdn", sim_age_days=age.cast("float64"), is_subscriber=ibis.literal(1))


def number_features(
    calls: ir.Table,
    *,
    until: datetime,
    windows: Sequence[Window] = DEFAULT_WINDOWS,
    lookback: timedelta = timedelta(days=7),
    sms: ir.Table | None = None,
    subscribers: ir.Table | None = None,
    cells: ir.Table | None = None,
    intel: ir.Table | None = None,
    plan: ir.Table | None = None,
    province: str = "Jiangsu",
    active_since: datetime | None = None,
) -> ir.Table:
    """One row per number that placed a call in the longest window, with every feature.

    ``lookback`` is how far before the longest window callers' history reaches (for
    ``new_callee_share`` and ``callback_share``). ``plan`` is the numbering plan's prefix table;
    with it, ``out_of_province`` says whether a number's home is outside ``province``.
    ``active_since`` keeps only numbers
    that placed a call at or after it (incremental runs score only numbers with new calls).
    """
    windows = sorted(windows, key=lambda w: w.length)
    longest = windows[-1]
    start = until - longest.length
    until_ts, start_ts = ibis.timestamp(until), ibis.timestamp(start)
    history = calls.filter(
        (calls.started_at >= ibis.timestamp(start - lookback)) & (calls.started_at < until_ts)
    )
    if active_since is not None:
        # Incremental: keep only calls to or from numbers that called since the last run (the
        # callee side is needed for incoming counts and callbacks).
        active = history.filter(history.started_at >= ibis.timestamp(active_since)).caller
        history = history.filter(history.caller.isin(active) | history.callee.isin(active))
    recent = history.filter(history.started_at >= start_ts)
    if cells is None:
        cells = ibis.memtable({"cell_id": [], "county": []}, schema={"cell_id": "string",
                                                                     "county": "string"})
    if intel is None:
        intel = ibis.memtable({"tac": [], "kind": []}, schema={"tac": "string", "kind": "string"})
    t = _outgoing(recent, until, windows)
    if active_since is not None:
        t = t.filter(t.msisdn.isin(
            recent.filter(recent.started_at >= ibis.timestamp(active_since)).caller
        ))
    pairs = _pair_table(history, until, windows)
    parts = [_places(recent, cells, intel, until, windows), _incoming(recent, until, windows),
             _pairs(pairs, until, windows), _callers(pairs, until, windows)]
    if sms is not None:
        s = sms.filter((sms.sent_at >= start_ts) & (sms.sent_at < until_ts))
        parts.append(_sms(s, until, windows))
    if subscribers is not None:
        parts.append(_static(subscribers, until))
    if plan is not None:
        parts.append(out_of_province(t.select("msisdn"), "msisdn", plan, province=province))
    for part in parts:
        t = t.left_join(part, "msisdn").drop("msisdn_right")
    return _finish(t, windows, has_subscribers=subscribers is not None)


def suspect_features(calls: ir.Table, *, until: datetime, window: Window,
                     lookback: timedelta, plan: ir.Table, province: str) -> ir.Table:
    """The few features of ``window`` that the out-of-town scan's suspect rule reads, one row
    per number that placed a call in it: ``distinct_callees``, ``new_callee_share``,
    ``unanswered_share``, ``outgoing_share`` and ``out_of_province``.

    Each is computed by the same parts as in ``number_features`` (equal values; tested), but
    without the parts the rule does not read — places and devices, unsolicited callers and
    the look-up of call-backs — which are most of a whole run's cost: the scan runs every few
    hours over the province's calls.
    """
    windows = [window]
    history = calls.filter((calls.started_at >= ibis.timestamp(until - window.length - lookback))
                           & (calls.started_at < ibis.timestamp(until)))
    recent = history.filter(history.started_at >= _since(until, window))
    w = window.name
    t = _outgoing(recent, until, windows).select("msisdn", f"out_calls_{w}",
                                                  f"unanswered_share_{w}")
    pairs = history.group_by("caller", "callee").aggregate(
        first_at=history.started_at.min(), last_at=history.started_at.max())
    live = pairs.filter(pairs.last_at >= _since(until, window)).mutate(
        back_first=ibis.null("timestamp"))  # call-backs are not read here
    callees = _pairs(live, until, windows).select("msisdn", f"distinct_callees_{w}",
                                                  f"new_callee_share_{w}")
    for part in (_incoming(recent, until, windows), callees,
                 out_of_province(t.select("msisdn"), "msisdn", plan, province=province)):
        t = t.left_join(part, "msisdn").drop("msisdn_right")
    n, n_in = t[f"out_calls_{w}"], t[f"in_calls_{w}"].fill_null(0)
    t = t.mutate(**{f"outgoing_share_{w}": _share(n, n + n_in)})
    return t.select("msisdn", f"distinct_callees_{w}", f"new_callee_share_{w}",
                    f"unanswered_share_{w}", f"outgoing_share_{w}", "out_of_province")


def _finish(t: ir.Table, windows: Sequence[Window], *, has_subscribers: bool) -> ir.Table:
    fills: dict[str, ir.Value] = {}
    for w in windows:
        for f in ("in_calls", "unsolicited_callers", "sms_out", "sms_in"):
            fills[f"{f}_{w.name}"] = t[f"{f}_{w.name}"].fill_null(0) if f in _cols(t, w) \
                else ibis.literal(0)
        n = t[f"out_calls_{w.name}"]
        fills[f"calls_per_callee_{w.name}"] = _share(n, t[f"distinct_callees_{w.name}"])
        fills[f"outgoing_share_{w.name}"] = _share(n, n + fills[f"in_calls_{w.name}"])
    t = t.mutate(**fills)
    extra: dict[str, ir.Value] = {}
    if not has_subscribers:
        extra["sim_age_days"] = ibis.null("float64")
        extra["is_subscriber"] = ibis.literal(0)
    else:
        extra["is_subscriber"] = t.is_subscriber.fill_null(0)
    if "out_of_province" not in t.columns:
        extra["out_of_province"] = ibis.null("int64")
    t = t.mutate(**extra)
    return t.select("msisdn", *feature_names(windows))


def _cols(t: ir.Table, w: Window) -> set[str]:
    return {c.removesuffix(f"_{w.name}") for c in t.columns if c.endswith(f"_{w.name}")}
