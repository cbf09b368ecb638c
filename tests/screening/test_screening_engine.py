"""The decision engine: order of the stages, outcomes, batch = single, fail open, swap,
velocity, victim protection, the decision log."""

from __future__ import annotations

import gc
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telshield.domain.alerts import Tier
from telshield.domain.errors import InvalidInput, Unavailable
from telshield.domain.lists import ListEntry
from telshield.screening.decisionlog import (
    DecisionRecord,
    JsonLinesDecisionLog,
    MemoryDecisionLog,
    read_decisions,
)
from telshield.screening.engine import Engine, EngineConfig
from telshield.screening.publish import load_current, publish
from telshield.screening.snapshot import (
    Outcome,
    RiskPrefix,
    Snapshot,
    SnapshotInput,
    input_from_entries,
)
from telshield.screening.velocity import RESULTS, Velocity, VelocityLimits

T0 = datetime(2026, 11, 2, 9, 0, 0)
NOW = T0.replace(tzinfo=UTC).timestamp()  # the store's naive times are UTC

WHITE_N = "8613800000001"
BLACK_N = "8613800000002"
POLICE_N = "8613800000003"  # also whitelisted: the police order must win
GREY_N = "8613800000004"
SUSPEND_N = "8613800000005"
VERIFY_N = "8613800000006"
WATCH_N = "8613800000007"
VICTIM = "8613900000001"
CALLEE = "8613900000009"
PLAIN = "8618600000001"  # China Unicom: not ours, allocated


def _entry(value: str, colour: str, **kw: object) -> ListEntry:
    return ListEntry.new(
        "number", value, colour, source=kw.pop("source", "manual"), reason="test", actor="t",
        at=T0 - timedelta(days=1), **kw,
    )


def _input() -> SnapshotInput:
    entries = [
        _entry(WHITE_N, "white"),
        _entry(BLACK_N, "black"),
        _entry(POLICE_N, "white"),
        _entry(POLICE_N, "black", source="police", police_ordered=True),
        _entry(GREY_N, "grey"),
        _entry("8613800000099", "black", expires_at=T0 - timedelta(hours=1)),  # expired
        ListEntry.new("prefix", "86170", "black", source="manual", reason="virtual", actor="t",
                      at=T0 - timedelta(days=1)),
        ListEntry.new("range", "8613700000000", "black", source="manual", reason="r", actor="t",
                      at=T0 - timedelta(days=1), value_end="8613700000199"),
        ListEntry.new("prefix", "86171", "grey", source="manual", reason="watch", actor="t",
                      at=T0 - timedelta(days=1)),
        ListEntry.new("range", "8613600000000", "grey", source="manual", reason="r", actor="t",
                      at=T0 - timedelta(days=1), value_end="8613600000099"),
        ListEntry.new("prefix", "8615012", "white", source="manual", reason="bank", actor="t",
                      at=T0 - timedelta(days=1)),
        ListEntry.new("range", "8613500000000", "white", source="manual", reason="r", actor="t",
                      at=T0 - timedelta(days=1), value_end="8613500000009"),
    ]
    return input_from_entries(
        entries,
        at=T0,
        warnings=[(SUSPEND_N, Tier.SUSPEND), (VERIFY_N, Tier.VERIFY), (WATCH_N, Tier.WATCH)],
        protected=[VICTIM],
        risk_prefixes=[
            RiskPrefix("88216", Outcome.REJECT, "satellite"),
            RiskPrefix("855", Outcome.LABEL, "high_risk_country"),
        ],
        version="v1",
    )


@pytest.fixture
def engine() -> Engine:
    e = Engine(clock=lambda: NOW)
    e.swap(Snapshot.build(_input()))
    return e


