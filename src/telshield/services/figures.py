"""The period figures (期间数据): the one query layer behind the overview page, the replay's
printed figures and the police monthly report, for a period [start, end) of store time (UTC).

- From the store: numbers warned (alerts detected in the period) by tier, measures taken
  (disposed: verify, restrict, suspend, confirm) and releases, appeals filed (by status now), and
  SLA breaches (cases suspended in the period because their re-verification deadline passed,
  plus, for a period holding the present, those past it and not yet escalated).
- From the screened calls: per route class (``route_expr``, the single rule), calls screened,
  rejected, and — by a per-call ``fraud`` label — fraud calls intercepted (rejected), warned
  (connected with a label or a callee warning), legitimate calls and legitimate calls blocked.

The screened calls are a lazy table ``(at, caller, callee, ingress, outcome[, fraud])``: ``at``
in epoch seconds, ``outcome`` an outcome name (allow, label, warn_callee, reject). The platform's
source is the screening faces' decision log (``wiring.figures``); the replay's is its own
screened calls. A source may also hand over parts already counted (``CountedPart``: a closed
decision-log file's calls per caller, UTC hour, route class and outcome, with the first and last
call's time of each group, counted once and kept beside the file): a period takes a counted
group whole when the group lies wholly inside it, and reads the part's calls themselves only
when a period's boundary falls between a group's first and last call, so the figures are those
of the calls themselves.

A source that carries no ``fraud`` column is labelled here with what the platform knows: a call
is a fraud call when its caller is a number the store found bad (alerted, clued by the police,
confirmed fraud: ``OutcomeRepo.fraud_numbers``, as the map and the risk ranking count them).
The replay labels its calls with the simulator's truth instead; that label is the evaluation's,
read in ``telshield.evaluate``, never here.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, Protocol

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from telshield.detect.numbering import classify
from telshield.domain.cases import ESCALATION_REASON, ActionKind, CaseStatus
from telshield.domain.clock import store_epoch
from telshield.services.store import Clock, Store

ROUTES = ("inter_province", "international", "inter_network", "local")
BARRED = ("inter_province", "international", "inter_network")  # where the ≥ 95% bar applies
OWN_OPERATOR = "china_mobile"
# Actions that put a measure on a number: "disposed" in the operator's monthly figures.
DISPOSALS = (ActionKind.VERIFY, ActionKind.RESTRICT, ActionKind.SUSPEND, ActionKind.CONFIRM)
OVERDUE_STATUSES = [CaseStatus.VERIFYING, CaseStatus.RESTRICTED]  # cases past due are breaches
OUTCOMES = ("allow", "label", "warn_callee", "reject")  # screening's outcomes, by severity
SCREENED = ibis.schema({"at": "float64", "caller": "string", "callee": "string",
                        "ingress": "string", "outcome": "string"})

# The screened calls of [start, end) (store time), as a lazy table.
ScreenedCalls = Callable[[datetime, datetime], ir.Table]

# Screened calls counted per caller, UTC hour, route class and outcome: ``n`` calls, the first
# at ``first`` and the last at ``last`` (epoch seconds).
COUNTED = pa.schema([("caller", pa.string()), ("hour", pa.int64()), ("route", pa.string()),
                     ("outcome", pa.string()), ("n", pa.int64()), ("first", pa.float64()),
                     ("last", pa.float64())])
COUNT_VERSION = "1"  # of what a counted part holds: a change recounts every part


@dataclass(frozen=True)
class CountedPart:
    """A closed part of the screened calls (a rotated decision-log file): its calls counted
    (``COUNTED`` rows) and, for a period whose boundary cuts one of its groups, the calls."""

    counted: pa.Table
    calls: Callable[[], ir.Table]


class SplitCalls(Protocol):
    """The screened calls of [start, end) as the closed parts, counted once by ``count`` and
    kept under ``key`` (what they were counted with: a new key counts them again), and the
    rest as calls (``ScreenedCalls``'s table). ``count`` takes ``SCREENED`` calls, with a
    ``file`` column to count several parts in one query (then per ``file`` too)."""

    def __call__(self, start: datetime, end: datetime, count: Callable[[ir.Table], pa.Table],
                 key: str) -> tuple[list[CountedPart], ir.Table]:
        """(counted parts, the other calls)."""
        ...


def route_expr(t: ir.Table, *, province: str) -> ir.StringValue:
    """The route class of each call (省际 / 国际 / 网间 / 本地), the one rule every figure uses.

    ``t`` holds ``ingress`` and the numbering plan's attributes of both ends as ``classify``
    adds them (``a_kind, a_operator, a_province`` for the caller, ``b_...`` for the callee):

    1. ``international``: it came in through the international gateway, or either end is a
       foreign number;
    2. ``inter_network``: either end is not a China Mobile number (another operator, a fixed
       line, a service number, an invalid one), or it came in over an interconnect presenting one
       of our own province's numbers (such a call did come from another network: the caller ID is
       spoofed);
    3. ``local``: both ends are homed in ``province``;
    4. ``inter_province``: everything else (a China Mobile number of another province at one
       end).
    """
    def yes(v: ir.BooleanValue) -> ir.BooleanValue:
        return v.fill_null(False)

    international = yes((t.ingress == "international") | (t.a_kind == "international")
                        | (t.b_kind == "international"))
    a_ours, b_ours = yes(t.a_operator == OWN_OPERATOR), yes(t.b_operator == OWN_OPERATOR)
    a_home, b_home = yes(t.a_province == province), yes(t.b_province == province)
    spoofed_own = yes(t.ingress == "interconnect") & a_ours & a_home
    return (ibis.cases((international, "international"),
                       (~a_ours | ~b_ours | spoofed_own, "inter_network"),
                       (a_home & b_home, "local"), else_="inter_province"))


def serving_carriers(ported: ir.Table) -> ir.Table:
    """``msisdn, carrier``: the carrier serving each number of the ported feed (the number
    portability database) now, from its latest port."""
    return ported.group_by("msisdn").aggregate(carrier=ported.carrier.argmax(ported.ported_at))


def with_route(t: ir.Table, plan: ir.Table, *, province: str,
               ported: ir.Table | None = None) -> ir.Table:
    """``t`` (with ``caller``, ``callee``, ``ingress``) with its ``route`` class added.

    Each distinct number is classified once by the plan's prefix table, then joined to both
    ends of its calls (a number calls and is called many times). A number in ``ported``
    (``serving_carriers``) belongs to the carrier serving it, not its segment's."""
    numbers = t.select(n=t.caller).union(t.select(n=t.callee), distinct=True)
    homes = classify(numbers, "n", plan)
    if ported is not None:
        p = ported.select(pn_=ported.msisdn, pc_=ported.carrier)
        j = homes.left_join(p, homes.n == p.pn_)
        homes = j.mutate(n_operator=ibis.coalesce(j.pc_, j.n_operator)).select(*homes.columns)
    ends = {side: homes.select(**{f"__{side}": homes.n, f"{side}_kind": homes.n_kind,
                                  f"{side}_operator": homes.n_operator,
                                  f"{side}_province": homes.n_province})
            for side in ("a", "b")}
    j = t.left_join(ends["a"], t.caller == ends["a"]["__a"])
    j = j.left_join(ends["b"], j.callee == ends["b"]["__b"])
    return j.mutate(route=route_expr(j, province=province)).select(*t.columns, "route")


