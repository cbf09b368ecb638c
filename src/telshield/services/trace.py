"""Trace (溯源) a number: the numbers linked to it, each with its evidence and a strength, ranked.

``detect.trace`` gives every piece of evidence tying another number to the traced one, each
with a strength in [0, 1] on its own; a number's strength is the noisy-or of its evidence
(``1 - prod(1 - s)``), so independent ties add up without passing 1. Depth 2 takes the
``follow`` strongest direct links and traces them one step further; a number reached that way
gets ``s1 * s2`` as evidence "via" the link it came through. A gang the store holds with the
number among its cards adds its other cards, and an open den the store holds with the number
among its SIMs adds its other SIMs. Every trace is an audit event (who traced what).

Speed: the seed-free tables of ``detect.trace`` (registration groups, phones, cell-hour slots,
MinHash signatures) are built once and kept, materialised in the reader's backend
(``FeedReader.keep``: a temporary table on DuckDB, a cached frame on Spark), until a feed's
files change; ``trace_many`` traces a batch of numbers with one query per kind of evidence and
depth (a tick's police clues), giving the same links as one ``trace`` each. The lake queries
run on DuckDB or Spark alike (``telshield trace --engine``).
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ibis.expr.types as ir

from telshield.detect.trace import Basis, basis, parts
from telshield.domain.audit import AuditEvent
from telshield.domain.dens import den_ref
from telshield.domain.errors import InvalidInput
from telshield.domain.gangs import gang_ref
from telshield.domain.numbers import require_canonical
from telshield.services.lakeread import FeedReader
from telshield.services.store import Clock, Store

GANG_STRENGTH = 0.9
DEN_STRENGTH = 0.9


@dataclass(frozen=True)
class Evidence:
    """One tie: what kind, the value shared, its strength alone, and the number it came via."""

    kind: str
    value: str
    strength: float
    via: str = ""


@dataclass(frozen=True)
class Link:
    """A number linked to the traced one, with its combined strength and evidence."""

    msisdn: str
    strength: float
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Trace:
    """The traced number's registration and its ranked links."""

    number: str
    depth: int
    registration: dict[str, str]
    links: tuple[Link, ...]