@pytest.mark.parametrize(
    ("caller", "callee", "ingress", "outcome", "reasons"),
    [
        (WHITE_N, CALLEE, "interconnect", Outcome.ALLOW, ("list:white",)),  # white beats spoof
        (BLACK_N, CALLEE, "radio", Outcome.REJECT, ("list:black",)),
        (POLICE_N, CALLEE, "radio", Outcome.REJECT, ("list:police",)),
        ("8613800000099", CALLEE, "radio", Outcome.ALLOW, ()),  # expired entry
        ("8617012345678", CALLEE, "radio", Outcome.REJECT, ("list:black",)),  # prefix entry
        ("8613700000150", CALLEE, "radio", Outcome.REJECT, ("list:black",)),  # range entry
        ("8613700000200", CALLEE, "radio", Outcome.ALLOW, ()),  # just past the range
        ("8617112345678", CALLEE, "radio", Outcome.LABEL, ("list:grey",)),  # grey prefix
        ("8613600000042", CALLEE, "radio", Outcome.LABEL, ("list:grey",)),  # grey range
        ("8613600000100", CALLEE, "radio", Outcome.ALLOW, ()),  # just past the grey range
        ("8615012345678", CALLEE, "international", Outcome.ALLOW, ("list:white",)),  # prefix
        ("8613500000003", CALLEE, "interconnect", Outcome.ALLOW, ("list:white",)),  # range
        (GREY_N, CALLEE, "radio", Outcome.LABEL, ("list:grey",)),
        (PLAIN, PLAIN, "interconnect", Outcome.REJECT, ("spoof:caller_is_callee",)),
        ("8613812345678", "8613812345678", "radio", Outcome.ALLOW, ()),  # voicemail
        ("8614012345678", CALLEE, "radio", Outcome.REJECT, ("spoof:unallocated",)),
        ("86-138", CALLEE, "radio", Outcome.REJECT, ("spoof:malformed",)),
        ("", CALLEE, "radio", Outcome.REJECT, ("spoof:malformed",)),
        ("8613812345678", CALLEE, "international", Outcome.REJECT,
         ("spoof:domestic_via_international",)),
        ("862584001234", CALLEE, "international", Outcome.REJECT,
         ("spoof:domestic_via_international",)),
        ("8695588", CALLEE, "international", Outcome.REJECT, ("spoof:domestic_via_international",)),
        ("85291234567", CALLEE, "international", Outcome.ALLOW, ()),
        ("8613812345678", CALLEE, "interconnect", Outcome.REJECT,
         ("spoof:own_number_via_interconnect",)),
        (PLAIN, CALLEE, "interconnect", Outcome.ALLOW, ()),
        ("8821612345678", CALLEE, "international", Outcome.REJECT, ("prefix:satellite",)),
        ("85512345678", CALLEE, "international", Outcome.LABEL, ("prefix:high_risk_country",)),
        (SUSPEND_N, CALLEE, "radio", Outcome.REJECT, ("warning:suspend",)),
        (VERIFY_N, CALLEE, "radio", Outcome.REJECT, ("warning:verify",)),
        (WATCH_N, CALLEE, "radio", Outcome.LABEL, ("warning:watch",)),
        (WATCH_N, VICTIM, "radio", Outcome.WARN_CALLEE, ("warning:watch", "victim:protected")),
        (PLAIN, VICTIM, "radio", Outcome.ALLOW, ()),  # protection is about warned callers only
    ],
)
def test_decisions(
    engine: Engine, caller: str, callee: str, ingress: str, outcome: Outcome,
    reasons: tuple[str, ...],
) -> None:
    d = engine.decide(caller, callee, ingress)
    assert (d.outcome, d.reasons) == (outcome, reasons)
    [b] = engine.decide_batch([caller], [callee], [ingress], NOW)
    assert (b.outcome, b.reasons) == (outcome, reasons)
    assert d.id != b.id


def test_decision_ids_are_unique(engine: Engine) -> None:
    ids = {engine.decide(PLAIN, CALLEE, "radio").id for _ in range(50)}
    ids |= {d.id for d in engine.decide_batch([PLAIN] * 50, [CALLEE] * 50, "radio")}
    assert len(ids) == 100


def test_unknown_ingress_is_invalid_input(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="ingress"):
        engine.decide(PLAIN, CALLEE, "satellite")
    with pytest.raises(InvalidInput, match="'satellite'"):
        engine.decide_batch([PLAIN] * 3, [CALLEE] * 3, ["radio", "satellite", "radio"])


NUMBERS = [WHITE_N, BLACK_N, POLICE_N, GREY_N, SUSPEND_N, VERIFY_N, WATCH_N, VICTIM, CALLEE,
           PLAIN, "8613812345678", "8614012345678", "85512345678", "8821612345678", "8695588",
           "8617012345678", "8617112345678", "8613600000042", "8615012345678", "8613500000003",
           "bad"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(NUMBERS), st.sampled_from(NUMBERS),
                          st.sampled_from(["radio", "interconnect", "international"])),
                min_size=1, max_size=80))
