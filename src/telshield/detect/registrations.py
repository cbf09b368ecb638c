"""Registrations read back from the lake as lazy expressions: the risk counts per channel, staff
ID or terminal, and the batch audit of past registrations (入网稽核) against the check's rules.

The check judges one application as it arrives; these look at what was registered anyway —
before the check existed, through a channel that bypassed it, or in a pattern no single check
sees (a staff ID opening 80 cards in an hour across many IDs). Each function takes and returns
lazy tables; the caller executes them.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from telshield.detect.portable import most_common

ORDER_KEYS = ("address_hash", "contact_msisdn", "device_id", "ip")


def _window(t: ir.Table, col: str, since: datetime | None, until: datetime | None) -> ir.Table:
    if since is not None:
        t = t.filter(t[col] >= ibis.timestamp(since))
    if until is not None:
        t = t.filter(t[col] < ibis.timestamp(until))
    return t


def latest_registrations(subscribers: ir.Table) -> ir.Table:
    """One row per number: its latest registration (the current holder's), as the registry
    and the card limit read it. A recycled number's later alerts belong to its new holder."""
    s = subscribers.filter(subscribers.msisdn.notnull())
    latest = s.group_by("msisdn").aggregate(registered_at=s.registered_at.max())
    return s.join(latest, ["msisdn", "registered_at"]).select(
        "msisdn", "id_hash", "registered_at", "channel_id", "staff_id", "terminal_id",
        "status").distinct(on="msisdn", keep="first")


def outcomes(flags: ir.Table, clues: ir.Table) -> ir.Table:
    """One row per number found bad: ``flags`` (msisdn, alerted, clued, confirmed as 0/1
    integers, from the store) with every number the police clues feed names marked clued."""
    # Cast: an empty feed's columns are NOT NULL, the store's table's are not.
    c = clues.select(msisdn=clues.msisdn.cast("string"), alerted=ibis.literal(0, "int64"),
                     clued=ibis.literal(1, "int64"), confirmed=ibis.literal(0, "int64"))
    f = flags.select(flags.msisdn.cast("string"), flags.alerted.cast("int64"),
                     flags.clued.cast("int64"), flags.confirmed.cast("int64"))
    u = f.union(c)
    return u.group_by("msisdn").aggregate(alerted=u.alerted.max(), clued=u.clued.max(),
                                          confirmed=u.confirmed.max())


def risk_counts(subscribers: ir.Table, found: ir.Table, *, column: str,
                since: datetime | None = None, until: datetime | None = None) -> ir.Table:
    """Per value of ``column`` (channel_id, staff_id or terminal_id): the numbers it
    registered in [since, until) that are still theirs, and how many of them ``found``
    (``outcomes``) marks alerted, clued, confirmed, or any of the three (``bad``)."""
    regs = _window(latest_registrations(subscribers), "registered_at", since, until)
    regs = regs.filter(regs[column].notnull() & (regs[column] != ""))
    j = regs.left_join(found, regs.msisdn == found.msisdn)
    a, c, f = (j[n].fill_null(0) for n in ("alerted", "clued", "confirmed"))
    j = j.mutate(a=a, c=c, f=f, bad=ibis.greatest(a, c, f))
    return j.group_by(key=j[column]).aggregate(
        registrations=j.count(), alerted=j.a.sum(), clued=j.c.sum(), confirmed=j.f.sum(),
        bad=j.bad.sum())


# --- the batch audit ---------------------------------------------------------------------------


def sanctioned_registrations(subscribers: ir.Table, sanctions: ir.Table, *,
                             since: datetime, until: datetime | None = None) -> ir.Table:
    """Registrations in [since, until) of a person under a sanction in force at that moment.
    ``sanctions``: id_hash, starts_at (null: always), ends_at, authority, reason."""
    s = _window(subscribers, "registered_at", since, until)
    j = s.join(sanctions, s.id_hash == sanctions.id_hash).filter(
        lambda t: (t.starts_at.isnull() | (t.starts_at <= t.registered_at))
        & (t.registered_at < t.ends_at))
    return j.select("msisdn", "id_hash", "registered_at", "channel_id", "staff_id",
                    "authority", "ends_at").distinct().order_by(["registered_at", "msisdn"])


def over_card_limit(subscribers: ir.Table, *, limit: int, since: datetime) -> ir.Table:
    """IDs holding more than ``limit`` live numbers (not cancelled) whose latest card came in
    on or after ``since``: the number, when the card over the limit came, and who opened it."""
    live = latest_registrations(subscribers)
    live = live.filter((live.status != "cancelled") & live.id_hash.notnull())
    ordered = live.mutate(n=ibis.row_number().over(
        group_by=live.id_hash, order_by=[live.registered_at, live.msisdn]) + 1)
    per_id = ordered.group_by("id_hash").aggregate(numbers=ordered.count(),
                                                   last_at=ordered.registered_at.max())
    per_id = per_id.filter((per_id.numbers > limit) & (per_id.last_at >= ibis.timestamp(since)))
    first_over = ordered.filter(ordered.n == limit + 1)
    j = per_id.join(first_over, "id_hash")
    return j.select("id_hash", "numbers", over_at=j.registered_at, over_msisdn=j.msisdn,
                    channel_id=j.channel_id, staff_id=j.staff_id).order_by(
        [ibis.desc("numbers"), "id_hash"])


def bulk_openings(subscribers: ir.Table, *, column: str, limit: int, since: datetime,
                  until: datetime | None = None) -> ir.Table:
    """Clock hours in which one staff ID or terminal (``column``) registered more than
    ``limit`` cards, with how many IDs they were for."""
    s = _window(subscribers, "registered_at", since, until)
    s = s.filter(s[column].notnull() & (s[column] != ""))
    s = s.mutate(key=s[column], hour=s.registered_at.truncate("h"))
    g = s.group_by("key", "hour").aggregate(registrations=s.count(), ids=s.id_hash.nunique())
    g = g.filter(g.registrations > limit)
    # the burst's channel: its most common one, the smallest tied (``mode`` has no Spark rule
    # and breaks a tie by row order on DuckDB)
    top = most_common(s, ["key", "hour"], "channel_id")
    top = top.select(t_key=top.key, t_hour=top.hour, channel_id=top.channel_id)
    j = g.left_join(top, (g.key == top.t_key) & (g.hour == top.t_hour))
    j = j.select("key", "hour", "registrations", "ids", "channel_id")
    return j.order_by([ibis.desc("registrations"), "key", "hour"])


def shared_order_values(orders: ir.Table, *, limit: int, since: datetime,
                        until: datetime | None = None) -> ir.Table:
    """E-channel order attributes (address, contact number, device, IP) that more than
    ``limit`` different IDs' orders in [since, until) share."""
    o = _window(orders, "created_at", since, until)
    parts = []
    for k in ORDER_KEYS:
        x = o.filter(o[k].notnull() & (o[k] != ""))
        g = x.group_by(value=x[k].cast("string")).aggregate(
            orders=x.count(), ids=x.id_hash.nunique(), first_at=x.created_at.min(),
            last_at=x.created_at.max())
        parts.append(g.mutate(attribute=ibis.literal(k)))
    u = ibis.union(*parts)
    u = u.filter(u.ids > limit)
    return u.select("attribute", "value", "orders", "ids", "first_at", "last_at").order_by(
        [ibis.desc("ids"), "attribute", "value"])


def order_bursts(orders: ir.Table, *, limit: int, since: datetime,
                 until: datetime | None = None) -> ir.Table:
    """Days on which more than ``limit`` e-channel orders shared one address, contact number,
    device or IP (the check's 24-hour rule, read back per calendar day)."""
    o = _window(orders, "created_at", since, until)
    o = o.mutate(day=o.created_at.truncate("D"))
    parts = []
    for k in ORDER_KEYS:
        x = o.filter(o[k].notnull() & (o[k] != ""))
        g = x.group_by(value=x[k].cast("string"), day=x.day).aggregate(
            orders=x.count(), ids=x.id_hash.nunique())
        parts.append(g.mutate(attribute=ibis.literal(k)))
    u = ibis.union(*parts)
    u = u.filter(u.orders > limit)
    return u.select("attribute", "value", "day", "orders", "ids").order_by(
        [ibis.desc("orders"), "attribute", "value", "day"])
