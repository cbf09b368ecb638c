"""The trace's kept registration table and its throttled check of the lake's files: the
registration a trace shows, read from the kept table, is the old direct query's (the newest row
of a number registered twice, nothing for a number the lake does not hold); with
``files_max_age_s`` new lake files count once the last check is that old, not before, and with
0 on the next trace."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
from tests.services.feeds import write_feed
from tests.services.ganglake import Lake
from tests.services.test_trace import D0, PORTS

from telshield.services.lakeread import FeedReader
from telshield.services.store import FixedClock
from telshield.services.trace import TraceService
from telshield.store.sql import SqlStore

UNKNOWN = "8613999999999"


def _direct(subscribers: ir.Table, number: str) -> dict[str, str]:
    """The registration as the trace read it before the kept table: one filtered query."""
    s = subscribers
    got = s.filter(s.msisdn == number).order_by(s.registered_at.desc()).limit(1)
    rows = got.to_pyarrow().to_pylist()
    if not rows:
        return {}
    return {k: "" if v is None else str(v) for k, v in rows[0].items() if k != "imsi"}


def _again(lk: Lake, number: str, days: int, staff: str) -> dict[str, Any]:
    """``number``'s registration row again, ``days`` later at another staff ID."""
    row = next(r for r in lk.subs if r["msisdn"] == number)
    return {**row, "registered_at": row["registered_at"] + timedelta(days=days),
            "staff_id": staff, "imsi": "460009999999999"}


def _service(store: SqlStore, clock: FixedClock, root: Path, **kw: Any) -> TraceService:
    return TraceService(store, clock, FeedReader(root), **kw)


def test_the_kept_registration_is_the_direct_querys(
        store: SqlStore, clock: FixedClock, trace_lake: tuple[Path, Lake]) -> None:
    root, lk = trace_lake
    twice = lk.gang_a[0]
    write_feed(root, "subscribers", [_again(lk, twice, 40, "ST-LATER"),
                                     _again(lk, lk.gang_b[1], -40, "ST-EARLIER")], name="again")
    svc = _service(store, clock, root)
    subs = svc.reader.table("subscribers")
    numbers = [r["msisdn"] for r in lk.subs] + [UNKNOWN]
    want = {n: _direct(subs, n) for n in numbers}
    assert want[twice]["staff_id"] == "ST-LATER"  # the newer of its two rows
    assert want[lk.gang_b[1]]["staff_id"] != "ST-EARLIER"  # the older row added later
    assert want[UNKNOWN] == {}
    assert {n: svc._registration(n) for n in numbers} == want
    batch = svc._registration_of(numbers)
    assert UNKNOWN not in batch and batch == {n: r for n, r in want.items() if r}
    traced = svc.trace_many([twice, UNKNOWN], actor="ann", depth=1)
    assert [t.registration for t in traced] == [want[twice], {}]
    assert "imsi" not in traced[0].registration


def test_new_files_count_once_the_check_is_old_enough(
        store: SqlStore, clock: FixedClock, trace_lake: tuple[Path, Lake]) -> None:
    root, lk = trace_lake
    now = [100.0]
    svc = _service(store, clock, root, files_max_age_s=30, monotonic=lambda: now[0])
    late = "8618800000077"

    def linked() -> set[str]:
        return {x.msisdn for x in svc.trace(PORTS[2], actor="ann", depth=1).links}

    assert late not in linked()
    staff = svc.trace(lk.gang_a[0], actor="ann", depth=1).registration["staff_id"]
    write_feed(root, "calls", [{
        "call_id": f"L{h}", "started_at": D0 + timedelta(hours=h), "duration_s": 30,
        "caller": late, "callee": f"861390000000{h:02d}", "ingress": "radio",
        "caller_cell": "CELL-DEN", "caller_imei": "86000000000002"} for h in range(8)],
        name="late")
    write_feed(root, "subscribers", [_again(lk, lk.gang_a[0], 40, "ST-LATER")], name="again")
    now[0] += 29.0
    assert late not in linked()  # the files were listed 29 s ago: not again yet
    assert svc.trace(lk.gang_a[0], actor="ann", depth=1).registration["staff_id"] == staff
    now[0] += 1.0
    assert late in linked()
    assert svc.trace(lk.gang_a[0], actor="ann", depth=1).registration["staff_id"] == "ST-LATER"


def test_with_no_max_age_every_trace_sees_new_files(
        store: SqlStore, clock: FixedClock, trace_lake: tuple[Path, Lake]) -> None:
    root, lk = trace_lake
    svc = _service(store, clock, root, monotonic=lambda: 0.0)  # the clock never moves
    assert svc.trace(lk.gang_a[0], actor="ann", depth=1).registration["staff_id"] == "ST-A-01"
    write_feed(root, "subscribers", [_again(lk, lk.gang_a[0], 40, "ST-LATER")], name="again")
    assert svc.trace(lk.gang_a[0], actor="ann", depth=1).registration["staff_id"] == "ST-LATER"


def test_a_lake_without_subscribers_traces_to_nothing(
        store: SqlStore, clock: FixedClock, tmp_path: Path) -> None:
    t = _service(store, clock, tmp_path / "empty").trace(PORTS[0], actor="ann")
    assert t.registration == {} and t.links == ()
