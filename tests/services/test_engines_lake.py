"""The den finder's and the hotspot scan's lake queries, and the gang finder's link table,
give the same results on Spark as on DuckDB, on the small hand-built lakes of their own tests
(``denlake``, with a relay phone added, ``hotspotlake`` and ``ganglake``).

One Spark session (local[2], two shuffle partitions, no UI) serves the module. Each query's
frame is sorted by all its columns and compared exactly (integers by value: an engine may
return a count as 32 or 64 bits); then the dens and hotspots the services make of them are
compared whole.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from tests.services import denlake, ganglake, hotspotlake
from tests.services.sparklocal import CONF

from telshield.detect.dens import port_hours, ports, relays
from telshield.detect.hotspots import activity, regions, suspect_numbers
from telshield.reference.numbering import load_plan_table, plan_path
from telshield.services.store import FixedClock
from telshield.settings import DenSettings, HotspotSettings, Settings
from telshield.store.sql import open_store
from telshield.wiring.dens import dens, load_profile
from telshield.wiring.engine import engine
from telshield.wiring.gangs import gangs
from telshield.wiring.hotspots import hotspots, scan_params

ENGINES = ("duckdb", "spark")
RELAY = "8613600000009"  # a phone on the den's cell taking calls from abroad, placing none


@dataclass(frozen=True)
class Lakes:
    settings: Settings
    dens: Path
    hotspots: Path
    gangs: Path
    plan: pa.Table


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> Lakes:
    root = tmp_path_factory.mktemp("lakes")
    data = root / "data"
    lk = denlake.build()
    for k in range(4):  # the audio-cable form's relay, so that ``relays`` finds one
        lk.calls.append({"call_id": f"R{k}", "started_at": denlake.T0 + timedelta(hours=10 + k),
                         "duration_s": 90, "caller": f"4420700900{k:02d}", "callee": RELAY,
                         "ingress": "international", "caller_cell": None, "caller_imei": None,
                         "callee_cell": "C-DEN"})
    denlake.write(root / "dens", lk)
    hotspotlake.write(root / "hotspots")
    ganglake.write(root / "gangs")
    plan = load_plan_table(data)
    settings = Settings(data_dir=data, engine={"spark_master": "local[2]", "spark_conf": CONF},
                        dens=DenSettings(lookback_hours=24 * 5),
                        hotspots=HotspotSettings(replicates=199))
    assert plan_path(data).exists()  # where the hotspot service reads it
    return Lakes(settings, root / "dens", root / "hotspots", root / "gangs", plan)


@pytest.fixture(scope="module")
def spark(lakes: Lakes) -> Iterator[Any]:
    """The module's one Spark session, built from the settings as the CLI builds it."""
    pytest.importorskip("pyspark.sql")
    from telshield.wiring.engine import spark_session

    session = spark_session(lakes.settings.engine)
    yield session
    session.stop()


def _sorted(t: Any) -> pd.DataFrame:
    df: pd.DataFrame = t.to_pandas()
    return df.sort_values(list(df.columns)).reset_index(drop=True)


def _differ(duck: pd.DataFrame, spark: pd.DataFrame) -> dict[str, str]:
    """Columns that differ (integers compared by value, everything else exactly)."""
    assert list(spark.columns) == list(duck.columns)
    assert len(spark) == len(duck), (len(duck), len(spark))
    out = {}
    for c in duck.columns:
        d, s = duck[c], spark[c]
        if d.dtype.kind in "iub" or s.dtype.kind in "iub":
            d, s = d.astype("float64"), s.astype("float64")
        try:
            pd.testing.assert_series_equal(d, s, check_exact=True, check_dtype=False, obj=c)
        except AssertionError as e:
            out[c] = str(e).splitlines()[0]
    return out


