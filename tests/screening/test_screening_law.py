"""One decision law, two forms: every stage decided the same one by one and in batches (with
the same velocity state left behind), every fact the same in both forms, and a vocabulary
check so that a stage added to the law cannot go untested."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telshield.domain.alerts import Tier
from telshield.domain.lists import ListEntry
from telshield.screening.engine import Engine, EngineConfig, ingress_code
from telshield.screening.law import (
    CONSTANTS,
    FACTS,
    STAGES,
    TIER_OF,
    VELOCITY_RESULTS,
    Batch,
    scalar_expression,
    scalar_source,
)
from telshield.screening.roaming import LiveRoaming, Updates
from telshield.screening.snapshot import Outcome, RiskPrefix, Snapshot, input_from_entries
from telshield.screening.velocity import Velocity, VelocityLimits

T0 = datetime(2026, 11, 2, 9, 0, 0)
NOW = T0.replace(tzinfo=UTC).timestamp()  # the store's naive times are UTC

WHITE_N, BLACK_N, POLICE_N, GREY_N = (
    "8613800000001", "8613800000002", "8613800000003", "8613800000004")
SUSPEND_N, VERIFY_N, WATCH_N, GREY_WATCH = (
    "8613800000005", "8613800000006", "8613800000007", "8613800000008")
VICTIM, CALLEE = "8613900000001", "8613900000009"
ROAMER = "8613812340000"  # ours (China Mobile 138), registered abroad
PLAIN, OURS = "8618600000001", "8613812345678"  # China Unicom; China Mobile
GOIP_TAC, SIMBANK_TAC = "86123400", "35999901"
GOIP, SIMBANK, PHONE = GOIP_TAC + "123456", SIMBANK_TAC + "654321", "86000001111111"
LISTED_IMEI = "861234560000011"
# Ported: one of ours (China Mobile 138) now served by China Telecom; a China Unicom (186)
# number now served by China Mobile.
PORTED_OUT, PORTED_IN = "8613812349999", "8618600000777"

CALLERS = [
    WHITE_N, BLACK_N, POLICE_N, GREY_N, SUSPEND_N, VERIFY_N, WATCH_N, GREY_WATCH, VICTIM,
    ROAMER, PLAIN, OURS, "8614012345678", "85291234567", "85512345678", "85620555123",
    "8821612345678", "862584001234", "8695588", "8617012345678", "8617112345678",
    "8613600000042", "8615012345678", "bad", "", "0861234", "86138000000012345",
    PORTED_OUT, PORTED_IN,
]
CALLEES = [CALLEE, VICTIM, SUSPEND_N, PLAIN, OURS, ROAMER, "bad"]
IMEIS = [None, GOIP, SIMBANK, PHONE, LISTED_IMEI, "", "12"]
INGRESS = ["radio", "interconnect", "international"]
CARRIERS = [None, "china_mobile", "china_unicom", "china_telecom"]  # of the handing trunk

# Every reason code the law can give for this snapshot and configuration: the vocabulary
# a stage added to the law must extend (test_every_stage_is_covered).
CODES = {
    "spoof:malformed", "list:police", "list:white", "device:goip", "device:simbank",
    "device:listed", "list:black", "spoof:caller_is_callee", "spoof:unallocated",
    "spoof:domestic_via_international", "spoof:own_number_via_interconnect",
    "spoof:wrong_carrier", "callee:barred",
    "prefix:satellite", "prefix:high_risk_country", "prefix:warn_country", "list:grey",
    "warning:suspend", "warning:verify", "warning:watch", "victim:protected",
}
LIMITS = VelocityLimits(2, 4, 2, 3, 3, 5, 2, 4)
CONFIGS = [
    EngineConfig(velocity=LIMITS),
    EngineConfig(velocity=LIMITS, tier_outcomes={
        Tier.SUSPEND: Outcome.REJECT, Tier.VERIFY: Outcome.WARN_CALLEE,
        Tier.WATCH: Outcome.LABEL}, wrong_carrier=Outcome.LABEL),
]


def _entry(kind: str, value: str, colour: str, value_end: str = "", **kw: Any) -> ListEntry:
    return ListEntry.new(kind, value, colour, source=kw.pop("source", "manual"), reason="t",
                         actor="t", at=T0 - timedelta(days=1), value_end=value_end, **kw)


def _snapshot() -> Snapshot:
    entries = [
        _entry("number", WHITE_N, "white"), _entry("number", BLACK_N, "black"),
        _entry("number", POLICE_N, "white"),
        _entry("number", POLICE_N, "black", source="police", police_ordered=True),
        _entry("number", GREY_N, "grey"), _entry("number", GREY_WATCH, "grey"),
        _entry("prefix", "86170", "black"), _entry("prefix", "86171", "grey"),
        _entry("range", "8613600000000", "grey", "8613600000099"),
        _entry("prefix", "8615012", "white"), _entry("imei", LISTED_IMEI, "black"),
    ]
    data = input_from_entries(
        entries, at=T0,
        warnings=[(SUSPEND_N, Tier.SUSPEND), (VERIFY_N, Tier.VERIFY), (WATCH_N, Tier.WATCH),
                  (GREY_WATCH, Tier.WATCH)],
        protected=[VICTIM],
        risk_prefixes=[RiskPrefix("88216", Outcome.REJECT, "satellite"),
                       RiskPrefix("855", Outcome.LABEL, "high_risk_country"),
                       RiskPrefix("856", Outcome.WARN_CALLEE, "warn_country")],
        roaming=[ROAMER], version="law")
    from dataclasses import replace

    from telshield.screening.numbering import CARRIER_CODE

    ported = np.array([int(PORTED_OUT), int(PORTED_IN)], dtype=np.int64)
    carriers = np.array([CARRIER_CODE["china_telecom"], CARRIER_CODE["china_mobile"]],
                        dtype=np.uint8)
    return Snapshot.build(replace(data, barred_tacs=((GOIP_TAC, "goip"),
                                                     (SIMBANK_TAC, "simbank")),
                                  ported=ported, ported_carriers=carriers))


SNAP = _snapshot()
Call = tuple[str, str, str, str | None, str | None]


def _engines(config: EngineConfig) -> tuple[Engine, Engine]:
    one, many = Engine(config, clock=lambda: NOW), Engine(config, clock=lambda: NOW)
    one.swap(SNAP)
    many.swap(SNAP)
    return one, many


def _same(one: Engine, many: Engine, batches: list[tuple[float, list[Call]]]) -> set[str]:
    """Decide ``batches`` one by one on ``one`` and as batches on ``many``; assert the same
    decisions, counters and velocity state; return the reason codes given."""
    codes: set[str] = set()
    for at, calls in batches:
        singles = [one.decide(a, b, i, at, m, k) for a, b, i, m, k in calls]
        batch = many.decide_batch([c[0] for c in calls], [c[1] for c in calls],
                                  [c[2] for c in calls], at, [c[3] for c in calls],
                                  [c[4] for c in calls])
        assert [(d.outcome, d.reasons) for d in singles] == \
            [(d.outcome, d.reasons) for d in batch]
        codes |= {r for d in singles for r in d.reasons}
    assert one.outcomes == many.outcomes
    assert one.reasons == many.reasons
    _same_velocity(one.velocity, many.velocity)
    return codes


def _same_velocity(a: Velocity, b: Velocity) -> None:
    assert a.state() == b.state()
    for name in ("_pairs", "_minute_id", "_hour_id", "untracked"):
        assert getattr(a, name) == getattr(b, name), name


calls_st = st.lists(st.tuples(st.sampled_from(CALLERS), st.sampled_from(CALLEES),
                              st.sampled_from(INGRESS), st.sampled_from(IMEIS),
                              st.sampled_from(CARRIERS)),
                    min_size=1, max_size=40)


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(st.integers(-30, 1500), calls_st), min_size=1, max_size=6),
       st.sampled_from(CONFIGS))
def test_one_by_one_equals_batch_for_every_stage(
    steps: list[tuple[int, list[Call]]], config: EngineConfig
) -> None:
    """Batches at times moving by up to 25 minutes (some backwards: late calls), so velocity
    sees new callers, known callers, new minutes and new hours."""
    at, batches = NOW, []
    for step, calls in steps:
        at += step
        batches.append((at, calls))
    _same(*_engines(config), batches)


@pytest.mark.parametrize("config", CONFIGS)
def test_every_stage_is_covered(config: EngineConfig) -> None:
    """The whole product of the pools through both forms gives every code of the law."""
    calls = list(itertools.product(CALLERS, CALLEES, INGRESS, IMEIS, CARRIERS))
    codes = _same(*_engines(config), [(NOW, calls), (NOW + 30, calls)])
    velocity = {c for c in codes if c.startswith("velocity:")}
    assert codes - velocity == CODES
    outcomes = {o for o, c in VELOCITY_RESULTS if c in velocity}
    assert outcomes == {Outcome.LABEL, Outcome.REJECT}  # both velocity levels reached


def test_the_vocabulary_names_every_stage() -> None:
    static = {s.reason for s in STAGES if not s.table}
    assert static <= CODES
    assert [s.table for s in STAGES if s.table] == ["devices", "carrier_results", "risks",
                                                    "tiers", "velocity_results"]


def test_velocity_bounds_in_a_batch_keep_call_order() -> None:
    """Past the memory bounds, which callers and pairs go untracked depends on the order
    across callers: a batch counts them in call order too."""
    limits = VelocityLimits(1, 3, 1, 2, 2, 4, 1, 3, max_callers=3, max_pairs=4)
    one, many = _engines(EngineConfig(velocity=limits))
    calls = [(f"861860000000{i % 7}", f"86139000000{i % 5:02d}", "radio", None, None)
             for i in range(30)]
    _same(one, many, [(NOW, calls), (NOW + 1, calls[::-1])])
    assert one.velocity.untracked > 0


def _scalar_facts(text: str, callee: str, ing: int, imei: str | None,
                  live: LiveRoaming, partner: int = 0) -> dict[str, Any]:
    """Every fact but velocity for one call, from the facts' scalar sources."""
    ns: dict[str, Any] = {**CONSTANTS, "snap": SNAP, "text": text, "callee": callee,
                          "ing": ing, "now": NOW, "imei": imei, "partner": partner,
                          "CARRIER_RESULTS": ((Outcome.REJECT, "spoof:wrong_carrier"),),
                          "TIER_OF": TIER_OF,
                          "TIERS": (), "VELOCITY_RESULTS": VELOCITY_RESULTS,
                          "LIVE": live.state}
    out: dict[str, Any] = {}
    for name, fact in FACTS.items():
        if name in ("velocity", "ing", "partner"):
            continue
        if fact.inline:
            out[name] = eval(fact.scalar, ns)
        else:
            exec(fact.scalar, ns)
            out[name] = ns[name]
    return out


