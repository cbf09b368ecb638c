"""The den finder's and the hotspot scan's lake queries on DuckDB, through the product's own
code (Ibis), against hand-written DuckDB SQL of the same logic, in the same process, on the same
Parquet data.

    python -m bench finders --rows 1000000 3000000 --dir DIR
    python -m bench finders --world W        # an existing generated province's feeds folder

Data: a generated province (``telshield world generate --seed 7 --days 7``, the subscribers
sized to about ``--rows`` call rows: some 22 calls per subscriber a week), written under
``--dir`` as ``world-<subscribers>`` and reused when already there. A province holds dens (GOIP
ports, relay phones), out-of-province den SIMs and everything the queries join (cells,
device_intel, subscribers), so every query returns rows.

What is timed, per detector (each run is the sum of its queries, results fetched as Arrow):

- dens: what ``DenService.detect`` reads over the whole week of calls: ``detect.dens.ports``
  (one-way callers per cell, with IMEI, device kind, SIM age), ``port_hours`` of those ports and
  ``relays``. The hand side: one hand-written query per result (three).
- hotspots: what ``HotspotService.find`` reads: ``activity`` (the suspicious out-of-province
  numbers of ``suspect_numbers``, from the per-number features and the numbering plan, per
  county and 6-hour bucket) and ``regions``. The hand side: one query per result (two). The
  scan statistic's Monte Carlo, in Python, is not part of either side.

Prints wall and CPU seconds (CPU: all threads of the process, steadier than wall on a shared
machine), the product/hand ratios and the growth exponent of cost with N. On the smallest size
it checks that both sides return the same rows (sorted; floats to 1e-9).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from telshield.detect.dens import port_hours, ports, relays
from telshield.detect.hotspots import SuspectRule, activity, regions, suspect_numbers
from telshield.detect.numbering import PREFIX_WIDTHS
from telshield.domain.dens import DenProfile
from telshield.domain.numbers import CANONICAL_PATTERN
from telshield.services.hotspots import ScanParams
from telshield.services.lakeread import Backend, FeedReader

MEMORY = "8GB"  # DuckDB's working memory, both sides
CALLS_PER_SUBSCRIBER = 22  # call rows per subscriber a week in a generated province (seed 7)
Frames = dict[str, pd.DataFrame]


def world(rows: int, root: Path, seed: int = 7) -> Path:
    """A generated province of about ``rows`` call rows over 7 days, under ``root`` (reused)."""
    from telshield.world.config import load_config
    from telshield.world.generate import generate

    subs = max(1000, rows // CALLS_PER_SUBSCRIBER)
    out = root / f"world-{subs}"
    if not (out / "calls").exists():
        generate(load_config(None, subscribers=subs, days=7), seed, out)
    return out


def span(w: Path) -> tuple[datetime, datetime, int]:
    """The first call's day start, just after the last call, and the number of call rows."""
    con = duckdb.connect()
    a, b, n = con.execute(f"SELECT min(started_at), max(started_at), count(*) "
                          f"FROM read_parquet('{w / 'calls'}/*.parquet')").fetchone() or ()
    return datetime.combine(a.date(), datetime.min.time()), b + timedelta(seconds=1), int(n)


def _arrow(t: Any) -> pd.DataFrame:
    return t.to_pyarrow().to_pandas()


def product_dens(reader: FeedReader, since: datetime, until: datetime,
                 p: DenProfile) -> Frames:
    """The lake queries of ``DenService.detect``, as it runs them."""
    calls = reader.table("calls", since, until)
    e = ports(calls, reader.table("device_intel"), since=since, until=until,
              min_callees=p.min_callees, max_inbound_share=p.max_inbound_share,
              subscribers=reader.table("subscribers"), max_sim_age_days=p.max_sim_age_days)
    out = {"ports": _arrow(e)}
    out["hours"] = _arrow(port_hours(calls, e.select("msisdn").distinct(), since=since,
                                     until=until))
    out["relays"] = _arrow(relays(calls, since=since, until=until, min_calls=p.min_relay_calls))
    return out


def _ts(t: datetime) -> str:
    return f"TIMESTAMP '{t}'"


