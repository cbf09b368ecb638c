"""Trace (溯源): the numbers linked to a set of seed numbers, as lazy expressions over the lake.

Each function takes the seeds (a list of numbers) and returns ``seed, msisdn, kind, value,
strength``: one row per piece of evidence that ties another number to a seed, with a strength
in [0, 1] for that evidence alone. The service combines the evidence of each number and ranks.

- **registration** (``detect.gangs.memberships``): the same ID (individual holders), an
  e-channel order's address, contact number, ordering device or IP, the first phone, a staff ID's
  or terminal's bulk opening. A value held by many cards says little, so each is weighed by
  ``min(1, RARE / n)`` for the ``n`` cards holding it.
- **imei**: every phone the seed called from, and the other numbers that called from it (a GOIP
  port's IMEI carries each SIM swapped into that port).
- **colocated**: numbers calling from the seed's cells in the same hours; the strength is the
  Jaccard similarity of the two sets of (cell, hour), so a den's concurrent ports, busy all day
  on one cell, score high and a passer-by low.
- **victims**: callee-set similarity estimated with MinHash over ``HASHES`` hash functions and
  candidates found by LSH banding (``BANDS`` bands of ``HASHES / BANDS`` rows), all as grouped
  aggregates and equi-joins, so it runs on any backend and scales past one machine. The hash
  functions are the universal family ``(a * x + b) mod p`` over the callee's digits (``p`` the
  Mersenne prime 2^31 - 1, ``a`` and ``b`` fixed per function), integer arithmetic that every
  engine computes alike: a backend's own ``hash()`` differs between DuckDB and Spark, and so
  would the trace.

The seed-free work (the registration groups and their sizes, each caller's phones, cell-hour
slots and MinHash signatures) does not depend on the numbers traced: ``basis`` builds it once,
a caller may materialise it (``basis(keep=...)``) and trace many batches of seeds against it with
``parts``, which gives the same rows as ``links`` (``parts_of``: the same against a table of
seeds, whose expressions can be compiled once and run for any seeds loaded into it).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from telshield.detect.gangs import memberships

RARE = 4  # a value held by at most this many cards is fully telling
MAX_GROUP = 200  # a value held by more cards than this (a NAT, a busy shop) is dropped
REG_STRENGTH: dict[str, float] = {
    "id": 0.9, "address": 0.8, "device": 0.8, "contact": 0.7, "ip": 0.5, "imei": 0.6,
    "staff": 0.5, "terminal": 0.4,
}
IMEI_STRENGTH = 0.85
COLOCATED_STRENGTH = 0.8
VICTIMS_STRENGTH = 0.9
HASHES = 32
BANDS = 16
MIN_CALLEES = 3  # a caller with fewer distinct callees has no victim set worth comparing
PRIME = 2**31 - 1  # the MinHash family's modulus: (x mod p) * a stays below 2^62
_FAMILY = random.Random(20261207)  # fixed: the same functions on every engine and run
COEFFICIENTS = [(_FAMILY.randrange(1, PRIME), _FAMILY.randrange(0, PRIME)) for _ in range(256)]

_OUT = ("seed", "msisdn", "kind", "value", "strength")


Memtable = Callable[[pa.Table], ir.Table]  # an Arrow table as a lazy table on the engine
# materialise a table as ``name``, its rows stored in the order of the columns given (so that a
# join on them skips the blocks holding no key it looks for; an engine may ignore the order)
Keep = Callable[[str, ir.Table, tuple[str, ...]], ir.Table]


def _seeds(seeds: Sequence[str], memtable: Memtable) -> ir.Table:
    return memtable(pa.table({"seed": pa.array(list(dict.fromkeys(seeds)), pa.string())}))


def _rarity(n: ir.IntegerValue) -> ir.FloatingValue:
    return ibis.least(ibis.literal(1.0), ibis.literal(float(RARE)) / n.cast("float64"))


def registration(subscribers: ir.Table, orders: ir.Table, calls: ir.Table | None,
                 seeds: Sequence[str], *, since: datetime, until: datetime,
                 memtable: Memtable = ibis.memtable) -> ir.Table:
    """Cards sharing a registration attribute with a seed (registered in [since, until))."""
    m = memberships(subscribers, orders, calls, since=since, until=until)
    size = m.group_by(g_kind=m.kind, g_value=m.value).agg(n=m.msisdn.nunique())
    s = _seeds(seeds, memtable)
    mine = m.join(s, m.msisdn == s.seed).select(s.seed, m.kind, m.value)
    other = m.select(o_msisdn=m.msisdn, o_kind=m.kind, o_value=m.value)
    j = mine.join(other, (mine.kind == other.o_kind) & (mine.value == other.o_value)
                  & (mine.seed != other.o_msisdn))
    j = j.join(size, (j.kind == size.g_kind) & (j.value == size.g_value))
    j = j.filter(j.n <= MAX_GROUP)
    base = ibis.literal(0.0)
    for kind, value in REG_STRENGTH.items():
        base = ibis.ifelse(j.kind == kind, ibis.literal(value), base)
    return j.select(seed=j.seed, msisdn=j.o_msisdn, kind=j.kind, value=j.value,
                    strength=base * _rarity(j.n))


def imei(calls: ir.Table, seeds: Sequence[str], *,
         memtable: Memtable = ibis.memtable) -> ir.Table:
    """Numbers that called from a phone (IMEI) a seed called from."""
    k = calls.filter(calls.caller_imei.notnull())
    used = k.group_by(msisdn=k.caller, imei=k.caller_imei).agg()
    size = used.group_by(g_imei=used.imei).agg(n=used.msisdn.nunique())
    s = _seeds(seeds, memtable)
    mine = used.join(s, used.msisdn == s.seed).select(s.seed, used.imei)
    other = used.select(o_msisdn=used.msisdn, o_imei=used.imei)
    j = mine.join(other, (mine.imei == other.o_imei) & (mine.seed != other.o_msisdn))
    j = j.join(size, j.imei == size.g_imei).filter(lambda r: r.n <= MAX_GROUP)
    return j.select(seed=j.seed, msisdn=j.o_msisdn, kind=ibis.literal("imei"), value=j.imei,
                    strength=ibis.literal(IMEI_STRENGTH) * _rarity(j.n))


def colocated(calls: ir.Table, seeds: Sequence[str], *,
              memtable: Memtable = ibis.memtable) -> ir.Table:
    """Numbers calling from a seed's cells in the same hours (Jaccard of cell-hour sets)."""
    k = calls.filter(calls.caller_cell.notnull())
    slots = k.group_by(msisdn=k.caller, cell=k.caller_cell,
                       hour=k.started_at.truncate("h")).agg()
    count = slots.group_by(c_msisdn=slots.msisdn).agg(slots=slots.count())
    s = _seeds(seeds, memtable)
    mine = slots.join(s, slots.msisdn == s.seed).select(s.seed, slots.cell, slots.hour)
    other = slots.select(o_msisdn=slots.msisdn, o_cell=slots.cell, o_hour=slots.hour)
    j = mine.join(other, (mine.cell == other.o_cell) & (mine.hour == other.o_hour)
                  & (mine.seed != other.o_msisdn))
    shared = _shared_slots(j)
    a = count.select(a_msisdn=count.c_msisdn, a_slots=count.slots)
    b = count.select(b_msisdn=count.c_msisdn, b_slots=count.slots)
    r = shared.join(a, shared.seed == a.a_msisdn).join(b, shared.o_msisdn == b.b_msisdn)
    jac = r.shared.cast("float64") / (r.a_slots + r.b_slots - r.shared).cast("float64")
    return r.select(seed=r.seed, msisdn=r.o_msisdn, kind=ibis.literal("colocated"),
                    value=r.cell.concat(" ", r.shared.cast("string"), "h"),
                    strength=ibis.literal(COLOCATED_STRENGTH) * jac)


