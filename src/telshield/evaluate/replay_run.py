"""The whole system replayed over a simulated province, hour by hour: the product's own
operating cycle (``telshield run``) on a simulated clock, with the screening engine in between.

Each simulated hour ``[T, T+1h)``:

1. that hour's calls are screened in per-minute batches (velocity included) by an engine
   serving the snapshot published at ``T``, read back from the snapshot folder as the SIP and
   HTTP faces read it;
2. at ``T+1h`` the cycle ticks (``telshield.services.cycle``): police clues reported by then
   become police-ordered blocks, overdue verifications and restrictions escalate, detection
   runs when due (every ``detect_every`` hours; in shadow mode during the warm-up) and the
   disposal policy acts on its alerts, barred numbers' devices are listed, and the snapshot of
   ``T+1h`` is published for the next hour.

The platform runs on its own SQLite store, cycle state and snapshot folder under the work
folder, under a fixed clock that follows simulated time (the tick's moment is feed time, China
Standard Time, as the feeds write it; the store's clock holds the same moment in store time,
UTC: ``docs/time.md``). Only the judging reads truth (is the call fraud); the route class comes from
the numbering plan and the ingress. Screening is counterfactual: a blocked call is still in the
CDRs detection reads, as the simulator wrote them.
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import structlog

from telshield.domain.clock import FEED_OFFSET, feed_epoch, feed_now, feed_to_store
from telshield.domain.errors import InvalidInput
from telshield.domain.paging import Page
from telshield.evaluate.replay_judge import RouteResult, judge, meets_bar
from telshield.evaluate.replay_routes import route_classes
from telshield.screening.engine import Engine
from telshield.screening.numbering import parse_numbers
from telshield.screening.roaming import Updates
from telshield.screening.snapshot import Outcome, Snapshot
from telshield.services.cases import CaseService
from telshield.services.figures import Figures, PeriodFigures, serving_carriers
from telshield.services.store import Clock, FixedClock, Store
from telshield.settings import Settings, StoreSettings
from telshield.wiring.screening import engine_config

log = structlog.get_logger(__name__)

HOUR = 3600
_CODE = {o: o.rank for o in Outcome}  # the judge reads ranks (replay_judge.REJECT == 3)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay."""

    detect_every: int | None = None  # hours between detection runs (None: the cycle's)
    hours: int | None = None  # replay only the first N hours (None: the whole period)
    use_model: bool = False  # score with the latest trained model too, not rules only
    ingest: bool = True  # ingest the world into a lake first (else read its folders directly)
    protect_victims: bool = True
    device_rule: bool = True  # bar GOIP / SIM-bank device classes (caller IMEI TAC)
    device_barring: bool = True  # blacklist the IMEIs barred numbers used (services.devices)
    outcomes: Path | None = None  # write every call's outcome and reasons here (Parquet)
    warmup_hours: int = 0  # detection in shadow mode and calls not judged for the first N hours
    reverify: bool = True  # honest owners complete a re-verification when asked (truth says when)
    live_roaming: bool = True  # location updates reach screening as they happen (else hourly)
    carrier_check: bool = True  # the trunk carrier of interconnect calls reaches screening


def cadence_hours(settings: Settings) -> int:
    """The platform's detection cadence (``cycle.detect_every``) in simulated hours: what the
    replay runs unless told otherwise, so that it measures the platform as configured. The
    replay ticks hourly, so the cadence must be a whole number of hours."""
    from telshield.wiring.cycle import span

    every = span(settings.cycle.detect_every, "cycle.detect_every")
    if every < timedelta(hours=1) or every % timedelta(hours=1):
        raise InvalidInput(
            f"cycle.detect_every {settings.cycle.detect_every!r}: the replay ticks every hour, "
            "so it runs detection every whole number of hours; pass --detect-every N")
    return every // timedelta(hours=1)