def hand_dens(con: duckdb.DuckDBPyConnection, w: Path, since: datetime, until: datetime,
              p: DenProfile) -> Frames:
    """The same three results, hand-written."""
    window = f"""
    w AS (SELECT * FROM read_parquet('{w / 'calls'}/*.parquet')
          WHERE started_at >= {_ts(since)} AND started_at < {_ts(until)}),
    one_way AS (
        SELECT o.msisdn FROM (
            SELECT caller AS msisdn, count(*) AS placed, count(DISTINCT callee) AS callees
            FROM w WHERE caller_cell IS NOT NULL GROUP BY 1) o
        LEFT JOIN (SELECT callee, count(*) AS inbound FROM w GROUP BY 1) i
               ON o.msisdn = i.callee
        WHERE o.callees >= {p.min_callees}
          AND coalesce(i.inbound, 0)::DOUBLE <= o.placed::DOUBLE * {p.max_inbound_share}),
    age AS (
        SELECT msisdn, (epoch({_ts(until)})::BIGINT - floor(epoch(max(registered_at)))::BIGINT)
                       ::DOUBLE / 86400 AS sim_age_days
        FROM read_parquet('{w / 'subscribers'}/*.parquet')
        WHERE registered_at < {_ts(until)} GROUP BY 1),
    pw AS (SELECT w.* FROM w SEMI JOIN one_way ON w.caller = one_way.msisdn
           WHERE w.caller_cell IS NOT NULL),
    imei AS (
        SELECT caller, caller_cell, caller_imei FROM (
            SELECT caller, caller_cell, caller_imei, count(*) AS n FROM pw
            WHERE caller_imei IS NOT NULL GROUP BY ALL)
        QUALIFY row_number() OVER (PARTITION BY caller, caller_cell
                                   ORDER BY n DESC, caller_imei) = 1),
    port AS (
        SELECT g.caller AS msisdn, g.caller_cell AS cell, m.caller_imei AS imei,
               a.sim_age_days, g.calls, g.answered, g.median_s, g.first_at, g.last_at
        FROM (SELECT caller, caller_cell, count(*) AS calls,
                     count(*) FILTER (duration_s > 0) AS answered,
                     median(duration_s)::DOUBLE AS median_s,
                     min(started_at) AS first_at, max(started_at) AS last_at
              FROM pw GROUP BY 1, 2) g
        LEFT JOIN imei m USING (caller, caller_cell)
        LEFT JOIN age a ON g.caller = a.msisdn
        WHERE a.sim_age_days IS NULL OR a.sim_age_days <= {p.max_sim_age_days})"""
    ports_sql = f"""WITH {window}
    SELECT msisdn, cell, imei, d.kind, sim_age_days, calls, answered, median_s, first_at,
           last_at
    FROM port LEFT JOIN read_parquet('{w / 'device_intel'}/*.parquet') d
         ON substr(port.imei, 1, 8) = d.tac"""
    hours_sql = f"""WITH {window}
    SELECT DISTINCT caller AS msisdn, floor(epoch(started_at))::BIGINT // 3600 AS hour
    FROM w SEMI JOIN port ON w.caller = port.msisdn"""
    relays_sql = f"""
    WITH w AS (SELECT * FROM read_parquet('{w / 'calls'}/*.parquet')
               WHERE started_at >= {_ts(since)} AND started_at < {_ts(until)})
    SELECT callee AS msisdn, callee_cell AS cell, count(*) AS calls,
           min(started_at) AS first_at, max(started_at) AS last_at
    FROM w WHERE ingress = 'international' AND callee_cell IS NOT NULL
         AND callee NOT IN (SELECT caller FROM w)
    GROUP BY 1, 2 HAVING count(*) >= {p.min_relay_calls}"""
    return {k: con.execute(q).df() for k, q in
            (("ports", ports_sql), ("hours", hours_sql), ("relays", relays_sql))}


def hotspot_window(until: datetime, s: ScanParams) -> datetime:
    """The start of the period ``HotspotService.find`` reads (baseline and scan)."""
    return until - timedelta(hours=s.scan_hours) - timedelta(days=s.baseline_days)


def product_hotspots(reader: FeedReader, plan: pa.Table, until: datetime,
                     s: ScanParams) -> Frames:
    """The lake queries of ``HotspotService.find``, as it runs them."""
    since = hotspot_window(until, s)
    calls = reader.table("calls", since - timedelta(days=1), until)
    cells = reader.table("cells")
    sus = suspect_numbers(calls, reader.memtable(plan), since=since, until=until,
                          province=s.province, rule=s.rule)
    return {"activity": _arrow(activity(calls, cells, sus, since=since, until=until,
                                        bucket_hours=s.bucket_hours)),
            "regions": _arrow(regions(cells))}