def _shared_slots(j: ir.Table) -> ir.Table:
    """``seed, o_msisdn, shared, cell``: how many cell-hours each pair shares, and the cell
    they share most (the smallest of those tied: the same on every engine)."""
    c = j.group_by("seed", "o_msisdn", "cell").agg(_n=j.count())
    pair = [c.seed, c.o_msisdn]
    c = c.mutate(shared=c._n.sum().over(group_by=pair),
                 _r=ibis.row_number().over(group_by=pair, order_by=[c._n.desc(), c.cell]))
    return c.filter(c._r == 0).select("seed", "o_msisdn", "shared", "cell")


def signatures(calls: ir.Table, *, hashes: int = HASHES, min_callees: int = MIN_CALLEES,
               memtable: Memtable = ibis.memtable) -> ir.Table:
    """``msisdn, i, h``: the MinHash signature of each caller's callee set (one row per hash
    function), for callers with at least ``min_callees`` distinct callees whose number is
    digits (E.164, as the feeds' law makes every number)."""
    if not 1 <= hashes <= len(COEFFICIENTS):
        raise ValueError(f"hashes {hashes}: use 1 to {len(COEFFICIENTS)}")
    pairs = calls.group_by(msisdn=calls.caller, callee=calls.callee).agg()
    pairs = pairs.mutate(x=pairs.callee.try_cast("int64"))
    pairs = pairs.filter(pairs.x.notnull())
    size = pairs.group_by(s_msisdn=pairs.msisdn).agg(n=pairs.callee.count())
    keep = size.filter(size.n >= min_callees)
    pairs = pairs.join(keep, pairs.msisdn == keep.s_msisdn).select("msisdn", "x")
    funcs = memtable(pa.table({"i": pa.array(range(hashes), pa.int64()),
                               "a": pa.array([a for a, _ in COEFFICIENTS[:hashes]], pa.int64()),
                               "b": pa.array([b for _, b in COEFFICIENTS[:hashes]], pa.int64())}))
    x = pairs.cross_join(funcs)
    h = ((x.x % PRIME) * x.a + x.b) % PRIME
    return x.group_by("msisdn", "i").agg(h=h.min())