@dataclass(frozen=True)
class RouteFigures:
    """What screening did on one route class (or the barred classes together)."""

    route: str
    screened: int
    rejected: int
    fraud_calls: int
    intercepted: int  # fraud calls rejected
    warned: int  # fraud calls connected with a label or a callee warning
    legit_calls: int
    legit_blocked: int  # calls not labelled fraud that were rejected

    @property
    def intercepted_share(self) -> float:
        """Share of fraud calls rejected (nan without fraud calls)."""
        return self.intercepted / self.fraud_calls if self.fraud_calls else float("nan")

    @property
    def blocked_share(self) -> float:
        """Share of legitimate calls rejected (nan without legitimate calls)."""
        return self.legit_blocked / self.legit_calls if self.legit_calls else float("nan")


def route_figures(t: ir.Table) -> list[RouteFigures]:
    """Per route class of ``ROUTES``, then the ``BARRED`` classes together, the counts of ``t``
    (columns ``route``, ``outcome``, ``fraud``; each row one call, or ``n`` calls where ``t``
    has an ``n``), counted in one query."""
    rejected = t.outcome == "reject"
    warned = t.outcome.isin(["label", "warn_callee"])
    fraud = t.fraud.fill_null(False)
    w: ir.IntegerValue = t.n if "n" in t.columns else ibis.literal(1)

    def total(v: ir.BooleanValue) -> ir.IntegerScalar:
        return ibis.ifelse(v, w, 0).sum()

    n = {"screened": w.sum() if "n" in t.columns else t.count(), "rejected": total(rejected),
         "fraud_calls": total(fraud), "intercepted": total(fraud & rejected),
         "warned": total(fraud & warned), "legit_calls": total(~fraud),
         "legit_blocked": total(~fraud & rejected)}
    rows = {str(r["route"]): r for r in t.group_by("route").aggregate(
        **{k: v.cast("int64") for k, v in n.items()}).to_pyarrow().to_pylist()}

    def of(route: str, names: tuple[str, ...]) -> RouteFigures:
        return RouteFigures(route, *(sum(int(rows[r][k] or 0) for r in names if r in rows)
                                     for k in n))

    return [of(r, (r,)) for r in ROUTES] + [of("+".join(BARRED), BARRED)]