def _live(moved: bool) -> LiveRoaming:
    """No location updates since the snapshot, or two: the snapshot's roamer came home and
    one of ours landed abroad."""
    live = LiveRoaming()
    if moved:
        live.apply(Updates.of([ROAMER, OURS], ["detach", "attach"], [NOW - 60, NOW - 30]))
    return live


@pytest.mark.parametrize("moved", [False, True], ids=["snapshot", "live-updates"])
@pytest.mark.parametrize("imei", IMEIS)
def test_each_fact_is_the_same_in_both_forms(imei: str | None, moved: bool) -> None:
    callers = [c for c in CALLERS if c and c.isdigit() and c[0] != "0" and len(c) < 16]
    callees = (CALLEES * len(callers))[: len(callers)]
    ing = np.array([k % 3 for k in range(len(callers))], dtype=np.int8)
    partner = np.array([k % 5 for k in range(len(callers))], dtype=np.int8)
    live = _live(moved)
    batch = Batch(SNAP, callers, callees, ing, [imei] * len(callers), NOW,
                  Velocity(LIMITS), (), live, partner)
    assert not moved or {ROAMER, OURS} <= set(callers)  # the updates are put to the test
    for k, (a, b) in enumerate(zip(callers, callees, strict=True)):
        scalar = _scalar_facts(a, b, int(ing[k]), imei, live, int(partner[k]))
        for name, value in scalar.items():
            column = batch[name]
            got = column if np.ndim(column) == 0 or isinstance(column, tuple) else column[k]
            if isinstance(value, bool) or name == "imei_listed":
                assert bool(got) == bool(value), (name, a, b)
            else:
                assert got == value, (name, a, b)