def test_batch_equals_one_by_one(calls: list[tuple[str, str, str]]) -> None:
    config = EngineConfig(velocity=VelocityLimits(2, 4, 2, 3, 3, 5, 2, 4))
    one, many = Engine(config, clock=lambda: NOW), Engine(config, clock=lambda: NOW)
    snap = Snapshot.build(_input())
    one.swap(snap)
    many.swap(snap)
    singles = [one.decide(a, b, i) for a, b, i in calls]
    batch = many.decide_batch([c[0] for c in calls], [c[1] for c in calls], [c[2] for c in calls])
    assert [(d.outcome, d.reasons) for d in singles] == [(d.outcome, d.reasons) for d in batch]
    assert one.outcomes == many.outcomes


def test_missing_or_stale_snapshot_fails_open_and_says_so() -> None:
    now = [NOW]
    e = Engine(EngineConfig(max_age_s=600), clock=lambda: now[0])
    assert e.decide(BLACK_N, CALLEE).reasons == ("snapshot:missing",)
    e.swap(Snapshot.build(_input()))
    assert e.decide(BLACK_N, CALLEE).outcome is Outcome.REJECT
    now[0] += 601
    d = e.decide(BLACK_N, CALLEE)
    assert (d.outcome, d.reasons) == (Outcome.ALLOW, ("snapshot:stale",))
    assert e.fail_open_count == 2
    batch = e.decide_batch([BLACK_N] * 3, [CALLEE] * 3)
    assert all(d.reasons == ("snapshot:stale",) for d in batch)
    assert e.fail_open_count == 5


def test_fail_closed_raises_unavailable() -> None:
    e = Engine(EngineConfig(fail_open=False), clock=lambda: NOW)
    with pytest.raises(Unavailable, match="snapshot"):
        e.decide(PLAIN, CALLEE)


def test_swap_never_mixes_snapshots() -> None:
    """Decisions racing with swaps see either the old or the new snapshot, never a blend."""
    e = Engine(clock=lambda: NOW)
    black = [f"86138000{i:05d}" for i in range(200)]
    a = SnapshotInput(list_numbers=np.array([int(x) for x in black[:100]]),
                      list_flags=np.full(100, 2, np.uint8), as_of=NOW, version="a")
    b = SnapshotInput(list_numbers=np.array([int(x) for x in black[100:]]),
                      list_flags=np.full(100, 2, np.uint8), as_of=NOW, version="b")
    snaps = [Snapshot.build(a), Snapshot.build(b)]
    e.swap(snaps[0])
    stop = threading.Event()

    def swapper() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            e.swap(snaps[i % 2])

    t = threading.Thread(target=swapper)
    t.start()
    try:
        for _ in range(300):
            ds = e.decide_batch(black, [CALLEE] * 200, "radio")
            rejected = [d.reasons == ("list:black",) for d in ds]
            assert rejected in ([True] * 100 + [False] * 100, [False] * 100 + [True] * 100)
    finally:
        stop.set()
        t.join()


def test_velocity_labels_then_rejects_and_expires() -> None:
    limits = VelocityLimits(label_calls_per_minute=3, reject_calls_per_minute=5,
                            label_callees_per_minute=50, reject_callees_per_minute=60,
                            label_calls_per_hour=500, reject_calls_per_hour=600,
                            label_callees_per_hour=500, reject_callees_per_hour=600)
    e = Engine(EngineConfig(velocity=limits), clock=lambda: NOW)
    e.swap(Snapshot.build(_input()))
    got = [e.decide(PLAIN, CALLEE, "radio", NOW + i).outcome for i in range(6)]
    assert got == [Outcome.ALLOW, Outcome.ALLOW, Outcome.LABEL, Outcome.LABEL,
                   Outcome.REJECT, Outcome.REJECT]
    # The next minute starts afresh; the hour keeps counting.
    assert e.decide(PLAIN, CALLEE, "radio", NOW + 60).outcome is Outcome.ALLOW
    assert e.velocity.calls_this_hour(int(PLAIN)) == 7
    e.velocity.reset()
    assert e.velocity.calls_this_hour(int(PLAIN)) == 0


