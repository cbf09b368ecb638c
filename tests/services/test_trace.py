"""Trace on a hand-built lake (the gang lake plus calls of a small SIM-box den), on SQLite and
PostgreSQL: a gang card's ID-mates rank first, a den SIM's concurrent ports (same cell, same
hours) and its successor in the same port (same IMEI) are linked above a passer-by, two callers
with the same victims are linked, depth 2 reaches the successor of a port, every trace is
audited; the CLI writes JSON and GraphML that igraph reads."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import igraph as ig
import pytest
from tests.services.ganglake import Lake
from typer.testing import CliRunner

from telshield.domain.errors import InvalidInput
from telshield.services.store import FixedClock
from telshield.settings import Settings
from telshield.store.sql import SqlStore
from telshield.wiring.trace import tracer

D0 = datetime(2026, 10, 20, 8, 0)
PORTS = [f"861870000000{i}" for i in range(4)]
NEXT = "8618700000010"  # the SIM swapped into port 0 on day 3
PASSER = "8613600000001"
TWINS = ("8615500000001", "8615500000002")  # two callers working one victim list


def _calls() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def call(at: datetime, caller: str, callee: str, cell: str, imei: str) -> None:
        rows.append({"call_id": f"C{len(rows)}", "started_at": at, "duration_s": 30,
                     "caller": caller, "callee": callee, "ingress": "radio",
                     "caller_cell": cell, "caller_imei": imei})

    for day in range(3):
        for hour in range(8):
            at = D0 + timedelta(days=day, hours=hour)
            for p, sim in enumerate(PORTS):
                call(at, sim, f"86131{day:02d}{hour:02d}{p:04d}", "CELL-DEN", f"8600000000000{p}")
    for hour in range(8):
        call(D0 + timedelta(days=3, hours=hour), NEXT, f"86132{hour:08d}", "CELL-DEN",
             "86000000000000")
    call(D0 + timedelta(hours=2), PASSER, "8613100009999", "CELL-DEN", "86999999999999")
    call(D0 + timedelta(days=5), PASSER, "8613100009998", "CELL-HOME", "86999999999999")
    for k, twin in enumerate(TWINS):
        for v in range(6):
            call(D0 + timedelta(days=4, minutes=10 * v + k), twin, f"86133000000{v:02d}",
                 f"CELL-T{k}", f"8677777777777{k}")
    return rows


def test_a_gang_card_ranks_its_id_mates_first(
        store: SqlStore, clock: FixedClock, trace_lake: tuple[Path, Lake], tmp_path: Path
) -> None:
    root, lk = trace_lake
    t = tracer(Settings(data_dir=tmp_path), store, clock=clock, lake=root).trace(
        lk.gang_a[0], actor="ann", depth=1)
    assert t.registration["staff_id"] == "ST-A-01"
    mates = set(lk.gang_a[:3]) - {lk.gang_a[0]}  # the same opener's other cards
    assert {x.msisdn for x in t.links[:2]} == mates
    assert all("id" in {e.kind for e in x.evidence} for x in t.links[:2])
    assert all(0 < x.strength <= 1 for x in t.links)
    assert [x.strength for x in t.links] == sorted((x.strength for x in t.links), reverse=True)
    deep = tracer(Settings(data_dir=tmp_path), store, clock=clock, lake=root).trace(
        lk.gang_a[0], actor="ann", depth=2)
    top = {x.msisdn for x in deep.links[:11]}  # the gang's other cards, by ID and staff bursts
    assert set(lk.gang_a) - {lk.gang_a[0]} == top


def test_a_den_sim_links_its_ports_successor_above_a_passer_by(
        store: SqlStore, clock: FixedClock, trace_lake: tuple[Path, Lake], tmp_path: Path) -> None:
    root, _ = trace_lake
    svc = tracer(Settings(data_dir=tmp_path), store, clock=clock, lake=root)
    t = svc.trace(PORTS[1], actor="ann", depth=1)
    got = {x.msisdn: x for x in t.links}
    assert set(PORTS) - {PORTS[1]} <= got.keys()
    assert NEXT not in got  # neither its cell-hours nor its IMEI are port 1's
    assert got[PASSER].strength < min(got[p].strength for p in PORTS if p != PORTS[1])
    assert {e.kind for e in got[PORTS[0]].evidence} == {"colocated"}
    deep = {x.msisdn: x for x in svc.trace(PORTS[1], actor="ann", depth=2).links}
    assert NEXT in deep and deep[NEXT].evidence[0].via == PORTS[0]
    direct = {x.msisdn: x for x in svc.trace(PORTS[0], actor="ann", depth=1).links}
    assert "imei" in {e.kind for e in direct[NEXT].evidence}


def test_callers_sharing_victims_are_linked(store: SqlStore, clock: FixedClock,
                                            trace_lake: tuple[Path, Lake], tmp_path: Path) -> None:
    root, _ = trace_lake
    t = tracer(Settings(data_dir=tmp_path), store, clock=clock, lake=root).trace(
        TWINS[0], actor="ann", depth=1)
    twin = next(x for x in t.links if x.msisdn == TWINS[1])
    assert [e.kind for e in twin.evidence] == ["victims"] and twin.strength > 0.8


def test_every_trace_is_audited_and_bad_input_refused(
        store: SqlStore, clock: FixedClock, trace_lake: tuple[Path, Lake], tmp_path: Path) -> None:
    root, lk = trace_lake
    svc = tracer(Settings(data_dir=tmp_path), store, clock=clock, lake=root)
    svc.trace(lk.gang_b[0], actor="bob", depth=2)
    with store.transaction(write=False) as tx:
        ev = [e for e in tx.audit.read() if e.event.action == "trace"]
    assert [(e.event.actor, e.event.subject) for e in ev] == [("bob", f"msisdn:{lk.gang_b[0]}")]
    with pytest.raises(InvalidInput, match="depth"):
        svc.trace(lk.gang_b[0], actor="bob", depth=3)
    with pytest.raises(InvalidInput):
        svc.trace("+86 138", actor="bob")


def test_cli_writes_json_and_graphml(trace_lake: tuple[Path, Lake], tmp_path: Path) -> None:
    from telshield.cli import _register, app

    root, lk = trace_lake
    data = tmp_path / "data"
    _register()
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--data-dir", str(data)]).exit_code == 0
    base = ["trace", lk.gang_a[0], "--lake", str(root), "--data-dir", str(data), "--depth", "1"]
    r = runner.invoke(app, [*base, "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["number"] == lk.gang_a[0] and doc["links"][0]["msisdn"] in lk.gang_a
    out = tmp_path / "t.graphml"
    r = runner.invoke(app, [*base, "--format", "graphml", "--out", str(out)])
    assert r.exit_code == 0, r.output
    g = ig.Graph.Read_GraphML(str(out))
    assert g.vs["name"][0] == lk.gang_a[0] and g.ecount() == len(doc["links"])
    assert all(0 < s <= 1 for s in g.es["strength"])
    r = runner.invoke(app, [*base, "--engine", "duckdb", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.output) == doc  # the engine named: the same
    r = runner.invoke(app, [*base, "--engine", "postgres"])
    assert isinstance(r.exception, InvalidInput) and "use one of duckdb, spark" in str(r.exception)
