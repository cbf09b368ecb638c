"""The registration check (入网核验) replayed on a simulated province's SIM applications.

Every application of the world's ``registrations`` feed is sent, in time order, through the
registration service as ``wiring.registrations`` composes it, on a fresh embedded store under a
clock that follows the applications. What the check knows comes from feeds only, as in
production: the world's ``sanctions`` feed and the SIMs registered before the first
application (``subscribers``) are ingested into a lake of its own; after each simulated day the
cards the check let through, and that the old process issued, are exported as the operator's
daily subscribers feed would show them and ingested too. A card the check refused never
exists. Only the judging reads truth (``truth/registrations.parquet``).

The bars (issue 13): ≥ 99 % of sanctioned persons' applications refused for the sanction, no
honest applicant refused for one, no ID taken above the card limit by the check, and — when the
check reads the video statement — ≥ 99 % of honest transcripts passing and ≥ 98 % of mismatched
ones failing.

A check answered ``retake`` (a near miss of the video statement) is sent again, as the sales
system would, with the same applicant's second recording from the simulator
(``truth/registration_retakes.parquet``: what they would say if asked again, read only when the
check asks); the bars judge the final answer, and the first recording's pass rate is shown too.
"""

from __future__ import annotations

import dataclasses
import inspect
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import structlog

from telshield.domain.clock import feed_now, feed_to_store
from telshield.domain.errors import InvalidInput
from telshield.domain.registrations import CheckRequest, Decision, Order
from telshield.services.store import FixedClock
from telshield.settings import Settings, StoreSettings

log = structlog.get_logger(__name__)

# A near miss left unretaken (another rule sent the applicant to verification) has not passed.
STATEMENT_CODES = ("statement_mismatch", "statement_missing", "statement_retake")
MISMATCHES = ("wrong_digits", "other_text", "partial", "silence")
ACTOR = "evaluate"
Progress = Callable[[str, int, int], None]


@dataclass
class RegistrationReport:
    """What ``telshield evaluate registrations`` prints: (hits, of) pairs per bar."""

    period: tuple[datetime, datetime]
    applications: int
    limit: int
    sanctioned_refused: tuple[int, int]
    honest_refused_sanctioned: tuple[int, int]
    max_cards: int  # most cards under one ID the check granted a card to (held + granted)
    over_limit_ids: int  # IDs the check took above the limit
    over_limit_before: int  # IDs already above it before the first application (old process)
    statement_available: bool
    honest_pass: tuple[int, int] = (0, 0)
    mismatch_fail: tuple[int, int] = (0, 0)
    mismatch_fail_by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)
    honest_pass_first: tuple[int, int] = (0, 0)  # the first recording alone
    retakes: dict[str, tuple[int, int]] = field(default_factory=dict)  # statement kind ->
    # (retakes asked, of which the retake passed)
    retake_available: bool = False  # the world has retakes and the check reads them
    decisions: dict[str, dict[str, int]] = field(default_factory=dict)  # truth kind -> counts
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def bars(self) -> list[tuple[str, str, bool | None]]:
        """(bar, figure, met) rows; ``met`` None where the figure is not available."""
        def share(x: tuple[int, int]) -> str:
            return f"{x[0] / x[1]:.1%} ({x[0]}/{x[1]})" if x[1] else "n/a (none)"

        s, h = self.sanctioned_refused, self.honest_refused_sanctioned
        rows: list[tuple[str, str, bool | None]] = [
            ("sanctioned applications refused (bar ≥ 99%)", share(s),
             s[0] >= 0.99 * s[1] if s[1] else None),
            ("honest applicants refused for sanctions (bar 0)", f"{h[0]} of {h[1]}", h[0] == 0),
            (f"card limit never exceeded (max cards per ID ≤ {self.limit})",
             f"max {self.max_cards}; IDs taken above: {self.over_limit_ids}",
             self.over_limit_ids == 0 and self.max_cards <= self.limit),
        ]
        if not self.statement_available:
            rows.append(("statement check", "not available", None))
            return rows
        p, f = self.honest_pass, self.mismatch_fail
        if self.retake_available:
            rows.append(("statement check: honest transcripts passing at the first recording",
                         share(self.honest_pass_first), None))
        with_retake = " with the retake" if self.retake_available else ""
        rows += [
            (f"statement check: honest transcripts passing{with_retake} (bar ≥ 99%)", share(p),
             p[0] >= 0.99 * p[1] if p[1] else None),
            ("statement check: mismatches failing (bar ≥ 98%)", share(f),
             f[0] >= 0.98 * f[1] if f[1] else None),
        ]
        return rows


