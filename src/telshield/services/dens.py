"""GOIP dens (窝点): find them in the call records, keep them as cases, export and dispose.

``find`` reads the one-way callers of a window (``detect.dens``, lazy expressions over the lake),
groups them into dens (``detect.den_groups``) with the analyst's den profile, and stores each
den. A den found again keeps its id: a group holding numbers or port IMEIs of a stored open
den updates it, adding the new SIMs to its members over time, so that running ``find`` every
few hours follows a den through its SIM swaps.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from telshield.detect.den_groups import Cell, Found, group
from telshield.detect.dens import port_hours, ports, relays
from telshield.domain.audit import AuditEvent
from telshield.domain.cases import ActionKind
from telshield.domain.dens import Den, DenMember, DenProfile, den_ref
from telshield.domain.paging import Page
from telshield.services.cases import CaseService
from telshield.services.disposal import BulkResult
from telshield.services.lakeread import FeedReader
from telshield.services.store import Clock, Store

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FindResult:
    """What one ``find`` run saw and stored."""

    since: datetime
    until: datetime
    ports: int  # one-way callers seen
    dens: tuple[Den, ...]
    new: int
    updated: int


class DenService:
    """Find, keep, show and dispose of GOIP dens."""

    def __init__(self, store: Store, clock: Clock, reader: FeedReader, profile: DenProfile,
                 lookback_hours: int = 72, cases: CaseService | None = None) -> None:
        self.store, self.clock, self.reader = store, clock, reader
        self.profile, self.lookback_hours, self.cases = profile, lookback_hours, cases

    def window(self, since: datetime | None, until: datetime | None
               ) -> tuple[datetime, datetime]:
        """[since, until): default the last ``lookback_hours`` of the calls feed."""
        if until is None:
            latest = self.reader.table("calls").started_at.max().to_pyarrow().as_py()
            until = (latest or datetime(2000, 1, 1)) + timedelta(seconds=1)
        return since or until - timedelta(hours=self.lookback_hours), until

    def detect(self, since: datetime, until: datetime) -> tuple[int, list[Found]]:
        """The dens of [since, until) without storing them, and how many one-way callers."""
        self.reader.require("calls")
        p = self.profile
        calls = self.reader.table("calls", since, until)
        intel = self.reader.table("device_intel") if self.reader.files("device_intel") else None
        subs = self.reader.table("subscribers") if self.reader.files("subscribers") else None
        e = ports(calls, intel, since=since, until=until, min_callees=p.min_callees,
                  max_inbound_share=p.max_inbound_share, subscribers=subs,
                  max_sim_age_days=p.max_sim_age_days)
        # In a fixed order, whatever order the engine returns them in: the grouping breaks ties
        # (a SIM as busy on two cells) by the first row it sees.
        rows = sorted(e.to_pyarrow().to_pylist(), key=lambda r: (r["msisdn"], r["cell"]))
        hours: dict[str, set[int]] = defaultdict(set)
        if rows:
            for r in port_hours(calls, e.select("msisdn").distinct(), since=since,
                                until=until).to_pyarrow().to_pylist():
                hours[r["msisdn"]].add(int(r["hour"]))
        rel = sorted(relays(calls, since=since, until=until,
                            min_calls=p.min_relay_calls).to_pyarrow().to_pylist(),
                     key=lambda r: (r["msisdn"], r["cell"]))
        found = group(rows, hours, rel, self._cells(), p)
        return len({r["msisdn"] for r in rows}), found

    def _cells(self) -> dict[str, Cell]:
        if not self.reader.files("cells"):
            return {}
        t = self.reader.table("cells").select("cell_id", "lat", "lon", "county")
        return {r["cell_id"]: Cell(float(r["lat"]), float(r["lon"]), r["county"])
                for r in t.to_pyarrow().to_pylist()}

    def find(self, *, actor: str, since: datetime | None = None,
             until: datetime | None = None) -> FindResult:
        """Find dens among the calls of [since, until) and store them (updating known ones)."""
        since, until = self.window(since, until)
        n, found = self.detect(since, until)
        stored, new = self._save(found, actor=actor)
        log.info("dens.found", ports=n, dens=len(stored), new=new, updated=len(stored) - new)
        return FindResult(since=since, until=until, ports=n,
                          dens=tuple(sorted(stored, key=lambda d: -d.confidence)), new=new,
                          updated=len(stored) - new)

    def _save(self, found: Sequence[Found], *, actor: str) -> tuple[list[Den], int]:
        now = self.clock.now()
        out: list[Den] = []
        new = 0
        with self.store.transaction() as tx:
            by_imei, by_sim = tx.dens.open_index()
            taken: set[int] = set()
            for f in found:
                match = _match(f, by_imei, by_sim, taken)
                den = Den(kind=f.kind, confidence=f.confidence, cells=f.cells, county=f.county,
                          lat=f.lat, lon=f.lon, radius_km=f.radius_km, members=f.members,
                          first_seen=f.first_seen, last_seen=f.last_seen, found_at=now,
                          updated_at=now, evidence=f.evidence)
                if match is None:
                    new += 1
                else:
                    den = _merge(tx.dens.get(match), den)
                saved = tx.dens.save(den)
                taken.add(int(saved.id or 0))
                out.append(saved)
                tx.audit.append([AuditEvent(
                    actor=actor, action="den.update" if match is not None else "den.found",
                    subject=f"den:{saved.id}", at=now,
                    detail={"confidence": saved.confidence, "cells": list(saved.cells),
                            "county": saved.county, "members": len(saved.members)})])
        return out, new

    def first_calls(self, msisdns: Sequence[str]) -> tuple[dict[str, datetime], set[str]]:
        """When each of ``msisdns`` first called, and which of them called or were called."""
        import pyarrow as pa

        calls = self.reader.table("calls")
        m = self.reader.memtable(pa.table({"msisdn": pa.array(list(msisdns), pa.string())}))
        out = calls.join(m, calls.caller == m.msisdn).group_by("caller").agg(
            at=calls.started_at.min()).to_pyarrow().to_pylist()
        inb = calls.join(m, calls.callee == m.msisdn).select("callee").distinct()
        got = set(inb.to_pyarrow().column(0).to_pylist())
        return {r["caller"]: r["at"] for r in out}, {r["caller"] for r in out} | got

    def span(self) -> tuple[datetime, datetime]:
        """The first and last call time of the calls feed."""
        self.reader.require("calls")
        c = self.reader.table("calls")
        r = c.aggregate(a=c.started_at.min(), b=c.started_at.max()).to_pyarrow().to_pylist()[0]
        return r["a"], r["b"]

    def cells(self) -> dict[str, Cell]:
        """Where each cell of the cells feed is."""
        return self._cells()

    def list(self, *, min_confidence: float = 0.0, page: Page = Page()) -> list[Den]:
        """Stored dens, most confident first (without members)."""
        with self.store.transaction(write=False) as tx:
            return tx.dens.find(min_confidence=min_confidence, page=page)

    def get(self, den_id: int) -> Den:
        """One den with its members; NotFound if absent."""
        with self.store.transaction(write=False) as tx:
            return tx.dens.get(den_id)

    def dispose(self, den_id: int, kind: ActionKind, *, actor: str,
                reason: str) -> tuple[BulkResult, tuple[str, ...]]:
        """Dispose of every number of a den that is ours in one action (all or none); the
        other operators' numbers are returned for the police and those operators."""
        if self.cases is None:
            raise RuntimeError("DenService was built without the cases service")
        den = self.get(den_id)
        ours = set()
        if self.reader.files("subscribers"):
            subs = self.reader.table("subscribers").select("msisdn")
            wanted = list(den.msisdns)
            ours = set(subs.filter(subs.msisdn.isin(wanted)).to_pyarrow().column(0).to_pylist())
        mine = [m for m in den.msisdns if m in ours]
        others = tuple(m for m in den.msisdns if m not in ours)
        r = self.cases.bulk(mine, kind, actor=actor, reason=reason, group_ref=den_ref(den_id))
        return r, others