def test_velocity_state_is_out_of_the_cycle_collectors_way() -> None:
    # A full collection walks every container object the collector tracks; the state of every
    # caller this hour (millions at a province's peak) must not be among them, or each
    # collection stalls the face (0.2 s at half a million callers kept as lists).
    v = Velocity(VelocityLimits())
    callers = np.arange(8613900000000, 8613900020000, dtype=np.int64)
    gc.collect()
    before = len(gc.get_objects())
    v.observe_batch(callers, callers + 1, NOW)  # once: the batch's compact form
    for c in callers[:10_000].tolist():  # again, to another callee: counters and a callee map
        v.observe(c, c + 2, NOW + 1)
        v.observe(c, c + 3, NOW + 2)
    gc.collect()
    assert len(v) == 20_000
    assert v.state()[int(callers[0])][1:5] == [3, 3, 3, 3]  # calls, callees: minute, hour
    assert len(gc.get_objects()) - before < 1_000


def test_velocity_counts_distinct_callees_and_stays_bounded() -> None:
    v = Velocity(VelocityLimits(label_callees_per_hour=3, reject_callees_per_hour=4,
                                max_callers=2))
    results = [RESULTS[v.observe(1, 100 + i % 5, NOW)][1] for i in range(5)]
    assert results[:2] == ["", ""]
    assert results[2] == "velocity:callees_per_hour"
    assert RESULTS[v.observe(1, 100, NOW)] == (2, "velocity:callees_per_hour")
    v.observe(2, 100, NOW)
    assert RESULTS[v.observe(3, 100, NOW)] == (0, "")  # over max_callers: not tracked, counted
    assert v.untracked == 1 and len(v) == 2
    v.observe(3, 100, NOW + 3600)  # the next hour: everything before has expired
    assert len(v) == 1
    p = Velocity(VelocityLimits(label_callees_per_hour=2, reject_callees_per_hour=3, max_pairs=2))
    # the 3rd pair is not tracked
    assert [RESULTS[p.observe(1, 100 + i, NOW)][0] for i in range(4)] == [0, 1, 1, 1]
    assert p.untracked == 2


def test_bad_velocity_limits_are_refused() -> None:
    with pytest.raises(InvalidInput, match="label limit"):
        VelocityLimits(label_calls_per_minute=9, reject_calls_per_minute=3)


def test_decision_log_records_blocks(tmp_path: Path) -> None:
    mem = MemoryDecisionLog()
    e = Engine(clock=lambda: NOW, decision_log=mem)
    e.swap(Snapshot.build(_input()))
    e.decide(BLACK_N, CALLEE, "radio")
    e.decide(PLAIN, CALLEE, "radio")
    e.decide_batch([SUSPEND_N, PLAIN], [CALLEE, CALLEE], "radio")
    assert [(r.caller, r.outcome, r.reasons, r.snapshot) for r in mem.records] == [
        (BLACK_N, "reject", ("list:black",), "v1"),
        (SUSPEND_N, "reject", ("warning:suspend",), "v1"),
    ]
    sink = JsonLinesDecisionLog(tmp_path, max_bytes=400, buffer_records=2)
    e.decision_log = sink
    for _ in range(7):
        e.decide(BLACK_N, CALLEE, "radio")
    sink.close()
    assert len(list(tmp_path.glob("decisions-*.jsonl"))) > 1  # rotated
    records = list(read_decisions(tmp_path))
    assert len(records) == 7 and {r.reasons for r in records} == {("list:black",)}
    assert len({r.id for r in records}) == 7


def test_snapshot_files_round_trip(tmp_path: Path) -> None:
    data = _input()
    assert publish(data, tmp_path / "snap") == "v1"
    back = load_current(tmp_path / "snap")
    assert back.version == "v1" and back.risk_prefixes == data.risk_prefixes
    assert back.list_prefixes == data.list_prefixes
    assert np.array_equal(back.list_numbers, data.list_numbers)
    assert np.array_equal(back.roaming, data.roaming)
    with pytest.raises(Unavailable, match="screen build"):
        load_current(tmp_path / "nothing")


def test_snapshot_memory_is_bounded_per_number() -> None:
    rng = np.random.default_rng(7)
    numbers = np.unique(rng.integers(8613000000000, 8619999999999, 300_000))
    snap = Snapshot.build(SnapshotInput(
        list_numbers=numbers, list_flags=np.full(numbers.size, 2, np.uint8), as_of=NOW))
    assert len(snap) == numbers.size
    assert snap.memory_bytes() / len(snap) <= 24
    probe = rng.choice(numbers, 1000)
    assert (snap.flags_many(probe) == 2).all()
    assert all(snap.flags_of(int(n)) == 2 for n in probe[:50])
    assert snap.flags_of(8613000000000 - 1) == 0


