"""The period figures' one query layer: the route rule (table-driven), the store's counts for a
period on SQLite and PostgreSQL, and the overview, the police monthly report and the replay
giving the same figures for the same period over the same store and screened calls."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from telshield.domain.alerts import Alert, Reason, Tier
from telshield.domain.cases import (
    ESCALATION_REASON,
    Action,
    ActionKind,
    Appeal,
    Case,
    CaseStatus,
)
from telshield.domain.clock import feed_epoch, store_to_feed
from telshield.evaluate.replay_judge import judge
from telshield.evaluate.replay_routes import route_classes
from telshield.evaluate.replay_run import period_figures
from telshield.reference.numbering import load_plan_table
from telshield.screening.decisionlog import DecisionRecord, JsonLinesDecisionLog
from telshield.services import police_report
from telshield.services.figures import (
    BARRED,
    ROUTES,
    CountedPart,
    Figures,
    PeriodFigures,
    route_expr,
    route_figures,
)
from telshield.services.lakeread import FeedReader
from telshield.services.overview import OverviewService
from telshield.services.store import FixedClock
from telshield.store.sql import SqlStore
from telshield.wiring.figures import closed_files, decision_calls, decision_split

NOW = datetime(2026, 3, 20, 4)  # store time: 12:00 on 20 March in China
JS, JS2, JS3 = "8613400001234", "8613400005678", "8613400009999"  # China Mobile, Jiangsu
BJ = "8613401012345"  # China Mobile, Beijing
CU = "8613012345678"  # China Unicom
FOREIGN = "61689167080"

# (caller kind, operator, province), (callee ...), ingress -> route
RULES = [
    (("mobile", "china_mobile", "Jiangsu"), ("mobile", "china_mobile", "Jiangsu"), "radio",
     "local"),
    (("mobile", "china_mobile", "Beijing"), ("mobile", "china_mobile", "Jiangsu"), "radio",
     "inter_province"),
    (("mobile", "china_mobile", "Jiangsu"), ("mobile", "china_mobile", "Beijing"), "radio",
     "inter_province"),
    (("mobile", "china_unicom", None), ("mobile", "china_mobile", "Jiangsu"), "interconnect",
     "inter_network"),
    (("mobile", "china_mobile", "Jiangsu"), ("fixed", "china_telecom", "Jiangsu"), "radio",
     "inter_network"),
    (("invalid", "unknown", None), ("mobile", "china_mobile", "Jiangsu"), "radio",
     "inter_network"),
    # our own province's number presented over an interconnect: spoofed, another network
    (("mobile", "china_mobile", "Jiangsu"), ("mobile", "china_mobile", "Jiangsu"),
     "interconnect", "inter_network"),
    (("mobile", "china_mobile", "Beijing"), ("mobile", "china_mobile", "Jiangsu"),
     "interconnect", "inter_province"),
    (("international", "unknown", None), ("mobile", "china_mobile", "Jiangsu"), "radio",
     "international"),
    (("mobile", "china_mobile", "Jiangsu"), ("mobile", "china_mobile", "Jiangsu"),
     "international", "international"),
    (("mobile", "china_mobile", "Jiangsu"), ("international", "unknown", None), "radio",
     "international"),
    # a null ingress or attribute is "no", never a null class
    (("mobile", "china_mobile", "Jiangsu"), ("mobile", "china_mobile", "Jiangsu"), None,
     "local"),
    ((None, None, None), ("mobile", "china_mobile", "Jiangsu"), "radio", "inter_network"),
]


@pytest.mark.parametrize(("a", "b", "ingress", "route"), RULES)
def test_route_rule(a: tuple[str | None, ...], b: tuple[str | None, ...], ingress: str | None,
                    route: str) -> None:
    cols = {f"{side}_{attr}": [v] for side, vals in (("a", a), ("b", b))
            for attr, v in zip(("kind", "operator", "province"), vals, strict=True)}
    t = ibis.memtable(pa.table({**cols, "ingress": [ingress]},
                               schema=pa.schema([(c, pa.string()) for c in [*cols, "ingress"]])))
    got = ibis.duckdb.connect().execute(t.select(r=route_expr(t, province="Jiangsu")))
    assert got["r"].tolist() == [route]


def test_route_figures_count_per_class_and_barred_together() -> None:
    t = ibis.memtable(pd.DataFrame({
        "route": ["local", "local", "international", "inter_network", "inter_network"],
        "outcome": ["reject", "allow", "reject", "warn_callee", "reject"],
        "fraud": [False, False, True, True, True]}))
    by = {r.route: r for r in route_figures(t)}
    assert [r.route for r in route_figures(t)] == [*ROUTES, "+".join(BARRED)]
    assert (by["local"].screened, by["local"].legit_blocked, by["local"].fraud_calls) == (2, 1, 0)
    net = by["inter_network"]
    assert (net.fraud_calls, net.intercepted, net.warned, net.rejected) == (2, 1, 1, 1)
    barred = by["+".join(BARRED)]
    assert (barred.screened, barred.fraud_calls, barred.intercepted) == (3, 3, 2)
    assert barred.intercepted_share == pytest.approx(2 / 3)
    assert by["inter_province"].screened == 0


# --- one store, one decision log, three readers --------------------------------------------

@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    return load_plan_table(tmp_path_factory.mktemp("plan"))


def _act(case_id: int, kind: ActionKind, at: datetime, reason: str = "why") -> Action:
    return Action(case_id, kind, "t", at, reason, CaseStatus.OPEN, kind.target)


def _fill(store: SqlStore) -> None:
    """March 2026 (CST) with a little of February and of March 2025 around it."""
    r = (Reason("rule:x", "x"),)
    with store.transaction() as tx:
        tx.alerts.upsert([
            Alert(BJ, 0.9, Tier.SUSPEND, r, datetime(2026, 3, 5), NOW),
            Alert(CU, 0.6, Tier.VERIFY, r, datetime(2026, 2, 28, 16), NOW),  # 1 Mar CST
            Alert(FOREIGN, 0.6, Tier.VERIFY, r, datetime(2026, 2, 28, 15), NOW),  # 28 Feb
            Alert(JS3, 0.5, Tier.WATCH, r, datetime(2025, 3, 3), NOW),  # a year before
        ])
        cases = tx.cases.add([
            Case(BJ, CaseStatus.VERIFYING, "suspend", NOW, NOW, deadline=datetime(2026, 3, 20)),
            Case(CU, CaseStatus.SUSPENDED, "verify", NOW, NOW),
            Case(JS3, CaseStatus.RESTRICTED, "watch", NOW, NOW, deadline=datetime(2027, 1, 1)),
        ])
        a, b, c = (x.id or 0 for x in cases)
        tx.actions.add([
            _act(a, ActionKind.VERIFY, datetime(2026, 3, 5, 1)),
            _act(b, ActionKind.RESTRICT, datetime(2026, 3, 1)),
            _act(b, ActionKind.SUSPEND, datetime(2026, 3, 3), ESCALATION_REASON),  # SLA breach
            _act(b, ActionKind.RELEASE, datetime(2026, 2, 28, 15)),  # February in China
            _act(c, ActionKind.RESTRICT, datetime(2025, 3, 4)),
        ])
        tx.appeals.add(Appeal(b, "mine", (), datetime(2026, 3, 4), "t"))
        tx.appeals.add(Appeal(b, "old", (), datetime(2025, 3, 4), "t"))


CALLS = [  # (store time, caller, callee, ingress, outcome)
    (datetime(2026, 3, 2), BJ, JS, "radio", "reject"),  # known bad (alerted), intercepted
    (datetime(2026, 3, 2, 1), BJ, JS, "radio", "allow"),  # ... missed
    (datetime(2026, 3, 3), CU, JS, "interconnect", "warn_callee"),
    (datetime(2026, 3, 4), FOREIGN, JS, "international", "reject"),
    (datetime(2026, 3, 6), JS2, JS, "radio", "reject"),  # not known bad: a legit call blocked
    (datetime(2026, 3, 7), JS, JS2, "radio", "allow"),
    (datetime(2026, 3, 8), JS, JS2, "interconnect", "reject"),  # spoofed own number
    (datetime(2026, 2, 28, 15), BJ, JS, "radio", "reject"),  # February in China
    (datetime(2025, 3, 6), JS2, JS, "radio", "allow"),  # a year before
]


def _log(folder: Path) -> None:
    log = JsonLinesDecisionLog(folder, node="n1-")
    for i, (at, a, b, ingress, outcome) in enumerate(CALLS):
        log.append(DecisionRecord(f"n1-{i:x}", feed_epoch(store_to_feed(at)), a, b, ingress,
                                  outcome, (), "v1"))
    log.close()


def _same(f: PeriodFigures) -> dict[str, Any]:
    d = f.as_dict()
    del d["start"], d["end"]
    return d


def test_overview_report_and_replay_agree(store: SqlStore, plan: pa.Table, tmp_path: Path
                                          ) -> None:
    _fill(store)
    _log(tmp_path / "decisions")
    clock = FixedClock(NOW)
    figures = Figures(store, clock, calls=decision_calls(tmp_path / "decisions"),
                      plan=lambda: ibis.memtable(plan), province="Jiangsu")

    ov = OverviewService(store, clock, figures).overview()
    report = police_report.monthly(store, clock, FeedReader(tmp_path / "lake"), "2026-03",
                                   actor="t", figures=figures)
    body = json.loads(report.package)["figures"]
    del body["start"], body["end"]

    # The replay hands its screened calls over as arrays, labelled (here by what the store
    # knows, as the platform labels them: the replay's own label is truth).
    march = [c for c in CALLS if datetime(2026, 2, 28, 16) <= c[0] < NOW]
    calls = pd.DataFrame({"caller": [c[1] for c in march], "callee": [c[2] for c in march],
                          "ingress": [c[3] for c in march],
                          "is_fraud": [c[1] in (BJ, CU, FOREIGN, JS3) for c in march]})
    at = np.array([feed_epoch(store_to_feed(c[0])) for c in march], dtype=np.int64)
    ranks = {"allow": 0, "label": 1, "warn_callee": 2, "reject": 3}
    outcome = np.array([ranks[c[4]] for c in march], dtype=np.int8)
    judged = np.ones(len(march), dtype=bool)
    replay = period_figures(store, clock, calls, at, outcome, judged, plan, province="Jiangsu",
                            start=datetime(2026, 3, 1), end=datetime(2026, 4, 1))

    assert _same(ov.month) == body == _same(replay)
    m = ov.month
    assert (m.warned, m.by_tier) == (2, {"suspend": 1, "verify": 1})
    assert (m.disposed, m.released, m.appeals) == (3, 0, {"pending": 1})
    assert m.sla_breaches == 2  # one escalated on 3 March, one past its deadline now
    by = {r.route: r for r in m.routes}
    assert by["inter_province"].screened == 2 and by["inter_province"].intercepted == 1
    assert by["inter_province"].fraud_calls == 2 and by["inter_province"].legit_blocked == 0
    assert (by["inter_network"].screened, by["inter_network"].warned) == (2, 1)
    assert by["international"].intercepted == 1
    assert by["local"].legit_blocked == 1 and by["local"].screened == 2
    # inter_network: CU's call (warned) and JS's spoofed call, rejected but JS is not bad
    assert by["inter_network"].legit_blocked == 1

    # The replay's printed route table counts the same calls the same way.
    routes = route_classes(calls["caller"], calls["callee"], calls["ingress"], plan,
                           ibis.duckdb.connect())
    judged_rows = judge(routes, calls["is_fraud"].to_numpy(), np.arange(len(march)), at,
                        outcome)
    for r in judged_rows:
        f = {x.route: x for x in replay.routes}[r.route]
        assert (r.fraud_calls, r.intercepted, r.warned, r.legit_calls, r.legit_blocked) == (
            f.fraud_calls, f.intercepted, f.warned, f.legit_calls, f.legit_blocked)

    # Year on year: March 2025 up to the same moment.
    assert ov.last_year is not None
    assert (ov.last_year.warned, ov.last_year.disposed, ov.last_year.screened) == (1, 1, 1)
    assert ov.last_year.appeals == {"pending": 1}


def test_period_without_history_has_no_data(store: SqlStore) -> None:
    f = Figures(store, FixedClock(NOW)).period(datetime(2020, 1, 1), datetime(2020, 2, 1))
    assert not f.has_data and f.routes == () and f.sla_breaches == 0
    ov = OverviewService(store, FixedClock(NOW)).overview()
    assert ov.last_year is None


def test_report_export_and_verify(store: SqlStore, plan: pa.Table, tmp_path: Path) -> None:
    _fill(store)
    _log(tmp_path / "decisions")
    clock = FixedClock(NOW)
    figures = Figures(store, clock, calls=decision_calls(tmp_path / "decisions"),
                      plan=lambda: ibis.memtable(plan))
    r = police_report.monthly(store, clock, FeedReader(tmp_path / "lake"), "2026-03", actor="t",
                              figures=figures)
    out = tmp_path / "out"
    sums = police_report.export(store, clock, r, out, actor="t")
    assert set(sums) == {"SHA256SUMS", "police-report-2026-03.json",
                         "police-report-2026-03-routes.csv"}
    assert (out / "police-report-2026-03.json").read_text() == r.package
    assert police_report.verify_export(store, out).ok
    with store.transaction(write=False) as tx:
        events = tx.audit.read(subject="police_report:2026-03")
    assert {e.event.detail.get("file") for e in events if e.event.action == "police.report.file"
            } == set(sums)

    csv_file = out / "police-report-2026-03-routes.csv"
    csv_file.write_text(csv_file.read_text().replace("local,2", "local,3"))
    check = police_report.verify_export(store, out)
    assert not check.ok and check.files[csv_file.name].startswith("altered")

    # Rewriting the manifest to match does not help: the audit trail kept the hashes.
    import hashlib
    lines = [f"{hashlib.sha256((out / n).read_bytes()).hexdigest()}  {n}"
             for n in sorted(sums) if n != "SHA256SUMS"]
    (out / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    check = police_report.verify_export(store, out)
    assert not check.ok and check.files[csv_file.name].startswith("not as exported")
    assert check.files["police-report-2026-03.json"] == "ok"

    # A new export is what counts from then on.
    police_report.export(store, clock, r, out, actor="t")
    assert police_report.verify_export(store, out).ok
    (out / "police-report-2026-03.json").unlink()
    assert police_report.verify_export(store, out).files["police-report-2026-03.json"] == \
        "missing"


def test_screened_calls_are_kept_while_fresh_and_the_files_unchanged(
        store: SqlStore, plan: pa.Table, tmp_path: Path) -> None:
    _log(tmp_path / "decisions")
    source = decision_calls(tmp_path / "decisions")
    reads: list[datetime] = []
    version = ["v1"]

    def counted(start: datetime, end: datetime) -> ibis.Table:
        reads.append(start)
        return source(start, end)

    f = Figures(store, FixedClock(NOW), calls=counted, plan=lambda: ibis.memtable(plan),
                max_age_s=60, version=lambda: version[0])
    march = (datetime(2026, 2, 28, 16), NOW)
    first = f.periods([march, (datetime(2025, 2, 28, 16), datetime(2025, 3, 20, 4))])
    assert len(reads) == 1  # both periods from one read
    again = f.periods([march, (datetime(2025, 2, 28, 16), datetime(2025, 3, 20, 4))])
    assert len(reads) == 1 and again[0].routes == first[0].routes  # kept
    f.period(*march)  # other starts: read
    assert len(reads) == 2
    version[0] = "v2"  # a rotation: a new file
    f.period(*march)
    assert len(reads) == 3


def test_past_their_age_the_kept_figures_are_served_while_read_anew(
        store: SqlStore, plan: pa.Table, tmp_path: Path) -> None:
    _fill(store)
    _log(tmp_path / "decisions")
    source = decision_calls(tmp_path / "decisions")
    reads: list[datetime] = []

    def counted(start: datetime, end: datetime) -> ibis.Table:
        reads.append(start)
        return source(start, end)

    f = Figures(store, FixedClock(NOW), calls=counted, plan=lambda: ibis.memtable(plan),
                max_age_s=1e-9, background=True)
    march = (datetime(2026, 2, 28, 16), NOW)
    first = f.period(*march)  # nothing kept yet: read here
    assert len(reads) == 1 and f.refresher is None
    second = f.period(*march)  # past its age: served as kept, read in the background
    assert second.routes == first.routes
    assert f.refresher is not None
    f.refresher.join(timeout=60)
    assert len(reads) == 2


# --- closed decision-log files counted once -----------------------------------------------

def _rotated_log(folder: Path, calls: list[tuple[datetime, str, str, str, str]]) -> None:
    """``calls`` over several rotated files (about 25 records a file) and an open last one."""
    log = JsonLinesDecisionLog(folder, node="n2-", max_bytes=4000, buffer_records=1)
    for i, (at, a, b, ingress, outcome) in enumerate(calls):
        log.append(DecisionRecord(f"n2-{i:x}", feed_epoch(store_to_feed(at)), a, b, ingress,
                                  outcome, (), "v1"))
    log.close()


def test_figures_from_counted_files_equal_those_from_the_calls(
        store: SqlStore, plan: pa.Table, tmp_path: Path) -> None:
    _fill(store)
    numbers = [BJ, CU, FOREIGN, JS, JS2, JS3]
    ingress = ["radio", "interconnect", "international"]
    outcomes = ["allow", "label", "warn_callee", "reject"]
    calls = [(datetime(2026, 3, 1) + timedelta(minutes=37 * i), numbers[i % 6],
              numbers[(i * 5 + 1) % 6], ingress[i % 3], outcomes[(i * 7) % 4])
             for i in range(120)]  # 1 to 4 March, a call every 37 minutes
    # and calls every 4 minutes from two callers, so a file's hour holds groups of several
    # calls, cut by a boundary inside the hour
    calls += [(datetime(2026, 3, 1, 1) + timedelta(minutes=4 * i), numbers[i % 2], JS, "radio",
               outcomes[(i // 8) % 4]) for i in range(60)]
    calls.sort()
    calls += [(c[0] - timedelta(days=365), *c[1:]) for c in calls[:20]]  # a year before
    folder = tmp_path / "decisions"
    _rotated_log(folder, calls)
    files = sorted(folder.glob("decisions-*.jsonl"))
    assert len(files) > 5
    assert len(closed_files([str(f) for f in files])) == len(files) - 1  # the newest is open

    clock = FixedClock(datetime(2026, 3, 3, 10, 30))

    def key() -> ibis.Table:
        return ibis.memtable(plan)

    raw = Figures(store, clock, calls=decision_calls(folder), plan=key)
    reads: list[str] = []
    split = decision_split(folder)

    def counting(start: datetime, end: datetime, count: Any, k: str) -> Any:
        def counted(t: ibis.Table) -> pa.Table:
            reads.append("count")
            return count(t)

        def raw_read(p: CountedPart) -> CountedPart:
            def calls() -> ibis.Table:
                reads.append("calls")
                return p.calls()
            return CountedPart(p.counted, calls)

        parts, rest = split(start, end, counted, k)
        return [raw_read(p) for p in parts], rest

    summed = Figures(store, clock, split=counting, plan=key)
    spans = [  # whole CST days and months, hours cut inside a file, a moment, a year before
        (datetime(2026, 2, 28, 16), datetime(2026, 3, 31, 16)),
        (datetime(2026, 3, 1, 16), datetime(2026, 3, 2, 16)),
        (datetime(2026, 3, 1, 2, 10), datetime(2026, 3, 2, 7, 45)),
        (datetime(2026, 3, 2, 16), datetime(2026, 3, 3, 10, 30, 0, 1)),
        (datetime(2025, 2, 28, 16), datetime(2025, 3, 1, 5, 20)),
    ]
    want = raw.periods(spans)
    got = summed.periods(spans)
    assert [_same(f) for f in got] == [_same(f) for f in want]
    assert want[0].screened == 180
    # the closed files counted once, in one query; the files a boundary cuts a group of
    # read as calls
    assert reads.count("count") == 1
    assert 0 < reads.count("calls") < len(files) / 3
    summaries = sorted(folder.glob("*.routes.parquet"))
    assert len(summaries) == len(files) - 1
    # Read again (a new process: nothing in memory): from the summaries, nothing counted.
    again = Figures(store, clock, split=decision_split(folder), plan=key).periods(spans)
    assert [_same(f) for f in again] == [_same(f) for f in want]
    reads.clear()
    Figures(store, clock, split=counting, plan=key).periods(spans)
    assert "count" not in reads

    # A changed file is counted again (its summary no longer matches); a summary written
    # with another plan is not used.
    first = files[0]
    with first.open("ab") as f:
        f.write(json.dumps({"id": "n2-ff", "at": feed_epoch(store_to_feed(
            datetime(2026, 3, 1, 23))), "caller": BJ, "callee": JS, "ingress": "radio",
            "outcome": "reject", "reasons": [], "snapshot": "v1"}).encode() + b"\n")
    reads.clear()
    changed = Figures(store, clock, split=counting, plan=key).periods(spans)
    assert reads.count("count") == 1
    assert [_same(f) for f in changed] == [_same(f) for f in raw.periods(spans)]
    assert changed[0].screened == 181
    other = Figures(store, clock, split=counting, plan=key, province="Beijing")
    reads.clear()
    assert [_same(f) for f in other.periods(spans)] == [
        _same(f) for f in Figures(store, clock, calls=decision_calls(folder), plan=key,
                                  province="Beijing").periods(spans)]
    assert reads.count("count") == 1


def test_after_a_new_file_the_kept_figures_are_served_while_read_anew(
        store: SqlStore, plan: pa.Table, tmp_path: Path) -> None:
    _log(tmp_path / "decisions")
    source = decision_calls(tmp_path / "decisions")
    reads: list[datetime] = []
    version = ["v1"]

    def counted(start: datetime, end: datetime) -> ibis.Table:
        reads.append(start)
        return source(start, end)

    f = Figures(store, FixedClock(NOW), calls=counted, plan=lambda: ibis.memtable(plan),
                max_age_s=3600, version=lambda: version[0], background=True)
    march = (datetime(2026, 2, 28, 16), NOW)
    first = f.period(*march)
    assert len(reads) == 1 and f.refresher is None
    version[0] = "v2"  # a rotation: served as kept, read in the background
    assert f.period(*march).routes == first.routes
    assert f.refresher is not None
    f.refresher.join(timeout=60)
    assert len(reads) == 2
    f.period(*march)  # kept under the new version, fresh
    assert len(reads) == 2
    f.period(datetime(2026, 3, 19, 16), NOW)  # new period starts (a new day): read here
    assert len(reads) == 3


def test_the_open_file_is_read_incrementally(
        store: SqlStore, plan: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An open log file's new lines are parsed at each read, the lines read before kept: the
    figures equal those of the whole file read as calls after each append, a line still being
    written waits for its newline, and a file replaced by a shorter one is read afresh."""
    from telshield.wiring import figures as wiring

    _fill(store)
    folder = tmp_path / "decisions"
    folder.mkdir()
    open_file = folder / "decisions-20260301T000000-n3-.jsonl"
    parsed: list[int] = []
    real = wiring._parse_lines

    def parse(data: bytes) -> pa.Table:
        parsed.append(data.count(b"\n"))
        return real(data)

    monkeypatch.setattr(wiring, "_parse_lines", parse)

    def line(i: int) -> bytes:
        at = datetime(2026, 3, 1) + timedelta(minutes=13 * i)
        return json.dumps({"id": f"n3-{i:x}", "at": feed_epoch(store_to_feed(at)),
                           "caller": [BJ, CU, JS3][i % 3], "callee": JS,
                           "ingress": ["radio", "interconnect"][i % 2],
                           "outcome": ["reject", "allow", "label"][i % 3], "reasons": [],
                           "snapshot": "v1"}).encode() + b"\n"

    clock = FixedClock(datetime(2026, 3, 3))
    spans = [(datetime(2026, 2, 28, 16), datetime(2026, 3, 31, 16)),
             (datetime(2026, 3, 1, 2, 10), datetime(2026, 3, 1, 7, 45))]
    split = decision_split(folder)

    def check(expect: int) -> None:
        def key() -> ibis.Table:
            return ibis.memtable(plan)

        got = Figures(store, clock, split=split, plan=key).periods(spans)
        want = Figures(store, clock, calls=decision_calls(folder), plan=key).periods(spans)
        assert [_same(f) for f in got] == [_same(f) for f in want]
        assert got[0].screened == expect

    open_file.write_bytes(b"".join(line(i) for i in range(40)))
    check(40)
    assert parsed == [40]
    with open_file.open("ab") as f:
        f.write(b"".join(line(i) for i in range(40, 55)) + line(55)[:20])  # 55 half-written
    check(55)
    assert parsed == [40, 15]  # only the appended lines; the half line waits
    with open_file.open("ab") as f:
        f.write(line(55)[20:])
    check(56)
    assert parsed == [40, 15, 1]
    check(56)
    assert parsed == [40, 15, 1]  # nothing new, nothing parsed
    tmp = folder / "replacement"
    tmp.write_bytes(b"".join(line(i) for i in range(10)))
    tmp.replace(open_file)  # a new file under the same name
    check(10)
    assert parsed == [40, 15, 1, 10]