def _den_frames(lakes: Lakes, name: str) -> dict[str, pd.DataFrame]:
    p = load_profile(None)
    r = engine(lakes.settings, name).reader(lakes.dens)
    assert r.con.name == ("pyspark" if name == "spark" else "duckdb")
    until = denlake.T0 + timedelta(days=denlake.DAYS)
    since = until - timedelta(hours=lakes.settings.dens.lookback_hours)
    calls = r.table("calls", since, until)
    e = ports(calls, r.table("device_intel"), since=since, until=until,
              min_callees=p.min_callees, max_inbound_share=p.max_inbound_share,
              subscribers=r.table("subscribers"), max_sim_age_days=p.max_sim_age_days)
    return {"ports": _sorted(e),
            "port_hours": _sorted(port_hours(calls, e.select("msisdn").distinct(), since=since,
                                             until=until)),
            "relays": _sorted(relays(calls, since=since, until=until,
                                     min_calls=p.min_relay_calls))}


@pytest.mark.spark
def test_den_finder_is_identical_on_spark(lakes: Lakes, spark: Any, tmp_path: Path) -> None:
    frames = {name: _den_frames(lakes, name) for name in ENGINES}
    duck, on_spark = frames["duckdb"], frames["spark"]
    # Worth comparing only if each query found something: the den's ports (with their device
    # kind and SIM age), the hours they called in, the relay phone.
    assert set(duck["ports"].msisdn) >= set(denlake.build().den)
    assert duck["ports"].kind.eq("goip").any() and duck["ports"].sim_age_days.notna().any()
    assert len(duck["port_hours"]) > 0 and list(duck["relays"].msisdn) == [RELAY]
    differ = {f"{q}.{c}": d for q in duck for c, d in _differ(duck[q], on_spark[q]).items()}
    assert not differ, f"columns that differ between DuckDB and Spark: {differ}"
    # What the service makes of them: the same dens, stored alike.
    found = {}
    for name in ENGINES:
        store = open_store(f"sqlite:///{(tmp_path / f'{name}.db').as_posix()}")
        try:
            svc = dens(lakes.settings, store, clock=FixedClock(datetime(2026, 12, 1)),
                       lake=lakes.dens, with_cases=False, engine=name)
            r = svc.find(actor="ann", until=denlake.T0 + timedelta(days=denlake.DAYS))
            found[name] = (r.ports, [replace(svc.get(int(d.id or 0)), id=None) for d in r.dens])
        finally:
            store.dispose()
    assert len(found["duckdb"][1]) == 1 and found["duckdb"][1][0].kind == "goip"
    assert found["spark"] == found["duckdb"]


def _hotspot_frames(lakes: Lakes, name: str) -> dict[str, pd.DataFrame]:
    p = scan_params(lakes.settings)
    r = engine(lakes.settings, name).reader(lakes.hotspots)
    until = hotspotlake.UNTIL
    since = until - timedelta(hours=p.scan_hours) - timedelta(days=p.baseline_days)
    calls = r.table("calls", since - timedelta(days=1), until)
    cells = r.table("cells")
    sus = suspect_numbers(calls, r.memtable(lakes.plan), since=since, until=until,
                          province=p.province, rule=p.rule)
    return {"suspects": _sorted(sus),
            "activity": _sorted(activity(calls, cells, sus, since=since, until=until,
                                         bucket_hours=p.bucket_hours)),
            "regions": _sorted(regions(cells))}


@pytest.mark.spark
def test_hotspot_scan_is_identical_on_spark(lakes: Lakes, spark: Any, tmp_path: Path) -> None:
    frames = {name: _hotspot_frames(lakes, name) for name in ENGINES}
    duck, on_spark = frames["duckdb"], frames["spark"]
    assert len(duck["suspects"]) == 14  # the den's 8 and the stable county's 6
    assert len(duck["activity"]) > 0 and len(duck["regions"]) == 3
    differ = {f"{q}.{c}": d for q in duck for c, d in _differ(duck[q], on_spark[q]).items()}
    assert not differ, f"columns that differ between DuckDB and Spark: {differ}"
    found = {}
    for name in ENGINES:
        store = open_store(f"sqlite:///{(tmp_path / f'{name}.db').as_posix()}")
        try:
            svc = hotspots(lakes.settings, store, clock=FixedClock(datetime(2026, 12, 1)),
                           lake=lakes.hotspots, engine=name)
            r = svc.find(actor="ann", until=hotspotlake.UNTIL)
            found[name] = (r.suspects, r.regions,
                           [replace(svc.get(int(h.id or 0)), id=None) for h in r.hotspots])
        finally:
            store.dispose()
    assert [h.region for h in found["duckdb"][2]] == ["Nanjing/Liuhe"]
    assert found["spark"] == found["duckdb"]