def test_victims_are_callees_of_warned_numbers() -> None:
    from telshield.screening.victims import new_victims, victims_of

    warned = np.array([5, 3], dtype=np.int64)
    callers = np.array([3, 4, 5, 3, 9], dtype=np.int64)
    callees = np.array([10, 11, 12, 10, 13], dtype=np.int64)
    found = victims_of(warned, callers, callees)
    assert found.tolist() == [10, 12]
    assert new_victims(found, np.array([10], dtype=np.int64)).tolist() == [12]
    assert victims_of(np.empty(0, np.int64), callers, callees).size == 0


class _ReferenceVelocity:
    """The velocity rules written as plainly as possible (sets of minutes per caller-callee
    pair), to check the optimised ``Velocity`` against."""

    def __init__(self, lim: VelocityLimits) -> None:
        self.lim = lim
        self.minute, self.hour, self.untracked = -1, -1, 0
        self.calls: dict[int, list[int]] = {}  # caller -> minute of each call this hour
        self.pairs: dict[tuple[int, int], set[int]] = {}  # pair -> minutes it was called in

    def observe(self, caller: int, callee: int, now: float) -> tuple[int, str]:
        m = int(now // 60)
        if m > self.minute:
            self.minute = m
            if m // 60 > self.hour:
                self.hour, self.calls, self.pairs = m // 60, {}, {}
        m = self.minute  # a late call counts in the current minute
        if caller not in self.calls:
            if len(self.calls) >= self.lim.max_callers:
                self.untracked += 1
                return 0, ""
            self.calls[caller] = []
        self.calls[caller].append(m)
        if (caller, callee) in self.pairs:
            self.pairs[(caller, callee)].add(m)
        elif len(self.pairs) < self.lim.max_pairs:
            self.pairs[(caller, callee)] = {m}
        else:
            self.untracked += 1
        mine = [minutes for (a, _), minutes in self.pairs.items() if a == caller]
        counts = (self.calls[caller].count(m), sum(m in x for x in mine),
                  len(self.calls[caller]), len(mine))
        names = ("calls_per_minute", "callees_per_minute", "calls_per_hour", "callees_per_hour")
        lim = self.lim
        rejects = (lim.reject_calls_per_minute, lim.reject_callees_per_minute,
                   lim.reject_calls_per_hour, lim.reject_callees_per_hour)
        labels = (lim.label_calls_per_minute, lim.label_callees_per_minute,
                  lim.label_calls_per_hour, lim.label_callees_per_hour)
        for level, limits in ((2, rejects), (1, labels)):
            for n, limit, name in zip(counts, limits, names, strict=True):
                if n >= limit:
                    return level, "velocity:" + name
        return 0, ""


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(-30, 90)),
             min_size=1, max_size=120),
    st.sampled_from([VelocityLimits(2, 4, 2, 3, 3, 5, 2, 4, max_callers=3, max_pairs=6),
                     VelocityLimits(1, 3, 1, 2, 4, 9, 3, 5, max_callers=9, max_pairs=99),
                     VelocityLimits(max_callers=2, max_pairs=3)]),
)
def test_velocity_matches_the_plain_rules(
    calls: list[tuple[int, int, int]], limits: VelocityLimits
) -> None:
    fast, plain = Velocity(limits), _ReferenceVelocity(limits)
    now = NOW
    for caller, callee, step in calls:
        now += step * 20  # steps of up to half an hour, some backwards (late calls)
        assert RESULTS[fast.observe(caller, callee, now)] == plain.observe(caller, callee, now)
    assert fast.untracked == plain.untracked


def test_decision_ids_are_stable_and_match_the_log() -> None:
    mem = MemoryDecisionLog()
    e = Engine(clock=lambda: NOW, decision_log=mem)
    e.swap(Snapshot.build(_input()))
    d = e.decide(BLACK_N, CALLEE, "radio")
    [b] = e.decide_batch([SUSPEND_N], [CALLEE], "radio")
    assert d.id == d.id and [d.id, b.id] == [r.id for r in mem.records]
    assert int(b.id.rsplit("-", 1)[1], 16) == int(d.id.rsplit("-", 1)[1], 16) + 1