def hand_hotspots(con: duckdb.DuckDBPyConnection, w: Path, until: datetime,
                  s: ScanParams) -> Frames:
    """The same two results, hand-written (the plan registered as ``plan``)."""
    since = hotspot_window(until, s)
    r: SuspectRule = s.rule
    start = int((since - datetime(1970, 1, 1)).total_seconds())
    widths = ", ".join(str(x) for x in PREFIX_WIDTHS)
    activity_sql = f"""
    WITH hist AS (SELECT caller, callee, started_at, duration_s, caller_cell
                  FROM read_parquet('{w / 'calls'}/*.parquet')
                  WHERE started_at >= {_ts(since - timedelta(days=1))}
                    AND started_at < {_ts(until)}),
    recent AS (SELECT * FROM hist WHERE started_at >= {_ts(since)}),
    o AS (SELECT caller AS msisdn, count(*) AS n, count(*) FILTER (duration_s = 0) AS unans
          FROM recent GROUP BY 1),
    i AS (SELECT callee AS msisdn, count(*) AS inc FROM recent GROUP BY 1),
    p AS (SELECT caller AS msisdn, count(*) FILTER (last_at >= {_ts(since)}) AS callees,
                 count(*) FILTER (last_at >= {_ts(since)} AND first_at >= {_ts(since)}) AS new
          FROM (SELECT caller, callee, min(started_at) AS first_at, max(started_at) AS last_at
                FROM hist GROUP BY 1, 2) GROUP BY 1),
    home AS (
        SELECT o.msisdn, plan.province FROM o, unnest([{widths}]) AS u(width), plan
        WHERE regexp_full_match(o.msisdn, '{CANONICAL_PATTERN.strip("^$")}')
          AND plan.prefix = substr(o.msisdn, 1, u.width) AND plan.length = length(o.msisdn)
        QUALIFY row_number() OVER (PARTITION BY o.msisdn ORDER BY u.width DESC) = 1),
    sus AS (
        SELECT o.msisdn FROM o JOIN p USING (msisdn) JOIN home USING (msisdn)
        LEFT JOIN i USING (msisdn)
        WHERE home.province IS NOT NULL AND home.province <> '{s.province}'
          AND p.callees >= {r.min_callees}
          AND o.n / (o.n + coalesce(i.inc, 0)) >= {r.min_outgoing_share}
          AND coalesce(p.new / nullif(p.callees, 0), 0) >= {r.min_new_callee_share}
          AND o.unans / o.n >= {r.min_unanswered_share})
    SELECT DISTINCT coalesce(c.city, '') || '/' || coalesce(c.county, '') AS region,
           (floor(epoch(recent.started_at))::BIGINT - {start}) // {s.bucket_hours * 3600}
               AS bucket,
           recent.caller AS msisdn
    FROM recent SEMI JOIN sus ON recent.caller = sus.msisdn
    JOIN read_parquet('{w / 'cells'}/*.parquet') c ON recent.caller_cell = c.cell_id
    WHERE recent.caller_cell IS NOT NULL"""
    regions_sql = f"""
    SELECT coalesce(city, '') || '/' || coalesce(county, '') AS region, first(city) AS city,
           first(county) AS county, avg(lat) AS lat, avg(lon) AS lon, count(*) AS cells
    FROM read_parquet('{w / 'cells'}/*.parquet') GROUP BY 1"""
    return {"activity": con.execute(activity_sql).df(), "regions": con.execute(regions_sql).df()}


def timed(fn: Callable[..., Frames], *args: object) -> tuple[float, float, Frames]:
    """Wall seconds and CPU seconds (all threads of this process) taken by fn(*args)."""
    t, c = time.perf_counter(), time.process_time()
    res = fn(*args)
    return time.perf_counter() - t, time.process_time() - c, res