class TraceService:
    """Trace numbers over the lake and the store."""

    def __init__(self, store: Store, clock: Clock, reader: FeedReader, *,
                 lookback_days: int = 120, follow: int = 10, limit: int = 50) -> None:
        self.store, self.clock, self.reader = store, clock, reader
        self.lookback_days, self.follow, self.limit = lookback_days, follow, limit
        self._basis: tuple[Any, Basis] | None = None
        self._kept: list[tuple[str, ir.Table]] = []  # the backend's tables holding the basis
        self._builds = 0
        self._lock = threading.Lock()

    def trace(self, number: str, *, actor: str, depth: int = 2) -> Trace:
        """Trace ``number`` (E.164 digits) to ``depth`` (1 or 2) and audit who did it."""
        return self.trace_many([number], actor=actor, depth=depth)[0]

    def trace_many(self, numbers: Sequence[str], *, actor: str, depth: int = 2) -> list[Trace]:
        """Trace each of ``numbers`` to ``depth`` in one pass over the lake (one query per
        kind of evidence and step, whatever the count), each audited as its own trace; the
        same traces as ``trace`` on each number alone, in the order given. One trace at a
        time per service: the HTTP face's threads share its backend connection and kept
        tables, which are not made for concurrent use."""
        with self._lock:
            return self._trace_many(numbers, actor=actor, depth=depth)

    def _trace_many(self, numbers: Sequence[str], *, actor: str, depth: int) -> list[Trace]:
        numbers = [require_canonical(n, what="number") for n in numbers]
        if depth not in (1, 2):
            raise InvalidInput(f"depth {depth}: use 1 (direct links) or 2 (one step further)")
        seeds = list(dict.fromkeys(numbers))
        direct = self._links(seeds)
        evidence: dict[str, dict[str, list[Evidence]]] = {}
        for n in seeds:
            evidence[n] = defaultdict(list)
            for m, ev in direct.get(n, {}).items():
                evidence[n][m].extend(ev)
        if depth == 2:
            first = {n: _rank(evidence[n], exclude=n)[: self.follow] for n in seeds}
            hop = self._links(list(dict.fromkeys(x.msisdn for f in first.values() for x in f)))
            for n in seeds:
                for x in first[n]:
                    for m, ev in hop.get(x.msisdn, {}).items():
                        s = 1 - math.prod(1 - e.strength for e in ev)
                        evidence[n][m].append(Evidence(kind="via", value=",".join(
                            sorted({e.kind for e in ev})), strength=x.strength * s,
                            via=x.msisdn))
        results: dict[str, Trace] = {}
        for n in seeds:
            for m, ref in self._gang(n).items():
                evidence[n][m].append(Evidence(kind="gang", value=ref, strength=GANG_STRENGTH))
            for m, ref in self._den(n).items():
                evidence[n][m].append(Evidence(kind="den", value=ref, strength=DEN_STRENGTH))
            ranked = tuple(_rank(evidence[n], exclude=n)[: self.limit])
            results[n] = Trace(number=n, depth=depth, registration=self._registration(n),
                               links=ranked)
        at = self.clock.now()
        with self.store.transaction() as tx:
            tx.audit.append([AuditEvent(
                actor=actor, action="trace", subject=f"msisdn:{n}", at=at,
                detail={"depth": depth, "links": len(results[n].links)}) for n in numbers])
        return [results[n] for n in numbers]

    def _window(self) -> tuple[datetime, datetime]:
        subs = self.reader.table("subscribers")
        latest = subs.registered_at.max().to_pyarrow().as_py() or datetime(2000, 1, 1)
        until = latest + timedelta(seconds=1)
        return until - timedelta(days=self.lookback_days), until

    def _links(self, seeds: list[str]) -> dict[str, dict[str, list[Evidence]]]:
        """seed -> linked number -> evidence (none before the subscribers feed arrives)."""
        if not seeds or not self.reader.files("subscribers"):
            return {}
        rows = [r for p in parts(self._tables(), seeds, memtable=self.reader.memtable)
                for r in p.to_pyarrow().to_pylist()]
        rows.sort(key=lambda r: (r["seed"], r["msisdn"], r["kind"], str(r["value"]),
                                 -float(r["strength"])))
        out: dict[str, dict[str, list[Evidence]]] = defaultdict(lambda: defaultdict(list))
        for r in rows:
            out[r["seed"]][r["msisdn"]].append(Evidence(
                kind=r["kind"], value=str(r["value"]), strength=round(float(r["strength"]), 4)))
        return out

    def _tables(self) -> Basis:
        """The seed-free tables, materialised once and kept until a feed's files change."""
        files = {f: self.reader.files(f) for f in ("subscribers", "orders", "calls")}
        key = tuple((f, tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in ps))
                    for f, ps in files.items())
        if self._basis is not None and self._basis[0] == key:
            return self._basis[1]
        since, until = self._window()
        calls = self.reader.table("calls") if files["calls"] else None
        self._basis = None
        for name, t in self._kept:  # the previous lake state's tables
            self.reader.drop(name, t)
        self._kept.clear()
        self._builds += 1
        prefix = f"trace_basis_{id(self):x}_{self._builds}_"

        def keep(name: str, t: ir.Table) -> ir.Table:
            kept = self.reader.keep(prefix + name, t)
            self._kept.append((prefix + name, kept))
            return kept

        b = basis(self.reader.table("subscribers"), self.reader.table("orders"), calls,
                  since=since, until=until, keep=keep, memtable=self.reader.memtable)
        self._basis = (key, b)
        return b

    def _registration(self, number: str) -> dict[str, str]:
        if not self.reader.files("subscribers"):
            return {}
        s = self.reader.table("subscribers")
        rows = s.filter(s.msisdn == number).order_by(s.registered_at.desc()).limit(1)
        got = rows.to_pyarrow().to_pylist()
        if not got:
            return {}
        return {k: "" if v is None else str(v) for k, v in got[0].items() if k != "imsi"}

    def _gang(self, number: str) -> dict[str, str]:
        with self.store.transaction(write=False) as tx:
            owner = tx.gangs.open_members()
        gid = owner.get(number)
        if gid is None:
            return {}
        return {m: gang_ref(g) for m, g in owner.items() if g == gid and m != number}

    def _den(self, number: str) -> dict[str, str]:
        """The other SIMs of the open den the number was seen in (none when it is in none)."""
        with self.store.transaction(write=False) as tx:
            _, by_sim = tx.dens.open_index()
            did = by_sim.get(number)
            if did is None:
                return {}
            den = tx.dens.get(did)
        return {m.msisdn: den_ref(did) for m in den.members if m.msisdn != number}


def _rank(evidence: dict[str, list[Evidence]], *, exclude: str) -> list[Link]:
    out = [Link(msisdn=m, strength=round(1 - math.prod(1 - e.strength for e in ev), 4),
                evidence=tuple(sorted(ev, key=lambda e: -e.strength)))
           for m, ev in evidence.items() if m != exclude]
    return sorted(out, key=lambda x: (-x.strength, x.msisdn))


def graphml(t: Trace) -> str:
    """The traced number and its links as GraphML (for link-analysis tools)."""
    import tempfile
    from pathlib import Path

    import igraph as ig

    names = [t.number, *[x.msisdn for x in t.links]]
    g = ig.Graph(n=len(names), edges=[(0, i + 1) for i in range(len(t.links))])
    g["traced"] = t.number
    g.vs["name"] = names
    g.es["strength"] = [x.strength for x in t.links]
    g.es["kinds"] = ["|".join(sorted({e.kind for e in x.evidence})) for x in t.links]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "trace.graphml"
        g.write_graphml(str(path))
        return path.read_text(encoding="utf-8")