def test_large_snapshot_lookups_agree_with_a_set() -> None:
    """Above 65,536 numbers ``flags_many`` probes the bitmap first; malformed (-1) entries
    and unlisted numbers get 0, listed ones their flags."""
    rng = np.random.default_rng(3)
    numbers = np.unique(rng.integers(8613000000000, 8619999999999, 100_000))
    flags = rng.choice(np.array([2, 16, 32, 64], np.uint8), numbers.size)
    snap = Snapshot.build(SnapshotInput(list_numbers=numbers[flags == 2],
                                        list_flags=flags[flags == 2],
                                        warned=numbers[flags != 2],
                                        warned_tiers=flags[flags != 2], as_of=NOW))
    probe = np.concatenate([rng.choice(numbers, 500), rng.integers(8613000000000,
                            8619999999999, 500), np.array([-1, -1])])
    expected = dict(zip(numbers.tolist(), flags.tolist(), strict=True))
    got = snap.flags_many(probe).tolist()
    assert got == [expected.get(n, 0) for n in probe.tolist()]
    assert sum(1 for g in got if g) >= 500
    # A few numbers at a time are looked up without the probe: the same answers.
    for size in (40, 10):  # block-wise; one by one
        for k in range(0, probe.size, size):
            assert snap.flags_many(probe[k : k + size]).tolist() == got[k : k + size]
    # Block by block: the first and last keys, each block's edges, and numbers between them.
    edges = np.unique(np.concatenate([snap.keys[:40], snap.keys[-40:], snap.keys[::16],
                                      snap.keys[15::16], snap.keys[::16] + 1,
                                      snap.keys[::16] - 1, [0, 1, 10**15]]))
    want = [expected.get(n, 0) for n in edges.tolist()]
    assert snap.flags_many(edges).tolist() == want
    assert [snap.flags_of(n) for n in edges[:: 97].tolist()] == want[:: 97]


def test_decision_log_loses_nothing_while_another_thread_flushes(tmp_path: Path) -> None:
    sink = JsonLinesDecisionLog(tmp_path, buffer_records=64)
    record = DecisionRecord("x", NOW, BLACK_N, CALLEE, "radio", "reject", ("list:black",), "v")
    stop = threading.Event()

    def flusher() -> None:
        while not stop.is_set():
            sink.flush()

    t = threading.Thread(target=flusher)
    t.start()
    try:
        for _ in range(20_000):
            sink.append(record)
    finally:
        stop.set()
        t.join()
    sink.close()
    assert sum(1 for _ in read_decisions(tmp_path)) == 20_000


def test_a_decision_is_found_by_its_id_in_a_rotated_log(tmp_path: Path) -> None:
    from telshield.domain.errors import NotFound
    from telshield.screening.decisionlog import find_decision
    from telshield.screening.engine import new_node

    node = new_node()
    sink = JsonLinesDecisionLog(tmp_path, max_bytes=2000, buffer_records=7, node=node)
    e = Engine(clock=lambda: NOW, decision_log=sink, node=node)
    e.swap(Snapshot.build(_input()))
    ids = [e.decide(BLACK_N, f"86139{i:08d}", "radio").id for i in range(120)]
    ids += e.decide_batch([SUSPEND_N] * 30, [CALLEE] * 30, "radio").ids
    sink.close()
    assert len(list(tmp_path.glob(f"decisions-*-{node.rstrip('-')}-*.jsonl"))) > 3
    for k in (0, 1, 59, 119, 140, 149):
        r = find_decision(tmp_path, ids[k])
        assert r.id == ids[k] and r.snapshot == "v1"
        assert r.reasons == (("list:black",) if k < 120 else ("warning:suspend",))
    assert find_decision(tmp_path, ids[5]).callee == "8613900000005"
    with pytest.raises(NotFound, match="not in the decision log"):
        find_decision(tmp_path, node + "ffff")
    with pytest.raises(InvalidInput, match="not a decision id"):
        find_decision(tmp_path, "../../etc-1")
    # Files of earlier releases (no node in the name) are searched too.
    old = JsonLinesDecisionLog(tmp_path / "old", buffer_records=1)
    e.decision_log = old
    legacy = e.decide(BLACK_N, CALLEE, "radio").id
    old.close()
    assert find_decision(tmp_path / "old", legacy).id == legacy