def _match(f: Found, by_imei: Mapping[str, int], by_sim: Mapping[str, int],
           taken: set[int]) -> int | None:
    """The stored open den a group continues: the one holding most of its numbers or port
    IMEIs (SIM and port continuity). Not by cell: two dens on neighbouring cells stay apart."""
    hits: Counter[int] = Counter()
    for m in f.members:
        for d in (by_sim.get(m.msisdn), by_imei.get(m.imei) if m.imei else None):
            if d is not None and d not in taken:
                hits[d] += 1
    return hits.most_common(1)[0][0] if hits else None


def _merge(old: Den, new: Den) -> Den:
    """The stored den with this run's sightings: members over time (the latest sighting of a
    SIM wins), first seen kept; place and cells are this run's (where the den is now)."""
    members: dict[tuple[str, str], DenMember] = {(m.msisdn, m.role): m for m in old.members}
    for m in new.members:
        prev = members.get((m.msisdn, m.role))
        members[(m.msisdn, m.role)] = m if prev is None else replace(
            m, first_at=min(prev.first_at, m.first_at), calls=max(prev.calls, m.calls))
    ms = tuple(sorted(members.values(), key=lambda m: (m.first_at, m.msisdn)))
    return replace(new, id=old.id, found_at=old.found_at,
                   kind="audio_cable" if "audio_cable" in (old.kind, new.kind) else "goip",
                   members=ms,
                   first_seen=min(old.first_seen, new.first_seen),
                   last_seen=max(old.last_seen, new.last_seen),
                   evidence={**new.evidence, "sims": sum(1 for m in ms if m.role == "port"),
                             "relays": sum(1 for m in ms if m.role != "port")})