def test_a_ported_number_is_on_the_route_of_the_carrier_serving_it(
        plan: pa.Table, tmp_path: Path) -> None:
    """A China Mobile Jiangsu number ported to China Telecom is another network's: a call to
    it is inter-network, in the replay's route classes and in the live figures' (the lake's
    ported feed, read again when its files change)."""
    from tests.services.feeds import write_feed

    from telshield.wiring.figures import ported_numbers

    caller, callee = pd.Series(["8613812345678"]), pd.Series(["8613912345678"])
    ingress = pd.Series(["radio"])
    plain = route_classes(caller, callee, ingress, plan, ibis.duckdb.connect())
    assert plain[0] in ("local", "inter_province")
    port = {"msisdn": "8613912345678", "carrier": "china_telecom",
            "ported_at": datetime(2024, 5, 17, 10, 2, 44)}
    ported = pa.table({"msisdn": [port["msisdn"]], "carrier": [port["carrier"]],
                       "ported_at": pa.array([port["ported_at"]], pa.timestamp("us"))})
    got = route_classes(caller, callee, ingress, plan, ibis.duckdb.connect(), ported=ported)
    assert got.tolist() == ["inter_network"]

    live = ported_numbers(tmp_path / "lake")
    assert live() is None  # no ported feed yet
    write_feed(tmp_path / "lake", "ported", [port])
    table = live()
    assert table is not None
    assert table.to_pyarrow().to_pylist() == [{"msisdn": "8613912345678",
                                               "carrier": "china_telecom"}]