def detect_hours(settings: Settings, options: ReplayOptions) -> int:
    """Hours between the replay's detection runs: the option, else the platform's cadence."""
    return cadence_hours(settings) if options.detect_every is None else options.detect_every


@dataclass
class ReplayResult:
    """What ``telshield evaluate replay`` prints."""

    period: tuple[datetime, datetime]
    hours: int
    detect_every: int
    detection_runs: int
    alerts: int
    routes: list[RouteResult]  # one per route class, then the barred classes together
    route_agreement: float  # share of calls whose plan-derived class equals truth's
    cases: dict[str, int] = field(default_factory=dict)
    police_entries: int = 0
    barred_devices: int = 0
    reverified: int = 0  # measures lifted because the owner re-verified
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    # The period's figures as the overview page and the police report count them (the replay's
    # store, its judged calls labelled by truth): ``services.figures``.
    figures: PeriodFigures | None = None

    @property
    def meets_bar(self) -> bool:
        """≥ 95% intercepted on each barred route and ≤ 0.01% legitimate calls blocked."""
        return meets_bar(self.routes)


def load_ported(world: Path) -> pa.Table | None:
    """The world's ported feed (the number-portability database), None when it has none."""
    path = world / "ported"
    return pq.read_table(path, columns=["msisdn", "carrier", "ported_at"]) \
        if path.is_dir() and any(path.rglob("*.parquet")) else None


def load_calls(world: Path) -> pd.DataFrame:
    """The world's calls with truth's ``is_fraud``, in time order, and ``crew``: calls that are
    not fraud calls placed by a crew's own handler (its cover traffic to the crew's SIMs), which
    are neither fraud nor legitimate traffic and are not judged."""
    calls_dir, truth = world / "calls", world / "truth" / "calls.parquet"
    if not calls_dir.is_dir() or not truth.exists():
        raise InvalidInput(f"{world} has no calls/ or truth/calls.parquet: give the folder "
                           "`telshield world generate` wrote")
    cols = ["call_id", "started_at", "caller", "callee", "ingress", "caller_imei"]
    if "ingress_carrier" in pq.ParquetDataset(calls_dir).schema.names:
        cols.append("ingress_carrier")  # a world written before the column has none
    calls = pq.read_table(calls_dir, columns=cols).to_pandas()
    if "ingress_carrier" not in calls:
        calls["ingress_carrier"] = None
    fraud = pq.read_table(truth, columns=["call_id", "is_fraud", "route"]).to_pandas()
    df = calls.merge(fraud, on="call_id", how="left", validate="one_to_one")
    df["is_fraud"] = df["is_fraud"].fillna(False).astype(bool)
    numbers = world / "truth" / "numbers.parquet"
    roles = pq.read_table(numbers, columns=["msisdn", "role"]).to_pandas() \
        if numbers.exists() else pd.DataFrame({"msisdn": [], "role": []})
    handlers = set(roles.loc[roles["role"] == "handler", "msisdn"].astype(str))
    df["crew"] = ~df["is_fraud"] & df["caller"].astype(str).isin(handlers)
    if df.empty:
        raise InvalidInput(f"{world}: the calls feed is empty, nothing to replay")
    return df.sort_values("started_at", kind="stable").reset_index(drop=True)


def load_location_updates(world: Path) -> Updates:
    """The roaming feed (our subscribers' location updates abroad), in time order, as the
    screening faces receive them (``telshield screen location-updates``)."""
    path = world / "roaming"
    if not path.is_dir():
        return Updates.empty()
    t = pq.read_table(path, columns=["msisdn", "at", "event"]).to_pandas()
    t = t.sort_values("at", kind="stable")
    return Updates.of(t["msisdn"].astype(str).tolist(), t["event"].astype(str).tolist(),
                      _epochs(t["at"]).astype(np.float64).tolist(), where="roaming feed row")


