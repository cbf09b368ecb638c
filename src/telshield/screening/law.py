"""The decision law: the ordered stages a call set-up passes, declared once as data, and the two
forms derived from it — a straight function for one call and a sweep over columns for a batch.

A stage names a condition over *facts* (what is known of a call: its caller's list flags, the
kind of its number, its ingress, the callee's flags, ...) and what a call meeting it gets: an
outcome and a reason code, fixed, or picked by index from a table (the snapshot's risk-prefix
rules, the configured outcome of each warning tier, the velocity limits). Stages run in order;
a reject, or any result of a ``final`` stage (the whitelist), ends the decision; other findings
gather: every reason is kept, the strongest outcome wins.

Conditions are Python expressions over fact names and ``CONSTANTS``, with ``and``/``or``/``not``,
comparisons and bit tests. ``scalar_source`` writes the law out as one function for one call:
conditions as written (``and`` short-circuits, so the callee's flags are looked up only for the
calls that reach that part), each fact computed just before the first stage that needs it, so
that a call ending early pays for nothing after. ``Sweep`` evaluates the same conditions with
``and``/``or``/``not`` made element-wise over numpy columns, on the calls still undecided,
stage after stage. Velocity is a fact with a side effect (it counts the call): in both forms it
is computed only for the calls that reach its stage, in call order.

Each fact is written twice, once per form (``Fact``): a look-up for one number and for an array
of them are different code. A test proves each pair equal, and one-by-one equal to batch over
every stage (``tests/screening/test_screening_law.py``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from telshield.domain.numbers import MAX_DIGITS, MIN_DIGITS
from telshield.screening.numbering import CARRIER_SHIFT, OWN, Kind, parse_numbers
from telshield.screening.roaming import LiveRoaming
from telshield.screening.snapshot import (
    BLACK,
    GREY,
    POLICE,
    PROTECTED,
    SUSPEND,
    VERIFY,
    WATCH,
    WHITE,
    Outcome,
    Snapshot,
)
from telshield.screening.velocity import LABEL, REJECT, RESULTS, Velocity

RADIO, INTERCONNECT, INTERNATIONAL = 0, 1, 2
WARNED = SUSPEND | VERIFY | WATCH
BARRED = SUSPEND | BLACK | POLICE  # a callee in this state takes no calls from abroad
Result = tuple[Outcome, tuple[str, ...]]
ALLOWED: Result = (Outcome.ALLOW, ())
RANKS = (Outcome.ALLOW, Outcome.LABEL, Outcome.WARN_CALLEE, Outcome.REJECT)  # by Outcome.rank

CONSTANTS: dict[str, int] = {
    "POLICE": POLICE, "WHITE": WHITE, "BLACK": BLACK, "GREY": GREY, "WARNED": WARNED,
    "PROTECTED": PROTECTED, "SUSPEND": SUSPEND, "BARRED": BARRED, "OWN": OWN,
    "RADIO": RADIO, "INTERCONNECT": INTERCONNECT, "INTERNATIONAL": INTERNATIONAL, "ONLY": 0,
    "UNALLOCATED": int(Kind.UNALLOCATED), "MOBILE": int(Kind.MOBILE),
    "SERVICE": int(Kind.SERVICE),
}


@dataclass(frozen=True)
class Stage:
    """One step of the law: an undecided call for which ``when`` holds gets ``outcome`` and
    ``reason``, or, when ``table`` is named, the (outcome, reason) at index ``pick`` of it."""

    name: str
    when: str
    outcome: Outcome | None = None
    reason: str = ""
    table: str = ""
    pick: str = ""
    final: bool = False  # its result ends the decision even when it is not a reject


# The law (DESIGN.md, "A call"). Reason codes of table stages: ``device:<kind>`` (device_intel),
# ``spoof:wrong_carrier`` (its configured outcome), ``prefix:<code>`` (risk-prefix rules),
# ``warning:<tier>``, ``velocity:<limit>``.
STAGES: tuple[Stage, ...] = (
    Stage("malformed caller", "c < 0", Outcome.REJECT, "spoof:malformed"),
    # Before the whitelist: the list law says a police order beats one (domain.lists.rank).
    Stage("police-ordered block", "f & POLICE", Outcome.REJECT, "list:police"),
    Stage("whitelist", "f & WHITE", Outcome.ALLOW, "list:white", final=True),
    Stage("barred device class", "device >= 0", table="devices", pick="device"),
    Stage("listed device", "imei_listed", Outcome.REJECT, "device:listed"),
    Stage("blacklist", "f & BLACK", Outcome.REJECT, "list:black"),
    # Our own subscriber calling itself over the radio is voicemail, not a spoof.
    Stage("caller is callee", "c == e and ing != RADIO", Outcome.REJECT,
          "spoof:caller_is_callee"),
    Stage("unallocated number", "kind == UNALLOCATED", Outcome.REJECT, "spoof:unallocated"),
    # Our subscriber abroad calls home with their own number over the international gateway.
    Stage("domestic number via the international gateway",
          "ing == INTERNATIONAL and MOBILE <= kind <= SERVICE and not roaming",
          Outcome.REJECT, "spoof:domestic_via_international"),
    # A number of ours ported to another carrier comes over that carrier's trunk.
    Stage("own number via interconnect", "ing == INTERCONNECT and code & OWN and not ported",
          Outcome.REJECT, "spoof:own_number_via_interconnect"),
    # A mobile handed over by a carrier that does not serve it (its segment's carrier, or the
    # one the portability database says it moved to): checked when the trunk's carrier is known.
    # Its outcome is configured (reject by default; label to watch it first).
    Stage("mobile via another carrier's trunk",
          "partner > 0 and ing == INTERCONNECT and kind == MOBILE and not_served",
          table="carrier_results", pick="ONLY"),
    # A number barred by suspension, or blocked by a list (a suspected number we do not hold
    # gets a block entry instead of a suspension: services.offnet), takes no calls from abroad.
    Stage("barred callee", "ing == INTERNATIONAL and e > 0 and callee_flags & BARRED",
          Outcome.REJECT, "callee:barred"),
    Stage("high-risk prefix", "risk >= 0", table="risks", pick="risk"),
    Stage("grey list", "f & GREY", Outcome.LABEL, "list:grey"),
    Stage("number under warning", "f & WARNED", table="tiers", pick="tier"),
    Stage("protected callee", "f & WARNED and e > 0 and callee_flags & PROTECTED",
          Outcome.WARN_CALLEE, "victim:protected"),
    Stage("velocity", "velocity > 0", table="velocity_results", pick="velocity"),
)

# Warning tier by the tier bits (f >> 4 & 7: watch, verify, suspend): 1 suspend, 2 verify,
# 3 watch, 0 none; the strongest tier a number is under decides.
TIER_OF = (0, 3, 2, 2, 1, 1, 1, 1)
_TIER_OF = np.array(TIER_OF, dtype=np.int8)
VELOCITY_RESULTS: tuple[tuple[Outcome, str], ...] = tuple(
    (Outcome.REJECT if level == REJECT else Outcome.LABEL if level == LABEL else Outcome.ALLOW,
     code) for level, code in RESULTS
)


class Batch(dict[str, Any]):
    """The facts of a batch of calls set up at one time, each computed on first use."""

    def __init__(
        self, snap: Snapshot, callers: Sequence[str], callees: Sequence[str],
        ing: npt.NDArray[np.int8], imeis: Sequence[str | None] | None, now: float,
        velocity: Velocity, tiers: tuple[tuple[Outcome, str], ...],
        live: LiveRoaming | None = None, partner: npt.NDArray[np.int8] | int = 0,
        carrier_results: tuple[tuple[Outcome, str], ...] = (
            (Outcome.REJECT, "spoof:wrong_carrier"),),
    ) -> None:
        super().__init__()
        self.snap, self.callers, self.callees, self.ing = snap, callers, callees, ing
        self.partner = partner  # the carrier code of the trunk of each call (0: not known)
        self.carrier_results = carrier_results
        self.imeis, self.now, self.velocity, self.tiers = imeis, now, velocity, tiers
        self.live = live
        self.alive = np.ones(len(callers), dtype=bool)  # calls not yet decided

    def __missing__(self, name: str) -> Any:
        value = FACTS[name].vector(self)
        self[name] = value
        return value


@dataclass(frozen=True)
class Fact:
    """Something known of a call, in both forms. ``scalar``: Python source for one call, over
    ``snap``, ``text`` (the caller as given), ``callee``, ``ing``, ``now``, ``imei``, ``partner``,
    ``observe``, ``TIERS`` and earlier facts — an expression put where it is used when
    ``inline``, else statements run once before the first stage that needs it. ``vector``: the
    fact for a whole ``Batch`` (a column, or one value standing for every call). ``rows``,
    where given: the column for some calls only (their indices), for a costly fact that the
    sweep needs only for the few calls an ``and`` lets through (the callee's flags)."""

    scalar: str
    vector: Callable[[Batch], Any]
    inline: bool = False
    rows: Callable[[Batch, npt.NDArray[np.intp]], Any] | None = None


def _roaming(x: Batch) -> Any:
    """Whether each caller is one of ours abroad now: the snapshot, then the live updates."""
    live = x.live
    if not x.snap.roaming.size and (live is None or not len(live)):
        return False
    base = x.snap.roaming_many(x["c"]) if x.snap.roaming.size else \
        np.zeros(len(x.callers), dtype=bool)
    return base if live is None else live.abroad_many(x["c"], base)


def _not_served(x: Batch, r: npt.NDArray[np.intp] | None = None) -> npt.NDArray[np.bool_]:
    """Whether the carrier serving each caller (of the calls ``r``; None: all) is known and is
    not the trunk's: the portability database's where the number was ported, else its
    segment's."""
    c, code = (x["c"], x["code"]) if r is None else (x["c"][r], x["code"][r])
    partner = x.partner if isinstance(x.partner, int) or r is None else x.partner[r]
    serving = code >> CARRIER_SHIFT
    if x.snap.ported.size:
        moved = x.snap.ported_many(c)
        serving = np.where(moved > 0, moved, serving)
    out: npt.NDArray[np.bool_] = (serving > 0) & (serving != partner)
    return out


def _velocity(x: Batch) -> npt.NDArray[np.int8]:
    """Count the calls that reach the velocity stage (only those), in order."""
    out = np.zeros(x.alive.shape, dtype=np.int8)
    rows = np.flatnonzero(x.alive)
    out[rows] = x.velocity.observe_batch(x["c"][rows], x["e"][rows], x.now)
    return out


# ``parse_number`` inlined into the generated single-call path (a call a number costs more than
# the stage it feeds): the canonical law of ``domain.numbers.is_canonical``, from its bounds.
_PARSE = (f"int({{0}}) if {MIN_DIGITS - 1} < len({{0}}) < {MAX_DIGITS + 1} and {{0}}.isdigit()"
          ' and {0}.isascii() and {0}[0] != "0" else -1')

# In the order of first use. The caller's facts after the malformed stage assume a well-formed
# caller (c > 0), which that stage guarantees.
FACTS: dict[str, Fact] = {
    "c": Fact("c = " + _PARSE.format("text"), lambda x: parse_numbers(x.callers)),
    "e": Fact("e = " + _PARSE.format("callee"), lambda x: parse_numbers(x.callees)),
    "ing": Fact("", lambda x: x.ing, inline=True),
    "f": Fact(
        "f = snap.flags_of(c) if c in snap.listed else 0\n"
        "if snap.has_list_prefixes:\n    f |= snap.list_prefixes.lookup(text)",
        lambda x: x.snap.flags_many(x["c"]) | (
            x.snap.list_prefixes.lookup_many(x["c"]).astype(np.uint8)
            if x.snap.has_list_prefixes else np.uint8(0))),
    "devices": Fact("snap.device_results", lambda x: x.snap.device_results, inline=True),
    "device": Fact(
        "device = snap.device_of(imei) if imei else -1",
        lambda x: x.snap.devices_of(x.imeis) if x.imeis is not None and x.snap.tacs.size
        else -1),
    "imei_listed": Fact(
        "(imei in snap.imeis if imei else False)",
        lambda x: np.fromiter((i in x.snap.imeis for i in x.imeis), dtype=bool,
                              count=len(x.imeis))
        if x.imeis is not None and x.snap.imeis else False,
        inline=True),
    "code": Fact(
        "code = snap.plan.memo[len(text)].get(text[: snap.plan.width])\n"
        "if code is None:\n    code = snap.plan.classify(text)",
        lambda x: x.snap.plan.codes_of(x["c"])),
    "kind": Fact("(code & 7)", lambda x: x["code"] & 7, inline=True),
    # The live location updates since the snapshot first (screening.roaming), then the snapshot.
    "roaming": Fact("LIVE.get(c, c in snap.roaming_set)", lambda x: _roaming(x), inline=True),
    "ported": Fact("(c in snap.ported_set)",
                   lambda x: x.snap.ported_many(x["c"]) > 0 if x.snap.ported.size else False,
                   inline=True,
                   rows=lambda x, r: x.snap.ported_many(x["c"][r]) > 0 if x.snap.ported.size
                   else False),
    "partner": Fact("", lambda x: x.partner, inline=True),
    "carrier_results": Fact("CARRIER_RESULTS", lambda x: x.carrier_results, inline=True),
    # The carrier serving the caller is known and is not the trunk's.
    "not_served": Fact(
        f"(0 < (snap.ported_carrier(c) if c in snap.ported_set else code >> {CARRIER_SHIFT})"
        " != partner)",
        lambda x: _not_served(x), inline=True, rows=lambda x, r: _not_served(x, r)),
    "callee_flags": Fact("snap.flags_of(e)", lambda x: x.snap.flags_many(x["e"]), inline=True,
                         rows=lambda x, r: x.snap.flags_many(x["e"][r])),
    "risks": Fact("snap.risk_results", lambda x: x.snap.risk_results, inline=True),
    "risk": Fact(
        "risk = snap.risk_table.lookup(text) if snap.risk_prefixes else -1",
        lambda x: x.snap.risk_table.lookup_many(x["c"]) if x.snap.risk_prefixes else -1),
    "tiers": Fact("TIERS", lambda x: x.tiers, inline=True),
    "tier": Fact("TIER_OF[f >> 4 & 7]", lambda x: _TIER_OF[x["f"] >> 4 & 7], inline=True),
    "velocity_results": Fact("VELOCITY_RESULTS", lambda x: VELOCITY_RESULTS, inline=True),
    "velocity": Fact("velocity = observe(c, e, now)", _velocity),
}


def _names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - CONSTANTS.keys()


def _needs(names: set[str]) -> set[str]:
    """The facts ``names`` need, with those their own scalar sources read (transitively)."""
    out: set[str] = set()
    todo = [n for n in names if n in FACTS]
    while todo:
        n = todo.pop()
        if n in out:
            continue
        out.add(n)
        src = FACTS[n].scalar
        if src:
            todo += [m for m in _names(ast.parse(src)) if m in FACTS and m != n]
    return out


class _Inline(ast.NodeTransformer):
    """Replace inline facts by their scalar expressions (in parentheses, as parsed)."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        fact = FACTS.get(node.id)
        if fact is not None and fact.inline and fact.scalar:
            return self.visit(ast.parse(fact.scalar, mode="eval").body)
        return node


def scalar_expression(expr: str) -> str:
    """A condition (or pick) as the single-call form writes it: inline facts written out."""
    return ast.unparse(_Inline().visit(ast.parse(expr, mode="eval")))


def scalar_source(stages: Sequence[Stage] = STAGES) -> str:
    """The law for one call, written out as the source of ``decide(snap, text, callee, ing,
    now, imei, partner)`` returning (outcome, reasons); constants and results come from the
    namespace ``scalar_law`` gives it."""
    body: list[str] = []
    done: set[str] = {"ing"}
    gathering = False
    for k, st in enumerate(stages):
        used = _names(ast.parse(st.when, mode="eval"))
        if st.table:
            used |= {st.table} | _names(ast.parse(st.pick, mode="eval"))
        for name in FACTS:  # statements of the facts it needs, in order of first use
            if name in _needs(used) and name not in done and not FACTS[name].inline:
                body += FACTS[name].scalar.split("\n")
                done.add(name)
        ends = st.final or st.outcome is Outcome.REJECT
        if not gathering and (st.table or not ends):
            body.append("rank, reasons = 0, ()")
            gathering = True
        body.append(f"if {scalar_expression(st.when)}:")
        if st.table:
            body.append(f"    o, r = {scalar_expression(st.table)}[{scalar_expression(st.pick)}]")
            test = "True" if st.final else "o is REJECT"
            body += [f"    if {test}:", "        return o, (*reasons, r)",
                     "    reasons += (r,)", "    if RANK[o] > rank:", "        rank = RANK[o]"]
        elif ends:
            body.append(f"    return STAGE_RESULTS[{k}]" if not gathering else
                        f"    return STAGE_RESULTS[{k}][0], (*reasons, {st.reason!r})")
        else:
            assert st.outcome is not None
            body += [f"    reasons += ({st.reason!r},)", f"    if rank < {st.outcome.rank}:",
                     f"        rank = {st.outcome.rank}"]
    body.append("return (RANKS[rank], reasons) if reasons else ALLOWED" if gathering else
                "return ALLOWED")
    return "def decide(snap, text, callee, ing, now, imei, partner):\n" + "".join(
        f"    {line}\n" for line in body)


def scalar_law(
    observe: Callable[[int, int, float], int], tiers: tuple[tuple[Outcome, str], ...],
    stages: Sequence[Stage] = STAGES, live: LiveRoaming | None = None,
    carrier_results: tuple[tuple[Outcome, str], ...] = (
        (Outcome.REJECT, "spoof:wrong_carrier"),),
) -> Callable[[Snapshot, str, str, int, float, str | None, int], Result]:
    """The compiled single-call form of the law, counting velocity with ``observe``, giving
    warned numbers the ``tiers`` results (index 1 suspend, 2 verify, 3 watch), a mobile on the
    trunk of a carrier that does not serve it ``carrier_results[0]``, and reading location
    updates newer than the snapshot from ``live``."""
    namespace: dict[str, Any] = {
        "LIVE": (live if live is not None else LiveRoaming()).state,
        **CONSTANTS, "REJECT": Outcome.REJECT, "RANK": {o: o.rank for o in Outcome},
        "RANKS": RANKS, "ALLOWED": ALLOWED, "TIER_OF": TIER_OF, "TIERS": tiers,
        "VELOCITY_RESULTS": VELOCITY_RESULTS, "observe": observe,
        "CARRIER_RESULTS": carrier_results,
        "STAGE_RESULTS": [(s.outcome, (s.reason,)) if s.outcome else None for s in stages],
    }
    exec(compile(scalar_source(stages), "<telshield decision law>", "exec"), namespace)
    decide: Callable[[Snapshot, str, str, int, float, str | None, int], Result] = \
        namespace["decide"]
    return decide


def _rows_lambda(body: ast.expr) -> ast.Lambda:
    return ast.Lambda(ast.arguments([], [ast.arg("r")], None, [], [], None, []), body)


class _Elementwise(ast.NodeTransformer):
    """``and``/``or``/``not`` and chained comparisons made element-wise; facts read from the
    batch ``x`` for the calls ``r`` (None: all of them). ``and`` evaluates its right side only
    for the calls its left side lets through (``_and``), as the single-call form does."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in CONSTANTS:
            return node
        return ast.Call(ast.Name("_get", ast.Load()),
                        [ast.Name("x", ast.Load()), ast.Constant(node.id),
                         ast.Name("r", ast.Load())], [])

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        values = [self.visit(v) for v in node.values]
        out = values[-1]
        for v in reversed(values[:-1]):
            if isinstance(node.op, ast.And):
                out = ast.Call(ast.Name("_and", ast.Load()),
                               [ast.Name("x", ast.Load()), ast.Name("r", ast.Load()),
                                _rows_lambda(v), _rows_lambda(out)], [])
            else:
                out = ast.Call(ast.Name("_or", ast.Load()), [v, out], [])
        return out

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        if isinstance(node.op, ast.Not):
            return ast.Call(ast.Name("_not", ast.Load()), [self.visit(node.operand)], [])
        return self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        if len(node.ops) == 1:
            return self.generic_visit(node)
        left, parts = node.left, list[ast.expr]()
        for op, right in zip(node.ops, node.comparators, strict=True):
            parts.append(ast.Compare(left, [op], [right]))
            left = right
        return self.visit(ast.BoolOp(ast.And(), parts))


def _truth(v: Any) -> Any:
    return v if getattr(v, "dtype", None) == np.bool_ else np.not_equal(v, 0)


def _get(x: Batch, name: str, r: npt.NDArray[np.intp] | None) -> Any:
    """Fact ``name`` for the calls ``r`` of batch ``x`` (None: all of them): a column, or one
    value for every call. A fact not yet computed that has a ``rows`` form is computed for
    those calls only (and not kept)."""
    v = x.get(name)
    if v is None:
        fact = FACTS[name]
        if r is not None and fact.rows is not None:
            return fact.rows(x, r)
        v = x[name]
    if r is None or not isinstance(v, np.ndarray) or v.ndim == 0:
        return v
    return v[r]


def _and(x: Batch, r: npt.NDArray[np.intp] | None, left: Callable[[Any], Any],
         right: Callable[[Any], Any]) -> Any:
    """``left and right`` element-wise over the calls ``r``, the right side evaluated only
    for the calls where the left one holds."""
    a = _truth(left(r))
    if a.ndim == 0:
        return _truth(right(r)) if a else a
    pos = np.flatnonzero(a)
    if pos.size == 0:
        return a
    b = _truth(right(pos if r is None else r[pos]))
    if b.ndim == 0:
        return a if b else np.zeros(a.shape, dtype=bool)
    out = np.zeros(a.shape, dtype=bool)
    out[pos] = b
    return out


_VECTOR_NS: dict[str, Any] = {
    **CONSTANTS, "_and": _and, "_or": np.logical_or, "_not": np.logical_not,
    "_truth": _truth, "_get": _get,
}


def _vector(expr: str) -> Callable[[Batch], Any]:
    """The condition ``expr`` for a whole batch: a column of truth values, or one value."""
    tree = _Elementwise().visit(ast.parse(expr, mode="eval"))
    body = ast.Call(ast.Name("_truth", ast.Load()), [tree.body], [])
    fn = ast.Expression(ast.Lambda(
        ast.arguments([], [ast.arg("x"), ast.arg("r")], None, [], [], None,
                      [ast.Constant(None)]), body))
    f: Callable[[Batch], Any] = eval(  # our own stage table, never input
        compile(ast.fix_missing_locations(fn), "<telshield decision law>", "eval"), _VECTOR_NS)
    return f


class ReasonSets:
    """Reason tuples by a small id, so that a batch carries one int per call; adding a code
    to the reasons of many calls costs one look-up per distinct tuple among them."""

    def __init__(self) -> None:
        self.tuples: list[tuple[str, ...]] = [()]
        self._ids: dict[tuple[str, ...], int] = {(): 0}
        self._plus: dict[tuple[int, str], int] = {}

    def plus(self, rid: int, code: str) -> int:
        """The id of reasons ``rid`` with ``code`` added at the end."""
        key = (rid, code)
        out = self._plus.get(key)
        if out is None:
            reasons = (*self.tuples[rid], code)
            out = self._ids.get(reasons)
            if out is None:
                out = self._ids[reasons] = len(self.tuples)
                self.tuples.append(reasons)
            self._plus[key] = out
        return out


class Sweep:
    """The law for a batch: each stage's condition over the columns, on the calls still
    undecided, in the order of ``stages``."""

    def __init__(self, stages: Sequence[Stage] = STAGES) -> None:
        self.stages = tuple(stages)
        self._when = [_vector(s.when) for s in self.stages]
        self.reason_sets = ReasonSets()

    def run(self, x: Batch) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int32]]:
        """Decide the batch: per call the outcome's rank and the id of its reasons."""
        n = x.alive.size
        rank = np.zeros(n, dtype=np.int8)
        rid = np.zeros(n, dtype=np.int32)
        alive = x.alive
        for st, when in zip(self.stages, self._when, strict=True):
            hit = when(x)
            if hit.ndim == 0:  # the fact is the same for every call (e.g. no IMEIs given)
                if not hit:
                    continue
                hit = np.ones(n, dtype=bool)
            rows = np.flatnonzero(hit)
            rows = rows[alive[rows]]
            if rows.size == 0:
                continue
            if not st.table:
                assert st.outcome is not None
                self._apply(rank, rid, alive, rows, st.outcome, st.reason, st.final)
                continue
            # ``pick`` names a fact: per call, the index of its result in the table.
            pick = CONSTANTS[st.pick] if st.pick in CONSTANTS else x[st.pick]
            table, picks = x[st.table], np.broadcast_to(pick, (n,))[rows]
            for p in np.unique(picks).tolist():
                outcome, reason = table[p]
                self._apply(rank, rid, alive, rows[picks == p], outcome, reason, st.final)
            if not alive.any():
                break
        return rank, rid

    def _apply(self, rank: npt.NDArray[np.int8], rid: npt.NDArray[np.int32],
               alive: npt.NDArray[np.bool_], rows: npt.NDArray[np.intp], outcome: Outcome,
               reason: str, final: bool) -> None:
        old = rid[rows]
        plus = self.reason_sets.plus
        if not old.any():  # the usual case: no reasons yet
            rid[rows] = plus(0, reason)
        else:
            for r in np.unique(old).tolist():
                rid[rows[old == r]] = plus(r, reason)
        rank[rows] = np.maximum(rank[rows], outcome.rank)
        if final or outcome is Outcome.REJECT:
            alive[rows] = False