def retake_supported(check: Callable[..., Any]) -> bool:
    """Whether the check reads a statement's retake (``retake_transcript``)."""
    return "retake_transcript" in inspect.signature(check).parameters


def _retakes(world: Path) -> dict[str, str | None] | None:
    """Each application's second recording (None: the world has none: generated before
    retakes were simulated)."""
    f = world / "truth" / "registration_retakes.parquet"
    if not f.exists():
        return None
    t = pq.read_table(f, columns=["attempt_id", "retake_transcript"])
    return dict(zip(t["attempt_id"].to_pylist(), t["retake_transcript"].to_pylist(),
                    strict=True))


def statement_supported(check: Callable[..., Any]) -> bool:
    """Whether the check reads a transcript: the request type has the field and the service
    takes it (the statement check is added beside this evaluation, not assumed)."""
    names = {f.name for f in dataclasses.fields(CheckRequest)}
    return "transcript" in names and "transcript" in inspect.signature(check).parameters


def _ingest(folder: Path, work: Path, lake: Path, end: datetime) -> None:
    """Ingest ``folder``'s feed folders into ``lake`` with the real ingest path."""
    from telshield.services.ingest import IngestOptions, ingest_all

    opts = IngestOptions(lake_dir=lake, quarantine_dir=work / "quarantine")
    reports = ingest_all(folder, opts, now=max(feed_now(), end + timedelta(days=1)))
    bad = {r.feed: sum(r.quarantined.values()) for r in reports if r.quarantined}
    if bad:
        raise InvalidInput(f"the world's feeds have quarantined rows {bad}: regenerate it")


def _read(world: Path, feed: str) -> pa.Table:
    """One feed folder of the world, typed as its schema (Parquet, as worlds are written)."""
    from telshield.reference.schemas import FEEDS

    folder = world / feed
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        raise InvalidInput(f"{world} has no {feed}/ Parquet parts: give a folder written by "
                           "`telshield world generate` (format parquet)")
    return pq.read_table(folder, schema=FEEDS[feed].schema)


def _source(world: Path) -> tuple[pa.Table, pa.Table, pa.Table, dict[str, Order]]:
    """The world's applications (in time order), subscribers, truth and the e-channel orders
    the applications name."""
    truth_file = world / "truth" / "registrations.parquet"
    if not truth_file.exists():
        raise InvalidInput(f"{world} has no truth/registrations.parquet: give a folder written "
                           "by `telshield world generate`")
    apps = _read(world, "registrations").sort_by(
        [("applied_at", "ascending"), ("attempt_id", "ascending")])
    if apps.num_rows == 0:
        raise InvalidInput(f"{world}: the registrations feed is empty, nothing to check")
    wanted = set(apps["order_id"].drop_null().to_pylist())
    orders = {o["order_id"]: Order.new(
        order_id=o["order_id"], address_hash=o["address_hash"] or "",
        contact=o["contact_msisdn"] or "", ip=o["ip"] or "", device_id=o["device_id"] or "")
        for o in _read(world, "orders").to_pylist() if o["order_id"] in wanted}
    return apps, _read(world, "subscribers"), pq.read_table(truth_file), orders


def _export(work: Path, subs: pa.Table, day: int, msisdns: set[str], before: datetime) -> Path:
    """The subscribers rows of ``msisdns`` registered before ``before``: a daily export."""
    folder = work / "exports" / f"day-{day:03d}"
    t = subs
    if msisdns:
        keep = pc.and_(pc.is_in(t["msisdn"], pa.array(sorted(msisdns), pa.string())),
                       pc.less(t["registered_at"], pa.scalar(before, t["registered_at"].type)))
        t = t.filter(keep)
    else:
        t = t.slice(0, 0)
    (folder / "subscribers").mkdir(parents=True, exist_ok=True)
    pq.write_table(t, folder / "subscribers" / "part-00000.parquet")
    return folder