@pytest.mark.spark
def test_gang_finder_is_identical_on_spark(lakes: Lakes, spark: Any, tmp_path: Path) -> None:
    found = {}
    for name in ENGINES:
        store = open_store(f"sqlite:///{(tmp_path / f'{name}.db').as_posix()}")
        try:
            svc = gangs(lakes.settings, store, clock=FixedClock(datetime(2026, 12, 1)),
                        lake=lakes.gangs, with_cases=False, engine=name)
            assert svc.reader.con.name == ("pyspark" if name == "spark" else "duckdb")
            r = svc.find(actor="ann")
            found[name] = (r.cards, r.links, r.communities,
                           sorted((replace(svc.get(int(g.id or 0)), id=None) for g in r.gangs),
                                  key=lambda g: g.msisdns))
        finally:
            store.dispose()
    assert len(found["duckdb"][3]) == 2  # gang A and gang B
    assert found["spark"][:3] == found["duckdb"][:3]
    differ = [(i, f.name, getattr(d, f.name), getattr(g, f.name))
              for i, (d, g) in enumerate(zip(found["duckdb"][3], found["spark"][3], strict=True))
              for f in fields(d) if getattr(d, f.name) != getattr(g, f.name)]
    assert not differ, f"gang fields that differ between DuckDB and Spark: {differ}"


@pytest.mark.spark
def test_trace_is_identical_on_spark(lakes: Lakes, spark: Any, tmp_path: Path) -> None:
    """The trace's evidence (registration, phones, cell-hours, MinHash victims: integer hash
    functions, the same on every engine) and the ranked traces, on the trace tests' lake."""
    from tests.services.feeds import write_feed
    from tests.services.test_trace import PORTS, TWINS, _calls

    from telshield.detect.trace import parts
    from telshield.wiring.trace import tracer

    root = tmp_path / "trace"
    lk = ganglake.write(root)
    write_feed(root, "calls", _calls())
    seeds = [PORTS[0], TWINS[0], lk.gang_a[0]]
    found, frames = {}, {}
    for name in ENGINES:
        store = open_store(f"sqlite:///{(tmp_path / f'trace-{name}.db').as_posix()}")
        try:
            svc = tracer(lakes.settings, store, clock=FixedClock(datetime(2026, 12, 1)),
                         lake=root, engine=name)
            assert svc.reader.con.name == ("pyspark" if name == "spark" else "duckdb")
            found[name] = svc.trace_many(seeds, actor="ann", depth=2)
            frames[name] = [_sorted(p) for p in parts(svc._tables(), seeds,
                                                      memtable=svc.reader.memtable)]
        finally:
            store.dispose()
    duck = frames["duckdb"]
    kinds = {k for f in duck for k in f.kind}
    assert {"id", "imei", "colocated", "victims"} <= kinds, kinds  # each kind of evidence
    differ = {f"{i}.{c}": d for i, f in enumerate(duck)
              for c, d in _differ(f, frames["spark"][i]).items()}
    assert not differ, f"columns that differ between DuckDB and Spark: {differ}"
    assert TWINS[1] in {x.msisdn for x in found["duckdb"][1].links[:3]}
    assert found["spark"][2].registration["staff_id"] == "ST-A-01"  # from the kept table
    assert found["spark"][0].registration == {}  # a den SIM the subscribers feed lacks
    assert found["spark"] == found["duckdb"]

    # A lake without one of the feeds (no orders): the empty feed is a table on the engine
    # (an unbound memtable fails Spark's analysis), and the traces still agree.
    shutil.rmtree(root / "orders")
    again = {}
    for name in ENGINES:
        store = open_store(f"sqlite:///{(tmp_path / f'trace-bare-{name}.db').as_posix()}")
        try:
            again[name] = tracer(lakes.settings, store, clock=FixedClock(datetime(2026, 12, 1)),
                                 lake=root, engine=name).trace_many(seeds, actor="ann", depth=2)
        finally:
            store.dispose()
    assert again["spark"] == again["duckdb"]
    assert TWINS[1] in {x.msisdn for x in again["duckdb"][1].links[:3]}