def test_a_fact_for_some_calls_is_its_column_at_those_calls() -> None:
    """A fact with a ``rows`` form (computed only for the calls an ``and`` lets through)
    gives what its whole column gives there."""
    callers = [c for c in CALLERS if c]
    callees = (CALLEES * len(callers))[: len(callers)]
    ing = np.array([k % 3 for k in range(len(callers))], dtype=np.int8)
    with_rows = [name for name, fact in FACTS.items() if fact.rows is not None]
    assert with_rows  # the callee's flags at least
    for rows in (np.arange(len(callers)), np.array([1, 4, 5, 8]), np.array([], dtype=np.intp)):
        batch = Batch(SNAP, callers, callees, ing, None, NOW, Velocity(LIMITS), ())
        for name in with_rows:
            fact = FACTS[name]
            assert fact.rows is not None
            part = fact.rows(batch, rows)
            assert name not in batch  # not kept: it is not the whole column
            assert np.array_equal(part, batch[name][rows]), name


def test_roaming_subscribers_call_home_over_the_international_gateway() -> None:
    e = Engine(clock=lambda: NOW)
    e.swap(SNAP)
    home = e.decide(ROAMER, CALLEE, "international")
    assert (home.outcome, home.reasons) == (Outcome.ALLOW, ())
    other = e.decide(OURS, CALLEE, "international")
    assert other.reasons == ("spoof:domestic_via_international",)
    # The other stages still apply to a roamer: its own number from another network is spoofed.
    assert e.decide(ROAMER, CALLEE, "interconnect").reasons == (
        "spoof:own_number_via_interconnect",)
    batch = e.decide_batch([ROAMER, OURS], [CALLEE] * 2, "international")
    assert [d.reasons for d in batch] == [(), ("spoof:domestic_via_international",)]