def load_clues(world: Path) -> pd.DataFrame:
    """Police clues (a feed, not truth), in order of reporting."""
    path = world / "clues"
    cols = ["clue_id", "reported_at", "msisdn", "case_ref"]
    if not path.is_dir():
        return pd.DataFrame({c: pd.Series(dtype=str) for c in cols})
    return pq.read_table(path, columns=cols).to_pandas().sort_values("reported_at")


def run_replay(
    settings: Settings, world: Path, work: Path, options: ReplayOptions = ReplayOptions(), *,
    progress: Progress | None = None,
) -> ReplayResult:
    """Replay ``world`` hour by hour (state kept under ``work``, its store started afresh)."""
    from telshield.evaluate.replay_people import Reverifiers, reverify_hours
    from telshield.reference.numbering import load_plan_table
    from telshield.screening.publish import load_current
    from telshield.services.cycle import CycleState
    from telshield.wiring.cycle import platform
    from telshield.wiring.screening import snapshot_dir

    every = detect_hours(settings, options)
    if every < 1:
        raise InvalidInput("detect_every must be at least 1 hour")
    secs: defaultdict[str, float] = defaultdict(float)
    t = time.perf_counter()
    calls = load_calls(world)
    start = pd.Timestamp(calls["started_at"].iloc[0]).floor("h").to_pydatetime()
    if options.hours is not None:
        calls = calls[calls["started_at"] < start + timedelta(hours=options.hours)]
    at = _epochs(calls["started_at"])
    t0 = feed_epoch(start)
    hours = int((at[-1] - t0) // HOUR) + 1
    work.mkdir(parents=True, exist_ok=True)
    feeds = _ingest(world, work, settings, start + timedelta(hours=hours)) \
        if options.ingest else world
    secs["load"] = time.perf_counter() - t

    rs = replay_settings(settings, work, options)
    _fresh(work, rs)
    clock = FixedClock(feed_to_store(start))  # the store's clock keeps store time (UTC)
    plan_table = load_plan_table(settings.data_dir)
    shadow_until = start + timedelta(hours=options.warmup_hours) \
        if options.warmup_hours > 0 else None
    p = platform(rs, clock=clock, lake=feeds, shadow_until=shadow_until)
    # The first detection run comes ``detect_every`` hours in, as the cycle would schedule it
    # had it started at ``start``.
    p.cycle.state.save(CycleState(detected_until=start))
    t = time.perf_counter()
    ported = load_ported(world)
    routes = route_classes(calls["caller"], calls["callee"], calls["ingress"], plan_table,
                           ibis.duckdb.connect(), province=settings.detect.province,
                           ported=ported)
    agreement = float(np.mean(routes == calls["route"].astype(str).to_numpy()))
    secs["routes"] = time.perf_counter() - t

    engine = Engine(engine_config(settings.screening))
    callers = parse_numbers(calls["caller"].tolist())
    imeis = calls["caller_imei"].astype(object).where(calls["caller_imei"].notna(), None)
    trunks = calls["ingress_carrier"].astype(object).where(calls["ingress_carrier"].notna(), None)
    cols = (calls["caller"].tolist(), calls["callee"].tolist(), calls["ingress"].tolist(),
            imeis.tolist() if options.device_rule else None,
            trunks.tolist() if options.carrier_check else None)
    outcome = np.zeros(len(calls), dtype=np.int8)
    # Each call's reasons are kept only when asked for (--outcomes): joining 1 M tuples costs.
    reasons = np.full(len(calls), "", dtype=object) if options.outcomes is not None else None
    bounds = np.searchsorted(at, t0 + HOUR * np.arange(hours + 1))
    folder = snapshot_dir(rs)
    t = time.perf_counter()
    p.cycle.publish(start)
    secs["snapshot"] += time.perf_counter() - t
    people = Reverifiers(p.disposal.cases, reverify_hours(world) if options.reverify else {})
    moves = _Moves(load_location_updates(world) if options.live_roaming else Updates.empty())
    runs = alerts = listed = barred_devices = reverified = 0
    for h in range(hours):
        lo, hi = int(bounds[h]), int(bounds[h + 1])
        t = time.perf_counter()
        engine.swap(Snapshot.build(load_current(folder)))  # what the faces would serve now
        secs["snapshot"] += time.perf_counter() - t
        t = time.perf_counter()
        _screen(engine, cols, at, outcome, reasons, lo, hi, moves)
        secs["screen"] += time.perf_counter() - t
        end = start + timedelta(hours=h + 1)
        clock.at = feed_to_store(end)
        t = time.perf_counter()
        reverified += people.act(clock.now())  # what the BSS reports before the tick
        secs["dispose"] += time.perf_counter() - t
        tick = p.cycle.tick(end, detect=True if h == hours - 1 else None)
        listed += tick.clues
        alerts += tick.alerts
        runs += tick.detected
        barred_devices += tick.devices
        for step, s in tick.seconds.items():
            secs[_SECONDS.get(step, step)] += s
        if progress is not None:
            progress(h + 1, hours)

    t = time.perf_counter()
    alerted = _alerted(first_alerts(p.disposal.cases), calls["caller"], at)
    # A handler's cover calls to its crew are neither fraud calls nor legitimate traffic.
    judged = (at >= t0 + HOUR * max(options.warmup_hours, 0)) & ~calls["crew"].to_numpy()
    results = judge(routes[judged], calls["is_fraud"].to_numpy()[judged], callers[judged],
                    at[judged], outcome[judged], alerted[judged])
    secs["judge"] = time.perf_counter() - t
    if options.outcomes is not None and reasons is not None:
        _write_outcomes(options.outcomes, calls, routes, outcome, reasons, alerted, judged)
    period = (start + timedelta(hours=max(options.warmup_hours, 0)),
              pd.Timestamp(calls["started_at"].iloc[-1]).to_pydatetime())
    t = time.perf_counter()
    figures = period_figures(p.disposal.store, clock, calls, at, outcome, judged, plan_table,
                             province=settings.detect.province,
                             start=period[0], end=start + timedelta(hours=hours),
                             ported=ported)
    secs["judge"] += time.perf_counter() - t
    out = ReplayResult(period, hours, every, runs, alerts, results, agreement,
                       cases=p.disposal.cases.summary()["cases"], police_entries=listed,
                       barred_devices=barred_devices, reverified=reverified,
                       reasons=dict(engine.reasons.most_common()),
                       seconds={k: round(v, 1) for k, v in secs.items()}, figures=figures)
    log.info("replay.done", hours=hours, runs=runs, alerts=alerts, meets_bar=out.meets_bar)
    return out


def period_figures(store: Store, clock: Clock, calls: pd.DataFrame, at: np.ndarray,
                   outcome: np.ndarray, judged: np.ndarray, plan: pa.Table, *, province: str,
                   start: datetime, end: datetime, ported: pa.Table | None = None
                   ) -> PeriodFigures:
    """The figures of the replay's judged period [start, end) (feed time) as the overview and
    the police report read them (``services.figures``), over the replay's store and its
    judged calls, each labelled fraud or not by truth (the one thing only the replay knows);
    ``ported``: the world's ported feed, as the live figures read the lake's."""
    names = np.array([o.value for o in sorted(Outcome, key=lambda o: o.rank)], dtype=object)
    screened = pd.DataFrame({
        "at": at[judged].astype(np.float64),
        "caller": calls["caller"].astype(str).to_numpy()[judged],
        "callee": calls["callee"].astype(str).to_numpy()[judged],
        "ingress": calls["ingress"].astype(str).to_numpy()[judged],
        "outcome": names[outcome[judged].astype(np.int64)],
        "fraud": calls["is_fraud"].to_numpy(dtype=bool)[judged]})
    table = ibis.memtable(screened, schema={"at": "float64", "caller": "string",
                                            "callee": "string", "ingress": "string",
                                            "outcome": "string", "fraud": "boolean"})
    plan_t = ibis.memtable(plan)
    serving = serving_carriers(ibis.memtable(ported)) if ported is not None and ported.num_rows \
        else None
    f = Figures(store, clock, calls=lambda _s, _e: table, plan=lambda: plan_t,
                province=province, ported=lambda: serving)
    return f.period(feed_to_store(start), feed_to_store(end))


# Tick steps -> the replay's time buckets.
_SECONDS = {"clues": "dispose", "escalate": "dispose", "detect": "detect",
            "devices": "devices", "publish": "snapshot"}


def replay_settings(settings: Settings, work: Path, options: ReplayOptions) -> Settings:
    """The settings the replay's platform runs on: its own store, cycle state and snapshot
    folder under ``work``, and the replay's options as the cycle's settings. The den and gang
    finders stay out of its cycle whatever the settings say: they dispose of nothing, so they
    would only slow the replay, whose figures are what the screening and disposal did."""
    cycle = settings.cycle.model_copy(update={
        "state_dir": work / "cycle", "detect_every": f"{detect_hours(settings, options)}h",
        "use_model": options.use_model, "protect_victims": options.protect_victims,
        "device_classes": options.device_rule, "watch_dir": None,
    })
    return settings.model_copy(update={
        "store": StoreSettings(url=f"sqlite:///{(work / 'store.db').as_posix()}"),
        "screening": settings.screening.model_copy(update={"snapshot_dir": work / "snapshot"}),
        "disposal": settings.disposal.model_copy(update={"bar_devices": options.device_barring}),
        "cycle": cycle,
        "dens": settings.dens.model_copy(update={"in_cycle": False}),
        "gangs": settings.gangs.model_copy(update={"in_cycle": False}),
    })


def _fresh(work: Path, settings: Settings) -> None:
    """Start the replay's store, cycle state and snapshots afresh."""
    db = work / "store.db"
    for f in (db, db.with_name("store.db-wal"), db.with_name("store.db-shm")):
        f.unlink(missing_ok=True)
    for d in (work / "cycle", work / "snapshot"):
        shutil.rmtree(d, ignore_errors=True)


class _Moves:
    """Location updates handed to the engine as the replay's clock passes them."""

    def __init__(self, updates: Updates) -> None:
        self.updates, self.next = updates, 0

    def until(self, engine: Engine, end: float) -> None:
        """Give the engine the updates before ``end`` (epoch seconds) not given yet."""
        u = self.updates
        k = int(np.searchsorted(u.at, end, side="left"))
        if k > self.next:
            s = slice(self.next, k)
            engine.location_updates(Updates(u.numbers[s], u.abroad[s], u.at[s]))
            self.next = k


def _screen(engine: Engine,
            cols: tuple[list[str], list[str], list[str], list[str | None] | None,
                        list[str | None] | None],
            at: np.ndarray, outcome: np.ndarray, reasons: np.ndarray | None, lo: int, hi: int,
            moves: _Moves) -> None:
    """Decide calls ``lo:hi`` in per-minute batches, each at its minute, after the location
    updates of that minute and before (a phone attaches to a network before it can call)."""
    if hi <= lo:
        return
    minute = at[lo:hi] // 60
    edges = [lo, *(lo + np.flatnonzero(np.diff(minute)) + 1).tolist(), hi]
    caller, callee, ingress, imei, trunk = cols
    for a, b in itertools.pairwise(edges):
        moves.until(engine, float((minute[a - lo] + 1) * 60))
        ds = engine.decide_batch(caller[a:b], callee[a:b], ingress[a:b],
                                 float(minute[a - lo] * 60),
                                 imei[a:b] if imei is not None else None,
                                 trunk[a:b] if trunk is not None else None)
        outcome[a:b] = ds.ranks  # Outcome.rank: allow 0, label 1, warn callee 2, reject 3
        if reasons is not None:
            reasons[a:b] = [";".join(r) for r in ds.reasons]


def _write_outcomes(path: Path, calls: pd.DataFrame, routes: np.ndarray, outcome: np.ndarray,
                    reasons: np.ndarray, alerted: np.ndarray, judged: np.ndarray) -> None:
    """Every call with its route class, the screening outcome and reasons, and whether its
    caller had been alerted on before it: the rows behind the replay's table, for analysis."""
    names = {v: k.value for k, v in _CODE.items()}
    table = pa.table({
        "call_id": pa.array(calls["call_id"].to_numpy(dtype=object), pa.string()),
        "started_at": pa.array(calls["started_at"].to_numpy(), pa.timestamp("us")),
        "caller": pa.array(calls["caller"].to_numpy(dtype=object), pa.string()),
        "callee": pa.array(calls["callee"].to_numpy(dtype=object), pa.string()),
        "ingress": pa.array(calls["ingress"].to_numpy(dtype=object), pa.string()),
        "route": pa.array(routes.astype(object), pa.string()),
        "is_fraud": pa.array(calls["is_fraud"].to_numpy(), pa.bool_()),
        "outcome": pa.array([names[int(x)] for x in outcome], pa.string()),
        "reasons": pa.array(reasons, pa.string()),
        "caller_alerted": pa.array(alerted, pa.bool_()),
        "judged": pa.array(judged, pa.bool_()),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _alerted(first: dict[str, datetime], caller: pd.Series, at: np.ndarray) -> np.ndarray:
    """Per call: whether its caller had been alerted on (first alert's data end) before it."""
    since = caller.map({n: feed_epoch(t) for n, t in first.items()})
    return np.asarray(since.fillna(np.inf).to_numpy(dtype=float) <= at)


def first_alerts(cases: CaseService) -> dict[str, datetime]:
    """The end of the data window of each number's first alert (when it was first visible)."""
    out: dict[str, datetime] = {}
    offset = 0
    while True:
        page = cases.alerts(page=Page(10_000, offset))
        for s in page:  # an alert is updated in place: its first sighting is ``first_seen``
            a, first = s.alert, s.first_seen or s.alert.window_end
            if a.msisdn not in out or first < out[a.msisdn]:
                out[a.msisdn] = first
        if len(page) < 10_000:
            return out
        offset += 10_000


def _epochs(times: pd.Series) -> np.ndarray:
    """Epoch seconds (int64) of feed times, as the screening faces see set-up times."""
    naive = times.astype("datetime64[us]").astype("int64").to_numpy() // 10**6
    return naive - int(FEED_OFFSET.total_seconds())  # as domain.clock.feed_epoch, vectorised


def _ingest(world: Path, work: Path, settings: Settings, end: datetime) -> Path:
    """Ingest the world's feeds into ``work``'s lake (idempotent: a rerun adds nothing)."""
    from telshield.services.ingest import IngestOptions, ingest_all

    s = settings.ingest
    opts = IngestOptions(lake_dir=work / "lake", quarantine_dir=work / "quarantine",
                         chunk_rows=s.chunk_rows, earliest=s.earliest,
                         future_slack_days=s.future_slack_days)
    # Judge "the future" from the simulated period's end, so any simulated period ingests.
    reports = ingest_all(world, opts, now=max(feed_now(), end + timedelta(days=1)))
    bad = sum(sum(r.quarantined.values()) for r in reports)
    log.info("replay.ingested", added=sum(r.added for r in reports), quarantined=bad)
    return work / "lake"


def work_dir(settings: Settings, world: Path) -> Path:
    """Where a replay of ``world`` keeps its lake, store and detection state."""
    import hashlib

    key = hashlib.sha256(str(world.resolve()).encode()).hexdigest()[:8]
    return settings.data_dir / "replay" / f"{world.resolve().name}-{key}"