def _buckets(sig: ir.Table, *, hashes: int, bands: int) -> ir.Table:
    """``msisdn, band, key``: each band's rows of the signature joined into one key, by
    position within the band (aggregates every engine has: no ordered collect)."""
    rows = max(1, hashes // bands)
    sb = sig.mutate(band=(sig.i // rows), pos=(sig.i % rows))
    parts = {f"k{r}": sb.h.min(where=sb.pos == r) for r in range(rows)}
    g = sb.group_by("msisdn", "band").agg(**parts)
    key = g["k0"].cast("string")
    for r in range(1, rows):
        key = key.concat("|", g[f"k{r}"].cast("string"))
    return g.select("msisdn", "band", key=key)


def victims(calls: ir.Table, seeds: Sequence[str], *, hashes: int = HASHES,
            bands: int = BANDS, memtable: Memtable = ibis.memtable) -> ir.Table:
    """Numbers whose callee sets resemble a seed's (MinHash estimate, LSH candidates)."""
    sig = signatures(calls, hashes=hashes, memtable=memtable)
    buckets = _buckets(sig, hashes=hashes, bands=bands)
    s = _seeds(seeds, memtable)
    mine = buckets.join(s, buckets.msisdn == s.seed).select(s.seed, buckets.band, buckets.key)
    other = buckets.select(o_msisdn=buckets.msisdn, o_band=buckets.band, o_key=buckets.key)
    cand = mine.join(other, (mine.band == other.o_band) & (mine.key == other.o_key)
                     & (mine.seed != other.o_msisdn))
    cand = cand.select("seed", "o_msisdn").distinct()
    a = sig.select(a_msisdn=sig.msisdn, a_i=sig.i, a_h=sig.h)
    b = sig.select(b_msisdn=sig.msisdn, b_i=sig.i, b_h=sig.h)
    j = cand.join(a, cand.seed == a.a_msisdn).join(
        b, (cand.o_msisdn == b.b_msisdn) & (a.a_i == b.b_i))
    est = j.group_by("seed", "o_msisdn").agg(
        same=(j.a_h == j.b_h).cast("int64").sum())
    jac = est.same.cast("float64") / float(hashes)
    return est.select(seed=est.seed, msisdn=est.o_msisdn, kind=ibis.literal("victims"),
                      value=ibis.literal("callee-set Jaccard ≈ ").concat(
                          jac.round(2).cast("string")),
                      strength=ibis.literal(VICTIMS_STRENGTH) * jac)


def links(subscribers: ir.Table, orders: ir.Table, calls: ir.Table | None,
          seeds: Sequence[str], *, since: datetime, until: datetime,
          memtable: Memtable = ibis.memtable) -> ir.Table:
    """All the evidence tying other numbers to the seeds (one expression)."""
    parts = [registration(subscribers, orders, calls, seeds, since=since, until=until,
                          memtable=memtable)]
    if calls is not None:
        parts += [imei(calls, seeds, memtable=memtable),
                  colocated(calls, seeds, memtable=memtable),
                  victims(calls, seeds, memtable=memtable)]
    out = parts[0].select(*_OUT)
    for p in parts[1:]:
        out = out.union(p.select(*_OUT))
    return out.filter(out.strength > 0)


@dataclass(frozen=True)
class Basis:
    """The seed-free tables a trace joins the seeds against (calls' parts None without calls).

    ``groups``: ``msisdn, kind, value, n`` (registration values held by at most MAX_GROUP
    cards); ``phones``: ``msisdn, imei, n`` (likewise); ``slots``: ``msisdn, cell, hour``
    (kept in number order: a seed's own slots); ``slot_cells``: the same rows in (cell, hour)
    order (the slots a seed's are looked up in); ``slot_count``: ``msisdn, slots``; ``sig``:
    ``msisdn, i, h`` (number order: a few numbers' signatures are read from a few blocks);
    ``buckets``: ``msisdn, band, key`` (number order); ``shared_buckets``: the
    buckets that hold two numbers or more, in (band, key) order (a bucket of one number is
    nobody's candidate)."""

    groups: ir.Table
    phones: ir.Table | None = None
    slots: ir.Table | None = None
    slot_count: ir.Table | None = None
    sig: ir.Table | None = None
    buckets: ir.Table | None = None
    slot_cells: ir.Table | None = None
    shared_buckets: ir.Table | None = None


def basis(subscribers: ir.Table, orders: ir.Table, calls: ir.Table | None, *,
          since: datetime, until: datetime, hashes: int = HASHES, bands: int = BANDS,
          keep: Keep | None = None, memtable: Memtable = ibis.memtable) -> Basis:
    """The seed-free tables of a trace over these feeds: lazy, or each passed through
    ``keep(name, table, order)`` as it is built (to materialise it, stored in ``order``: the
    buckets are then built from the kept signatures, not computed again)."""
    def k_(name: str, t: ir.Table, order: tuple[str, ...] = ()) -> ir.Table:
        return t if keep is None else keep(name, t, order)

    m = memberships(subscribers, orders, calls, since=since, until=until)
    size = m.group_by(g_kind=m.kind, g_value=m.value).agg(n=m.msisdn.nunique())
    size = size.filter(size.n <= MAX_GROUP)
    g = m.join(size, (m.kind == size.g_kind) & (m.value == size.g_value))
    groups = k_("groups", g.select(msisdn=g.msisdn, kind=g.kind, value=g.value, n=g.n))
    if calls is None:
        return Basis(groups=groups)
    k = calls.filter(calls.caller_imei.notnull())
    used = k.group_by(msisdn=k.caller, imei=k.caller_imei).agg()
    isize = used.group_by(g_imei=used.imei).agg(n=used.msisdn.nunique())
    isize = isize.filter(isize.n <= MAX_GROUP)
    u = used.join(isize, used.imei == isize.g_imei)
    phones = k_("phones", u.select(msisdn=u.msisdn, imei=u.imei, n=u.n))
    c = calls.filter(calls.caller_cell.notnull())
    slots = c.group_by(msisdn=c.caller, cell=c.caller_cell,
                       hour=c.started_at.truncate("h")).agg()
    slots = k_("slots", slots, ("msisdn",))
    slot_cells = k_("slot_cells", slots, ("cell", "hour"))
    count = k_("slot_count", slots.group_by(msisdn=slots.msisdn).agg(slots=slots.count()))
    sig = k_("sig", signatures(calls, hashes=hashes, memtable=memtable), ("msisdn", "i"))
    buckets = k_("buckets", _buckets(sig, hashes=hashes, bands=bands), ("msisdn",))
    held = buckets.group_by(s_band=buckets.band, s_key=buckets.key).agg(n=buckets.count())
    held = held.filter(held.n >= 2)
    sb = buckets.join(held, (buckets.band == held.s_band) & (buckets.key == held.s_key))
    shared = k_("shared_buckets", sb.select(msisdn=sb.msisdn, band=sb.band, key=sb.key),
                ("band", "key"))
    return Basis(groups=groups, phones=phones, slots=slots, slot_count=count, sig=sig,
                 buckets=buckets, slot_cells=slot_cells, shared_buckets=shared)


def parts(b: Basis, seeds: Sequence[str], *, hashes: int = HASHES,
          memtable: Memtable = ibis.memtable) -> list[ir.Table]:
    """The evidence tying other numbers to the seeds, one ``seed, msisdn, kind, value,
    strength`` expression per kind of evidence (run each alone: DuckDB plans the four joins
    of one union far worse than each of them); the rows of ``links`` without the zero ones."""
    return parts_of(b, _seeds(seeds, memtable), hashes=hashes)


def parts_of(b: Basis, s: ir.Table, *, hashes: int = HASHES) -> list[ir.Table]:
    """``parts`` against a table of seeds (one distinct ``seed`` per row): expressions that
    do not change with the numbers traced, so a backend may compile them once and run them
    again after loading other seeds into that table."""
    g = b.groups
    mine = g.join(s, g.msisdn == s.seed).select(s.seed, g.kind, g.value, g.n)
    other = g.select(o_msisdn=g.msisdn, o_kind=g.kind, o_value=g.value)
    j = mine.join(other, (mine.kind == other.o_kind) & (mine.value == other.o_value)
                  & (mine.seed != other.o_msisdn))
    base = ibis.literal(0.0)
    for kind, value in REG_STRENGTH.items():
        base = ibis.ifelse(j.kind == kind, ibis.literal(value), base)
    out = [j.select(seed=j.seed, msisdn=j.o_msisdn, kind=j.kind, value=j.value,
                    strength=base * _rarity(j.n))]
    if b.phones is not None:
        p = b.phones
        mp = p.join(s, p.msisdn == s.seed).select(s.seed, p.imei, p.n)
        op = p.select(o_msisdn=p.msisdn, o_imei=p.imei)
        jp = mp.join(op, (mp.imei == op.o_imei) & (mp.seed != op.o_msisdn))
        out.append(jp.select(seed=jp.seed, msisdn=jp.o_msisdn, kind=ibis.literal("imei"),
                             value=jp.imei, strength=ibis.literal(IMEI_STRENGTH) * _rarity(jp.n)))
    if b.slots is not None and b.slot_count is not None and b.slot_cells is not None:
        sl, count, oc = b.slots, b.slot_count, b.slot_cells
        ms = sl.join(s, sl.msisdn == s.seed).select(s.seed, sl.cell, sl.hour)
        os_ = oc.select(o_msisdn=oc.msisdn, o_cell=oc.cell, o_hour=oc.hour)
        js = ms.join(os_, (ms.cell == os_.o_cell) & (ms.hour == os_.o_hour)
                     & (ms.seed != os_.o_msisdn))
        shared = _shared_slots(js)
        a = count.select(a_msisdn=count.msisdn, a_slots=count.slots)
        c = count.select(b_msisdn=count.msisdn, b_slots=count.slots)
        r = shared.join(a, shared.seed == a.a_msisdn).join(c, shared.o_msisdn == c.b_msisdn)
        jac = r.shared.cast("float64") / (r.a_slots + r.b_slots - r.shared).cast("float64")
        out.append(r.select(seed=r.seed, msisdn=r.o_msisdn, kind=ibis.literal("colocated"),
                            value=r.cell.concat(" ", r.shared.cast("string"), "h"),
                            strength=ibis.literal(COLOCATED_STRENGTH) * jac))
    if b.sig is not None and b.buckets is not None and b.shared_buckets is not None:
        # a seed's buckets are looked up among those holding two numbers or more only
        sig, bk, sh = b.sig, b.buckets, b.shared_buckets
        mb = bk.join(s, bk.msisdn == s.seed).select(s.seed, bk.band, bk.key)
        ob = sh.select(o_msisdn=sh.msisdn, o_band=sh.band, o_key=sh.key)
        cand = mb.join(ob, (mb.band == ob.o_band) & (mb.key == ob.o_key)
                       & (mb.seed != ob.o_msisdn))
        cand = cand.select("seed", "o_msisdn").distinct()
        sa = sig.select(a_msisdn=sig.msisdn, a_i=sig.i, a_h=sig.h)
        sb = sig.select(b_msisdn=sig.msisdn, b_i=sig.i, b_h=sig.h)
        jv = cand.join(sa, cand.seed == sa.a_msisdn).join(
            sb, (cand.o_msisdn == sb.b_msisdn) & (sa.a_i == sb.b_i))
        est = jv.group_by("seed", "o_msisdn").agg(
            same=(jv.a_h == jv.b_h).cast("int64").sum())
        jac = est.same.cast("float64") / float(hashes)
        out.append(est.select(seed=est.seed, msisdn=est.o_msisdn, kind=ibis.literal("victims"),
                              value=ibis.literal("callee-set Jaccard ≈ ").concat(
                                  jac.round(2).cast("string")),
                              strength=ibis.literal(VICTIMS_STRENGTH) * jac))
    return [p.select(*_OUT).filter(p.strength > 0) for p in out]