@dataclass(frozen=True)
class PeriodFigures:
    """The figures of one period [start, end) of store time (UTC)."""

    start: datetime
    end: datetime
    warned: int  # alerts detected in the period
    disposed: int  # measures taken (verify, restrict, suspend, confirm)
    released: int
    by_tier: dict[str, int] = field(default_factory=dict)
    by_action: dict[str, int] = field(default_factory=dict)
    appeals: dict[str, int] = field(default_factory=dict)  # filed in the period, by status
    sla_breaches: int = 0
    routes: tuple[RouteFigures, ...] = ()  # ROUTES, then the barred classes together

    @property
    def screened(self) -> int:
        """Calls screened in the period, all routes."""
        return sum(r.screened for r in self.routes[:len(ROUTES)])

    @property
    def rejected(self) -> int:
        """Calls rejected in the period, all routes."""
        return sum(r.rejected for r in self.routes[:len(ROUTES)])

    @property
    def has_data(self) -> bool:
        """Whether anything happened in the period (for year-on-year: history exists)."""
        return bool(self.warned or sum(self.by_action.values()) or self.screened
                    or sum(self.appeals.values()))

    def as_dict(self) -> dict[str, Any]:
        """The figures as plain data (the police report's ``figures`` section)."""
        d = asdict(self)
        d["start"], d["end"] = f"{self.start:%Y-%m-%d %H:%M:%S}", f"{self.end:%Y-%m-%d %H:%M:%S}"
        d["routes"] = [asdict(r) for r in self.routes]
        return d


def label_known(t: ir.Table, bad: frozenset[str]) -> ir.Table:
    """``t`` with ``fraud``: whether the caller is one of the numbers in ``bad``."""
    known = ibis.memtable({"__bad": sorted(bad)}, schema={"__bad": "string"})
    j = t.left_join(known, t.caller == known["__bad"])
    return j.mutate(fraud=j["__bad"].notnull()).drop("__bad")


_Key = tuple[tuple[datetime, ...], object]  # the periods' starts and the source's version