def check_same(a: Frames, b: Frames, name: str) -> None:
    """Each result holds the same rows on both sides (sorted; floats to 1e-9 relative)."""
    assert a.keys() == b.keys(), name
    for key, x in a.items():
        y = b[key]
        assert list(x.columns) == list(y.columns), f"{name} {key}: {list(x.columns)} vs " \
                                                   f"{list(y.columns)}"
        cols = list(x.columns)
        x = x.sort_values(cols, ignore_index=True)
        y = y.sort_values(cols, ignore_index=True)
        assert len(x) == len(y), f"{name} {key}: {len(x)} vs {len(y)} rows"
        for col in cols:
            u, v = x[col], y[col]
            if pd.api.types.is_float_dtype(u) or pd.api.types.is_float_dtype(v):
                assert np.allclose(u.astype("float64"), v.astype("float64"), rtol=1e-9,
                                   atol=0, equal_nan=True), f"{name} {key}: {col}"
            elif pd.api.types.is_datetime64_any_dtype(u):
                assert (pd.to_datetime(u) == pd.to_datetime(v)).all(), f"{name} {key}: {col}"
            else:
                same = (u.astype(object).where(u.notna(), None).tolist()
                        == v.astype(object).where(v.notna(), None).tolist())
                assert same, f"{name} {key}: {col}"


def measure(w: Path, threads: int, memory: str, plan: pa.Table, check: bool,
            spill: Path) -> dict[str, tuple[float, float, float, float, Frames]]:
    """Per detector: product wall, CPU, hand wall, CPU, and the product's results. Both
    DuckDB connections spill to ``spill`` when over ``memory``."""
    since, until, _ = span(w)
    prof, scan = DenProfile(), ScanParams()
    reader = FeedReader(w, Backend(ibis.duckdb.connect(threads=threads, memory_limit=memory,
                                                       temp_directory=str(spill))))
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory,
                                 "temp_directory": str(spill)})
    con.register("plan", plan)
    out = {}
    for name, prod, hand in (
        ("dens", lambda: product_dens(reader, since, until, prof),
         lambda: hand_dens(con, w, since, until, prof)),
        ("hotspots", lambda: product_hotspots(reader, plan, until, scan),
         lambda: hand_hotspots(con, w, until, scan)),
    ):
        t_p, c_p, a = timed(prod)
        t_h, c_h, b = timed(hand)
        if check:
            check_same(a, b, name)
        out[name] = (t_p, c_p, t_h, c_h, a)
    return out


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark for each size and print the table."""
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 3_000_000])
    ap.add_argument("--world", type=Path, nargs="*", default=[],
                    help="existing provinces' feed folders to use instead of generating")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", default=MEMORY, help="DuckDB working memory (both sides)")
    ap.add_argument("--dir", type=Path, default=None,
                    help="where generated provinces are kept (default: a temporary folder)")
    args = ap.parse_args(argv)
    from telshield.reference.numbering import load_plan_table

    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        plan = load_plan_table(Path(tmp) / "plan")
        root = args.dir or Path(tmp)
        worlds = args.world or [world(n, root) for n in args.rows]
        results = []
        for i, w in enumerate(worlds):
            n = span(w)[2]
            r = measure(w, args.threads, args.memory_limit, plan, check=i == 0,
                        spill=Path(tmp) / "spill")
            dens, hot = r["dens"][4], r["hotspots"][4]
            print(f"rows {n:>11,}  ports {len(dens['ports']):,} (SIM x cell), port hours "
                  f"{len(dens['hours']):,}, relays {len(dens['relays']):,}; hotspot activity "
                  f"{len(hot['activity']):,} rows of "
                  f"{hot['activity']['msisdn'].nunique():,} suspects"
                  + ("; both sides equal" if i == 0 else ""), flush=True)
            for name, (t_p, c_p, t_h, c_h, _) in r.items():
                print(f"  {name:<9} wall: product {t_p:6.2f} s, hand SQL {t_h:6.2f} s, "
                      f"product/SQL {t_p / t_h:.2f}x; CPU: product {c_p:6.2f} s, hand SQL "
                      f"{c_h:6.2f} s, product/SQL {c_p / c_h:.2f}x", flush=True)
            results.append((n, {k: v[:4] for k, v in r.items()}))
    if len(results) > 1:
        (n0, first), (n1, last) = results[0], results[-1]
        for name in first:
            x = [math.log(b / a) / math.log(n1 / n0)
                 for a, b in zip(first[name], last[name], strict=True)]
            print(f"cost growth exponent {name} {n0:,} -> {n1:,} rows: product N^{x[0]:.2f} "
                  f"wall, N^{x[1]:.2f} CPU; hand SQL N^{x[2]:.2f} wall, N^{x[3]:.2f} CPU")


if __name__ == "__main__":
    main()