def test_the_single_call_form_is_the_law_written_out() -> None:
    source = scalar_source()
    positions = [source.index(f"    if {scalar_expression(s.when)}:\n") for s in STAGES]
    assert positions == sorted(positions)  # every stage, in the law's order
    assert ingress_code("international") == CONSTANTS["INTERNATIONAL"]


def test_a_mobile_is_checked_against_the_carrier_that_serves_it() -> None:
    """Over interconnect, a mobile must come from the trunk of the carrier that serves it:
    its segment's, or the one the portability database says it moved to; with no trunk
    carrier given, the check does not apply."""
    e = Engine(clock=lambda: NOW)
    e.swap(SNAP)

    def reasons(caller: str, carrier: str | None) -> tuple[str, ...]:
        one = e.decide(caller, CALLEE, "interconnect", carrier=carrier).reasons
        many = e.decide_batch([caller], [CALLEE], "interconnect", carriers=[carrier])
        assert many[0].reasons == one
        return one

    assert reasons(PLAIN, "china_unicom") == ()  # a Unicom number over Unicom's trunk
    assert reasons(PLAIN, "china_telecom") == ("spoof:wrong_carrier",)
    assert reasons(PLAIN, None) == ()
    assert reasons(PORTED_IN, "china_mobile") == ()  # a Unicom segment ported to us
    assert reasons(PORTED_IN, "china_unicom") == ("spoof:wrong_carrier",)
    # One of ours ported to Telecom comes over Telecom's trunk: neither ours nor wrong.
    assert reasons(PORTED_OUT, "china_telecom") == ()
    assert reasons(PORTED_OUT, "china_unicom") == ("spoof:wrong_carrier",)
    assert reasons(OURS, "china_mobile") == ("spoof:own_number_via_interconnect",)
    assert reasons("862584001234", "china_unicom") == ()  # a landline: no carrier known
    assert e.decide(PLAIN, CALLEE, "radio", carrier="china_telecom").reasons == ()
