"""Features over N call rows: the Ibis definition on DuckDB vs hand-written DuckDB SQL vs pandas.

    python bench/bench_features.py --rows 1000000 3000000 10000000   # what we run here
    python bench/bench_features.py --rows 1000000 30000000 --no-pandas-above 10000000

Synthetic calls over 14 days (the 7 d window plus 7 d look-back), about 20 calls per caller.
Prints rows/s per core, the ratios to the hand-written SQL and to pandas, and the growth exponent of
cost with N. Checks that the three give the same exact features on the smallest size.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from telshield.detect.features import number_features
from telshield.feeds.schemas import FEEDS

UNTIL = datetime(2026, 11, 15)
START = UNTIL - timedelta(days=14)
WINDOWS = {"1h": 3600, "24h": 86400, "7d": 7 * 86400}


def make_calls(n: int, path: Path, seed: int = 1) -> None:
    """Write n synthetic calls as Parquet in chunks (bounded memory)."""
    rng = np.random.default_rng(seed)
    callers = max(10, n // 20)
    writer = pq.ParquetWriter(path, FEEDS["calls"].schema)
    chunk = 2_000_000
    for lo in range(0, n, chunk):
        k = min(chunk, n - lo)
        caller = rng.integers(0, callers, k)
        # Half the calls go to a caller's own circle (callbacks happen), half to anyone.
        own = rng.random(k) < 0.5
        callee = np.where(own, (caller * 7 + rng.integers(0, 10, k)) % callers,
                          rng.integers(0, callers * 3, k))
        secs = rng.integers(0, 14 * 86400, k)
        ts = np.datetime64(START, "us") + secs.astype("timedelta64[s]")
        dur = np.where(rng.random(k) < 0.25, 0, rng.lognormal(4.5, 1.0, k).astype(int))
        cell = rng.integers(0, 300, k)
        tac = np.where(rng.random(k) < 0.001, 86123400, 35000000 + rng.integers(0, 50, k))
        writer.write_table(pa.table({
            "call_id": pa.array(np.char.add("C", (np.arange(lo, lo + k)).astype(str))),
            "started_at": pa.array(ts, pa.timestamp("us")),
            "duration_s": pa.array(dur.clip(0, 86400), pa.int32()),
            "caller": pa.array(np.char.add("8613", (caller + 10**8).astype(str))),
            "callee": pa.array(np.char.add("8613", (callee + 10**8).astype(str))),
            "ingress": pa.array(np.where(rng.random(k) < 0.9, "radio", "interconnect")),
            "caller_cell": pa.array(np.char.add("cell-", cell.astype(str))),
            "caller_imei": pa.array(np.char.add(tac.astype(str), "000000")),
            "callee_cell": pa.nulls(k, pa.string()),
        }, schema=FEEDS["calls"].schema))
    writer.close()


def dims() -> tuple[pa.Table, pa.Table]:
    """Cells (with counties) and device intel (one GOIP TAC)."""
    cells = pa.table({"cell_id": [f"cell-{i}" for i in range(300)],
                      "county": [f"county-{i % 40}" for i in range(300)]})
    intel = pa.table({"tac": ["86123400"], "kind": ["goip"]})
    return cells, intel


def run_ibis(path: Path, threads: int) -> pd.DataFrame:
    """The product's definition, executed by DuckDB through Ibis."""
    con = ibis.duckdb.connect(threads=threads)
    cells, intel = dims()
    expr = number_features(con.read_parquet(str(path)), until=UNTIL,
                           cells=ibis.memtable(cells), intel=ibis.memtable(intel))
    return con.execute(expr)


