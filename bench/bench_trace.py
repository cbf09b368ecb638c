"""Trace (溯源) speed: one trace and a batch of traces (a tick's police clues) against, in the
same run, the plain single-expression trace (``detect.trace.links``, one query per trace, as
before the seed-free tables were kept) and one hand-written DuckDB query that gathers the
direct same-ID, same-phone and same-cell-hour links of a number.

    python -m bench trace [--subscribers 20000] [--calls 200000] [--batch 10] [--work DIR]
                          [--engine duckdb|spark]
    python -m bench trace --data-dir D --number N [--repeat 20] [--files-max-age-s 5]

With ``--data-dir`` (an ingested data directory: its settings, lake and store) it times
instead a cold depth-2 trace of N and then the median, fastest and slowest of ``--repeat``
warm ones, with the lake's files checked at most every ``--files-max-age-s`` seconds (5: as
the HTTP face's trace service by default), and prints the number of links.

With ``--engine spark`` the trace steps also run on a local Spark session (``--master``,
default ``local[2]``; ``--shuffle-partitions``, default 4, as ``bench engines``: Spark's default
of 200 makes a small lake's queries thousands of tiny tasks), after the DuckDB ones and on the
same lake, each line marked ``spark``; the Spark session's start is timed apart.

The lake is the police benchmark's synthetic one (five numbers to an ID, calls over 30 days,
each caller with a few cells and IMEIs); the store an embedded SQLite one. Prints seconds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb

from bench.bench_police import _lake
from telshield.detect.trace import links
from telshield.services.store import FixedClock
from telshield.services.trace import TraceService
from telshield.settings import EngineSettings, Settings
from telshield.store.sql import open_store
from telshield.wiring.trace import tracer

HAND = """
with subs as (select * from read_parquet('{lake}/subscribers/*.parquet')),
calls as (select * from read_parquet('{lake}/calls/*.parquet')),
idm as (select b.msisdn, 'id' as kind, a.id_hash as value from subs a join subs b
        on a.id_hash = b.id_hash and a.msisdn = $1 and b.msisdn <> $1),
ph as (select distinct caller, caller_imei from calls where caller_imei is not null),
im as (select b.caller as msisdn, 'imei' as kind, a.caller_imei as value from ph a join ph b
       on a.caller_imei = b.caller_imei and a.caller = $1 and b.caller <> $1),
sl as (select distinct caller, caller_cell, date_trunc('hour', started_at) as h from calls
       where caller_cell is not null),
co as (select b.caller as msisdn, 'colocated' as kind, any_value(a.caller_cell) as value
       from sl a join sl b on a.caller_cell = b.caller_cell and a.h = b.h
       and a.caller = $1 and b.caller <> $1 group by b.caller)
select * from idm union all select * from im union all select * from co
"""


def _time(f: Callable[[], object]) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def existing(data_dir: Path, number: str, repeat: int, max_age: float) -> None:
    """Time a cold and ``repeat`` warm depth-2 traces of ``number`` over an ingested data
    directory, printing milliseconds."""
    from telshield.cli.common import existing_data
    from telshield.wiring import disposal

    settings = existing_data(None, data_dir)
    svc = tracer(settings, disposal(settings).store, files_max_age_s=max_age)
    cold = _time(lambda: svc.trace(number, actor="bench", depth=2))
    warm = [_time(lambda: svc.trace(number, actor="bench", depth=2)) for _ in range(repeat)]
    links = len(svc.trace(number, actor="bench", depth=2).links)
    print(f"trace {number[:5]}…: cold {cold * 1000:.0f} ms; warm depth 2 over {repeat}: "
          f"median {statistics.median(warm) * 1000:.1f} ms, fastest {min(warm) * 1000:.1f}, "
          f"slowest {max(warm) * 1000:.1f}; {links} links")


def main(argv: list[str]) -> None:
    """Build the lake, time each way, print seconds."""
    ap = argparse.ArgumentParser(prog="python -m bench trace")
    ap.add_argument("--subscribers", type=int, default=20_000)
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    ap.add_argument("--master", default="local[2]", help="Spark master (--engine spark)")
    ap.add_argument("--shuffle-partitions", default="4")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--number", default="")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--files-max-age-s", type=float, default=5.0)
    a = ap.parse_args(argv)
    if a.data_dir is not None:
        if not a.number:
            ap.error("--data-dir needs --number")
        existing(a.data_dir, a.number, a.repeat, a.files_max_age_s)
        return
    work = a.work or Path(tempfile.mkdtemp(prefix="bench-trace-"))
    lake = work / "lake"
    numbers = _lake(lake, a.subscribers, a.calls)
    store = open_store(f"sqlite:///{(work / 'store.db').as_posix()}")
    clock = FixedClock(datetime(2026, 3, 1, 9))

    settings = Settings(data_dir=work, engine=EngineSettings(
        spark_master=a.master, spark_conf={
            "spark.sql.shuffle.partitions": a.shuffle_partitions, "spark.ui.enabled": "false",
            "spark.driver.memory": "4g"}))

    def svc(engine: str = "duckdb") -> TraceService:
        return tracer(settings, store, clock=clock, lake=lake, engine=engine)

    one, batch = numbers[5], numbers[100:100 + a.batch]
    con = duckdb.connect()
    got: dict[str, float] = {}
    got["hand-written DuckDB query, direct id/imei/cell links of 1"] = _time(
        lambda: con.execute(HAND.format(lake=lake.as_posix()), [one]).fetchall())
    plain = svc()
    since, until = plain._window()
    r = plain.reader
    got["plain single expression, depth 1 (links of 1)"] = _time(lambda: links(
        r.table("subscribers"), r.table("orders"), r.table("calls"), [one], since=since,
        until=until).to_pyarrow())
    cold = svc()
    got["trace depth 1, cold (builds the kept tables)"] = _time(
        lambda: cold.trace(one, actor="bench", depth=1))
    got["trace depth 1, warm"] = _time(lambda: cold.trace(numbers[6], actor="bench", depth=1))
    got["trace depth 2, warm"] = _time(lambda: cold.trace(numbers[7], actor="bench", depth=2))
    got[f"trace_many {a.batch} numbers depth 2, warm"] = _time(
        lambda: cold.trace_many(batch, actor="bench", depth=2))
    got[f"trace_many {a.batch} numbers depth 2, cold"] = _time(
        lambda: svc().trace_many(numbers[200:200 + a.batch], actor="bench", depth=2))
    if a.engine == "spark":
        got["spark: session start (reader built)"] = _time(lambda: svc("spark"))
        spark = svc("spark")
        got["spark: trace depth 1, cold (builds the kept tables)"] = _time(
            lambda: spark.trace(one, actor="bench", depth=1))
        got["spark: trace depth 1, warm"] = _time(
            lambda: spark.trace(numbers[6], actor="bench", depth=1))
        got["spark: trace depth 2, warm"] = _time(
            lambda: spark.trace(numbers[7], actor="bench", depth=2))
        got[f"spark: trace_many {a.batch} numbers depth 2, warm"] = _time(
            lambda: spark.trace_many(batch, actor="bench", depth=2))
        same = spark.trace(numbers[7], actor="bench", depth=2)
        want = cold.trace(numbers[7], actor="bench", depth=2)
        assert same.links == want.links, "Spark and DuckDB traces differ"
    print(f"trace: {a.subscribers} subscribers, {a.calls} calls")
    for k, v in got.items():
        print(f"  {k:<58} {v:8.2f} s")