def evaluate_registrations(settings: Settings, world: Path, work: Path, *,
                           progress: Progress | None = None) -> RegistrationReport:
    """Send every application of ``world`` through the registration check and judge it."""
    from telshield.wiring import open_store
    from telshield.wiring.registrations import registrations

    t0 = time.perf_counter()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    apps, subs, truth, orders = _source(world)
    first = apps["applied_at"][0].as_py()
    last = apps["applied_at"][-1].as_py()
    # What the operator knew before the first application: the SIMs registered before it,
    # and the sanctions.
    start_feeds = work / "start-feeds"
    (start_feeds / "subscribers").mkdir(parents=True)
    before = subs.filter(
        pc.less(subs["registered_at"], pa.scalar(first, subs["registered_at"].type)))
    pq.write_table(before, start_feeds / "subscribers" / "part-00000.parquet")
    if (world / "sanctions").is_dir():
        shutil.copytree(world / "sanctions", start_feeds / "sanctions")
    lake = work / "lake"
    _ingest(start_feeds, work, lake, last)

    rs = settings.model_copy(update={
        "store": StoreSettings(url=f"sqlite:///{(work / 'store.db').as_posix()}")})
    clock = FixedClock(feed_to_store(first))
    service = registrations(rs, open_store(rs), clock=clock, lake=lake)
    with_statement = statement_supported(service.check)
    second = _retakes(world) if with_statement and retake_supported(service.check) else None
    if with_statement and second is None:
        log.warning("evaluate.no_retakes", hint="the world has no "
                    "truth/registration_retakes.parquet: regenerate it to replay retakes")

    rows = apps.to_pylist()
    kinds = dict(zip(truth["attempt_id"].to_pylist(), truth["kind"].to_pylist(), strict=True))
    statements = dict(zip(truth["attempt_id"].to_pylist(), truth["statement"].to_pylist(),
                          strict=True))
    decided: list[tuple[str, Decision, tuple[str, ...]]] = []
    first_codes: list[tuple[str, ...]] = []
    to_export: set[str] = set()
    day = first.date()
    for n, a in enumerate(rows):
        at: datetime = a["applied_at"]
        if at.date() != day:  # the day's subscribers export arrives before the next check
            day = at.date()
            if to_export:
                midnight = datetime.combine(day, datetime.min.time())
                _ingest(_export(work, subs, n, to_export, midnight), work, lake, last)
                service.refresh()
        clock.at = feed_to_store(at)
        extra: dict[str, Any] = {"transcript": a["transcript"] or ""} if with_statement else {}
        ask = {"id_hash": a["id_hash"], "holder_kind": a["holder_kind"],
               "channel_id": a["channel_id"], "staff_id": a["staff_id"],
               "terminal_id": a["terminal_id"] or "", "msisdn": a["requested_msisdn"],
               "actor": ACTOR, "order": orders.get(a["order_id"] or "", Order()), **extra}
        r = service.check(**ask)
        first_codes.append(tuple(x.code for x in r.reasons))
        if r.decision is Decision.RETAKE and second is not None:
            # The sales system records the applicant again and sends the application again.
            r = service.check(**ask, retake_transcript=second.get(a["attempt_id"]) or "")
        codes = tuple(x.code for x in r.reasons)
        decided.append((a["attempt_id"], r.decision, codes))
        if r.decision is not Decision.REFUSE and a["outcome"] != "abandoned":
            to_export.add(a["requested_msisdn"])
        if progress is not None:
            progress("applications", n + 1, len(rows))
    report = _judge(rows, decided, kinds, statements, before, settings.registration.cards_per_id,
                    with_statement)
    _first(report, first_codes, decided, [statements[a["attempt_id"]] for a in rows])
    report.retake_available = second is not None
    report.period = (first, last)
    report.seconds = round(time.perf_counter() - t0, 1)
    log.info("evaluate.registrations", applications=len(rows), seconds=report.seconds)
    return report


