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
files change; so is the registration shown with a trace (each number's newest ``subscribers``
row, one narrow table: the feed itself is one small file per registration day), until the
subscribers' files change. Whether the lake's files changed is checked at most every
``files_max_age_s`` seconds (0, the default: on every trace; the HTTP face's long-lived service:
``[api] trace_files_max_age_s``), since listing and stat-ing a province's partitions costs more
than a warm trace's queries. ``trace_many`` traces a batch of numbers with one query per kind of
evidence and depth (a tick's police clues), giving the same links as one ``trace`` each. The
lake queries run on DuckDB or Spark alike (``telshield trace --engine``); on DuckDB they are
compiled to SQL once per kept basis (``FeedReader.prepare``) and each trace only loads its
seeds into a temporary table and runs that SQL, since compiling an expression cost more than
running it; Spark binds the seeds into the expressions on every trace.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from telshield.detect.trace import Basis, basis, parts, parts_of
from telshield.domain.audit import AuditEvent
from telshield.domain.dens import den_ref
from telshield.domain.errors import InvalidInput
from telshield.domain.gangs import gang_ref
from telshield.domain.numbers import require_canonical
from telshield.services.lakeread import FeedReader, Prepared
from telshield.services.store import Clock, Store

GANG_STRENGTH = 0.9
DEN_STRENGTH = 0.9
FEEDS = ("subscribers", "orders", "calls")  # the feeds a trace reads

SEEDS = pa.schema([("seed", pa.string())])  # the numbers a prepared query is run for
FilesKey = tuple[tuple[str, tuple[tuple[str, int, int], ...]], ...]


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
                 lookback_days: int = 120, follow: int = 10, limit: int = 50,
                 files_max_age_s: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store, self.clock, self.reader = store, clock, reader
        self.lookback_days, self.follow, self.limit = lookback_days, follow, limit
        self.files_max_age_s, self._monotonic = files_max_age_s, monotonic
        self._checked: tuple[float, FilesKey] | None = None  # when the files were last listed
        self._basis: tuple[Any, Basis] | None = None
        self._registrations: tuple[Any, ir.Table] | None = None
        self._kept: dict[str, list[tuple[str, ir.Table]]] = {}  # the backend's kept tables
        self._prepared: dict[str, tuple[object, Prepared | None]] = {}  # group -> (for, SQL)
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
        files = self._files()
        direct = self._links(seeds, files)
        evidence: dict[str, dict[str, list[Evidence]]] = {}
        for n in seeds:
            evidence[n] = defaultdict(list)
            for m, ev in direct.get(n, {}).items():
                evidence[n][m].extend(ev)
        if depth == 2:
            first = {n: _rank(evidence[n], exclude=n, top=self.follow) for n in seeds}
            hop = self._links(list(dict.fromkeys(x.msisdn for f in first.values() for x in f)),
                              files)
            for n in seeds:
                for x in first[n]:
                    for m, ev in hop.get(x.msisdn, {}).items():
                        s = 1 - math.prod(1 - e.strength for e in ev)
                        evidence[n][m].append(Evidence(kind="via", value=",".join(
                            sorted({e.kind for e in ev})), strength=x.strength * s,
                            via=x.msisdn))
        registration = self._registration_of(seeds, files)
        results: dict[str, Trace] = {}
        for n in seeds:
            for m, ref in self._gang(n).items():
                evidence[n][m].append(Evidence(kind="gang", value=ref, strength=GANG_STRENGTH))
            for m, ref in self._den(n).items():
                evidence[n][m].append(Evidence(kind="den", value=ref, strength=DEN_STRENGTH))
            ranked = tuple(_rank(evidence[n], exclude=n, top=self.limit))
            results[n] = Trace(number=n, depth=depth, registration=registration.get(n, {}),
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

    def _files(self) -> FilesKey:
        """Each feed's files with their mtime and size, listed again only once the last
        listing is ``files_max_age_s`` old (0: every time)."""
        now = self._monotonic()
        if self._checked is not None and now - self._checked[0] < self.files_max_age_s:
            return self._checked[1]
        key: FilesKey = tuple(
            (f, tuple((str(p), st.st_mtime_ns, st.st_size)
                      for p in self.reader.files(f) for st in (p.stat(),)))
            for f in FEEDS)
        self._checked = (now, key)
        return key

    def _links(self, seeds: list[str], files: FilesKey | None = None
               ) -> dict[str, dict[str, list[Evidence]]]:
        """seed -> linked number -> evidence (none before the subscribers feed arrives)."""
        key = files if files is not None else self._files()
        if not seeds or not dict(key)["subscribers"]:
            return {}
        b = self._tables(key)
        prepared = self._prepare("basis", b, lambda s: [_union(parts_of(b, s))])
        got = ([p.to_pyarrow() for p in parts(b, seeds, memtable=self.reader.memtable)]
               if prepared is None else prepared.run(_seeds(seeds)))
        # column by column (a dict a row cost more than the queries' smaller ones), sorted
        # on (seed, msisdn, kind, value, strongest first)
        rows: list[tuple[str, str, str, str, float]] = []
        for t in got:
            rows.extend(zip(t.column("seed").to_pylist(), t.column("msisdn").to_pylist(),
                            t.column("kind").to_pylist(),
                            [str(v) for v in t.column("value").to_pylist()],
                            [-float(v) for v in t.column("strength").to_pylist()], strict=True))
        rows.sort()
        out: dict[str, dict[str, list[Evidence]]] = defaultdict(lambda: defaultdict(list))
        for seed, msisdn, kind, value, minus in rows:
            out[seed][msisdn].append(Evidence(kind=kind, value=value,
                                              strength=round(-minus, 4)))
        return out

    def _keep(self, group: str, name: str, t: ir.Table, order: Sequence[str] = ()) -> ir.Table:
        """``t`` kept by the backend as part of ``group`` (let go of by :meth:`_release`),
        stored sorted on ``order`` where the backend can."""
        full = f"trace_{group}_{id(self):x}_{self._builds}_{name}"
        kept = self.reader.keep(full, t, order)
        self._kept.setdefault(group, []).append((full, kept))
        return kept

    def _prepare(self, group: str, owner: object,
                 build: Callable[[ir.Table], list[ir.Table]]) -> Prepared | None:
        """``build``'s queries over a table of seeds, compiled once for ``owner`` (the kept
        tables they read) and let go of with ``group``'s kept tables; None where the engine
        binds the expressions anew (Spark)."""
        got = self._prepared.get(group)
        if got is not None and got[0] is owner:
            return got[1]
        name = f"trace_{group}_{id(self):x}_{self._builds}_seeds"
        prepared = self.reader.prepare(name, SEEDS, build)
        if prepared is not None:
            self._kept.setdefault(group, []).append((name, self.reader.con.table(name)))
        self._prepared[group] = (owner, prepared)
        return prepared

    def _release(self, group: str) -> None:
        """Let go of the tables kept for ``group`` (the previous lake state's) and of the
        queries prepared against them."""
        self._prepared.pop(group, None)
        for name, t in self._kept.pop(group, []):
            self.reader.drop(name, t)
        self._builds += 1

    def _tables(self, files: FilesKey | None = None) -> Basis:
        """The seed-free tables, materialised once and kept until a feed's files change."""
        key = files if files is not None else self._files()
        if self._basis is not None and self._basis[0] == key:
            return self._basis[1]
        since, until = self._window()
        calls = self.reader.table("calls") if dict(key)["calls"] else None
        self._basis = None
        self._release("basis")
        b = basis(self.reader.table("subscribers"), self.reader.table("orders"), calls,
                  since=since, until=until, keep=lambda n, t, o: self._keep("basis", n, t, o),
                  memtable=self.reader.memtable)
        self._basis = (key, b)
        return b

    def _registration_table(self, files: FilesKey) -> ir.Table:
        """Each number's latest registration, kept until the subscribers' files change."""
        key = dict(files)["subscribers"]
        if self._registrations is not None and self._registrations[0] == key:
            return self._registrations[1]
        self._registrations = None
        self._release("registration")
        t = self._keep("registration", "latest", latest_registrations(
            self.reader.table("subscribers")))
        self._registrations = (key, t)
        return t

    def _registration_of(self, numbers: Sequence[str], files: FilesKey | None = None
                         ) -> dict[str, dict[str, str]]:
        """Each number's latest registration row (imsi left out), all values as text; a
        number the lake does not register is absent."""
        key = files if files is not None else self._files()
        if not numbers or not dict(key)["subscribers"]:
            return {}
        t = self._registration_table(key)
        prepared = self._prepare("registration", t, lambda s: [t.filter(t.msisdn.isin(s.seed))])
        got = (t.filter(t.msisdn.isin(list(numbers))).to_pyarrow().to_pylist()
               if prepared is None else prepared.run(_seeds(numbers))[0].to_pylist())
        return {r["msisdn"]: {k: "" if v is None else str(v) for k, v in r.items()} for r in got}

    def _registration(self, number: str) -> dict[str, str]:
        """The number's latest registration row (imsi left out); {} when none."""
        return self._registration_of([number]).get(number, {})

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


def latest_registrations(subscribers: ir.Table) -> ir.Table:
    """Each number's latest row of the ``subscribers`` feed (the newest ``registered_at``; a
    tie, which the feed's key rules out, broken on the other columns), without the IMSI: the
    registration a trace shows."""
    s = subscribers
    cols = [c for c in s.columns if c != "imsi"]
    rest = [s[c] for c in cols if c not in ("msisdn", "registered_at")]
    w = ibis.window(group_by=s.msisdn, order_by=[s.registered_at.desc(), *rest])
    ranked = s.select(*cols, _newest=ibis.row_number().over(w))
    return ranked.filter(ranked["_newest"] == 0).select(*cols)


def _seeds(numbers: Sequence[str]) -> pa.Table:
    """The distinct numbers as the rows of a prepared query's table of seeds."""
    return pa.table({"seed": pa.array(list(dict.fromkeys(numbers)), pa.string())}, schema=SEEDS)


def _union(queries: list[ir.Table]) -> ir.Table:
    """The rows of all ``queries`` (``UNION ALL``): one statement for DuckDB to parse, plan
    and run (once the seeds are looked up in sorted tables, cheaper than one each)."""
    out = queries[0]
    for q in queries[1:]:
        out = out.union(q)
    return out


def _rank(evidence: dict[str, list[Evidence]], *, exclude: str, top: int) -> list[Link]:
    """The ``top`` strongest links (ties by number), each with its evidence strongest first:
    every number's strength is computed, but only the kept few become links."""
    order = []
    for m, ev in evidence.items():
        if m != exclude:
            left = 1.0  # the noisy-or's product, multiplied in the evidence's order
            for e in ev:
                left *= 1 - e.strength
            order.append((-round(1 - left, 4), m))
    return [Link(msisdn=m, strength=-minus,
                 evidence=tuple(sorted(evidence[m], key=lambda e: -e.strength)))
            for minus, m in heapq.nsmallest(top, order)]


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