def hand_sql(path: Path) -> str:
    """One hand-written DuckDB query computing the same call features."""
    def since(w: str) -> str:
        return f"started_at >= TIMESTAMP '{UNTIL - timedelta(seconds=WINDOWS[w])}'"

    out, inc, pair, place = [], [], [], []
    for w in WINDOWS:
        s = since(w)
        out += [
            f"count(*) FILTER ({s}) AS out_calls_{w}",
            f"count(*) FILTER ({s} AND duration_s > 0 AND duration_s < 30) AS short_{w}",
            f"count(*) FILTER ({s} AND duration_s = 0) AS unans_{w}",
            f"count(*) FILTER ({s} AND duration_s > 0) AS answered_{w}",
            f"sum(duration_s) FILTER ({s}) AS dur_{w}",
            f"count(*) FILTER ({s} AND (hour(started_at) >= 22 OR hour(started_at) < 6))"
            f" AS night_{w}",
        ] + [f"count(*) FILTER ({s} AND ingress = '{i}') AS {i}_{w}"
             for i in ("radio", "interconnect", "international")]
        ps = s.replace("started_at", "l")
        place += [f"count(*) FILTER ({ps} AND d = '{d}' AND v IS NOT NULL) AS distinct_{d}_{w}"
                  for d in ("cells", "counties", "imeis")]
        place.append(f"coalesce(max(goip) FILTER ({ps} AND d = 'imeis'), 0) AS goip_device_{w}")
        inc.append(f"count(*) FILTER ({s}) AS in_calls_{w}")
        ls = s.replace("started_at", "last_at")
        fs = s.replace("started_at", "first_at")
        pair += [f"count(*) FILTER ({ls}) AS distinct_callees_{w}",
                 f"count(*) FILTER ({ls} AND back) AS back_{w}",
                 f"count(*) FILTER ({ls} AND {fs}) AS new_{w}"]
    start = f"TIMESTAMP '{UNTIL - timedelta(days=7)}'"
    return f"""
    WITH hist AS (SELECT * FROM read_parquet('{path}')
                  WHERE started_at >= TIMESTAMP '{START}' AND started_at < TIMESTAMP '{UNTIL}'),
    recent AS (SELECT * FROM hist WHERE started_at >= {start}),
    o AS (SELECT caller AS msisdn, {", ".join(out)} FROM recent GROUP BY 1),
    pl AS (SELECT caller, CAST(started_at AS DATE) AS day, caller_cell, caller_imei,
                  max(started_at) AS last_at FROM recent GROUP BY ALL),
    pg AS (SELECT pl.*, c.county, CASE WHEN i.tac IS NOT NULL THEN 1 END AS goip
           FROM pl LEFT JOIN cells c ON pl.caller_cell = c.cell_id
           LEFT JOIN intel i ON substr(pl.caller_imei, 1, 8) = i.tac),
    dv AS (SELECT caller, 'cells' AS d, caller_cell AS v, max(last_at) AS l, max(goip) AS goip
           FROM pg GROUP BY 1, 3
           UNION ALL SELECT caller, 'counties', county, max(last_at), max(goip) FROM pg
           GROUP BY 1, 3
           UNION ALL SELECT caller, 'imeis', caller_imei, max(last_at), max(goip) FROM pg
           GROUP BY 1, 3
           UNION ALL SELECT caller, 'days', CAST(day AS VARCHAR), max(last_at), NULL FROM pg
           GROUP BY 1, 3),
    g AS (SELECT caller AS msisdn,
                 {", ".join(place)},
                 count(*) FILTER (l >= {start} AND d = 'days') AS active_days_7d
          FROM dv GROUP BY 1),
    i AS (SELECT callee AS msisdn, {", ".join(inc)} FROM recent GROUP BY 1),
    pr AS (SELECT caller, callee, min(started_at) AS first_at, max(started_at) AS last_at
           FROM hist GROUP BY 1, 2),
    pb AS (SELECT p.*, b.caller IS NOT NULL AS back FROM pr p
           LEFT JOIN pr b ON b.caller = p.callee AND b.callee = p.caller),
    p AS (SELECT caller AS msisdn, {", ".join(pair)} FROM pb GROUP BY 1)
    SELECT * FROM o LEFT JOIN g USING (msisdn) LEFT JOIN i USING (msisdn)
    LEFT JOIN p USING (msisdn)
    """


def run_sql(path: Path, threads: int) -> pd.DataFrame:
    """The hand-written query on DuckDB."""
    con = duckdb.connect(config={"threads": threads})
    cells, intel = dims()
    con.register("cells", cells)
    con.register("intel", intel)
    return con.execute(hand_sql(path)).df()