class Figures:
    """Reads periods' figures from the store and the screened calls; writes nothing.

    With ``max_age_s`` the screened calls, classified and labelled, are kept that long for the
    same period starts while ``version`` (of the source: its files) stays the same (the
    overview's page views): a view within it counts the calls as they were when they were read,
    at most ``max_age_s`` old; the store's counts are always read. With ``background`` a view
    after that, or after a new file, still gets the kept figures while a thread reads the calls
    anew (only the first view, and one for new period starts, waits for the read).

    With ``split`` (instead of ``calls``) the closed parts of the calls come counted
    (``SplitCalls``): a read classifies and counts only the open part's calls and those of a
    part counted for the first time (then kept by the source)."""

    def __init__(self, store: Store, clock: Clock, *, calls: ScreenedCalls | None = None,
                 plan: Callable[[], ir.Table] | None = None, province: str = "Jiangsu",
                 max_age_s: float = 0.0, version: Callable[[], object] | None = None,
                 background: bool = False, split: SplitCalls | None = None,
                 ported: Callable[[], ir.Table | None] | None = None) -> None:
        self.store, self.clock, self.calls, self.version = store, clock, calls, version
        self.ported = ported  # the serving carrier of ported numbers (``serving_carriers``)
        self.split = split
        self._count_key: str | None = None
        self.background = background
        self.refresher: threading.Thread | None = None
        self.plan, self.province, self.max_age_s = plan, province, max_age_s
        self._lock = threading.Lock()
        self._kept: tuple[_Key, float, list[list[RouteFigures]]] | None = None

    def period(self, start: datetime, end: datetime) -> PeriodFigures:
        """The figures of [start, end) (store time)."""
        return self.periods([(start, end)])[0]

    def periods(self, spans: Sequence[tuple[datetime, datetime]], *,
                overdue: int | None = None) -> list[PeriodFigures]:
        """The figures of each [start, end) (store time): the store's counts in one read
        transaction, the screened calls read and classified once for all of them. A span that
        holds now counts the cases overdue now as SLA breaches: ``overdue`` when the caller
        has counted them already, else counted here."""
        now = self.clock.now()
        counts = []
        with self.store.transaction(write=False) as tx:  # one query per table for all spans
            tiers = tx.alerts.span_tier_counts(spans)
            actions = tx.actions.span_counts(spans, reason=ESCALATION_REASON)
            appeals = tx.appeals.span_counts(spans)
            if overdue is None:
                overdue = (tx.cases.count_overdue(now, OVERDUE_STATUSES)
                           if any(start <= now < end for start, end in spans) else 0)
            for (start, end), t, (a, esc), p in zip(spans, tiers, actions, appeals, strict=True):
                late = sum(esc.values()) + (overdue if start <= now < end else 0)
                counts.append((t, a, p, late))
        routes = self.screened(spans)
        return [PeriodFigures(
            start=start, end=end, warned=sum(tiers.values()),
            disposed=sum(actions.get(k.value, 0) for k in DISPOSALS),
            released=actions.get(ActionKind.RELEASE.value, 0), by_tier=_sorted(tiers),
            by_action=_sorted(actions), appeals=_sorted(appeals), sla_breaches=late,
            routes=tuple(r))
            for (start, end), (tiers, actions, appeals, late), r
            in zip(spans, counts, routes, strict=True)]

    def screened(self, spans: Sequence[tuple[datetime, datetime]]
                 ) -> list[list[RouteFigures]]:
        """Each period's screened calls per route class (empty without a source), read and
        classified once for all the periods (or kept: the class doc)."""
        if (self.calls is None and self.split is None) or self.plan is None or not spans:
            return [[] for _ in spans]
        starts = tuple(s for s, _ in spans)
        key = (starts, self.version() if self.version else None)
        with self._lock:
            kept = self._kept
            if kept is not None and kept[0][0] == starts:
                if kept[0] == key and time.monotonic() - kept[1] < self.max_age_s:
                    return kept[2]
                if self.background:  # serve what is kept, read anew beside the views
                    if self.refresher is None or not self.refresher.is_alive():
                        # Not a daemon: a process that exits while it is inside DuckDB
                        # aborts; the exit waits for the read to end instead.
                        self.refresher = threading.Thread(
                            target=self._read, args=(list(spans), key), daemon=False,
                            name="figures-refresh")
                        self.refresher.start()
                    return kept[2]
        return self._read(spans, key)

    def _read(self, spans: Sequence[tuple[datetime, datetime]], key: _Key
              ) -> list[list[RouteFigures]]:
        """Read, classify and count the periods' calls (and keep them, with ``max_age_s``)."""
        assert self.plan is not None
        lo, hi = min(s for s, _ in spans), max(e for _, e in spans)
        epochs = [(store_epoch(s), store_epoch(e)) for s, e in spans]
        parts: list[pa.Table] = []
        if self.split is not None:
            closed, t = self.split(lo, hi, self.count, self.count_key())
            for part in closed:
                if any(_cuts(part.counted, s, e) for s, e in epochs):
                    cut = part.calls().select(*SCREENED.names).cast(SCREENED)
                    t = t.union(ibis.memtable(cut.to_pyarrow()))  # from its own connection
                else:
                    parts.append(part.counted)
        else:
            assert self.calls is not None
            t = self.calls(lo, hi)
        t = t.filter(ibis.or_(*[(t.at >= s) & (t.at < e) for s, e in epochs]))
        bad: frozenset[str] | None = None
        if "fraud" not in t.columns:
            with self.store.transaction(write=False) as tx:
                known = tx.outcomes.fraud_numbers()
            bad = known.alerted | known.clued | known.confirmed
            t = label_known(t, bad)
        routed = with_route(t, self.plan(), province=self.province, ported=self._ported())
        m = routed.select("at", "outcome", "fraud", "route").to_pyarrow()
        c = _labelled(pa.concat_tables(parts), bad or frozenset()) if parts else None
        got = []
        for s, e in epochs:  # counted in Arrow: a few thousand groups, no query to compile
            mine = [m.filter(pc.and_(pc.greater_equal(m["at"], s), pc.less(m["at"], e)))
                    .select(["route", "outcome", "fraud"])]
            if c is not None:
                mine.append(c.filter(pc.and_(pc.greater_equal(c["first"], s),
                                             pc.less(c["last"], e)))
                            .select(["route", "outcome", "fraud", "n"]))
            got.append(_arrow_route_figures(mine))
        if self.max_age_s > 0:
            with self._lock:
                self._kept = (key, time.monotonic(), got)
        return got

    def _ported(self) -> ir.Table | None:
        return self.ported() if self.ported is not None else None

    def count(self, t: ir.Table) -> pa.Table:
        """Screened calls (``SCREENED``) counted per caller, UTC hour, route class and outcome
        (``COUNTED``), with the first and last call's time of each group; per ``file`` too
        where ``t`` has that column (several parts counted in one query)."""
        assert self.plan is not None
        by = ["file"] if "file" in t.columns else []
        r = with_route(t.select(*SCREENED.names, *by).cast(SCREENED), self.plan(),
                       province=self.province, ported=self._ported())
        g = r.group_by(*by, caller=r.caller, hour=(r.at / 3600).floor().cast("int64"),
                       route=r.route, outcome=r.outcome).aggregate(
            n=r.count(), first=r.at.min(), last=r.at.max())
        got = g.to_pyarrow()
        return got.select(COUNTED.names).cast(COUNTED).append_column(
            "file", got["file"].cast(pa.string())) if by else got.select(
            COUNTED.names).cast(COUNTED)

    def count_key(self) -> str:
        """What counted parts depend on: the numbering plan's rows and the home province (a
        counted part under another key is counted again)."""
        if self._count_key is None:
            assert self.plan is not None
            plan = self.plan().to_pyarrow()
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, plan.schema) as w:
                w.write_table(plan)
            digest = hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:16]
            self._count_key = f"{COUNT_VERSION}:{self.province}:{digest}"
        return self._count_key


