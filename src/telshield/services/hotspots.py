"""Out-of-town concentration hotspots (外地号码聚集): find them, keep them, list them.

``find`` at a moment ``until`` reads the calls of the scan period (the last ``scan_hours``) and
of the baseline before it (``baseline_days``), picks the suspicious out-of-province callers
(``detect.hotspots.suspect_numbers``, from the per-number features), counts them per county and
bucket of ``bucket_hours`` (one lazy expression), and runs Kulldorff's prospective space-time
scan (``detect.scan``) with each county's expected count per bucket taken from its own baseline.
A county's expectation is its baseline mean shrunk towards its share of the cells (a county with
no history is not infinitely surprising), so a county that always holds many such numbers is
measured against itself. Its best recent cylinder becomes an alert when the Monte Carlo p-value
is at most ``alpha``, it holds at least ``min_numbers`` distinct numbers and ``min_factor`` times
its baseline expectation.

An alert that continues the county's open hotspot (its window reaches the new one) updates it
rather than adding another; each new or updated hotspot is audited. The operating cycle calls
``find`` each tick when the ``hotspots`` step is on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import ibis.expr.types as ir
import numpy as np
import structlog

from telshield.detect.hotspots import SuspectRule, activity, regions, suspect_numbers
from telshield.detect.scan import Cylinder, scan
from telshield.domain.audit import AuditEvent
from telshield.domain.errors import InvalidInput
from telshield.domain.hotspots import Hotspot
from telshield.domain.paging import Page
from telshield.services.lakeread import FeedReader
from telshield.services.store import Clock, Store

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ScanParams:
    """How the scan is run (the ``[hotspots]`` settings)."""

    bucket_hours: int = 6
    scan_hours: int = 24
    baseline_days: int = 7
    prior_buckets: float = 4.0  # weight of the cells-share prior in a county's expectation
    floor_per_bucket: float = 1.0  # province-wide suspicious numbers per bucket, at the least
    replicates: int = 999
    alpha: float = 0.01
    min_numbers: int = 2
    min_factor: float = 3.0
    province: str = "Jiangsu"
    rule: SuspectRule = field(default_factory=SuspectRule)

    def __post_init__(self) -> None:
        if self.scan_hours % self.bucket_hours or self.bucket_hours <= 0:
            raise InvalidInput(f"hotspots.scan_hours ({self.scan_hours}) must be a multiple of "
                               f"hotspots.bucket_hours ({self.bucket_hours})")


@dataclass(frozen=True)
class FindResult:
    """What one ``find`` run saw and stored."""

    until: datetime
    suspects: int  # suspicious out-of-province numbers seen in the period, anywhere
    regions: int
    hotspots: tuple[Hotspot, ...]  # new or updated this run, most significant first
    new: int


class HotspotService:
    """Find, keep and list out-of-town concentration hotspots."""

    def __init__(self, store: Store, clock: Clock, reader: FeedReader, params: ScanParams,
                 plan: Callable[[], Any] | None = None) -> None:
        """``plan`` gives the numbering plan's prefix table (Arrow) when first needed: listing
        hotspots does not need it."""
        self.store, self.clock, self.reader, self.params = store, clock, reader, params
        self._plan_loader = plan
        self._plan: ir.Table | None = None
        self._expected = np.zeros(0)

    def latest(self) -> datetime:
        """Just after the last call in the lake."""
        self.reader.require("calls")
        t = self.reader.table("calls").started_at.max().to_pyarrow().as_py()
        return (t or datetime(2000, 1, 1)) + timedelta(seconds=1)

    def find(self, *, actor: str, until: datetime | None = None) -> FindResult:
        """Scan the period ending at ``until`` (default: the last call) and store the alerts."""
        if self._plan is None and self._plan_loader is not None:
            self._plan = self.reader.memtable(self._plan_loader())
        if self._plan is None:
            raise InvalidInput("hotspots need the numbering plan to tell a number's home; "
                               "build it with `telshield numbers plan`")
        p = self.params
        until = until or self.latest()
        scan_start = until - timedelta(hours=p.scan_hours)
        since = scan_start - timedelta(days=p.baseline_days)
        calls = self.reader.table("calls", since - timedelta(days=1), until)
        cells = self.reader.table("cells")
        sus = suspect_numbers(calls, self._plan, since=since, until=until, province=p.province,
                              rule=p.rule)
        act = activity(calls, cells, sus, since=since, until=until,
                       bucket_hours=p.bucket_hours).to_pyarrow().to_pylist()
        regs = regions(cells).order_by("region").to_pyarrow().to_pylist()
        cylinders, counts = self._scan(act, regs)
        found = self._alerts(cylinders, counts, act, regs, until)
        stored, new = self._save(found, actor=actor)
        seen = len({a["msisdn"] for a in act})
        log.info("hotspots.found", until=until.isoformat(), suspects=seen, hotspots=len(stored),
                 new=new)
        return FindResult(until=until, suspects=seen,
                          regions=len(regs), hotspots=tuple(stored), new=new)

    def _scan(self, act: Sequence[Mapping[str, Any]], regs: Sequence[Mapping[str, Any]]
              ) -> tuple[list[Cylinder], np.ndarray]:
        p = self.params
        n_base = p.baseline_days * 24 // p.bucket_hours
        n_scan = p.scan_hours // p.bucket_hours
        index = {r["region"]: i for i, r in enumerate(regs)}
        counts = np.zeros((len(regs), n_base + n_scan), dtype=np.int64)
        for a in act:
            z, b = index.get(a["region"]), int(a["bucket"])
            if z is not None and 0 <= b < n_base + n_scan:
                counts[z, b] += 1
        share = np.array([float(r["cells"]) for r in regs])
        share = share / share.sum() if share.sum() > 0 else share
        history = counts[:, :n_base].sum(axis=1).astype(np.float64)
        rate = max(history.sum() / max(n_base, 1), p.floor_per_bucket)
        expected = (history + p.prior_buckets * rate * share) / (n_base + p.prior_buckets)
        self._expected = expected
        return scan(counts[:, n_base:], expected, replicates=p.replicates), counts[:, n_base:]

    def _alerts(self, cylinders: Sequence[Cylinder], counts: np.ndarray,
                act: Sequence[Mapping[str, Any]], regs: Sequence[Mapping[str, Any]],
                until: datetime) -> list[Hotspot]:
        p = self.params
        n_base = p.baseline_days * 24 // p.bucket_hours
        n_scan = counts.shape[1]
        numbers: dict[tuple[str, int], set[str]] = defaultdict(set)
        for a in act:
            numbers[(a["region"], int(a["bucket"]) - n_base)].add(a["msisdn"])
        now = self.clock.now()
        out = []
        for c in cylinders:
            if c.p_value > p.alpha:
                continue
            r = regs[c.region]
            first = n_scan - c.buckets
            nums = sorted(set().union(*(numbers[(r["region"], b)] for b in range(first, n_scan))))
            expected = float(self._expected[c.region]) * c.buckets
            if len(nums) < p.min_numbers or c.observed < p.min_factor * expected:
                continue
            out.append(Hotspot(
                region=r["region"], city=r["city"] or "", county=r["county"] or "",
                lat=round(float(r["lat"]), 5), lon=round(float(r["lon"]), 5),
                window_start=until - timedelta(hours=p.bucket_hours * c.buckets),
                window_end=until, observed=c.observed, expected=round(expected, 4),
                p_value=c.p_value, llr=round(c.llr, 4), numbers=tuple(nums), found_at=now,
                updated_at=now))
        return out

    def _save(self, found: Sequence[Hotspot], *, actor: str) -> tuple[list[Hotspot], int]:
        stored: list[Hotspot] = []
        new = 0
        with self.store.transaction() as tx:
            for h in found:
                old = tx.hotspots.latest_open(h.region)
                if old is not None and old.window_end >= h.window_start:
                    h = replace(h, id=old.id, found_at=old.found_at,
                                window_start=min(old.window_start, h.window_start),
                                numbers=tuple(sorted(set(old.numbers) | set(h.numbers))))
                else:
                    new += 1
                saved = tx.hotspots.save(h)
                stored.append(saved)
                tx.audit.append([AuditEvent(
                    actor=actor, action="hotspot.update" if old is not None and h.id else
                    "hotspot.found", subject=f"hotspot:{saved.id}", at=saved.updated_at,
                    detail={"region": saved.region, "numbers": len(saved.numbers),
                            "observed": saved.observed, "expected": saved.expected,
                            "p_value": saved.p_value})])
        return stored, new

    def list(self, *, since: datetime | None = None, region: str | None = None,
             page: Page = Page()) -> list[Hotspot]:
        """Stored hotspots, latest first (without their numbers)."""
        with self.store.transaction(write=False) as tx:
            return tx.hotspots.find(since=since, region=region, page=page)

    def get(self, hotspot_id: int) -> Hotspot:
        """One hotspot with its numbers; NotFound if absent."""
        with self.store.transaction(write=False) as tx:
            return tx.hotspots.get(hotspot_id)
