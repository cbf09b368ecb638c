"""The trace's evidence and registration queries compiled to SQL once (DuckDB): for any seeds
and depth they give the traces of the expressions bound anew on every trace (the path Spark
takes), the SQL is compiled once per kept basis, and a new lake file rebuilds the kept tables,
compiles the queries again against them and drops the old ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import ibis.expr.types as ir
import pyarrow as pa
from tests.services.feeds import write_feed
from tests.services.ganglake import Lake
from tests.services.test_trace import D0, NEXT, PORTS, TWINS

from telshield.services.lakeread import FeedReader, Prepared
from telshield.services.store import FixedClock
from telshield.services.trace import TraceService
from telshield.store.sql import SqlStore

LATE = "8618800000077"


class Unprepared(FeedReader):
    """A DuckDB reader that compiles nothing ahead: every trace binds its seeds into the
    expressions and runs them, as on Spark."""

    def prepare(self, name: str, schema: pa.Schema,
                build: Callable[[ir.Table], list[ir.Table]]) -> Prepared | None:
        return None


def _temp_tables(svc: TraceService) -> set[str]:
    rows = svc.reader.con.con.sql(
        "SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    return {r[0] for r in rows}


def _late_calls(root: Path) -> None:
    """A new calls file: a SIM calling from the den's cell and one of its phones."""
    write_feed(root, "calls", [{
        "call_id": f"L{h}", "started_at": D0 + timedelta(hours=h), "duration_s": 30,
        "caller": LATE, "callee": f"861390000000{h:02d}", "ingress": "radio",
        "caller_cell": "CELL-DEN", "caller_imei": "86000000000002"} for h in range(8)],
        name="late")


def test_compiled_queries_give_the_expressions_traces(
        store: SqlStore, clock: FixedClock, trace_lake: tuple[Path, Lake]) -> None:
    root, lk = trace_lake
    fast = TraceService(store, clock, FeedReader(root))
    plain = TraceService(store, clock, Unprepared(root))
    batches = [[lk.gang_a[0]], [PORTS[0]], [TWINS[0], NEXT], [lk.gang_b[0], PORTS[1], TWINS[1]],
               ["8613999999999"]]
    for depth in (1, 2):
        for numbers in batches:
            got = fast.trace_many(numbers, actor="ann", depth=depth)
            assert got == plain.trace_many(numbers, actor="ann", depth=depth)
    card = fast.trace(lk.gang_a[0], actor="ann")
    assert card.links and card.registration["staff_id"] == "ST-A-01"
    assert plain._prepared["basis"][1] is None
    evidence, registration = fast._prepared["basis"][1], fast._prepared["registration"][1]
    assert evidence is not None and len(evidence.queries) == 1  # the kinds' UNION ALL
    assert registration is not None and len(registration.queries) == 1
    fast.trace(lk.gang_b[0], actor="ann")  # compiled once: the same SQL runs again
    assert fast._prepared["basis"][1] is evidence
    assert fast._prepared["registration"][1] is registration


def test_a_new_calls_file_compiles_the_queries_again(
        store: SqlStore, clock: FixedClock, trace_lake: tuple[Path, Lake]) -> None:
    root, _ = trace_lake
    fast = TraceService(store, clock, FeedReader(root))
    assert LATE not in {x.msisdn for x in fast.trace(PORTS[2], actor="ann").links}
    before = fast._prepared["basis"][1]
    registration = fast._prepared["registration"][1]
    assert before is not None and before.name in _temp_tables(fast)
    _late_calls(root)
    got = fast.trace(PORTS[2], actor="ann")
    assert {e.kind for x in got.links if x.msisdn == LATE for e in x.evidence} >= {
        "colocated", "imei"}
    after = fast._prepared["basis"][1]
    assert after is not None and after is not before
    assert before.name not in _temp_tables(fast) and after.name in _temp_tables(fast)
    assert fast._prepared["registration"][1] is registration  # subscribers unchanged
    plain = TraceService(store, clock, Unprepared(root))
    for depth in (1, 2):
        assert fast.trace(PORTS[2], actor="ann", depth=depth) == plain.trace(
            PORTS[2], actor="ann", depth=depth)


def test_kept_tables_are_stored_in_join_key_order(
        store: SqlStore, clock: FixedClock, trace_lake: tuple[Path, Lake]) -> None:
    """On DuckDB the tables a seed is looked up in are stored sorted on the join key, and only
    the LSH buckets holding two numbers or more are kept for the candidates."""
    root, _ = trace_lake
    fast = TraceService(store, clock, FeedReader(root))
    fast.trace(PORTS[0], actor="ann")
    b = fast._basis[1] if fast._basis is not None else None
    assert b is not None and b.slot_cells is not None and b.shared_buckets is not None
    assert b.sig is not None and b.buckets is not None
    con = fast.reader.con.con
    for t, key in ((b.slot_cells, ("cell", "hour")), (b.sig, ("msisdn", "i")),
                   (b.buckets, ("msisdn",)), (b.shared_buckets, ("band", "key"))):
        rows = con.execute(f"SELECT {', '.join(key)} FROM {t.get_name()}").fetchall()
        assert rows and rows == sorted(rows)
    bk = b.buckets.to_pyarrow().to_pylist()
    held: dict[tuple[int, str], int] = {}
    for r in bk:
        held[(r["band"], r["key"])] = held.get((r["band"], r["key"]), 0) + 1
    shared = b.shared_buckets.to_pyarrow().to_pylist()
    assert sorted(map(str, shared)) == sorted(
        str(r) for r in bk if held[(r["band"], r["key"])] >= 2)
    assert len(shared) < len(bk)