def _cuts(counted: pa.Table, start: float, end: float) -> bool:
    """Whether [start, end) (epoch seconds) cuts a counted group: holds some of its calls
    but not all."""
    first, last = counted["first"], counted["last"]
    touches = pc.and_(pc.less(first, end), pc.greater_equal(last, start))
    inside = pc.and_(pc.greater_equal(first, start), pc.less(last, end))
    return bool(pc.any(pc.and_(touches, pc.invert(inside))).as_py())


def _labelled(counted: pa.Table, bad: frozenset[str]) -> pa.Table:
    """Counted rows with ``fraud``: whether the caller is one of the numbers in ``bad``."""
    fraud = pc.fill_null(pc.is_in(counted["caller"], value_set=pa.array(sorted(bad),
                                                                         pa.string())), False)
    return counted.append_column("fraud", fraud)


def _arrow_route_figures(tables: Sequence[pa.Table]) -> list[RouteFigures]:
    """``route_figures`` over Arrow tables (``route``, ``outcome``, ``fraud``, and ``n`` calls
    a row where a table has it, else one), counted together."""
    out = []
    for t in tables:
        w = t["n"] if "n" in t.column_names else pa.array([1] * t.num_rows, pa.int64())
        zero = pa.scalar(0, pa.int64())
        rejected = pc.fill_null(pc.equal(t["outcome"], "reject"), False)
        warned = pc.fill_null(pc.is_in(t["outcome"], value_set=pa.array(
            ["label", "warn_callee"])), False)
        fraud = pc.fill_null(t["fraud"], False)
        legit = pc.invert(fraud)

        def total(v: Any, w: Any = w, zero: Any = zero) -> Any:
            return pc.if_else(v, w, zero)

        out.append(pa.table({
            "route": t["route"], "screened": w, "rejected": total(rejected),
            "fraud_calls": total(fraud), "intercepted": total(pc.and_(fraud, rejected)),
            "warned": total(pc.and_(fraud, warned)), "legit_calls": total(legit),
            "legit_blocked": total(pc.and_(legit, rejected))}))
    both = pa.concat_tables(out, promote_options="default")
    names = [f.name for f in fields(RouteFigures)][1:]
    sums = both.group_by("route").aggregate([(k, "sum") for k in names]).to_pylist()
    rows = {str(r["route"]): r for r in sums}

    def of(route: str, classes: tuple[str, ...]) -> RouteFigures:
        return RouteFigures(route, *(sum(int(rows[r][f"{k}_sum"] or 0) for r in classes
                                         if r in rows) for k in names))

    return [of(r, (r,)) for r in ROUTES] + [of("+".join(BARRED), BARRED)]


def _sorted(counts: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items()))