def run_pandas(path: Path) -> pd.DataFrame:
    """The same call features in pandas (exact distinct counts)."""
    c = pd.read_parquet(path)
    c = c[(c.started_at >= START) & (c.started_at < UNTIL)]
    cells, intel = dims()
    pairs = c.groupby(["caller", "callee"], sort=False).started_at.agg(["min", "max"])
    pairs = pairs.reset_index()
    back = pairs[["caller", "callee"]].rename(columns={"caller": "callee", "callee": "caller"})
    back["back"] = True
    pairs = pairs.merge(back, on=["caller", "callee"], how="left")
    pairs["back"] = pairs["back"].fillna(False).astype(bool)
    r = c[c.started_at >= UNTIL - timedelta(days=7)].copy()
    r = r.merge(cells.to_pandas(), left_on="caller_cell", right_on="cell_id", how="left")
    r["goip"] = r.caller_imei.str[:8].isin(intel.column("tac").to_pylist()).astype(int)
    r["night"] = (r.started_at.dt.hour >= 22) | (r.started_at.dt.hour < 6)
    parts = []
    for w, secs in WINDOWS.items():
        s = UNTIL - timedelta(seconds=secs)
        x = r[r.started_at >= s]
        g = x.groupby("caller")
        parts.append(pd.DataFrame({
            f"out_calls_{w}": g.size(),
            f"short_{w}": ((x.duration_s > 0) & (x.duration_s < 30)).groupby(x.caller).sum(),
            f"unans_{w}": (x.duration_s == 0).groupby(x.caller).sum(),
            f"night_{w}": x.night.groupby(x.caller).sum(),
            f"distinct_cells_{w}": g.caller_cell.nunique(),
            f"distinct_counties_{w}": g.county.nunique(),
            f"distinct_imeis_{w}": g.caller_imei.nunique(),
            f"goip_device_{w}": g.goip.max(),
        }))
        parts.append(x.groupby("callee").size().rename(f"in_calls_{w}").to_frame())
        p = pairs[pairs["max"] >= s]
        parts.append(pd.DataFrame({
            f"distinct_callees_{w}": p.groupby("caller").size(),
            f"back_{w}": p.back.groupby(p.caller).sum(),
            f"new_{w}": (p["min"] >= s).groupby(p.caller).sum(),
        }))
    out = pd.concat(parts, axis=1)
    return out[out.index.isin(r.caller.unique())]


def timed(fn: object, *args: object) -> tuple[float, pd.DataFrame]:
    """Seconds taken by fn(*args), and its result."""
    t = time.perf_counter()
    res = fn(*args)
    return time.perf_counter() - t, res


def check_same(ibis_df: pd.DataFrame, sql_df: pd.DataFrame, pd_df: pd.DataFrame | None) -> None:
    """Exact features agree between the three."""
    a = ibis_df.set_index("msisdn").sort_index()
    b = sql_df.set_index("msisdn").sort_index()
    assert len(a) == len(b), (len(a), len(b))
    for col in ("out_calls_24h", "in_calls_7d", "distinct_callees_7d", "distinct_cells_24h",
                "distinct_counties_7d", "goip_device_1h", "active_days_7d"):
        assert (a[col].fillna(0).to_numpy() == b[col].fillna(0).to_numpy()).all(), col
    if pd_df is not None:
        c = pd_df.sort_index()
        for col in ("out_calls_7d", "distinct_cells_7d", "distinct_callees_24h"):
            assert (a[col].to_numpy() == c[col].fillna(0).to_numpy()).all(), col


def main() -> None:
    """Run the benchmark for each size and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-pandas-above", type=int, default=10_000_000)
    ap.add_argument("--dir", type=Path, default=None, help="where to write the data")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        results = []
        for n in args.rows:
            path = Path(tmp) / f"calls-{n}.parquet"
            make_calls(n, path)
            t_ibis, a = timed(run_ibis, path, args.threads)
            t_sql, b = timed(run_sql, path, args.threads)
            t_pd, c = (timed(run_pandas, path) if n <= args.no_pandas_above
                       else (math.nan, None))
            if n == args.rows[0]:
                check_same(a, b, c)
            results.append((n, t_ibis, t_sql, t_pd))
            per_core = n / t_ibis / args.threads
            print(f"rows {n:>11,}  ibis+duckdb {t_ibis:7.2f} s ({per_core / 1e6:.2f} M rows/s/core)"
                  f"  hand SQL {t_sql:7.2f} s  pandas {t_pd:7.2f} s  "
                  f"ibis/SQL {t_ibis / t_sql:.2f}x  pandas/ibis {t_pd / t_ibis:.1f}x", flush=True)
            path.unlink()
    if len(results) > 1:
        (n0, t0, *_), (n1, t1, *_) = results[0], results[-1]
        print(f"cost growth exponent {n0:,} -> {n1:,} rows: "
              f"{math.log(t1 / t0) / math.log(n1 / n0):.2f}")


if __name__ == "__main__":
    main()