def _judge(rows: list[dict[str, Any]], decided: list[tuple[str, Decision, tuple[str, ...]]],
           kinds: dict[str, str], statements: dict[str, str], before: pa.Table, limit: int,
           with_statement: bool) -> RegistrationReport:
    """The bars from the decisions and truth."""
    held: defaultdict[str, set[str]] = defaultdict(set)
    live = before.filter(pc.not_equal(before["status"], "cancelled")) if before.num_rows \
        else before
    if live.num_rows:
        for h, m in zip(live["id_hash"].to_pylist(), live["msisdn"].to_pylist(), strict=True):
            held[h].add(m)
    over_before = sum(1 for v in held.values() if len(v) > limit)
    granted: defaultdict[str, set[str]] = defaultdict(set)
    by_kind: defaultdict[str, Counter[str]] = defaultdict(Counter)
    reasons: Counter[str] = Counter()
    sanc, honest, hp, mf = [0, 0], [0, 0], [0, 0], [0, 0]
    mf_kind: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a, (attempt, decision, codes) in zip(rows, decided, strict=True):
        kind, statement = kinds[attempt], statements[attempt]
        by_kind[kind][decision.value] += 1
        reasons.update(codes)
        refused_sanction = decision is Decision.REFUSE and "sanctioned" in codes
        if kind == "sanctioned":
            sanc[0] += refused_sanction
            sanc[1] += 1
        if kind == "honest":
            honest[0] += "sanctioned" in codes
            honest[1] += 1
        if decision is not Decision.REFUSE and a["outcome"] != "abandoned":
            granted[a["id_hash"]].add(a["requested_msisdn"])
        failed = any(c in STATEMENT_CODES for c in codes)
        if statement == "honest":
            hp[0] += not failed
            hp[1] += 1
        elif statement in MISMATCHES:
            mf[0] += failed
            mf[1] += 1
            mf_kind[statement][0] += failed
            mf_kind[statement][1] += 1
    cards = [len(held[h] | g) for h, g in granted.items()]
    over = sum(1 for h, g in granted.items() if len(held[h] | g) > max(limit, len(held[h])))
    return RegistrationReport(
        period=(datetime.min, datetime.min), applications=len(rows), limit=limit,
        sanctioned_refused=(sanc[0], sanc[1]), honest_refused_sanctioned=(honest[0], honest[1]),
        max_cards=max(cards, default=0), over_limit_ids=over, over_limit_before=over_before,
        statement_available=with_statement,
        honest_pass=(hp[0], hp[1]) if with_statement else (0, 0),
        mismatch_fail=(mf[0], mf[1]) if with_statement else (0, 0),
        mismatch_fail_by_kind={k: (v[0], v[1]) for k, v in sorted(mf_kind.items())}
        if with_statement else {},
        decisions={k: dict(v) for k, v in sorted(by_kind.items())},
        reasons=dict(reasons.most_common()))


def _first(report: RegistrationReport, first: list[tuple[str, ...]],
           decided: list[tuple[str, Decision, tuple[str, ...]]], statements: list[str]) -> None:
    """The first recording's honest pass rate, and the retakes asked by statement kind."""
    hp = [0, 0]
    asked: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for codes, (_, _, final), statement in zip(first, decided, statements, strict=True):
        if statement == "honest":
            hp[0] += not any(c in STATEMENT_CODES for c in codes)
            hp[1] += 1
        if "statement_retake" in codes:
            asked[statement][0] += 1
            asked[statement][1] += not any(c in STATEMENT_CODES for c in final)
    report.honest_pass_first = (hp[0], hp[1]) if report.statement_available else (0, 0)
    report.retakes = {k: (v[0], v[1]) for k, v in sorted(asked.items())}


def work_dir(settings: Settings, world: Path) -> Path:
    """Where an evaluation of ``world`` keeps its lake and store."""
    import hashlib

    key = hashlib.sha256(str(world.resolve()).encode()).hexdigest()[:8]
    return settings.data_dir / "evaluate-registrations" / f"{world.resolve().name}-{key}"
