"""The fast trace gives the same answers as the plain one: on the trace tests' toy lake the
evidence read from the kept seed-free tables (``detect.trace.basis`` + ``parts``) is row for row
the evidence of the single ``detect.trace.links`` expression; a batch (``trace_many``) gives
each number the trace it gets alone; and new lake files are seen (the kept tables rebuilt)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import ibis.expr.types as ir
from tests.services.feeds import write_feed
from tests.services.ganglake import Lake
from tests.services.test_trace import D0, NEXT, PORTS, TWINS

from telshield.detect.trace import links
from telshield.services.store import FixedClock
from telshield.settings import Settings
from telshield.store.sql import SqlStore
from telshield.wiring.trace import tracer


def _rows(t: ir.Table) -> list[tuple[str, str, str, str, float]]:
    return sorted((r["seed"], r["msisdn"], r["kind"], str(r["value"]),
                   round(float(r["strength"]), 9))
                  for r in t.to_pyarrow().to_pylist())


def test_kept_tables_give_the_evidence_of_the_single_expression(
        store: SqlStore, clock: FixedClock, trace_lake: tuple[Path, Lake],
        tmp_path: Path) -> None:
    root, lk = trace_lake
    svc = tracer(Settings(data_dir=tmp_path), store, clock=clock, lake=root)
    seeds = [lk.gang_a[0], lk.gang_b[0], PORTS[0], PORTS[1], TWINS[0], NEXT]
    r = svc.reader
    since, until = svc._window()
    want = _rows(links(r.table("subscribers"), r.table("orders"), r.table("calls"), seeds,
                       since=since, until=until))
    got = sorted((seed, m, e.kind, e.value, e.strength)
                 for seed, by in svc._links(seeds).items() for m, ev in by.items() for e in ev)
    assert {"id", "colocated", "imei", "victims"} <= {w[2] for w in want} and len(want) > 20
    assert got == [(s, m, k, v, round(x, 4)) for s, m, k, v, x in want]


def test_a_batch_gives_each_number_its_own_trace(
        store: SqlStore, clock: FixedClock, trace_lake: tuple[Path, Lake],
        tmp_path: Path) -> None:
    root, lk = trace_lake
    numbers = [lk.gang_a[0], PORTS[1], TWINS[0], lk.gang_b[0]]
    for depth in (1, 2):
        alone = [tracer(Settings(data_dir=tmp_path), store, clock=clock, lake=root).trace(
            n, actor="ann", depth=depth) for n in numbers]
        batch = tracer(Settings(data_dir=tmp_path), store, clock=clock, lake=root).trace_many(
            numbers, actor="ann", depth=depth)
        assert batch == alone
        assert all(t.links for t in batch)
    with store.transaction(write=False) as tx:
        subjects = [e.event.subject for e in tx.audit.read() if e.event.action == "trace"]
    assert subjects.count(f"msisdn:{PORTS[1]}") == 4  # each trace of a batch is audited


def test_new_lake_files_are_seen(store: SqlStore, clock: FixedClock,
                                 trace_lake: tuple[Path, Lake], tmp_path: Path) -> None:
    root, _ = trace_lake
    svc = tracer(Settings(data_dir=tmp_path), store, clock=clock, lake=root)
    late = "8618800000077"
    assert late not in {x.msisdn for x in svc.trace(PORTS[2], actor="ann", depth=1).links}
    write_feed(root, "calls", [{
        "call_id": f"L{h}", "started_at": D0 + timedelta(hours=h), "duration_s": 30,
        "caller": late, "callee": f"861390000000{h:02d}", "ingress": "radio",
        "caller_cell": "CELL-DEN", "caller_imei": "86000000000002"} for h in range(8)],
        name="late")
    got = {x.msisdn: x for x in svc.trace(PORTS[2], actor="ann", depth=1).links}
    assert {e.kind for e in got[late].evidence} == {"colocated", "imei"}


def test_traces_from_several_threads_at_once_equal_one_at_a_time(
        store: SqlStore, clock: FixedClock, trace_lake: tuple[Path, Lake],
        tmp_path: Path) -> None:
    """The HTTP face's threads share one service (one backend connection, one set of kept
    tables, built by whichever trace comes first): traces at once answer as traces in turn."""
    from concurrent.futures import ThreadPoolExecutor

    root, lk = trace_lake
    numbers = [lk.gang_a[0], PORTS[1], TWINS[0], lk.gang_b[0]] * 2
    alone = [tracer(Settings(data_dir=tmp_path), store, clock=clock, lake=root).trace(
        n, actor="ann", depth=2) for n in numbers]
    shared = tracer(Settings(data_dir=tmp_path), store, clock=clock, lake=root)
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda n: shared.trace(n, actor="ann", depth=2), numbers))
    assert together == alone
