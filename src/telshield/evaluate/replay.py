"""The whole system replayed over the simulated province, hour by hour — the headline figure.

Each hour: that hour's calls are screened (in per-minute batches, velocity included) with the
snapshot of the hour's start; then detection runs on everything up to the hour's end; then the
lists move: police clues reported by then become police-ordered blocks, each number's latest
alert puts it under warning with its tier (the disposal policy: the tier's outcome from
``screening.tier_*``), and callees who received calls from warned numbers become protected
(victim protection). The next hour is screened with the new snapshot.

Per route class (inter-province, international, inter-network, local): the share of fraud calls
intercepted (rejected), the share of legitimate calls blocked, and the median time from a fraud
number's first fraud call to its first blocked call. Screening is counterfactual here: a blocked
call is still in the CDRs detection reads, as the simulator wrote them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import structlog

from telshield.domain.alerts import Tier
from telshield.domain.errors import InvalidInput
from telshield.screening.engine import Engine, EngineConfig
from telshield.screening.numbering import PlanTuple, parse_numbers
from telshield.screening.snapshot import (
    POLICE,
    SUSPEND,
    VERIFY,
    WATCH,
    Outcome,
    Snapshot,
    SnapshotInput,
)
from telshield.screening.victims import victims_of
from telshield.services.detection import Detector

log = structlog.get_logger(__name__)

ROUTES = ("inter_province", "international", "inter_network", "local")
BARRED = ("inter_province", "international", "inter_network")  # the ≥ 95% bar's routes
_CODE = {Outcome.ALLOW: 0, Outcome.LABEL: 1, Outcome.WARN_CALLEE: 2, Outcome.REJECT: 3}
_TIER_BIT = {Tier.WATCH: WATCH, Tier.VERIFY: VERIFY, Tier.SUSPEND: SUSPEND}


@dataclass
class RouteFigures:
    """Screening results on one route class."""

    route: str
    fraud_calls: int
    fraud_rejected: int
    fraud_warned: int  # warn_callee or label: connected, but the callee was warned
    legit_calls: int
    legit_rejected: int

    @property
    def intercepted(self) -> float:
        """Share of fraud calls rejected."""
        return self.fraud_rejected / self.fraud_calls if self.fraud_calls else float("nan")

    @property
    def false_blocked(self) -> float:
        """Share of legitimate calls rejected."""
        return self.legit_rejected / self.legit_calls if self.legit_calls else float("nan")


@dataclass
class ReplayReport:
    """What ``telshield screen replay`` prints."""

    period: tuple[datetime, datetime]
    hours: int
    routes: list[RouteFigures]
    fraud_numbers: int
    fraud_numbers_blocked: int
    median_minutes_to_block: float
    snapshot_numbers: int
    reasons: dict[str, int] = field(default_factory=dict)

    def total(self, routes: tuple[str, ...] = BARRED) -> RouteFigures:
        """The figures summed over ``routes``."""
        rs = [r for r in self.routes if r.route in routes]
        return RouteFigures(
            "+".join(routes), *(sum(getattr(r, f) for r in rs) for f in (
                "fraud_calls", "fraud_rejected", "fraud_warned", "legit_calls", "legit_rejected"))
        )


def load_calls(world: Path) -> pd.DataFrame:
    """Calls with their truth (is_fraud, route), in time order."""
    calls_dir, truth_path = world / "calls", world / "truth" / "calls.parquet"
    if not calls_dir.exists() or not truth_path.exists():
        raise InvalidInput(f"{world} has no calls/ or truth/calls.parquet: give the folder "
                           "`telshield world generate` wrote")
    cols = ["call_id", "started_at", "caller", "callee", "ingress"]
    calls = pq.read_table(calls_dir, columns=cols).to_pandas()
    truth = pq.read_table(truth_path, columns=["call_id", "is_fraud", "route"]).to_pandas()
    df = calls.merge(truth, on="call_id", how="left", validate="one_to_one")
    df["is_fraud"] = df["is_fraud"].fillna(False).astype(bool)
    df["route"] = df["route"].fillna("local").astype(str)
    return df.sort_values("started_at", kind="stable").reset_index(drop=True)


def load_clues(world: Path) -> pd.DataFrame:
    """Police clues: when each number was reported."""
    path = world / "clues"
    if not path.exists():
        return pd.DataFrame({"reported_at": pd.Series(dtype="datetime64[us]"),
                             "msisdn": pd.Series(dtype=str)})
    return pq.read_table(path, columns=["reported_at", "msisdn"]).to_pandas()


def replay(
    det: Detector,
    world: Path,
    *,
    config: EngineConfig | None = None,
    plan: tuple[PlanTuple, ...] = (),
    step: timedelta = timedelta(hours=1),
    progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    """Screen, detect and update the lists hour by hour over the world's calls; judge it."""
    calls = load_calls(world)
    if calls.empty:
        raise InvalidInput("the calls feed is empty: nothing to replay")
    clues = load_clues(world)
    callers = parse_numbers(calls["caller"].tolist())
    callees = parse_numbers(calls["callee"].tolist())
    # Naive local timestamps read as if UTC, everywhere alike: only differences matter.
    at = calls["started_at"].astype("datetime64[us]").astype("int64").to_numpy() // 10**6
    minute = at // 60
    clue_at = clues["reported_at"].astype("datetime64[us]").astype("int64").to_numpy() // 10**6
    clue_num = parse_numbers(clues["msisdn"].astype(str).tolist())
    engine = Engine(config or EngineConfig(max_age_s=2 * step.total_seconds()))
    start = pd.Timestamp(calls["started_at"].iloc[0]).floor("h").to_pydatetime()
    end = pd.Timestamp(calls["started_at"].iloc[-1]).to_pydatetime()
    stride = int(step.total_seconds())
    t0 = int(pd.Timestamp(start).value // 10**9)
    hours = int((at[-1] - t0) // stride) + 1
    outcome = np.zeros(len(calls), dtype=np.int8)
    tiers: dict[int, int] = {}
    bounds = np.searchsorted(at, t0 + stride * np.arange(hours + 1))
    det.state_path = None
    snap_size = 0
    for h in range(hours):
        h_start = t0 + h * stride
        lo, hi = int(bounds[h]), int(bounds[h + 1])
        snap = _snapshot(h_start, tiers, clue_at, clue_num, callers[:lo], callees[:lo], plan)
        snap_size = len(snap)
        engine.swap(snap)
        _screen(engine, calls, minute, outcome, lo, hi)
        until = start + timedelta(seconds=(h + 1) * stride)  # naive local time, as the feeds
        frame = det.score(det.features(until, active_since=until - step))
        for a in det.alerts(frame, until):
            n = int(a.msisdn) if a.msisdn.isdigit() else -1
            if n > 0:
                tiers[n] = _TIER_BIT[a.tier]
        if progress is not None:
            progress(h + 1, hours)
    report = _judge(calls, callers, at, outcome, start, end, hours, snap_size)
    report.reasons = dict(engine.reasons.most_common())
    return report


def _snapshot(
    as_of: int, tiers: dict[int, int], clue_at: np.ndarray, clue_num: np.ndarray,
    callers: np.ndarray, callees: np.ndarray, plan: tuple[PlanTuple, ...],
) -> Snapshot:
    police = clue_num[(clue_at <= as_of) & (clue_num > 0)]
    warned = np.fromiter(tiers.keys(), dtype=np.int64, count=len(tiers))
    warned_tiers = np.fromiter(tiers.values(), dtype=np.uint8, count=len(tiers))
    protected = victims_of(warned, callers, callees)
    return Snapshot.build(SnapshotInput(
        list_numbers=police, list_flags=np.full(police.shape, POLICE, np.uint8),
        warned=warned, warned_tiers=warned_tiers, protected=protected, plan=plan,
        as_of=float(as_of), version=f"replay-{as_of}",
    ))


def _screen(engine: Engine, calls: pd.DataFrame, minute: np.ndarray, outcome: np.ndarray,
            lo: int, hi: int) -> None:
    if hi <= lo:
        return
    caller = calls["caller"].to_numpy()
    callee = calls["callee"].to_numpy()
    ingress = calls["ingress"].to_numpy()
    m = minute[lo:hi]
    cuts = lo + np.flatnonzero(np.diff(m)) + 1
    edges = [lo, *cuts.tolist(), hi]
    for a, b in itertools.pairwise(edges):
        ds = engine.decide_batch(caller[a:b].tolist(), callee[a:b].tolist(),
                                 ingress[a:b].tolist(), float(minute[a] * 60))
        outcome[a:b] = [_CODE[d.outcome] for d in ds]


def _judge(calls: pd.DataFrame, callers: np.ndarray, at: np.ndarray, outcome: np.ndarray,
           start: datetime, end: datetime, hours: int, snap_size: int) -> ReplayReport:
    fraud = calls["is_fraud"].to_numpy()
    route = calls["route"].to_numpy()
    rejected = outcome == _CODE[Outcome.REJECT]
    warned = (outcome == _CODE[Outcome.WARN_CALLEE]) | (outcome == _CODE[Outcome.LABEL])
    figures = []
    for r in ROUTES:
        on = route == r
        figures.append(RouteFigures(
            r, int((on & fraud).sum()), int((on & fraud & rejected).sum()),
            int((on & fraud & warned).sum()), int((on & ~fraud).sum()),
            int((on & ~fraud & rejected).sum()),
        ))
    # Per fraud number: first fraud call to first blocked call.
    f = pd.DataFrame({"n": callers[fraud], "t": at[fraud], "blocked": rejected[fraud]})
    first = f.groupby("n")["t"].min()
    first_block = f[f["blocked"]].groupby("n")["t"].min()
    delay = (first_block - first.reindex(first_block.index)) / 60.0
    return ReplayReport(
        period=(start, end), hours=hours, routes=figures, fraud_numbers=len(first),
        fraud_numbers_blocked=len(first_block),
        median_minutes_to_block=float(delay.median()) if len(delay) else float("nan"),
        snapshot_numbers=snap_size,
    )
