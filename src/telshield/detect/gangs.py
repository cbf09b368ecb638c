"""The registration graph of card-trafficking gangs, as lazy expressions over the lake.

Nodes are cards registered in a window; two cards are linked when they share an attribute
(``domain.gangs.LinkKind``): the same ID (individual holders only — a company holds many cards
by right) registered within ``id_days``; an e-channel order's delivery address, contact number,
ordering device or IP; the first phone (IMEI) the card was used in; the same staff ID or
terminal within ``burst_hours`` (a bulk opening; e-channel cards have no real staff).

Honest life shares attributes as well (a busy staff ID, a family's address, an office's NAT),
so each shared value is weighed by how rare it is: a value held by ``n`` cards gives each of its
pairs ``2 / n`` of its kind's weight, and a value held by more than ``max_group`` cards is
dropped (it says nothing, and its pairs would grow as n²). The result is a weighted edge list;
clustering it is the service's work.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

from telshield.detect.portable import epoch_s
from telshield.domain.gangs import LinkKind

# Link weights by kind: an ID within days is the strongest tie, an order's device or address
# next; an IP is often a NAT; a staff ID's burst and a phone are weaker on their own.
KIND_WEIGHTS: dict[str, float] = {
    LinkKind.ID: 3.0, LinkKind.ADDRESS: 2.0, LinkKind.DEVICE: 2.0, LinkKind.CONTACT: 1.5,
    LinkKind.IP: 1.0, LinkKind.IMEI: 1.0, LinkKind.STAFF: 0.5, LinkKind.TERMINAL: 0.5,
}
MAX_GROUP = 50
BURST_HOURS = 24
ID_DAYS = 30

_M = ibis.schema({"msisdn": "string", "kind": "string", "value": "string",
                  "at": "timestamp"})


def cards(subscribers: ir.Table, *, since: datetime, until: datetime) -> ir.Table:
    """Cards registered in [since, until): the nodes of the graph, with what the evidence
    shows of each."""
    s = subscribers
    s = s.filter((s.registered_at >= ibis.timestamp(since))
                 & (s.registered_at < ibis.timestamp(until)))
    return s.select("msisdn", "id_hash", "holder_kind", "channel_id", "staff_id", "terminal_id",
                    "order_id", "registered_at")


def memberships(subscribers: ir.Table, orders: ir.Table, calls: ir.Table | None, *,
                since: datetime, until: datetime, burst_hours: int = BURST_HOURS) -> ir.Table:
    """``msisdn, kind, value, at``: each attribute value each card holds."""
    c = cards(subscribers, since=since, until=until)
    parts: list[ir.Table] = []

    def part(t: ir.Table, kind: LinkKind, value: ir.StringValue) -> None:
        parts.append(t.select(msisdn=t.msisdn, kind=ibis.literal(str(kind)),
                              value=value.cast("string"), at=t.registered_at)
                     .filter(lambda r: r.value.notnull() & (r.value != "")))

    part(c.filter(c.holder_kind == "individual"), LinkKind.ID, c.id_hash)
    o = orders.select(o_id=orders.order_id, address=orders.address_hash,
                      contact=orders.contact_msisdn, device=orders.device_id, ip=orders.ip)
    co = c.join(o, c.order_id == o.o_id)
    for kind, col in ((LinkKind.ADDRESS, "address"), (LinkKind.CONTACT, "contact"),
                      (LinkKind.DEVICE, "device"), (LinkKind.IP, "ip")):
        part(co, kind, co[col])
    # A staff ID's or terminal's registrations in one window of ``burst_hours``; e-channel
    # cards (with an order) are opened by no one at a counter.
    store = c.filter(c.order_id.isnull())
    bucket = (epoch_s(store.registered_at) // (burst_hours * 3600)).cast("string")
    part(store, LinkKind.STAFF, store.staff_id.concat("@", bucket))
    part(store, LinkKind.TERMINAL, store.terminal_id.concat("@", bucket))
    if calls is not None:
        k = calls.filter(calls.caller_imei.notnull())
        mine = c.select(k_msisdn=c.msisdn, registered_at=c.registered_at)
        k = k.join(mine, k.caller == mine.k_msisdn)
        first = k.group_by(msisdn=k.caller).agg(
            value=k.caller_imei.argmin(k.started_at), registered_at=k.registered_at.max())
        part(first, LinkKind.IMEI, first.value)
    out = parts[0]
    for p in parts[1:]:
        out = out.union(p)
    return out.distinct()


def links(m: ir.Table, *, max_group: int = MAX_GROUP, id_days: int = ID_DAYS,
          weights: Mapping[str, float] = KIND_WEIGHTS) -> ir.Table:
    """``a, b, weight, kinds``: one row per linked pair of cards (a < b), from memberships."""
    size = m.group_by(g_kind=m.kind, g_value=m.value).agg(n=m.msisdn.nunique())
    size = size.filter((size.n >= 2) & (size.n <= max_group))
    held = m.join(size, (m.kind == size.g_kind) & (m.value == size.g_value)).select(
        "msisdn", "kind", "value", "at", "n")
    r = held.view()
    p = held.join(r, (held.kind == r.kind) & (held.value == r.value)
                  & (held.msisdn < r.msisdn))
    p = p.select(a=held.msisdn, b=r.msisdn, kind=held.kind, n=held.n,
                 gap=(epoch_s(held.at) - epoch_s(r.at)).abs())
    p = p.filter((p.kind != str(LinkKind.ID)) | (p.gap <= id_days * 86_400))
    w = ibis.literal(0.0)
    for kind, value in weights.items():
        w = ibis.ifelse(p.kind == str(kind), ibis.literal(float(value)), w)
    p = p.mutate(w=w * 2.0 / p.n.cast("float64"))
    pair = p.group_by("a", "b", "kind").agg(w=p.w.max())
    return pair.group_by("a", "b").agg(weight=pair.w.sum(), kinds=pair.kind.collect())


def registration_links(subscribers: ir.Table, orders: ir.Table, calls: ir.Table | None, *,
                       since: datetime, until: datetime, burst_hours: int = BURST_HOURS,
                       max_group: int = MAX_GROUP, id_days: int = ID_DAYS,
                       weights: Mapping[str, float] = KIND_WEIGHTS) -> ir.Table:
    """The weighted edge list of cards registered in [since, until) (one expression)."""
    m = memberships(subscribers, orders, calls, since=since, until=until,
                    burst_hours=burst_hours)
    return links(m, max_group=max_group, id_days=id_days, weights=weights)


def window(latest: datetime, lookback_days: int) -> tuple[datetime, datetime]:
    """The registration window ending just after ``latest``."""
    return latest - timedelta(days=lookback_days), latest + timedelta(seconds=1)
